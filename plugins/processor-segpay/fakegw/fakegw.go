// Package fakegw is a local stand-in for Segpay, for tests: the plugin's
// own and the host's swap test, which starts it, points the real plugin
// binary at it and counts what reached it. It imports the standard library
// and the SDK only.
//
// What it speaks, and where that comes from:
//   - Post Pay: PostPayAuth and PostPayCapture posted as forms with
//     eticketid, purchaseid and amount, only on Digital Purchase/Dynamic
//     price points, from whitelisted servers (gethelp.segpay.com Post Pay
//     page, MPFeatures/PostPay.htm). The JSON answer (TransactionId, Result,
//     Message) is not documented publicly: it is this fake's and the
//     plugin's shared assumption, listed as unconfirmed in the README.
//   - One-click: OneClickSales.asmx with eticketid, amount, dynamictrans
//     (from PricingHash.svc/GetDynamicTrans), dynamicdesc and the first
//     sale's PurchaseID as PurchaseId ("OCToken for hosted pay page or
//     PurchaseId for the Web Service API": gethelp.segpay.com One-Click
//     Payments page) or octoken (One Click Web Service guide; Segpay's QA
//     suite Dimamolchanov/segpay_qa_automation web.py); the answer a
//     <TransReturn> with <TransID> (the same QA suite). A one-click on a
//     one-time purchase is posted as a rebill of the original purchase id
//     (One-Click Payments page).
//   - SRS ADM.asmx RefundTransaction with Userid, UserAccessKey, TransID,
//     RefundReason (stojankukrika/segpay-payments SegpayPayment.php).
//   - TransPost macros (action, stage, approved, trantype, purchaseid,
//     tranid, relatedtranid, price, currencycode, transguid): a refund is
//     trantype credit, a void trantype sale with action void (the QA suite's
//     postback_service.py), a chargeback trantype charge.
//
// Failure behaviour it models: a capture or one-click booked and never
// answered (HangNextBooking), 503s, declines with bank texts (Do Not Honor,
// Insufficient Funds, Expired Card), a second capture of one authorisation
// refused ("already captured"), a capture above the authorisation refused, an
// authorisation that lapsed (ExpireAuth), and TransPosts a test may deliver
// twice or out of order.
package fakegw

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

// Gateway speaks Segpay's server-to-server formats on 127.0.0.1: Post Pay
// (form in, JSON out), the pricing hash service, one-click (ASMX XML) and SRS
// ADM (ASMX <string>). It emulates the hosted page by booking a purchase and
// building the TransPost Segpay would send. It keeps every authorisation,
// capture and refund, so a double capture shows up.
type Gateway struct {
	srv *httptest.Server

	Mu          sync.Mutex
	currency    string
	nextID      int64
	purchases   map[string]string // purchaseid -> card
	Auths       map[string]*Auth
	Sales       map[string]*Sale // one-click and hosted sales by tranid
	Captures    int
	Chargebacks int
	Oneclicks   int
	hangNext    bool              // the next capture or one-click sale is booked, then never answered
	booked      chan struct{}     // signalled when a hung request was booked
	hashes      map[string]string // amount text -> hash handed out
	LastAuthAm  string
	oneClicks   []url.Values // every one-click request's form
	captures    []url.Values // every capture request's form
}

// OneClickRequests and CaptureRequests are the forms those requests carried.
func (f *Gateway) OneClickRequests() []url.Values {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return append([]url.Values(nil), f.oneClicks...)
}

func (f *Gateway) CaptureRequests() []url.Values {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return append([]url.Values(nil), f.captures...)
}

// ExpireAuth makes authorisation id lapse, as an uncaptured Post Pay
// authorisation does.
func (f *Gateway) ExpireAuth(id string) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if a := f.Auths[id]; a != nil {
		a.Expired = true
	}
}

type Auth struct {
	PurchaseID string
	Amount     money.Money
	Captured   *money.Money
	Voided     bool
	Refunded   bool
	Expired    bool
	Reversed   int64 // refunded or charged back, minor units
}

type Sale struct {
	Amount     money.Money
	Refunded   bool
	PurchaseID string // the stored purchase a one-click charged
	Reversed   int64  // refunded or charged back, minor units
}

// Test cards: the outcome is chosen by the number. SourceIP is the address
// postbacks come from (inside the allow-list of Settings).
const (
	CardApprove      = "4111111111111111"
	CardDecline      = "4000000000000002"
	CardInsufficient = "4000000000009995"
	CardExpired      = "4000000000000069"
	CardUnavailable  = "4000000000000119"
	CardSlow         = "4000000000000259"
	slow             = 1500 * time.Millisecond
	SourceIP         = "192.0.2.10"
)

// New starts the gateway on 127.0.0.1; it stops when the test ends.
func New(t testing.TB) *Gateway {
	f := &Gateway{currency: "USD", nextID: 847263500, purchases: map[string]string{}, Auths: map[string]*Auth{},
		Sales: map[string]*Sale{}, hashes: map[string]string{}, booked: make(chan struct{}, 1)}
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

func (f *Gateway) id() string {
	f.nextID++
	return strconv.FormatInt(f.nextID, 10)
}

func (f *Gateway) postPayAnswer(w http.ResponseWriter, id, result, msg string) {
	w.Header().Set("Content-Type", "application/json")
	var tid any = nil
	if id != "" {
		tid, _ = strconv.ParseInt(id, 10, 64)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"TransactionId": tid, "Result": result, "Message": msg})
}

func (f *Gateway) postPayAuth(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("eticketid") != "109595:13925" {
		http.Error(w, "bad request", 400)
		return
	}
	f.Mu.Lock()
	card, ok := f.purchases[r.PostForm.Get("purchaseid")]
	amount, err := money.ParseDecimal(r.PostForm.Get("amount"), f.currency)
	f.LastAuthAm = r.PostForm.Get("amount")
	if !ok || err != nil || amount.Amount <= 0 {
		f.Mu.Unlock()
		f.postPayAnswer(w, "", "Error", "Invalid purchaseid or amount")
		return
	}
	switch card {
	case CardDecline:
		f.Mu.Unlock()
		f.postPayAnswer(w, "", "Declined", "Do Not Honor")
		return
	case CardInsufficient:
		f.Mu.Unlock()
		f.postPayAnswer(w, "", "Declined", "Insufficient Funds")
		return
	case CardExpired:
		f.Mu.Unlock()
		f.postPayAnswer(w, "", "Declined", "Expired Card")
		return
	case CardUnavailable:
		f.Mu.Unlock()
		http.Error(w, "Service Unavailable", 503)
		return
	}
	id := f.id()
	f.Auths[id] = &Auth{PurchaseID: r.PostForm.Get("purchaseid"), Amount: amount}
	f.Mu.Unlock()
	if card == CardSlow {
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			return
		}
	}
	f.postPayAnswer(w, id, "Approved", "Approved")
}

func (f *Gateway) postPayCapture(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", 400)
		return
	}
	f.Mu.Lock()
	f.captures = append(f.captures, r.PostForm)
	id := r.PostForm.Get("transactionId")
	a := f.Auths[id]
	if a == nil || r.PostForm.Get("eticketid") != "109595:13925" || r.PostForm.Get("purchaseid") != a.PurchaseID {
		f.Mu.Unlock()
		f.postPayAnswer(w, "", "Error", "Transaction not found")
		return
	}
	amount, err := money.ParseDecimal(r.PostForm.Get("amount"), f.currency)
	switch {
	case err != nil || amount.Amount < 0:
		f.Mu.Unlock()
		f.postPayAnswer(w, "", "Error", "Invalid amount")
		return
	case a.Captured != nil || a.Voided:
		f.Mu.Unlock()
		f.postPayAnswer(w, "", "Declined", "Transaction already captured")
		return
	case a.Expired:
		f.Mu.Unlock()
		f.postPayAnswer(w, "", "Declined", "Authorization expired")
		return
	case amount.Amount > a.Amount.Amount:
		f.Mu.Unlock()
		f.postPayAnswer(w, "", "Declined", "Amount exceeds authorization")
		return
	}
	if amount.Amount == 0 {
		a.Voided = true
	} else {
		a.Captured = &amount
		f.Captures++
	}
	hang := f.hangNext
	f.hangNext = false
	f.Mu.Unlock()
	if hang { // booked, and the answer never comes
		f.booked <- struct{}{}
		<-r.Context().Done()
		return
	}
	f.postPayAnswer(w, id, "Approved", "Approved")
}

func (f *Gateway) pricingHash(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query().Get("value")
	f.Mu.Lock()
	h := fmt.Sprintf("H%x", len(f.hashes)+1000)
	f.hashes[v] = h
	f.Mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<string xmlns="http://schemas.microsoft.com/2003/10/Serialization/">%s</string>`, h)
}

func (f *Gateway) oneClick(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", 400)
		return
	}
	pid := r.PostForm.Get("purchaseid")
	answer := func(approved, trans, msg string) {
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><TransReturn><Approved>%s</Approved><TransID>%s</TransID><PurchaseID>%s</PurchaseID><Message>%s</Message></TransReturn>`,
			approved, trans, pid, msg)
	}
	f.Mu.Lock()
	f.oneClicks = append(f.oneClicks, r.PostForm)
	if oc := r.PostForm.Get("octoken"); pid == "" || (oc != "" && oc != pid) {
		f.Mu.Unlock()
		answer("No", "", "Invalid PurchaseID")
		return
	}
	card, ok := f.purchases[pid]
	amt := r.PostForm.Get("amount")
	amount, err := money.ParseDecimal(amt, f.currency)
	if !ok || err != nil || f.hashes[amt] == "" || f.hashes[amt] != r.PostForm.Get("dynamictrans") {
		f.Mu.Unlock()
		answer("No", "", "Invalid request")
		return
	}
	switch card {
	case CardDecline:
		f.Mu.Unlock()
		answer("No", "", "Do Not Honor")
		return
	case CardInsufficient:
		f.Mu.Unlock()
		answer("No", "", "Insufficient Funds")
		return
	case CardExpired:
		f.Mu.Unlock()
		answer("No", "", "Expired Card")
		return
	case CardUnavailable:
		f.Mu.Unlock()
		http.Error(w, "Service Unavailable", 503)
		return
	}
	id := f.id()
	f.Sales[id] = &Sale{Amount: amount, PurchaseID: pid}
	f.Oneclicks++
	hang := f.hangNext
	f.hangNext = false
	f.Mu.Unlock()
	if hang {
		f.booked <- struct{}{}
		<-r.Context().Done()
		return
	}
	if card == CardSlow {
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			return
		}
	}
	answer("Yes", id, "Approved")
}

func (f *Gateway) refund(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	w.Header().Set("Content-Type", "text/xml")
	say := func(s string) {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><string xmlns="http://srs.segpay.com/">%s</string>`, s)
	}
	if q.Get("Userid") != "srs-user" || q.Get("UserAccessKey") != "srs-key" {
		http.Error(w, "forbidden", 403)
		return
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	id := q.Get("TransID")
	if s := f.Sales[id]; s != nil {
		if s.Refunded {
			say("Transaction already refunded")
			return
		}
		s.Refunded = true
		say("Success")
		return
	}
	if a := f.Auths[id]; a != nil && a.Captured != nil {
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

// Purchase plays the viewer paying on Segpay's hosted page: it checks the
// link the plugin built, books the sale, and returns the TransPost Segpay
// then sends to the registered postback URL.
func (f *Gateway) Purchase(t testing.TB, link, card string, approve bool) processor.WebhookRequest {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Path != "/billing/poset.cgi" {
		t.Fatalf("hosted link %q", link)
	}
	q := u.Query()
	f.Mu.Lock()
	defer f.Mu.Unlock()
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
		f.Sales[tid] = &Sale{Amount: amount}
	}
	pb := url.Values{"action": {"Auth"}, "stage": {"Initial"}, "approved": {approved}, "trantype": {"sale"}, "purchaseid": {pid},
		"tranid": {tid}, "price": {q.Get("amount")}, "currencycode": {f.currency}, "transguid": {"g" + tid}, "camkit_ref": {q.Get("camkit_ref")},
		"cardtype": {"VISA"}, "last4": {card[len(card)-4:]}}
	if !approve {
		pb.Set("reason", "Insufficient Funds")
	}
	return processor.WebhookRequest{Method: http.MethodGet, Path: "/webhooks/segpay", Query: pb, RemoteAddr: SourceIP + ":443"}
}

// Settings are the plugin settings that point it at this gateway; extra
// adds or overrides keys.
func (f *Gateway) Settings(t testing.TB, stateFile string, extra map[string]any) []byte {
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

// HangNextBooking makes the next capture or one-click sale be booked and
// then never answered, and returns a context that is cancelled the moment
// the booking happened: the host giving up after the processor accepted.
func (f *Gateway) HangNextBooking(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	f.Mu.Lock()
	f.hangNext = true
	f.Mu.Unlock()
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

// RefundPostback refunds transaction tranID (a captured PostPay
// authorisation or a sale) at Segpay, as the merchant does in the portal,
// and returns the TransPost Segpay sends for it: trantype credit, the
// refund's own tranid, relatedtranid naming the original.
func (f *Gateway) RefundPostback(tranID string, amount money.Money) (processor.WebhookRequest, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	got, err := f.reversibleLocked(tranID, amount)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	if a := f.Auths[tranID]; a != nil {
		a.Refunded, a.Reversed = true, a.Reversed+amount.Amount
	} else {
		s := f.Sales[tranID]
		s.Refunded, s.Reversed = true, s.Reversed+amount.Amount
	}
	return f.transPostLocked("credit", tranID, "-"+got, ""), nil
}

// ChargebackPostback records a chargeback of transaction tranID and returns
// the TransPost Segpay sends for it.
func (f *Gateway) ChargebackPostback(tranID string, amount money.Money, reason string) (processor.WebhookRequest, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	got, err := f.reversibleLocked(tranID, amount)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	if a := f.Auths[tranID]; a != nil {
		a.Reversed += amount.Amount
	} else {
		f.Sales[tranID].Reversed += amount.Amount
	}
	f.Chargebacks++
	return f.transPostLocked("charge", tranID, got, reason), nil
}

// reversibleLocked checks amount against what tranID took and returns its
// decimal text.
func (f *Gateway) reversibleLocked(tranID string, amount money.Money) (string, error) {
	var took *money.Money
	var reversed int64
	if a := f.Auths[tranID]; a != nil {
		took, reversed = a.Captured, a.Reversed
	} else if s := f.Sales[tranID]; s != nil {
		took, reversed = &s.Amount, s.Reversed
	}
	if took == nil || took.Currency != amount.Currency || amount.Amount <= 0 || amount.Amount > took.Amount-reversed {
		return "", fmt.Errorf("fakegw: segpay transaction %s took no %s to reverse", tranID, amount)
	}
	return money.FormatDecimal(amount)
}

// OneClickPostback is the TransPost Segpay sends for one-click sale tranID:
// on a one-time purchase it is posted as a rebill of the original purchase
// id (Segpay's One-Click Payments page).
func (f *Gateway) OneClickPostback(tranID string) (processor.WebhookRequest, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	s := f.Sales[tranID]
	if s == nil || s.PurchaseID == "" {
		return processor.WebhookRequest{}, fmt.Errorf("fakegw: no one-click sale %s", tranID)
	}
	price, err := money.FormatDecimal(s.Amount)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	q := url.Values{"action": {"Auth"}, "stage": {"Rebill"}, "approved": {"Yes"}, "trantype": {"sale"}, "purchaseid": {s.PurchaseID},
		"tranid": {tranID}, "price": {price}, "currencycode": {f.currency}, "transguid": {"g" + tranID}}
	return processor.WebhookRequest{Method: http.MethodGet, Path: "/webhooks/segpay", Query: q, RemoteAddr: SourceIP + ":443"}, nil
}

// VoidPostback voids sale or capture tranID at Segpay, as the merchant does
// in the portal before it settles, and returns the TransPost Segpay sends:
// trantype sale, action void, relatedtranid naming the original.
func (f *Gateway) VoidPostback(tranID string, amount money.Money) (processor.WebhookRequest, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	got, err := f.reversibleLocked(tranID, amount)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	if a := f.Auths[tranID]; a != nil {
		a.Reversed += amount.Amount
	} else {
		f.Sales[tranID].Reversed += amount.Amount
	}
	req := f.transPostLocked("sale", tranID, got, "")
	req.Query.Set("action", "void")
	return req, nil
}

func (f *Gateway) transPostLocked(trantype, related, price, reason string) processor.WebhookRequest {
	id := f.id()
	q := url.Values{"action": {"Auth"}, "stage": {"Initial"}, "approved": {"Yes"}, "trantype": {trantype}, "tranid": {id},
		"relatedtranid": {related}, "price": {price}, "currencycode": {f.currency}, "transguid": {"g" + id}}
	if reason != "" {
		q.Set("reason", reason)
	}
	return processor.WebhookRequest{Method: http.MethodGet, Path: "/webhooks/segpay", Query: q, RemoteAddr: SourceIP + ":443"}
}
