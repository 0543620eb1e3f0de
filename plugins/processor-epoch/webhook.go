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
// (ets_* fields). Both must carry a valid epoch_digest (digest.go) and come
// from settings.allowed_ips: the signature is what authenticates, the
// address is a second check. Only then is any field read. An authentic
// redelivery is accepted with the same event id, built from Epoch's
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
	posted, err := postedFields(req)
	if err != nil {
		return processor.WebhookResult{}, err
	}
	if err := checkDigest([]byte(cfg.DigestKey), posted); err != nil {
		return processor.WebhookResult{}, err
	}
	f := url.Values{}
	for _, p := range posted {
		k := strings.ToLower(p.name)
		if f.Has(k) {
			return processor.WebhookResult{}, errs.E(errs.Invalid, "epoch postback: field %q is given twice (in different case)", k)
		}
		f.Set(k, p.value)
	}
	now := e.now().UTC()
	var evs []processor.Event
	switch {
	case f.Get("ans") != "":
		evs, err = e.flexPost(cfg, f, now)
	case f.Get("ets_transaction_id") != "":
		evs, err = e.dataPlus(cfg, f, now)
	default:
		err = errs.E(errs.Invalid, "epoch postback: neither a FlexPost answer (ans) nor a DataPlus event (ets_transaction_id)")
	}
	if err != nil {
		return processor.WebhookResult{}, err
	}
	return processor.WebhookResult{Events: evs, Response: processorkit.PlainResponse(http.StatusOK, "OK")}, nil
}

func digits(s string) bool { return s != "" && len(s) <= 32 && strings.Trim(s, "0123456789") == "" }

// unknownPricePoint acknowledges an authentic sale of a product that is not
// in settings.price_points and books nothing: the amount camkit credits is
// the configured price point's, never one read from the postback, so there
// is nothing it could credit. Refusing would only make Epoch redeliver the
// same postback; the warning (in the host's log, with the plugin's name)
// tells the operator to add the price point and credit the viewer by hand.
func (e *Epoch) unknownPricePoint(kind, pi, tx, customer string) []processor.Event {
	e.log.Warn("epoch: an authentic sale of a pi_code that is not in settings.price_points was acknowledged and nothing was credited",
		"postback", kind, "pi_code", pi, "transaction_id", tx, "customer", customer)
	return nil
}

// flexPost normalises the postback of a hosted purchase. The amount of a
// sale is the configured price point's: Epoch's amount field (which may be
// in another currency after conversion) is not read.
func (e *Epoch) flexPost(cfg *settings, f url.Values, now time.Time) ([]processor.Event, error) {
	ans := f.Get("ans")
	order := f.Get("order_id")
	if !digits(order) {
		return nil, errs.E(errs.Invalid, "epoch postback without a numeric order_id")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ref := f.Get("x_camkit_ref")
	co := e.st.Checkouts[ref]
	// The customer the plugin recorded for its checkout wins over the
	// passthrough field, which the viewer's browser posted to Epoch.
	customer := f.Get("x_camkit_customer")
	if co != nil && co.CustomerRef != "" {
		customer = co.CustomerRef
	}
	ev := processor.Event{Type: processor.EventSale, CheckoutReference: ref, CustomerRef: customer, OccurredAt: now}
	switch ans[0] {
	case 'Y':
		tx := f.Get("transaction_id")
		if !digits(tx) {
			return nil, errs.E(errs.Invalid, "epoch postback: approved without a numeric transaction_id")
		}
		pp, ok := cfg.byPiCode[f.Get("pi_code")]
		if !ok {
			return e.unknownPricePoint("flexpost", f.Get("pi_code"), tx, customer), nil
		}
		ev.ID, ev.Reference = "sale:"+tx, tx
		ev.Amount = money.Money{Amount: pp.Amount, Currency: pp.Currency}
		if member := f.Get("member_id"); member != "" {
			ev.Credential = &processor.StoredCredential{Token: member, CustomerRef: ev.CustomerRef}
			if pp.RecurringDays > 0 {
				ev.SubscriptionReference = member
			}
		}
		if co != nil && co.TransID == "" && co.Decline == nil {
			co.TransID, co.OrderID, co.MemberID, co.Paid = tx, order, f.Get("member_id"), ev.Amount
		}
	case 'N':
		ev.ID, ev.Reference, ev.Reason = "declined:"+order, order, ans[1:]
		ev.DeclineCode = declineCode(ans[1:])
		if pp, ok := cfg.byPiCode[f.Get("pi_code")]; ok {
			ev.Amount = money.Money{Currency: pp.Currency}
		}
		if co != nil && co.TransID == "" && co.Decline == nil {
			co.Decline = &errs.Error{Code: ev.DeclineCode, Message: "epoch: purchase declined: " + ev.Reason}
		}
	default:
		return nil, errs.E(errs.Invalid, "epoch postback: ans %q starts with neither Y nor N", ans)
	}
	if co != nil {
		if err := e.saveLocked(); err != nil {
			return nil, err
		}
	}
	return []processor.Event{ev}, nil
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

// dataPlus normalises one DataPlus event: rebills, credits, chargebacks,
// voids, and the record of a sale (the same event as its FlexPost postback,
// with the price point's amount too).
func (e *Epoch) dataPlus(cfg *settings, f url.Values, now time.Time) ([]processor.Event, error) {
	tx := f.Get("ets_transaction_id")
	if !digits(tx) {
		return nil, errs.E(errs.Invalid, "epoch DataPlus: ets_transaction_id %q is not numeric", tx)
	}
	kind := strings.ToUpper(f.Get("ets_transaction_type"))
	typ, ok := dataPlusTypes[kind]
	if !ok {
		return nil, errs.E(errs.Invalid, "epoch DataPlus: unknown ets_transaction_type %q", kind)
	}
	pp, known := cfg.byPiCode[f.Get("ets_pi_code")]
	if typ == processor.EventSale && !known {
		return e.unknownPricePoint("dataplus", f.Get("ets_pi_code"), tx, ""), nil
	}
	cur := "USD"
	if known {
		cur = pp.Currency
	}
	if c := f.Get("ets_currency"); c != "" {
		n, err := money.Normalize(c)
		if err != nil {
			return nil, errs.E(errs.UnknownCurrency, "epoch DataPlus: ets_currency %q", c)
		}
		cur = n
	}
	var amount money.Money
	if typ == processor.EventSale {
		amount = money.Money{Amount: pp.Amount, Currency: pp.Currency}
	} else {
		raw := strings.TrimPrefix(f.Get("ets_transaction_amount"), "-") // credits and chargebacks may be negative
		var err error
		amount, err = money.ParseDecimal(raw, cur)
		if err != nil || raw == "" || amount.Amount < 0 {
			return nil, errs.E(errs.Invalid, "epoch DataPlus: ets_transaction_amount %q is not a %s amount", f.Get("ets_transaction_amount"), cur)
		}
	}
	at := now
	if d := f.Get("ets_transaction_date"); d != "" {
		t, err := time.Parse("2006-01-02 15:04:05", d)
		if err != nil {
			return nil, errs.E(errs.Invalid, "epoch DataPlus: ets_transaction_date %q", d)
		}
		if now.Sub(t) > time.Duration(cfg.MaxEventAgeH)*time.Hour {
			return nil, errs.E(errs.Unauthenticated, "epoch DataPlus: event of %s is older than %d hours (stale or replayed)", d, cfg.MaxEventAgeH)
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
		return nil, errs.E(errs.Invalid, "epoch DataPlus: %s without ets_ref_trans_ids naming the original", kind)
	}
	return []processor.Event{ev}, nil
}
