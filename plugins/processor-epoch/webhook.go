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

// notice is what Epoch posted, told apart by its fields.
type notice int

const (
	flexPostNotice notice = iota // the postback of a hosted purchase: it has ans
	dataPlusNotice               // a DataPlus transaction (EpochTransStats row): ets_transaction_id
	cancelNotice                 // a DataPlus cancellation (MemberCancelStats row): mcs_or_idx
	otherNotice
)

// kindOf decides the kind from the names alone, lowercased, before anything
// is authenticated: whatever could be a FlexPost answer (any field that
// lowercases to "ans") is one, so it always needs its digest.
func kindOf(posted []field) notice {
	has := map[string]bool{}
	for _, p := range posted {
		has[strings.ToLower(p.name)] = true
	}
	switch {
	case has["ans"]:
		return flexPostNotice
	case has["ets_transaction_id"]:
		return dataPlusNotice
	case has["mcs_or_idx"]:
		return cancelNotice
	}
	return otherNotice
}

// ParseWebhook reads a FlexPost postback (it has "ans") or a DataPlus push
// (ets_* or mcs_* fields), each only from settings.allowed_ips. A FlexPost
// postback, and anything that is not DataPlus, must carry a valid
// epoch_digest (digest.go) — it is what credits wallets. DataPlus is
// authenticated as settings.dataplus_auth says (dataplus.go): by its source
// address, as Epoch's DataPlus guide and every public integration found do,
// and by its digest too whenever it carries one; or by a required digest.
// Nothing of the content is read before that.
//
// An authentic notice is never refused for its content or its age: what
// cannot be booked (an unknown pi_code or transaction type, a malformed
// amount) is acknowledged with Epoch's "OK", books nothing and is logged at
// warn for the operator, since a refusal only makes Epoch post it again.
// A redelivery carries the same event id, built from Epoch's transaction id,
// so the host records it once; a sale reported by both FlexPost and DataPlus
// is one event.
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
	kind := kindOf(posted)
	signed := false
	switch {
	case (kind == dataPlusNotice || kind == cancelNotice) && cfg.DataPlusAuth == dataPlusBySourceIP && !hasDigest(posted):
		// Authenticated by the source address checked above; never a sale.
	default:
		if err := checkDigest([]byte(cfg.DigestKey), posted); err != nil {
			if kind == dataPlusNotice || kind == cancelNotice {
				err = errs.E(errs.Unauthenticated, "%s (settings.dataplus_auth = %q)", err.Error(), cfg.DataPlusAuth)
			}
			return processor.WebhookResult{}, err
		}
		signed = true
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
	switch kind {
	case flexPostNotice:
		evs, err = e.flexPost(cfg, f, now)
	case dataPlusNotice:
		evs = e.dataPlus(cfg, f, now, signed)
	case cancelNotice:
		e.unbooked("dataplus cancellation", "memberships are not claimed as native recurring; the cancellation is Epoch's to enforce",
			"member_id", f.Get("mcs_or_idx"), "pi_code", f.Get("mcs_picode"), "reason", f.Get("mcs_reason"))
	default:
		e.unbooked("unknown postback", "it is neither a FlexPost answer (ans) nor DataPlus (ets_*, mcs_*)", "fields", fieldNames(f))
	}
	if err != nil {
		return processor.WebhookResult{}, err
	}
	return processor.WebhookResult{Events: evs, Response: processorkit.PlainResponse(http.StatusOK, "OK")}, nil
}

func digits(s string) bool { return s != "" && len(s) <= 32 && strings.Trim(s, "0123456789") == "" }

func fieldNames(f url.Values) string {
	var names []string
	for k := range f {
		names = append(names, k)
	}
	return strings.Join(names, ",")
}

// unbooked logs an authentic notice that is acknowledged without booking
// anything, for the operator to act on (add the price point, book by hand).
// Refusing it would only make Epoch post it again.
func (e *Epoch) unbooked(what, why string, args ...any) {
	e.log.Warn("epoch: an authentic "+what+" was acknowledged and nothing was booked: "+why, args...)
}

// unknownPricePoint acknowledges an authentic sale of a product that is not
// in settings.price_points: the amount camkit credits is the configured
// price point's, never one read from the postback, so there is nothing it
// could credit. The warning tells the operator to add the price point and
// credit the viewer by hand.
func (e *Epoch) unknownPricePoint(kind, pi, tx, customer string) []processor.Event {
	e.log.Warn("epoch: an authentic sale of a pi_code that is not in settings.price_points was acknowledged and nothing was credited",
		"postback", kind, "pi_code", pi, "transaction_id", tx, "customer", customer)
	return nil
}

// answer splits FlexPost's ans: its first letter (Y approved, N declined),
// the code after it (GOODTEST, DECLINED, EXPIRED…) and, after a '|', the
// transaction id Epoch may append ("YGOODTEST|1418464163" in the Magic
// Members module; "YQAUPGRADE|<tx>" in the VRP collection).
func answer(ans string) (letter byte, code, tx string) {
	ans = strings.TrimSpace(ans)
	if ans == "" {
		return 0, "", ""
	}
	head, tail, _ := strings.Cut(ans, "|")
	return head[0], head[1:], strings.TrimSpace(tail)
}

// flexPost normalises the postback of a hosted purchase. The amount of a
// sale is the configured price point's: Epoch's amount field (which may be
// in another currency after conversion) is not read.
func (e *Epoch) flexPost(cfg *settings, f url.Values, now time.Time) ([]processor.Event, error) {
	letter, code, ansTx := answer(f.Get("ans"))
	order := f.Get("order_id")
	if !digits(order) {
		e.unbooked("flexpost answer", "it has no numeric order_id", "ans", f.Get("ans"), "order_id", order)
		return nil, nil
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
	switch letter {
	case 'Y':
		tx := f.Get("transaction_id")
		if tx == "" {
			tx = ansTx
		}
		if !digits(tx) {
			e.unbooked("approved flexpost answer", "it has no numeric transaction_id; credit the viewer by hand", "order_id", order, "customer", customer)
			return nil, nil
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
		ev.ID, ev.Reference, ev.Reason = "declined:"+order, order, code
		ev.DeclineCode = declineCode(code)
		if pp, ok := cfg.byPiCode[f.Get("pi_code")]; ok {
			ev.Amount = money.Money{Currency: pp.Currency}
		}
		if co != nil && co.TransID == "" && co.Decline == nil {
			co.Decline = &errs.Error{Code: ev.DeclineCode, Message: "epoch: purchase declined: " + code}
		}
	default:
		e.unbooked("flexpost answer", "its ans starts with neither Y nor N", "ans", f.Get("ans"), "order_id", order)
		return nil, nil
	}
	if co != nil {
		if err := e.saveLocked(); err != nil {
			return nil, err
		}
	}
	return []processor.Event{ev}, nil
}

// declineCodes are the codes after the N that public integrations handle
// (Magic Members' mgm_epoch::_buy_post: DECLINED, MYVSNOTACCEPTED,
// DECLINEDCVV2, CALLCENTER, EXPIRED).
var declineCodes = map[string]errs.Code{
	"DECLINED":        errs.Declined,
	"MYVSNOTACCEPTED": errs.Declined, // the card's brand is not accepted
	"CALLCENTER":      errs.Declined, // the issuer wants a call
	"DECLINEDCVV2":    errs.InvalidCard,
	"EXPIRED":         errs.ExpiredCard,
}

// declineCode reads Epoch's decline code or text after the N.
func declineCode(text string) errs.Code {
	if c, ok := declineCodes[strings.ToUpper(strings.TrimSpace(text))]; ok {
		return c
	}
	t := strings.ToLower(text)
	switch {
	case strings.Contains(t, "insufficient") || strings.Contains(t, "nsf"):
		return errs.InsufficientFunds
	case strings.Contains(t, "expired"):
		return errs.ExpiredCard
	case strings.Contains(t, "invalid") || strings.Contains(t, "card number") || strings.Contains(t, "cvv"):
		return errs.InvalidCard
	case strings.Contains(t, "fraud") || strings.Contains(t, "stolen") || strings.Contains(t, "risk") || strings.Contains(t, "blocked"):
		return errs.FraudSuspected
	}
	return errs.Declined
}
