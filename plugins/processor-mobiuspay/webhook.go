package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

const signatureHeader = "Webhook-Signature"

// webhookBody is NMI's webhook envelope.
//
//	{"event_id":"<uuid>","event_type":"transaction.refund.success","event_body":{...}}
type webhookBody struct {
	EventID   string          `json:"event_id"`
	EventType string          `json:"event_type"`
	EventBody json.RawMessage `json:"event_body"`
}

// txFields are what the plugin reads of a transaction event. NMI's own
// documentation sample puts them directly under event_body; hookdeck's
// nmi-webhooks overview nests them as event_body.transaction{…} (with the
// amount there). Both are read: see transactionBody.
type txFields struct {
	TransactionID         string      `json:"transaction_id"`
	OriginalTransactionID string      `json:"original_transaction_id"`
	OrderID               string      `json:"order_id"`
	Currency              string      `json:"currency"`
	Amount                string      `json:"amount"`
	CustomerVaultID       string      `json:"customer_vault_id"`
	Card                  *cardBody   `json:"card"`
	Action                *actionBody `json:"action"`
}

type transactionBody struct {
	txFields
	Transaction *txFields `json:"transaction"`
}

type cardBody struct {
	CCNumber string `json:"cc_number"` // masked: 411111******1111
	CCExp    string `json:"cc_exp"`    // MMYY
	CCBin    string `json:"cc_bin"`
	CCType   string `json:"cc_type"`
}

type actionBody struct {
	Amount       string `json:"amount"`
	ActionType   string `json:"action_type"`
	Date         string `json:"date"`
	Success      string `json:"success"`
	ResponseText string `json:"response_text"`
	ResponseCode string `json:"response_code"`
}

// fields merges the two shapes: the documented flat fields first, blanks
// filled from the nested object. A body whose two shapes name different
// transactions is refused: which one moved money cannot be told.
func (b transactionBody) fields() (txFields, error) {
	f := b.txFields
	n := b.Transaction
	if n == nil {
		return f, nil
	}
	if f.TransactionID != "" && n.TransactionID != "" && f.TransactionID != n.TransactionID {
		return f, errs.E(errs.Invalid, "event_body.transaction_id %q and event_body.transaction.transaction_id %q differ", f.TransactionID, n.TransactionID)
	}
	for _, p := range []struct{ dst, src *string }{
		{&f.TransactionID, &n.TransactionID}, {&f.OriginalTransactionID, &n.OriginalTransactionID}, {&f.OrderID, &n.OrderID},
		{&f.Currency, &n.Currency}, {&f.Amount, &n.Amount}, {&f.CustomerVaultID, &n.CustomerVaultID},
	} {
		if *p.dst == "" {
			*p.dst = *p.src
		}
	}
	if f.Card == nil {
		f.Card = n.Card
	}
	if f.Action == nil {
		f.Action = n.Action
	}
	return f, nil
}

type chargebackBatch struct {
	Chargebacks []chargebackEntry `json:"chargebacks"`
}

type chargebackEntry struct {
	ID            string `json:"id"`
	TransactionID string `json:"transaction_id"`
	Date          string `json:"date"`
	Amount        string `json:"amount"`
	Currency      string `json:"currency"`
	ReasonCode    string `json:"reason_code"`
	Reason        string `json:"reason"`
}

// signature computes NMI's webhook signature: lowercase hex HMAC-SHA256 of
// "<nonce>.<raw body>" under the signing key from the merchant portal.
func signature(key, nonce string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(nonce))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// webhookConfig is what ParseWebhook needs of the settings, copied under
// the lock so that a lookup can run without it.
type webhookConfig struct {
	key        string
	allowed    processorkit.AllowList
	maxAge     time.Duration
	currencies []string
}

// ParseWebhook verifies an NMI webhook and normalises it. NMI signs with
// "Webhook-Signature: t=<nonce>,s=<hex>": t is a nonce, not a time, and NMI
// documents no replay window, while it redelivers for days after an
// outage. So an authentic delivery is never refused for its age (an old one
// is only logged, past webhook_max_age): the signature decides, and the
// host drops a redelivery by its Event.ID, which is NMI's event_id. Event
// types the plugin does not turn into money events are acknowledged (200)
// and logged, so NMI does not retry them.
func (m *MobiusPay) ParseWebhook(ctx context.Context, req processor.WebhookRequest) (processor.WebhookResult, error) {
	m.mu.Lock()
	if m.st == nil {
		m.mu.Unlock()
		return processor.WebhookResult{}, errs.Retry(errs.Unavailable, "mobiuspay processor is not configured yet")
	}
	cfg := webhookConfig{key: m.cfg.WebhookSigningKey, allowed: m.allowed, maxAge: m.maxAge, currencies: m.cfg.Currencies}
	m.mu.Unlock()
	if err := cfg.allowed.Check("mobiuspay webhook", "webhook_allowed_cidrs", req.RemoteAddr); err != nil {
		return processor.WebhookResult{}, err
	}
	if err := verify(cfg.key, processorkit.HeaderValue(req.Headers, signatureHeader), req.Body); err != nil {
		return processor.WebhookResult{}, err
	}
	// Only an authentic body is parsed.
	var env webhookBody
	if err := json.Unmarshal(req.Body, &env); err != nil {
		return processor.WebhookResult{}, errs.E(errs.Invalid, "mobiuspay webhook: %v", err)
	}
	if env.EventID == "" || env.EventType == "" || len(env.EventBody) == 0 {
		return processor.WebhookResult{}, errs.E(errs.Invalid, "mobiuspay webhook: event_id, event_type and event_body are required")
	}
	events, err := m.normalise(ctx, env, cfg)
	if err != nil {
		return processor.WebhookResult{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	return processor.WebhookResult{Events: events, Response: processor.HTTPResponse{Status: http.StatusOK, Headers: h, Body: []byte("OK")}}, nil
}

// verify checks the Webhook-Signature header in constant time.
func verify(key, header string, body []byte) error {
	var nonce, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			nonce = v
		case "s":
			sig = v
		}
	}
	if nonce == "" || sig == "" {
		return errs.E(errs.Unauthenticated, "mobiuspay webhook: missing or malformed %s header", signatureHeader)
	}
	got, err := hex.DecodeString(strings.ToLower(sig))
	want, _ := hex.DecodeString(signature(key, nonce, body))
	if err != nil || !hmac.Equal(got, want) {
		return errs.E(errs.Unauthenticated, "mobiuspay webhook: signature does not match")
	}
	return nil
}

// transactionEvents maps NMI's transaction actions to camkit's events.
var transactionEvents = map[string]processor.EventType{
	"sale": processor.EventSale, "auth": processor.EventAuth, "capture": processor.EventCapture,
	"void": processor.EventVoid, "refund": processor.EventRefund,
}

func (m *MobiusPay) normalise(ctx context.Context, env webhookBody, cfg webhookConfig) ([]processor.Event, error) {
	if env.EventType == "chargeback.batch.complete" {
		return m.chargebacks(env, cfg), nil
	}
	parts := strings.Split(env.EventType, ".")
	typ, known := processor.EventType(""), false
	if len(parts) == 3 && parts[0] == "transaction" {
		typ, known = transactionEvents[parts[1]]
	}
	switch {
	case known && (parts[2] == "success" || parts[2] == "failure"):
	case known && parts[2] == "unknown":
		// NMI could not learn the processor's answer. The plugin's own
		// requests resolve that with query.php on the host's retry.
		m.log.Warn("mobiuspay webhook: outcome unknown at the gateway; acknowledged, no event", "event_id", env.EventID, "event_type", env.EventType)
		return nil, nil
	default:
		// Credits, validations, checks, recurring plans, settlement
		// batches, account updater notices, network tokens: nothing camkit
		// books. Acknowledged, or NMI keeps redelivering.
		m.log.Info("mobiuspay webhook: event type not handled; acknowledged", "event_id", env.EventID, "event_type", env.EventType)
		return nil, nil
	}
	var tb transactionBody
	if err := json.Unmarshal(env.EventBody, &tb); err != nil {
		return nil, errs.E(errs.Invalid, "mobiuspay webhook %s: event_body: %v", env.EventID, err)
	}
	b, err := tb.fields()
	if err != nil {
		return nil, errs.E(errs.Invalid, "mobiuspay webhook %s: %v", env.EventID, err)
	}
	if b.TransactionID == "" {
		return nil, errs.E(errs.Invalid, "mobiuspay webhook %s: no transaction_id in event_body or event_body.transaction", env.EventID)
	}
	var act actionBody
	if b.Action != nil {
		act = *b.Action
	}
	raw := act.Amount
	if raw == "" {
		raw = b.Amount
	}
	if raw == "" {
		return nil, errs.E(errs.Invalid, "mobiuspay webhook %s: no amount in event_body.action or event_body.transaction", env.EventID)
	}
	cur, err := m.eventCurrency(b, cfg)
	if err != nil {
		return nil, errs.E(errs.UnknownCurrency, "mobiuspay webhook %s: %v", env.EventID, err)
	}
	amt, err := webhookAmount(raw, cur)
	if err != nil {
		return nil, errs.E(errs.Invalid, "mobiuspay webhook %s: amount %q in %s: %v", env.EventID, raw, cur, err)
	}
	now := m.now().UTC()
	at := actionTime(act.Date)
	switch {
	case at.IsZero():
		m.log.Warn("mobiuspay webhook: action date unreadable; dated on receipt", "event_id", env.EventID, "date", act.Date)
		at = now
	case cfg.maxAge > 0 && now.Sub(at) > cfg.maxAge:
		// Accepted: NMI redelivers after outages; the host drops it if it
		// recorded it already.
		m.log.Info("mobiuspay webhook: an old delivery, accepted", "event_id", env.EventID, "action_date", at.Format(time.RFC3339), "webhook_max_age", cfg.maxAge.String())
	}
	ev := processor.Event{ID: env.EventID, Type: typ, Reference: b.TransactionID, Amount: amt, OccurredAt: at}
	switch typ {
	case processor.EventCapture, processor.EventVoid:
		ev.RelatedReference = b.TransactionID // NMI captures and voids act on the authorisation's transaction
	case processor.EventRefund:
		if ev.RelatedReference, err = m.refundedPayment(ctx, b); err != nil {
			return nil, err
		}
	}
	if b.CustomerVaultID != "" {
		c := cardDetails(b.Card)
		c.Token = b.CustomerVaultID
		ev.Credential = &c
	}
	if parts[2] == "failure" {
		ev.DeclineCode = errs.CodeOf(declineError(act.ResponseCode, act.ResponseText))
	}
	return []processor.Event{ev}, nil
}

// eventCurrency is the event's currency: the body's, else the one of the
// hold or payment the plugin recorded for the transaction, else the only
// currency the merchant settles.
func (m *MobiusPay) eventCurrency(b txFields, cfg webhookConfig) (string, error) {
	if b.Currency != "" {
		return money.Normalize(b.Currency)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range []string{b.TransactionID, b.OriginalTransactionID, m.st.Refunds[b.TransactionID]} {
		if h := m.st.Holds[id]; id != "" && h != nil {
			return h.Amount.Currency, nil
		}
		if p := m.st.Payments[id]; id != "" && p != nil {
			return p.Amount.Currency, nil
		}
	}
	if len(cfg.currencies) == 1 {
		return cfg.currencies[0], nil
	}
	return "", errs.E(errs.UnknownCurrency, "no currency in the body and transaction %s is not one of this plugin's", b.TransactionID)
}

// refundedPayment is the sale or capture a refund takes back: the body's
// original_transaction_id, else what the plugin recorded when it made the
// refund, else what query.php says of the refund transaction (a refund made
// in the merchant portal). NMI's webhook sample shows no
// original_transaction_id: to confirm.
func (m *MobiusPay) refundedPayment(ctx context.Context, b txFields) (string, error) {
	if b.OriginalTransactionID != "" {
		return b.OriginalTransactionID, nil
	}
	m.mu.Lock()
	orig := m.st.Refunds[b.TransactionID]
	m.mu.Unlock()
	if orig != "" {
		return orig, nil
	}
	q, err := m.nmi().query(ctx, url.Values{"transaction_id": {b.TransactionID}})
	if err != nil {
		return "", err // retryable: NMI redelivers, nothing is lost
	}
	for _, t := range q.Transactions {
		if t.TransactionID == b.TransactionID && t.OriginalTransactionID != "" {
			return t.OriginalTransactionID, nil
		}
	}
	m.log.Warn("mobiuspay webhook: refund of an unknown transaction", "refund", b.TransactionID)
	return "", nil
}

// chargebacks turns a chargeback batch into one event per chargeback; the
// reason code (Visa 10.4, MC 4837...) travels in Reason. The batch's body is
// in no public sample: this reads a guessed shape (to confirm). Because a
// wrong guess must neither book wrong money nor have NMI redeliver for days
// what will never be read, an entry that cannot be read is skipped and
// logged at error for an operator, and the batch is acknowledged.
func (m *MobiusPay) chargebacks(env webhookBody, cfg webhookConfig) []processor.Event {
	var b chargebackBatch
	if err := json.Unmarshal(env.EventBody, &b); err != nil || len(b.Chargebacks) == 0 {
		m.log.Error("mobiuspay webhook: chargeback batch not understood; acknowledged, book it by hand", "event_id", env.EventID, "body", processorkit.Snippet(env.EventBody))
		return nil
	}
	var out []processor.Event
	for i, c := range b.Chargebacks {
		skip := func(why string) {
			m.log.Error("mobiuspay webhook: chargeback not understood; skipped, book it by hand", "event_id", env.EventID, "index", i, "id", c.ID, "transaction_id", c.TransactionID, "why", why)
		}
		if c.ID == "" || c.TransactionID == "" {
			skip("no id or transaction_id")
			continue
		}
		cur, err := m.eventCurrency(txFields{TransactionID: c.TransactionID, Currency: c.Currency}, cfg)
		if err != nil {
			skip(err.Error())
			continue
		}
		amt, err := webhookAmount(c.Amount, cur)
		if err != nil {
			skip("amount " + c.Amount + ": " + err.Error())
			continue
		}
		ev := processor.Event{ID: env.EventID + ":" + c.ID, Type: processor.EventChargeback, Reference: c.ID,
			RelatedReference: c.TransactionID, Amount: amt, Reason: strings.TrimSpace(c.ReasonCode + " " + c.Reason), OccurredAt: actionTime(c.Date)}
		if ev.OccurredAt.IsZero() {
			if t, err := time.Parse("2006-01-02", c.Date); err == nil {
				ev.OccurredAt = t
			} else if t, err := time.Parse("20060102", c.Date); err == nil {
				ev.OccurredAt = t
			}
		}
		out = append(out, ev)
	}
	return out
}

// webhookAmount reads an amount NMI reports: a decimal in major units, never
// negative (a refund or a chargeback states how much went back, its type
// says which way), so a sign cannot turn an event's money around.
func webhookAmount(raw, currency string) (money.Money, error) {
	m, err := money.ParseDecimal(strings.TrimSpace(raw), currency)
	if err != nil {
		return money.Money{}, err
	}
	if m.Amount < 0 {
		return money.Money{}, money.ErrNegative
	}
	return m, nil
}
