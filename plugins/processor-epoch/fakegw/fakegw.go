// Package fakegw is a local stand-in for Epoch, for tests: the plugin's own
// and the host's swap test. Epoch documents no server-to-server charge API,
// so what it plays is the hosted FlexPost page (fpost.cgi, where the viewer
// pays), the postback Epoch sends after a purchase and the DataPlus pushes
// of later credits and chargebacks, all from Epoch's addresses and all
// signed with epoch_digest. It keeps every sale, so a test counts what Epoch
// took. It imports the standard library and the SDK only.
//
// The digest is computed here on its own (Sign), from public integration
// code, not from the plugin, so that a plugin that verified something else
// would fail against it: Shelby_Payment_Epoch_FlexPost::generateHMAC (PHP)
// drops epoch_digest, ksorts the fields, appends each key and value after
// removing leading/trailing white space and every '&' and '=', and takes
// hash_hmac('md5', string, key) in lowercase hex; ProBillerNG's test helper
// postbackPayloadForEpoch builds the same string (ksort, key.trim(value)).
// Which fields DataPlus signs is not shown by either: the fake signs every
// posted field there too.
package fakegw

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// SourceIP is the address postbacks come from: inside Epoch's documented
// 208.236.105.0/24, the plugin's default allow-list.
const SourceIP = "208.236.105.20"

// CoCode is the company code the fake expects on every hosted purchase.
const CoCode = "abc123"

// DigestKey is the merchant key the fake signs postbacks with (the plugin's
// digest_key in Settings).
const DigestKey = "fake-epoch-digest-key-0123456789"

// CardDecline is declined on the hosted page (ans=N...); every other card
// is approved with ans=YGOODTEST, as in Epoch's test mode.
const CardDecline = "4000000000000002"

// PricePoint is a product set up at Epoch.
type PricePoint struct {
	PiCode string
	Amount money.Money
}

// PricePoints are the products the fake sells (and Settings declares).
var PricePoints = []PricePoint{
	{"pack100", money.Money{Amount: 999, Currency: "USD"}},
	{"pack300", money.Money{Amount: 2999, Currency: "USD"}},
	{"packjpy", money.Money{Amount: 1500, Currency: "JPY"}},
}

// Sale is one approved hosted purchase.
type Sale struct {
	TransactionID, OrderID, MemberID, PiCode string
	Amount                                   money.Money
	Credited, ChargedBack                    int64
}

// Gateway is the fake Epoch.
type Gateway struct {
	t   testing.TB
	srv *httptest.Server

	Mu    sync.Mutex
	next  int64
	Sales map[string]*Sale // by transaction id
	Posts int              // hosted page submissions
	// sent are the postbacks of hosted purchases, by x_camkit_ref, until
	// Purchase delivers them.
	sent     map[string]url.Values
	Declines int
}

// New starts the hosted page on 127.0.0.1; it stops when the test ends.
func New(t testing.TB) *Gateway {
	f := &Gateway{t: t, next: 80000000, Sales: map[string]*Sale{}, sent: map[string]url.Values{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /secure/fpost.cgi", f.fpost)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// FpostURL is the hosted page's address (the plugin's fpost_url).
func (f *Gateway) FpostURL() string { return f.srv.URL + "/secure/fpost.cgi" }

// Settings are the plugin settings that point it at this fake; extra adds
// or overrides keys.
func (f *Gateway) Settings(stateFile string, extra map[string]any) ([]byte, error) {
	var pps []map[string]any
	for _, p := range PricePoints {
		pps = append(pps, map[string]any{"pi_code": p.PiCode, "amount": p.Amount.Amount, "currency": p.Amount.Currency})
	}
	m := map[string]any{"co_code": CoCode, "digest_key": DigestKey, "price_points": pps, "fpost_url": f.FpostURL(), "state_file": stateFile}
	for k, v := range extra {
		m[k] = v
	}
	return json.Marshal(m)
}

func (f *Gateway) id() string {
	f.next++
	return strconv.FormatInt(f.next, 10)
}

// fpost is the hosted page: the checkout's fields auto-posted by camkit's
// page, plus the card the viewer typed there. It books the sale and
// redirects the viewer to pi_returnurl; the postback goes server to server
// (Purchase returns it).
func (f *Gateway) fpost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	pb, status, msg := f.book(r.PostForm)
	if status != http.StatusOK {
		http.Error(w, msg, status)
		return
	}
	ret, err := url.Parse(r.PostForm.Get("pi_returnurl"))
	if err != nil {
		http.Error(w, "pi_returnurl", http.StatusBadRequest)
		return
	}
	q := ret.Query()
	for _, k := range []string{"ans", "order_id", "transaction_id", "member_id"} {
		if v := pb.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	ret.RawQuery = q.Encode()
	http.Redirect(w, r, ret.String(), http.StatusFound)
}

func (f *Gateway) book(form url.Values) (url.Values, int, string) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Posts++
	if form.Get("co_code") != CoCode || form.Get("reseller") != "a" || form.Get("response_post") != "Y" {
		return nil, http.StatusBadRequest, "co_code, reseller=a and response_post=Y are required"
	}
	var pp *PricePoint
	for i := range PricePoints {
		if PricePoints[i].PiCode == form.Get("pi_code") {
			pp = &PricePoints[i]
		}
	}
	if pp == nil {
		return nil, http.StatusBadRequest, "unknown pi_code"
	}
	card := form.Get("card_number")
	if card == "" {
		return nil, http.StatusBadRequest, "card_number is typed on this page"
	}
	order := f.id()
	// What Epoch posts back besides the outcome: the passthrough x_* fields
	// and details of the buyer and the payment, all signed.
	pb := url.Values{"order_id": {order}, "pi_code": {pp.PiCode}, "x_camkit_ref": {form.Get("x_camkit_ref")},
		"x_camkit_customer": {form.Get("x_camkit_customer")}, "name": {"Card Holder"}, "country": {"US"},
		"payment_type": {"CC"}, "last4": {card[len(card)-4:]}, "event_datetime": {time.Now().UTC().Format(time.RFC3339)}}
	f.sent[form.Get("x_camkit_ref")] = pb
	if card == CardDecline {
		f.Declines++
		pb.Set("ans", "NDECLINED")
		return pb, http.StatusOK, ""
	}
	dec, err := money.FormatDecimal(pp.Amount)
	if err != nil {
		return nil, http.StatusInternalServerError, err.Error()
	}
	s := &Sale{TransactionID: f.id(), OrderID: order, MemberID: f.id(), PiCode: pp.PiCode, Amount: pp.Amount}
	f.Sales[s.TransactionID] = s
	pb.Set("ans", "YGOODTEST")
	pb.Set("transaction_id", s.TransactionID)
	pb.Set("member_id", s.MemberID)
	pb.Set("amount", dec)
	pb.Set("currency", pp.Amount.Currency)
	return pb, http.StatusOK, ""
}

// Purchase plays the viewer paying on the hosted page: camkit's page posts
// the checkout's fields to fpost.cgi with the card typed there; Epoch books
// the sale, sends the viewer back and POSTs the postback (returned here, as
// the host would receive it at /webhooks/epoch).
func (f *Gateway) Purchase(co processor.Checkout, card string) (processor.WebhookRequest, error) {
	if co.Method != http.MethodPost || co.URL != f.FpostURL() {
		return processor.WebhookRequest{}, fmt.Errorf("fakegw: checkout %s %s is not a POST to %s", co.Method, co.URL, f.FpostURL())
	}
	form := url.Values{"card_number": {card}}
	for k, v := range co.Fields {
		form.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(co.URL, form)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		b, _ := io.ReadAll(resp.Body)
		return processor.WebhookRequest{}, fmt.Errorf("fakegw: hosted page answered %d: %s", resp.StatusCode, b)
	}
	f.Mu.Lock()
	pb := f.sent[co.Fields["x_camkit_ref"]]
	delete(f.sent, co.Fields["x_camkit_ref"])
	f.Mu.Unlock()
	if pb == nil {
		return processor.WebhookRequest{}, fmt.Errorf("fakegw: no postback for checkout %s", co.Fields["x_camkit_ref"])
	}
	return Postback(pb), nil
}

// Postback is a form-encoded POST from Epoch's address, as FlexPost
// postbacks and DataPlus pushes arrive, signed with DigestKey.
func Postback(fields url.Values) processor.WebhookRequest {
	return Unsigned(Sign(fields, DigestKey))
}

// Unsigned is a form-encoded POST from Epoch's address of exactly fields:
// a forgery unless fields carry a valid epoch_digest.
func Unsigned(fields url.Values) processor.WebhookRequest {
	return processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/epoch", RemoteAddr: SourceIP + ":443",
		Body: []byte(fields.Encode()), Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}
}

// Sign returns a copy of fields with epoch_digest set as Epoch sets it
// (see the package comment), keyed with key.
func Sign(fields url.Values, key string) url.Values {
	out := url.Values{}
	var names []string
	for k, v := range fields {
		if k == "epoch_digest" {
			continue
		}
		out[k] = append([]string(nil), v...)
		names = append(names, k)
	}
	sort.Strings(names)
	clean := func(s string) string {
		s = strings.TrimFunc(s, unicode.IsSpace)
		return strings.ReplaceAll(strings.ReplaceAll(s, "&", ""), "=", "")
	}
	var msg strings.Builder
	for _, k := range names {
		msg.WriteString(clean(k))
		msg.WriteString(clean(fields.Get(k)))
	}
	m := hmac.New(md5.New, []byte(key))
	m.Write([]byte(msg.String()))
	out.Set("epoch_digest", hex.EncodeToString(m.Sum(nil)))
	return out
}

// CreditPostback credits amount of sale transactionID back to the viewer's
// card, as the merchant does in Epoch's portal, and returns the DataPlus
// push that reports it (ets_transaction_type C, a negative amount,
// ets_ref_trans_ids naming the sale).
func (f *Gateway) CreditPostback(transactionID string, amount money.Money, reason string) (processor.WebhookRequest, error) {
	return f.dataPlus("C", transactionID, amount, reason, func(s *Sale) { s.Credited += amount.Amount }, "-")
}

// ChargebackPostback records a chargeback of sale transactionID and returns
// the DataPlus push that reports it (ets_transaction_type D).
func (f *Gateway) ChargebackPostback(transactionID string, amount money.Money, reason string) (processor.WebhookRequest, error) {
	return f.dataPlus("D", transactionID, amount, reason, func(s *Sale) { s.ChargedBack += amount.Amount }, "")
}

func (f *Gateway) dataPlus(kind, tx string, amount money.Money, reason string, book func(*Sale), sign string) (processor.WebhookRequest, error) {
	dec, err := money.FormatDecimal(amount)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	s := f.Sales[tx]
	if s == nil || s.Amount.Currency != amount.Currency || amount.Amount <= 0 || amount.Amount > s.Amount.Amount-s.Credited-s.ChargedBack {
		return processor.WebhookRequest{}, fmt.Errorf("fakegw: epoch sale %s cannot give back %s", tx, amount)
	}
	book(s)
	return Postback(url.Values{"ets_transaction_id": {f.id()}, "ets_member_idx": {s.MemberID}, "ets_transaction_type": {kind},
		"ets_transaction_amount": {sign + dec}, "ets_ref_trans_ids": {tx}, "ets_pi_code": {s.PiCode}, "ets_reason": {reason},
		"ets_currency": {strings.ToUpper(amount.Currency)}, "ets_transaction_date": {time.Now().UTC().Format("2006-01-02 15:04:05")}}), nil
}
