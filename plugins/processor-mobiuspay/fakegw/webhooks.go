package fakegw

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// Settings are the plugin settings that point it at this gateway, with the
// test keys; extra adds or overrides keys.
func (f *Gateway) Settings(stateFile string, currencies []string, extra map[string]any) ([]byte, error) {
	m := map[string]any{
		"security_key": f.Key, "tokenization_key": TokenizationKey, "webhook_signing_key": SigningKey,
		"api_url": f.URL("/api/transact.php"), "query_url": f.URL("/api/query.php"), "collectjs_url": f.URL("/token/Collect.js"),
		"currencies": currencies, "state_file": stateFile, "max_hold_days": 7,
	}
	for k, v := range extra {
		m[k] = v
	}
	return json.Marshal(m)
}

// Sign wraps body as NMI delivers a webhook: a POST whose Webhook-Signature
// header is "t=<nonce>,s=<hex HMAC-SHA256 of nonce.body under the signing
// key>". Every call draws a new nonce, as a redelivery does.
func Sign(key string, body []byte) processor.WebhookRequest {
	var b [12]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(nonce + "."))
	mac.Write(body)
	return processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/mobiuspay", Body: body, RemoteAddr: "127.0.0.1:40000",
		Headers: http.Header{"Content-Type": {"application/json"}, "Webhook-Signature": {"t=" + nonce + ",s=" + hex.EncodeToString(mac.Sum(nil))}}}
}

// NewEventID is an event_id as NMI sends it (a UUID).
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// webhookDate is the action date as NMI's webhook sample writes it.
const webhookDate = "2006-01-02T15:04:05"

// Webhook is the body NMI sends for the latest action of kind (sale, auth,
// capture, void, refund) on transaction txID, in the documented shape: the
// transaction's fields directly under event_body, card{} and action{}. The
// result (success or failure) follows the action. Deliver it with Sign, as
// often and in whatever order a test needs.
func (f *Gateway) Webhook(txID, kind string) ([]byte, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	tx := f.Txns[txID]
	if tx == nil {
		return nil, fmt.Errorf("fakegw: no transaction %s", txID)
	}
	var act *Action
	for i := range tx.Actions {
		if tx.Actions[i].Type == kind {
			act = &tx.Actions[i]
		}
	}
	if act == nil {
		return nil, fmt.Errorf("fakegw: transaction %s has no %s action", txID, kind)
	}
	at, err := time.Parse("20060102150405", act.Date)
	if err != nil {
		return nil, err
	}
	result := "success"
	if act.Success != "1" {
		result = "failure"
	}
	c := f.Vault[tx.VaultID]
	requested, _ := money.FormatDecimal(money.Money{Amount: tx.Amount, Currency: tx.Currency})
	body := map[string]any{
		"merchant": map[string]any{"id": "840984", "name": "camkit test merchant"}, "features": map[string]any{"is_test_mode": true},
		"transaction_id": tx.ID, "transaction_type": "cc", "condition": tx.Condition, "processor_id": "ccprocessora",
		"order_id": tx.OrderID, "currency": tx.Currency, "requested_amount": requested, "authorization_code": "123456",
		"billing_address":         map[string]any{"first_name": "", "last_name": "", "country": "", "email": ""},
		"card":                    map[string]any{"cc_number": masked(c.Number), "cc_exp": c.Exp, "cc_bin": bin(c.Number), "cc_type": capitalised(cardType(c.Number)), "entry_mode": ""},
		"merchant_defined_fields": map[string]any{},
		"action": map[string]any{"amount": act.Amount, "action_type": act.Type, "date": at.Format(webhookDate), "success": act.Success,
			"ip_address": "", "source": "api", "api_method": "", "username": "", "response_text": act.Text, "response_code": act.Code,
			"processor_response_text": "", "tap_to_mobile": false, "processor_response_code": "", "device_license_number": "", "device_nickname": ""},
	}
	return json.Marshal(map[string]any{"event_id": NewEventID(), "event_type": "transaction." + kind + "." + result, "event_body": body})
}

// capitalised is NMI's webhook spelling of a card type ("Visa").
func capitalised(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// RefundWebhook refunds amount of transaction txID at the gateway, as the
// merchant does in the portal, and returns the signed
// transaction.refund.success webhook NMI then sends.
func (f *Gateway) RefundWebhook(txID string, amount money.Money) (processor.WebhookRequest, error) {
	id, err := f.Refund(txID, amount)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	body, err := f.Webhook(id, "refund")
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	return Sign(SigningKey, body), nil
}

// Refund refunds amount of transaction txID at the gateway, as the merchant
// does in the portal (no orderid), and returns the refund's transaction id.
func (f *Gateway) Refund(txID string, amount money.Money) (string, error) {
	dec, err := money.FormatDecimal(amount)
	if err != nil {
		return "", err
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	kv := f.apply("refund", url.Values{"transactionid": {txID}, "amount": {dec}}, Card{})
	for i := 0; kv[1] == "1" && i+1 < len(kv); i += 2 {
		if kv[i] == "transactionid" {
			return kv[i+1], nil
		}
	}
	return "", fmt.Errorf("fakegw: refund of %s refused: %v", txID, kv)
}

// ChargebackWebhook records a chargeback of amount against transaction txID
// and returns the signed chargeback.batch.complete webhook. Its body is a
// guess (no public sample of this event was found): TO CONFIRM.
func (f *Gateway) ChargebackWebhook(txID string, amount money.Money, reasonCode, reason string) (processor.WebhookRequest, error) {
	dec, err := money.FormatDecimal(amount)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	f.Mu.Lock()
	tx := f.Txns[txID]
	if tx == nil || tx.Captured-tx.Refunded < amount.Amount || tx.Currency != amount.Currency {
		f.Mu.Unlock()
		return processor.WebhookRequest{}, fmt.Errorf("fakegw: no captured %s transaction %s to charge back %s from", amount.Currency, txID, dec)
	}
	tx.ChargedBack += amount.Amount
	f.nextID++
	id := "cb" + strconv.Itoa(f.nextID)
	f.Counts["chargeback"]++
	date := f.now().Format("20060102150405")
	f.Mu.Unlock()
	body, err := json.Marshal(map[string]any{"event_id": NewEventID(), "event_type": "chargeback.batch.complete", "event_body": map[string]any{
		"chargebacks": []any{map[string]any{"id": id, "transaction_id": txID, "date": date,
			"amount": dec, "currency": tx.Currency, "reason_code": reasonCode, "reason": reason}}}})
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	return Sign(SigningKey, body), nil
}
