package main

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// futureSkew tolerates NETbilling's issue dates, which are local to its
// zone rather than UTC.
const futureSkew = 15 * time.Hour

// ParseWebhook verifies a NETbilling postback (the hosted form's answer, sent
// server to server) by its MD5 hashes, refuses an issue date older than
// postback_max_age, records the outcome on its checkout and normalises it
// into a sale or auth event whose id is the transaction id. An authentic
// redelivery is accepted with the same id: the host drops it as a duplicate
// once it has recorded the first.
func (n *NETbilling) ParseWebhook(_ context.Context, req processor.WebhookRequest) (processor.WebhookResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.st == nil {
		return processor.WebhookResult{}, errs.Retry(errs.Unavailable, "netbilling processor is not configured yet")
	}
	if err := n.allowed.Check("netbilling postback", "postback_allowed_cidrs", req.RemoteAddr); err != nil {
		return processor.WebhookResult{}, err
	}
	v := req.Query
	if len(req.Body) > 0 {
		form, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return processor.WebhookResult{}, errs.E(errs.Unauthenticated, "netbilling postback: malformed form body")
		}
		v = form
	}
	r, err := n.verifyForm(v)
	if err != nil {
		return processor.WebhookResult{}, err
	}
	now := n.now()
	if r.Issued.IsZero() {
		return processor.WebhookResult{}, errs.E(errs.Invalid, "netbilling postback %s: no Ecom_Ezic_Response_IssueDate", r.TransID)
	}
	if age := now.Sub(r.Issued); age > n.maxAge || age < -futureSkew {
		return processor.WebhookResult{}, errs.E(errs.Unauthenticated, "netbilling postback %s: issued %s, outside postback_max_age %s (stale or replayed)", r.TransID, r.Issued.Format(time.RFC3339), n.maxAge)
	}
	ev := processor.Event{ID: r.TransID, Reference: r.TransID, CheckoutReference: r.OrderID, Amount: r.Amount, OccurredAt: r.Issued.UTC(),
		Credential: &processor.StoredCredential{Token: "CS:" + r.TransID}}
	switch r.AuthType {
	case "SALE":
		ev.Type = processor.EventSale
	case "AUTH":
		ev.Type = processor.EventAuth
	default:
		return processor.WebhookResult{}, errs.E(errs.Invalid, "netbilling postback %s: authorization type %q", r.TransID, r.AuthType)
	}
	if err := (directResponse{StatusCode: r.Status, TransID: r.TransID, AuthMsg: r.AuthMsg}).err(); err != nil {
		if !errs.IsDecline(err) {
			return processor.WebhookResult{}, errs.E(errs.Invalid, "netbilling postback %s: status %q", r.TransID, r.Status)
		}
		ev.DeclineCode, ev.Credential = errs.CodeOf(err), nil
	}
	if co := n.st.Checkouts[r.OrderID]; co != nil {
		ev.CustomerRef = co.CustomerRef
		if _, _, err := n.record(n.st, r); err != nil {
			return processor.WebhookResult{}, err
		}
	}
	if err := n.saveLocked(); err != nil {
		return processor.WebhookResult{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	return processor.WebhookResult{Events: []processor.Event{ev}, Response: processor.HTTPResponse{Status: http.StatusOK, Headers: h, Body: []byte("OK")}}, nil
}
