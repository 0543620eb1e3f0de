package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

// ParseWebhook reads a TransPost (payment, refund, void, chargeback) or a
// member postback (Inquiry, Enable, Disable, Cancel...). Segpay fills macros
// into the URL registered in its portal; the plugin reads query and body alike.
// Segpay's postbacks carry no signature or timestamp: the source address is
// their only authentication. An authentic redelivery is accepted with the
// same event id (the transaction id, or the member action and purchase id):
// the host drops it as a duplicate once it has recorded the first.
func (s *Segpay) ParseWebhook(_ context.Context, req processor.WebhookRequest) (processor.WebhookResult, error) {
	cfg, err := s.configured()
	if err != nil {
		return processor.WebhookResult{}, err
	}
	if addr, ok := cfg.allowed.Allows(req.RemoteAddr); !ok {
		return processor.WebhookResult{}, errs.E(errs.Unauthenticated, "segpay postback from %s: not among settings.allowed_ips", addr)
	}
	f, err := postbackFields(req)
	if err != nil {
		return processor.WebhookResult{}, err
	}
	now := s.now().UTC()
	ev, ok, err := normalise(f, now)
	if err != nil {
		return processor.WebhookResult{}, err
	}
	if !ok {
		// Acknowledged, or Segpay keeps posting it; logged for the operator.
		s.log.Warn("segpay: postback acknowledged; camkit books nothing for it", "trantype", f.Get("trantype"), "action", f.Get("action"),
			"approved", f.Get("approved"), "tranid", f.Get("tranid"), "purchaseid", f.Get("purchaseid"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok && (ev.Type == processor.EventSale || ev.Type == processor.EventRebill) {
		s.applySaleLocked(f, ev)
	}
	if err := s.saveLocked(); err != nil {
		return processor.WebhookResult{}, err
	}
	out := processor.WebhookResult{Response: processorkit.PlainResponse(http.StatusOK, "OK")}
	if ok {
		out.Events = []processor.Event{ev}
	}
	return out, nil
}

// applySaleLocked records what a sale tells the plugin: a hosted checkout's
// purchase id, or the transaction of a one-click charge whose answer was lost.
func (s *Segpay) applySaleLocked(f url.Values, ev processor.Event) {
	if co := s.st.Checkouts[f.Get("camkit_ref")]; co != nil && co.PurchaseID == "" && co.Decline == nil {
		if ev.DeclineCode != "" {
			co.Decline = &errs.Error{Code: ev.DeclineCode, Message: "segpay: purchase declined: " + ev.Reason}
		} else if ev.Amount == co.Purchase {
			co.PurchaseID, co.TranID = f.Get("purchaseid"), ev.Reference
			if b, l := f.Get("cardtype"), f.Get("last4"); b != "" || l != "" {
				co.Card = &cardSummary{Brand: b, Last4: l}
			}
			s.st.Payments[ev.Reference] = &payment{Amount: ev.Amount}
		}
	}
	// Any other sale on a stored card may be the outcome of a one-click
	// charge whose answer was lost (a one-click on a one-time purchase is
	// posted as a rebill of the original purchase id).
	if p := f.Get("purchaseid"); digits(p) && s.st.Payments[ev.Reference] == nil {
		noteSale(s.st, p, saleNote{TranID: ev.Reference, Amount: ev.Amount, Approved: ev.DeclineCode == "", Reason: ev.Reason, At: ev.OccurredAt})
	}
}

func postbackFields(req processor.WebhookRequest) (url.Values, error) {
	f := url.Values{}
	for k, v := range req.Query {
		f[strings.ToLower(k)] = v
	}
	if len(req.Body) > 0 {
		body, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return nil, errs.E(errs.Invalid, "segpay postback: malformed body: %v", err)
		}
		for k, v := range body {
			f[strings.ToLower(k)] = v
		}
	}
	return f, nil
}

func digits(s string) bool { return s != "" && len(s) <= 32 && strings.Trim(s, "0123456789") == "" }

func normalise(f url.Values, now time.Time) (processor.Event, bool, error) {
	trantype := strings.ToLower(f.Get("trantype"))
	action := strings.ToLower(f.Get("action"))
	purchase := f.Get("purchaseid")
	if trantype == "" {
		// A member postback: access and membership changes, no money.
		if action == "" || !digits(purchase) {
			return processor.Event{}, false, errs.E(errs.Invalid, "segpay postback: neither trantype nor action with a purchaseid")
		}
		ev := processor.Event{ID: "member:" + action + ":" + purchase, SubscriptionReference: purchase, OccurredAt: now, Reason: f.Get("reason")}
		switch action {
		case "cancel", "cancellation":
			ev.Type = processor.EventCancel
		case "disable", "expire", "expiration":
			ev.Type = processor.EventExpire
		default: // inquiry, enable, reactivation, probe and any other: no money
			return ev, false, nil
		}
		return ev, true, nil
	}
	tranid := f.Get("tranid")
	if !digits(tranid) {
		return processor.Event{}, false, errs.E(errs.Invalid, "segpay TransPost without a numeric tranid")
	}
	cur, err := money.Normalize(f.Get("currencycode"))
	if err != nil {
		return processor.Event{}, false, errs.E(errs.UnknownCurrency, "segpay TransPost: currencycode %q: %v", f.Get("currencycode"), err)
	}
	price := strings.TrimPrefix(f.Get("price"), "-") // refunds may be sent negative
	amount, err := money.ParseDecimal(price, cur)
	if err != nil || price == "" || amount.Amount < 0 { // one minus sign is Segpay's, a second is not
		return processor.Event{}, false, errs.E(errs.Invalid, "segpay TransPost: price %q is not a %s amount", f.Get("price"), cur)
	}
	ev := processor.Event{ID: "tx:" + tranid, Reference: tranid, RelatedReference: f.Get("relatedtranid"),
		SubscriptionReference: purchase, CheckoutReference: f.Get("camkit_ref"), Amount: amount, OccurredAt: now}
	if g := f.Get("transguid"); g != "" {
		ev.ID += ":" + g
	}
	approved := strings.EqualFold(f.Get("approved"), "yes")
	// Segpay posts a void of a sale as trantype=sale with action=void
	// (Dimamolchanov/segpay_qa_automation postback_service.py: trans type
	// 107 is expected as trantype "sale", action "void"; a refund, 102, as
	// trantype "credit"). trantype=charge is a chargeback, never a sale.
	switch {
	case trantype == "sale" && action == "void":
		trantype = "void"
	case trantype == "charge":
		trantype = "chargeback"
	}
	switch trantype {
	case "sale":
		ev.Type = processor.EventSale
		if st := strings.ToLower(f.Get("stage")); st == "rebill" || st == "conversion" {
			ev.Type = processor.EventRebill
		}
		if !approved {
			ev.DeclineCode = errs.CodeOf(declineErr("segpay", f.Get("reason")))
			if !errs.IsDecline(&errs.Error{Code: ev.DeclineCode}) {
				ev.DeclineCode = errs.Declined
			}
			ev.Reason = f.Get("reason")
		}
	case "credit", "refund":
		ev.Type = processor.EventRefund
	case "void":
		ev.Type = processor.EventVoid
	case "chargeback":
		ev.Type, ev.Reason = processor.EventChargeback, f.Get("reason")
	default:
		return ev, false, nil // a trantype camkit does not know: acknowledged and logged
	}
	if ev.Type != processor.EventSale && ev.Type != processor.EventRebill {
		if !approved {
			return ev, false, nil // a refused refund or void moved nothing
		}
		if !digits(ev.RelatedReference) {
			return processor.Event{}, false, errs.E(errs.Invalid, "segpay TransPost: %s without relatedtranid", trantype)
		}
	}
	return ev, true, nil
}
