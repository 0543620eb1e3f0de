package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

// refundSettleWait is how long a refund whose outcome is unknown (a lost
// answer, a 5xx, DataLink's -7) waits for CCBill's Refund webhook. DataLink
// has no way to look a refund up and a second refund could return the money
// twice, so a refund is never sent again: after the wait the key gets a final
// error for the operator, who checks CCBill's admin (a Refund webhook that
// comes later still reaches the host as an event).
const refundSettleWait = 30 * time.Minute

// chargePending is what a retry needs to find out whether an unanswered
// charge went through: the token's charges before it was sent.
type chargePending struct {
	Token    string   `json:"token"`
	Baseline []string `json:"baseline"`
}

type refundPending struct {
	Subscription string      `json:"subscription"`
	Amount       money.Money `json:"amount"`
}

// beginOp looks up key under the lock: a finished record is replayed (done
// true), another request under the key is a Conflict, a pending one is
// returned for the caller to resolve.
func beginOp[T any](c *CCBill, key, fp string) (rec *processorkit.OpRecord, out T, done bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.st == nil {
		return nil, out, true, errs.Retry(errs.Unavailable, "ccbill processor is not configured yet")
	}
	return processorkit.Lookup[T](c.st.Ops, key, fp)
}

// putOp stores rec under key and saves the state.
func (c *CCBill) putOp(key string, rec *processorkit.OpRecord, also func(st *state)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.Ops[key] = rec
	if also != nil {
		also(c.st)
	}
	return c.saveLocked()
}

// dropOp forgets a pending key: CCBill answered that nothing was done, so a
// retry decides afresh.
func (c *CCBill) dropOp(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec := c.st.Ops[key]; rec != nil && rec.Status == processorkit.OpPending {
		delete(c.st.Ops, key)
		_ = c.saveLocked()
	}
}

func (c *CCBill) finish(key, fp string, started time.Time, result any, also func(st *state)) error {
	rec, err := processorkit.DoneRecord(fp, result, started, c.now().UTC())
	if err != nil {
		return err
	}
	return c.putOp(key, rec, also)
}

func (c *CCBill) Charge(ctx context.Context, req processor.ChargeRequest) (processor.ChargeResult, error) {
	cfg, err := c.configured()
	if err != nil {
		return processor.ChargeResult{}, err
	}
	if err := checkMoney(cfg, req.IdempotencyKey, req.Amount); err != nil {
		return processor.ChargeResult{}, err
	}
	if err := processor.ValidateCredential(req.Credential); err != nil {
		return processor.ChargeResult{}, err
	}
	if !paymentTokenRE.MatchString(req.Credential.Token) {
		return processor.ChargeResult{}, errs.E(errs.InvalidCard, "ccbill: %q is not a CCBill payment token id", req.Credential.Token)
	}
	res, _, err := c.charge(ctx, req.IdempotencyKey, req.Credential.Token, req.Amount, nil, req.Credential.CustomerRef)
	return res, err
}

func checkMoney(cfg *settings, key string, m money.Money) error {
	if err := processor.ValidateIdempotencyKey(key); err != nil {
		return err
	}
	return processor.ValidateAmount(m, cfg.Currencies)
}

// chargeOutcome is the recorded result of a charge: the host's view plus the
// subscription id for recurring purchases.
type chargeOutcome struct {
	processor.ChargeResult
	Subscription string `json:"subscription,omitempty"`
}

// charge takes amount from token at most once per key. Before anything is
// sent it notes the token's existing charges; if the answer is lost (timeout,
// 5xx) the key stays pending, and a retry compares the token's charges again:
// a new subscription id that no other record claims is this charge, so it is
// returned instead of charging a second time.
func (c *CCBill) charge(ctx context.Context, key, token string, amount money.Money, recurring *recurringTerms, customer string) (processor.ChargeResult, string, error) {
	fp := processorkit.Fingerprint("charge", token, amount, recurring)
	unlock := c.locks.Lock("token:" + token)
	defer unlock()

	pending, out, done, err := beginOp[chargeOutcome](c, key, fp)
	if done {
		return out.ChargeResult, out.Subscription, err
	}
	cfg, err := c.configured()
	if err != nil {
		return processor.ChargeResult{}, "", err
	}
	ids, err := c.listCharges(ctx, token)
	if err != nil {
		return processor.ChargeResult{}, "", err
	}
	started := c.now().UTC()
	if pending != nil {
		started = pending.Started
		var p chargePending
		if err := json.Unmarshal(pending.Pending, &p); err != nil {
			return processor.ChargeResult{}, "", errs.E(errs.Internal, "ccbill: pending record of %q: %v", key, err)
		}
		fresh := c.unclaimed(ids, p.Baseline)
		switch {
		case len(fresh) == 1:
			out := chargeOutcome{ChargeResult: processor.ChargeResult{Reference: fresh[0], Amount: amount}}
			if recurring != nil {
				out.Subscription = fresh[0]
			}
			if err := c.finish(key, fp, started, out, recordCharge(fresh[0], token, amount, started)); err != nil {
				return processor.ChargeResult{}, "", err
			}
			return out.ChargeResult, out.Subscription, nil
		case len(fresh) > 1:
			return processor.ChargeResult{}, "", errs.E(errs.Conflict,
				"ccbill: payment token has %d new charges %v since key %q was first sent; reconcile them in CCBill's admin", len(fresh), fresh, key)
		}
		// No new charge: the first attempt never reached CCBill's books. Send again.
	}
	pend, _ := json.Marshal(chargePending{Token: token, Baseline: ids})
	if err := c.putOp(key, &processorkit.OpRecord{Fingerprint: fp, Status: processorkit.OpPending, Pending: pend, Started: started}, nil); err != nil {
		return processor.ChargeResult{}, "", err
	}

	body, err := buildCharge(cfg, amount, recurring, key, customer)
	if err != nil {
		c.dropOp(key)
		return processor.ChargeResult{}, "", err
	}
	status, resp, err := c.restCall(ctx, http.MethodPost, "/transactions/payment-tokens/"+url.PathEscape(token), body)
	if err != nil {
		return processor.ChargeResult{}, "", err // pending: the outcome is unknown
	}
	if status != http.StatusOK {
		aerr := apiError("ccbill: charging a payment token", status, resp)
		if !errs.IsRetryable(aerr) {
			c.dropOp(key) // a 4xx: CCBill processed nothing
		}
		return processor.ChargeResult{}, "", aerr
	}
	var cr chargeResponse
	if err := json.Unmarshal(resp, &cr); err != nil {
		return processor.ChargeResult{}, "", errs.Retry(errs.Unavailable, "ccbill: malformed charge answer: %s", processorkit.Snippet(resp))
	}
	if !cr.Approved {
		text := ""
		if cr.DeclineText != nil {
			text = *cr.DeclineText
		}
		derr := declineErr(rawID(cr.DeclineCode), text, rawID(cr.DenialID))
		if errs.IsRetryable(derr) {
			c.dropOp(key)
			return processor.ChargeResult{}, "", derr
		}
		if err := c.putOp(key, processorkit.DeclinedRecord(fp, derr, started, c.now().UTC()), nil); err != nil {
			return processor.ChargeResult{}, "", err
		}
		return processor.ChargeResult{}, "", derr
	}
	sub := rawID(cr.SubscriptionID)
	if sub == "" {
		return processor.ChargeResult{}, "", errs.Retry(errs.Unavailable, "ccbill: approved charge without a subscriptionId: %s", processorkit.Snippet(resp))
	}
	res := chargeOutcome{ChargeResult: processor.ChargeResult{Reference: sub, Amount: amount}}
	if recurring != nil {
		res.Subscription = sub
	}
	if cr.NewPaymentTokenID != nil && *cr.NewPaymentTokenID != "" && *cr.NewPaymentTokenID != token {
		res.NewCredential = &processor.StoredCredential{Token: *cr.NewPaymentTokenID, CustomerRef: customer}
	}
	if err := c.finish(key, fp, started, res, recordCharge(sub, token, amount, started)); err != nil {
		return processor.ChargeResult{}, "", err
	}
	return res.ChargeResult, res.Subscription, nil
}

func recordCharge(sub, token string, amount money.Money, at time.Time) func(st *state) {
	return func(st *state) { st.Charges[sub] = &chargeRec{Token: token, Amount: amount, At: at} }
}

// unclaimed returns the ids not in baseline that no recorded charge owns.
func (c *CCBill) unclaimed(ids, baseline []string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	before := map[string]bool{}
	for _, id := range baseline {
		before[id] = true
	}
	var out []string
	for _, id := range ids {
		if !before[id] && c.st.Charges[id] == nil {
			out = append(out, id)
		}
	}
	return out
}

// declineErr maps a CCBill denial to camkit's decline codes. CCBill's list of
// decline codes is published in its merchant admin only; the texts it sends
// are stable and carry the reason, so they decide, with the two system-error
// codes of the API guide (22, 27) treated as "nothing happened, try again".
func declineErr(code, text, denial string) error {
	t := strings.ToLower(text)
	msg := "ccbill: declined"
	if text != "" {
		msg += ": " + text
	}
	if code != "" {
		msg += " (declineCode " + code
		if denial != "" {
			msg += ", denialId " + denial
		}
		msg += ")"
	}
	switch {
	case code == "22" || code == "27" || strings.Contains(t, "try again") || strings.Contains(t, "system error"):
		return errs.Retry(errs.Unavailable, "%s", msg)
	case strings.Contains(t, "insufficient") || strings.Contains(t, "funds"):
		return errs.E(errs.InsufficientFunds, "%s", msg)
	case strings.Contains(t, "expired"):
		return errs.E(errs.ExpiredCard, "%s", msg)
	case strings.Contains(t, "invalid card") || strings.Contains(t, "invalid credit card") || strings.Contains(t, "card number") || strings.Contains(t, "invalid account"):
		return errs.E(errs.InvalidCard, "%s", msg)
	case strings.Contains(t, "fraud") || strings.Contains(t, "stolen") || strings.Contains(t, "lost card") || strings.Contains(t, "pick up") || strings.Contains(t, "risk") || strings.Contains(t, "velocity"):
		return errs.E(errs.FraudSuspected, "%s", msg)
	}
	return errs.E(errs.Declined, "%s", msg)
}

// refundRef names a refund: DataLink answers only "1", no id of its own.
func refundRef(subscription, key string) string {
	h := sha256.Sum256([]byte(key))
	return "refund:" + subscription + ":" + hex.EncodeToString(h[:8])
}

func (c *CCBill) Refund(ctx context.Context, req processor.RefundRequest) (processor.RefundResult, error) {
	cfg, err := c.configured()
	if err != nil {
		return processor.RefundResult{}, err
	}
	if err := checkMoney(cfg, req.IdempotencyKey, req.Amount); err != nil {
		return processor.RefundResult{}, err
	}
	sub := req.Reference
	if sub == "" || strings.Trim(sub, "0123456789") != "" {
		return processor.RefundResult{}, errs.E(errs.Invalid, "ccbill: refund reference %q is not a CCBill subscription id", sub)
	}
	key := req.IdempotencyKey
	fp := processorkit.Fingerprint("refund", sub, req.Amount)
	unlock := c.locks.Lock("sub:" + sub)
	defer unlock()

	pending, out, done, err := beginOp[processor.RefundResult](c, key, fp)
	if done {
		return out, err
	}
	c.mu.Lock()
	if ch := c.st.Charges[sub]; ch != nil {
		if ch.Amount.Currency != req.Amount.Currency {
			c.mu.Unlock()
			return processor.RefundResult{}, errs.E(errs.Invalid, "ccbill: refund in %s of a charge in %s", req.Amount.Currency, ch.Amount.Currency)
		}
		if left := ch.Amount.Amount - ch.Refunded; req.Amount.Amount > left && pending == nil {
			c.mu.Unlock()
			return processor.RefundResult{}, errs.E(errs.Invalid, "ccbill: refund of %s exceeds the %d minor units left to refund on %s", req.Amount, left, sub)
		}
	}
	c.mu.Unlock()
	result := processor.RefundResult{Reference: refundRef(sub, key), Amount: req.Amount}
	started := c.now().UTC()
	if pending != nil {
		started = pending.Started
		if c.claimRefundWebhook(sub, key, req.Amount, started) {
			return result, c.finish(key, fp, started, result, addRefunded(sub, req.Amount))
		}
		if wait := refundSettleWait - c.now().Sub(started); wait > 0 {
			return processor.RefundResult{}, errs.Retry(errs.Unavailable,
				"ccbill: the outcome of refund %q is unknown and DataLink cannot look it up; waiting up to %s more for CCBill's Refund webhook (it is never sent twice)", key, wait.Round(time.Second))
		}
		final := errs.E(errs.Conflict, "ccbill: refund %q of %s on subscription %s: no answer and no Refund webhook within %s; it was not sent again. Look it up in CCBill's admin and book it by hand if CCBill did refund it",
			key, req.Amount, sub, refundSettleWait)
		if err := c.putOp(key, processorkit.DeclinedRecord(fp, final, started, c.now().UTC()), nil); err != nil {
			return processor.RefundResult{}, err
		}
		c.log.Warn("ccbill: a refund's outcome stayed unknown; it was not sent again", "key", key, "subscription", sub, "amount", req.Amount.String())
		return processor.RefundResult{}, final
	}
	pend, _ := json.Marshal(refundPending{Subscription: sub, Amount: req.Amount})
	if err := c.putOp(key, &processorkit.OpRecord{Fingerprint: fp, Status: processorkit.OpPending, Pending: pend, Started: started}, nil); err != nil {
		return processor.RefundResult{}, err
	}
	amt, err := money.FormatDecimal(req.Amount)
	if err != nil {
		c.dropOp(key)
		return processor.RefundResult{}, errs.E(errs.UnknownCurrency, "%v", err)
	}
	n, err := c.datalinkCall(ctx, url.Values{"action": {"refundTransaction"}, "subscriptionId": {sub}, "amount": {amt}})
	switch {
	case err != nil:
		return processor.RefundResult{}, err // pending: settled by the Refund webhook
	case n == resultInternalError:
		return processor.RefundResult{}, datalinkFailure("ccbill refundTransaction of "+sub, n) // pending, likewise
	case n != 1:
		c.dropOp(key) // a documented refusal: nothing was refunded
		return processor.RefundResult{}, datalinkFailure("ccbill refundTransaction of "+sub, n)
	}
	// The Refund webhook of this refund must never settle another one: it
	// is claimed now if it came first, or expected by a placeholder.
	if !c.claimRefundWebhook(sub, key, req.Amount, started) {
		c.mu.Lock()
		c.st.Refunds[sub] = append(c.st.Refunds[sub], refundRec{Amount: req.Amount, At: c.now().UTC(), Claimed: key})
		c.mu.Unlock()
	}
	if err := c.finish(key, fp, started, result, addRefunded(sub, req.Amount)); err != nil {
		return processor.RefundResult{}, err
	}
	return result, nil
}

func addRefunded(sub string, amount money.Money) func(st *state) {
	return func(st *state) {
		if ch := st.Charges[sub]; ch != nil {
			ch.Refunded += amount.Amount
		}
	}
}

// claimRefundWebhook settles an unknown refund outcome with a Refund webhook
// of the same subscription and amount received after it was sent (a
// placeholder without an event id is a refund still expecting its webhook,
// never a webhook to claim).
func (c *CCBill) claimRefundWebhook(sub, key string, amount money.Money, since time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := c.st.Refunds[sub]
	for i := range list {
		r := &list[i]
		if r.Claimed == "" && r.EventID != "" && r.Amount == amount && !r.At.Before(since.Add(-time.Minute)) {
			r.Claimed = key
			return true
		}
	}
	return false
}

func (c *CCBill) CancelRecurring(ctx context.Context, req processor.CancelRecurringRequest) error {
	if _, err := c.configured(); err != nil {
		return err
	}
	if err := processor.ValidateIdempotencyKey(req.IdempotencyKey); err != nil {
		return err
	}
	sub := req.SubscriptionReference
	if sub == "" || strings.Trim(sub, "0123456789") != "" {
		return errs.E(errs.Invalid, "ccbill: %q is not a CCBill subscription id", sub)
	}
	key, fp := req.IdempotencyKey, processorkit.Fingerprint("cancel", sub)
	unlock := c.locks.Lock("sub:" + sub)
	defer unlock()
	pending, _, done, err := beginOp[struct{}](c, key, fp)
	if done {
		return err
	}
	started := c.now().UTC()
	if pending == nil {
		if err := c.putOp(key, &processorkit.OpRecord{Fingerprint: fp, Status: processorkit.OpPending, Started: started}, nil); err != nil {
			return err
		}
	} else {
		started = pending.Started
	}
	n, err := c.datalinkCall(ctx, url.Values{"action": {"cancelSubscription"}, "subscriptionId": {sub}})
	if err != nil {
		return err
	}
	// Cancelling is the same outcome however often it is sent, so a -7 stays
	// pending and is sent again; a 0 on a re-send means an earlier attempt
	// already cancelled it.
	switch {
	case n == resultInternalError:
		return datalinkFailure("ccbill cancelSubscription of "+sub, n)
	case n != 1 && !(n == 0 && pending != nil):
		c.dropOp(key)
		return datalinkFailure("ccbill cancelSubscription of "+sub, n)
	}
	return c.finish(key, fp, started, struct{}{}, nil)
}
