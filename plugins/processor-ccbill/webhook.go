package main

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

// CCBill's webhook timestamps carry no zone; they are read as Arizona time
// (UTC-7, no DST), where CCBill is. Unconfirmed: it only dates the event
// (OccurredAt), nothing is refused for it.
var ccbillZone = time.FixedZone("MST", -7*3600)

// amountFields lists where each event carries its amount, and the currency
// fields that go with it, most specific first: billed* is what the viewer paid.
var amountFields = []struct{ amount, numeric, alpha string }{
	{"billedInitialPrice", "billedCurrencyCode", "billedCurrency"},
	{"billedAmount", "billedCurrencyCode", "billedCurrency"},
	{"amount", "currencyCode", "currency"},
	{"accountingInitialPrice", "accountingCurrencyCode", "accountingCurrency"},
	{"accountingAmount", "accountingCurrencyCode", "accountingCurrency"},
}

func (c *CCBill) ParseWebhook(_ context.Context, req processor.WebhookRequest) (processor.WebhookResult, error) {
	cfg, err := c.configured()
	if err != nil {
		return processor.WebhookResult{}, err
	}
	if addr, ok := cfg.allowed.Allows(req.RemoteAddr); !ok {
		return processor.WebhookResult{}, errs.E(errs.Unauthenticated, "ccbill webhook from %s: not among settings.allowed_ips", addr)
	}
	fields, err := webhookFields(req)
	if err != nil {
		return processor.WebhookResult{}, err
	}
	eventType := req.Query.Get("eventType")
	if eventType == "" {
		eventType = fields["eventType"]
	}
	if eventType == "" {
		return processor.WebhookResult{}, errs.E(errs.Invalid, "ccbill webhook: no eventType (CCBill appends ?eventType=... to the URL)")
	}
	now := c.now()
	// No age limit: CCBill posts again until it gets a 2xx, and an authentic
	// redelivery is accepted however late (the host records each event id
	// once). A timestamp only dates the event.
	ts, err := parseTimestamp(fields["timestamp"])
	if err != nil {
		c.log.Warn("ccbill: webhook timestamp unreadable; the event is dated when it arrived", "event_type", eventType,
			"timestamp", fields["timestamp"], "subscription_id", fields["subscriptionId"])
		ts = now
	}
	ev, ok, err := normalise(eventType, fields, ts)
	if err != nil {
		return processor.WebhookResult{}, err
	}
	if !ok {
		// Acknowledged, or CCBill keeps retrying; logged for the operator.
		c.log.Warn("ccbill: webhook acknowledged; it moves no money camkit books", "event_type", eventType,
			"subscription_id", fields["subscriptionId"], "transaction_id", fields["transactionId"])
	}

	// An authentic redelivery is not refused: CCBill sends again until it
	// gets a 2xx, and the host drops what it already recorded by event id.
	// A Refund is noted once, to settle a refund whose answer was lost.
	if ok && ev.Type == processor.EventRefund {
		c.mu.Lock()
		err := c.noteRefundLocked(ev, now)
		c.mu.Unlock()
		if err != nil {
			return processor.WebhookResult{}, err
		}
	}
	out := processor.WebhookResult{Response: processorkit.PlainResponse(http.StatusOK, "OK")}
	if ok {
		out.Events = []processor.Event{ev}
	}
	return out, nil
}

// noteRefundLocked remembers a Refund webhook of a subscription once: it
// fills the placeholder of a refund that succeeded and awaited it, or is
// kept to settle a refund whose answer was lost.
func (c *CCBill) noteRefundLocked(ev processor.Event, now time.Time) error {
	list := c.st.Refunds[ev.RelatedReference]
	for _, r := range list {
		if r.EventID == ev.ID {
			return nil
		}
	}
	for i := range list {
		if list[i].EventID == "" && list[i].Amount == ev.Amount {
			list[i].EventID = ev.ID
			return c.saveLocked()
		}
	}
	c.st.Refunds[ev.RelatedReference] = append(list, refundRec{EventID: ev.ID, Amount: ev.Amount, At: now.UTC()})
	return c.saveLocked()
}

// webhookFields reads a JSON or form-encoded body into flat strings.
func webhookFields(req processor.WebhookRequest) (map[string]string, error) {
	ct, _, _ := mime.ParseMediaType(processorkit.HeaderValue(req.Headers, "Content-Type"))
	body := bytes.TrimSpace(req.Body)
	out := map[string]string{}
	if ct == "application/json" || (ct == "" && bytes.HasPrefix(body, []byte("{"))) {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber() // ids and amounts keep their digits
		if err := dec.Decode(&m); err != nil {
			return nil, errs.E(errs.Invalid, "ccbill webhook: malformed JSON: %v", err)
		}
		for k, v := range m {
			switch x := v.(type) {
			case nil:
			case string:
				out[k] = x
			case json.Number:
				out[k] = x.String()
			case bool:
				out[k] = strconv.FormatBool(x)
			default: // nested values carry nothing camkit reads
			}
		}
		return out, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errs.E(errs.Invalid, "ccbill webhook: malformed form body: %v", err)
	}
	for k, v := range form {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out, nil
}

func parseTimestamp(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errs.E(errs.Invalid, "ccbill webhook: no timestamp")
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", s, ccbillZone); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, errs.E(errs.Invalid, "ccbill webhook: malformed timestamp %q", s)
}

// eventAmount reads the event's amount exactly from its decimal text.
func eventAmount(f map[string]string) (money.Money, bool, error) {
	for _, af := range amountFields {
		raw := f[af.amount]
		if raw == "" {
			continue
		}
		var cur money.Currency
		var err error
		if n := f[af.numeric]; n != "" {
			num, aerr := strconv.Atoi(n)
			if aerr != nil {
				return money.Money{}, false, errs.E(errs.Invalid, "ccbill webhook: %s %q is not a numeric ISO 4217 code", af.numeric, n)
			}
			cur, err = money.LookupNumeric(num)
		} else if a := f[af.alpha]; a != "" {
			cur, err = money.Lookup(strings.ToUpper(a))
		} else {
			return money.Money{}, false, errs.E(errs.Invalid, "ccbill webhook: %s without %s or %s", af.amount, af.numeric, af.alpha)
		}
		if err != nil {
			return money.Money{}, false, errs.E(errs.UnknownCurrency, "ccbill webhook: %v", err)
		}
		m, err := money.ParseDecimal(raw, cur.Code)
		if err != nil {
			return money.Money{}, false, errs.E(errs.Invalid, "ccbill webhook: %s %q: %v", af.amount, raw, err)
		}
		return m, true, nil
	}
	return money.Money{}, false, nil
}

// ignoredEvents are CCBill's documented events that move no money camkit
// books (datinglibre/ccbill CcBillEventMapper lists the set): acknowledged
// and logged. An UpgradeFailure charged nothing; a UserReactivation reopens a
// subscription camkit never started (REST charges are single billings).
var ignoredEvents = map[string]bool{"BillingDateChange": true, "UpgradeFailure": true, "CustomerDataUpdate": true, "UserReactivation": true}

// normalise turns one CCBill event into camkit's vocabulary. ok is false for
// events camkit does not book: the documented ones that move no money
// (ignoredEvents) and any type CCBill may add later, which are acknowledged
// too, since refusing them only makes CCBill post them again.
func normalise(eventType string, f map[string]string, ts time.Time) (processor.Event, bool, error) {
	if ignoredEvents[eventType] || !knownEvents[eventType] {
		return processor.Event{}, false, nil
	}
	sub := f["subscriptionId"]
	if sub == "" || strings.Trim(sub, "0123456789") != "" {
		return processor.Event{}, false, errs.E(errs.Invalid, "ccbill webhook: %s without a numeric subscriptionId", eventType)
	}
	tx := f["transactionId"]
	id := eventType + ":" + sub + ":" + tx
	if tx == "" {
		id = eventType + ":" + sub + ":" + f["timestamp"]
	}
	ev := processor.Event{ID: id, Reference: tx, SubscriptionReference: sub, OccurredAt: ts.UTC(),
		CustomerRef: firstOf(f, "X-camkitCustomer", "camkitCustomer")}
	amount, hasAmount, err := eventAmount(f)
	if err != nil {
		return processor.Event{}, false, err
	}
	ev.Amount = amount
	needAmount := true
	failure := func() {
		reason := firstOf(f, "failureReason", "reason")
		code := firstOf(f, "failureCode", "declineCode")
		ev.DeclineCode = errs.CodeOf(declineErr(code, reason, ""))
		if !errs.IsDecline(&errs.Error{Code: ev.DeclineCode}) {
			ev.DeclineCode = errs.Declined // a system error still failed this attempt
		}
		ev.Reason = strings.TrimSpace(code + " " + reason)
		needAmount = false
	}
	switch eventType {
	case "NewSaleSuccess", "UpSaleSuccess", "UpgradeSuccess": // an upgrade is a new sale on the new subscriptionId
		// A REST charge's reference is its subscriptionId: the sale event names the same.
		ev.Type, ev.Reference = processor.EventSale, sub
		ev.Credential = cardOf(f)
	case "NewSaleFailure", "UpSaleFailure":
		ev.Type, ev.Reference = processor.EventSale, sub
		failure()
	case "RenewalSuccess":
		ev.Type, ev.RelatedReference = processor.EventRebill, sub
	case "RenewalFailure":
		ev.Type, ev.RelatedReference = processor.EventRebill, sub
		failure()
	case "Refund":
		ev.Type, ev.RelatedReference, ev.Reason = processor.EventRefund, sub, f["reason"]
	case "Void":
		ev.Type, ev.RelatedReference, ev.Reason = processor.EventVoid, sub, f["reason"]
	case "Chargeback":
		ev.Type, ev.RelatedReference, ev.Reason = processor.EventChargeback, sub, f["reason"]
	case "Return": // a returned bank debit: money comes back like a chargeback
		ev.Type, ev.RelatedReference, ev.Reason = processor.EventChargeback, sub, strings.TrimSpace("return "+f["reason"])
	case "Cancellation":
		ev.Type, ev.Reason, needAmount = processor.EventCancel, f["reason"], false
	case "Expiration":
		ev.Type, needAmount = processor.EventExpire, false
	}
	if needAmount && !hasAmount {
		return processor.Event{}, false, errs.E(errs.Invalid, "ccbill webhook: %s without an amount and currency", eventType)
	}
	if hasAmount && amount.Amount < 0 {
		return processor.Event{}, false, errs.E(errs.Invalid, "ccbill webhook: negative amount %s", amount)
	}
	return ev, true, nil
}

// knownEvents are the event types normalise books.
var knownEvents = map[string]bool{"NewSaleSuccess": true, "UpSaleSuccess": true, "UpgradeSuccess": true, "NewSaleFailure": true,
	"UpSaleFailure": true, "RenewalSuccess": true, "RenewalFailure": true, "Refund": true, "Void": true, "Chargeback": true,
	"Return": true, "Cancellation": true, "Expiration": true}

func firstOf(f map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := f[k]; v != "" {
			return v
		}
	}
	return ""
}

// cardOf reads what a receipt may show of the card (never a number).
func cardOf(f map[string]string) *processor.StoredCredential {
	tok := firstOf(f, "paymentTokenId", "X-paymentTokenId")
	if tok == "" {
		return nil
	}
	c := &processor.StoredCredential{Token: tok, Brand: f["cardType"], Last4: f["last4"], CustomerRef: firstOf(f, "X-camkitCustomer", "camkitCustomer")}
	if exp := f["expDate"]; len(exp) == 4 { // MMYY
		m, err1 := strconv.Atoi(exp[:2])
		y, err2 := strconv.Atoi(exp[2:])
		if err1 == nil && err2 == nil && m >= 1 && m <= 12 {
			c.ExpMonth, c.ExpYear = m, 2000+y
		}
	}
	return c
}
