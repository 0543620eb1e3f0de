package web

import (
	"context"
	"strings"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// Spy on private: API. core/shows decides everything (whether the model
// allows spies, at what price, when the seat ends); these parse, call and
// answer.

// SpyShows is the part of Shows for spy seats (see core/shows/spy.go): a
// receive-only seat in someone else's private show.
type SpyShows interface {
	// SpyOffer is what a spy seat on showID would lock now and whether the
	// viewer can pay; ok is false when there is nothing to spy on.
	SpyOffer(ctx context.Context, showID, viewerID string) (q shows.Quote, ok bool, err error)
	// Spy opens the viewer's spy seat (again: the same seat).
	Spy(ctx context.Context, viewerID, showID string) (shows.Seat, error)
	// SpySeats lists the open spy seats of the model's private show.
	SpySeats(ctx context.Context, modelID string) ([]shows.Seat, error)
}

type (
	// APISpyOffer is a show's spy offer.
	APISpyOffer struct {
		Policy  apiPolicy `json:"policy"`
		Allowed bool      `json:"allowed"`
		Reason  string    `json:"reason,omitempty"`
	}
	// APISpyRate is the model's spy rate; absent: she refuses spies.
	APISpyRate struct {
		Allowed bool         `json:"allowed"`
		Rate    *money.Money `json:"rate_per_minute,omitempty"`
	}
	// SpyRateBody sets it; null or absent refuses spies.
	SpyRateBody struct {
		Rate *money.Money `json:"rate_per_minute"`
	}
)

func (p *Product) apiSpyOffer(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	u, _ := accounts.CurrentUser(c)
	q, ok, err := p.Shows.SpyOffer(c.UserContext(), id, u.ID)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.NotFound, "there is no private show to spy on here")
	}
	return c.JSON(APISpyOffer{Policy: policyJSON(q.Policy, q.Funding), Allowed: q.Allowed, Reason: q.Reason})
}

func (p *Product) apiSpy(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	s, err := p.Shows.Spy(c.UserContext(), me(c).ID, id)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(seatJSON(s, me(c).ID))
}

func (p *Product) apiMySpies(c *fiber.Ctx) error {
	seats, err := p.Shows.SpySeats(c.UserContext(), me(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(seatsJSON(seats))
}

func (p *Product) apiSetSpyRate(c *fiber.Ctx) error {
	var b SpyRateBody
	if err := decode(c, &b); err != nil {
		return err
	}
	u := me(c)
	m, err := p.Accounts.SetSpyRate(c.UserContext(), u.ID, u.ID, b.Rate)
	if err != nil {
		return err
	}
	return c.JSON(APISpyRate{Allowed: m.SpyRatePerMinute != nil, Rate: m.SpyRatePerMinute})
}

// ---- pages ----

// spyOffer is the room's spy block for the signed-in user (nil: nothing to
// spy on).
func (p *Product) spyOffer(c *fiber.Ctx, showID string) (*theme.SpyOffer, error) {
	ctx := c.UserContext()
	u, signedIn := accounts.CurrentUser(c)
	q, ok, err := p.Shows.SpyOffer(ctx, showID, u.ID)
	if err != nil || !ok {
		return nil, err
	}
	out := &theme.SpyOffer{Policy: policyView(q.Policy, q.Funding), Allowed: q.Allowed, Reason: q.Reason}
	if !signedIn || u.Role != accounts.RoleViewer {
		return out, nil
	}
	if st, ok, err := p.Shows.OpenSeatOf(ctx, u.ID); err != nil {
		return nil, err
	} else if ok && st.ShowID == showID {
		if st.Spy {
			out.SeatURL = "/seats/" + st.ID
		}
		return out, nil // the private viewer does not spy on her own show
	}
	out.SpyAction = "/shows/" + showID + "/spy"
	return out, nil
}

func (p *Product) spyForm(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	s, err := p.Shows.Spy(c.UserContext(), me(c).ID, id)
	if err != nil {
		return p.formFailed(c, "/shows/"+id, err)
	}
	return back(c, "/seats/"+s.ID, theme.FlashSuccess, "You are spying on the private show at %s a minute: video only.", display(s.Policy.RatePerMinute))
}

// spyDashboard puts her spy rate and her private show's spies on her
// dashboard.
func (p *Product) spyDashboard(ctx context.Context, page *theme.ModelDashboardPage, rate *money.Money) error {
	page.SpyRate, page.SpyRateAction = rate, "/dashboard/spy-rate"
	seats, err := p.Shows.SpySeats(ctx, page.Model.ID)
	if err != nil {
		return err
	}
	page.SpyEarnings = money.Money{Currency: p.Accounts.Currency()}
	for _, st := range seats {
		page.Spies = append(page.Spies, seatRow(st))
		if st.RunningCost.Currency == page.SpyEarnings.Currency {
			page.SpyEarnings.Amount += st.RunningCost.Amount
		}
	}
	return nil
}

// setSpyRate is the dashboard's spy form: empty or "off" refuses spies.
func (p *Product) setSpyRate(c *fiber.Ctx) error {
	var rate *money.Money
	if v := strings.TrimSpace(c.FormValue("rate")); v != "" && !strings.EqualFold(v, "off") {
		m, err := parseAmount("rate", v, p.Accounts.Currency())
		if err != nil {
			return p.formFailed(c, "/dashboard", err)
		}
		rate = &m
	}
	u := me(c)
	if _, err := p.Accounts.SetSpyRate(c.UserContext(), u.ID, u.ID, rate); err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	if rate == nil {
		return back(c, "/dashboard", theme.FlashSuccess, "Spies are refused from now on; spies watching now keep their seat.")
	}
	return back(c, "/dashboard", theme.FlashSuccess, "Spies may watch your private shows at %s a minute, from now on.", display(*rate))
}
