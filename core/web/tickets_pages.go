package web

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/core/tickets"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// The pages of ticket shows: the offer on a model's profile and in her
// room, her dashboard's list and form, the viewer's tickets on the wallet.

func (p *Product) mountTicketPages(app *fiber.App, viewer, model, money fiber.Handler) {
	app.Post("/ticket-shows/:id/buy", viewer, money, p.buyTicketForm)
	app.Post("/dashboard/ticket-shows", model, p.scheduleTicketForm)
	app.Post("/dashboard/ticket-shows/:id/start", model, p.ticketFormAction("start"))
	app.Post("/dashboard/ticket-shows/:id/end", model, money, p.ticketFormAction("end"))
	app.Post("/dashboard/ticket-shows/:id/cancel", model, money, p.ticketFormAction("cancel"))
}

func ticketView(sh tickets.Show, sold int) theme.TicketShow {
	return theme.TicketShow{ID: sh.ID, Title: sh.Title, Price: sh.Price, StartsAt: sh.StartsAt, Minutes: int64(sh.Duration / time.Minute),
		DoorsCloseAt: sh.DoorsCloseAt, Capacity: sh.Capacity, Sold: sold, State: string(sh.State)}
}

// ticketOffer is the model's ticket show as the viewer of page at returnTo
// sees it (nil when she has none on sale), and the viewer's ticket token
// while it runs and she holds one.
func (p *Product) ticketOffer(c *fiber.Ctx, modelID, returnTo string) (*theme.TicketShow, string, error) {
	if p.Tickets == nil {
		return nil, "", nil
	}
	ctx := c.UserContext()
	sh, ok, err := p.Tickets.Upcoming(ctx, modelID)
	if err != nil || !ok {
		return nil, "", err
	}
	sold, err := p.Tickets.Sold(ctx, sh.ID)
	if err != nil {
		return nil, "", err
	}
	v := ticketView(sh, sold)
	u, signedIn := accounts.CurrentUser(c)
	if !signedIn || u.Role != accounts.RoleViewer {
		return &v, "", nil
	}
	t, holds, err := p.Tickets.TicketOf(ctx, u.ID, sh.ID)
	if err != nil {
		return nil, "", err
	}
	var token string
	if holds && (t.State == tickets.Held || t.State == tickets.Buying) {
		// From before the start: her player keeps its seat when the show
		// starts and cuts everyone else.
		v.Holding, token = true, p.Tickets.Token(t)
	}
	open := time.Now().Before(sh.DoorsCloseAt) && (sh.Capacity == 0 || sold < sh.Capacity)
	if !v.Holding && open {
		v.BuyAction = "/ticket-shows/" + sh.ID + "/buy?return_to=" + returnTo
		v.CardPay = p.Cards != nil
	}
	return &v, token, nil
}

func (p *Product) buyTicketForm(c *fiber.Ctx) error {
	id, err := param(c, "id")
	if err != nil {
		return err
	}
	to := accounts.SafeReturnTo(c.Query("return_to"))
	t, err := p.Tickets.Buy(c.UserContext(), me(c).ID, id, idempotency.Key(c), tickets.Payment(c.FormValue("pay")))
	if err != nil {
		if handled, ferr := cardMissing(c, err, "the ticket is charged to it"); handled {
			return ferr
		}
		return p.formFailed(c, to, err)
	}
	return back(c, to, theme.FlashSuccess, "You have a ticket: %s is held on your wallet until the show is over.", display(t.Price))
}

// dashboardTickets fills the dashboard's ticket shows and their actions.
func (p *Product) dashboardTickets(ctx context.Context, u accounts.User, page *theme.ModelDashboardPage) error {
	if p.Tickets == nil {
		return nil
	}
	all, err := p.Tickets.ShowsOfModel(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, sh := range all {
		sold, err := p.Tickets.Sold(ctx, sh.ID)
		if err != nil {
			return err
		}
		v := ticketView(sh, sold)
		base := "/dashboard/ticket-shows/" + sh.ID
		switch sh.State {
		case tickets.Scheduled:
			v.StartAction, v.CancelAction = base+"/start", base+"/cancel"
		case tickets.Running:
			v.EndAction, v.CancelAction = base+"/end", base+"/cancel"
		}
		page.TicketShows = append(page.TicketShows, v)
	}
	if u.CanBroadcast() {
		page.ScheduleTicketAction = "/dashboard/ticket-shows"
	}
	return nil
}

// walletTickets lists the viewer's tickets on her wallet page.
func (p *Product) walletTickets(ctx context.Context, viewerID string, page *theme.WalletPage) error {
	if p.Tickets == nil {
		return nil
	}
	ts, err := p.Tickets.Tickets(ctx, viewerID)
	if err != nil {
		return err
	}
	for _, t := range ts {
		sh, err := p.Tickets.Show(ctx, t.ShowID)
		if err != nil {
			return err
		}
		page.Tickets = append(page.Tickets, theme.TicketRow{Title: sh.Title, Model: p.userName(ctx, t.ModelID), StartsAt: sh.StartsAt,
			Price: t.Price, State: string(t.State), Posted: t.Posted, Refunded: t.Refunded})
	}
	return nil
}

// formTime reads the schedule form's start: RFC 3339, or a datetime-local
// value taken as UTC (the form says so).
func formTime(field, raw string) (time.Time, error) {
	raw = strings.TrimSpace(raw)
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, raw); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, invalid(field, "%s: want a date and time such as 2026-12-24T20:00", field)
}

func formInt(field, raw string, def, max int64) (int64, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 || n > max {
		return 0, invalid(field, "%s: want a whole number from 0 to %d", field, max)
	}
	return n, nil
}

func (p *Product) scheduleTicketForm(c *fiber.Ctx) error {
	const to = "/dashboard"
	r, err := p.scheduleRequest(c)
	if err == nil {
		_, err = p.Tickets.Schedule(c.UserContext(), me(c).ID, r)
	}
	if err != nil {
		return p.formFailed(c, to, err)
	}
	return back(c, to, theme.FlashSuccess, "Ticket show scheduled: tickets are on sale on your profile and in your room.")
}

func (p *Product) scheduleRequest(c *fiber.Ctx) (tickets.ScheduleRequest, error) {
	cur := p.Accounts.Currency()
	if got := c.FormValue("currency"); got != "" && got != cur {
		return tickets.ScheduleRequest{}, invalid("currency", "tickets are sold in %s", cur)
	}
	price, err := parseAmount("price", c.FormValue("price"), cur)
	if err != nil {
		return tickets.ScheduleRequest{}, err
	}
	start, err := formTime("starts_at", c.FormValue("starts_at"))
	if err != nil {
		return tickets.ScheduleRequest{}, err
	}
	mins, err := formInt("minutes", c.FormValue("minutes"), 60, 24*60)
	if err != nil {
		return tickets.ScheduleRequest{}, err
	}
	doors, err := formInt("doors_minutes", c.FormValue("doors_minutes"), 0, 24*60)
	if err != nil {
		return tickets.ScheduleRequest{}, err
	}
	capacity, err := formInt("capacity", c.FormValue("capacity"), 0, 100_000)
	if err != nil {
		return tickets.ScheduleRequest{}, err
	}
	return tickets.ScheduleRequest{Title: c.FormValue("title"), Price: price, StartsAt: start, Duration: time.Duration(mins) * time.Minute,
		DoorsCloseAt: start.Add(time.Duration(doors) * time.Minute), Capacity: int(capacity)}, nil
}

func (p *Product) ticketFormAction(what string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		const to = "/dashboard"
		id, err := param(c, "id")
		if err != nil {
			return err
		}
		ctx, modelID := c.UserContext(), me(c).ID
		var msg string
		switch what {
		case "start":
			_, err = p.Tickets.Start(ctx, modelID, id)
			msg = "Your ticket show has started: only ticket holders watch you now."
		case "end":
			_, err = p.Tickets.End(ctx, modelID, id)
			msg = "Your ticket show has ended; its tickets are settled."
		default:
			_, err = p.Tickets.Cancel(ctx, modelID, id)
			msg = "Your ticket show is cancelled; every ticket is refunded."
		}
		if err != nil {
			return p.formFailed(c, to, err)
		}
		return back(c, to, theme.FlashSuccess, "%s", msg)
	}
}
