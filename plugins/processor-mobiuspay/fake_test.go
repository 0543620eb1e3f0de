package main

import (
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
)

// fakeNMI is a local stand-in for MobiusPay's NMI gateway. It speaks the
// documented wire format: form-encoded requests to /api/transact.php answered
// with a query string (response=1&responsetext=...&transactionid=...), XML
// from /api/query.php, and it keeps the state a real gateway keeps, so a
// second capture or an over-refund is refused and double charges are counted.
type fakeNMI struct {
	t      *testing.T
	srv    *httptest.Server
	key    string
	curr   map[string]bool
	mu     sync.Mutex
	nextID int
	tokens map[string]fakeCard // Collect.js payment tokens, single use
	vault  map[string]fakeCard // customer_vault_id -> card
	txns   map[string]*fakeTxn
	order  []string // transaction ids in creation order
	log    []url.Values
	counts map[string]int // successful actions by type

	// test switches
	captureDelay time.Duration // apply a capture, then answer this late
	authDelay    time.Duration // apply an auth, then answer this late
	fail5xx      int           // answer the next n transact calls with 502 and do nothing
}

type fakeCard struct {
	Number string
	Exp    string // MMYY
}

type fakeTxn struct {
	ID, OrderID, Currency, Condition, VaultID string
	Original                                  string
	Amount, Captured, Refunded                int64 // minor units
	Actions                                   []fakeAction
}

type fakeAction struct {
	Type, Amount, Date, Success, Text, Code string
}

// Test cards: the outcome is chosen by the number, as in a gateway's test mode.
const (
	cardApprove      = "4111111111111111"
	cardApproveMC    = "5431111111111111"
	cardDecline      = "4000000000000002"
	cardInsufficient = "4000000000009995"
	cardExpired      = "4000000000000069"
	cardUnavailable  = "4000000000000119"
	cardSlow         = "4000000000000259"
)

func newFakeNMI(t *testing.T, currencies ...string) *fakeNMI {
	f := &fakeNMI{t: t, key: "test-security-key", curr: map[string]bool{}, nextID: 1000000,
		tokens: map[string]fakeCard{}, vault: map[string]fakeCard{}, txns: map[string]*fakeTxn{}, counts: map[string]int{}}
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

func (f *fakeNMI) url(path string) string { return f.srv.URL + path }

// tokenize is what Collect.js does in the viewer's browser: the card goes to
// the gateway, a one-time payment token comes back.
func (f *fakeNMI) tokenize(number, exp string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	tok := fmt.Sprintf("00000000-000000-000000-%012d", f.nextID)
	f.tokens[tok] = fakeCard{Number: number, Exp: exp}
	return tok
}

func (f *fakeNMI) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[kind]
}

func (f *fakeNMI) requests(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.log {
		if r.Get("type") == kind {
			n++
		}
	}
	return n
}

func (f *fakeNMI) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
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

func (f *fakeNMI) transact(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	form := r.PostForm
	f.mu.Lock()
	f.log = append(f.log, form)
	if form.Get("ccnumber") != "" {
		f.t.Errorf("a raw card number reached the gateway: %v", form)
	}
	if f.fail5xx > 0 {
		f.fail5xx--
		f.mu.Unlock()
		http.Error(w, "bad gateway", http.StatusBadGateway)
		return
	}
	if form.Get("security_key") != f.key {
		f.mu.Unlock()
		answer(w, "response", "3", "responsetext", "Authentication Failed", "response_code", "300")
		return
	}
	if form.Get("customer_vault") == "add_customer" {
		defer f.mu.Unlock()
		c, ok := f.tokens[form.Get("payment_token")]
		if !ok {
			answer(w, "response", "3", "responsetext", "Invalid payment_token", "response_code", "300")
			return
		}
		delete(f.tokens, form.Get("payment_token"))
		f.nextID++
		id := strconv.Itoa(f.nextID)
		f.vault[id] = c
		answer(w, "response", "1", "responsetext", "Customer Added", "customer_vault_id", id, "response_code", "100")
		return
	}
	kind := form.Get("type")
	var delay time.Duration
	var card fakeCard
	if v := form.Get("customer_vault_id"); v != "" {
		card = f.vault[v]
	} else if tx := f.txns[form.Get("transactionid")]; tx != nil {
		card = f.vault[tx.VaultID]
	}
	switch card.Number {
	case cardUnavailable:
		f.mu.Unlock()
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	case cardSlow:
		delay = 2 * time.Second
	}
	kv := f.apply(kind, form, card)
	switch {
	case kind == "capture" && kv[1] == "1" && f.captureDelay > 0:
		delay = f.captureDelay
	case kind == "auth" && kv[1] == "1" && f.authDelay > 0:
		delay = f.authDelay
	}
	f.mu.Unlock()
	if delay > 0 { // the work is done; the answer comes late, or never if the client hangs up
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	answer(w, kv...)
}

// apply performs one transact.php request; the caller holds f.mu.
func (f *fakeNMI) apply(kind string, form url.Values, card fakeCard) []string {
	fail := func(text string) []string {
		return []string{"response", "3", "responsetext", text, "response_code", "300", "type", kind}
	}
	now := time.Now().UTC().Format("20060102150405")
	switch kind {
	case "auth", "sale":
		v := form.Get("customer_vault_id")
		if _, ok := f.vault[v]; !ok {
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
		tx := &fakeTxn{ID: strconv.Itoa(f.nextID), OrderID: form.Get("orderid"), Currency: cur, VaultID: v, Amount: amt.Amount, Condition: "pending"}
		f.txns[tx.ID] = tx
		f.order = append(f.order, tx.ID)
		code, text := "100", "SUCCESS"
		switch card.Number {
		case cardDecline:
			code, text = "200", "DECLINE"
		case cardInsufficient:
			code, text = "202", "Insufficient funds"
		case cardExpired:
			code, text = "223", "Expired card"
		}
		if code != "100" {
			tx.Condition = "failed"
			tx.Actions = append(tx.Actions, fakeAction{kind, form.Get("amount"), now, "0", text, code})
			return []string{"response", "2", "responsetext", text, "transactionid", tx.ID, "orderid", tx.OrderID, "type", kind, "response_code", code}
		}
		if kind == "sale" {
			tx.Captured, tx.Condition = amt.Amount, "pendingsettlement"
		}
		tx.Actions = append(tx.Actions, fakeAction{kind, form.Get("amount"), now, "1", text, code})
		f.counts[kind]++
		return []string{"response", "1", "responsetext", text, "authcode", "123456", "transactionid", tx.ID, "orderid", tx.OrderID, "type", kind, "response_code", "100", "customer_vault_id", v}
	case "capture":
		tx := f.txns[form.Get("transactionid")]
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
		tx.Actions = append(tx.Actions, fakeAction{"capture", form.Get("amount"), now, "1", "SUCCESS", "100"})
		f.counts["capture"]++
		return []string{"response", "1", "responsetext", "SUCCESS", "transactionid", tx.ID, "orderid", form.Get("orderid"), "type", "capture", "response_code", "100"}
	case "void":
		tx := f.txns[form.Get("transactionid")]
		if tx == nil || tx.Condition != "pending" {
			return fail("Only transactions pending settlement can be voided REFID:5")
		}
		tx.Condition = "canceled"
		tx.Actions = append(tx.Actions, fakeAction{"void", "0.00", now, "1", "Transaction Void Successful", "100"})
		f.counts["void"]++
		return []string{"response", "1", "responsetext", "Transaction Void Successful", "transactionid", tx.ID, "type", "void", "response_code", "100"}
	case "refund":
		tx := f.txns[form.Get("transactionid")]
		if tx == nil || tx.Captured == 0 {
			return fail("Refunds must be processed against a sale or captured auth REFID:6")
		}
		amt, err := money.ParseDecimal(form.Get("amount"), tx.Currency)
		if err != nil || amt.Amount <= 0 || amt.Amount > tx.Captured-tx.Refunded {
			return fail("Refund amount may not exceed the transaction balance REFID:7")
		}
		tx.Refunded += amt.Amount
		f.nextID++
		rf := &fakeTxn{ID: strconv.Itoa(f.nextID), OrderID: form.Get("orderid"), Currency: tx.Currency, Original: tx.ID, Amount: amt.Amount, Condition: "pendingsettlement"}
		rf.Actions = append(rf.Actions, fakeAction{"refund", form.Get("amount"), now, "1", "SUCCESS", "100"})
		f.txns[rf.ID] = rf
		f.order = append(f.order, rf.ID)
		f.counts["refund"]++
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

func (f *fakeNMI) query(w http.ResponseWriter, r *http.Request) {
	if r.ParseForm() != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml; charset=UTF-8")
	if r.Form.Get("security_key") != f.key {
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><nm_response><error_response>Invalid Security Key</error_response></nm_response>`)
		return
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<nm_response>\n")
	if r.Form.Get("report_type") == "customer_vault" {
		id := r.Form.Get("customer_vault_id")
		if c, ok := f.vault[id]; ok {
			masked := c.Number[:1] + strings.Repeat("x", len(c.Number)-5) + c.Number[len(c.Number)-4:]
			fmt.Fprintf(&b, "<customer_vault><customer id=%q><cc_number>%s</cc_number><cc_exp>%s</cc_exp><customer_vault_id>%s</customer_vault_id></customer></customer_vault>\n", id, masked, c.Exp, id)
		}
	} else {
		for _, id := range f.order {
			tx := f.txns[id]
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
