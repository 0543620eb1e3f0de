package billing

import (
	"time"

	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/sdk/money"
)

// PauseReason says why an open seat is not billable right now.
type PauseReason string

const (
	// PausedModelMedia: the model's media is not reaching the SFU (her
	// encoder stopped, her connection dropped). Said first when both sides
	// are missing: without her media the viewer has nothing to receive.
	PausedModelMedia PauseReason = "model_media"
	// PausedViewerConnection: the model's media flows, but it is not
	// reaching the viewer: the viewer's connection is not up, has gone
	// silent, or has not received its first picture yet.
	PausedViewerConnection PauseReason = "viewer_connection"
)

// LiveSeat is billing's view of a seat as it runs, for pages: the web layer
// renders it and computes nothing.
//
// BilledSeconds and BilledCost are the seat's billed-so-far figures: whole
// seconds, truncated (a started second is never billed), priced under the
// locked policy. They never exceed what the seat will be billed, and never
// go down, even when a pause is backdated: they count only billable time
// older than Config.BackdateLimit, which no loss can take back, and once the
// seat is closed they are its final figures.
type LiveSeat struct {
	SeatID string
	// Open: the seat is metered; false once it closed (its figures are final).
	Open bool
	// Billing: the meter runs right now (the model's media flows and it
	// reaches the viewer).
	Billing bool
	// PauseReason says why an open seat is not billing, PausedSince since
	// when (backdated as the meter was).
	PauseReason PauseReason
	PausedSince time.Time
	// EndsAt is when the seat ends by itself unless something changes:
	// during a pause, PausedSince plus the policy's maximum pause
	// (billing.max_pause_seconds); while billing with a failing extension,
	// when the funded time runs out. Zero when nothing is due. EndReason is
	// the reason it would close with.
	EndsAt    time.Time
	EndReason CloseReason
	// BilledSeconds so far and their price in the payment currency.
	BilledSeconds int64
	BilledCost    money.Money
	// FundedSeconds is the billable time the funding secured so far covers.
	FundedSeconds int64
}

// LiveSeat returns billing's view of a seat this engine meters, at the
// engine's clock; ok is false for a seat it does not hold in memory (never
// here, or settled: its receipt says what it was). It does no I/O, so a page
// may poll it.
func (e *Engine) LiveSeat(seatID string) (LiveSeat, bool) {
	e.mu.RLock()
	s := e.seats[seatID]
	e.mu.RUnlock()
	if s == nil {
		return LiveSeat{}, false
	}
	now := e.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.liveLocked(now, e.cfg.BackdateLimit), true
}

// liveLocked computes the seat's LiveSeat at now.
func (s *seat) liveLocked(now time.Time, lag time.Duration) LiveSeat {
	out := LiveSeat{SeatID: s.row.ID, FundedSeconds: s.fundedSecs}
	if s.closed {
		if s.decision != nil { // the close decision: what settlement takes
			out.BilledSeconds = s.decision.billable
			out.BilledCost = money.Money{Amount: s.decision.price, Currency: s.row.Currency}
		}
		return out
	}
	out.Open = s.m.Phase() == meter.Open
	out.Billing = s.m.Live()
	if ps, paused := s.m.PausedSince(); paused {
		out.PausedSince = ps
		out.PauseReason = PausedViewerConnection
		if model, _ := s.m.Present(); !model {
			out.PauseReason = PausedModelMedia
		}
		out.EndsAt, out.EndReason = ps.Add(s.maxPause), ClosedPauseExceeded
	} else if out.Billing && s.failures > 0 {
		if at, ok := s.m.WhenBillableReaches(secs(s.fundedSecs)); ok {
			out.EndsAt, out.EndReason = at, ClosedFundingExhausted
		}
	}
	// Final time only: a loss is dated at most lag back, so nothing before
	// now-lag can be taken back. The high-water mark keeps the figure
	// monotone; the cap by what is billable at now and funded keeps it at
	// most what will be billed, should a loss ever be dated further back.
	settled := min(s.m.BillableSecondsBefore(now.Add(-lag)), s.fundedSecs)
	shown := min(max(s.shownSecs, settled), s.m.BillableSeconds(now), s.fundedSecs)
	s.shownSecs = max(s.shownSecs, shown)
	out.BilledSeconds = shown
	out.BilledCost = money.Money{Amount: priceOf(s.e, s.row, shown, s.funded.Amount), Currency: s.row.Currency}
	return out
}
