package billing

import (
	"context"
	"time"

	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/sdk/errs"
)

// Recover runs once when the host starts, before seats are opened: every
// seat left open by a crash is closed at its last checkpoint (whatever
// happened after it is unknown, and is not billed: the viewer's favour, and
// never beyond what was funded), and every closed but unsettled seat is
// settled exactly once, finishing half-done processor calls by repeating
// them under their own idempotency keys. Running it again changes nothing.
// Seats whose settlement cannot finish yet (a processor is down) are retried
// in the background.
func (e *Engine) Recover(ctx context.Context) (RecoveryReport, error) {
	var rep RecoveryReport
	ids, err := e.db.unsettledSeatIDs(ctx)
	if err != nil {
		return rep, err
	}
	for _, id := range ids {
		e.mu.RLock()
		live := e.seats[id] != nil
		e.mu.RUnlock()
		if live {
			continue
		}
		closed, err := e.closeRecovered(ctx, id)
		if err != nil {
			return rep, err
		}
		if closed {
			rep.Closed++
		}
		if _, err := e.settleSeat(ctx, id, nil); err != nil {
			if retryable(err) {
				rep.Retry++
				e.retryRecovered(id, 1)
				continue
			}
			rep.Failed++
			e.log.Error("billing: recovered seat needs an operator", "seat", id, "err", err)
			continue
		}
		rep.Settled++
	}
	return rep, nil
}

// closeRecovered closes an opening or open seat at its last checkpoint.
func (e *Engine) closeRecovered(ctx context.Context, id string) (bool, error) {
	sr, err := e.db.seat(ctx, e.db.sql, id)
	if err != nil {
		return false, err
	}
	if sr.State != stateOpening && sr.State != stateOpen {
		return false, nil
	}
	snap, seq, ok, err := e.db.loadCheckpoint(ctx, e.db.sql, id)
	if err != nil {
		return false, err
	}
	m := meter.New()
	if ok {
		if m, err = meter.Restore(snap); err != nil {
			return false, errs.E(errs.Internal, "billing: seat %s: %v", id, err)
		}
	}
	closedAt := sr.OpenedAt
	var billable int64
	if m.Phase() == meter.Open {
		closedAt = time.UnixMilli(snap.CheckpointAt).UTC()
		// Never beyond funding, even if the guard had not fired yet.
		if t, ok := m.WhenBillableReaches(secs(sr.FundedSeconds)); ok && t.Before(closedAt) {
			closedAt = t
		}
		if err := m.SeatClosed(closedAt); err != nil {
			return false, errs.E(errs.Internal, "billing: seat %s: closing its meter: %v", id, err)
		}
		billable = min(m.BillableSeconds(closedAt), sr.FundedSeconds)
	}
	price := priceOf(e, sr, billable, sr.FundedAmount)
	s := &seat{row: sr, m: m, seq: seq}
	ck := s.takeCheckpointLocked(closedAt)
	return e.db.closeSeat(ctx, id, closeDecision{at: closedAt, reason: ClosedRecovered, billable: billable, price: price,
		fundedAmount: sr.FundedAmount, fundedSeconds: sr.FundedSeconds, ck: ck})
}

func (e *Engine) retryRecovered(id string, tries int) {
	if e.isStopped() {
		return
	}
	e.clock.AfterFunc(e.backoff(tries), func() {
		if e.isStopped() {
			return
		}
		if _, err := e.settleSeat(context.Background(), id, nil); err != nil && retryable(err) {
			e.retryRecovered(id, tries+1)
		}
	})
}
