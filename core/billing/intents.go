package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
)

// Intent ops.
const (
	opAuthorize = "authorize"
	opVoid      = "void"
	opCharge    = "charge"
	opCapture   = "capture"
	opRefund    = "refund"
	opLedger    = "ledger"
)

// Purposes of a ledger intent.
const (
	purposeHold   = "hold"   // secure a block on the wallet (wallet, prepaid_blocks)
	purposeCredit = "credit" // a prepaid charge into the wallet, alone (its hold never ran)
	purposeSettle = "settle" // the final post or gross, fees and split
	purposeRefund = "refund" // unused prepaid money back to the card
	purposeLate   = "late"   // a prepaid charge that landed after the seat ended, back to the card
)

// intentRequest is everything needed to repeat an intent exactly: the
// request as first sent, and what its success means for the seat's funding.
type intentRequest struct {
	Authorize *processor.AuthorizeRequest `json:"authorize,omitempty"`
	Void      *processor.VoidRequest      `json:"void,omitempty"`
	Charge    *processor.ChargeRequest    `json:"charge,omitempty"`
	Capture   *processor.CaptureRequest   `json:"capture,omitempty"`
	Refund    *processor.RefundRequest    `json:"refund,omitempty"`
	Ledger    []ledger.Request            `json:"ledger,omitempty"`

	Purpose string `json:"purpose,omitempty"`
	// Ceiling is the cumulative funded amount once this step succeeds.
	Ceiling int64 `json:"ceiling,omitempty"`
	// Release is the funding step whose hold this ledger batch voids.
	Release int `json:"release,omitempty"`
	// Allocation is the split of a settle batch, kept for the receipt.
	Allocation []split.Share `json:"allocation,omitempty"`
}

// Idempotency keys, derived from the seat and the step: the one scheme for
// processor calls and ledger transfers alike.
func keyAuth(id string, n int) string    { return fmt.Sprintf("seat/%s/auth/%d", id, n) }
func keyVoid(id string, n int) string    { return fmt.Sprintf("seat/%s/void/%d", id, n) }
func keyCharge(id string, n int) string  { return fmt.Sprintf("seat/%s/charge/%d", id, n) }
func keyCapture(id string) string        { return "seat/" + id + "/capture" }
func keyRefund(id string, n int) string  { return fmt.Sprintf("seat/%s/refund/%d", id, n) }
func keyHold(id string, n int) string    { return fmt.Sprintf("seat/%s/hold/%d", id, n) }
func keyRelease(id string, n int) string { return fmt.Sprintf("seat/%s/release/%d", id, n) }
func keyCredit(id string, n int) string  { return fmt.Sprintf("seat/%s/credit/%d", id, n) }

// Ledger intents are named apart from the transfers they carry.
func keyLedger(id, name string) string { return "seat/" + id + "/ledger/" + name }

// Ledger account codes of the chart (DESIGN.md, "Ledger").
func walletAccount(viewer string) string { return "viewer:" + viewer + ":wallet" }
func clearingAccount(p string) string    { return "processor:" + p + ":clearing" }
func feesAccount(p string) string        { return "processor:" + p + ":fees" }

const revenueAccount = "platform:revenue"

// outcomeErr is the error a finished intent stands for (nil on success).
func outcomeErr(it *intentRow) error {
	switch it.State {
	case intentSucceeded, intentPending:
		return nil
	}
	return &errs.Error{Code: it.ErrCode, Message: it.Err}
}

// retryable reports whether the outcome of a failed call is unknown, so the
// same key must be tried again (never a new one: that could move money twice).
func retryable(err error) bool {
	if errs.IsRetryable(err) {
		return true
	}
	var e *errs.Error
	if !errors.As(err, &e) {
		// A bare error (a broken connection, a context deadline) says
		// nothing about what happened on the other side.
		return true
	}
	return e.Code == errs.Unavailable || e.Code == errs.Timeout
}

// do runs one intent exactly once. The intent is written (with build's
// request, unless the key exists: then the stored request is repeated) before
// the call and its outcome after, together with what success means for the
// seat's funding. A retryable failure leaves it pending: the next attempt,
// live or in recovery, repeats the same request under the same key. A stored
// outcome is returned without calling anything.
func (e *Engine) do(ctx context.Context, v *seatView, key, op string, step int, build func() (intentRequest, error)) (*intentRow, error) {
	return e.doWith(ctx, v, key, op, step, build, finishOpts{})
}

// finishOpts fold the writes around an intent's outcome into fewer commits.
type finishOpts struct {
	// then is the intent that follows a success; it is written in the same
	// commit as the outcome, so it exists exactly when the success does.
	then *newIntent
	// deferred: a success's statements are not written now but appended to
	// v.deferred, for the caller to commit with what it writes next (the
	// receipt). Until then the intent stays pending in the database, which
	// is safe only for a repeatable call (a ledger batch under its keys): a
	// crash in between repeats it, and the repeat answers the first result.
	deferred bool
}

// newIntent is an intent ready to be written, its request as stored.
type newIntent struct {
	row *intentRow
	req string
}

// prepareIntent builds a pending intent for key and encodes its request; a
// key already in the view gives nil.
func (e *Engine) prepareIntent(v *seatView, key, op string, step int, build func() (intentRequest, error)) (*newIntent, error) {
	if v.byKey[key] != nil {
		return nil, nil
	}
	req, err := build()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, errs.E(errs.Internal, "billing: encoding intent %s: %v", key, err)
	}
	var stored intentRequest
	if err := json.Unmarshal(b, &stored); err != nil {
		return nil, errs.E(errs.Internal, "billing: intent %s: stored request: %v", key, err)
	}
	return &newIntent{row: &intentRow{Key: key, SeatID: v.sr.ID, Op: op, Step: step, Request: stored, State: intentPending,
		CreatedAt: ts(e.clock.Now())}, req: string(b)}, nil
}

func (n *newIntent) insertStmt() stmt {
	it := n.row
	return stmt{query: `INSERT INTO billing_intents (` + intentCols + `)
VALUES (?,?,?,?,?,'pending','','','',?) ON CONFLICT (key) DO NOTHING`, args: []any{it.Key, it.SeatID, it.Op, it.Step, n.req, it.CreatedAt}}
}

func (e *Engine) doWith(ctx context.Context, v *seatView, key, op string, step int, build func() (intentRequest, error), o finishOpts) (*intentRow, error) {
	it := v.byKey[key]
	if it == nil {
		req, berr := build()
		if berr != nil {
			return nil, berr
		}
		var err error
		it, err = e.db.createIntent(ctx, &intentRow{Key: key, SeatID: v.sr.ID, Op: op, Step: step, Request: req, CreatedAt: e.clock.Now()})
		if err != nil {
			return nil, err
		}
		v.add(it)
	}
	if it.State != intentPending {
		return it, outcomeErr(it)
	}
	return e.finishWith(ctx, v, it, o)
}

// finish makes the call of a pending intent and records its outcome: the
// intent's row and what success changes in the seat's funding go in one
// pipeline, atomically.
func (e *Engine) finish(ctx context.Context, v *seatView, it *intentRow) (*intentRow, error) {
	return e.finishWith(ctx, v, it, finishOpts{})
}

func (e *Engine) finishWith(ctx context.Context, v *seatView, it *intentRow, o finishOpts) (*intentRow, error) {
	sr := v.sr
	result, asked, moved, err := e.call(ctx, sr, it)
	e.hit("intent:" + it.Op)
	now := e.clock.Now()
	if err != nil {
		if retryable(err) {
			return it, err
		}
		state := intentRejected
		if errs.IsDecline(err) || (it.Op == opLedger && errs.CodeOf(err) == errs.Limit) {
			state = intentDeclined
		}
		if ferr := e.db.finishIntent(ctx, e.db.sql, it.Key, state, nil, errs.CodeOf(err), err.Error(), now); ferr != nil {
			return it, ferr
		}
		it.State, it.ErrCode, it.Err = state, errs.CodeOf(err), err.Error()
		return it, err
	}
	res, merr := json.Marshal(result)
	if merr != nil {
		return it, errs.E(errs.Internal, "billing: encoding outcome of %s: %v", it.Key, merr)
	}
	if asked != nil {
		if merr := processor.CheckMoved(*asked, moved); merr != nil {
			// The books would no longer match the processor's: nothing is
			// recorded as moved, and the seat is stopped for an operator.
			merr = errs.E(errs.Internal, "%s %s: %v", it.Op, it.Key, merr)
			if ferr := e.db.finishIntent(ctx, e.db.sql, it.Key, intentRejected, result, errs.Internal, merr.Error(), now); ferr != nil {
				return it, ferr
			}
			it.State, it.ErrCode, it.Err = intentRejected, errs.Internal, merr.Error()
			it.Result = res
			return it, merr
		}
	}
	stmts, apply, err := e.applySuccess(sr, it, result, now)
	if err != nil {
		return it, err
	}
	stmts = append([]stmt{finishIntentStmt(it.Key, intentSucceeded, string(res), "", "", now)}, stmts...)
	if o.then != nil {
		stmts = append(stmts, o.then.insertStmt())
	}
	if o.deferred {
		v.deferred = append(v.deferred, stmts...)
	} else if err := e.db.pipeline(ctx, stmts...); err != nil {
		return it, err
	}
	apply(v)
	if o.then != nil {
		v.add(o.then.row)
	}
	it.State = intentSucceeded
	it.Result = res
	return it, nil
}

// call makes the intent's request. asked is what the processor must report
// as moved (nil where nothing moves).
func (e *Engine) call(ctx context.Context, sr *seatRow, it *intentRow) (result any, asked *money.Money, moved money.Money, err error) {
	r := it.Request
	if it.Op == opLedger {
		if e.ledger == nil {
			return nil, nil, moved, errs.E(errs.Internal, "billing: no ledger configured")
		}
		out, err := e.ledger.Batch(ctx, r.Ledger)
		return out, nil, moved, err
	}
	p, ok := e.processors[sr.Processor]
	if !ok {
		return nil, nil, moved, errs.Retry(errs.Unavailable, "billing: processor %q is not loaded", sr.Processor)
	}
	cctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout)
	defer cancel()
	switch {
	case it.Op == opAuthorize && r.Authorize != nil:
		a, err := p.Authorize(cctx, *r.Authorize)
		return a, &r.Authorize.Amount, a.Amount, err
	case it.Op == opVoid && r.Void != nil:
		v, err := p.Void(cctx, *r.Void)
		return v, nil, moved, err
	case it.Op == opCharge && r.Charge != nil:
		c, err := p.Charge(cctx, *r.Charge)
		return c, &r.Charge.Amount, c.Amount, err
	case it.Op == opCapture && r.Capture != nil:
		c, err := p.Capture(cctx, *r.Capture)
		return c, &r.Capture.Amount, c.Amount, err
	case it.Op == opRefund && r.Refund != nil:
		f, err := p.Refund(cctx, *r.Refund)
		return f, &r.Refund.Amount, f.Amount, err
	}
	return nil, nil, moved, errs.E(errs.Internal, "billing: intent %s: op %q without its request", it.Key, it.Op)
}

// applySuccess says what a successful intent changes in the seat's funding:
// the statements that go with marking it succeeded, and the same change for
// the view once they are committed.
func (e *Engine) applySuccess(sr *seatRow, it *intentRow, result any, now time.Time) ([]stmt, func(*seatView), error) {
	r := it.Request
	none := func(*seatView) {}
	switch it.Op {
	case opAuthorize:
		a := result.(processor.Authorization)
		f := fundingRow{N: it.Step, Kind: stepCardHold, Amount: a.Amount.Amount, Ceiling: a.Amount.Amount, Reference: a.Reference, Status: statusOpen}
		raise, raised, err := e.raiseFunded(sr, a.Amount.Amount)
		if err != nil {
			return nil, nil, err
		}
		return []stmt{insertFundingStmt(sr.ID, f, now), raise}, func(v *seatView) { v.addFunding(f); raised(v) }, nil
	case opVoid:
		return []stmt{setFundingStatusStmt(sr.ID, it.Step, statusReleased)}, func(v *seatView) { v.setFundingStatus(it.Step, statusReleased) }, nil
	case opCapture:
		return []stmt{setFundingStatusStmt(sr.ID, it.Step, statusCaptured)}, func(v *seatView) { v.setFundingStatus(it.Step, statusCaptured) }, nil
	case opRefund:
		if r.Purpose == purposeLate { // the whole charge went back: nothing of it funds the seat
			return []stmt{setFundingStatusStmt(sr.ID, it.Step, statusReleased)}, func(v *seatView) { v.setFundingStatus(it.Step, statusReleased) }, nil
		}
	case opCharge:
		c := result.(processor.ChargeResult)
		f := fundingRow{N: it.Step, Kind: stepCharge, Amount: c.Amount.Amount, Ceiling: r.Ceiling, Reference: c.Reference, Status: statusCharged}
		return []stmt{insertFundingStmt(sr.ID, f, now)}, func(v *seatView) { v.addFunding(f) }, nil
	case opLedger:
		switch r.Purpose {
		case purposeHold:
			var stmts []stmt
			var applies []func(*seatView)
			if sr.Strategy == Wallet {
				f := fundingRow{N: it.Step, Kind: stepWalletHold, Amount: r.Ceiling, Ceiling: r.Ceiling, Reference: keyHold(sr.ID, it.Step), Status: statusOpen}
				stmts = append(stmts, insertFundingStmt(sr.ID, f, now))
				applies = append(applies, func(v *seatView) { v.addFunding(f) })
				if r.Release > 0 {
					stmts = append(stmts, setFundingStatusStmt(sr.ID, r.Release, statusReleased))
					applies = append(applies, func(v *seatView) { v.setFundingStatus(r.Release, statusReleased) })
				}
			}
			raise, raised, err := e.raiseFunded(sr, r.Ceiling)
			if err != nil {
				return nil, nil, err
			}
			return append(stmts, raise), func(v *seatView) {
				for _, a := range applies {
					a(v)
				}
				raised(v)
			}, nil
		case purposeSettle:
			if sr.Strategy == Wallet && it.Step > 0 {
				st := statusReleased
				if sr.PriceAmount.Int64 > 0 {
					st = statusPosted
				}
				return []stmt{setFundingStatusStmt(sr.ID, it.Step, st)}, func(v *seatView) { v.setFundingStatus(it.Step, st) }, nil
			}
		}
	}
	return nil, none, nil
}

// raiseFunded records a new cumulative ceiling and the time it funds.
func (e *Engine) raiseFunded(sr *seatRow, ceiling int64) (stmt, func(*seatView), error) {
	secs, err := pricing.FundedSeconds(sr.Policy, money.Money{Amount: ceiling, Currency: sr.Currency})
	if err != nil {
		return stmt{}, nil, err
	}
	return setFundedStmt(sr.ID, ceiling, secs), func(v *seatView) {
		if v.sr.open() && ceiling > v.sr.FundedAmount {
			v.sr.FundedAmount, v.sr.FundedSeconds = ceiling, secs
		}
	}, nil
}
