package billing

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
)

// settle settles a closed live seat: it persists the close decision (once),
// then runs settleSeat, and returns the receipt (nil when another call
// settled the seat). A retryable failure is retried with backoff on the
// engine's clock; a final one leaves the seat failed for an operator.
func (e *Engine) settle(ctx context.Context, s *seat) (*Receipt, error) {
	s.fundMu.Lock()
	defer s.fundMu.Unlock()
	s.mu.Lock()
	d, settled, failed := s.decision, s.settled, s.failed
	s.mu.Unlock()
	if d == nil {
		return nil, nil
	}
	defer s.triedOnce.Do(func() { close(s.tried) })
	if failed != nil {
		return nil, failed
	}
	if settled {
		return nil, nil
	}
	var v *seatView
	if !d.persisted {
		var err error
		// The decision and the read of everything settling needs: one round trip.
		if v, err = e.db.closeAndLoad(ctx, s.row.ID, d.closeDecision); err != nil {
			e.retrySettle(s, err)
			return nil, err
		}
		s.mu.Lock()
		d.persisted = true
		s.mu.Unlock()
		e.hit("close:decided")
	}
	rec, err := e.settleSeat(ctx, s.row.ID, v)
	if err != nil {
		if retryable(err) {
			e.retrySettle(s, err)
			return nil, err
		}
		// Final: the seat waits for an operator, and says so to anyone who
		// asks (settleSeat marks the failures of money-moving steps itself).
		if ferr := e.db.setSeatState(ctx, e.db.sql, s.row.ID, stateFailed, err.Error()); ferr != nil {
			e.log.Error("billing: marking seat failed", "seat", s.row.ID, "err", ferr)
		}
		s.mu.Lock()
		s.failed = err
		s.mu.Unlock()
		e.forget(s)
		return nil, err
	}
	s.mu.Lock()
	s.settled = true
	s.settleAt = time.Time{}
	s.mu.Unlock()
	e.forget(s)
	e.emit(Event{Type: EventSeatSettled, SeatID: rec.SeatID, ShowID: rec.ShowID, ViewerID: rec.ViewerID,
		At: rec.SettledAt, Funded: rec.Funded, BillableSeconds: rec.BillableSeconds, Reason: rec.CloseReason})
	return rec, nil
}

// recordClose writes a closed seat's decision now, ahead of settlement
// (which then finds it written). A failure is left to settlement, which
// writes it first thing.
func (e *Engine) recordClose(ctx context.Context, s *seat) {
	s.mu.Lock()
	d := s.decision
	s.mu.Unlock()
	if d == nil || d.persisted {
		return
	}
	if _, err := e.db.closeSeat(ctx, s.row.ID, d.closeDecision); err != nil {
		e.log.Warn("billing: recording a seat's close", "seat", s.row.ID, "err", err)
		return
	}
	s.mu.Lock()
	d.persisted = true
	s.mu.Unlock()
}

func (e *Engine) forget(s *seat) {
	e.mu.Lock()
	if e.seats[s.row.ID] == s {
		delete(e.seats, s.row.ID)
	}
	e.mu.Unlock()
}

func (e *Engine) retrySettle(s *seat, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleTries++
	d := e.backoff(s.settleTries)
	e.log.Warn("billing: settlement will be retried", "seat", s.row.ID, "in", d, "err", err)
	if s.settleTimer != nil {
		s.settleTimer.Stop()
	}
	if e.isStopped() {
		return
	}
	s.settleAt = e.clock.Now().Add(d)
	s.settleTimer = e.clock.AfterFunc(d, func() {
		if !e.isStopped() {
			_, _ = e.settle(context.Background(), s)
		}
	})
}

// settleSeat turns a closed seat into money moved, exactly once, from what
// the database says (so recovery runs the very same code): it finishes
// half-done intents, captures or posts the decided price, releases the rest,
// books the gross, fees and split, refunds unused prepaid money when
// configured, and stores the receipt. Every step is an intent with a key
// derived from the seat, so running it again repeats nothing. v is the
// seat's view when the caller has just read it (nil: it is read here, in one
// round trip); every step below reads it instead of the database.
func (e *Engine) settleSeat(ctx context.Context, id string, v *seatView) (*Receipt, error) {
	if v == nil {
		var err error
		if v, err = e.db.loadView(ctx, id); err != nil {
			return nil, err
		}
	}
	sr := v.sr
	switch sr.State {
	case stateSettled:
		return e.db.receipt(ctx, id)
	case stateClosed:
	default:
		return nil, errs.E(errs.Conflict, "billing: seat %s is %s, not closed", id, sr.State)
	}
	fail := func(err error) (*Receipt, error) {
		if !retryable(err) {
			if ferr := e.db.setSeatState(ctx, e.db.sql, id, stateFailed, err.Error()); ferr != nil {
				return nil, ferr
			}
		}
		return nil, err
	}
	for _, it := range v.sortedIntents() {
		if it.State != intentPending {
			continue
		}
		if _, err := e.finish(ctx, v, it); err != nil && retryable(err) {
			return nil, err
		}
	}
	price := money.Money{Amount: sr.PriceAmount.Int64, Currency: sr.Currency}
	var err error
	switch sr.Strategy {
	case CardHold:
		err = e.settleCard(ctx, v, price)
	default:
		err = e.settleWalletHold(ctx, v, price)
	}
	if err != nil {
		return fail(err)
	}
	for _, f := range v.lateCharges() {
		if err := e.undoLateCharge(ctx, v, f); err != nil {
			return fail(err)
		}
	}
	if sr.RefundUnused {
		if err := e.refundUnused(ctx, v, price); err != nil {
			return fail(err)
		}
	}
	e.hit("settle:refunded")
	rec, err := e.buildReceipt(v)
	if err != nil {
		return nil, err
	}
	if rec, err = e.db.storeReceipt(ctx, rec, v.deferred...); err != nil {
		return nil, err
	}
	e.hit("settle:receipt")
	return rec, nil
}

// settleCard captures the price on the open authorisation that funded the
// seat when it ended (which releases its remainder) and voids every other
// one, late ones included; then books the gross.
func (e *Engine) settleCard(ctx context.Context, v *seatView, price money.Money) error {
	sr := v.sr
	captured := -1
	// best is the largest open authorisation within the funding at the end;
	// largest, of all open ones, is taken only when none of those covers the
	// price (money owed is collected rather than left to an operator).
	var best, largest *fundingRow
	better := func(f fundingRow, than *fundingRow) bool {
		return than == nil || f.Ceiling > than.Ceiling || f.Ceiling == than.Ceiling && f.N > than.N
	}
	for i := range v.funding {
		f := v.funding[i]
		switch {
		case f.Kind != stepCardHold:
		case f.Status == statusCaptured:
			captured = f.N
		case f.Status == statusOpen:
			if better(f, largest) {
				largest = &f
			}
			if f.Ceiling <= sr.FundedAmount && better(f, best) {
				best = &f
			}
		}
	}
	if best == nil || best.Ceiling < price.Amount {
		best = largest
	}
	if price.Amount > 0 && captured < 0 {
		if best == nil || best.Ceiling < price.Amount {
			return errs.E(errs.Internal, "billing: seat %s: no open authorisation covers the price %s", sr.ID, price)
		}
		key := keyCapture(sr.ID)
		// The settle batch's intent is written in the commit that records
		// the capture. Should it not build now, settleLedger builds it after
		// the capture, as it would anyway.
		next, _ := e.prepareIntent(v, keyLedger(sr.ID, "settle"), opLedger, 0, e.settleBuild(ctx, v, price, grossHead(sr, price), true))
		it, err := e.doWith(ctx, v, key, opCapture, best.N, func() (intentRequest, error) {
			return intentRequest{Capture: &processor.CaptureRequest{IdempotencyKey: key, AuthorizationReference: best.Reference, Amount: price}}, nil
		}, finishOpts{then: next})
		if err != nil {
			// A refused capture collected nothing: still release the holds.
			// One whose outcome is unknown is repeated first: voiding now
			// could release the very hold it captures on.
			if !retryable(err) {
				e.releaseCardHolds(ctx, v, -1)
			}
			return err
		}
		captured = it.Step
	}
	e.hit("settle:captured")
	if err := e.releaseCardHolds(ctx, v, captured); err != nil {
		return err
	}
	e.hit("settle:released")
	if price.Amount == 0 {
		return nil
	}
	return e.settleLedger(ctx, v, price, 0, grossHead(sr, price), true)
}

// grossHead is a card seat's settle batch head: the captured price from
// the processor's clearing account into platform revenue.
func grossHead(sr *seatRow, price money.Money) func() ([]ledger.Request, error) {
	return func() ([]ledger.Request, error) {
		return []ledger.Request{{Key: "seat/" + sr.ID + "/gross", Kind: ledger.Single, Debit: clearingAccount(sr.Processor),
			Credit: revenueAccount, Amount: price, Memo: describe(sr)}}, nil
	}
}

// releaseCardHolds voids every open authorisation but the captured one.
func (e *Engine) releaseCardHolds(ctx context.Context, v *seatView, keep int) error {
	sr := v.sr
	for _, f := range append([]fundingRow(nil), v.funding...) {
		if f.Kind != stepCardHold || f.Status != statusOpen || f.N == keep {
			continue
		}
		if _, err := e.voidHold(ctx, v, f.N, f.Reference); err != nil {
			if retryable(err) {
				return err
			}
			// Already captured or voided at the processor, or expired:
			// nothing is held any more. The refusal is on the receipt.
			e.log.Warn("billing: void refused", "seat", sr.ID, "step", f.N, "err", err)
		}
	}
	return nil
}

// settleWalletHold posts the price from the seat's wallet hold (releasing
// the rest) or voids it, together with the split, in one linked batch. For
// prepaid seats it first makes sure every block charged reached the wallet.
func (e *Engine) settleWalletHold(ctx context.Context, v *seatView, price money.Money) error {
	sr := v.sr
	held := map[int]bool{} // steps whose hold batch (with its credit) went through
	holdStep := 0
	for _, it := range v.intents {
		if it.Op == opLedger && it.Request.Purpose == purposeHold && it.State == intentSucceeded {
			held[it.Step] = true
			holdStep = max(holdStep, it.Step)
		}
	}
	if sr.Strategy == PrepaidBlocks {
		for _, f := range append([]fundingRow(nil), v.funding...) {
			if f.Kind != stepCharge || held[f.N] {
				continue
			}
			if err := e.creditCharge(ctx, v, f); err != nil {
				return err
			}
		}
	}
	if holdStep == 0 {
		if price.Amount > 0 {
			return errs.E(errs.Internal, "billing: seat %s: no wallet hold covers the price %s", sr.ID, price)
		}
		return nil
	}
	return e.settleLedger(ctx, v, price, holdStep, func() ([]ledger.Request, error) {
		if price.Amount == 0 {
			return []ledger.Request{{Key: "seat/" + sr.ID + "/unhold", Kind: ledger.Void, PendingKey: keyHold(sr.ID, holdStep)}}, nil
		}
		return []ledger.Request{{Key: "seat/" + sr.ID + "/post", Kind: ledger.Post, PendingKey: keyHold(sr.ID, holdStep), Amount: price}}, nil
	}, false)
}

// settleLedger runs the seat's one settle batch: first the transfers that
// bring the price into platform:revenue (head), then the processor fee and
// the split plugin's allocation out of it. The allocation is asked for once
// and stored with the intent, so a retry posts exactly what was decided.
func (e *Engine) settleLedger(ctx context.Context, v *seatView, price money.Money, step int, head func() ([]ledger.Request, error), gross bool) error {
	// When nothing follows the batch but the receipt, its outcome is
	// written with the receipt: one commit fewer.
	_, err := e.doWith(ctx, v, keyLedger(v.sr.ID, "settle"), opLedger, step, e.settleBuild(ctx, v, price, head, gross),
		finishOpts{deferred: !v.sr.RefundUnused})
	if err != nil {
		return err
	}
	e.hit("settle:ledger")
	return nil
}

// settleBuild builds the settle batch's intent: head, then the fee and the
// split plugin's allocation.
func (e *Engine) settleBuild(ctx context.Context, v *seatView, price money.Money, head func() ([]ledger.Request, error), gross bool) func() (intentRequest, error) {
	sr := v.sr
	return func() (intentRequest, error) {
		reqs, err := head()
		if err != nil {
			return intentRequest{}, err
		}
		net := price
		if gross && e.cfg.Fees != nil && price.Amount > 0 {
			fee, err := e.cfg.Fees(sr.Processor, price)
			if err != nil {
				return intentRequest{}, err
			}
			if fee.Currency != price.Currency || fee.Amount < 0 || fee.Amount > price.Amount {
				return intentRequest{}, errs.E(errs.Invalid, "billing: fee %s for a gross of %s", fee, price)
			}
			if fee.Amount > 0 {
				reqs = append(reqs, ledger.Request{Key: "seat/" + sr.ID + "/fee", Kind: ledger.Single, Debit: feesAccount(sr.Processor),
					Credit: clearingAccount(sr.Processor), Amount: fee, Memo: describe(sr)})
				net.Amount -= fee.Amount
			}
		}
		var shares []split.Share
		if e.cfg.Splitter != nil && net.Amount > 0 {
			areq := split.AllocateRequest{Kind: sr.Kind, Amount: net, Reference: sr.ID,
				Parties: split.Parties{ModelID: sr.ModelID, StudioID: sr.StudioID, AffiliateID: sr.AffilID}}
			cctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout)
			alloc, err := e.cfg.Splitter.Allocate(cctx, areq)
			cancel()
			if err != nil {
				return intentRequest{}, err
			}
			if err := split.Check(areq, alloc); err != nil {
				return intentRequest{}, err
			}
			shares = alloc.Shares
			sort.SliceStable(shares, func(i, j int) bool { return roleOrder(shares[i].Role) < roleOrder(shares[j].Role) })
			for _, sh := range shares {
				if sh.Amount.Amount == 0 || sh.Role == split.RolePlatform {
					continue // the platform's share stays in platform:revenue
				}
				reqs = append(reqs, ledger.Request{Key: "seat/" + sr.ID + "/split/" + string(sh.Role), Kind: ledger.Single,
					Debit: revenueAccount, Credit: string(sh.Role) + ":" + sh.PartyID + ":earnings", Amount: sh.Amount, Memo: describe(sr)})
			}
		}
		return intentRequest{Purpose: purposeSettle, Ledger: reqs, Allocation: shares}, nil
	}
}

func roleOrder(r split.Role) int {
	for i, x := range split.Roles {
		if x == r {
			return i
		}
	}
	return len(split.Roles)
}

// refundUnused returns the unused part of a prepaid seat's charges to the
// card, newest charge first, each refund booked wallet -> clearing. A refund
// the processor refuses leaves the rest in the wallet as credit.
func (e *Engine) refundUnused(ctx context.Context, v *seatView, price money.Money) error {
	sr := v.sr
	var charges []fundingRow
	var total int64
	for _, f := range v.funding {
		if f.Kind == stepCharge && f.Ceiling <= sr.FundedAmount { // late charges are given back whole (undoLateCharge)
			charges = append(charges, f)
			total += f.Amount
		}
	}
	unused := total - price.Amount
	for i := len(charges) - 1; i >= 0 && unused > 0; i-- {
		c := charges[i]
		amount := money.Money{Amount: min(unused, c.Amount), Currency: sr.Currency}
		key := keyRefund(sr.ID, c.N)
		if _, err := e.do(ctx, v, key, opRefund, c.N, func() (intentRequest, error) {
			return intentRequest{Refund: &processor.RefundRequest{IdempotencyKey: key, Reference: c.Reference, Amount: amount,
				Reason: "unused prepaid time"}}, nil
		}); err != nil {
			if retryable(err) {
				return err
			}
			e.log.Warn("billing: refund refused; the rest stays in the wallet", "seat", sr.ID, "err", err)
			return nil
		}
		if _, err := e.do(ctx, v, keyLedger(sr.ID, fmt.Sprintf("refund/%d", c.N)), opLedger, c.N, func() (intentRequest, error) {
			return intentRequest{Purpose: purposeRefund, Ledger: []ledger.Request{{Key: keyRefund(sr.ID, c.N), Kind: ledger.Single,
				Debit: walletAccount(sr.ViewerID), Credit: clearingAccount(sr.Processor), Amount: amount, Memo: "refund " + describe(sr)}}}, nil
		}); err != nil {
			return err
		}
		unused -= amount.Amount
	}
	return nil
}
