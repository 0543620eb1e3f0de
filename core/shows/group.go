package shows

import (
	"context"
	"strconv"
	"strings"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/httperror"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
)

// The group show. The model opens it from her public show at a group rate,
// with an optional minimum of paying viewers. Until the minimum has joined
// the show stays public and those who joined wait WITHOUT a seat: no seat,
// no meter, no hold, so nobody pays for waiting (the policy each of them
// accepted is kept and locked on their seat when it opens). Once enough
// have joined the broadcast turns group: one paid show (core/shows.Paid,
// split kind group), a seat per joiner with its own meter, funding, locked
// price and receipt; public viewers are cut by the SFU and offered to join.
// Viewers join and leave freely; the model ends it for all, and every seat
// ends and settles once (billing's EndSeat is idempotent).
//
// A restart ends a running group show like a private one: billing's
// Recover closes and settles every seat at its last checkpoint, exactly
// once, and restore puts the broadcast back in public. Waiting joiners and
// the group's rate live in memory only: they had no seat and paid nothing,
// and the model opens the group show again.

// MaxGroupMinimum caps the minimum of paying viewers a group show asks for.
const MaxGroupMinimum = 100

// GroupRoom is the chat room of a group show (its paid show's id): its
// seat holders and its model are let in; tips there are the whole group's.
func GroupRoom(paidShowID string) string { return "group-" + paidShowID }

func (st *seat) room() string {
	if st.spy {
		return "" // a spy has no chat
	}
	if st.mode == theme.ModeGroup {
		return GroupRoom(st.paid)
	}
	return PrivateRoom(st.id)
}

type group struct {
	policy   pricing.Policy // what a seat opened now locks
	minimum  int
	started  bool
	starting bool   // a start is under way (one goroutine opens the seats)
	paid     string // the paid show, once started
	waiting  []*joiner
}

// joiner is a viewer who joined before the minimum was reached.
type joiner struct {
	viewer, name string
	policy       pricing.Policy // the price they accepted, locked on their seat
	funding      billing.Funding
	how          string
}

// GroupOptions is what the model chooses when she opens a group show.
type GroupOptions struct {
	// Rate per minute; zero: her profile's group rate (her private rate
	// while she has none).
	Rate money.Money
	// Minimum paying viewers before the show starts (0 or 1: at once, or
	// at the first).
	Minimum int
}

// StartGroup opens a group show from the model's public show, or (while
// one is open) changes its rate and minimum: the new rate reaches seats
// opened from now on, never one already open.
func (s *Service) StartGroup(ctx context.Context, modelID string, opt GroupOptions) (GroupShow, error) {
	rate := opt.Rate
	if rate.Amount == 0 && rate.Currency == "" {
		p, err := s.cfg.Accounts.Profile(ctx, modelID)
		if err != nil {
			return GroupShow{}, err
		}
		rate = p.GroupRatePerMinute
		if rate.Amount <= 0 {
			rate = p.RatePerMinute // no group rate of her own: her private one
		}
		if rate.Amount <= 0 {
			return GroupShow{}, errs.E(errs.Invalid, "set a rate per minute first (or give the group rate)")
		}
	} else if err := s.cfg.Accounts.CheckRate(rate); err != nil {
		return GroupShow{}, err
	}
	if opt.Minimum < 0 || opt.Minimum > MaxGroupMinimum {
		return GroupShow{}, errs.E(errs.Invalid, "the minimum of paying viewers must be between 0 and %d", MaxGroupMinimum)
	}
	s.mu.Lock()
	b := s.byModel[modelID]
	if b == nil {
		s.mu.Unlock()
		return GroupShow{}, errs.E(errs.NotFound, "you are not on air")
	}
	if b.mode == theme.ModePrivate || b.seat != "" {
		s.mu.Unlock()
		return GroupShow{}, errs.E(errs.Conflict, "you are in a private show: end it first")
	}
	fresh := s.groups[b.id] == nil
	if fresh {
		if s.groups == nil {
			s.groups = map[string]*group{}
		}
		s.groups[b.id] = &group{}
	}
	g := s.groups[b.id]
	g.policy, g.minimum = s.policyAt(rate), opt.Minimum
	start := !g.started && !g.starting && len(g.waiting) >= g.minimum
	if start {
		g.starting = true
	}
	out := s.groupShowLocked(b)
	s.mu.Unlock()
	if fresh || start {
		text := "The model opened a group show at " + display(rate) + " a minute."
		if !start {
			text += " It starts when " + strconv.Itoa(opt.Minimum) + " viewers have joined; nobody pays until then."
		}
		s.say(b.id, chat.SystemEvent{Kind: "group_offered", Text: text})
	}
	if start {
		s.startGroup(ctx, b, g)
		out, _ = s.GroupOf(ctx, b.id)
	}
	return out, nil
}

// startGroup turns the broadcast group: the paid show opens, every waiting
// joiner's seat opens at the price they accepted, the SFU cuts the viewers
// without a seat. Call without s.mu, with g.starting set.
func (s *Service) startGroup(ctx context.Context, b *broadcast, g *group) {
	fail := func(err error) {
		s.mu.Lock()
		g.starting = false
		s.mu.Unlock()
		s.log.Warn("shows: a group show could not start", "show", b.id, "err", err)
		s.say(b.id, chat.SystemEvent{Kind: "group_failed", To: b.model, Text: "The group show could not start: " + httperror.Message(err)})
	}
	prof, err := s.cfg.Accounts.Profile(ctx, b.model)
	if err != nil {
		fail(err)
		return
	}
	paid, err := s.paid.OpenShow(ctx, OpenShowRequest{ModelID: b.model, StudioID: prof.StudioID, Mode: Group})
	if err != nil {
		fail(err)
		return
	}
	var (
		joiners []*joiner
		rate    money.Money
	)
	// The media events of the broadcast reach the group's paid show from
	// its attachment on, which hands it the state they start from.
	if !s.attachPaid(b, paid.ID, func() bool {
		if s.groups[b.id] != g || s.byID[b.id] != b {
			return false // ended (or off air) while the paid show opened
		}
		g.started, g.starting, g.paid = true, false, paid.ID
		b.mode = theme.ModeGroup
		s.onAir.Add(1)
		joiners, g.waiting = g.waiting, nil
		rate = g.policy.RatePerMinute
		b.paid = paid.ID // record() below stores it
		if err := s.store.PutBroadcast(ctx, b.record()); err != nil {
			s.log.Warn("shows: saving a broadcast", "show", b.id, "err", err)
		}
		return true
	}) {
		_ = s.paid.EndShow(context.Background(), paid.ID, "group show cancelled")
		return
	}
	if s.media != nil {
		s.media.SetMode(b.id, stream.ModeGroup)
	}
	s.say(b.id, chat.SystemEvent{Kind: "show_group", Text: "The show is now a group show at " + display(rate) +
		" a minute: join it to keep watching."})
	for _, j := range joiners {
		if _, err := s.openGroupSeat(ctx, b, g, j); err != nil {
			s.say(b.id, chat.SystemEvent{Kind: "group_failed", To: j.viewer, Text: "Your seat in the group show could not open: " + httperror.Message(err)})
		}
	}
}

// openGroupSeat opens one viewer's seat in a running group show, at the
// policy they accepted.
func (s *Service) openGroupSeat(ctx context.Context, b *broadcast, g *group, j *joiner) (Seat, error) {
	s.mu.Lock()
	paidID := g.paid
	s.mu.Unlock()
	info, locked, err := s.paid.OpenSeatLocked(ctx, paidID, SeatRequest{ViewerID: j.viewer, BroadcastID: b.id, Funding: j.funding, Policy: &j.policy})
	if err != nil {
		return Seat{}, err
	}
	how := j.how
	if j.funding.Processor != "" && info.Strategy != "" {
		how = string(info.Strategy)
	}
	st := &seat{id: info.ID, show: b.id, paid: paidID, viewer: j.viewer, viewerName: j.name, model: b.model, mode: theme.ModeGroup,
		token: randomID("st_", 24), policy: locked, funding: how, opened: info.OpenedAt, open: true, fundedSecs: info.FundedSeconds}
	s.mu.Lock()
	if s.groups[b.id] != g {
		// The group ended while this seat was funded: its end ended the
		// seat in billing too (Paid.EndShow ends every seat it holds).
		s.mu.Unlock()
		if _, err := s.paid.EndSeat(context.Background(), info.ID, billing.ClosedByModel); err != nil {
			s.log.Warn("shows: ending a seat of an ended group show", "seat", info.ID, "err", err)
		}
		return Seat{}, errs.E(errs.Conflict, "the group show has ended")
	}
	s.seats[st.id] = st
	if err := s.store.PutSeat(ctx, st.record()); err != nil {
		s.log.Warn("shows: saving a seat", "seat", st.id, "err", err)
	}
	s.mu.Unlock()
	s.say(GroupRoom(paidID), chat.SystemEvent{Kind: "group_joined", Text: j.name + " joined the group show."})
	s.say(b.id, chat.SystemEvent{Kind: "group_seat", To: j.viewer, Text: "Your seat in the group show is open at " +
		display(locked.RatePerMinute) + " a minute: /seats/" + st.id})
	return s.view(st, true), nil
}

// JoinGroup joins the viewer to the group show of showID at its current
// rate: a seat at once while it runs, or a place among those waiting for
// its minimum (a seat opens, at this rate, when the minimum is reached).
// Joining again answers the seat or the place already held.
func (s *Service) JoinGroup(ctx context.Context, viewerID, showID string) (GroupJoin, error) {
	u, err := s.viewer(ctx, viewerID, "join group shows")
	if err != nil {
		return GroupJoin{}, err
	}
	s.mu.Lock()
	b := s.byID[showID]
	if b == nil {
		s.mu.Unlock()
		return GroupJoin{}, errs.E(errs.NotFound, "this show is not on air")
	}
	g := s.groups[b.id]
	if g == nil {
		s.mu.Unlock()
		return GroupJoin{}, errs.E(errs.Conflict, "there is no group show to join here")
	}
	if st := s.openSeatLocked(viewerID); st != nil {
		s.mu.Unlock()
		if g.started && st.paid == g.paid {
			return s.joined(ctx, b, s.view(st, true)), nil
		}
		return GroupJoin{}, errs.E(errs.Conflict, "you are in another paid show: end it first")
	}
	for _, j := range g.waiting {
		if j.viewer == viewerID {
			out := GroupJoin{Waiting: true, Group: s.groupShowLocked(b)}
			s.mu.Unlock()
			return out, nil
		}
	}
	pol := g.policy
	s.mu.Unlock()

	fund, how, ok, reason, err := s.funding(ctx, viewerID, pol)
	if err != nil {
		return GroupJoin{}, err
	}
	if !ok {
		return GroupJoin{}, errs.E(errs.Limit, "%s", reason)
	}
	j := &joiner{viewer: viewerID, name: u.DisplayName, policy: pol, funding: fund, how: how}
	s.mu.Lock()
	if s.groups[b.id] != g {
		s.mu.Unlock()
		return GroupJoin{}, errs.E(errs.Conflict, "the group show has ended")
	}
	if g.started {
		s.mu.Unlock()
		st, err := s.openGroupSeat(ctx, b, g, j)
		if err != nil {
			return GroupJoin{}, err
		}
		return s.joined(ctx, b, st), nil
	}
	for _, o := range g.waiting { // a concurrent twin joined meanwhile
		if o.viewer == viewerID {
			out := GroupJoin{Waiting: true, Group: s.groupShowLocked(b)}
			s.mu.Unlock()
			return out, nil
		}
	}
	g.waiting = append(g.waiting, j)
	start := !g.starting && len(g.waiting) >= g.minimum
	if start {
		g.starting = true
	}
	n, min := len(g.waiting), g.minimum
	s.mu.Unlock()
	if !start {
		s.say(b.id, chat.SystemEvent{Kind: "group_waiting", To: b.model, Text: u.DisplayName + " joined your group show: " +
			strconv.Itoa(n) + " of " + strconv.Itoa(min) + "."})
		s.say(b.id, chat.SystemEvent{Kind: "group_waiting", To: viewerID, Text: "You joined the group show. It starts when " +
			strconv.Itoa(min) + " viewers have joined; nothing is charged until then."})
		gs, _ := s.GroupOf(ctx, showID)
		return GroupJoin{Waiting: true, Group: gs}, nil
	}
	s.startGroup(ctx, b, g)
	if st, ok, _ := s.OpenSeatOf(ctx, viewerID); ok && st.ShowID == showID {
		return s.joined(ctx, b, st), nil
	}
	return GroupJoin{}, errs.E(errs.Unavailable, "the group show could not start; you were not charged")
}

func (s *Service) joined(ctx context.Context, b *broadcast, st Seat) GroupJoin {
	gs, _ := s.GroupOf(ctx, b.id)
	return GroupJoin{Seat: st, Group: gs}
}

// openSeatLocked is the viewer's open seat, if any; call with s.mu.
func (s *Service) openSeatLocked(viewerID string) *seat {
	for _, st := range s.seats {
		if st.viewer == viewerID && st.open {
			return st
		}
	}
	return nil
}

// WaitingForGroup says whether the viewer has joined the group show of
// showID and waits for it to start.
func (s *Service) WaitingForGroup(_ context.Context, viewerID, showID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.byID[showID]; b != nil && s.groups[b.id] != nil {
		for _, j := range s.groups[b.id].waiting {
			if j.viewer == viewerID {
				return true, nil
			}
		}
	}
	return false, nil
}

// LeaveGroup takes a waiting viewer out of a group show that has not
// started (a seat holder leaves by ending their seat).
func (s *Service) LeaveGroup(_ context.Context, viewerID, showID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.byID[showID]
	if b == nil || s.groups[b.id] == nil {
		return errs.E(errs.NotFound, "there is no group show here")
	}
	g := s.groups[b.id]
	for i, j := range g.waiting {
		if j.viewer == viewerID {
			g.waiting = append(g.waiting[:i:i], g.waiting[i+1:]...)
			return nil
		}
	}
	return errs.E(errs.NotFound, "you are not waiting for this group show")
}

// EndGroup ends the model's group show for all: every seat ends and
// settles (once), those waiting are told nothing was charged, and the
// broadcast is public again, with the private requests kept meanwhile
// waiting for her again.
func (s *Service) EndGroup(ctx context.Context, modelID string) error {
	s.mu.Lock()
	b := s.byModel[modelID]
	if b == nil || s.groups[b.id] == nil {
		s.mu.Unlock()
		return errs.E(errs.NotFound, "you have no group show")
	}
	g := s.groups[b.id]
	delete(s.groups, b.id)
	started, paid := g.started, g.paid
	seats := s.groupSeatsLocked(g)
	if started {
		b.paid, b.mode = "", theme.ModePublic
		s.onAir.Add(1)
		if err := s.store.PutBroadcast(ctx, b.record()); err != nil {
			s.log.Warn("shows: saving a broadcast", "show", b.id, "err", err)
		}
	}
	s.mu.Unlock()
	s.cancelWaiting(b.id, g, "The group show was cancelled before it started; you were not charged.")
	if !started {
		return nil
	}
	// Each seat's video stops as billing closes it (its close event, see
	// closeSeat), while the seats before it settle.
	first := s.paid.EndShow(ctx, paid, "group show over")
	for _, id := range seats {
		s.closeSeat(id)
	}
	if s.media != nil {
		s.media.SetMode(b.id, stream.ModePublic)
	}
	s.say(GroupRoom(paid), chat.SystemEvent{Kind: "group_ended", Text: "The model ended the group show."})
	s.say(b.id, chat.SystemEvent{Kind: "show_public", Text: "The show is public again."})
	s.backInPublic(b.id)
	return first
}

// groupSeatsLocked lists the open seats of a running group; call with s.mu.
func (s *Service) groupSeatsLocked(g *group) []string {
	if g == nil || g.paid == "" {
		return nil
	}
	var out []string
	for id, st := range s.seats {
		if st.paid == g.paid && st.open {
			out = append(out, id)
		}
	}
	return out
}

// cancelWaiting tells those waiting for g that it will not start.
func (s *Service) cancelWaiting(showID string, g *group, text string) {
	if g == nil {
		return
	}
	s.mu.Lock()
	waiting := g.waiting
	g.waiting = nil
	s.mu.Unlock()
	for _, j := range waiting {
		s.say(showID, chat.SystemEvent{Kind: "group_cancelled", To: j.viewer, Text: text})
	}
}

func (s *Service) groupShowLocked(b *broadcast) GroupShow {
	g := s.groups[b.id]
	out := GroupShow{ShowID: b.id, ModelID: b.model, Policy: g.policy, Minimum: g.minimum, Started: g.started, Waiting: len(g.waiting)}
	if g.started {
		out.Room = GroupRoom(g.paid)
		out.Seats = len(s.groupSeatsLocked(g))
	}
	return out
}

// GroupOf is the group show of showID, if one is open (waiting or running).
func (s *Service) GroupOf(_ context.Context, showID string) (GroupShow, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.byID[showID]
	if b == nil || s.groups[b.id] == nil {
		return GroupShow{}, false
	}
	return s.groupShowLocked(b), true
}

// GroupQuote is what joining the group show of showID would lock now, and
// whether viewerID can pay for it; ok is false when there is no group show.
func (s *Service) GroupQuote(ctx context.Context, showID, viewerID string) (Quote, GroupShow, bool, error) {
	gs, ok := s.GroupOf(ctx, showID)
	if !ok {
		return Quote{}, GroupShow{}, false, nil
	}
	q := Quote{Policy: gs.Policy, Funding: string(s.cfg.CardStrategy)}
	if viewerID == "" {
		return q, gs, true, nil
	}
	_, how, allowed, reason, err := s.funding(ctx, viewerID, gs.Policy)
	if err != nil {
		return Quote{}, GroupShow{}, false, err
	}
	if allowed {
		q.Funding = how
	}
	q.Allowed, q.Reason = allowed, strings.Replace(reason, "to go private", "to join", 1)
	return q, gs, true, nil
}

// GroupSeats lists the open seats of the model's group show, with their
// live state, for her dashboard.
func (s *Service) GroupSeats(_ context.Context, modelID string) ([]Seat, error) {
	s.mu.Lock()
	b := s.byModel[modelID]
	var open []*seat
	if b != nil && s.groups[b.id] != nil {
		for _, id := range s.groupSeatsLocked(s.groups[b.id]) {
			open = append(open, s.seats[id])
		}
	}
	s.mu.Unlock()
	out := make([]Seat, 0, len(open))
	for _, st := range open {
		out = append(out, s.view(st, false))
	}
	sortSeats(out)
	return out, nil
}

func sortSeats(out []Seat) {
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && (out[j].OpenedAt.Before(out[j-1].OpenedAt) ||
			out[j].OpenedAt.Equal(out[j-1].OpenedAt) && out[j].ID < out[j-1].ID); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
}

// GroupMember says whether actorID may be in a group room (read its chat,
// post, tip): the group's model, a viewer holding an open seat in it, or an
// admin. Anyone else is told there is no such room.
func (s *Service) GroupMember(ctx context.Context, actorID, room string) error {
	paid, ok := strings.CutPrefix(room, "group-")
	if !ok || actorID == "" {
		return errs.E(errs.NotFound, "no such group show")
	}
	s.mu.Lock()
	member := false
	for _, st := range s.seats {
		if st.paid == paid && st.mode == theme.ModeGroup && (st.open && st.viewer == actorID || st.model == actorID) {
			member = true
			break
		}
	}
	if !member {
		for _, b := range s.byID {
			if b.paid == paid && b.model == actorID {
				member = true
			}
		}
	}
	s.mu.Unlock()
	if member || s.isAdmin(ctx, actorID) {
		return nil
	}
	return errs.E(errs.NotFound, "no such group show")
}
