package web

import (
	"context"
	"time"

	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/core/tickets"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/gofiber/fiber/v2"
)

// Tickets is ticket shows as the pages and the API use them
// (core/tickets.Service). The model's actions take her id and refuse a show
// that is not hers as errs.NotFound.
type Tickets interface {
	Schedule(ctx context.Context, modelID string, r tickets.ScheduleRequest) (tickets.Show, error)
	Start(ctx context.Context, modelID, showID string) (tickets.Show, error)
	End(ctx context.Context, modelID, showID string) (tickets.Show, error)
	Cancel(ctx context.Context, modelID, showID string) (tickets.Show, error)
	Show(ctx context.Context, showID string) (tickets.Show, error)
	ShowsOfModel(ctx context.Context, modelID string) ([]tickets.Show, error)
	Upcoming(ctx context.Context, modelID string) (tickets.Show, bool, error)
	Sold(ctx context.Context, showID string) (int, error)
	Buy(ctx context.Context, viewerID, showID, clientKey string, pay tickets.Payment) (tickets.Ticket, error)
	TicketOf(ctx context.Context, viewerID, showID string) (tickets.Ticket, bool, error)
	Tickets(ctx context.Context, viewerID string) ([]tickets.Ticket, error)
	Token(t tickets.Ticket) string
}

var _ Tickets = (*tickets.Service)(nil)

type (
	apiTicketShow struct {
		ID              string      `json:"id"`
		ModelID         string      `json:"model_id"`
		Title           string      `json:"title"`
		Price           money.Money `json:"price"`
		PriceDisplay    string      `json:"price_display"`
		StartsAt        time.Time   `json:"starts_at"`
		DurationSeconds int64       `json:"duration_seconds"`
		DoorsCloseAt    time.Time   `json:"doors_close_at"`
		Capacity        int         `json:"capacity"`
		Sold            int         `json:"sold"`
		State           string      `json:"state"`
		StartedAt       *time.Time  `json:"started_at,omitempty"`
		EndedAt         *time.Time  `json:"ended_at,omitempty"`
	}
	apiTicket struct {
		ID        string      `json:"id"`
		ShowID    string      `json:"show_id"`
		ModelID   string      `json:"model_id"`
		State     string      `json:"state"`
		Price     money.Money `json:"price"`
		Posted    money.Money `json:"posted"`
		Refunded  money.Money `json:"refunded"`
		BoughtAt  time.Time   `json:"bought_at"`
		SettledAt *time.Time  `json:"settled_at,omitempty"`
		// Token is the WHEP bearer of the model's broadcast while the show
		// runs; only the ticket's own viewer is given it.
		Token   string `json:"token"`
		WHEPURL string `json:"whep_url,omitempty"`
	}
	buyTicketBody struct {
		// Pay is wallet (the default) or card.
		Pay string `json:"pay"`
	}
	scheduleBody struct {
		Title           string       `json:"title" req:"1"`
		Price           *money.Money `json:"price" req:"1"`
		StartsAt        *time.Time   `json:"starts_at" req:"1"`
		DurationSeconds int64        `json:"duration_seconds" req:"1"`
		DoorsCloseAt    *time.Time   `json:"doors_close_at"`
		Capacity        int          `json:"capacity"`
	}
)

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (p *Product) mountTicketAPI(api fiber.Router, viewer, model, money fiber.Handler) {
	api.Get("/ticket-shows/:id", p.apiTicketShow)
	api.Get("/models/:id/ticket-show", p.apiModelTicketShow)
	api.Post("/ticket-shows/:id/tickets", viewer, money, p.apiBuyTicket)
	api.Get("/me/tickets", viewer, p.apiMyTickets)
	api.Get("/me/ticket-shows", model, p.apiMyTicketShows)
	api.Post("/me/ticket-shows", model, p.apiScheduleTicketShow)
	api.Post("/me/ticket-shows/:id/start", model, p.apiStartTicketShow)
	api.Post("/me/ticket-shows/:id/end", model, money, p.apiEndTicketShow)
	api.Post("/me/ticket-shows/:id/cancel", model, money, p.apiCancelTicketShow)
}

func (p *Product) ticketShowJSON(ctx context.Context, sh tickets.Show) (apiTicketShow, error) {
	sold, err := p.Tickets.Sold(ctx, sh.ID)
	if err != nil {
		return apiTicketShow{}, err
	}
	return apiTicketShow{ID: sh.ID, ModelID: sh.ModelID, Title: sh.Title, Price: sh.Price, PriceDisplay: display(sh.Price),
		StartsAt: sh.StartsAt, DurationSeconds: int64(sh.Duration / time.Second), DoorsCloseAt: sh.DoorsCloseAt, Capacity: sh.Capacity,
		Sold: sold, State: string(sh.State), StartedAt: optTime(sh.StartedAt), EndedAt: optTime(sh.EndedAt)}, nil
}

func (p *Product) ticketJSON(ctx context.Context, t tickets.Ticket) (apiTicket, error) {
	out := apiTicket{ID: t.ID, ShowID: t.ShowID, ModelID: t.ModelID, State: string(t.State), Price: t.Price, Posted: t.Posted,
		Refunded: t.Refunded, BoughtAt: t.BoughtAt, SettledAt: optTime(t.SettledAt), Token: p.Tickets.Token(t)}
	if t.State == tickets.Held {
		if on, ok, err := p.Shows.ShowOfModel(ctx, t.ModelID); err != nil {
			return apiTicket{}, err
		} else if ok {
			out.WHEPURL = "/whep/" + on.ID
		}
	}
	return out, nil
}

func (p *Product) apiTicketShow(c *fiber.Ctx) error {
	id, err := param(c, "id")
	if err != nil {
		return err
	}
	sh, err := p.Tickets.Show(c.UserContext(), id)
	if err != nil {
		return err
	}
	out, err := p.ticketShowJSON(c.UserContext(), sh)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (p *Product) apiModelTicketShow(c *fiber.Ctx) error {
	id, err := param(c, "id")
	if err != nil {
		return err
	}
	sh, ok, err := p.Tickets.Upcoming(c.UserContext(), id)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.NotFound, "this model has no ticket show on sale")
	}
	out, err := p.ticketShowJSON(c.UserContext(), sh)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (p *Product) apiBuyTicket(c *fiber.Ctx) error {
	id, err := param(c, "id")
	if err != nil {
		return err
	}
	var b buyTicketBody
	if len(c.Body()) > 0 {
		if err := decode(c, &b); err != nil {
			return err
		}
	}
	t, err := p.Tickets.Buy(c.UserContext(), me(c).ID, id, idempotency.Key(c), tickets.Payment(b.Pay))
	if err != nil {
		return err
	}
	out, err := p.ticketJSON(c.UserContext(), t)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (p *Product) apiMyTickets(c *fiber.Ctx) error {
	ts, err := p.Tickets.Tickets(c.UserContext(), me(c).ID)
	if err != nil {
		return err
	}
	out := []apiTicket{}
	for _, t := range ts {
		j, err := p.ticketJSON(c.UserContext(), t)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	return c.JSON(out)
}

func (p *Product) apiMyTicketShows(c *fiber.Ctx) error {
	all, err := p.Tickets.ShowsOfModel(c.UserContext(), me(c).ID)
	if err != nil {
		return err
	}
	out := []apiTicketShow{}
	for _, sh := range all {
		j, err := p.ticketShowJSON(c.UserContext(), sh)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	return c.JSON(out)
}

func (p *Product) apiScheduleTicketShow(c *fiber.Ctx) error {
	var b scheduleBody
	if err := decode(c, &b); err != nil {
		return err
	}
	if b.DurationSeconds < 0 || b.DurationSeconds > 1_000_000 {
		return invalid("duration_seconds", "duration_seconds is out of range")
	}
	r := tickets.ScheduleRequest{Title: b.Title, Price: *b.Price, StartsAt: *b.StartsAt,
		Duration: time.Duration(b.DurationSeconds) * time.Second, Capacity: b.Capacity}
	if b.DoorsCloseAt != nil {
		r.DoorsCloseAt = *b.DoorsCloseAt
	}
	sh, err := p.Tickets.Schedule(c.UserContext(), me(c).ID, r)
	if err != nil {
		return err
	}
	out, err := p.ticketShowJSON(c.UserContext(), sh)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (p *Product) ticketShowAction(c *fiber.Ctx, act func(ctx context.Context, modelID, showID string) (tickets.Show, error)) error {
	id, err := param(c, "id")
	if err != nil {
		return err
	}
	sh, err := act(c.UserContext(), me(c).ID, id)
	if err != nil {
		return err
	}
	out, err := p.ticketShowJSON(c.UserContext(), sh)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (p *Product) apiStartTicketShow(c *fiber.Ctx) error {
	return p.ticketShowAction(c, p.Tickets.Start)
}
func (p *Product) apiEndTicketShow(c *fiber.Ctx) error { return p.ticketShowAction(c, p.Tickets.End) }
func (p *Product) apiCancelTicketShow(c *fiber.Ctx) error {
	return p.ticketShowAction(c, p.Tickets.Cancel)
}
