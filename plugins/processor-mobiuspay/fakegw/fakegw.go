// Package fakegw is a local stand-in for MobiusPay's NMI gateway, for tests:
// the plugin's own and the host's swap test, which starts it, points the
// real plugin binary at it and counts what reached it. It imports the
// standard library and the SDK only.
package fakegw

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// Test credentials the plugin's settings must carry (see Settings).
const (
	SecurityKey     = "test-security-key"
	TokenizationKey = "test-public-key"
	SigningKey      = "test-webhook-signing-key-0123456789"
)

// Gateway is a local stand-in for MobiusPay's NMI gateway. It speaks the
// documented wire format: form-encoded requests to /api/transact.php answered
// with a query string (response=1&responsetext=...&transactionid=...), XML
// from /api/query.php, and it keeps the state a real gateway keeps, so a
// second capture or an over-refund is refused and double charges are counted.
type Gateway struct {
	t      testing.TB
	srv    *httptest.Server
	Key    string
	curr   map[string]bool
	Mu     sync.Mutex
	nextID int
	tokens map[string]Card // Collect.js payment tokens, single use
	Vault  map[string]Card // customer_vault_id -> card
	Txns   map[string]*Txn
	order  []string // transaction ids in creation order
	Log    []url.Values
	Counts map[string]int // successful actions by type

	// test switches
	CaptureDelay time.Duration // apply a capture, then answer this late
	AuthDelay    time.Duration // apply an auth, then answer this late
	Fail5xx      int           // answer the next n transact calls with 502 and do nothing
}

type Card struct {
	Number string
	Exp    string // MMYY
}

type Txn struct {
	ID, OrderID, Currency, Condition, VaultID string
	Original                                  string
	Amount, Captured, Refunded, ChargedBack   int64 // minor units
	Actions                                   []Action
}

type Action struct {
	Type, Amount, Date, Success, Text, Code string
}

// Test cards: the outcome is chosen by the number, as in a gateway's test mode.
const (
	CardApprove      = "4111111111111111"
	CardApproveMC    = "5431111111111111"
	CardDecline      = "4000000000000002"
	CardInsufficient = "4000000000009995"
	CardExpired      = "4000000000000069"
	CardUnavailable  = "4000000000000119"
	CardSlow         = "4000000000000259"
)

// New starts a gateway on 127.0.0.1 that accepts currencies; it stops when
// the test ends.
func New(t testing.TB, currencies ...string) *Gateway {
	f := &Gateway{t: t, Key: SecurityKey, curr: map[string]bool{}, nextID: 1000000,
		tokens: map[string]Card{}, Vault: map[string]Card{}, Txns: map[string]*Txn{}, Counts: map[string]int{}}
	for _, c := range currencies {
		f.curr[c] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/transact.php", f.transact)
	mux.HandleFunc("/api/query.php", f.query)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *Gateway) URL(path string) string { return f.srv.URL + path }

// Tokenize is what Collect.js does in the viewer's browser: the card goes to
// the gateway, a one-time payment token comes back.
func (f *Gateway) Tokenize(number, exp string) string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.nextID++
	tok := fmt.Sprintf("00000000-000000-000000-%012d", f.nextID)
	f.tokens[tok] = Card{Number: number, Exp: exp}
	return tok
}

func (f *Gateway) Count(kind string) int {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.Counts[kind]
}

func (f *Gateway) Requests(kind string) int {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	n := 0
	for _, r := range f.Log {
		if r.Get("type") == kind {
			n++
		}
	}
	return n
}

func (f *Gateway) Set(fn func()) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	fn()
}

func answer(w http.ResponseWriter, kv ...string) {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	w.Header().Set("Content-Type", "text/html; charset=UTF-8") // what NMI sends
	fmt.Fprint(w, v.Encode())
}

func (f *Gateway) transact(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	form := r.PostForm
	f.Mu.Lock()
	f.Log = append(f.Log, form)
	if form.Get("ccnumber") != "" {
		f.t.Errorf("a raw card number reached the gateway: %v", form)
	}
	if f.Fail5xx > 0 {
		f.Fail5xx--
		f.Mu.Unlock()
		http.Error(w, "bad gateway", http.StatusBadGateway)
		return
	}
	if form.Get("security_key") != f.Key {
		f.Mu.Unlock()
		answer(w, "response", "3", "responsetext", "Authentication Failed", "response_code", "300")
		return
	}
	if form.Get("customer_vault") == "add_customer" {
		defer f.Mu.Unlock()
		c, ok := f.tokens[form.Get("payment_token")]
		if !ok {
			answer(w, "response", "3", "responsetext", "Invalid payment_token", "response_code", "300")
			return
		}
		delete(f.tokens, form.Get("payment_token"))
		f.nextID++
		id := strconv.Itoa(f.nextID)
		f.Vault[id] = c
		answer(w, "response", "1", "responsetext", "Customer Added", "customer_vault_id", id, "response_code", "100")
		return
	}
	kind := form.Get("type")
	var delay time.Duration
	var card Card
	if v := form.Get("customer_vault_id"); v != "" {
		card = f.Vault[v]
	} else if tx := f.Txns[form.Get("transactionid")]; tx != nil {
		card = f.Vault[tx.VaultID]
	}
	switch card.Number {
	case CardUnavailable:
		f.Mu.Unlock()
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	case CardSlow:
		delay = 2 * time.Second
	}
	kv := f.apply(kind, form, card)
	switch {
	case kind == "capture" && kv[1] == "1" && f.CaptureDelay > 0:
		delay = f.CaptureDelay
	case kind == "auth" && kv[1] == "1" && f.AuthDelay > 0:
		delay = f.AuthDelay
	}
	f.Mu.Unlock()
	if delay > 0 { // the work is done; the answer comes late, or never if the client hangs up
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	answer(w, kv...)
}

// apply performs one transact.php request; the caller holds f.Mu.
func (f *Gateway) apply(kind string, form url.Values, card Card) []string {
	fail := func(text string) []string {
		return []string{"response", "3", "responsetext", text, "response_code", "300", "type", kind}
	}
	now := time.Now().UTC().Format("20060102150405")
	switch kind {
	case "auth", "sale":
		v := form.Get("customer_vault_id")
		if _, ok := f.Vault[v]; !ok {
			return fail("Invalid Customer Vault Id REFID:1")
		}
		cur := form.Get("currency")
		if !f.curr[cur] {
			return fail("Invalid currency " + cur)
		}
		amt, err := money.ParseDecimal(form.Get("amount"), cur)
		if err != nil || amt.Amount <= 0 || !strings.Contains(form.Get("amount"), ".") && mustExp(cur) > 0 {
			return fail("Invalid amount " + form.Get("amount"))
		}
		if form.Get("orderid") == "" {
			return fail("orderid missing")
		}
		f.nextID++
		tx := &Txn{ID: strconv.Itoa(f.nextID), OrderID: form.Get("orderid"), Currency: cur, VaultID: v, Amount: amt.Amount, Condition: "pending"}
		f.Txns[tx.ID] = tx
		f.order = append(f.order, tx.ID)
		code, text := "100", "SUCCESS"
		switch card.Number {
		case CardDecline:
			code, text = "200", "DECLINE"
		case CardInsufficient:
			code, text = "202", "Insufficient funds"
		case CardExpired:
			code, text = "223", "Expired card"
		}
		if code != "100" {
			tx.Condition = "failed"
			tx.Actions = append(tx.Actions, Action{kind, form.Get("amount"), now, "0", text, code})
			return []string{"response", "2", "responsetext", text, "transactionid", tx.ID, "orderid", tx.OrderID, "type", kind, "response_code", code}
		}
		if kind == "sale" {
			tx.Captured, tx.Condition = amt.Amount, "pendingsettlement"
		}
		tx.Actions = append(tx.Actions, Action{kind, form.Get("amount"), now, "1", text, code})
		f.Counts[kind]++
		return []string{"response", "1", "responsetext", text, "authcode", "123456", "transactionid", tx.ID, "orderid", tx.OrderID, "type", kind, "response_code", "100", "customer_vault_id", v}
	case "capture":
		tx := f.Txns[form.Get("transactionid")]
		if tx == nil || tx.Condition == "failed" {
			return fail("Transaction not found REFID:2")
		}
		if tx.Condition != "pending" || tx.Captured > 0 {
			return fail("A capture requires that the existing transaction be an AUTH REFID:3")
		}
		amt, err := money.ParseDecimal(form.Get("amount"), tx.Currency)
		if err != nil || amt.Amount <= 0 {
			return fail("Invalid amount")
		}
		if amt.Amount > tx.Amount {
			return fail("The specified amount exceeds the authorization amount REFID:4")
		}
		tx.Captured, tx.Condition = amt.Amount, "pendingsettlement"
		tx.Actions = append(tx.Actions, Action{"capture", form.Get("amount"), now, "1", "SUCCESS", "100"})
		f.Counts["capture"]++
		return []string{"response", "1", "responsetext", "SUCCESS", "transactionid", tx.ID, "orderid", form.Get("orderid"), "type", "capture", "response_code", "100"}
	case "void":
		tx := f.Txns[form.Get("transactionid")]
		if tx == nil || tx.Condition != "pending" {
			return fail("Only transactions pending settlement can be voided REFID:5")
		}
		tx.Condition = "canceled"
		tx.Actions = append(tx.Actions, Action{"void", "0.00", now, "1", "Transaction Void Successful", "100"})
		f.Counts["void"]++
		return []string{"response", "1", "responsetext", "Transaction Void Successful", "transactionid", tx.ID, "type", "void", "response_code", "100"}
	case "refund":
		tx := f.Txns[form.Get("transactionid")]
		if tx == nil || tx.Captured == 0 {
			return fail("Refunds must be processed against a sale or captured auth REFID:6")
		}
		amt, err := money.ParseDecimal(form.Get("amount"), tx.Currency)
		if err != nil || amt.Amount <= 0 || amt.Amount > tx.Captured-tx.Refunded {
			return fail("Refund amount may not exceed the transaction balance REFID:7")
		}
		tx.Refunded += amt.Amount
		f.nextID++
		rf := &Txn{ID: strconv.Itoa(f.nextID), OrderID: form.Get("orderid"), Currency: tx.Currency, Original: tx.ID, Amount: amt.Amount, Condition: "pendingsettlement"}
		rf.Actions = append(rf.Actions, Action{"refund", form.Get("amount"), now, "1", "SUCCESS", "100"})
		f.Txns[rf.ID] = rf
		f.order = append(f.order, rf.ID)
		f.Counts["refund"]++
		return []string{"response", "1", "responsetext", "SUCCESS", "transactionid", rf.ID, "type", "refund", "response_code", "100"}
	}
	return fail("Invalid Transaction Type")
}

func mustExp(cur string) int {
	c, err := money.Lookup(cur)
	if err != nil {
		return 0
	}
	return c.Exponent
}

type xmlTxn struct {
	XMLName   xml.Name    `xml:"transaction"`
	ID        string      `xml:"transaction_id"`
	Original  string      `xml:"original_transaction_id"`
	OrderID   string      `xml:"order_id"`
	Condition string      `xml:"condition"`
	Currency  string      `xml:"currency"`
	Actions   []xmlAction `xml:"action"`
}

type xmlAction struct {
	Amount       string `xml:"amount"`
	ActionType   string `xml:"action_type"`
	Date         string `xml:"date"`
	Success      string `xml:"success"`
	ResponseText string `xml:"response_text"`
	ResponseCode string `xml:"response_code"`
}

func (f *Gateway) query(w http.ResponseWriter, r *http.Request) {
	if r.ParseForm() != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	w.Header().Set("Content-Type", "text/xml; charset=UTF-8")
	if r.Form.Get("security_key") != f.Key {
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><nm_response><error_response>Invalid Security Key</error_response></nm_response>`)
		return
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<nm_response>\n")
	if r.Form.Get("report_type") == "customer_vault" {
		id := r.Form.Get("customer_vault_id")
		if c, ok := f.Vault[id]; ok {
			masked := c.Number[:1] + strings.Repeat("x", len(c.Number)-5) + c.Number[len(c.Number)-4:]
			fmt.Fprintf(&b, "<customer_vault><customer id=%q><cc_number>%s</cc_number><cc_exp>%s</cc_exp><customer_vault_id>%s</customer_vault_id></customer></customer_vault>\n", id, masked, c.Exp, id)
		}
	} else {
		for _, id := range f.order {
			tx := f.Txns[id]
			if o := r.Form.Get("order_id"); o != "" && tx.OrderID != o {
				continue
			}
			if t := r.Form.Get("transaction_id"); t != "" && tx.ID != t {
				continue
			}
			x := xmlTxn{ID: tx.ID, Original: tx.Original, OrderID: tx.OrderID, Condition: tx.Condition, Currency: tx.Currency}
			for _, a := range tx.Actions {
				x.Actions = append(x.Actions, xmlAction{a.Amount, a.Type, a.Date, a.Success, a.Text, a.Code})
			}
			out, err := xml.MarshalIndent(x, "", " ")
			if err != nil {
				f.t.Error(err)
			}
			b.Write(out)
			b.WriteString("\n")
		}
	}
	b.WriteString("</nm_response>\n")
	fmt.Fprint(w, b.String())
}

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
// header is "t=<nonce>,s=<hex HMAC-SHA256 of nonce.body under the signing key>".
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

func newEventID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "evt_" + hex.EncodeToString(b[:])
}

// RefundWebhook refunds amount of transaction txID at the gateway, as the
// merchant does in the portal, and returns the signed
// transaction.refund.success webhook NMI then sends.
func (f *Gateway) RefundWebhook(txID string, amount money.Money) (processor.WebhookRequest, error) {
	dec, err := money.FormatDecimal(amount)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	f.Mu.Lock()
	kv := f.apply("refund", url.Values{"transactionid": {txID}, "amount": {dec}}, Card{})
	var rf *Txn
	for i := 0; kv[1] == "1" && i+1 < len(kv); i += 2 {
		if kv[i] == "transactionid" {
			rf = f.Txns[kv[i+1]]
		}
	}
	f.Mu.Unlock()
	if rf == nil {
		return processor.WebhookRequest{}, fmt.Errorf("fakegw: refund of %s refused: %v", txID, kv)
	}
	a := rf.Actions[0]
	body, err := json.Marshal(map[string]any{"event_id": newEventID(), "event_type": "transaction.refund.success", "event_body": map[string]any{
		"transaction_id": rf.ID, "original_transaction_id": txID, "order_id": rf.OrderID, "currency": rf.Currency,
		"action": map[string]any{"amount": a.Amount, "action_type": "refund", "date": a.Date, "success": "1",
			"response_text": a.Text, "response_code": a.Code}}})
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	return Sign(SigningKey, body), nil
}

// ChargebackWebhook records a chargeback of amount against transaction txID
// and returns the signed chargeback.batch.complete webhook NMI sends for it.
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
	f.Mu.Unlock()
	body, err := json.Marshal(map[string]any{"event_id": newEventID(), "event_type": "chargeback.batch.complete", "event_body": map[string]any{
		"chargebacks": []any{map[string]any{"id": id, "transaction_id": txID, "date": time.Now().UTC().Format("20060102150405"),
			"amount": dec, "currency": tx.Currency, "reason_code": reasonCode, "reason": reason}}}})
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	return Sign(SigningKey, body), nil
}
