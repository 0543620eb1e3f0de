package billing

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/camkit/camkit/core/ledger"
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
}

// fundStep secures step n: the cumulative ceiling grows by one block.
// The caller holds s.fundMu.
func (e *Engine) fundStep(ctx context.Context, s *seat, n int) fundResult {
	s.mu.Lock()
	prev, prevStep, prevRef := s.funded, s.holdStep, s.holdRef
	s.mu.Unlock()
	r := fundResult{step: n}
	var err error
	if r.ceiling, err = prev.Add(s.block); err != nil {
		r.err, r.rejected = errs.E(errs.Invalid, "billing: seat %s: funding ceiling: %v", s.row.ID, err), true
		return r
	}
	v := fundView(s.row)
	switch s.row.Strategy {
	case CardHold:
		r.holdRef, err = e.fundCard(ctx, v, n, r.ceiling, prevStep, prevRef)
	case PrepaidBlocks:
		err = e.fundPrepaid(ctx, v, n, s.block, r.ceiling, prevStep)
	case Wallet:
		err = e.fundWallet(ctx, v, n, r.ceiling, prevStep)
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
		return r
	}
	r.secs, r.err = FundedSeconds(s.row.Policy, r.ceiling)
	if r.err != nil {
		r.rejected = true
	}
	return r
}

func describe(r *seatRow) string { return fmt.Sprintf("%s show %s seat %s", r.Kind, r.ShowID, r.ID) }

// fundCard authorises the new cumulative ceiling, then voids the previous
// authorisation, so one hold is open. A void that fails is left to
// settlement, which voids every hold it does not capture.
func (e *Engine) fundCard(ctx context.Context, v *seatView, n int, ceiling money.Money, prevStep int, prevRef string) (string, error) {
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
		return "", err
	}
	var a processor.Authorization
	if err := json.Unmarshal(it.Result, &a); err != nil {
		return "", errs.E(errs.Internal, "billing: %s: stored authorisation: %v", key, err)
	}
	e.hit("fund:authorized")
	if prevStep > 0 && prevRef != "" {
		if _, err := e.voidHold(ctx, v, prevStep, prevRef); err != nil {
			e.log.Warn("billing: voiding the previous hold; settlement will retry", "seat", r.ID, "step", prevStep, "err", err)
		}
	}
	return a.Reference, nil
}

func (e *Engine) voidHold(ctx context.Context, v *seatView, n int, ref string) (*intentRow, error) {
	key := keyVoid(v.sr.ID, n)
	return e.do(ctx, v, key, opVoid, n, func() (intentRequest, error) {
		return intentRequest{Void: &processor.VoidRequest{IdempotencyKey: key, AuthorizationReference: ref}}, nil
	})
}

// fundPrepaid charges one block into the viewer's wallet and, in one linked
// ledger batch, credits it there and replaces the wallet hold with one for
// the new ceiling.
func (e *Engine) fundPrepaid(ctx context.Context, v *seatView, n int, block, ceiling money.Money, prevStep int) error {
	r := v.sr
	key := keyCharge(r.ID, n)
	if _, err := e.do(ctx, v, key, opCharge, n, func() (intentRequest, error) {
		return intentRequest{Ceiling: ceiling.Amount, Charge: &processor.ChargeRequest{IdempotencyKey: key,
			Credential: *r.Credential, Amount: block, Description: describe(r)}}, nil
	}); err != nil {
		return err
	}
	e.hit("fund:charged")
	credit := ledger.Request{Key: keyCredit(r.ID, n), Kind: ledger.Single, Debit: clearingAccount(r.Processor),
		Credit: walletAccount(r.ViewerID), Amount: block, Memo: "prepaid block " + describe(r)}
	return e.holdOnWallet(ctx, v, n, ceiling, prevStep, &credit)
}

// fundWallet replaces the wallet hold with one for the new ceiling.
func (e *Engine) fundWallet(ctx context.Context, v *seatView, n int, ceiling money.Money, prevStep int) error {
	return e.holdOnWallet(ctx, v, n, ceiling, prevStep, nil)
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
