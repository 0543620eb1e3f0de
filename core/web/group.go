package web

import (
	"strconv"
	"strings"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// Group shows: pages and API. core/shows decides everything (who may join,
// at what price, when it starts); these parse, call and render.

type (
	apiGroup struct {
		ShowID  string    `json:"show_id"`
		ModelID string    `json:"model_id"`
		Policy  apiPolicy `json:"policy"`
		Minimum int       `json:"minimum"`
		Started bool      `json:"started"`
		Waiting int       `json:"waiting"`
		Seats   int       `json:"seats"`
		ChatURL string    `json:"chat_url,omitempty"`
	}
	apiGroupOffer struct {
		Group   apiGroup `json:"group"`
		Allowed bool     `json:"allowed"`
		Reason  string   `json:"reason,omitempty"`
	}
	apiGroupJoin struct {
		Waiting bool     `json:"waiting"`
		Group   apiGroup `json:"group"`
		Seat    *apiSeat `json:"seat,omitempty"`
	}
	apiMyGroup struct {
		Group apiGroup  `json:"group"`
		Seats []apiSeat `json:"seats"`
	}
	groupBody struct {
		Rate    *money.Money `json:"rate"`
		Minimum int          `json:"minimum"`
	}
)

func groupJSON(g shows.GroupShow, funding string) apiGroup {
	out := apiGroup{ShowID: g.ShowID, ModelID: g.ModelID, Policy: policyJSON(g.Policy, funding), Minimum: g.Minimum, Started: g.Started,
		Waiting: g.Waiting, Seats: g.Seats}
	if g.Room != "" {
		out.ChatURL = "/ws/chat/" + g.Room
	}
	return out
}

func (p *Product) apiGroupOffer(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	u, _ := accounts.CurrentUser(c)
	q, g, ok, err := p.Shows.GroupQuote(c.UserContext(), id, u.ID)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.NotFound, "there is no group show here")
	}
	return c.JSON(apiGroupOffer{Group: groupJSON(g, q.Funding), Allowed: q.Allowed, Reason: q.Reason})
}

func (p *Product) apiJoinGroup(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	j, err := p.Shows.JoinGroup(c.UserContext(), me(c).ID, id)
	if err != nil {
		return err
	}
	out := apiGroupJoin{Waiting: j.Waiting, Group: groupJSON(j.Group, j.Seat.Funding)}
	if j.Seat.ID != "" {
		s := seatJSON(j.Seat, me(c).ID)
		out.Seat = &s
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (p *Product) apiLeaveGroupWaiting(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	if err := p.Shows.LeaveGroup(c.UserContext(), me(c).ID, id); err != nil {
		return err
	}
	return c.JSON(apiOK{OK: true})
}

// myGroup is the signed-in model's group show and its seats (ok false: she
// runs none), read once for both the API answer and her dashboard.
func (p *Product) myGroup(c *fiber.Ctx) (g shows.GroupShow, seats []shows.Seat, ok bool, err error) {
	ctx := c.UserContext()
	s, live, err := p.Shows.ShowOfModel(ctx, me(c).ID)
	if err != nil || !live {
		return g, nil, false, err
	}
	if g, ok = p.Shows.GroupOf(ctx, s.ID); !ok {
		return g, nil, false, nil
	}
	seats, err = p.Shows.GroupSeats(ctx, me(c).ID)
	return g, seats, err == nil, err
}

func (p *Product) apiMyGroup(c *fiber.Ctx) error {
	g, seats, ok, err := p.myGroup(c)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.NotFound, "you have no group show")
	}
	return c.JSON(apiMyGroup{Group: groupJSON(g, ""), Seats: seatsJSON(seats)})
}

func (p *Product) apiStartGroup(c *fiber.Ctx) error {
	var b groupBody
	if err := decode(c, &b); err != nil {
		return err
	}
	opt := shows.GroupOptions{Minimum: b.Minimum}
	if b.Rate != nil {
		opt.Rate = *b.Rate
	}
	g, err := p.Shows.StartGroup(c.UserContext(), me(c).ID, opt)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(groupJSON(g, ""))
}

func (p *Product) apiEndGroup(c *fiber.Ctx) error {
	if err := p.Shows.EndGroup(c.UserContext(), me(c).ID); err != nil {
		return err
	}
	return c.JSON(apiOK{OK: true})
}

// ---- pages ----

// groupOffer is the room's group block for the signed-in user (nil: no
// group show).
func (p *Product) groupOffer(c *fiber.Ctx, showID string) (*theme.GroupOffer, error) {
	ctx := c.UserContext()
	u, signedIn := accounts.CurrentUser(c)
	q, g, ok, err := p.Shows.GroupQuote(ctx, showID, u.ID)
	if err != nil || !ok {
		return nil, err
	}
	out := &theme.GroupOffer{Policy: policyView(q.Policy, q.Funding), Minimum: g.Minimum, Waiting: g.Waiting, Started: g.Started,
		Seats: g.Seats, Allowed: q.Allowed, Reason: q.Reason}
	if !signedIn || u.Role != accounts.RoleViewer {
		return out, nil
	}
	out.JoinAction = "/shows/" + showID + "/group/join"
	if st, ok, err := p.Shows.OpenSeatOf(ctx, u.ID); err != nil {
		return nil, err
	} else if ok && st.ShowID == showID && st.Mode == theme.ModeGroup {
		out.SeatURL = "/seats/" + st.ID
	}
	if w, err := p.Shows.WaitingForGroup(ctx, u.ID, showID); err != nil {
		return nil, err
	} else {
		out.Joined = w
	}
	if out.Joined {
		out.LeaveAction = "/shows/" + showID + "/group/leave"
	}
	return out, nil
}

func (p *Product) leaveGroupForm(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	to := "/shows/" + id
	if err := p.Shows.LeaveGroup(c.UserContext(), me(c).ID, id); err != nil {
		return p.formFailed(c, to, err)
	}
	return back(c, to, theme.FlashInfo, "You left the group show's queue; nothing was charged.")
}

func (p *Product) joinGroupForm(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	to := "/shows/" + id
	j, err := p.Shows.JoinGroup(c.UserContext(), me(c).ID, id)
	if err != nil {
		return p.formFailed(c, to, err)
	}
	if j.Waiting {
		return back(c, to, theme.FlashInfo, "You joined the group show. It starts when %d viewers have joined; nothing is charged until then.", j.Group.Minimum)
	}
	return back(c, "/seats/"+j.Seat.ID, theme.FlashSuccess, "You are in the group show at %s a minute.", display(j.Seat.Policy.RatePerMinute))
}

// groupForm reads the dashboard's group form: rate (empty: her rate),
// currency, minimum (empty: none).
func (p *Product) groupForm(c *fiber.Ctx) error {
	var opt shows.GroupOptions
	var err error
	if raw := strings.TrimSpace(c.FormValue("rate")); raw != "" {
		opt.Rate, err = p.formRate(c, raw)
	}
	if raw := strings.TrimSpace(c.FormValue("minimum")); raw != "" && err == nil {
		if opt.Minimum, err = strconv.Atoi(raw); err != nil {
			err = invalid("minimum", "a whole number of viewers")
		}
	}
	if err == nil {
		var g shows.GroupShow
		if g, err = p.Shows.StartGroup(c.UserContext(), me(c).ID, opt); err == nil {
			if !g.Started {
				return back(c, "/dashboard", theme.FlashSuccess, "Group show offered at %s a minute: it starts when %d viewers have joined.",
					display(g.Policy.RatePerMinute), g.Minimum)
			}
			return back(c, "/dashboard", theme.FlashSuccess, "Group show at %s a minute: viewers who join from now on pay it.", display(g.Policy.RatePerMinute))
		}
	}
	return p.formFailed(c, "/dashboard", err)
}

func (p *Product) endGroupForm(c *fiber.Ctx) error {
	if err := p.Shows.EndGroup(c.UserContext(), me(c).ID); err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	return back(c, "/dashboard", theme.FlashInfo, "The group show has ended; every seat is settled and you are public again.")
}

// seatRow is a paying seat as the model's dashboard lists it (group seats,
// spies).
func seatRow(st shows.Seat) theme.GroupSeatRow {
	return theme.GroupSeatRow{Viewer: st.ViewerName, RatePerMinute: st.Policy.RatePerMinute, Billing: st.Billing,
		RunningSeconds: st.BillableSeconds, RunningCost: st.RunningCost}
}

// groupState is the dashboard's group block (nil: none).
func (p *Product) groupState(c *fiber.Ctx) (*theme.GroupState, error) {
	gs, seats, ok, err := p.myGroup(c)
	if err != nil || !ok {
		return nil, err
	}
	out := &theme.GroupState{Policy: policyView(gs.Policy, ""), Minimum: gs.Minimum, Waiting: gs.Waiting, Started: gs.Started,
		EndAction: "/dashboard/group/end"}
	for _, st := range seats {
		out.Seats = append(out.Seats, seatRow(st))
	}
	if gs.Room != "" {
		out.ChatURL = "/ws/chat/" + gs.Room
		if out.Chat, err = p.Chat.History(c.UserContext(), gs.Room, 50); err != nil {
			return nil, err
		}
	}
	return out, nil
}
