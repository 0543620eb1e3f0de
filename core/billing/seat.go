package billing

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

// seat is an open seat in memory: its meter, what is funded, and the two
// timers that act on time (the guard ends the seat when funding runs out or
// a pause is too long; the fund timer extends funding before that).
//
// Locks: fundMu serialises funding steps and settlement (both may wait on a
// processor); mu guards everything else and is never held across a
// processor call, so liveness events are never delayed by one. Order:
// fundMu, then mu, then Engine.mu.
type seat struct {
	e        *Engine
	row      *seatRow // identity and the locked policy: never changed
	block    money.Money
	lead     time.Duration
	maxPause time.Duration

	fundMu sync.Mutex

	mu         sync.Mutex
	m          *meter.Meter
	funded     money.Money // the cumulative ceiling secured
	fundedSecs int64       // billable seconds it pays for
	nextStep   int         // the next funding step (and idempotency-key number)
	holdStep   int         // the step of the hold now open
	holdRef    string      // its processor reference (card_hold)
	closed     bool
	decision   *decision
	settled    bool
	failed     error // settlement failed for good: the seat waits for an operator
	// tried is closed when the first settlement attempt after the close has
	// finished (whatever its outcome): a repeated end waits for it.
	tried     chan struct{}
	triedOnce sync.Once

	// shownSecs is the highest BilledSeconds a LiveSeat has shown: the
	// figure never goes back.
	shownSecs int64

	seq     int64     // checkpoint sequence
	lastCk  time.Time // when the last checkpoint was taken
	dirtyAt time.Time // first unwritten transition; zero when clean

	gen         uint64
	guard, fund clock.Timer
	extending   bool
	failures    int
	retryAt     time.Time
	settleTries int
	settleTimer clock.Timer
	settleAt    time.Time // when the next settlement attempt is due
}

// decision is what closing a seat decided, once (see closeDecision). settle
// persists it before moving any money.
type decision struct {
	closeDecision
	persisted bool
}

func newSeat(e *Engine, row *seatRow, block money.Money) *seat {
	return &seat{e: e, row: row, block: block, lead: row.Policy.ExtensionLead(), maxPause: row.Policy.MaxPause(),
		m: meter.New(), funded: money.Money{Currency: row.Currency}, nextStep: 1, tried: make(chan struct{})}
}

func secs(n int64) time.Duration { return time.Duration(n) * time.Second }

// land records a secured funding step as the seat's funding, unless the
// seat closed while it was being secured: then it is late, funds nothing,
// and the caller undoes it. Checking and applying under one lock is what
// makes "late" exact: a close decides the funding it sees, and a step that
// landed first is in it.
func (s *seat) land(r fundResult) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.applyFundedLocked(r)
	return true
}

func (s *seat) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *seat) applyFundedLocked(r fundResult) {
	if r.ceiling.Amount > s.funded.Amount {
		s.funded, s.fundedSecs = r.ceiling, r.secs
		s.holdStep, s.holdRef = r.step, r.holdRef
	}
	s.nextStep = max(s.nextStep, r.step+1)
	s.failures, s.retryAt = 0, time.Time{}
}

func (s *seat) markDirtyLocked(now time.Time) {
	if s.dirtyAt.IsZero() {
		s.dirtyAt = now
	}
}

func (s *seat) takeCheckpointLocked(now time.Time) checkpoint {
	snap := s.m.Snapshot(now)
	b, err := json.Marshal(snap)
	if err != nil {
		panic("billing: a meter snapshot does not encode: " + err.Error()) // plain structs: cannot happen
	}
	s.seq++
	s.lastCk, s.dirtyAt = now, time.Time{}
	return checkpoint{SeatID: s.row.ID, Seq: s.seq, AtMs: snap.CheckpointAt, Snap: b}
}

// priceOf is the price of billable seconds in the payment currency, never
// above what is funded.
func priceOf(e *Engine, r *seatRow, billable int64, funded int64) int64 {
	p, err := pricing.PriceInPaymentCurrency(r.Policy, billable)
	if err != nil || p.Currency != r.Currency {
		// The policy was validated when the seat opened; a price that cannot
		// be computed now is a bug. Take nothing rather than guess.
		e.log.Error("billing: pricing a closed seat", "seat", r.ID, "billable", billable, "err", err)
		return 0
	}
	if p.Amount > funded {
		e.log.Error("billing: price above funding; capped", "seat", r.ID, "price", p, "funded", funded)
		return funded
	}
	return p.Amount
}

// closeLocked ends the meter at `at` (which may lie in the past: the instant
// funding ran out) and decides the billable seconds and the price, once.
func (s *seat) closeLocked(at time.Time, reason CloseReason) {
	if s.closed {
		return
	}
	now := s.e.clock.Now()
	var billable int64
	if s.m.Phase() == meter.Open {
		if err := s.m.SeatClosed(at); err != nil {
			s.e.log.Error("billing: closing a meter", "seat", s.row.ID, "err", err)
		}
		billable = min(s.m.BillableSeconds(at), s.fundedSecs)
	}
	s.closed = true
	s.stopTimersLocked()
	price := priceOf(s.e, s.row, billable, s.funded.Amount)
	s.decision = &decision{closeDecision: closeDecision{at: at, reason: reason, billable: billable, price: price,
		fundedAmount: s.funded.Amount, fundedSeconds: s.fundedSecs, ck: s.takeCheckpointLocked(now)}}
	s.e.emit(Event{Type: EventSeatClosed, SeatID: s.row.ID, ShowID: s.row.ShowID, ViewerID: s.row.ViewerID, At: at,
		Funded: s.funded, FundedSeconds: s.fundedSecs, BillableSeconds: billable, Reason: reason,
		Price: money.Money{Amount: price, Currency: s.row.Currency}})
}

// checkDueLocked closes the seat when its funded time is used up or it has
// been paused too long; it reports whether it did.
func (s *seat) checkDueLocked(now time.Time) bool {
	if s.closed || s.m.Phase() != meter.Open {
		return false
	}
	if t, ok := s.m.WhenBillableReaches(secs(s.fundedSecs)); ok && !t.After(now) {
		s.closeLocked(t, ClosedFundingExhausted)
		return true
	}
	if ps, ok := s.m.PausedSince(); ok {
		if end := ps.Add(s.maxPause); !end.After(now) {
			s.closeLocked(end, ClosedPauseExceeded)
			return true
		}
	}
	return false
}

func (s *seat) stopTimersLocked() {
	s.gen++
	for _, t := range []clock.Timer{s.guard, s.fund} {
		if t != nil {
			t.Stop()
		}
	}
	s.guard, s.fund = nil, nil
}

// rearmLocked arms the fund timer for the instant funded time left reaches
// the lead (or the next retry), and the guard for the instant funding runs
// out or the pause reaches its maximum.
func (s *seat) rearmLocked(now time.Time) {
	s.stopTimersLocked()
	if s.closed || s.e.isStopped() {
		return
	}
	gen := s.gen
	in := func(at time.Time) time.Duration { return max(at.Sub(now), 0) }
	funded := secs(s.fundedSecs)
	if !s.extending {
		var at time.Time
		ok := false
		switch {
		case !s.retryAt.IsZero():
			at, ok = s.retryAt, true
		case funded > s.lead:
			at, ok = s.m.WhenBillableReaches(funded - s.lead)
		default:
			at, ok = now, true
		}
		if ok {
			s.fund = s.e.clock.AfterFunc(in(at), func() { s.onFund(gen) })
		}
	}
	at, ok := s.m.WhenBillableReaches(funded)
	if ps, paused := s.m.PausedSince(); paused {
		if end := ps.Add(s.maxPause); !ok || end.Before(at) {
			at, ok = end, true
		}
	}
	if ok {
		s.guard = s.e.clock.AfterFunc(in(at), func() { s.onGuard(gen) })
	}
}

func (s *seat) onGuard(gen uint64) {
	s.mu.Lock()
	if s.closed || gen != s.gen {
		s.mu.Unlock()
		return
	}
	now := s.e.clock.Now()
	closing := s.checkDueLocked(now)
	if !closing {
		s.rearmLocked(now)
	}
	s.mu.Unlock()
	if closing {
		_, _ = s.e.settle(context.Background(), s)
	}
}

// onFund extends funding by one block when funded time left is at most the
// lead. A failure is retried with backoff and announced; the guard still
// ends the seat exactly when funded time runs out.
func (s *seat) onFund(gen uint64) {
	e := s.e
	s.fundMu.Lock()
	s.mu.Lock()
	if s.closed || gen != s.gen || s.extending {
		s.mu.Unlock()
		s.fundMu.Unlock()
		return
	}
	now := e.clock.Now()
	if left := secs(s.fundedSecs) - s.m.BillableDuration(now); left > s.lead {
		s.retryAt = time.Time{}
		s.rearmLocked(now)
		s.mu.Unlock()
		s.fundMu.Unlock()
		return
	}
	s.extending = true
	n := s.nextStep
	s.stopTimersLocked()
	s.rearmLocked(now) // the guard keeps running while the processor answers
	s.mu.Unlock()

	res := e.fundStep(context.Background(), s, n)

	s.mu.Lock()
	s.extending = false
	if s.closed {
		// The seat ended while the step was under way. Whatever it secured
		// landed late and was undone (or is left to settlement, which the
		// closer runs once fundMu is free): nothing to announce or retry.
		s.mu.Unlock()
		s.fundMu.Unlock()
		return
	}
	now = e.clock.Now()
	closing := false
	if res.err == nil {
		e.emit(Event{Type: EventFundingExtended, SeatID: s.row.ID, ShowID: s.row.ShowID, ViewerID: s.row.ViewerID,
			At: now, Funded: s.funded, FundedSeconds: s.fundedSecs, BillableSeconds: s.m.BillableSeconds(now)})
	} else {
		if !res.retry {
			s.nextStep = n + 1 // that key has its final answer; the next attempt needs its own
		}
		s.failures++
		s.retryAt = now.Add(e.backoff(s.failures))
		e.emit(Event{Type: EventFundingWarning, SeatID: s.row.ID, ShowID: s.row.ShowID, ViewerID: s.row.ViewerID,
			At: now, Funded: s.funded, FundedSeconds: s.fundedSecs, BillableSeconds: s.m.BillableSeconds(now),
			Code: errs.CodeOf(res.err), Err: res.err, Attempt: s.failures})
		if res.rejected {
			s.closeLocked(now, ClosedFundingRejected)
			closing = true
		}
	}
	if !s.closed {
		closing = s.checkDueLocked(now)
		if !closing {
			s.rearmLocked(now)
		}
	}
	s.mu.Unlock()
	s.fundMu.Unlock()
	if closing {
		_, _ = e.settle(context.Background(), s)
	}
}

func (e *Engine) backoff(failures int) time.Duration {
	d := e.cfg.RetryMin
	for i := 1; i < failures && d < e.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, e.cfg.RetryMax)
}
