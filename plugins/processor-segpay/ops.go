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
	if !cfg.holds() {
		return processor.Authorization{}, errs.E(errs.Unsupported,
			"segpay: Post Pay holds are off (settings.void_by_zero_capture is false: Segpay documents no release of a hold); seats are funded with one-click charges")
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
	case h == nil && !cfg.holds():
		// Holds placed before the setting was turned off are still
		// captured; with none, there is nothing to capture.
		return processor.CaptureResult{}, errs.E(errs.Unsupported, "segpay: Post Pay holds are off (settings.void_by_zero_capture is false) and %q is not one of this plugin's holds", auth)
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
	// eticketid and purchaseid as Segpay's Post Pay page documents for its
	// requests; transactionId names the authorisation being captured.
	a, err := s.postPay(ctx, "PostPayCapture", url.Values{"eticketid": {cfg.PostPayEticketID}, "purchaseid": {hv.PurchaseID},
		"transactionId": {auth}, "amount": {amt}})
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

// Void releases a Post Pay authorisation with a capture of 0.00. Segpay
// documents capture of any amount up to the authorisation and no void, and
// nothing says a 0.00 capture releases one: it is done only when the
// operator confirmed it with Segpay and set void_by_zero_capture=true.
// Otherwise the plugin offers no holds at all (Capabilities), so there is
// nothing to void.
func (s *Segpay) Void(ctx context.Context, req processor.VoidRequest) (processor.VoidResult, error) {
	cfg, err := s.configured()
	if err != nil {
		return processor.VoidResult{}, err
	}
	if !cfg.holds() {
		return processor.VoidResult{}, errs.E(errs.Unsupported, "segpay: void is off (settings.void_by_zero_capture is false); an uncaptured Post Pay authorisation lapses by itself")
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

// settleWait is how long a one-click charge whose answer was lost waits for
// Segpay's TransPost of the sale before the key gets a final error for the
// operator. One-click sales cannot be looked up and are never sent twice.
const settleWait = 30 * time.Minute

// Charge takes amount now from the card of an earlier purchase through
// Segpay's one-click web service, PurchaseId being the first sale's
// PurchaseID ("OCToken ... for hosted pay page or PurchaseId for the Web
// Service API", Segpay's One-Click Payments page). One-click sales cannot be
// looked up, so after a lost answer the key stays pending until a TransPost
// of a sale on that purchase id, of that amount, arrives after the charge
// was sent; it is never sent blind a second time. Charges of one card are
// sent one at a time, so such a TransPost names one charge.
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
	token := req.Credential.Token
	if !purchaseIDRE(token) {
		return processor.ChargeResult{}, errs.E(errs.InvalidCard, "segpay: %q is not a Segpay purchase id (OCToken)", token)
	}
	key, fp := req.IdempotencyKey, processorkit.Fingerprint("charge", token, req.Amount)
	unlock := s.locks.Lock("purchase:" + token)
	defer unlock()
	pending, out, done, err := beginOp[processor.ChargeResult](s, key, fp)
	if done {
		return out, err
	}
	if pending != nil {
		return s.settleOneClick(key, fp, token, req.Amount, pending.Started)
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
	// octoken too: Segpay's One Click Web Service examples (and its QA
	// suite, Dimamolchanov/segpay_qa_automation web.py) pass the same id so.
	status, body, err := s.postForm(ctx, cfg.OneClickURL, url.Values{"eticketid": {cfg.OneClickEticketID}, "amount": {amt},
		"dynamictrans": {hash}, "dynamicdesc": {desc}, "purchaseid": {token}, "octoken": {token}})
	if err != nil {
		return processor.ChargeResult{}, err // pending
	}
	if status >= 500 {
		return processor.ChargeResult{}, processorkit.ServerError("segpay one-click", status, body) // pending
	}
	if status != http.StatusOK {
		s.dropOp(key)
		return processor.ChargeResult{}, errs.E(errs.Invalid, "segpay one-click: HTTP %d %s", status, processorkit.Snippet(body))
	}
	var a oneClickAnswer
	if err := xml.Unmarshal(body, &a); err != nil {
		return processor.ChargeResult{}, errs.Retry(errs.Unavailable, "segpay one-click: malformed answer %s", processorkit.Snippet(body)) // pending
	}
	if !strings.EqualFold(a.Approved, "Yes") || a.TransID == "" || a.TransID == "0" {
		derr := declineErr("segpay one-click", a.Message)
		if errs.IsRetryable(derr) {
			s.dropOp(key)
			return processor.ChargeResult{}, derr
		}
		s.mu.Lock()
		s.expectLocked(token, saleNote{Amount: req.Amount, Approved: false, At: started, Claimed: key})
		s.mu.Unlock()
		return processor.ChargeResult{}, s.decline(key, fp, started, derr)
	}
	res := processor.ChargeResult{Reference: a.TransID, Amount: req.Amount}
	return res, s.finish(key, fp, started, res, func(st *state) {
		st.Payments[a.TransID] = &payment{Amount: req.Amount}
		noteSale(st, token, saleNote{TranID: a.TransID, Amount: req.Amount, Approved: true, At: started, Claimed: key})
	})
}

// settleOneClick resolves a pending one-click charge from the TransPosts of
// its purchase id: an unclaimed sale of its amount that arrived after it was
// sent is its outcome. Without one it waits, then gives a final error.
func (s *Segpay) settleOneClick(key, fp, token string, amount money.Money, started time.Time) (processor.ChargeResult, error) {
	s.mu.Lock()
	var found *saleNote
	for i := range s.st.OneClick[token] {
		n := &s.st.OneClick[token][i]
		if n.Claimed == "" && n.TranID != "" && n.Amount == amount && !n.At.Before(started.Add(-time.Minute)) && s.st.Payments[n.TranID] == nil {
			found = n
			break
		}
	}
	if found != nil {
		found.Claimed = key
	}
	note := saleNote{}
	if found != nil {
		note = *found
	}
	s.mu.Unlock()
	switch {
	case found != nil && note.Approved:
		res := processor.ChargeResult{Reference: note.TranID, Amount: amount}
		return res, s.finish(key, fp, started, res, func(st *state) { st.Payments[note.TranID] = &payment{Amount: amount} })
	case found != nil:
		return processor.ChargeResult{}, s.decline(key, fp, started, declineErr("segpay one-click", note.Reason))
	}
	if wait := settleWait - s.now().Sub(started); wait > 0 {
		return processor.ChargeResult{}, errs.Retry(errs.Unavailable,
			"segpay: the outcome of one-click charge %q is unknown; waiting up to %s more for Segpay's TransPost (no second charge is sent)", key, wait.Round(time.Second))
	}
	final := errs.E(errs.Conflict, "segpay: one-click charge %q of %s on purchase %s: no answer and no TransPost within %s; it was not sent again. Look it up in Segpay's merchant portal and book it by hand if Segpay charged it",
		key, amount, token, settleWait)
	if err := s.putOp(key, processorkit.DeclinedRecord(fp, final, started, s.now().UTC()), nil); err != nil {
		return processor.ChargeResult{}, err
	}
	s.log.Warn("segpay: a one-click charge's outcome stayed unknown; it was not sent again", "key", key, "purchase_id", token, "amount", amount.String())
	return processor.ChargeResult{}, final
}

// expectLocked notes a one-click answered without a tranid (a decline): its
// TransPost, if Segpay sends one, is claimed now or when it comes, so it
// never settles another charge. Caller holds s.mu.
func (s *Segpay) expectLocked(token string, n saleNote) {
	for i := range s.st.OneClick[token] {
		o := &s.st.OneClick[token][i]
		if o.Claimed == "" && o.TranID != "" && !o.Approved && o.Amount == n.Amount && !o.At.Before(n.At.Add(-time.Minute)) {
			o.Claimed = n.Claimed
			return
		}
	}
	s.st.OneClick[token] = append(s.st.OneClick[token], n)
}

// noteSale records a TransPost sale (or an answered one-click) of a purchase
// id once by tranid; an unfilled expectation of the same outcome and amount
// takes its tranid.
func noteSale(st *state, token string, n saleNote) {
	list := st.OneClick[token]
	for i := range list {
		if list[i].TranID == n.TranID {
			if list[i].Claimed == "" {
				list[i].Claimed = n.Claimed
			}
			return
		}
	}
	if n.Claimed == "" {
		for i := range list {
			if list[i].TranID == "" && list[i].Approved == n.Approved && list[i].Amount == n.Amount {
				list[i].TranID = n.TranID
				return
			}
		}
	}
	st.OneClick[token] = append(list, n)
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
