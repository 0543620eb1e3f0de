package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

const (
	signatureHeader = "Webhook-Signature"
	// futureSkew tolerates NMI dates in a zone ahead of UTC.
	futureSkew = 15 * time.Hour
)

// webhookBody is NMI's webhook envelope.
//
//	{"event_id":"...","event_type":"transaction.refund.success","event_body":{...}}
type webhookBody struct {
	EventID   string          `json:"event_id"`
	EventType string          `json:"event_type"`
	EventBody json.RawMessage `json:"event_body"`
}

type transactionBody struct {
	TransactionID         string      `json:"transaction_id"`
	OriginalTransactionID string      `json:"original_transaction_id"`
	OrderID               string      `json:"order_id"`
	Currency              string      `json:"currency"`
	CustomerVaultID       string      `json:"customer_vault_id"`
	Action                *actionBody `json:"action"`
}

type actionBody struct {
	Amount       string `json:"amount"`
	ActionType   string `json:"action_type"`
	Date         string `json:"date"`
	Success      string `json:"success"`
	ResponseText string `json:"response_text"`
	ResponseCode string `json:"response_code"`
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

// ParseWebhook verifies an NMI webhook and normalises it. NMI signs with
// "Webhook-Signature: t=<nonce>,s=<hex>": t is a nonce, not a time, so
// freshness comes from the transaction's action date (webhook_max_age). An
// authentic redelivery is accepted and yields the same event ids (built from
// the transaction id and the event type, not from the envelope), so the host
// drops it as a duplicate once it has recorded the first.
func (m *MobiusPay) ParseWebhook(_ context.Context, req processor.WebhookRequest) (processor.WebhookResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st == nil {
		return processor.WebhookResult{}, errs.Retry(errs.Unavailable, "mobiuspay processor is not configured yet")
	}
	if err := m.allowed.Check("mobiuspay webhook", "webhook_allowed_cidrs", req.RemoteAddr); err != nil {
		return processor.WebhookResult{}, err
	}
	if err := verify(m.cfg.WebhookSigningKey, processorkit.HeaderValue(req.Headers, signatureHeader), req.Body); err != nil {
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
	now := m.now()
	events, err := m.normalise(env, now)
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

// transactionEvents maps NMI event types to camkit's; the rest (settlement
// batches, recurring plans, account updater notices, validations, credits)
// are acknowledged and carry no money event.
var transactionEvents = map[string]processor.EventType{
	"sale": processor.EventSale, "auth": processor.EventAuth, "capture": processor.EventCapture,
	"void": processor.EventVoid, "refund": processor.EventRefund,
}

func (m *MobiusPay) normalise(env webhookBody, now time.Time) ([]processor.Event, error) {
	if env.EventType == "chargeback.batch.complete" {
		return m.chargebacks(env)
	}
	parts := strings.Split(env.EventType, ".")
	if len(parts) != 3 || parts[0] != "transaction" {
		return nil, nil
	}
	typ, known := transactionEvents[parts[1]]
	if !known || parts[2] == "unknown" {
		return nil, nil
	}
	var b transactionBody
	if err := json.Unmarshal(env.EventBody, &b); err != nil {
		return nil, errs.E(errs.Invalid, "mobiuspay webhook %s: event_body: %v", env.EventID, err)
	}
	if b.TransactionID == "" || b.Action == nil {
		return nil, errs.E(errs.Invalid, "mobiuspay webhook %s: transaction_id and action are required", env.EventID)
	}
	at, err := time.Parse("20060102150405", b.Action.Date)
	if err != nil {
		return nil, errs.E(errs.Invalid, "mobiuspay webhook %s: action.date %q is not YYYYMMDDhhmmss", env.EventID, b.Action.Date)
	}
	if age := now.Sub(at); age > m.maxAge || age < -futureSkew {
		return nil, errs.E(errs.Unauthenticated, "mobiuspay webhook %s: action dated %s is outside settings.webhook_max_age %s (stale or replayed)", env.EventID, at.Format(time.RFC3339), m.maxAge)
	}
	cur, err := money.Normalize(b.Currency)
	if err != nil {
		return nil, errs.E(errs.UnknownCurrency, "mobiuspay webhook %s: currency %q", env.EventID, b.Currency)
	}
	amt, err := webhookAmount(b.Action.Amount, cur)
	if err != nil {
		return nil, errs.E(errs.Invalid, "mobiuspay webhook %s: action.amount %q in %s: %v", env.EventID, b.Action.Amount, cur, err)
	}
	// One NMI transaction has one outcome per event type (a refund or a
	// capture is a transaction of its own), whatever envelope carries it.
	ev := processor.Event{ID: env.EventType + ":" + b.TransactionID, Type: typ, Reference: b.TransactionID, Amount: amt, OccurredAt: at.UTC()}
	switch typ {
	case processor.EventCapture, processor.EventVoid:
		ev.RelatedReference = b.TransactionID // NMI captures and voids act on the authorisation's transaction
	case processor.EventRefund:
		ev.RelatedReference = b.OriginalTransactionID
		if ev.RelatedReference == "" {
			ev.RelatedReference = m.st.Refunds[b.TransactionID] // a refund this plugin made
		}
	}
	if b.CustomerVaultID != "" {
		ev.Credential = &processor.StoredCredential{Token: b.CustomerVaultID}
	}
	if parts[2] == "failure" {
		ev.DeclineCode = errs.CodeOf(declineError(b.Action.ResponseCode, b.Action.ResponseText))
	}
	return []processor.Event{ev}, nil
}

// chargebacks turns a chargeback batch into one event per chargeback; the
// reason code (Visa 10.4, MC 4837...) travels in Reason.
func (m *MobiusPay) chargebacks(env webhookBody) ([]processor.Event, error) {
	var b chargebackBatch
	dec := json.NewDecoder(bytes.NewReader(env.EventBody))
	if err := dec.Decode(&b); err != nil {
		return nil, errs.E(errs.Invalid, "mobiuspay webhook %s: event_body: %v", env.EventID, err)
	}
	var out []processor.Event
	for i, c := range b.Chargebacks {
		if c.ID == "" {
			return nil, errs.E(errs.Invalid, "mobiuspay webhook %s: chargeback %d has no id", env.EventID, i)
		}
		cur := c.Currency
		if cur == "" {
			if p := m.st.Payments[c.TransactionID]; p != nil {
				cur = p.Amount.Currency
			} else {
				cur = m.cfg.Currencies[0]
			}
		}
		cur, err := money.Normalize(cur)
		if err != nil {
			return nil, errs.E(errs.UnknownCurrency, "mobiuspay webhook %s: chargeback %s currency %q", env.EventID, c.ID, c.Currency)
		}
		amt, err := webhookAmount(c.Amount, cur)
		if err != nil {
			return nil, errs.E(errs.Invalid, "mobiuspay webhook %s: chargeback %s amount %q: %v", env.EventID, c.ID, c.Amount, err)
		}
		ev := processor.Event{ID: "chargeback:" + c.ID, Type: processor.EventChargeback, Reference: c.ID,
			RelatedReference: c.TransactionID, Amount: amt, Reason: strings.TrimSpace(c.ReasonCode + " " + c.Reason)}
		for _, layout := range []string{"20060102150405", "2006-01-02 15:04:05", "2006-01-02", "20060102"} {
			if t, err := time.Parse(layout, c.Date); err == nil {
				ev.OccurredAt = t.UTC()
				break
			}
		}
		out = append(out, ev)
	}
	return out, nil
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
