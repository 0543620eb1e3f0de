// Package fakegw is a local stand-in for NETbilling, for tests: the
// plugin's own and the host's swap test, which starts it, points the real
// plugin binary at it and counts what reached it. It imports the standard
// library and the SDK only.
package fakegw

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
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

// HashFields are the request fields the hosted form's MD5 covers, in order,
// after the integrity key.
var HashFields = []string{"Ecom_Ezic_AccountAndSitetag", "Ecom_Ezic_Payment_AuthorizationType", "Ecom_Cost_Total", "Ecom_ConsumerOrderID"}

func md5Hex(parts ...string) string {
	h := md5.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Gateway is a local stand-in for NETbilling. It speaks Direct Mode 3.1
// (form posts answered with status_code=...&trans_id=..., or HTTP 400 and a
// line of text), hands out transaction ids (getid) and answers polls, runs
// in test mode (approvals carry status_code T, "TEST APPROVED") and plays
// the hosted payment form with its MD5 hashes. It keeps auths, captures,
// voids and refunds, so a second capture is refused and counted.
type Gateway struct {
	t                  testing.TB
	srv                *httptest.Server
	Account, Site, Key string
	Mu                 sync.Mutex
	nextID             int64
	issued             map[string]bool
	results            map[string]string // trans_id -> the direct answer, for poll
	Txns               map[string]*Txn
	Log                []url.Values
	Counts             map[string]int // approved transactions by tran_type
	CaptureDelay       time.Duration
	Fail5xx            int
}

type Txn struct {
	ID, Type, Orig, Card       string
	Amount, Captured, Refunded int64
	Voided                     bool
}

// Test cards. The hosted form approves every one but CardFormDecline; the
// outcome of later charges on the stored card is chosen by the number.
const (
	CardApprove      = "4444333322221111"
	CardDecline      = "4000000000000002"
	CardInsufficient = "4000000000009995"
	CardExpired      = "4000000000000069"
	CardUnavailable  = "4000000000000119"
	CardSlow         = "4000000000000259"
	CardFormDecline  = "4000000000000127"
)

// New starts the gateway on 127.0.0.1; it stops when the test ends.
func New(t testing.TB) *Gateway {
	f := &Gateway{t: t, Account: "104901072025", Site: "CAMKIT", Key: "test-integrity-key", nextID: 114262400000,
		issued: map[string]bool{}, results: map[string]string{}, Txns: map[string]*Txn{}, Counts: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/gw/sas/direct3.1", f.direct)
	mux.HandleFunc("/gw/native/getid1.0", f.getID)
	mux.HandleFunc("/gw/native/poll1.0", f.poll)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *Gateway) URL(p string) string { return f.srv.URL + p }

func (f *Gateway) Set(fn func()) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	fn()
}

func (f *Gateway) Count(tranType string) int {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.Counts[tranType]
}

func (f *Gateway) Requests(tranType string) int {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	n := 0
	for _, r := range f.Log {
		if r.Get("tran_type") == tranType {
			n++
		}
	}
	return n
}

func (f *Gateway) newID() string {
	f.nextID++
	return strconv.FormatInt(f.nextID, 10)
}

func (f *Gateway) getID(w http.ResponseWriter, r *http.Request) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if r.URL.Query().Get("account_id") != f.Account {
		http.Error(w, "invalid account_id", http.StatusBadRequest)
		return
	}
	id := f.newID()
	f.issued[id] = true
	fmt.Fprintln(w, id)
}

func (f *Gateway) poll(w http.ResponseWriter, r *http.Request) {
	if r.ParseForm() != nil || r.PostForm.Get("account_id") != f.Account {
		http.Error(w, "invalid account_id", http.StatusBadRequest)
		return
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	res, ok := f.results[r.PostForm.Get("trans_id")]
	if !ok {
		fmt.Fprint(w, "found=N")
		return
	}
	fmt.Fprint(w, "found=Y&"+res)
}

func (f *Gateway) direct(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "POST a form", http.StatusBadRequest)
		return
	}
	form := r.PostForm
	f.Mu.Lock()
	f.Log = append(f.Log, form)
	if c := form.Get("card_number"); c != "" && !strings.HasPrefix(c, "CS:") {
		f.t.Errorf("a raw card number reached the gateway: %v", form)
	}
	if f.Fail5xx > 0 {
		f.Fail5xx--
		f.Mu.Unlock()
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if form.Get("account_id") != f.Account || form.Get("site_tag") != f.Site {
		f.Mu.Unlock()
		http.Error(w, "Invalid account_id or site_tag", http.StatusBadRequest)
		return
	}
	id := form.Get("trans_id")
	if !f.issued[id] {
		f.Mu.Unlock()
		http.Error(w, "trans_id was not issued by getid", http.StatusBadRequest)
		return
	}
	if _, done := f.results[id]; done {
		f.Mu.Unlock()
		fmt.Fprint(w, "status_code=D&trans_id="+id+"&auth_msg=DUPLICATE")
		return
	}
	var card string
	if cs, ok := strings.CutPrefix(form.Get("card_number"), "CS:"); ok && f.Txns[cs] != nil {
		card = f.Txns[cs].Card
	} else if o := f.Txns[form.Get("orig_id")]; o != nil {
		card = o.Card
	}
	var delay time.Duration
	switch card {
	case CardUnavailable:
		f.Mu.Unlock()
		http.Error(w, "service temporarily unavailable", http.StatusServiceUnavailable)
		return
	case CardSlow:
		delay = 2 * time.Second
	}
	answer, status := f.apply(id, form, card)
	if status != http.StatusOK {
		f.Mu.Unlock()
		http.Error(w, answer, status)
		return
	}
	f.results[id] = answer
	if form.Get("tran_type") == "D" && f.CaptureDelay > 0 {
		delay = f.CaptureDelay
	}
	f.Mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprint(w, answer)
}

func approvedAnswer(id string) string {
	return "status_code=T&trans_id=" + id + "&auth_code=999999&auth_date=" + url.QueryEscape(time.Now().UTC().Format("2006-01-02 15:04:05")) +
		"&auth_msg=TEST+APPROVED&avs_code=X&cvv2_code=M"
}

// apply performs one Direct Mode request; the caller holds f.Mu.
func (f *Gateway) apply(id string, form url.Values, card string) (string, int) {
	amount := func() (int64, bool) {
		m, err := money.ParseDecimal(form.Get("amount"), "USD")
		return m.Amount, err == nil && m.Amount > 0 && strings.Count(form.Get("amount"), ".") == 1
	}
	tt := form.Get("tran_type")
	if form.Get("pay_type") != "C" {
		return "pay_type must be C", http.StatusBadRequest
	}
	switch tt {
	case "A", "S":
		cs, _ := strings.CutPrefix(form.Get("card_number"), "CS:")
		if f.Txns[cs] == nil {
			return "card_number: no such stored card", http.StatusBadRequest
		}
		a, ok := amount()
		if !ok {
			return "amount: invalid " + form.Get("amount"), http.StatusBadRequest
		}
		msg := ""
		switch card {
		case CardDecline:
			msg = "DECLINED"
		case CardInsufficient:
			msg = "INSUFFICIENT FUNDS"
		case CardExpired:
			msg = "CARD EXPIRED"
		}
		if msg != "" {
			return "status_code=0&trans_id=" + id + "&auth_msg=" + url.QueryEscape(msg), http.StatusOK
		}
		f.Txns[id] = &Txn{ID: id, Type: tt, Card: card, Amount: a}
		if tt == "S" {
			f.Txns[id].Captured = a
		}
	case "D":
		o := f.Txns[form.Get("orig_id")]
		if o == nil || o.Type != "A" || o.Captured > 0 || o.Voided {
			return "orig_id does not reference an open authorization", http.StatusBadRequest
		}
		a, ok := amount()
		if !ok || a > o.Amount {
			return "amount exceeds the authorized amount", http.StatusBadRequest
		}
		o.Captured = a
		f.Txns[id] = &Txn{ID: id, Type: "D", Orig: o.ID, Card: o.Card, Amount: a, Captured: a}
	case "U":
		o := f.Txns[form.Get("orig_id")]
		if o == nil || o.Type != "A" || o.Captured > 0 || o.Voided {
			return "orig_id cannot be voided", http.StatusBadRequest
		}
		o.Voided = true
		f.Txns[id] = &Txn{ID: id, Type: "U", Orig: o.ID}
	case "R":
		o := f.Txns[form.Get("orig_id")]
		if o == nil || o.Captured == 0 {
			return "orig_id is not a settled sale or capture", http.StatusBadRequest
		}
		a, ok := amount()
		if !ok || a > o.Captured-o.Refunded {
			return "amount exceeds the refundable amount", http.StatusBadRequest
		}
		o.Refunded += a
		f.Txns[id] = &Txn{ID: id, Type: "R", Orig: o.ID, Amount: a}
	default:
		return "tran_type: invalid " + tt, http.StatusBadRequest
	}
	f.Counts[tt]++
	return approvedAnswer(id), http.StatusOK
}

func (f *Gateway) HashOf(v url.Values, prefix ...string) string {
	parts := append([]string{f.Key}, prefix...)
	for _, fld := range strings.Fields(v.Get("Ecom_Ezic_Security_HashFields")) {
		parts = append(parts, v.Get(fld))
	}
	return md5Hex(parts...)
}

// Pay plays the hosted form: the viewer types card on NETbilling's page and
// NETbilling posts the outcome back with the request fields, the response
// fields and the proof of purchase hash.
func (f *Gateway) Pay(fields map[string]string, card string) url.Values {
	f.t.Helper()
	v := url.Values{}
	for k, x := range fields {
		v.Set(k, x)
	}
	if got := v.Get("Ecom_Ezic_Security_HashValue_MD5"); got != f.HashOf(v) {
		f.t.Fatalf("the form's request hash %s is wrong (want %s)", got, f.HashOf(v))
	}
	if v.Get("Ecom_Ezic_AccountAndSitetag") != f.Account+":"+f.Site {
		f.t.Fatalf("form for account %q", v.Get("Ecom_Ezic_AccountAndSitetag"))
	}
	a, err := money.ParseDecimal(v.Get("Ecom_Cost_Total"), "USD")
	if err != nil {
		f.t.Fatalf("Ecom_Cost_Total %q: %v", v.Get("Ecom_Cost_Total"), err)
	}
	f.Mu.Lock()
	id := f.newID()
	status, msg := "T", "TEST APPROVED"
	if card == CardFormDecline {
		status, msg = "0", "DECLINED"
	} else {
		typ := "A"
		if v.Get("Ecom_Ezic_Payment_AuthorizationType") == "SALE" {
			typ = "S"
		}
		f.Txns[id] = &Txn{ID: id, Type: typ, Card: card, Amount: a.Amount}
		if typ == "S" {
			f.Txns[id].Captured = a.Amount
		}
		f.Counts["form-"+typ]++
	}
	f.Mu.Unlock()
	return f.Answer(v, id, status, msg, time.Now().UTC())
}

// Answer completes a form answer and signs it as NETbilling does.
func (f *Gateway) Answer(v url.Values, id, status, msg string, issued time.Time) url.Values {
	v.Set("Ecom_Ezic_Response_TransactionID", id)
	v.Set("Ecom_Ezic_TransactionId", id)
	v.Set("Ecom_Ezic_Response_StatusCode", status)
	v.Set("Ecom_Ezic_TransactionStatus", status)
	v.Set("Ecom_Ezic_Response_AuthCode", "999999")
	v.Set("Ecom_Ezic_Response_AuthMessage", msg)
	v.Set("Ecom_Ezic_Response_IssueDate", issued.Format("2006-01-02 15:04:05"))
	v.Set("Ecom_Ezic_ProofOfPurchase_MD5", strings.ToUpper(f.HashOf(v, id, status)))
	return v
}

// Postback builds a signed answer for an order the plugin may not know.
func (f *Gateway) Postback(orderID, authType, total string, issued time.Time) url.Values {
	v := url.Values{
		"Ecom_Ezic_AccountAndSitetag": {f.Account + ":" + f.Site}, "Ecom_Ezic_Payment_AuthorizationType": {authType},
		"Ecom_Cost_Total": {total}, "Ecom_ConsumerOrderID": {orderID}, "Ecom_Receipt_Description": {"credits"},
		"Ecom_Ezic_Security_HashFields": {strings.Join(HashFields, " ")},
	}
	v.Set("Ecom_Ezic_Security_HashValue_MD5", f.HashOf(v))
	f.Mu.Lock()
	id := f.newID()
	f.Mu.Unlock()
	return f.Answer(v, id, "1", "APPROVED", issued)
}

// Settings are the plugin settings that point it at this gateway; extra
// adds or overrides keys.
func (f *Gateway) Settings(stateFile string, extra map[string]any) ([]byte, error) {
	m := map[string]any{
		"account_id": f.Account, "site_tag": f.Site, "integrity_key": f.Key,
		"direct_url": f.URL("/gw/sas/direct3.1"), "getid_url": f.URL("/gw/native/getid1.0"), "poll_url": f.URL("/gw/native/poll1.0"),
		"form_url": f.URL("/gw/native/interactive2.2"), "state_file": stateFile,
	}
	for k, v := range extra {
		m[k] = v
	}
	return json.Marshal(m)
}
