package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/money"
)

// fakeCCBill speaks CCBill's documented formats on 127.0.0.1: the OAuth token
// endpoint, the transaction API (v2 media type, JSON error bodies), the
// legacy billingApi.cgi and DataLink subscriptionManagement.cgi ("results"
// CSV). It keeps every charge and refund, so a double charge shows up.
type fakeCCBill struct {
	srv *httptest.Server

	mu            sync.Mutex
	accnum        int
	subacc        int
	creds         map[string]string // app id -> secret
	tokens        map[string]time.Time
	tokensIssued  int
	tokenTTL      int64
	paymentTokens map[string]string // paymentTokenId -> card number
	charges       map[string]*fakeCharge
	order         []string
	nextSub       int64
	hangNext      bool          // the next charge or refund is booked, then never answered
	booked        chan struct{} // signalled when a hung request was booked
	refundCalls   int
	cancelled     map[string]bool
	unauthorized  int // transaction calls answered 401
}

type fakeCharge struct {
	Token        string
	Amount       money.Money
	RawPrice     string // initialPrice exactly as it was on the wire
	CurrencyCode int
	Refunded     int64
	PassThrough  map[string]string
	Recurring    bool
}

const (
	cardApprove      = "4111111111111111"
	cardDecline      = "4000000000000002"
	cardInsufficient = "4000000000009995"
	cardExpired      = "4000000000000069"
	cardUnavailable  = "4000000000000119"
	cardSlow         = "4000000000000259"
	fakeSlow         = 1500 * time.Millisecond
)

func newFakeCCBill(t *testing.T) *fakeCCBill {
	f := &fakeCCBill{accnum: 900123, subacc: 1, creds: map[string]string{"backend-app": "backend-secret", "frontend-app": "frontend-secret"},
		tokens: map[string]time.Time{}, tokenTTL: 3600, paymentTokens: map[string]string{}, charges: map[string]*fakeCharge{},
		nextSub: 925014201000000100, cancelled: map[string]bool{}, booked: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ccbill-auth/oauth/token", f.oauth)
	mux.HandleFunc("POST /transactions/payment-tokens/{id}", f.charge)
	mux.HandleFunc("GET /transactions/payment-tokens/{id}", f.list)
	mux.HandleFunc("GET /jpost/billingApi.cgi", f.billingAPI)
	mux.HandleFunc("GET /utils/subscriptionManagement.cgi", f.datalink)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// createToken is what CCBill's Advanced Widget does in the viewer's browser.
func (f *fakeCCBill) createToken(card string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := fmt.Sprintf("pt%030x", len(f.paymentTokens)+1)
	f.paymentTokens[id] = card
	return id
}

func (f *fakeCCBill) chargesOf(token string) []*fakeCharge {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*fakeCharge
	for _, id := range f.order {
		if c := f.charges[id]; c.Token == token {
			out = append(out, c)
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, ctype string, v any) {
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiErr(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	writeJSON(w, status, "application/vnd.com.cwie.error.v1+json", map[string]any{
		"id": "5ea81718-6617-42d1-8852-77e5a18ecb57", "url": r.URL.Path, "errors": []any{},
		"generalMessage": msg, "errorCode": code, "timestamp": time.Now().UTC().Format(time.RFC3339)})
}

func (f *fakeCCBill) oauth(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		writeJSON(w, 400, "application/json", map[string]string{"error": "invalid_request"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !ok || f.creds[id] == "" || f.creds[id] != secret {
		writeJSON(w, 401, "application/json", map[string]string{"error": "unauthorized", "error_description": "Bad credentials"})
		return
	}
	f.tokensIssued++
	tok := fmt.Sprintf("%s-token-%d", id, f.tokensIssued)
	f.tokens[tok] = time.Now().Add(time.Duration(f.tokenTTL) * time.Second)
	writeJSON(w, 200, "application/json", map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": f.tokenTTL})
}

// authorised checks the bearer token of a transaction API call; the caller holds f.mu.
func (f *fakeCCBill) authorisedLocked(w http.ResponseWriter, r *http.Request) bool {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	exp, ok := f.tokens[tok]
	if !ok || time.Now().After(exp) || !strings.HasPrefix(tok, "backend-app-") {
		f.unauthorized++
		writeJSON(w, 401, "application/json", map[string]string{"error": "unauthorized", "error_description": "Full authentication is required to access this resource"})
		return false
	}
	if r.Header.Get("Accept") != acceptV2 {
		apiErr(w, r, 406, "100015", "Not Acceptable")
		return false
	}
	return true
}

func (f *fakeCCBill) revokeTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = map[string]time.Time{}
}

func (f *fakeCCBill) charge(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if !f.authorisedLocked(w, r) {
		f.mu.Unlock()
		return
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(r.Body)
	if r.Header.Get("Content-Type") != "application/json" || dec.Decode(&raw) != nil {
		f.mu.Unlock()
		apiErr(w, r, 400, "200000", "Validation failed!")
		return
	}
	var req chargeRequest
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &req); err != nil || req.ClientAccnum != f.accnum || req.ClientSubacc != f.subacc {
		f.mu.Unlock()
		apiErr(w, r, 400, "200000", "Validation failed!")
		return
	}
	priceText := string(raw["initialPrice"])
	cur, err := money.LookupNumeric(req.CurrencyCode)
	if err != nil || strings.HasPrefix(priceText, `"`) {
		f.mu.Unlock()
		apiErr(w, r, 400, "200000", "Validation failed!")
		return
	}
	amount, err := money.ParseDecimal(priceText, cur.Code)
	if err != nil || amount.Amount <= 0 {
		f.mu.Unlock()
		apiErr(w, r, 400, "200000", "Validation failed!")
		return
	}
	card, ok := f.paymentTokens[r.PathValue("id")]
	if !ok {
		f.mu.Unlock()
		apiErr(w, r, 404, "130000", "Not Found")
		return
	}
	deny := func(code int, text string) {
		f.mu.Unlock()
		writeJSON(w, 200, acceptV2, map[string]any{"approved": false, "declineCode": code, "declineText": text,
			"denialId": "925013101000000100", "paymentUniqueId": nil, "sessionId": nil, "newPaymentTokenId": nil, "subscriptionId": nil})
	}
	switch card {
	case cardDecline:
		deny(1, "Transaction Denied by Bank")
		return
	case cardInsufficient:
		deny(24, "Insufficient Funds")
		return
	case cardExpired:
		deny(9, "Card Expired")
		return
	case cardUnavailable:
		f.mu.Unlock()
		apiErr(w, r, 500, "100100", "An error occurred, please try again later.")
		return
	}
	f.nextSub++
	sub := strconv.FormatInt(f.nextSub, 10)
	pt := map[string]string{}
	for _, p := range req.PassThroughInfo {
		pt[p.Name] = p.Value
	}
	f.charges[sub] = &fakeCharge{Token: r.PathValue("id"), Amount: amount, RawPrice: priceText, CurrencyCode: req.CurrencyCode,
		PassThrough: pt, Recurring: req.RecurringPeriod > 0}
	f.order = append(f.order, sub)
	hang := f.hangNext
	f.hangNext = false
	f.mu.Unlock()
	if hang { // booked, and the answer never comes
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
	writeJSON(w, 200, acceptV2, map[string]any{"approved": true, "declineCode": nil, "declineText": nil, "denialId": nil,
		"paymentUniqueId": "z8Zprmki+WoAyOwj74Ei3w", "sessionId": nil, "newPaymentTokenId": nil, "subscriptionId": sub})
}

func (f *fakeCCBill) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.authorisedLocked(w, r) {
		return
	}
	if r.URL.Query().Get("clientAccnum") != strconv.Itoa(f.accnum) {
		apiErr(w, r, 400, "200000", "Validation failed!")
		return
	}
	out := []map[string]any{}
	for _, id := range f.order {
		if f.charges[id].Token == r.PathValue("id") {
			out = append(out, map[string]any{"clientAccnum": f.accnum, "clientSubacc": f.subacc, "subscriptionId": id})
		}
	}
	writeJSON(w, 200, acceptV2, out)
}

func results(w http.ResponseWriter, n int) {
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "\"results\"\n\"%d\"\n", n)
}

func (f *fakeCCBill) legacyAuth(r *http.Request) bool {
	q := r.URL.Query()
	return q.Get("username") == "dluser" && q.Get("password") == "dlpass" && q.Get("clientAccnum") == strconv.Itoa(f.accnum)
}

func (f *fakeCCBill) billingAPI(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	if !f.legacyAuth(r) {
		f.mu.Unlock()
		results(w, -1)
		return
	}
	if q.Get("action") != "refundTransaction" {
		f.mu.Unlock()
		results(w, -3)
		return
	}
	f.refundCalls++
	c := f.charges[q.Get("subscriptionId")]
	if c == nil {
		f.mu.Unlock()
		results(w, -2)
		return
	}
	amt, err := money.ParseDecimal(q.Get("amount"), c.Amount.Currency)
	if err != nil || amt.Amount <= 0 || amt.Amount > c.Amount.Amount-c.Refunded {
		f.mu.Unlock()
		results(w, 0)
		return
	}
	c.Refunded += amt.Amount
	hang := f.hangNext
	f.hangNext = false
	f.mu.Unlock()
	if hang {
		f.booked <- struct{}{}
		<-r.Context().Done()
		return
	}
	results(w, 1)
}

func (f *fakeCCBill) datalink(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.legacyAuth(r) {
		results(w, -1)
		return
	}
	sub := q.Get("subscriptionId")
	c := f.charges[sub]
	switch {
	case q.Get("action") != "cancelSubscription":
		results(w, -3)
	case c == nil:
		results(w, -2)
	case f.cancelled[sub]:
		results(w, 0)
	default:
		f.cancelled[sub] = true
		results(w, 1)
	}
}

func (f *fakeCCBill) settings(t *testing.T, stateFile string, extra map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"client_accnum": f.accnum, "client_subacc": f.subacc, "app_id": "backend-app", "secret": "backend-secret",
		"frontend_app_id": "frontend-app", "frontend_secret": "frontend-secret", "datalink_username": "dluser",
		"datalink_password": "dlpass", "api_base_url": f.srv.URL, "billing_api_url": f.srv.URL + "/jpost/billingApi.cgi",
		"datalink_url": f.srv.URL + "/utils/subscriptionManagement.cgi", "state_file": stateFile,
		"allowed_ips": append(append([]string(nil), defaultAllowedIPs...), "2001:db8::/32"),
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

// hangNextBooking makes the next charge or refund be booked and then never
// answered, and returns a context that is cancelled the moment the booking
// happened: the host giving up after CCBill accepted.
func (f *fakeCCBill) hangNextBooking(t *testing.T) context.Context {
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
