package main

import (
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

// The fields of the hosted form that the request hash covers. A response is
// only believed when its hash covers at least these, so nobody can drop the
// amount or the order id from what the integrity key protects.
var hashFields = []string{"Ecom_Ezic_AccountAndSitetag", "Ecom_Ezic_Payment_AuthorizationType", "Ecom_Cost_Total", "Ecom_ConsumerOrderID"}

func md5Hex(parts ...string) string {
	h := md5.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// StartCheckout sends the viewer to NETbilling's hosted payment form with an
// auto-posted form: a SALE of the purchase, or, to store a card without a
// purchase, an AUTH of card_check_amount that the plugin voids when the
// viewer comes back. The transaction's id is the stored card: CS:<trans_id>.
func (n *NETbilling) StartCheckout(_ context.Context, req processor.StartCheckoutRequest) (processor.Checkout, error) {
	if err := processor.ValidateIdempotencyKey(req.IdempotencyKey); err != nil {
		return processor.Checkout{}, err
	}
	ret, err := url.Parse(req.ReturnURL)
	if err != nil || (ret.Scheme != "https" && ret.Scheme != "http") || ret.Host == "" {
		return processor.Checkout{}, errs.E(errs.Invalid, "netbilling: return URL %q must be absolute: NETbilling posts the viewer back to this site", req.ReturnURL)
	}
	origin := ret.Scheme + "://" + ret.Host
	giveUp := req.CancelURL
	switch {
	case giveUp == "":
		giveUp = req.ReturnURL
	case strings.HasPrefix(giveUp, "/") && !strings.HasPrefix(giveUp, "//"):
		giveUp = origin + giveUp
	default:
		if u, err := url.Parse(giveUp); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return processor.Checkout{}, errs.E(errs.Invalid, "netbilling: cancel URL %q must be absolute or a path", req.CancelURL)
		}
	}
	if req.Recurring != nil {
		return processor.Checkout{}, errs.E(errs.Unsupported, "netbilling: native recurring billing is not offered; charge the stored card instead")
	}
	if req.Purchase != nil {
		if err := processor.ValidateAmount(*req.Purchase, currencies); err != nil {
			return processor.Checkout{}, err
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.st == nil {
		return processor.Checkout{}, errs.Retry(errs.Unavailable, "netbilling processor is not configured yet")
	}
	key, print := "checkout/"+req.IdempotencyKey, processorkit.Fingerprint("checkout", req.CustomerRef, req.ReturnURL, req.CancelURL, req.Purchase, req.Description)
	if _, out, done, err := processorkit.Lookup[processor.Checkout](n.st.Idempotency, key, print); done {
		return out, err
	}
	now := n.now().UTC()
	ref := processorkit.NewRef("nb_co_")
	co := &checkoutRec{CustomerRef: req.CustomerRef, ReturnURL: req.ReturnURL, Description: req.Description, Purchase: req.Purchase,
		AuthType: "AUTH", Amount: money.Money{Amount: n.cfg.CardCheckAmount, Currency: "USD"}, ExpiresAt: now.Add(checkoutTTL)}
	if req.Purchase != nil {
		co.AuthType, co.Amount = "SALE", *req.Purchase
	}
	total, err := money.FormatDecimal(co.Amount)
	if err != nil {
		return processor.Checkout{}, errs.E(errs.Internal, "netbilling: %v", err)
	}
	desc := req.Description
	if desc == "" {
		desc = "Card on file"
	}
	fields := map[string]string{
		"Ecom_Ezic_AccountAndSitetag":         n.cfg.AccountID + ":" + n.cfg.SiteTag,
		"Ecom_Ezic_Payment_AuthorizationType": co.AuthType,
		"Ecom_Cost_Total":                     total,
		"Ecom_ConsumerOrderID":                ref,
		"Ecom_Receipt_Description":            desc,
		"Ecom_Ezic_Fulfillment_ReturnMethod":  "POST",
		"Ecom_Ezic_Fulfillment_ReturnURL":     origin + routePrefix + "/return",
		"Ecom_Ezic_Fulfillment_GiveUpURL":     giveUp,
		"Ecom_Ezic_Security_HashFields":       strings.Join(hashFields, " "),
	}
	parts := []string{n.cfg.IntegrityKey}
	for _, f := range hashFields {
		parts = append(parts, fields[f])
	}
	fields["Ecom_Ezic_Security_HashValue_MD5"] = md5Hex(parts...)
	out := processor.Checkout{Reference: ref, URL: n.cfg.FormURL, Method: http.MethodPost, Fields: fields, ExpiresAt: co.ExpiresAt}
	rec, err := processorkit.DoneRecord(print, out, now, now)
	if err != nil {
		return processor.Checkout{}, err
	}
	n.st.Checkouts[ref] = co
	n.st.Idempotency[key] = rec
	if err := n.saveLocked(); err != nil {
		return processor.Checkout{}, err
	}
	return out, nil
}

// formResult is a verified answer of the hosted form, from the viewer's
// return or NETbilling's postback.
type formResult struct {
	OrderID  string
	TransID  string
	Status   string
	AuthMsg  string
	AuthType string
	Amount   money.Money
	Issued   time.Time // zero if the answer carries no readable issue date
}

// verifyForm checks both hashes of a hosted-form answer. The request hash
// (Ecom_Ezic_Security_HashValue_MD5) proves the hashed fields are the ones
// this plugin signed; but the viewer saw it in the form, so alone it proves
// nothing about the outcome. Ecom_Ezic_ProofOfPurchase_MD5 binds the outcome:
// MD5(integrity key + transaction id + status code + the hashed fields).
func (n *NETbilling) verifyForm(v url.Values) (formResult, error) {
	listed := strings.Fields(v.Get("Ecom_Ezic_Security_HashFields"))
	if len(listed) == 0 || v.Get("Ecom_Ezic_Security_HashValue_MD5") == "" || v.Get("Ecom_Ezic_ProofOfPurchase_MD5") == "" {
		return formResult{}, errs.E(errs.Unauthenticated, "netbilling: answer without Ecom_Ezic_Security_HashFields, its MD5 hash or the proof of purchase")
	}
	for _, need := range hashFields {
		found := false
		for _, f := range listed {
			found = found || f == need
		}
		if !found {
			return formResult{}, errs.E(errs.Unauthenticated, "netbilling: the hash does not cover %s", need)
		}
	}
	values := ""
	for _, f := range listed {
		values += v.Get(f)
	}
	trans, status := v.Get("Ecom_Ezic_Response_TransactionID"), v.Get("Ecom_Ezic_Response_StatusCode")
	if !hashEqual(v.Get("Ecom_Ezic_Security_HashValue_MD5"), md5Hex(n.cfg.IntegrityKey, values)) ||
		!hashEqual(v.Get("Ecom_Ezic_ProofOfPurchase_MD5"), md5Hex(n.cfg.IntegrityKey, trans, status, values)) {
		return formResult{}, errs.E(errs.Unauthenticated, "netbilling: hash does not match (wrong integrity key or altered answer)")
	}
	// Authentic from here on; what follows is about its content.
	if v.Get("Ecom_Ezic_AccountAndSitetag") != n.cfg.AccountID+":"+n.cfg.SiteTag {
		return formResult{}, errs.E(errs.Invalid, "netbilling: answer for account %q, this is %s:%s", v.Get("Ecom_Ezic_AccountAndSitetag"), n.cfg.AccountID, n.cfg.SiteTag)
	}
	if trans == "" || strings.Trim(trans, "0123456789") != "" || status == "" {
		return formResult{}, errs.E(errs.Invalid, "netbilling: answer without a numeric transaction id and a status code")
	}
	// The unhashed copies of the signed outcome must agree with it: a
	// difference means the answer was altered on the way.
	if t := v.Get("Ecom_Ezic_TransactionId"); t != "" && t != trans {
		return formResult{}, errs.E(errs.Unauthenticated, "netbilling: Ecom_Ezic_TransactionId %s differs from the signed %s", t, trans)
	}
	if s := v.Get("Ecom_Ezic_TransactionStatus"); s != "" && s != status {
		return formResult{}, errs.E(errs.Unauthenticated, "netbilling: Ecom_Ezic_TransactionStatus %s differs from the signed %s", s, status)
	}
	amt, err := money.ParseDecimal(v.Get("Ecom_Cost_Total"), "USD")
	if err == nil && amt.Amount < 0 {
		err = money.ErrNegative // the plugin never asks for one; an event never carries one
	}
	if err != nil {
		return formResult{}, errs.E(errs.Invalid, "netbilling: Ecom_Cost_Total %q: %v", v.Get("Ecom_Cost_Total"), err)
	}
	r := formResult{OrderID: v.Get("Ecom_ConsumerOrderID"), TransID: trans, Status: status, AuthMsg: v.Get("Ecom_Ezic_Response_AuthMessage"),
		AuthType: v.Get("Ecom_Ezic_Payment_AuthorizationType"), Amount: amt}
	// The issue date only dates the event: an unreadable one is not a
	// reason to lose an authentic answer.
	if t, err := time.Parse("2006-01-02 15:04:05", v.Get("Ecom_Ezic_Response_IssueDate")); err == nil {
		r.Issued = t
	}
	return r, nil
}

func hashEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(want)) == 1
}

// record applies a verified answer to its checkout, once. It reports whether
// the checkout was changed. An approval replaces a recorded decline (the
// viewer tried another card on the form); a decline never replaces an
// approval, and neither does a second approval.
func (n *NETbilling) record(st *state, r formResult) (*checkoutRec, bool, error) {
	co := st.Checkouts[r.OrderID]
	declined := (directResponse{StatusCode: r.Status, TransID: r.TransID, AuthMsg: r.AuthMsg}).err()
	switch {
	case co == nil:
		return nil, false, errs.E(errs.NotFound, "netbilling: no checkout %q", r.OrderID)
	case r.Amount != co.Amount || r.AuthType != co.AuthType:
		return nil, false, errs.E(errs.Invalid, "netbilling: answer for %s %s, checkout %s asked %s %s", r.AuthType, r.Amount, r.OrderID, co.AuthType, co.Amount)
	case co.TransID == r.TransID:
		return co, false, nil
	case co.TransID != "" && (co.Decline == nil || declined != nil):
		return nil, false, errs.E(errs.Conflict, "netbilling: checkout %s already completed by transaction %s", r.OrderID, co.TransID)
	}
	co.TransID, co.Decline = r.TransID, nil
	if declined != nil {
		co.Decline = processorkit.AsError(declined)
		return co, true, nil
	}
	if co.AuthType == "SALE" {
		st.Payments[r.TransID] = &payment{Amount: co.Amount}
	}
	return co, true, nil
}

func (n *NETbilling) CompleteCheckout(_ context.Context, req processor.CompleteCheckoutRequest) (processor.CheckoutResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.st == nil {
		return processor.CheckoutResult{}, errs.Retry(errs.Unavailable, "netbilling processor is not configured yet")
	}
	co := n.st.Checkouts[req.CheckoutReference]
	switch {
	case co == nil:
		return processor.CheckoutResult{}, errs.E(errs.NotFound, "netbilling: no checkout %q", req.CheckoutReference)
	case req.CustomerRef != "" && req.CustomerRef != co.CustomerRef:
		return processor.CheckoutResult{}, errs.E(errs.Forbidden, "netbilling: checkout %s belongs to another customer", req.CheckoutReference)
	case co.TransID == "":
		// NETbilling's postback may still be on its way.
		return processor.CheckoutResult{Pending: true}, nil
	case co.Decline != nil:
		e := *co.Decline
		return processor.CheckoutResult{}, &e
	}
	res := processor.CheckoutResult{Credential: &processor.StoredCredential{Token: "CS:" + co.TransID, CustomerRef: co.CustomerRef}}
	if co.AuthType == "SALE" {
		res.Charge = &processor.ChargeResult{Reference: co.TransID, Amount: co.Amount}
	}
	return res, nil
}

// ServeHTTP answers /pay/netbilling/return, where NETbilling's form posts the
// viewer back: the answer is verified and recorded, a card check is voided,
// and the viewer goes on to the host's return URL.
func (n *NETbilling) ServeHTTP(ctx context.Context, req processor.HTTPRequest) (processor.HTTPResponse, error) {
	if strings.TrimPrefix(req.Path, routePrefix) != "/return" {
		return textResponse(http.StatusNotFound, "not found"), nil
	}
	v := req.Query
	if req.Method == http.MethodPost {
		form, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return textResponse(http.StatusBadRequest, "malformed form"), nil
		}
		v = form
	} else if req.Method != http.MethodGet {
		r := textResponse(http.StatusMethodNotAllowed, "method not allowed")
		r.Headers.Set("Allow", "GET, POST")
		return r, nil
	}
	n.mu.Lock()
	if n.st == nil {
		n.mu.Unlock()
		return textResponse(http.StatusServiceUnavailable, "netbilling processor is not configured yet"), nil
	}
	r, err := n.verifyForm(v)
	if err != nil {
		n.mu.Unlock()
		return textResponse(http.StatusBadRequest, "this payment answer could not be verified"), nil
	}
	co, changed, err := n.record(n.st, r)
	if err != nil {
		n.mu.Unlock()
		return textResponse(http.StatusBadRequest, "this payment answer does not match its checkout"), nil
	}
	if changed {
		if err := n.saveLocked(); err != nil {
			n.mu.Unlock()
			return processor.HTTPResponse{}, err
		}
	}
	ref, status, voidCheck := r.OrderID, "approved", co.AuthType == "AUTH" && co.Decline == nil && !co.CheckVoided && co.Amount.Amount > 0
	if co.Decline != nil {
		status = "declined"
	}
	back := processorkit.WithQuery(co.ReturnURL, url.Values{"checkout": {ref}, "status": {status}})
	n.mu.Unlock()

	if voidCheck {
		n.voidCardCheck(ctx, ref, r.TransID)
	}
	h := pageHeaders("text/plain; charset=utf-8")
	h.Set("Location", back)
	return processor.HTTPResponse{Status: http.StatusSeeOther, Headers: h}, nil
}

// voidCardCheck releases the AUTH that stored the card. Best effort: if it
// fails the authorisation lapses by itself within days.
func (n *NETbilling) voidCardCheck(ctx context.Context, ref, transID string) {
	n.mu.Lock()
	n.st.Holds[transID] = &hold{Token: "CS:" + transID, Amount: n.st.Checkouts[ref].Amount, Status: holdOpen, ExpiresAt: n.now().Add(24 * time.Hour)}
	n.mu.Unlock()
	if _, err := run(ctx, n, n.voidCall("checkout/"+ref+"/void-check", transID)); err == nil {
		n.mu.Lock()
		n.st.Checkouts[ref].CheckVoided = true
		n.saveLocked()
		n.mu.Unlock()
	}
}

func pageHeaders(contentType string) http.Header {
	return processorkit.PageHeaders(contentType, "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
}

func textResponse(status int, msg string) processor.HTTPResponse {
	return processor.HTTPResponse{Status: status, Headers: pageHeaders("text/plain; charset=utf-8"), Body: []byte(msg + "\n")}
}
