// Package fakegw is a local stand-in for NETbilling, for tests: the
// plugin's own and the host's swap test, which starts it, points the real
// plugin binary at it and counts what reached it. It imports the standard
// library and the SDK only.
//
// What it speaks, and where that is documented (public sources, found with
// the search tool; confirm with NETbilling before going live):
//   - Direct Mode 3 (direct3.1 on port 1402; form POST answered with
//     status_code, trans_id, auth_code, auth_date, auth_msg, avs_code,
//     cvv2_code): NETbilling's "Direct Mode 3.2 Protocol Documentation",
//     http://secure.netbilling.com/public/docs/merchant/public/directmode/directmode3protocol.html
//     (its host table lists getid3.1 as the 3.x ID generator; getid1.0 and
//     poll belong to Direct Mode 2.1, directmode21.html, which tracks an
//     unanswered transaction "through the online reporting system").
//   - HTTP status codes 200 success, 600-698 invalid input, 700-798
//     processing error, 699/799 exception, and "any unexpected status code
//     other than 0 and F should be interpreted as a successful transaction";
//     status codes 1, T, I (pending), 0, F, D (duplicate): NETbilling's own
//     WooCommerce plugin, github.com/common-repository/netbilling-for-woocommerce
//     includes/Api/Api.php and includes/Api/Response.php (quoting section 4.2
//     of directmode3protocol.html). ActiveMerchant's netbilling.rb treats
//     6xx/7xx as refusals too.
//   - tran_type A/S/D/U/R, orig_id, card_number=CS:<trans_id>: the same
//     WooCommerce plugin's includes/Api/Request.php (it sends amount with D;
//     ActiveMerchant's capture sends only orig_id). Whether D honours a
//     smaller amount is documented nowhere found, so this fake takes the
//     worst case: D captures the whole authorisation, whatever amount says
//     (HonourCaptureAmount turns that off).
//   - The hosted form's MD5 hashes (Ecom_Ezic_Security_HashValue_MD5 and
//     Ecom_Ezic_ProofOfPurchase_MD5 over the integrity key, transaction id,
//     status and the hashed fields, concatenated): EDD's
//     qctechjunkie/edd-netbilling-gateway-basic, aMember's and the Drupal
//     module drupal-membership/membership_provider_netbilling
//     (src/Controller/HostedPaymentController.php), citing
//     ezicPaymentForm22.html.
//   - The Data Retrieval Interface (gw/reports/transaction1.5, member1.5;
//     account_id, site_tag, authorization, transactions_after/_before as
//     "Y-m-d H:i:s" UTC; a CSV with a header row, errors as text/plain
//     "<code> <message>", Retry-After when throttled): repinterface1.5.html,
//     as used by the Drupal module's src/Plugin/MembershipProvider/NETBilling.php
//     and myneid/netbilling_update_member_expiration_date. Its columns beyond
//     TRANS_ID are not public, so neither the plugin nor this fake serves it.
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
// (form posts answered with status_code=...&trans_id=..., or one of its
// HTTP error codes and a line of text), runs in test mode (approvals carry
// status_code T, "TEST APPROVED") and plays the hosted payment form with
// its MD5 hashes. It keeps auths, captures, voids and refunds, so a second
// capture is refused and counted.
type Gateway struct {
	t                  testing.TB
	srv                *httptest.Server
	Account, Site, Key string
	Mu                 sync.Mutex
	nextID             int64
	Txns               map[string]*Txn
	Log                []url.Values
	Counts             map[string]int // approved transactions by tran_type
	CaptureDelay       time.Duration  // a D is applied, then answered this late
	Fail5xx            int            // the next n requests get HTTP 500 and are not applied
	// FailStatus answers the next FailTimes requests with this HTTP status
	// (e.g. 604 invalid input, 702 processing error, 799 exception); with
	// FailAfterApply the request is processed first (the money moves).
	FailStatus     int
	FailTimes      int
	FailAfterApply bool
	// DropAfterApply processes the next request and closes the connection
	// without an answer: a timeout after acceptance.
	DropAfterApply bool
	// ApproveWith replaces the approval's status_code (I, D, or a code no
	// document lists); empty means T.
	ApproveWith string
	// HonourCaptureAmount makes D capture the amount sent instead of the
	// whole authorisation.
	HonourCaptureAmount bool
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
	CardFailed       = "4000000000000341" // status_code F
)

// New starts the gateway on 127.0.0.1; it stops when the test ends.
func New(t testing.TB) *Gateway {
	f := &Gateway{t: t, Account: "104901072025", Site: "CAMKIT", Key: "test-integrity-key", nextID: 114262400000,
		Txns: map[string]*Txn{}, Counts: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/gw/sas/direct3.1", f.direct)
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
		writeStatus(w, 606, "Invalid account_id or site_tag")
		return
	}
	if f.FailTimes > 0 && !f.FailAfterApply {
		f.FailTimes--
		status := f.FailStatus
		f.Mu.Unlock()
		writeStatus(w, status, "Simulated failure")
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
		writeStatus(w, 702, "Processing error: processor unreachable")
		return
	case CardSlow:
		delay = 2 * time.Second
	}
	answer, status := f.apply(f.newID(), form, card)
	if status != http.StatusOK {
		f.Mu.Unlock()
		writeStatus(w, status, answer)
		return
	}
	if f.FailTimes > 0 && f.FailAfterApply {
		f.FailTimes--
		status := f.FailStatus
		f.Mu.Unlock()
		writeStatus(w, status, "Simulated exception after processing")
		return
	}
	if f.DropAfterApply {
		f.DropAfterApply = false
		f.Mu.Unlock()
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
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
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
	fmt.Fprint(w, answer)
}

// writeStatus answers as Direct Mode refuses: its own status code with the
// reason in the status line and the body.
func writeStatus(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

func (f *Gateway) approvedAnswer(id string) string {
	code := "T"
	if f.ApproveWith != "" {
		code = f.ApproveWith
	}
	return "status_code=" + code + "&trans_id=" + id + "&auth_code=999999&auth_date=" + url.QueryEscape(time.Now().UTC().Format("2006-01-02 15:04:05")) +
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
		return "Missing or invalid parameter (pay_type)", 604
	}
	switch tt {
	case "A", "S":
		cs, _ := strings.CutPrefix(form.Get("card_number"), "CS:")
		if f.Txns[cs] == nil {
			return "card_number: no such stored card", 605
		}
		a, ok := amount()
		if !ok {
			return "amount: invalid " + form.Get("amount"), 604
		}
		msg, code := "", "0"
		switch card {
		case CardFailed:
			msg, code = "DECLINED", "F"
		case CardDecline:
			msg = "DECLINED"
		case CardInsufficient:
			msg = "INSUFFICIENT FUNDS"
		case CardExpired:
			msg = "CARD EXPIRED"
		}
		if msg != "" {
			return "status_code=" + code + "&trans_id=" + id + "&auth_msg=" + url.QueryEscape(msg), http.StatusOK
		}
		f.Txns[id] = &Txn{ID: id, Type: tt, Card: card, Amount: a}
		if tt == "S" {
			f.Txns[id].Captured = a
		}
	case "D":
		o := f.Txns[form.Get("orig_id")]
		if o == nil || o.Type != "A" || o.Captured > 0 || o.Voided {
			return "orig_id does not reference an open authorization", 611
		}
		a, ok := amount()
		if !ok || a > o.Amount {
			return "amount exceeds the authorized amount", 604
		}
		if !f.HonourCaptureAmount {
			a = o.Amount // the worst case: D ignores amount and captures the whole hold
		}
		o.Captured = a
		f.Txns[id] = &Txn{ID: id, Type: "D", Orig: o.ID, Card: o.Card, Amount: a, Captured: a}
	case "U":
		o := f.Txns[form.Get("orig_id")]
		if o == nil || o.Type != "A" || o.Captured > 0 || o.Voided {
			return "orig_id cannot be voided", 611
		}
		o.Voided = true
		f.Txns[id] = &Txn{ID: id, Type: "U", Orig: o.ID}
	case "R":
		o := f.Txns[form.Get("orig_id")]
		if o == nil || o.Captured == 0 {
			return "orig_id is not a settled sale or capture", 611
		}
		a, ok := amount()
		if !ok || a > o.Captured-o.Refunded {
			return "amount exceeds the refundable amount", 604
		}
		o.Refunded += a
		f.Txns[id] = &Txn{ID: id, Type: "R", Orig: o.ID, Amount: a}
	default:
		return "Missing or invalid parameter (tran_type)", 604
	}
	f.Counts[tt]++
	return f.approvedAnswer(id), http.StatusOK
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
		"direct_url": f.URL("/gw/sas/direct3.1"),
		"form_url":   f.URL("/gw/native/interactive2.2"), "state_file": stateFile,
	}
	for k, v := range extra {
		m[k] = v
	}
	return json.Marshal(m)
}
