package shows

// Spy on private: a receive-only seat in someone else's private show.
//
// A spy seat is one more seat on the private show's paid show
// (core/shows.Paid, split kind private), opened by the spy, not by the
// model's accept: its own meter, funding and receipt, at the model's spy
// rate (accounts.ModelProfile.SpyRatePerMinute; nil, she refuses spies),
// locked when the spy joins. It is metered like every seat: the model's
// media events reach it through the paid show, the spy's own WHEP
// connection through its seat id. It never counts as the private show's
// viewer (Paid still takes one of those), so the private seat, its price
// and its receipt are the same with or without spies.
//
// A spy receives the model's video only: the SFU admits its seat token to
// the broadcast (AdmitViewer), never to the private viewer's camera room
// (admitCam2cam takes the model's bearer alone), and a WHIP publish with
// its token is refused (resolveCam2cam finds no cam2cam on it). It has no
// chat: the private room is its viewer's and its model's (Seat refuses a
// spy with Forbidden, which chat and the seat's tip form ask), and tips
// there are refused (Tips.TipParties).
//
// The spy seat ends with the private show (its viewer leaving, the model
// ending it, funding running out, the model going off air): Paid.EndShow
// ends and settles every seat of the paid show once, and closeSeat stops
// each spy's video. A restart settles it like any seat (billing's Recover).

import (
	"context"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/theme"
)

// SpyOffer is what a spy seat on showID would lock now and whether viewerID
// can pay for it; ok is false when the show is not private or the model
// refuses spies.
func (s *Service) SpyOffer(ctx context.Context, showID, viewerID string) (Quote, bool, error) {
	s.mu.Lock()
	b := s.byID[showID]
	model, private := "", false
	if b != nil {
		model, private = b.model, b.mode == theme.ModePrivate && b.seat != ""
	}
	s.mu.Unlock()
	if !private {
		return Quote{}, false, nil
	}
	pol, ok, err := s.spyPolicy(ctx, model)
	if err != nil || !ok {
		return Quote{}, false, err
	}
	q := Quote{Policy: pol, Funding: string(s.cfg.CardStrategy)}
	if viewerID == "" {
		return q, true, nil
	}
	_, how, allowed, reason, err := s.funding(ctx, viewerID, pol)
	if err != nil {
		return Quote{}, false, err
	}
	if allowed {
		q.Funding = how
	}
	q.Allowed, q.Reason = allowed, reason
	return q, true, nil
}

// spyPolicy is the operator's template at the model's spy rate; ok is false
// when she refuses spies.
func (s *Service) spyPolicy(ctx context.Context, modelID string) (pricing.Policy, bool, error) {
	p, err := s.cfg.Accounts.Profile(ctx, modelID)
	if err != nil || p.SpyRatePerMinute == nil || p.SpyRatePerMinute.Amount <= 0 {
		return pricing.Policy{}, false, err
	}
	return s.policyAt(*p.SpyRatePerMinute), true, nil
}

// Spy opens the viewer's spy seat on the private show running in showID, at
// the model's spy rate now. Spying again answers the spy seat already held.
func (s *Service) Spy(ctx context.Context, viewerID, showID string) (Seat, error) {
	u, err := s.viewer(ctx, viewerID, "spy on private shows")
	if err != nil {
		return Seat{}, err
	}
	s.mu.Lock()
	b := s.byID[showID]
	if b == nil {
		s.mu.Unlock()
		return Seat{}, errs.E(errs.NotFound, "this show is not on air")
	}
	if b.mode != theme.ModePrivate || b.seat == "" || b.paid == "" {
		s.mu.Unlock()
		return Seat{}, errs.E(errs.Conflict, "the model is not in a private show")
	}
	paidID, model := b.paid, b.model
	if st := s.openSeatLocked(viewerID); st != nil {
		s.mu.Unlock()
		if st.spy && st.paid == paidID {
			return s.view(st, true), nil
		}
		return Seat{}, errs.E(errs.Conflict, "you are in another paid show: end it first")
	}
	s.mu.Unlock()

	pol, ok, err := s.spyPolicy(ctx, model)
	if err != nil {
		return Seat{}, err
	}
	if !ok {
		return Seat{}, errs.E(errs.Forbidden, "this model does not allow spies")
	}
	fund, how, allowed, reason, err := s.funding(ctx, viewerID, pol)
	if err != nil {
		return Seat{}, err
	}
	if !allowed {
		return Seat{}, errs.E(errs.Limit, "%s", reason)
	}
	info, locked, err := s.paid.OpenSeatLocked(ctx, paidID, SeatRequest{ViewerID: viewerID, BroadcastID: b.id, Funding: fund, Policy: &pol, Spy: true})
	if err != nil {
		if errs.CodeOf(err) == errs.NotFound {
			err = errs.E(errs.Conflict, "the private show has ended")
		}
		return Seat{}, err
	}
	if fund.Processor != "" && info.Strategy != "" {
		how = string(info.Strategy)
	}
	st := &seat{id: info.ID, show: b.id, paid: paidID, viewer: viewerID, viewerName: u.DisplayName, model: model, mode: theme.ModePrivate,
		spy: true, token: randomID(seatTokenPrefix, 24), policy: locked, funding: how, opened: info.OpenedAt, open: true, fundedSecs: info.FundedSeconds}
	s.mu.Lock()
	if b.paid != paidID || s.byID[b.id] != b {
		// The private show ended while this seat was funded: its end may
		// have missed the seat, so it ends (once) here.
		s.mu.Unlock()
		if _, err := s.paid.EndSeat(context.Background(), info.ID, billing.ClosedByModel); err != nil {
			s.log.Warn("shows: ending a spy seat of an ended private show", "seat", info.ID, "err", err)
		}
		return Seat{}, errs.E(errs.Conflict, "the private show has ended")
	}
	s.seats[st.id] = st
	if err := s.store.PutSeat(ctx, st.record()); err != nil {
		s.log.Warn("shows: saving a seat", "seat", st.id, "err", err)
	}
	s.mu.Unlock()
	s.say(b.id, chat.SystemEvent{Kind: "spy_joined", To: model, Text: u.DisplayName + " is spying on your private show at " +
		display(locked.RatePerMinute) + " a minute."})
	return s.view(st, true), nil
}

// spySeatsLocked lists the open spy seats of the paid show paidID; call
// with s.mu.
func (s *Service) spySeatsLocked(paidID string) []string {
	if paidID == "" {
		return nil
	}
	var out []string
	for id, st := range s.seats {
		if st.spy && st.open && st.paid == paidID {
			out = append(out, id)
		}
	}
	return out
}

// SpySeats lists the open spy seats of the model's private show, with their
// live state and running earnings, for her dashboard.
func (s *Service) SpySeats(_ context.Context, modelID string) ([]Seat, error) {
	s.mu.Lock()
	var open []*seat
	if b := s.byModel[modelID]; b != nil {
		for _, id := range s.spySeatsLocked(b.paid) {
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

// spyOfLocked says whether actorID holds an open spy seat on the paid show
// of the private seat st; call with s.mu.
func (s *Service) spyOfLocked(st *seat, actorID string) bool {
	if st == nil || st.spy || actorID == "" {
		return false
	}
	for _, x := range s.seats {
		if x.spy && x.open && x.paid == st.paid && x.viewer == actorID {
			return true
		}
	}
	return false
}

// errSpyOnly is what a spy is told in the private show's chat.
func errSpyOnly() error {
	return errs.E(errs.Forbidden, "a spy only watches: the private show's chat and tips are its viewer's")
}
