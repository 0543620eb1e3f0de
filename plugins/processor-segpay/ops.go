package main

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

// purchaseIDRE accepts a Segpay PurchaseID / TransactionId: digits only.
func purchaseIDRE(s string) bool {
	return s != "" && len(s) <= 32 && strings.Trim(s, "0123456789") == ""
}

// Authorize places a Post Pay authorisation on the card of an earlier
// purchase (the credential's token is that PurchaseID). If the answer is lost
// the retry sends it again: an orphaned authorisation takes no money and
// lapses by itself, and Segpay offers no look-up of authorisations.
func (s *Segpay) Authorize(ctx context.Context, req processor.AuthorizeRequest) (processor.Authorization, error) {
	cfg, err := s.configured()
	if err != nil {
		return processor.Authorization{}, err
	}
	if err := checkMoney(cfg, req.IdempotencyKey, req.Amount); err != nil {
		return processor.Authorization{}, err
	}
	if err := processor.ValidateCredential(req.Credential); err != nil {
		return processor.Authorization{}, err
	}
	if !purchaseIDRE(req.Credential.Token) {
		return processor.Authorization{}, errs.E(errs.InvalidCard, "segpay: %q is not a Segpay purchase id (OCToken)", req.Credential.Token)
	}
	key, fp := req.IdempotencyKey, processorkit.Fingerprint("authorize", req.Credential.Token, req.Amount)
	unlock := s.locks.Lock("key:" + key)
	defer unlock()
	pending, out, done, err := beginOp[processor.Authorization](s, key, fp)
	if done {
		return out, err
	}
	started := s.now().UTC()
	if pending != nil {
		started = pending.Started
	}
	if err := s.pend(key, fp, started, nil); err != nil {
		return processor.Authorization{}, err
	}
	amt, err := amountText(req.Amount)
	if err != nil {
		return processor.Authorization{}, err
	}
	a, err := s.postPay(ctx, "PostPayAuth", url.Values{"eticketid": {cfg.PostPayEticketID}, "purchaseid": {req.Credential.Token}, "amount": {amt}})
	if err != nil {
		if !errs.IsRetryable(err) {
			s.dropOp(key)
		}
		return processor.Authorization{}, err
	}
	if !strings.EqualFold(a.Result, "Approved") || a.id() == "" {
		derr := declineErr("segpay PostPayAuth", a.Message)
		if errs.IsRetryable(derr) {
			s.dropOp(key)
			return processor.Authorization{}, derr
		}
		return processor.Authorization{}, s.decline(key, fp, started, derr)
	}
	now := s.now().UTC()
	res := processor.Authorization{Reference: a.id(), Amount: req.Amount, ExpiresAt: now.Add(time.Duration(cfg.MaxHoldDays) * 24 * time.Hour)}
	return res, s.finish(key, fp, started, res, func(st *state) {
		st.Holds[res.Reference] = &hold{PurchaseID: req.Credential.Token, Amount: req.Amount, ExpiresAt: res.ExpiresAt, Status: "open"}
	})
}

type capturePending struct {
	Auth   string      `json:"auth"`
	Amount money.Money `json:"amount"`
}

// alreadyCaptured recognises Segpay's refusal of a second capture of one authorisation.
func alreadyCaptured(msg string) bool {
	t := strings.ToLower(msg)
	return strings.Contains(t, "already captured") || strings.Contains(t, "already settled")
}

// Capture takes amount of a Post Pay authorisation; Segpay releases the rest.
// Segpay refuses a second capture of the same authorisation, so after a lost
// answer the retry sends the capture again: "already captured" then means the
// first one went through, and it is returned as such.
func (s *Segpay) Capture(ctx context.Context, req processor.CaptureRequest) (processor.CaptureResult, error) {
	cfg, err := s.configured()
	if err != nil {
		return processor.CaptureResult{}, err
	}
	if err := checkMoney(cfg, req.IdempotencyKey, req.Amount); err != nil {
		return processor.CaptureResult{}, err
	}
	return s.capture(ctx, cfg, req.IdempotencyKey, req.AuthorizationReference, req.Amount, false)
}

// capture runs a capture (zero false) or, with a zero amount, a void.
func (s *Segpay) capture(ctx context.Context, cfg *settings, key, auth string, amount money.Money, void bool) (processor.CaptureResult, error) {
	op := "capture"
	if void {
		op = "void"
	}
	fp := processorkit.Fingerprint(op, auth, amount)
	unlock := s.locks.Lock("auth:" + auth)
	defer unlock()
	pending, out, done, err := beginOp[processor.CaptureResult](s, key, fp)
	if done {
		return out, err
	}
	s.mu.Lock()
	h := s.st.Holds[auth]
	var hv hold
	if h != nil {
		hv = *h
	}
	now := s.now()
	s.mu.Unlock()
	switch {
	case h == nil:
		return processor.CaptureResult{}, errs.E(errs.NotFound, "segpay: no Post Pay authorisation %q", auth)
	case hv.Status == "captured" && pending == nil:
		return processor.CaptureResult{}, errs.E(errs.Conflict, "segpay: authorisation %s was already captured; its remainder is released", auth)
	case hv.Status == "voided" && pending == nil:
		return processor.CaptureResult{}, errs.E(errs.Conflict, "segpay: authorisation %s was voided", auth)
	case !void && !now.Before(hv.ExpiresAt):
		return processor.CaptureResult{}, errs.E(errs.AuthExpired, "segpay: authorisation %s expired at %s", auth, hv.ExpiresAt.Format(time.RFC3339))
	case amount.Currency != hv.Amount.Currency:
		return processor.CaptureResult{}, errs.E(errs.Invalid, "segpay: %s in %s of a hold in %s", op, amount.Currency, hv.Amount.Currency)
	case amount.Amount > hv.Amount.Amount:
		return processor.CaptureResult{}, errs.E(errs.Invalid, "segpay: capture of %s exceeds the hold of %s", amount, hv.Amount)
	}
	started := s.now().UTC()
	if pending != nil {
		started = pending.Started
	}
	if err := s.pend(key, fp, started, capturePending{Auth: auth, Amount: amount}); err != nil {
		return processor.CaptureResult{}, err
	}
	amt, err := amountText(amount)
	if err != nil {
		return processor.CaptureResult{}, err
	}
	a, err := s.postPay(ctx, "PostPayCapture", url.Values{"transactionId": {auth}, "amount": {amt}})
	if err != nil {
		if !errs.IsRetryable(err) {
			s.dropOp(key)
		}
		return processor.CaptureResult{}, err
	}
	released, _ := hv.Amount.Sub(amount) // same currency, amount <= hold
	ref := a.id()
	switch {
	case strings.EqualFold(a.Result, "Approved"):
	case alreadyCaptured(a.Message) && pending != nil:
		ref = "" // our first attempt went through: its answer was the one lost
	default:
		s.dropOp(key)
		if alreadyCaptured(a.Message) {
			return processor.CaptureResult{}, errs.E(errs.Conflict, "segpay: authorisation %s was already captured", auth)
		}
		if strings.Contains(strings.ToLower(a.Message), "exceed") {
			return processor.CaptureResult{}, errs.E(errs.Invalid, "segpay PostPayCapture: %s", a.Message)
		}
		if strings.Contains(strings.ToLower(a.Message), "expired") {
			return processor.CaptureResult{}, errs.E(errs.AuthExpired, "segpay PostPayCapture: %s", a.Message)
		}
		return processor.CaptureResult{}, declineErr("segpay PostPayCapture", a.Message)
	}
	if ref == "" {
		ref = auth // a Post Pay capture completes the authorised transaction
	}
	res := processor.CaptureResult{Reference: ref, Amount: amount, Released: released}
	status := "captured"
	if void {
		status = "voided"
		res = processor.CaptureResult{Reference: "void:" + auth, Released: hv.Amount}
	}
	return res, s.finish(key, fp, started, res, func(st *state) {
		if h := st.Holds[auth]; h != nil {
			h.Status, h.CaptureRef = status, ref
		}
		if !void && amount.Amount > 0 {
			st.Payments[ref] = &payment{Amount: amount}
		}
	})
}

// Void releases a Post Pay authorisation. Segpay documents capture of any
// amount up to the authorisation, and no separate void: a capture of 0.00
// finalises the authorisation without taking money. Confirm with Segpay that
// your account accepts it; if not, set void_by_zero_capture=false and the
// plugin declares no void (the host will then not fund seats with card_hold).
func (s *Segpay) Void(ctx context.Context, req processor.VoidRequest) (processor.VoidResult, error) {
	cfg, err := s.configured()
	if err != nil {
		return processor.VoidResult{}, err
	}
	if !cfg.voidEnabled() {
		return processor.VoidResult{}, errs.E(errs.Unsupported, "segpay: void is off (settings.void_by_zero_capture=false); an uncaptured Post Pay authorisation lapses by itself")
	}
	if err := processor.ValidateIdempotencyKey(req.IdempotencyKey); err != nil {
		return processor.VoidResult{}, err
	}
	s.mu.Lock()
	h := s.st.Holds[req.AuthorizationReference]
	cur := cfg.Currency
	if h != nil {
		cur = h.Amount.Currency
	}
	s.mu.Unlock()
	r, err := s.capture(ctx, cfg, req.IdempotencyKey, req.AuthorizationReference, money.Money{Currency: cur}, true)
	if err != nil {
		return processor.VoidResult{}, err
	}
	return processor.VoidResult{Reference: r.Reference, Amount: r.Released}, nil
}

// Charge takes amount now from the card of an earlier purchase through
// Segpay's one-click service. The request carries the idempotency key as the
// camkit_key extra, which Segpay echoes in the sale's TransPost. One-click sales cannot be looked up, so after a lost
// answer the key stays pending until that postback arrives, and is never
// sent blind a second time.
func (s *Segpay) Charge(ctx context.Context, req processor.ChargeRequest) (processor.ChargeResult, error) {
	cfg, err := s.configured()
	if err != nil {
		return processor.ChargeResult{}, err
	}
	if err := checkMoney(cfg, req.IdempotencyKey, req.Amount); err != nil {
		return processor.ChargeResult{}, err
	}
	if err := processor.ValidateCredential(req.Credential); err != nil {
		return processor.ChargeResult{}, err
	}
	if !purchaseIDRE(req.Credential.Token) {
		return processor.ChargeResult{}, errs.E(errs.InvalidCard, "segpay: %q is not a Segpay purchase id (OCToken)", req.Credential.Token)
	}
	key, fp := req.IdempotencyKey, processorkit.Fingerprint("charge", req.Credential.Token, req.Amount)
	unlock := s.locks.Lock("key:" + key)
	defer unlock()
	pending, out, done, err := beginOp[processor.ChargeResult](s, key, fp)
	if done {
		return out, err
	}
	if pending != nil {
		s.mu.Lock()
		tranid := s.st.Sales[key]
		s.mu.Unlock()
		if tranid == "" {
			return processor.ChargeResult{}, errs.Retry(errs.Unavailable,
				"segpay: the outcome of one-click charge %q is unknown; waiting for Segpay's TransPost before deciding (no second charge is sent)", key)
		}
		res := processor.ChargeResult{Reference: tranid, Amount: req.Amount}
		return res, s.finish(key, fp, pending.Started, res, func(st *state) { st.Payments[tranid] = &payment{Amount: req.Amount} })
	}
	amt, err := amountText(req.Amount)
	if err != nil {
		return processor.ChargeResult{}, err
	}
	hash, err := s.pricingHash(ctx, amt)
	if err != nil {
		return processor.ChargeResult{}, err // nothing sent yet
	}
	started := s.now().UTC()
	if err := s.pend(key, fp, started, nil); err != nil {
		return processor.ChargeResult{}, err
	}
	desc := req.Description
	if desc == "" {
		desc = "camkit purchase"
	}
	status, body, err := s.postForm(ctx, cfg.OneClickURL, url.Values{"eticketid": {cfg.OneClickEticketID}, "amount": {amt},
		"dynamictrans": {hash}, "dynamicdesc": {desc}, "octoken": {req.Credential.Token}, "camkit_key": {key}})
	if err != nil {
		return processor.ChargeResult{}, err // pending
	}
	if status >= 500 {
		return processor.ChargeResult{}, processorkit.ServerError("segpay one-click", status, body)
	}
	if status != http.StatusOK {
		s.dropOp(key)
		return processor.ChargeResult{}, errs.E(errs.Invalid, "segpay one-click: HTTP %d %s", status, processorkit.Snippet(body))
	}
	var a oneClickAnswer
	if err := xml.Unmarshal(body, &a); err != nil {
		return processor.ChargeResult{}, errs.Retry(errs.Unavailable, "segpay one-click: malformed answer %s", processorkit.Snippet(body))
	}
	if !strings.EqualFold(a.Approved, "Yes") || a.TransID == "" {
		derr := declineErr("segpay one-click", a.Message)
		if errs.IsRetryable(derr) {
			s.dropOp(key)
			return processor.ChargeResult{}, derr
		}
		return processor.ChargeResult{}, s.decline(key, fp, started, derr)
	}
	res := processor.ChargeResult{Reference: a.TransID, Amount: req.Amount}
	return res, s.finish(key, fp, started, res, func(st *state) { st.Payments[a.TransID] = &payment{Amount: req.Amount} })
}

// Refund refunds a whole capture or one-click sale with SRS
// RefundTransaction (Segpay has no partial refund call). A refund sent twice
// is refused by Segpay, so after a lost answer the retry sends it again and
// reads "already refunded" as the first one's success.
func (s *Segpay) Refund(ctx context.Context, req processor.RefundRequest) (processor.RefundResult, error) {
	cfg, err := s.configured()
	if err != nil {
		return processor.RefundResult{}, err
	}
	if err := checkMoney(cfg, req.IdempotencyKey, req.Amount); err != nil {
		return processor.RefundResult{}, err
	}
	key, fp := req.IdempotencyKey, processorkit.Fingerprint("refund", req.Reference, req.Amount)
	unlock := s.locks.Lock("tx:" + req.Reference)
	defer unlock()
	pending, out, done, err := beginOp[processor.RefundResult](s, key, fp)
	if done {
		return out, err
	}
	s.mu.Lock()
	p := s.st.Payments[req.Reference]
	var pv payment
	if p != nil {
		pv = *p
	}
	s.mu.Unlock()
	switch {
	case p == nil:
		return processor.RefundResult{}, errs.E(errs.NotFound, "segpay: no capture or sale %q made through this plugin", req.Reference)
	case pv.Refunded && pending == nil:
		return processor.RefundResult{}, errs.E(errs.Conflict, "segpay: %s was already refunded", req.Reference)
	case req.Amount != pv.Amount:
		return processor.RefundResult{}, errs.E(errs.Invalid, "segpay: SRS refunds whole transactions: refund %s of %s, not %s", pv.Amount, req.Reference, req.Amount)
	}
	started := s.now().UTC()
	if pending != nil {
		started = pending.Started
	}
	if err := s.pend(key, fp, started, nil); err != nil {
		return processor.RefundResult{}, err
	}
	reason := req.Reason
	if reason == "" {
		reason = "camkit refund"
	}
	answer, err := s.srsCall(ctx, "RefundTransaction", url.Values{"TransID": {req.Reference}, "RefundReason": {reason}})
	if err != nil {
		return processor.RefundResult{}, err // pending
	}
	lower := strings.ToLower(answer)
	if !strings.HasPrefix(lower, "success") && !(pending != nil && strings.Contains(lower, "already refunded")) {
		s.dropOp(key)
		if strings.Contains(lower, "already refunded") {
			return processor.RefundResult{}, errs.E(errs.Conflict, "segpay RefundTransaction: %s", answer)
		}
		return processor.RefundResult{}, errs.E(errs.Conflict, "segpay RefundTransaction refused: %s", answer)
	}
	res := processor.RefundResult{Reference: "refund:" + req.Reference, Amount: req.Amount}
	return res, s.finish(key, fp, started, res, func(st *state) {
		if p := st.Payments[req.Reference]; p != nil {
			p.Refunded = true
		}
	})
}

// CancelRecurring is not offered: Post Pay and one-click price points do not
// rebill, and the plugin starts no memberships (native_recurring is false).
func (s *Segpay) CancelRecurring(context.Context, processor.CancelRecurringRequest) error {
	return errs.E(errs.Unsupported, "segpay: this plugin starts no recurring memberships")
}
