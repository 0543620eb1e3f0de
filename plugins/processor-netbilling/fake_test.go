package main

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

// fakeNB is a local stand-in for NETbilling. It speaks Direct Mode 3.1
// (form posts answered with status_code=...&trans_id=..., or HTTP 400 and a
// line of text), hands out transaction ids (getid) and answers polls, runs
// in test mode (approvals carry status_code T, "TEST APPROVED") and plays
// the hosted payment form with its MD5 hashes. It keeps auths, captures,
// voids and refunds, so a second capture is refused and counted.
type fakeNB struct {
	t                  *testing.T
	srv                *httptest.Server
	account, site, key string
	mu                 sync.Mutex
	nextID             int64
	issued             map[string]bool
	results            map[string]string // trans_id -> the direct answer, for poll
	txns               map[string]*nbTxn
	log                []url.Values
	counts             map[string]int // approved transactions by tran_type
	captureDelay       time.Duration
	fail5xx            int
}

type nbTxn struct {
	ID, Type, Orig, Card       string
	Amount, Captured, Refunded int64
	Voided                     bool
}

// Test cards. The hosted form approves every one but cardFormDecline; the
// outcome of later charges on the stored card is chosen by the number.
const (
	cardApprove      = "4444333322221111"
	cardDecline      = "4000000000000002"
	cardInsufficient = "4000000000009995"
	cardExpired      = "4000000000000069"
	cardUnavailable  = "4000000000000119"
	cardSlow         = "4000000000000259"
	cardFormDecline  = "4000000000000127"
)

func newFakeNB(t *testing.T) *fakeNB {
	f := &fakeNB{t: t, account: "104901072025", site: "CAMKIT", key: "test-integrity-key", nextID: 114262400000,
		issued: map[string]bool{}, results: map[string]string{}, txns: map[string]*nbTxn{}, counts: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/gw/sas/direct3.1", f.direct)
	mux.HandleFunc("/gw/native/getid1.0", f.getID)
	mux.HandleFunc("/gw/native/poll1.0", f.poll)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeNB) url(p string) string { return f.srv.URL + p }

func (f *fakeNB) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func (f *fakeNB) count(tranType string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[tranType]
}

func (f *fakeNB) requests(tranType string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.log {
		if r.Get("tran_type") == tranType {
			n++
		}
	}
	return n
}

func (f *fakeNB) newID() string {
	f.nextID++
	return strconv.FormatInt(f.nextID, 10)
}

func (f *fakeNB) getID(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Query().Get("account_id") != f.account {
		http.Error(w, "invalid account_id", http.StatusBadRequest)
		return
	}
	id := f.newID()
	f.issued[id] = true
	fmt.Fprintln(w, id)
}

func (f *fakeNB) poll(w http.ResponseWriter, r *http.Request) {
	if r.ParseForm() != nil || r.PostForm.Get("account_id") != f.account {
		http.Error(w, "invalid account_id", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	res, ok := f.results[r.PostForm.Get("trans_id")]
	if !ok {
		fmt.Fprint(w, "found=N")
		return
	}
	fmt.Fprint(w, "found=Y&"+res)
}

func (f *fakeNB) direct(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "POST a form", http.StatusBadRequest)
		return
	}
	form := r.PostForm
	f.mu.Lock()
	f.log = append(f.log, form)
	if c := form.Get("card_number"); c != "" && !strings.HasPrefix(c, "CS:") {
		f.t.Errorf("a raw card number reached the gateway: %v", form)
	}
	if f.fail5xx > 0 {
		f.fail5xx--
		f.mu.Unlock()
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if form.Get("account_id") != f.account || form.Get("site_tag") != f.site {
		f.mu.Unlock()
		http.Error(w, "Invalid account_id or site_tag", http.StatusBadRequest)
		return
	}
	id := form.Get("trans_id")
	if !f.issued[id] {
		f.mu.Unlock()
		http.Error(w, "trans_id was not issued by getid", http.StatusBadRequest)
		return
	}
	if _, done := f.results[id]; done {
		f.mu.Unlock()
		fmt.Fprint(w, "status_code=D&trans_id="+id+"&auth_msg=DUPLICATE")
		return
	}
	var card string
	if cs, ok := strings.CutPrefix(form.Get("card_number"), "CS:"); ok && f.txns[cs] != nil {
		card = f.txns[cs].Card
	} else if o := f.txns[form.Get("orig_id")]; o != nil {
		card = o.Card
	}
	var delay time.Duration
	switch card {
	case cardUnavailable:
		f.mu.Unlock()
		http.Error(w, "service temporarily unavailable", http.StatusServiceUnavailable)
		return
	case cardSlow:
		delay = 2 * time.Second
	}
	answer, status := f.apply(id, form, card)
	if status != http.StatusOK {
		f.mu.Unlock()
		http.Error(w, answer, status)
		return
	}
	f.results[id] = answer
	if form.Get("tran_type") == "D" && f.captureDelay > 0 {
		delay = f.captureDelay
	}
	f.mu.Unlock()
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

// apply performs one Direct Mode request; the caller holds f.mu.
func (f *fakeNB) apply(id string, form url.Values, card string) (string, int) {
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
		if f.txns[cs] == nil {
			return "card_number: no such stored card", http.StatusBadRequest
		}
		a, ok := amount()
		if !ok {
			return "amount: invalid " + form.Get("amount"), http.StatusBadRequest
		}
		msg := ""
		switch card {
		case cardDecline:
			msg = "DECLINED"
		case cardInsufficient:
			msg = "INSUFFICIENT FUNDS"
		case cardExpired:
			msg = "CARD EXPIRED"
		}
		if msg != "" {
			return "status_code=0&trans_id=" + id + "&auth_msg=" + url.QueryEscape(msg), http.StatusOK
		}
		f.txns[id] = &nbTxn{ID: id, Type: tt, Card: card, Amount: a}
		if tt == "S" {
			f.txns[id].Captured = a
		}
	case "D":
		o := f.txns[form.Get("orig_id")]
		if o == nil || o.Type != "A" || o.Captured > 0 || o.Voided {
			return "orig_id does not reference an open authorization", http.StatusBadRequest
		}
		a, ok := amount()
		if !ok || a > o.Amount {
			return "amount exceeds the authorized amount", http.StatusBadRequest
		}
		o.Captured = a
		f.txns[id] = &nbTxn{ID: id, Type: "D", Orig: o.ID, Card: o.Card, Amount: a, Captured: a}
	case "U":
		o := f.txns[form.Get("orig_id")]
		if o == nil || o.Type != "A" || o.Captured > 0 || o.Voided {
			return "orig_id cannot be voided", http.StatusBadRequest
		}
		o.Voided = true
		f.txns[id] = &nbTxn{ID: id, Type: "U", Orig: o.ID}
	case "R":
		o := f.txns[form.Get("orig_id")]
		if o == nil || o.Captured == 0 {
			return "orig_id is not a settled sale or capture", http.StatusBadRequest
		}
		a, ok := amount()
		if !ok || a > o.Captured-o.Refunded {
			return "amount exceeds the refundable amount", http.StatusBadRequest
		}
		o.Refunded += a
		f.txns[id] = &nbTxn{ID: id, Type: "R", Orig: o.ID, Amount: a}
	default:
		return "tran_type: invalid " + tt, http.StatusBadRequest
	}
	f.counts[tt]++
	return approvedAnswer(id), http.StatusOK
}

func (f *fakeNB) hashOf(v url.Values, prefix ...string) string {
	parts := append([]string{f.key}, prefix...)
	for _, fld := range strings.Fields(v.Get("Ecom_Ezic_Security_HashFields")) {
		parts = append(parts, v.Get(fld))
	}
	return md5Hex(parts...)
}

// pay plays the hosted form: the viewer types card on NETbilling's page and
// NETbilling posts the outcome back with the request fields, the response
// fields and the proof of purchase hash.
func (f *fakeNB) pay(fields map[string]string, card string) url.Values {
	f.t.Helper()
	v := url.Values{}
	for k, x := range fields {
		v.Set(k, x)
	}
	if got := v.Get("Ecom_Ezic_Security_HashValue_MD5"); got != f.hashOf(v) {
		f.t.Fatalf("the form's request hash %s is wrong (want %s)", got, f.hashOf(v))
	}
	if v.Get("Ecom_Ezic_AccountAndSitetag") != f.account+":"+f.site {
		f.t.Fatalf("form for account %q", v.Get("Ecom_Ezic_AccountAndSitetag"))
	}
	a, err := money.ParseDecimal(v.Get("Ecom_Cost_Total"), "USD")
	if err != nil {
		f.t.Fatalf("Ecom_Cost_Total %q: %v", v.Get("Ecom_Cost_Total"), err)
	}
	f.mu.Lock()
	id := f.newID()
	status, msg := "T", "TEST APPROVED"
	if card == cardFormDecline {
		status, msg = "0", "DECLINED"
	} else {
		typ := "A"
		if v.Get("Ecom_Ezic_Payment_AuthorizationType") == "SALE" {
			typ = "S"
		}
		f.txns[id] = &nbTxn{ID: id, Type: typ, Card: card, Amount: a.Amount}
		if typ == "S" {
			f.txns[id].Captured = a.Amount
		}
		f.counts["form-"+typ]++
	}
	f.mu.Unlock()
	return f.answer(v, id, status, msg, time.Now().UTC())
}

// answer completes a form answer and signs it as NETbilling does.
func (f *fakeNB) answer(v url.Values, id, status, msg string, issued time.Time) url.Values {
	v.Set("Ecom_Ezic_Response_TransactionID", id)
	v.Set("Ecom_Ezic_TransactionId", id)
	v.Set("Ecom_Ezic_Response_StatusCode", status)
	v.Set("Ecom_Ezic_TransactionStatus", status)
	v.Set("Ecom_Ezic_Response_AuthCode", "999999")
	v.Set("Ecom_Ezic_Response_AuthMessage", msg)
	v.Set("Ecom_Ezic_Response_IssueDate", issued.Format("2006-01-02 15:04:05"))
	v.Set("Ecom_Ezic_ProofOfPurchase_MD5", strings.ToUpper(f.hashOf(v, id, status)))
	return v
}

// postback builds a signed answer for an order the plugin may not know.
func (f *fakeNB) postback(orderID, authType, total string, issued time.Time) url.Values {
	v := url.Values{
		"Ecom_Ezic_AccountAndSitetag": {f.account + ":" + f.site}, "Ecom_Ezic_Payment_AuthorizationType": {authType},
		"Ecom_Cost_Total": {total}, "Ecom_ConsumerOrderID": {orderID}, "Ecom_Receipt_Description": {"credits"},
		"Ecom_Ezic_Security_HashFields": {strings.Join(hashFields, " ")},
	}
	v.Set("Ecom_Ezic_Security_HashValue_MD5", f.hashOf(v))
	f.mu.Lock()
	id := f.newID()
	f.mu.Unlock()
	return f.answer(v, id, "1", "APPROVED", issued)
}
