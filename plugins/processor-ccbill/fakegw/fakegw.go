// Package fakegw is a local stand-in for CCBill, for tests: the plugin's
// own and the host's swap test, which starts it, points the real plugin
// binary at it and counts what reached it. It imports the standard library
// and the SDK only.
//
// What it speaks, and where that comes from:
//   - OAuth client credentials, charge by payment token (v2 media type,
//     numeric currencyCode, passThroughInfo), the token's charge list, the
//     charge answer (approved, declineCode, declineText, denialId,
//     subscriptionId) and the Advanced Widget v1.13.1: CCBill/restful-api-guide
//     (README.md, openapi.yaml, transactions/*.yaml).
//   - REST error bodies and codes (500 100103 "Transaction error.", 404
//     100101 "Invalid payment token."): ccbill.com/doc/error-codes.
//   - DataLink subscriptionManagement.cgi: cancelSubscription
//     (ccbill.com/doc/ccbill-api-cancel-subscription) and refundTransaction
//     with subscriptionId and a decimal amount, the full initial amount
//     without one (the CCBill API guide, ccbill.com/doc/ccbill-api-guide, as
//     open-rails/openrails docs/rails/ccbill-refund-qualification.md reads
//     it); the "results" CSV and its result codes 1, 0, -1 to -12, -15, -16,
//     -23, -24 (datinglibre/ccbill src/CcBill/Client/CcBillClient.php); -7's
//     mixed causes (ccbill.com/doc/ccbill-api-7-error-explained).
//   - Webhooks: JSON or form, ?eventType=, the event set and field names of
//     datinglibre/ccbill (CcBillEventMapper.php, CcBillEventConstants.php),
//     sent from CCBill's 64.38.212/215/240/241.0/24.
//
// Failure behaviour it models: a charge or refund booked and never answered
// (HangNextBooking), 5xx answers, declines with CCBill's texts, DataLink
// result codes on demand (NextDatalinkResult), the refund threshold (-15),
// a refund above what is left (0), and webhooks delivered twice or out of
// order (the builders return requests a test may deliver in any order).
package fakegw

import (
	"context"
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
	"github.com/camkit/camkit/sdk/processor"
)

// acceptV2 is the media type of version 2 of the transaction API.
const acceptV2 = "application/vnd.mcn.transaction-service.api.v.2+json"

// AllowedIPs are CCBill's documented webhook source ranges; SourceIP is
// the address this fake's webhooks come from, inside them.
var AllowedIPs = []string{"64.38.212.0/24", "64.38.215.0/24", "64.38.240.0/24", "64.38.241.0/24"}

const SourceIP = "64.38.212.10"

// Zone is CCBill's clock for webhook timestamps: Arizona, UTC-7, no DST.
var Zone = time.FixedZone("MST", -7*3600)

// chargeRequest is the JSON body of POST /transactions/payment-tokens/{id}.
type chargeRequest struct {
	ClientAccnum    int `json:"clientAccnum"`
	ClientSubacc    int `json:"clientSubacc"`
	CurrencyCode    int `json:"currencyCode"`
	RecurringPeriod int `json:"recurringPeriod,omitempty"`
	PassThroughInfo []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"passThroughInfo,omitempty"`
}

// Gateway speaks CCBill's documented formats on 127.0.0.1: the OAuth token
// endpoint, the transaction API (v2 media type, JSON error bodies) and
// DataLink subscriptionManagement.cgi ("results" CSV). It keeps every charge and refund, so a double charge shows up.
type Gateway struct {
	srv *httptest.Server

	Mu            sync.Mutex
	accnum        int
	subacc        int
	creds         map[string]string // app id -> secret
	tokens        map[string]time.Time
	TokensIssued  int
	TokenTTL      int64
	paymentTokens map[string]string // paymentTokenId -> card number
	Charges       map[string]*Charge
	order         []string
	nextSub       int64
	hangNext      bool          // the next charge or refund is booked, then never answered
	booked        chan struct{} // signalled when a hung request was booked
	RefundCalls   int           // refundTransaction requests that reached DataLink
	Cancelled     map[string]bool
	Unauthorized  int // transaction calls answered 401
	// RefundThreshold, when positive, is the most (minor units) DataLink
	// refunds before it answers -15, "merchant over refund threshold".
	RefundThreshold int64
	refunded        int64
	nextResult      []int // DataLink results answered next, before any booking
	datalinkForms   []url.Values
}

// DatalinkRequests are the query strings every DataLink request carried.
func (f *Gateway) DatalinkRequests() []url.Values {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return append([]url.Values(nil), f.datalinkForms...)
}

type Charge struct {
	Token        string
	Amount       money.Money
	RawPrice     string // initialPrice exactly as it was on the wire
	CurrencyCode int
	Refunded     int64
	ChargedBack  int64
	PassThrough  map[string]string
	Recurring    bool
}

const (
	CardApprove      = "4111111111111111"
	CardDecline      = "4000000000000002"
	CardInsufficient = "4000000000009995"
	CardExpired      = "4000000000000069"
	CardUnavailable  = "4000000000000119"
	CardSlow         = "4000000000000259"
	slow             = 1500 * time.Millisecond
)

// New starts the gateway on 127.0.0.1; it stops when the test ends.
func New(t testing.TB) *Gateway {
	f := &Gateway{accnum: 900123, subacc: 1, creds: map[string]string{"backend-app": "backend-secret", "frontend-app": "frontend-secret"},
		tokens: map[string]time.Time{}, TokenTTL: 3600, paymentTokens: map[string]string{}, Charges: map[string]*Charge{},
		nextSub: 925014201000000100, Cancelled: map[string]bool{}, booked: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ccbill-auth/oauth/token", f.oauth)
	mux.HandleFunc("POST /transactions/payment-tokens/{id}", f.charge)
	mux.HandleFunc("GET /transactions/payment-tokens/{id}", f.list)
	mux.HandleFunc("GET /utils/subscriptionManagement.cgi", f.datalink)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// CreateToken is what CCBill's Advanced Widget does in the viewer's browser.
func (f *Gateway) CreateToken(card string) string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	id := fmt.Sprintf("pt%030x", len(f.paymentTokens)+1)
	f.paymentTokens[id] = card
	return id
}

func (f *Gateway) ChargesOf(token string) []*Charge {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	var out []*Charge
	for _, id := range f.order {
		if c := f.Charges[id]; c.Token == token {
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

func (f *Gateway) oauth(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		writeJSON(w, 400, "application/json", map[string]string{"error": "invalid_request"})
		return
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if !ok || f.creds[id] == "" || f.creds[id] != secret {
		writeJSON(w, 401, "application/json", map[string]string{"error": "unauthorized", "error_description": "Bad credentials"})
		return
	}
	f.TokensIssued++
	tok := fmt.Sprintf("%s-token-%d", id, f.TokensIssued)
	f.tokens[tok] = time.Now().Add(time.Duration(f.TokenTTL) * time.Second)
	writeJSON(w, 200, "application/json", map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": f.TokenTTL})
}

// authorised checks the bearer token of a transaction API call; the caller holds f.Mu.
func (f *Gateway) authorisedLocked(w http.ResponseWriter, r *http.Request) bool {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	exp, ok := f.tokens[tok]
	if !ok || time.Now().After(exp) || !strings.HasPrefix(tok, "backend-app-") {
		f.Unauthorized++
		writeJSON(w, 401, "application/json", map[string]string{"error": "unauthorized", "error_description": "Full authentication is required to access this resource"})
		return false
	}
	if r.Header.Get("Accept") != acceptV2 {
		apiErr(w, r, 406, "100015", "Not Acceptable")
		return false
	}
	return true
}

func (f *Gateway) RevokeTokens() {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.tokens = map[string]time.Time{}
}

func (f *Gateway) charge(w http.ResponseWriter, r *http.Request) {
	f.Mu.Lock()
	if !f.authorisedLocked(w, r) {
		f.Mu.Unlock()
		return
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(r.Body)
	if r.Header.Get("Content-Type") != "application/json" || dec.Decode(&raw) != nil {
		f.Mu.Unlock()
		apiErr(w, r, 400, "200000", "Validation failed!")
		return
	}
	var req chargeRequest
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &req); err != nil || req.ClientAccnum != f.accnum || req.ClientSubacc != f.subacc {
		f.Mu.Unlock()
		apiErr(w, r, 400, "200000", "Validation failed!")
		return
	}
	priceText := string(raw["initialPrice"])
	cur, err := money.LookupNumeric(req.CurrencyCode)
	if err != nil || strings.HasPrefix(priceText, `"`) {
		f.Mu.Unlock()
		apiErr(w, r, 400, "200000", "Validation failed!")
		return
	}
	amount, err := money.ParseDecimal(priceText, cur.Code)
	if err != nil || amount.Amount <= 0 {
		f.Mu.Unlock()
		apiErr(w, r, 400, "200000", "Validation failed!")
		return
	}
	card, ok := f.paymentTokens[r.PathValue("id")]
	if !ok {
		f.Mu.Unlock()
		apiErr(w, r, 404, "100101", "Invalid payment token.")
		return
	}
	deny := func(code int, text string) {
		f.Mu.Unlock()
		writeJSON(w, 200, acceptV2, map[string]any{"approved": false, "declineCode": code, "declineText": text,
			"denialId": "925013101000000100", "paymentUniqueId": nil, "sessionId": nil, "newPaymentTokenId": nil, "subscriptionId": nil})
	}
	switch card {
	case CardDecline:
		deny(1, "Transaction Denied by Bank")
		return
	case CardInsufficient:
		deny(24, "Insufficient Funds")
		return
	case CardExpired:
		deny(9, "Card Expired")
		return
	case CardUnavailable:
		f.Mu.Unlock()
		apiErr(w, r, 500, "100103", "Transaction error.")
		return
	}
	f.nextSub++
	sub := strconv.FormatInt(f.nextSub, 10)
	pt := map[string]string{}
	for _, p := range req.PassThroughInfo {
		pt[p.Name] = p.Value
	}
	f.Charges[sub] = &Charge{Token: r.PathValue("id"), Amount: amount, RawPrice: priceText, CurrencyCode: req.CurrencyCode,
		PassThrough: pt, Recurring: req.RecurringPeriod > 0}
	f.order = append(f.order, sub)
	hang := f.hangNext
	f.hangNext = false
	f.Mu.Unlock()
	if hang { // booked, and the answer never comes
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
	writeJSON(w, 200, acceptV2, map[string]any{"approved": true, "declineCode": nil, "declineText": nil, "denialId": nil,
		"paymentUniqueId": "z8Zprmki+WoAyOwj74Ei3w", "sessionId": nil, "newPaymentTokenId": nil, "subscriptionId": sub})
}

func (f *Gateway) list(w http.ResponseWriter, r *http.Request) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if !f.authorisedLocked(w, r) {
		return
	}
	if r.URL.Query().Get("clientAccnum") != strconv.Itoa(f.accnum) {
		apiErr(w, r, 400, "200000", "Validation failed!")
		return
	}
	out := []map[string]any{}
	for _, id := range f.order {
		if f.Charges[id].Token == r.PathValue("id") {
			out = append(out, map[string]any{"clientAccnum": f.accnum, "clientSubacc": f.subacc, "subscriptionId": id})
		}
	}
	writeJSON(w, 200, acceptV2, out)
}

func results(w http.ResponseWriter, n int) {
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "\"results\"\n\"%d\"\n", n)
}

func (f *Gateway) legacyAuth(r *http.Request) bool {
	q := r.URL.Query()
	return q.Get("username") == "dluser" && q.Get("password") == "dlpass" && q.Get("clientAccnum") == strconv.Itoa(f.accnum)
}

// NextDatalinkResult makes DataLink answer the next request with result n
// (before looking at it, so nothing is booked): -7 an internal error, -8 an
// address not allowed, and so on.
func (f *Gateway) NextDatalinkResult(n int) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.nextResult = append(f.nextResult, n)
}

func (f *Gateway) datalink(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.Mu.Lock()
	f.datalinkForms = append(f.datalinkForms, q)
	if len(f.nextResult) > 0 {
		n := f.nextResult[0]
		f.nextResult = f.nextResult[1:]
		f.Mu.Unlock()
		results(w, n)
		return
	}
	if !f.legacyAuth(r) {
		f.Mu.Unlock()
		results(w, -1)
		return
	}
	sub := q.Get("subscriptionId")
	c := f.Charges[sub]
	switch action := q.Get("action"); {
	case action != "cancelSubscription" && action != "refundTransaction":
		f.Mu.Unlock()
		results(w, -6)
	case strings.Trim(sub, "0123456789") != "" || sub == "":
		f.Mu.Unlock()
		results(w, -2)
	case c == nil:
		f.Mu.Unlock()
		results(w, -3)
	case action == "cancelSubscription":
		defer f.Mu.Unlock()
		if f.Cancelled[sub] {
			results(w, 0)
			return
		}
		f.Cancelled[sub] = true
		results(w, 1)
	default:
		f.refundLocked(w, r, c, q.Get("amount"))
	}
}

// refundLocked books a refundTransaction; it unlocks f.Mu.
func (f *Gateway) refundLocked(w http.ResponseWriter, r *http.Request, c *Charge, amountText string) {
	f.RefundCalls++
	amt := money.Money{Amount: c.Amount.Amount - c.Refunded - c.ChargedBack, Currency: c.Amount.Currency}
	if amountText != "" {
		var err error
		if amt, err = money.ParseDecimal(amountText, c.Amount.Currency); err != nil || amt.Amount <= 0 {
			f.Mu.Unlock()
			results(w, -5)
			return
		}
	}
	switch {
	case amt.Amount > c.Amount.Amount-c.Refunded-c.ChargedBack:
		f.Mu.Unlock()
		results(w, 0)
		return
	case f.RefundThreshold > 0 && f.refunded+amt.Amount > f.RefundThreshold:
		f.Mu.Unlock()
		results(w, -15)
		return
	}
	c.Refunded += amt.Amount
	f.refunded += amt.Amount
	f.Cancelled[f.subOfLocked(c)] = true // refundTransaction also cancels the subscription
	hang := f.hangNext
	f.hangNext = false
	f.Mu.Unlock()
	if hang {
		f.booked <- struct{}{}
		<-r.Context().Done()
		return
	}
	results(w, 1)
}

func (f *Gateway) subOfLocked(c *Charge) string {
	for id, x := range f.Charges {
		if x == c {
			return id
		}
	}
	return ""
}

// Settings are the plugin settings that point it at this gateway; extra
// adds or overrides keys.
func (f *Gateway) Settings(t testing.TB, stateFile string, extra map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"client_accnum": f.accnum, "client_subacc": f.subacc, "app_id": "backend-app", "secret": "backend-secret",
		"frontend_app_id": "frontend-app", "frontend_secret": "frontend-secret", "datalink_username": "dluser",
		"datalink_password": "dlpass", "api_base_url": f.srv.URL,
		"datalink_url": f.srv.URL + "/utils/subscriptionManagement.cgi", "state_file": stateFile,
		"allowed_ips": append(append([]string(nil), AllowedIPs...), "2001:db8::/32"),
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

// HangNextBooking makes the next charge or refund be booked and then never
// answered, and returns a context that is cancelled the moment the booking
// happened: the host giving up after CCBill accepted.
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

// Webhook is a CCBill webhook as it arrives: a JSON POST to the registered
// URL with ?eventType=..., from one of CCBill's addresses.
func Webhook(eventType string, fields map[string]any) (processor.WebhookRequest, error) {
	body, err := json.Marshal(fields)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	return processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/ccbill", Body: body, RemoteAddr: SourceIP + ":443",
		Query: url.Values{"eventType": {eventType}, "eventGroupType": {"Subscription"}}, Headers: http.Header{"Content-Type": {"application/json"}}}, nil
}

// RefundWebhook refunds amount of the charge subscriptionID at CCBill, as
// the merchant does in the admin portal, and returns the Refund webhook
// CCBill sends for it.
func (f *Gateway) RefundWebhook(subscriptionID string, amount money.Money, reason string) (processor.WebhookRequest, error) {
	return f.reversal("Refund", subscriptionID, amount, reason, func(c *Charge) { c.Refunded += amount.Amount })
}

// ChargebackWebhook records a chargeback of the charge subscriptionID and
// returns the Chargeback webhook CCBill sends for it.
func (f *Gateway) ChargebackWebhook(subscriptionID string, amount money.Money, reason string) (processor.WebhookRequest, error) {
	return f.reversal("Chargeback", subscriptionID, amount, reason, func(c *Charge) { c.ChargedBack += amount.Amount })
}

func (f *Gateway) reversal(eventType, sub string, amount money.Money, reason string, book func(*Charge)) (processor.WebhookRequest, error) {
	cur, err := money.Lookup(amount.Currency)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	dec, err := money.FormatDecimal(amount)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	f.Mu.Lock()
	c := f.Charges[sub]
	if c == nil || c.Amount.Currency != amount.Currency || amount.Amount <= 0 || amount.Amount > c.Amount.Amount-c.Refunded-c.ChargedBack {
		f.Mu.Unlock()
		return processor.WebhookRequest{}, fmt.Errorf("fakegw: ccbill charge %s cannot give back %s", sub, amount)
	}
	book(c)
	f.nextSub++
	tx := "03" + strconv.FormatInt(f.nextSub%1e10, 10)
	f.Mu.Unlock()
	return Webhook(eventType, map[string]any{"subscriptionId": sub, "transactionId": tx, "amount": json.Number(dec),
		"currencyCode": strconv.Itoa(cur.Numeric), "reason": reason, "timestamp": time.Now().In(Zone).Format("2006-01-02 15:04:05")})
}
