// Package fakegw is a local stand-in for MobiusPay's NMI gateway, for tests:
// the plugin's own and the host's swap test, which starts it, points the
// real plugin binary at it and counts what reached it. It imports the
// standard library and the SDK only.
//
// It speaks NMI's documented wire formats, as public sources show them
// (found with the search tool; confirm with MobiusPay before going live):
//
//   - Direct Post (transact.php): form-encoded requests, a query-string
//     answer response=1|2|3, responsetext, authcode, transactionid, orderid,
//     response_code; capture with an amount up to the authorisation; the
//     response_code table 100…461 (docs.nmi.com "Payment API"; the same
//     table in merchantprotocol/documentation
//     docs/01_Payment_Gateway/10_Three_Step_Redirect_API/05_Documentation/97_Response_Codes.md,
//     an NMI white-label copy; the open schema api-evangelist/nmi
//     json-schema/nmi-response-schema.json).
//   - Query API (query.php): security_key, transaction_id, order_id,
//     start_date/end_date as YYYYMMDDhhmmss, result_limit/page_number; an
//     XML <nm_response> of <transaction> elements (transaction_id,
//     original_transaction_id, order_id, condition, currency, cc_number
//     masked, cc_bin, cc_type) each with <action> entries (amount,
//     action_type sale|auth|capture|void|refund|credit, date, success,
//     response_text, response_code); <customer_vault><customer> for
//     report_type=customer_vault; <error_response> on a bad key. As in the
//     sample answers of public integration code (ActiveMerchant's
//     BraintreeReport/NMI query tests, the PHP NMI client test fixtures
//     indexed by the search tool) and suicidegirlsdev/nmi-gate README.md
//     (white-label transact.php/query.php URLs).
//   - Webhooks: Webhook-Signature: t=<nonce>,s=<hex HMAC-SHA256 of
//     "<nonce>.<raw body>">; t is a nonce, not a time, and no replay window
//     is documented (hookdeck/webhook-skills skills/nmi-webhooks/SKILL.md,
//     references/overview.md, references/verification.md). The envelope is
//     {event_id, event_type, event_body}. event_body is the shape of NMI's
//     own documentation sample (docs.nmi.com/docs/webhooks; the sample
//     transaction.auth.success body with its published signing key and
//     signature verifies byte for byte — a copy sits in a public Java
//     HMACUtil of the search tool's code index): transaction_id,
//     transaction_type, condition, order_id, currency, requested_amount,
//     card{cc_number masked, cc_bin, cc_type}, action{amount, action_type,
//     date "2006-01-02T15:04:05", success, response_text, response_code}
//     directly under event_body. hookdeck's overview.md illustrates a
//     nested event_body.transaction{transaction_id, amount, …} instead; the
//     plugin reads both (see its webhook.go). Event names
//     transaction.<sale|auth|capture|void|refund|credit|validate>.<success|failure|unknown>
//     and chargeback.batch.complete, settlement.batch.*, recurring.*,
//     acu.summary.* (the list from NMI's merchant portal, recorded in a
//     public integration handoff indexed by the search tool).
//   - chargeback.batch.complete: its body is NOT in any public sample found.
//     ChargebackWebhook sends a guess (chargebacks[]{id, transaction_id,
//     date, amount, currency, reason_code, reason}); TO CONFIRM.
package fakegw

import (
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
)

// Test credentials the plugin's settings must carry (see Settings).
const (
	SecurityKey     = "test-security-key"
	TokenizationKey = "test-public-key"
	SigningKey      = "test-webhook-signing-key-0123456789"
)

// Gateway is a local stand-in for MobiusPay's NMI gateway. It keeps the
// state a real gateway keeps, so a second capture or an over-refund is
// refused and double charges are counted.
type Gateway struct {
	t       testing.TB
	srv     *httptest.Server
	Key     string
	curr    map[string]bool
	Mu      sync.Mutex
	nextID  int
	tokens  map[string]Card // Collect.js payment tokens, single use
	Vault   map[string]Card // customer_vault_id -> card
	Txns    map[string]*Txn
	order   []string       // transaction ids in creation order
	Log     []url.Values   // transact.php requests
	Queries []url.Values   // query.php requests
	Counts  map[string]int // successful actions by type

	// Test switches, set under Mu (see Set).
	//
	// Late applies a request of that type ("auth", "sale", "capture",
	// "refund", "void") and then answers this late: the work is done, the
	// answer is lost if the client gives up first.
	Late map[string]time.Duration
	// Fail5xx answers the next n transact calls with 502 and does nothing.
	Fail5xx int
	// NextCode makes the next auth or sale fail with this response_code
	// (2xx: response=2, a decline; 3xx/4xx: response=3, an error), recorded
	// as a failed transaction as NMI records it.
	NextCode string
	// Now dates actions; time.Now when nil.
	Now func() time.Time
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

// ResponseText is NMI's wording of each documented response_code.
var ResponseText = map[string]string{
	"100": "Transaction was approved.", "200": "Transaction was declined by processor.", "201": "Do not honor.",
	"202": "Insufficient funds.", "203": "Over limit.", "204": "Transaction not allowed.",
	"220": "Incorrect payment information.", "221": "No such card issuer.", "222": "No card number on file with issuer.",
	"223": "Expired card.", "224": "Invalid expiration date.", "225": "Invalid card security code.", "226": "Invalid PIN.",
	"240": "Call issuer for further information.", "250": "Pick up card.", "251": "Lost card.", "252": "Stolen card.",
	"253": "Fraudulent card.", "260": "Declined with further instructions available.", "261": "Declined-Stop all recurring payments.",
	"262": "Declined-Stop this recurring program.", "263": "Declined-Update cardholder data available.", "264": "Declined-Retry in a few days.",
	"300": "Transaction was rejected by gateway.", "400": "Transaction error returned by processor.", "410": "Invalid merchant configuration.",
	"411": "Merchant account is inactive.", "420": "Communication error.", "421": "Communication error with issuer.",
	"430": "Duplicate transaction at processor.", "440": "Processor format error.", "441": "Invalid transaction information.",
	"460": "Processor feature not available.", "461": "Unsupported card type.",
}

// New starts a gateway on 127.0.0.1 that accepts currencies; it stops when
// the test ends.
func New(t testing.TB, currencies ...string) *Gateway {
	f := &Gateway{t: t, Key: SecurityKey, curr: map[string]bool{}, nextID: 1000000,
		tokens: map[string]Card{}, Vault: map[string]Card{}, Txns: map[string]*Txn{}, Counts: map[string]int{}, Late: map[string]time.Duration{}}
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

// Tx is a copy of transaction id, taken under the lock.
func (f *Gateway) Tx(id string) (Txn, bool) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	tx := f.Txns[id]
	if tx == nil {
		return Txn{}, false
	}
	c := *tx
	c.Actions = append([]Action(nil), tx.Actions...)
	return c, true
}

// now is the gateway's clock; the caller holds f.Mu.
func (f *Gateway) now() time.Time {
	if f.Now != nil {
		return f.Now().UTC()
	}
	return time.Now().UTC()
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
	if d := f.Late[kind]; d > 0 && kv[1] == "1" {
		delay = d
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
	now := f.now().Format("20060102150405")
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
		code := "100"
		switch card.Number {
		case CardDecline:
			code = "200"
		case CardInsufficient:
			code = "202"
		case CardExpired:
			code = "223"
		}
		if f.NextCode != "" {
			code, f.NextCode = f.NextCode, ""
		}
		text := ResponseText[code]
		if code != "100" {
			tx.Condition = "failed"
			tx.Actions = append(tx.Actions, Action{kind, form.Get("amount"), now, "0", text, code})
			response := "2"
			if code >= "300" {
				response = "3"
			}
			return []string{"response", response, "responsetext", text, "transactionid", tx.ID, "orderid", tx.OrderID, "type", kind, "response_code", code}
		}
		if kind == "sale" {
			tx.Captured, tx.Condition = amt.Amount, "pendingsettlement"
		}
		tx.Actions = append(tx.Actions, Action{kind, form.Get("amount"), now, "1", "SUCCESS", code})
		f.Counts[kind]++
		return []string{"response", "1", "responsetext", "SUCCESS", "authcode", "123456", "transactionid", tx.ID, "orderid", tx.OrderID, "type", kind, "response_code", "100", "customer_vault_id", v}
	case "capture":
		tx := f.Txns[form.Get("transactionid")]
		if tx == nil || tx.Condition == "failed" {
			return fail("Transaction not found REFID:2")
		}
		if tx.Condition != "pending" || tx.Captured > 0 {
			return fail("A capture requires that the existing transaction be an AUTH REFID:3")
		}
		raw := form.Get("amount")
		captured := tx.Amount // NMI: no amount captures the whole authorisation
		if raw != "" {
			amt, err := money.ParseDecimal(raw, tx.Currency)
			if err != nil || amt.Amount <= 0 {
				return fail("Invalid amount")
			}
			if amt.Amount > tx.Amount {
				return fail("The specified amount exceeds the authorization amount REFID:4")
			}
			captured = amt.Amount
		} else {
			raw, _ = money.FormatDecimal(money.Money{Amount: tx.Amount, Currency: tx.Currency})
		}
		// A capture below the authorisation settles that amount; the issuer
		// releases the rest of the hold.
		tx.Captured, tx.Condition = captured, "pendingsettlement"
		tx.Actions = append(tx.Actions, Action{"capture", raw, now, "1", "SUCCESS", "100"})
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
		rf := &Txn{ID: strconv.Itoa(f.nextID), OrderID: form.Get("orderid"), Currency: tx.Currency, Original: tx.ID, VaultID: tx.VaultID, Amount: amt.Amount, Condition: "pendingsettlement"}
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

// masked is a card number as NMI shows it: the first six and last four.
func masked(n string) string {
	if len(n) < 10 {
		return n
	}
	return n[:6] + strings.Repeat("*", len(n)-10) + n[len(n)-4:]
}

// cardType is NMI's cc_type of a test card.
func cardType(n string) string {
	switch {
	case strings.HasPrefix(n, "4"):
		return "visa"
	case strings.HasPrefix(n, "5"), strings.HasPrefix(n, "2"):
		return "mastercard"
	case strings.HasPrefix(n, "3"):
		return "amex"
	case strings.HasPrefix(n, "6"):
		return "discover"
	}
	return ""
}

func bin(n string) string {
	if len(n) < 6 {
		return ""
	}
	return n[:6]
}
