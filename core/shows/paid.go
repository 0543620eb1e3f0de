// Package shows is the show lifecycle. Service is what the site and the SFU
// use: a model's broadcast (its stream key, its mode), viewers' private
// requests and their queue, the private show and its seat while it runs,
// and the SFU's admission (who may publish, who may watch) and liveness
// (the media plane's events, fed to the seat's meter in billing). Its live
// state is kept behind Store, in the database on a host, so a restart finds
// the shows on air and the requests again.
//
// Paid is the paid show underneath: it opens a private or group show, locks
// each seat's price policy (with an FX quote when the viewer pays in another
// currency) in billing when the seat opens, and hands liveness events to
// every seat's meter: a model event reaches every seat of the show, a viewer
// event its own seat. In group mode each seat is metered and funded on its
// own.
//
// It decides nothing about money: billing prices, funds, settles and keeps
// the receipts; the running figures on a seat's page come from a display
// copy of the seat's meter fed the same events, priced under the policy
// billing locked.
package shows

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/currency"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/split"
)

// Mode is a paid show's mode.
type Mode string

const (
	Private Mode = "private" // one paying viewer
	Group   Mode = "group"   // several, each on a seat of their own
)

// PaidConfig wires a Paid.
type PaidConfig struct {
	DB      *store.DB
	Clock   clock.Clock
	Billing Billing
	Rates   RateSource
	// FX quotes a rate when a viewer pays in a currency other than the
	// model's rate currency. Optional: without it such seats are refused.
	FX currency.Converter
}

// Paid is safe for concurrent use.
type Paid struct {
	cfg     PaidConfig
	sql     *sql.DB
	dialect store.Dialect

	mu    sync.Mutex
	shows map[string]*show
	seats map[string]string // seat -> show
}

type show struct {
	id, model, studio string
	mode              Mode
	media             bool
	seats             map[string]bool
	// spies are the seats of seats that are spy seats (receive-only seats
	// of a private show beside its one viewer's).
	spies map[string]bool
}

// NewPaid returns a Paid.
func NewPaid(cfg PaidConfig) (*Paid, error) {
	if cfg.DB == nil || cfg.Clock == nil || cfg.Billing == nil || cfg.Rates == nil {
		return nil, errs.E(errs.Invalid, "shows: DB, Clock, Billing and Rates are required")
	}
	return &Paid{cfg: cfg, sql: cfg.DB.SQL(), dialect: cfg.DB.Dialect(),
		shows: map[string]*show{}, seats: map[string]string{}}, nil
}

func (s *Paid) q(query string) string { return s.dialect.Rebind(query) }

// PaidShow describes an open paid show.
type PaidShow struct {
	ID, ModelID, StudioID string
	Mode                  Mode
	OpenedAt              time.Time
}

// OpenShowRequest opens a paid show; the model has accepted.
type OpenShowRequest struct {
	ModelID  string
	StudioID string
	Mode     Mode
}

// OpenShow opens a private or group show for a model.
func (s *Paid) OpenShow(ctx context.Context, req OpenShowRequest) (PaidShow, error) {
	if req.Mode != Private && req.Mode != Group {
		return PaidShow{}, errs.E(errs.Invalid, "shows: mode %q: want private or group", req.Mode)
	}
	if req.ModelID == "" {
		return PaidShow{}, errs.E(errs.Invalid, "shows: a show needs a model")
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	sh := PaidShow{ID: "sh" + hex.EncodeToString(b[:]), ModelID: req.ModelID, StudioID: req.StudioID, Mode: req.Mode,
		OpenedAt: s.cfg.Clock.Now().UTC().Truncate(time.Microsecond)}
	if _, err := s.sql.ExecContext(ctx, s.q(`INSERT INTO shows (id, model_id, studio_id, mode, state, opened_at) VALUES (?,?,?,?,'open',?)`),
		sh.ID, sh.ModelID, sh.StudioID, string(sh.Mode), sh.OpenedAt); err != nil {
		return PaidShow{}, errs.Retry(errs.Unavailable, "shows: %v", err)
	}
	s.mu.Lock()
	s.shows[sh.ID] = &show{id: sh.ID, model: sh.ModelID, studio: sh.StudioID, mode: sh.Mode, seats: map[string]bool{}, spies: map[string]bool{}}
	s.mu.Unlock()
	return sh, nil
}

// SeatRequest asks for a seat in a show.
type SeatRequest struct {
	ViewerID    string
	AffiliateID string
	// BroadcastID is the show id billing records for the seat (so its receipt
	// names the show the API lists); empty: the paid show's id.
	BroadcastID string
	// PayCurrency is the currency the viewer pays in; empty means the
	// model's rate currency. Another one locks an FX quote now.
	PayCurrency string
	Funding     billing.Funding
	// Policy is the policy to lock, when the caller read it already (the
	// Service reads the rate once, when the model accepts, and shows and
	// funds that). nil: RateSource's current policy.
	Policy *pricing.Policy
	// Spy opens a receive-only seat in a private show beside its viewer's:
	// metered, funded and settled like any seat, never counted as the
	// private show's viewer.
	Spy bool
}

// OpenSeat locks the model's current price policy (and an FX quote) on a new
// seat and opens it in billing. A private show takes one seat at a time.
func (s *Paid) OpenSeat(ctx context.Context, showID string, req SeatRequest) (billing.SeatInfo, error) {
	info, _, err := s.OpenSeatLocked(ctx, showID, req)
	return info, err
}

// OpenSeatLocked is OpenSeat that also returns the policy billing locked on
// the seat (the rate, with the FX quote when there is one): what the seat's
// page shows, so the page and the bill never read the rate apart.
func (s *Paid) OpenSeatLocked(ctx context.Context, showID string, req SeatRequest) (billing.SeatInfo, pricing.Policy, error) {
	s.mu.Lock()
	sh := s.shows[showID]
	if sh == nil {
		s.mu.Unlock()
		return billing.SeatInfo{}, pricing.Policy{}, errs.E(errs.NotFound, "shows: no open show %q", showID)
	}
	if req.Spy && (sh.mode != Private || len(sh.seats) == len(sh.spies)) {
		s.mu.Unlock()
		return billing.SeatInfo{}, pricing.Policy{}, errs.E(errs.Conflict, "shows: a spy seat needs a private show with its viewer")
	}
	if !req.Spy && sh.mode == Private && len(sh.seats) > len(sh.spies) {
		s.mu.Unlock()
		return billing.SeatInfo{}, pricing.Policy{}, errs.E(errs.Conflict, "shows: private show %s already has its viewer", showID)
	}
	model, studio, mode := sh.model, sh.studio, sh.mode
	s.mu.Unlock()

	var (
		pol pricing.Policy
		err error
	)
	if req.Policy != nil {
		pol = *req.Policy
	} else {
		pol, err = s.cfg.Rates.CurrentPolicy(ctx, model, mode)
	}
	if err != nil {
		return billing.SeatInfo{}, pricing.Policy{}, err
	}
	if pay := req.PayCurrency; pay != "" && pay != pol.RateCurrency() {
		if s.cfg.FX == nil {
			return billing.SeatInfo{}, pricing.Policy{}, errs.E(errs.Unsupported, "shows: paying in %s needs a currency plugin", pay)
		}
		qr := currency.QuoteRequest{From: pol.RateCurrency(), To: pay}
		if err := qr.Validate(); err != nil {
			return billing.SeatInfo{}, pricing.Policy{}, err
		}
		q, err := s.cfg.FX.Quote(ctx, qr)
		if err != nil {
			return billing.SeatInfo{}, pricing.Policy{}, err
		}
		if err := q.Validate(qr); err != nil {
			return billing.SeatInfo{}, pricing.Policy{}, err
		}
		pol.FX = &pricing.FXQuote{Rate: q.Rate, QuoteID: q.QuoteID, Source: q.Source, PaymentCurrency: q.To, ExpiresAt: q.ExpiresAt}
	}
	// A spy seat is a seat in a private show: the split's private rule
	// (split.KindPrivate) pays the model her share of it.
	kind := split.KindPrivate
	if mode == Group {
		kind = split.KindGroup
	}
	recorded := showID
	if req.BroadcastID != "" {
		recorded = req.BroadcastID
	}
	info, err := s.cfg.Billing.OpenSeat(ctx, billing.OpenRequest{ShowID: recorded, Kind: kind, ViewerID: req.ViewerID,
		ModelID: model, StudioID: studio, AffiliateID: req.AffiliateID, Policy: pol, Funding: req.Funding})
	if err != nil {
		return billing.SeatInfo{}, pricing.Policy{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sh = s.shows[showID]
	if sh == nil { // the show ended while the seat was being funded
		go s.cfg.Billing.EndSeat(context.Background(), info.ID, billing.ClosedByModel) //nolint:errcheck // settles in the background
		return billing.SeatInfo{}, pricing.Policy{}, errs.E(errs.Conflict, "shows: show %s ended", showID)
	}
	sh.seats[info.ID] = true
	if req.Spy {
		sh.spies[info.ID] = true
	}
	s.seats[info.ID] = showID
	if sh.media {
		// Media is flowing already: the seat is live on the model's side from now.
		if err := s.cfg.Billing.Liveness(info.ID, meter.Event{Kind: meter.ModelMediaFlowing, At: s.cfg.Clock.Now()}); err != nil {
			return info, pol, err
		}
	}
	return info, pol, nil
}

// EndSeat ends one seat (by its viewer, or by the model): its receipt, or
// while settlement waits for a processor, its close decision (see
// billing.SeatEnd). Ending a seat that has ended answers the same again.
func (s *Paid) EndSeat(ctx context.Context, seatID string, reason billing.CloseReason) (billing.SeatEnd, error) {
	s.dropSeat(seatID)
	return s.cfg.Billing.EndSeat(ctx, seatID, reason)
}

func (s *Paid) dropSeat(seatID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.seats[seatID]; ok {
		delete(s.seats, seatID)
		if sh := s.shows[id]; sh != nil {
			delete(sh.seats, seatID)
			delete(sh.spies, seatID)
		}
	}
}

// EndShow ends a show and every seat in it (ended by the model).
func (s *Paid) EndShow(ctx context.Context, showID, reason string) error {
	s.mu.Lock()
	sh := s.shows[showID]
	if sh == nil {
		s.mu.Unlock()
		return errs.E(errs.NotFound, "shows: no open show %q", showID)
	}
	delete(s.shows, showID)
	seats := make([]string, 0, len(sh.seats))
	for id := range sh.seats {
		seats = append(seats, id)
		delete(s.seats, id)
	}
	s.mu.Unlock()
	first := s.endSeats(ctx, seats)
	if _, err := s.sql.ExecContext(ctx, s.q(`UPDATE shows SET state = 'ended', ended_at = ?, end_reason = ? WHERE id = ?`),
		s.cfg.Clock.Now().UTC().Truncate(time.Microsecond), reason, showID); err != nil && first == nil {
		first = errs.Retry(errs.Unavailable, "shows: %v", err)
	}
	return first
}

// endWorkers bounds how many seats of one show end at once. Ending one waits
// for its settlement (a processor capture, a ledger posting); one after
// another, a group show of 200 card seats took 5.7 s to end (35 a second,
// `billbench -mode group`), while billing's settlement pipeline merges
// concurrent settlements into shared commits.
const endWorkers = 32

// endSeats ends every seat, endWorkers at a time, and returns the first
// error. A seat billing closed already answers its state; one still settling
// finishes in the background; the others still end.
func (s *Paid) endSeats(ctx context.Context, seats []string) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	next := make(chan string)
	for w := 0; w < min(endWorkers, len(seats)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				if _, err := s.cfg.Billing.EndSeat(ctx, id, billing.ClosedByModel); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, id := range seats {
		next <- id
	}
	close(next)
	wg.Wait()
	return first
}

// Handle feeds one liveness event to the seats it concerns. Events for an
// unknown show or seat are errs.NotFound; a viewer event naming a seat of
// another show is errs.Invalid. A model event reaches every seat still
// open; a seat that billing has closed meanwhile (its funding ran out) is
// dropped from the show.
func (s *Paid) Handle(ev Event) error {
	switch e := ev.(type) {
	case ModelMediaFlowing:
		return s.model(e.ShowID, true, meter.Event{Kind: meter.ModelMediaFlowing, At: e.Since})
	case ModelMediaStopped:
		return s.model(e.ShowID, false, meter.Event{Kind: meter.ModelMediaStopped, At: e.LastPacketAt})
	case ViewerConnected:
		return s.viewer(e.ShowID, e.SeatID, meter.Event{Kind: meter.ViewerConnected, At: e.At})
	case ViewerDisconnected:
		return s.viewer(e.ShowID, e.SeatID, meter.Event{Kind: meter.ViewerDisconnected, At: e.LastEvidenceAt})
	}
	return errs.E(errs.Invalid, "shows: unknown liveness event %T", ev)
}

func (s *Paid) model(showID string, flowing bool, ev meter.Event) error {
	s.mu.Lock()
	sh := s.shows[showID]
	if sh == nil {
		s.mu.Unlock()
		return errs.E(errs.NotFound, "shows: no open show %q", showID)
	}
	if sh.media == flowing {
		s.mu.Unlock()
		return errs.E(errs.Conflict, "shows: show %s media already %v", showID, map[bool]string{true: "flowing", false: "stopped"}[flowing])
	}
	sh.media = flowing
	seats := make([]string, 0, len(sh.seats))
	for id := range sh.seats {
		seats = append(seats, id)
	}
	s.mu.Unlock()
	var first error
	for _, id := range seats {
		err := s.cfg.Billing.Liveness(id, ev)
		switch {
		case err == nil:
		case errors.Is(err, billing.ErrSeatClosed):
			s.dropSeat(id) // closed by billing
		case first == nil:
			first = err
		}
	}
	return first
}

func (s *Paid) viewer(showID, seatID string, ev meter.Event) error {
	s.mu.Lock()
	owner, ok := s.seats[seatID]
	s.mu.Unlock()
	if !ok {
		return errs.E(errs.NotFound, "shows: no open seat %q", seatID)
	}
	if owner != showID {
		return errs.E(errs.Invalid, "shows: seat %s belongs to show %s, not %s", seatID, owner, showID)
	}
	err := s.cfg.Billing.Liveness(seatID, ev)
	if errors.Is(err, billing.ErrSeatClosed) {
		s.dropSeat(seatID)
	}
	return err
}

// EndRecovered ends a paid show that a previous run left open (its seats
// were closed and settled by billing's Recover). An unknown or ended show is
// no error.
func (s *Paid) EndRecovered(ctx context.Context, showID, reason string) error {
	if showID == "" {
		return nil
	}
	if _, err := s.sql.ExecContext(ctx, s.q(`UPDATE shows SET state = 'ended', ended_at = ?, end_reason = ? WHERE id = ? AND state = 'open'`),
		s.cfg.Clock.Now().UTC().Truncate(time.Microsecond), reason, showID); err != nil {
		return errs.Retry(errs.Unavailable, "shows: %v", err)
	}
	return nil
}
