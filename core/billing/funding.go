package billing

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// fundResult is the outcome of one funding step.
type fundResult struct {
	step    int
	ceiling money.Money
	secs    int64
	holdRef string
	err     error
	// On error: retry means the outcome is unknown (same key next time);
	// declined is a plain "no"; rejected is anything else final, including a
	// processor that moved other money than asked.
	retry, declined, rejected bool
	// late: the seat ended before the step landed; it funds nothing and was
	// undone (see seat.land).
	late bool
}

// fundStep secures step n: the cumulative ceiling grows by one block. The
// caller holds s.fundMu. A step that succeeds is the seat's funding from
// the instant it lands (seat.land), before anything it replaces is
// released; one that lands after the seat ended is undone at once, under
// the keys settlement and recovery would use, so exactly once.
func (e *Engine) fundStep(ctx context.Context, s *seat, n int) fundResult {
	s.mu.Lock()
	prev, prevStep, prevRef := s.funded, s.holdStep, s.holdRef
	s.mu.Unlock()
	r := fundResult{step: n}
	var err error
	if r.ceiling, err = prev.Add(s.block); err == nil {
		r.secs, err = pricing.FundedSeconds(s.row.Policy, r.ceiling)
	}
	if err != nil {
		r.err, r.rejected = errs.E(errs.Invalid, "billing: seat %s: funding ceiling: %v", s.row.ID, err), true
		return r
	}
	// Before a late step is undone, the close is recorded (as settlement
	// would, first thing): a crash in the middle of the undo then recovers
	// a closed seat funded as it was at the end, not an open one that this
	// step seems to fund.
	land := func(holdRef string) bool {
		r.holdRef = holdRef
		if s.land(r) {
			return true
		}
		e.recordClose(ctx, s)
		return false
	}
	closed := func() bool {
		if !s.isClosed() {
			return false
		}
		e.recordClose(ctx, s)
		return true
	}
	v := fundView(s.row)
	switch s.row.Strategy {
	case CardHold:
		r.late, err = e.fundCard(ctx, v, n, r.ceiling, prevStep, prevRef, land)
	case PrepaidBlocks:
		r.late, err = e.fundPrepaid(ctx, v, n, s.block, r.ceiling, prevStep, closed, land)
	case Wallet:
		r.late, err = e.fundWallet(ctx, v, n, r.ceiling, prevStep, closed, land)
	default:
		err = errs.E(errs.Internal, "billing: seat %s: unknown strategy %q", s.row.ID, s.row.Strategy)
	}
	if err != nil {
		r.err = err
		switch {
		case retryable(err):
			r.retry = true
		case errs.IsDecline(err) || errs.CodeOf(err) == errs.Limit:
			r.declined = true
		default:
			r.rejected = true
		}
	}
	return r
}

func describe(r *seatRow) string { return fmt.Sprintf("%s show %s seat %s", r.Kind, r.ShowID, r.ID) }

// fundCard authorises the new cumulative ceiling, then voids the previous
// authorisation, so one hold is open. A void that fails is left to
// settlement, which voids every hold it does not capture. An authorisation
// that lands after the seat ended is voided instead, and the previous one
// stays for the capture.
func (e *Engine) fundCard(ctx context.Context, v *seatView, n int, ceiling money.Money, prevStep int, prevRef string, land func(string) bool) (late bool, err error) {
	r := v.sr
	key := keyAuth(r.ID, n)
	it, err := e.do(ctx, v, key, opAuthorize, n, func() (intentRequest, error) {
		return intentRequest{Ceiling: ceiling.Amount, Authorize: &processor.AuthorizeRequest{IdempotencyKey: key,
			Credential: *r.Credential, Amount: ceiling, Description: describe(r)}}, nil
	})
	if err != nil {
		if it != nil && it.State == intentRejected && len(it.Result) > 0 {
			// It held something other than asked: release it.
			var a processor.Authorization
			if json.Unmarshal(it.Result, &a) == nil && a.Reference != "" {
				if _, verr := e.voidHold(ctx, v, n, a.Reference); verr != nil {
					e.log.Error("billing: voiding a mismatched authorisation", "seat", r.ID, "ref", a.Reference, "err", verr)
				}
			}
		}
		return false, err
	}
	var a processor.Authorization
	if err := json.Unmarshal(it.Result, &a); err != nil {
		return false, errs.E(errs.Internal, "billing: %s: stored authorisation: %v", key, err)
	}
	e.hit("fund:authorized")
	if !land(a.Reference) {
		if _, err := e.voidHold(ctx, v, n, a.Reference); err != nil {
			e.log.Warn("billing: voiding a hold that landed after its seat ended; settlement will retry", "seat", r.ID, "step", n, "err", err)
		}
		return true, nil
	}
	if prevStep > 0 && prevRef != "" {
		if _, err := e.voidHold(ctx, v, prevStep, prevRef); err != nil {
			e.log.Warn("billing: voiding the previous hold; settlement will retry", "seat", r.ID, "step", prevStep, "err", err)
		}
	}
	return false, nil
}

func (e *Engine) voidHold(ctx context.Context, v *seatView, n int, ref string) (*intentRow, error) {
	key := keyVoid(v.sr.ID, n)
	return e.do(ctx, v, key, opVoid, n, func() (intentRequest, error) {
		return intentRequest{Void: &processor.VoidRequest{IdempotencyKey: key, AuthorizationReference: ref}}, nil
	})
}

// fundPrepaid charges one block into the viewer's wallet and, in one linked
// ledger batch, credits it there and replaces the wallet hold with one for
// the new ceiling. A charge that lands after the seat ended is refunded at
// once instead (undoLateCharge).
func (e *Engine) fundPrepaid(ctx context.Context, v *seatView, n int, block, ceiling money.Money, prevStep int, closed func() bool, land func(string) bool) (late bool, err error) {
	r := v.sr
	key := keyCharge(r.ID, n)
	it, err := e.do(ctx, v, key, opCharge, n, func() (intentRequest, error) {
		return intentRequest{Ceiling: ceiling.Amount, Charge: &processor.ChargeRequest{IdempotencyKey: key,
			Credential: *r.Credential, Amount: block, Description: describe(r)}}, nil
	})
	if err != nil {
		return false, err
	}
	e.hit("fund:charged")
	if closed() {
		var c processor.ChargeResult
		if err := json.Unmarshal(it.Result, &c); err != nil {
			return true, errs.E(errs.Internal, "billing: %s: stored charge: %v", key, err)
		}
		if err := e.undoLateCharge(ctx, v, fundingRow{N: n, Kind: stepCharge, Amount: c.Amount.Amount, Reference: c.Reference}); err != nil {
			e.log.Warn("billing: refunding a charge that landed after its seat ended; settlement will retry", "seat", r.ID, "step", n, "err", err)
		}
		return true, nil
	}
	credit := ledger.Request{Key: keyCredit(r.ID, n), Kind: ledger.Single, Debit: clearingAccount(r.Processor),
		Credit: walletAccount(r.ViewerID), Amount: block, Memo: "prepaid block " + describe(r)}
	if err := e.holdOnWallet(ctx, v, n, ceiling, prevStep, &credit); err != nil {
		return false, err
	}
	// The seat may have ended while the batch committed: then settlement,
	// next, posts the price from this hold, releases the rest and refunds
	// the charge (its ceiling is above the funding at the end).
	return !land(""), nil
}

// fundWallet replaces the wallet hold with one for the new ceiling. After
// the seat ended nothing is held; should it end while the batch commits,
// settlement (next) posts the price from the new hold and releases the rest.
func (e *Engine) fundWallet(ctx context.Context, v *seatView, n int, ceiling money.Money, prevStep int, closed func() bool, land func(string) bool) (late bool, err error) {
	if closed() {
		return true, nil
	}
	if err := e.holdOnWallet(ctx, v, n, ceiling, prevStep, nil); err != nil {
		return false, err
	}
	return !land(""), nil
}

func (e *Engine) holdOnWallet(ctx context.Context, v *seatView, n int, ceiling money.Money, prevStep int, credit *ledger.Request) error {
	r := v.sr
	_, err := e.do(ctx, v, keyLedger(r.ID, fmt.Sprintf("hold/%d", n)), opLedger, n, func() (intentRequest, error) {
		var reqs []ledger.Request
		if credit != nil {
			reqs = append(reqs, *credit)
		}
		if prevStep > 0 {
			reqs = append(reqs, ledger.Request{Key: keyRelease(r.ID, prevStep), Kind: ledger.Void, PendingKey: keyHold(r.ID, prevStep)})
		}
		reqs = append(reqs, ledger.Request{Key: keyHold(r.ID, n), Kind: ledger.Pending, Debit: walletAccount(r.ViewerID),
			Credit: revenueAccount, Amount: ceiling, Memo: describe(r)})
		return intentRequest{Purpose: purposeHold, Ceiling: ceiling.Amount, Release: prevStep, Ledger: reqs}, nil
	})
	return err
}

// creditCharge books a prepaid block's charge into the viewer's wallet
// alone, for a charge whose hold batch (which carries the credit) never ran.
func (e *Engine) creditCharge(ctx context.Context, v *seatView, f fundingRow) error {
	sr := v.sr
	amount := money.Money{Amount: f.Amount, Currency: sr.Currency}
	_, err := e.do(ctx, v, keyLedger(sr.ID, fmt.Sprintf("credit/%d", f.N)), opLedger, f.N, func() (intentRequest, error) {
		return intentRequest{Purpose: purposeCredit, Ledger: []ledger.Request{{Key: keyCredit(sr.ID, f.N), Kind: ledger.Single,
			Debit: clearingAccount(sr.Processor), Credit: walletAccount(sr.ViewerID), Amount: amount, Memo: "prepaid block " + describe(sr)}}}, nil
	})
	return err
}

// undoLateCharge gives back a prepaid block charged after its seat ended:
// the charge is credited to the wallet (where every charge goes) and then
// refunded to the card in full, booked wallet -> clearing. A processor that
// cannot refund, or refuses, leaves it in the wallet as credit. Every step
// has its own key (seat/<id>/refund/<n> for the refund), so settlement and
// recovery running it again repeat nothing.
func (e *Engine) undoLateCharge(ctx context.Context, v *seatView, f fundingRow) error {
	sr := v.sr
	if err := e.creditCharge(ctx, v, f); err != nil {
		return err
	}
	p, ok := e.processors[sr.Processor]
	if !ok {
		return errs.Retry(errs.Unavailable, "billing: processor %q is not loaded", sr.Processor)
	}
	cctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout)
	caps, err := p.Capabilities(cctx)
	cancel()
	if err != nil {
		return err
	}
	if !caps.Refund {
		e.log.Warn("billing: a charge landed after its seat ended and the processor cannot refund; it stays in the wallet as credit",
			"seat", sr.ID, "step", f.N)
		return nil
	}
	amount := money.Money{Amount: f.Amount, Currency: sr.Currency}
	key := keyRefund(sr.ID, f.N)
	if _, err := e.do(ctx, v, key, opRefund, f.N, func() (intentRequest, error) {
		return intentRequest{Purpose: purposeLate, Refund: &processor.RefundRequest{IdempotencyKey: key, Reference: f.Reference,
			Amount: amount, Reason: "charged after the private show ended"}}, nil
	}); err != nil {
		if retryable(err) {
			return err
		}
		e.log.Warn("billing: refund of a late charge refused; it stays in the wallet as credit", "seat", sr.ID, "step", f.N, "err", err)
		return nil
	}
	_, err = e.do(ctx, v, keyLedger(sr.ID, fmt.Sprintf("refund/%d", f.N)), opLedger, f.N, func() (intentRequest, error) {
		return intentRequest{Purpose: purposeRefund, Ledger: []ledger.Request{{Key: keyRefund(sr.ID, f.N), Kind: ledger.Single,
			Debit: walletAccount(sr.ViewerID), Credit: clearingAccount(sr.Processor), Amount: amount, Memo: "refund " + describe(sr)}}}, nil
	})
	return err
}
