// Package fakegw is a local stand-in for Epoch, for tests: the plugin's own
// and the host's swap test. Epoch documents no server-to-server charge API,
// so what it plays is the hosted FlexPost page (fpost.cgi, where the viewer
// pays), the postback Epoch sends after a purchase and the DataPlus pushes
// of later credits and chargebacks, all from Epoch's addresses. It keeps
// every sale, so a test counts what Epoch took. It imports the standard
// library and the SDK only.
//
// Its wire format, and where each part comes from (public documentation and
// public integration code, read to learn the format; none is copied):
//
//   - epoch_digest (Sign), computed here on its own, not by the plugin, so
//     that a plugin verifying something else fails against it: HMAC-MD5
//     keyed with the merchant's key over the fields but epoch_digest, sorted
//     by name, each name followed by its value after trimming white space
//     and removing every '&' and '='; lowercase hex.
//     Shelby_Payment_Epoch_FlexPost::generateHMAC/validateResponse
//     (github.com/MaximKravetc/QSLanding,
//     application/library/Shelby/Payment/Epoch/FlexPost.php);
//     ProBillerNG's test helper postbackPayloadForEpoch (ksort,
//     key.trim(value)); the same digest over a camcharge request with its
//     own test vectors in github.com/mike227-2/mastodon
//     (app/lib/charge_request.rb, spec/lib/charge_request_spec.rb).
//   - The FlexPost form fields (co_code, pi_code, reseller=a, response_post,
//     pi_returnurl, x_* passthrough): PROCESSORS.md; Magic Members
//     mgm_epoch::_get_button_data (github.com/jervy-ez/magic-members-test,
//     core/modules/payment/epoch/mgm_epoch.php).
//   - The postback's ans: Y approved ("YGOODTEST" in test mode), N and a
//     decline code otherwise, optionally "|<transaction id>" after it
//     ("ans=YGOODTEST|1418464163" in mgm_epoch::_parse_response;
//     "YQAUPGRADE|<tx>" in the FlexGrade of a VRP test suite,
//     github.com/Anatol-19/pytest_template_SkyPro,
//     services/payment/epoch_payloads.py); the decline
//     codes DECLINED, MYVSNOTACCEPTED, DECLINEDCVV2, CALLCENTER, EXPIRED
//     are the ones mgm_epoch::_buy_post handles (DeclineCards).
//   - DataPlus (CreditPostback, ChargebackPostback, InitialRecord): Epoch's
//     "Data Plus" integration guide (mage2.pro/t/topic/5044, "Epoch.com
//     Data Plus.pdf": an HTTPS post of "standard name value pairs"
//     ets_transaction_id, ets_member_idx, ets_transaction_date,
//     ets_transaction_type, ets_co_code, ets_pi_code, ets_reseller_code,
//     ets_transaction_amount, ets_payment_type, ets_username,
//     ets_ref_trans_ids, ets_password_expire, ets_email, 15 minutes late,
//     from the addresses at epoch.com/ip_list.php); type letters from KVS'
//     KvsPaymentProcessorEpoch (github.com/skygod0323/rmsdevtesting,
//     admin/billings/epoch/epoch.php: C credit, D chargeback, N/U rebill and
//     conversion, X/A void), mgm_epoch (F, I, N) and a Spring
//     EpochController of a cam token site (github.com/BlueDroidSoliutions/LSH,
//     src/main/java/com/livesexhouse/controller/epoch/EpochController.java: D with ets_ref_trans_ids naming
//     the sale; I, N); the VRP test suite (O one-time, T paid trial,
//     ets_currency, negative amounts on C). None of them shows an
//     epoch_digest on DataPlus, and all check the source address only: the
//     fake's DataPlus is unsigned unless SignDataPlus is set (for the
//     plugin's dataplus_auth = "digest").
//   - The answer Epoch expects from the merchant: 200 "OK" (KVS, mgm_epoch).
//
// Not played: api=camcharge (action=authandclose, member_id, auth_amount)
// on wnu.com/secure/services. The public code that uses it (Shelby's
// camChargePaymentURL; the mastodon fork's ChargeRequest, sent with
// redirect_to) builds a URL the member's browser is sent to, with returnurl
// and pburl, and shows no server-side answer to model.
//
// Failure modes: declines with the documented codes (DeclineCards); the
// hosted page answering 5xx before booking anything (FailNext); a sale
// booked and the viewer's connection lost before the redirect, so that only
// the server-to-server postback tells (DropAfterBooking, then
// QueuedPostback); postbacks that a test delivers twice or out of order
// (a chargeback before its sale's postback).
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

// CardDecline is declined on the hosted page with ans=NDECLINED; every card
// not in DeclineCards is approved with ans=YGOODTEST, as in Epoch's test
// mode.
const CardDecline = "4000000000000002"

// DeclineCards are the cards the hosted page declines, and the ans each
// declined postback carries (the codes mgm_epoch handles).
var DeclineCards = map[string]string{
	CardDecline:        "NDECLINED",
	"4000000000000069": "NEXPIRED",
	"4000000000000127": "NDECLINEDCVV2",
	"4000000000000119": "NCALLCENTER",
	"4000000000000036": "NMYVSNOTACCEPTED",
}

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
	// sent are the postbacks of hosted purchases, by x_camkit_ref: what
	// Epoch posts server to server whether or not the viewer comes back.
	sent     map[string]url.Values
	Declines int
	// SignDataPlus has DataPlus pushes carry an epoch_digest (no public
	// source shows one; for the plugin's dataplus_auth = "digest").
	SignDataPlus bool
	failNext     int
	failStatus   int
	dropNext     int
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

// FailNext has the hosted page answer status (a 5xx) to the next n
// submissions, booking nothing: Epoch's page down.
func (f *Gateway) FailNext(n, status int) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.failNext, f.failStatus = n, status
}

// DropAfterBooking has the next n submissions book their sale (and queue
// its postback) and then lose the viewer's connection before the redirect:
// the purchase is accepted, the browser sees a timeout.
func (f *Gateway) DropAfterBooking(n int) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.dropNext = n
}

func (f *Gateway) id() string {
	f.next++
	return strconv.FormatInt(f.next, 10)
}

// fpost is the hosted page: the checkout's fields auto-posted by camkit's
// page, plus the card the viewer typed there. It books the sale and
// redirects the viewer to pi_returnurl; the postback goes server to server
// (Purchase or QueuedPostback returns it).
func (f *Gateway) fpost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	pb, status, msg, drop := f.book(r.PostForm)
	if status != http.StatusOK {
		http.Error(w, msg, status)
		return
	}
	if drop {
		panic(http.ErrAbortHandler) // the connection goes away without an answer
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

func (f *Gateway) book(form url.Values) (pb url.Values, status int, msg string, drop bool) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.Posts++
	if f.failNext > 0 {
		f.failNext--
		return nil, f.failStatus, "service unavailable", false
	}
	if form.Get("co_code") != CoCode || form.Get("reseller") != "a" || form.Get("response_post") != "Y" {
		return nil, http.StatusBadRequest, "co_code, reseller=a and response_post=Y are required", false
	}
	var pp *PricePoint
	for i := range PricePoints {
		if PricePoints[i].PiCode == form.Get("pi_code") {
			pp = &PricePoints[i]
		}
	}
	if pp == nil {
		return nil, http.StatusBadRequest, "unknown pi_code", false
	}
	card := form.Get("card_number")
	if card == "" {
		return nil, http.StatusBadRequest, "card_number is typed on this page", false
	}
	order := f.id()
	// What Epoch posts back besides the outcome: the passthrough x_* fields
	// and details of the buyer and the payment, all signed.
	pb = url.Values{"order_id": {order}, "pi_code": {pp.PiCode}, "x_camkit_ref": {form.Get("x_camkit_ref")},
		"x_camkit_customer": {form.Get("x_camkit_customer")}, "name": {"Card Holder"}, "country": {"US"},
		"payment_type": {"CC"}, "last4": {card[len(card)-4:]}, "event_datetime": {time.Now().UTC().Format(time.RFC3339)}}
	f.sent[form.Get("x_camkit_ref")] = pb
	if ans, declined := DeclineCards[card]; declined {
		f.Declines++
		pb.Set("ans", ans)
		return pb, http.StatusOK, "", false
	}
	dec, err := money.FormatDecimal(pp.Amount)
	if err != nil {
		return nil, http.StatusInternalServerError, err.Error(), false
	}
	s := &Sale{TransactionID: f.id(), OrderID: order, MemberID: f.id(), PiCode: pp.PiCode, Amount: pp.Amount}
	f.Sales[s.TransactionID] = s
	pb.Set("ans", "YGOODTEST|"+s.TransactionID)
	pb.Set("transaction_id", s.TransactionID)
	pb.Set("member_id", s.MemberID)
	pb.Set("amount", dec)
	pb.Set("currency", pp.Amount.Currency)
	if f.dropNext > 0 {
		f.dropNext--
		return pb, http.StatusOK, "", true
	}
	return pb, http.StatusOK, "", false
}

// Purchase plays the viewer paying on the hosted page: camkit's page posts
// the checkout's fields to fpost.cgi with the card typed there; Epoch books
// the sale, sends the viewer back and POSTs the postback (returned here, as
// the host would receive it at /webhooks/epoch). When the page fails or the
// connection is lost, the error says so; a postback of a sale that was
// booked all the same is still there for QueuedPostback.
func (f *Gateway) Purchase(co processor.Checkout, card string) (processor.WebhookRequest, error) {
	if co.Method != http.MethodPost || co.URL != f.FpostURL() {
		return processor.WebhookRequest{}, fmt.Errorf("fakegw: checkout %s %s is not a POST to %s", co.Method, co.URL, f.FpostURL())
	}
	form := url.Values{"card_number": {card}}
	for k, v := range co.Fields {
		form.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	resp, err := client.PostForm(co.URL, form)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		b, _ := io.ReadAll(resp.Body)
		return processor.WebhookRequest{}, fmt.Errorf("fakegw: hosted page answered %d: %s", resp.StatusCode, b)
	}
	pb, ok := f.QueuedPostback(co.Fields["x_camkit_ref"])
	if !ok {
		return processor.WebhookRequest{}, fmt.Errorf("fakegw: no postback for checkout %s", co.Fields["x_camkit_ref"])
	}
	return pb, nil
}

// QueuedPostback is the postback Epoch sends server to server for the
// hosted purchase of checkout ref, signed, once the page has booked (or
// declined) it; false if the page booked nothing.
func (f *Gateway) QueuedPostback(ref string) (processor.WebhookRequest, bool) {
	f.Mu.Lock()
	pb := f.sent[ref]
	delete(f.sent, ref)
	f.Mu.Unlock()
	if pb == nil {
		return processor.WebhookRequest{}, false
	}
	return Postback(pb), true
}

// Postback is a form-encoded POST from Epoch's address, as FlexPost
// postbacks arrive, signed with DigestKey.
func Postback(fields url.Values) processor.WebhookRequest {
	return Unsigned(Sign(fields, DigestKey))
}

// Unsigned is a form-encoded POST from Epoch's address of exactly fields:
// DataPlus as Epoch's guide describes it, or a forged postback unless
// fields carry a valid epoch_digest.
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

// InitialRecord is DataPlus's own record of sale transactionID, pushed
// about 15 minutes after its FlexPost postback: type O, a one-time purchase
// (a credit pack), with the sale's transaction id.
func (f *Gateway) InitialRecord(transactionID string) (processor.WebhookRequest, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	s := f.Sales[transactionID]
	if s == nil {
		return processor.WebhookRequest{}, fmt.Errorf("fakegw: no epoch sale %s", transactionID)
	}
	dec, err := money.FormatDecimal(s.Amount)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	return f.pushLocked(f.record("O", s.TransactionID, s, dec)), nil
}

func (f *Gateway) record(kind, tx string, s *Sale, amount string) url.Values {
	return url.Values{"ets_transaction_id": {tx}, "ets_member_idx": {s.MemberID}, "ets_transaction_type": {kind},
		"ets_transaction_date": {time.Now().UTC().Format("2006-01-02 15:04:05")}, "ets_co_code": {CoCode},
		"ets_pi_code": {s.PiCode}, "ets_reseller_code": {"a"}, "ets_transaction_amount": {amount}, "ets_payment_type": {"A"},
		"ets_username": {""}, "ets_password_expire": {""}, "ets_email": {"viewer@example.test"},
		"ets_currency": {strings.ToUpper(s.Amount.Currency)}}
}

// pushLocked is a DataPlus push as Epoch sends it: unsigned, unless
// SignDataPlus.
func (f *Gateway) pushLocked(fields url.Values) processor.WebhookRequest {
	if f.SignDataPlus {
		return Postback(fields)
	}
	return Unsigned(fields)
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
	fields := f.record(kind, f.id(), s, sign+dec)
	fields.Set("ets_ref_trans_ids", tx)
	_ = reason // DataPlus has no reason field in Epoch's guide: the caller's note stays here
	return f.pushLocked(fields), nil
}
