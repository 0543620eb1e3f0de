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

// DataPlus transaction types and what they mean to camkit.
var dataPlusTypes = map[string]processor.EventType{
	"S": processor.EventSale,       // initial sale
	"N": processor.EventRebill,     // rebill
	"U": processor.EventRebill,     // trial conversion ("upgrade")
	"C": processor.EventRefund,     // credit
	"D": processor.EventChargeback, // chargeback
	"X": processor.EventVoid,
	"A": processor.EventVoid,
}

// ParseWebhook reads a FlexPost postback (it has "ans") or a DataPlus push
// (ets_* fields), from Epoch's addresses only (Epoch signs neither). An
// authentic redelivery is accepted with the same event id, built from Epoch's
// transaction id, so the host drops it as a duplicate once it has recorded
// the first; a sale reported by both FlexPost and DataPlus is one event.
func (e *Epoch) ParseWebhook(_ context.Context, req processor.WebhookRequest) (processor.WebhookResult, error) {
	cfg, err := e.configured()
	if err != nil {
		return processor.WebhookResult{}, err
	}
	if addr, ok := cfg.allowed.Allows(req.RemoteAddr); !ok {
		return processor.WebhookResult{}, errs.E(errs.Unauthenticated, "epoch postback from %s: not among settings.allowed_ips", addr)
	}
	f := url.Values{}
	for k, v := range req.Query {
		f[strings.ToLower(k)] = v
	}
	if len(req.Body) > 0 {
		body, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return processor.WebhookResult{}, errs.E(errs.Invalid, "epoch postback: malformed body: %v", err)
		}
		for k, v := range body {
			f[strings.ToLower(k)] = v
		}
	}
	now := e.now().UTC()
	var ev processor.Event
	switch {
	case f.Get("ans") != "":
		ev, err = e.flexPost(cfg, f, now)
	case f.Get("ets_transaction_id") != "":
		ev, err = dataPlus(cfg, f, now)
	default:
		err = errs.E(errs.Invalid, "epoch postback: neither a FlexPost answer (ans) nor a DataPlus event (ets_transaction_id)")
	}
	if err != nil {
		return processor.WebhookResult{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if co := e.st.Checkouts[f.Get("x_camkit_ref")]; co != nil && f.Get("ans") != "" && co.TransID == "" && co.Decline == nil {
		if ev.DeclineCode != "" {
			co.Decline = &errs.Error{Code: ev.DeclineCode, Message: "epoch: purchase declined: " + ev.Reason}
		} else {
			co.TransID, co.OrderID, co.MemberID = ev.Reference, f.Get("order_id"), f.Get("member_id")
		}
	}
	if err := e.saveLocked(); err != nil {
		return processor.WebhookResult{}, err
	}
	return processor.WebhookResult{Events: []processor.Event{ev}, Response: processorkit.PlainResponse(http.StatusOK, "OK")}, nil
}

func digits(s string) bool { return s != "" && len(s) <= 32 && strings.Trim(s, "0123456789") == "" }

// flexPost normalises the postback of a hosted purchase.
func (e *Epoch) flexPost(cfg *settings, f url.Values, now time.Time) (processor.Event, error) {
	ans := f.Get("ans")
	pp, ok := cfg.byPiCode[f.Get("pi_code")]
	if !ok {
		return processor.Event{}, errs.E(errs.Invalid, "epoch postback: pi_code %q is not in settings.price_points", f.Get("pi_code"))
	}
	order := f.Get("order_id")
	if !digits(order) {
		return processor.Event{}, errs.E(errs.Invalid, "epoch postback without a numeric order_id")
	}
	ev := processor.Event{Type: processor.EventSale, CheckoutReference: f.Get("x_camkit_ref"), CustomerRef: f.Get("x_camkit_customer"), OccurredAt: now}
	amount := money.Money{Amount: pp.Amount, Currency: pp.Currency}
	if a := f.Get("amount"); a != "" {
		m, err := money.ParseDecimal(a, pp.Currency)
		if err != nil || m.Amount < 0 {
			return processor.Event{}, errs.E(errs.Invalid, "epoch postback: amount %q is not a %s amount", a, pp.Currency)
		}
		amount = m
	}
	ev.Amount = amount
	switch ans[0] {
	case 'Y':
		tx := f.Get("transaction_id")
		if !digits(tx) {
			return processor.Event{}, errs.E(errs.Invalid, "epoch postback: approved without a numeric transaction_id")
		}
		ev.ID, ev.Reference = "sale:"+tx, tx
		if member := f.Get("member_id"); member != "" {
			ev.Credential = &processor.StoredCredential{Token: member, CustomerRef: ev.CustomerRef}
			if pp.RecurringDays > 0 {
				ev.SubscriptionReference = member
			}
		}
		if amount.Amount == 0 {
			return processor.Event{}, errs.E(errs.Invalid, "epoch postback: an approved sale of nothing")
		}
	case 'N':
		ev.ID, ev.Reference, ev.Reason = "declined:"+order, order, ans[1:]
		ev.DeclineCode = declineCode(ans[1:])
	default:
		return processor.Event{}, errs.E(errs.Invalid, "epoch postback: ans %q starts with neither Y nor N", ans)
	}
	return ev, nil
}

// declineCode reads Epoch's decline text after the N.
func declineCode(text string) errs.Code {
	t := strings.ToLower(text)
	switch {
	case strings.Contains(t, "insufficient") || strings.Contains(t, "nsf"):
		return errs.InsufficientFunds
	case strings.Contains(t, "expired"):
		return errs.ExpiredCard
	case strings.Contains(t, "invalid") || strings.Contains(t, "card number"):
		return errs.InvalidCard
	case strings.Contains(t, "fraud") || strings.Contains(t, "stolen") || strings.Contains(t, "risk") || strings.Contains(t, "blocked"):
		return errs.FraudSuspected
	}
	return errs.Declined
}

// dataPlus normalises one DataPlus event: rebills, credits, chargebacks, voids.
func dataPlus(cfg *settings, f url.Values, now time.Time) (processor.Event, error) {
	tx := f.Get("ets_transaction_id")
	if !digits(tx) {
		return processor.Event{}, errs.E(errs.Invalid, "epoch DataPlus: ets_transaction_id %q is not numeric", tx)
	}
	kind := strings.ToUpper(f.Get("ets_transaction_type"))
	typ, ok := dataPlusTypes[kind]
	if !ok {
		return processor.Event{}, errs.E(errs.Invalid, "epoch DataPlus: unknown ets_transaction_type %q", kind)
	}
	cur := "USD"
	if pp, ok := cfg.byPiCode[f.Get("ets_pi_code")]; ok {
		cur = pp.Currency
	}
	if c := f.Get("ets_currency"); c != "" {
		n, err := money.Normalize(c)
		if err != nil {
			return processor.Event{}, errs.E(errs.UnknownCurrency, "epoch DataPlus: ets_currency %q", c)
		}
		cur = n
	}
	raw := strings.TrimPrefix(f.Get("ets_transaction_amount"), "-") // credits and chargebacks may be negative
	amount, err := money.ParseDecimal(raw, cur)
	if err != nil || raw == "" {
		return processor.Event{}, errs.E(errs.Invalid, "epoch DataPlus: ets_transaction_amount %q is not a %s amount", f.Get("ets_transaction_amount"), cur)
	}
	at := now
	if d := f.Get("ets_transaction_date"); d != "" {
		t, err := time.Parse("2006-01-02 15:04:05", d)
		if err != nil {
			return processor.Event{}, errs.E(errs.Invalid, "epoch DataPlus: ets_transaction_date %q", d)
		}
		if now.Sub(t) > time.Duration(cfg.MaxEventAgeH)*time.Hour {
			return processor.Event{}, errs.E(errs.Unauthenticated, "epoch DataPlus: event of %s is older than %d hours (stale or replayed)", d, cfg.MaxEventAgeH)
		}
		at = t
	}
	member := f.Get("ets_member_idx")
	id := "dp:" + tx
	if typ == processor.EventSale {
		id = "sale:" + tx // the id of the same sale's FlexPost postback
	}
	ev := processor.Event{ID: id, Type: typ, Reference: tx, SubscriptionReference: member, Amount: amount, OccurredAt: at,
		Reason: f.Get("ets_reason")}
	if refs := f.Get("ets_ref_trans_ids"); refs != "" {
		ev.RelatedReference = strings.TrimSpace(strings.Split(refs, ",")[0])
	}
	if (typ == processor.EventRefund || typ == processor.EventChargeback || typ == processor.EventVoid) && !digits(ev.RelatedReference) {
		return processor.Event{}, errs.E(errs.Invalid, "epoch DataPlus: %s without ets_ref_trans_ids naming the original", kind)
	}
	return ev, nil
}
