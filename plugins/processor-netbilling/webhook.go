package main

import (
	"context"
	"net/http"
	"net/url"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// ParseWebhook verifies a NETbilling postback (the hosted form's answer, sent
// server to server) by its MD5 hashes and turns it into a sale or auth event
// of a checkout this plugin started, at the amount it recorded, whose id is
// the transaction id.
//
// The hashes concatenate the hashed fields without separators, so a genuine
// hash also covers the same characters split differently (19.99 + "ck1" is
// 19.9 + "9ck1"): an authentic answer proves only its characters. So nothing
// but the plugin's own checkout speaks for what was bought: an answer for an
// order it did not start, for another amount or type than the checkout asked,
// or completing a checkout another transaction already completed gives no
// event; it is acknowledged (NETbilling would post it again otherwise) and
// logged. The issue date is not a reason to refuse: NETbilling redelivers
// until it gets an answer, and the host drops a redelivery by event id.
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
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	ack := processor.WebhookResult{Response: processor.HTTPResponse{Status: http.StatusOK, Headers: h, Body: []byte("OK")}}
	r, err := n.verifyForm(v)
	if errs.CodeOf(err) == errs.Unauthenticated {
		return processor.WebhookResult{}, err
	}
	// The plugin signs only SALE and AUTH forms: another type is not a
	// NETbilling answer to one of them (it documents no refund or
	// chargeback postback), so it is refused rather than guessed at.
	if at := v.Get("Ecom_Ezic_Payment_AuthorizationType"); at != "SALE" && at != "AUTH" {
		return processor.WebhookResult{}, errs.E(errs.Invalid, "netbilling postback %s: authorization type %q", v.Get("Ecom_Ezic_Response_TransactionID"), at)
	}
	if err != nil {
		n.warn("netbilling: an authentic postback with unusable content was acknowledged without an event", err, v)
		return ack, nil
	}
	co, changed, err := n.record(n.st, r)
	if err != nil {
		n.warn("netbilling: an authentic postback that matches no checkout of this plugin was acknowledged without an event", err, v)
		return ack, nil
	}
	if changed {
		if err := n.saveLocked(); err != nil {
			return processor.WebhookResult{}, err
		}
	}
	occurred := r.Issued.UTC()
	if r.Issued.IsZero() {
		occurred = n.now().UTC()
	}
	ev := processor.Event{ID: co.TransID, Reference: co.TransID, CheckoutReference: r.OrderID, CustomerRef: co.CustomerRef, Amount: co.Amount,
		OccurredAt: occurred, Credential: &processor.StoredCredential{Token: "CS:" + co.TransID, CustomerRef: co.CustomerRef}}
	ev.Type = processor.EventAuth
	if co.AuthType == "SALE" {
		ev.Type = processor.EventSale
	}
	if co.Decline != nil {
		ev.DeclineCode, ev.Credential = co.Decline.Code, nil
	}
	ack.Events = []processor.Event{ev}
	return ack, nil
}

func (n *NETbilling) warn(msg string, err error, v url.Values) {
	if n.log == nil {
		return
	}
	n.log.Warn(msg, "reason", err.Error(), "order", v.Get("Ecom_ConsumerOrderID"), "trans_id", v.Get("Ecom_Ezic_Response_TransactionID"),
		"total", v.Get("Ecom_Cost_Total"), "authorization_type", v.Get("Ecom_Ezic_Payment_AuthorizationType"))
}
