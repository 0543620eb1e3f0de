package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// fakeSegpay speaks Segpay's server-to-server formats on 127.0.0.1: Post Pay
// (form in, JSON out), the pricing hash service, one-click (ASMX XML) and SRS
// ADM (ASMX <string>). It emulates the hosted page by booking a purchase and
// building the TransPost Segpay would send. It keeps every authorisation,
// capture and refund, so a double capture shows up.
type fakeSegpay struct {
	srv *httptest.Server

	mu         sync.Mutex
	currency   string
	nextID     int64
	purchases  map[string]string // purchaseid -> card
	auths      map[string]*fakeAuth
	sales      map[string]*fakeSale // one-click and hosted sales by tranid
	captures   int
	oneclicks  int
	hangNext   bool              // the next capture or one-click sale is booked, then never answered
	booked     chan struct{}     // signalled when a hung request was booked
	hashes     map[string]string // amount text -> hash handed out
	lastAuthAm string
}

type fakeAuth struct {
	PurchaseID string
	Amount     money.Money
	Captured   *money.Money
	Voided     bool
	Refunded   bool
}

type fakeSale struct {
	Amount   money.Money
	Refunded bool
	Key      string
}

const (
	cardApprove      = "4111111111111111"
	cardDecline      = "4000000000000002"
	cardInsufficient = "4000000000009995"
	cardExpired      = "4000000000000069"
	cardUnavailable  = "4000000000000119"
	cardSlow         = "4000000000000259"
	fakeSlow         = 1500 * time.Millisecond
	segpayIP         = "192.0.2.10"
)

func newFakeSegpay(t *testing.T) *fakeSegpay {
	f := &fakeSegpay{currency: "USD", nextID: 847263500, purchases: map[string]string{}, auths: map[string]*fakeAuth{},
		sales: map[string]*fakeSale{}, hashes: map[string]string{}, booked: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /PostPay/PostPayAuth/", f.postPayAuth)
	mux.HandleFunc("POST /PostPay/PostPayCapture/", f.postPayCapture)
	mux.HandleFunc("GET /PricingHash/PricingHash.svc/GetDynamicTrans", f.pricingHash)
	mux.HandleFunc("POST /OneClickSales.asmx/SalesServiceDynamic", f.oneClick)
	mux.HandleFunc("GET /ADM.asmx/RefundTransaction", f.refund)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSegpay) id() string {
	f.nextID++
	return strconv.FormatInt(f.nextID, 10)
}

func (f *fakeSegpay) postPayAnswer(w http.ResponseWriter, id, result, msg string) {
	w.Header().Set("Content-Type", "application/json")
	var tid any = nil
	if id != "" {
		tid, _ = strconv.ParseInt(id, 10, 64)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"TransactionId": tid, "Result": result, "Message": msg})
}

func (f *fakeSegpay) postPayAuth(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("eticketid") != "109595:13925" {
		http.Error(w, "bad request", 400)
		return
	}
	f.mu.Lock()
	card, ok := f.purchases[r.PostForm.Get("purchaseid")]
	amount, err := money.ParseDecimal(r.PostForm.Get("amount"), f.currency)
	f.lastAuthAm = r.PostForm.Get("amount")
	if !ok || err != nil || amount.Amount <= 0 {
		f.mu.Unlock()
		f.postPayAnswer(w, "", "Error", "Invalid purchaseid or amount")
		return
	}
	switch card {
	case cardDecline:
		f.mu.Unlock()
		f.postPayAnswer(w, "", "Declined", "Do Not Honor")
		return
	case cardInsufficient:
		f.mu.Unlock()
		f.postPayAnswer(w, "", "Declined", "Insufficient Funds")
		return
	case cardExpired:
		f.mu.Unlock()
		f.postPayAnswer(w, "", "Declined", "Expired Card")
		return
	case cardUnavailable:
		f.mu.Unlock()
		http.Error(w, "Service Unavailable", 503)
		return
	}
	id := f.id()
	f.auths[id] = &fakeAuth{PurchaseID: r.PostForm.Get("purchaseid"), Amount: amount}
	f.mu.Unlock()
	if card == cardSlow {
		select {
		case <-time.After(fakeSlow):
		case <-r.Context().Done():
			return
		}
	}
	f.postPayAnswer(w, id, "Approved", "Approved")
}

func (f *fakeSegpay) postPayCapture(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", 400)
		return
	}
	f.mu.Lock()
	id := r.PostForm.Get("transactionId")
	a := f.auths[id]
	if a == nil {
		f.mu.Unlock()
		f.postPayAnswer(w, "", "Error", "Transaction not found")
		return
	}
	amount, err := money.ParseDecimal(r.PostForm.Get("amount"), f.currency)
	switch {
	case err != nil || amount.Amount < 0:
		f.mu.Unlock()
		f.postPayAnswer(w, "", "Error", "Invalid amount")
		return
	case a.Captured != nil || a.Voided:
		f.mu.Unlock()
		f.postPayAnswer(w, "", "Declined", "Transaction already captured")
		return
	case amount.Amount > a.Amount.Amount:
		f.mu.Unlock()
		f.postPayAnswer(w, "", "Declined", "Amount exceeds authorization")
		return
	}
	if amount.Amount == 0 {
		a.Voided = true
	} else {
		a.Captured = &amount
		f.captures++
	}
	hang := f.hangNext
	f.hangNext = false
	f.mu.Unlock()
	if hang { // booked, and the answer never comes
		f.booked <- struct{}{}
		<-r.Context().Done()
		return
	}
	f.postPayAnswer(w, id, "Approved", "Approved")
}

func (f *fakeSegpay) pricingHash(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query().Get("value")
	f.mu.Lock()
	h := fmt.Sprintf("H%x", len(f.hashes)+1000)
	f.hashes[v] = h
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<string xmlns="http://schemas.microsoft.com/2003/10/Serialization/">%s</string>`, h)
}

func (f *fakeSegpay) oneClick(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", 400)
		return
	}
	answer := func(approved, trans, msg string) {
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><TransResult><Approved>%s</Approved><TransID>%s</TransID><PurchaseID>%s</PurchaseID><Message>%s</Message></TransResult>`,
			approved, trans, r.PostForm.Get("octoken"), msg)
	}
	f.mu.Lock()
	card, ok := f.purchases[r.PostForm.Get("octoken")]
	amt := r.PostForm.Get("amount")
	amount, err := money.ParseDecimal(amt, f.currency)
	if !ok || err != nil || f.hashes[amt] == "" || f.hashes[amt] != r.PostForm.Get("dynamictrans") {
		f.mu.Unlock()
		answer("No", "", "Invalid request")
		return
	}
	switch card {
	case cardDecline:
		f.mu.Unlock()
		answer("No", "", "Do Not Honor")
		return
	case cardInsufficient:
		f.mu.Unlock()
		answer("No", "", "Insufficient Funds")
		return
	case cardExpired:
		f.mu.Unlock()
		answer("No", "", "Expired Card")
		return
	case cardUnavailable:
		f.mu.Unlock()
		http.Error(w, "Service Unavailable", 503)
		return
	}
	id := f.id()
	f.sales[id] = &fakeSale{Amount: amount, Key: r.PostForm.Get("camkit_key")}
	f.oneclicks++
	hang := f.hangNext
	f.hangNext = false
	f.mu.Unlock()
	if hang {
		f.booked <- struct{}{}
		<-r.Context().Done()
		return
	}
	if card == cardSlow {
		select {
		case <-time.After(fakeSlow):
		case <-r.Context().Done():
			return
		}
	}
	answer("Yes", id, "Approved")
}

func (f *fakeSegpay) refund(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	w.Header().Set("Content-Type", "text/xml")
	say := func(s string) {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><string xmlns="http://srs.segpay.com/">%s</string>`, s)
	}
	if q.Get("Userid") != "srs-user" || q.Get("UserAccessKey") != "srs-key" {
		http.Error(w, "forbidden", 403)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := q.Get("TransID")
	if s := f.sales[id]; s != nil {
		if s.Refunded {
			say("Transaction already refunded")
			return
		}
		s.Refunded = true
		say("Success")
		return
	}
	if a := f.auths[id]; a != nil && a.Captured != nil {
		if a.Refunded {
			say("Transaction already refunded")
			return
		}
		a.Refunded = true
		say("Success")
		return
	}
	say("Invalid TransID")
}

// purchase plays the viewer paying on Segpay's hosted page: it checks the
// link the plugin built, books the sale, and returns the TransPost Segpay
// then sends to the registered postback URL.
func (f *fakeSegpay) purchase(t *testing.T, link, card string, approve bool) processor.WebhookRequest {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Path != "/billing/poset.cgi" {
		t.Fatalf("hosted link %q", link)
	}
	q := u.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	if q.Get("x-eticketid") != "109595:13900" || q.Get("dynamictrans") == "" || f.hashes[q.Get("amount")] != q.Get("dynamictrans") {
		t.Fatalf("hosted link without the right price point or hash: %v", q)
	}
	amount, err := money.ParseDecimal(q.Get("amount"), f.currency)
	if err != nil {
		t.Fatalf("hosted amount %q: %v", q.Get("amount"), err)
	}
	pid, tid := f.id(), f.id()
	approved := "No"
	if approve {
		approved = "Yes"
		f.purchases[pid] = card
		f.sales[tid] = &fakeSale{Amount: amount}
	}
	pb := url.Values{"action": {"Auth"}, "stage": {"Initial"}, "approved": {approved}, "trantype": {"sale"}, "purchaseid": {pid},
		"tranid": {tid}, "price": {q.Get("amount")}, "currencycode": {f.currency}, "transguid": {"g" + tid}, "camkit_ref": {q.Get("camkit_ref")},
		"cardtype": {"VISA"}, "last4": {card[len(card)-4:]}}
	if !approve {
		pb.Set("reason", "Insufficient Funds")
	}
	return processor.WebhookRequest{Method: http.MethodGet, Path: "/webhooks/segpay", Query: pb, RemoteAddr: segpayIP + ":443"}
}

func (f *fakeSegpay) settings(t *testing.T, stateFile string, extra map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"eticket_id": "109595:13900", "postpay_eticket_id": "109595:13925", "srs_user_id": "srs-user", "srs_access_key": "srs-key",
		"allowed_ips": []string{"192.0.2.0/28"}, "hosted_url": "https://secure2.segpay.com/billing/poset.cgi",
		"postpay_url": f.srv.URL + "/PostPay", "oneclick_url": f.srv.URL + "/OneClickSales.asmx/SalesServiceDynamic",
		"pricing_hash_url": f.srv.URL + "/PricingHash/PricingHash.svc/GetDynamicTrans", "srs_url": f.srv.URL + "/ADM.asmx",
		"state_file": stateFile,
	}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hangNextBooking makes the next capture or one-click sale be booked and
// then never answered, and returns a context that is cancelled the moment
// the booking happened: the host giving up after the processor accepted.
func (f *fakeSegpay) hangNextBooking(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	f.mu.Lock()
	f.hangNext = true
	f.mu.Unlock()
	go func() {
		select {
		case <-f.booked:
		case <-time.After(10 * time.Second):
		}
		cancel()
	}()
	t.Cleanup(cancel)
	return ctx
}
