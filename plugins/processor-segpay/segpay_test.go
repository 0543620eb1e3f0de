package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/processor"
)

var pluginBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "processor-segpay-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginBinary = filepath.Join(dir, "processor-segpay")
	build := exec.Command("go", "build", "-o", pluginBinary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the plugin:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var seq atomic.Int64

func uniq(prefix string) string {
	return fmt.Sprintf("%s/%d/%d", prefix, time.Now().UnixNano(), seq.Add(1))
}

func usd(minor int64) money.Money { return money.Money{Amount: minor, Currency: "USD"} }

// buyFirst plays a viewer's first purchase on Segpay's hosted page: the
// plugin builds the link, the fake books the sale and sends the TransPost,
// and the host completes the checkout into a stored OCToken.
func buyFirst(t *testing.T, p processor.Processor, f *fakeSegpay, card string) processor.StoredCredential {
	t.Helper()
	ctx := context.Background()
	price := usd(995)
	co, err := p.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: uniq("pack"), CustomerRef: "viewer/1",
		ReturnURL: "https://camkit.test/credits/return", Purchase: &price, Description: "100 credits"})
	if err != nil {
		t.Fatalf("StartCheckout: %v", err)
	}
	if co.Method != http.MethodGet || !strings.HasPrefix(co.URL, "https://secure2.segpay.com/billing/poset.cgi?") {
		t.Fatalf("checkout %+v", co)
	}
	res, err := p.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/1"})
	if err != nil || !res.Pending {
		t.Fatalf("before the postback: %+v %v, want pending", res, err)
	}
	postback := f.Purchase(t, co.URL, card, true)
	wr, err := p.ParseWebhook(ctx, postback)
	if err != nil || len(wr.Events) != 1 || wr.Events[0].Type != processor.EventSale || string(wr.Response.Body) != "OK" {
		t.Fatalf("TransPost: %+v %v", wr, err)
	}
	res, err = p.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/1"})
	if err != nil || res.Pending || res.Credential == nil || res.Credential.Token != postback.Query.Get("purchaseid") ||
		res.Charge == nil || res.Charge.Amount != price || res.Credential.Last4 != card[len(card)-4:] {
		t.Fatalf("after the postback: %+v %v", res, err)
	}
	return *res.Credential
}

// By default (no release of a hold documented) the plugin offers one-click
// charges only: prepaid blocks.
func TestConformance(t *testing.T) { conformance(t, nil) }

// With void_by_zero_capture the operator vouches for the release: Post Pay
// holds (card_hold) as well.
func TestConformanceWithHolds(t *testing.T) {
	conformance(t, map[string]any{"void_by_zero_capture": true})
}

func conformance(t *testing.T, extra map[string]any) {
	f := newFakeSegpay(t)
	plugintest.Processor(t, pluginBinary, plugintest.ProcessorOptions{
		Settings: f.Settings(t, filepath.Join(t.TempDir(), "state.json"), extra),
		Currency: "USD",
		Amount:   2000,
		Credentials: func(t *testing.T, p processor.Processor) plugintest.TestCredentials {
			return plugintest.TestCredentials{
				Approve: buyFirst(t, p, f, cardApprove), Decline: buyFirst(t, p, f, cardDecline),
				Insufficient: buyFirst(t, p, f, cardInsufficient), Expired: buyFirst(t, p, f, cardExpired),
				Unavailable: buyFirst(t, p, f, cardUnavailable), Slow: buyFirst(t, p, f, cardSlow),
			}
		},
		Webhook: func(t *testing.T) processor.WebhookRequest {
			return processor.WebhookRequest{Method: http.MethodGet, RemoteAddr: segpayIP + ":443", Query: url.Values{
				"action": {"Auth"}, "stage": {"Initial"}, "approved": {"Yes"}, "trantype": {"credit"}, "purchaseid": {"847263533"},
				"tranid": {fmt.Sprint(time.Now().UnixNano() % 1e12)}, "relatedtranid": {"847263534"}, "price": {"-20.00"}, "currencycode": {"USD"}}}
		},
	})
}

// warnings records what the plugin logs for an operator.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Warn(msg string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, fmt.Sprint(append([]any{msg, " "}, args...)...))
}

func (w *warnings) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.msgs, "\n")
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestPlugin configures the plugin with Post Pay holds on (the tests of
// holds); newPlugin takes the settings as given.
func newTestPlugin(t *testing.T, f *fakeSegpay, stateFile string) *Segpay {
	t.Helper()
	s, _ := newPlugin(t, f, stateFile, map[string]any{"void_by_zero_capture": true})
	return s
}

func newPlugin(t *testing.T, f *fakeSegpay, stateFile string, extra map[string]any) (*Segpay, *testClock) {
	t.Helper()
	clock := &testClock{t: time.Now()}
	s := newSegpay(clock.now, &warnings{})
	if stateFile == "" {
		stateFile = filepath.Join(t.TempDir(), "state.json")
	}
	if err := s.Configure(context.Background(), f.Settings(t, stateFile, extra)); err != nil {
		t.Fatal(err)
	}
	return s, clock
}

// Segpay books the capture, then the answer comes after the host gave up.
// The retry under the same key sends it again, Segpay refuses a second
// capture, and the plugin returns the first: one capture at Segpay.
func TestTimeoutAfterAcceptedCaptureIsNotCapturedTwice(t *testing.T) {
	f := newFakeSegpay(t)
	stateFile := filepath.Join(t.TempDir(), "state.json")
	s := newTestPlugin(t, f, stateFile)
	cred := buyFirst(t, s, f, cardApprove)
	ctx := context.Background()
	a, err := s.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "seat/3/auth/1", Credential: cred, Amount: usd(3000)})
	if err != nil {
		t.Fatal(err)
	}
	if f.LastAuthAm != "30.00" {
		t.Fatalf("PostPayAuth amount %q, want 30.00", f.LastAuthAm)
	}
	req := processor.CaptureRequest{IdempotencyKey: "seat/3/capture", AuthorizationReference: a.Reference, Amount: usd(1850)}
	_, err = s.Capture(f.HangNextBooking(t), req)
	if errs.CodeOf(err) != errs.Timeout || !errs.IsRetryable(err) {
		t.Fatalf("capture past its deadline: %v", err)
	}
	s2 := newTestPlugin(t, f, stateFile) // restarted in between: the pending record is on disk
	c, err := s2.Capture(ctx, req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if c.Amount != usd(1850) || c.Released != usd(1150) || c.Reference != a.Reference {
		t.Fatalf("retry result %+v", c)
	}
	again, err := s2.Capture(ctx, req)
	if err != nil || again != c {
		t.Fatalf("second retry %+v %v", again, err)
	}
	f.Mu.Lock()
	captures, captured := f.Captures, f.Auths[a.Reference].Captured
	f.Mu.Unlock()
	if captures != 1 || captured == nil || *captured != usd(1850) {
		t.Fatalf("the fake counted %d captures (%v), want 1 of 18.50", captures, captured)
	}
	// Another key for a second capture of the same hold is refused.
	if _, err := s2.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "other", AuthorizationReference: a.Reference, Amount: usd(1)}); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("second capture: %v", err)
	}
}

// A one-click charge whose answer is lost is never sent blind again: the key
// waits for Segpay's TransPost of the sale on that purchase id, and after
// settleWait without one gets a final error for the operator.
func TestLostOneClickAnswerSettlesByTransPost(t *testing.T) {
	f := newFakeSegpay(t)
	s, clock := newPlugin(t, f, "", nil)
	cred := buyFirst(t, s, f, cardApprove)
	ctx := context.Background()
	req := processor.ChargeRequest{IdempotencyKey: "tip/42", Credential: cred, Amount: usd(500)}
	_, err := s.Charge(f.HangNextBooking(t), req)
	if errs.CodeOf(err) != errs.Timeout {
		t.Fatalf("charge past its deadline: %v", err)
	}
	if _, err := s.Charge(ctx, req); errs.CodeOf(err) != errs.Unavailable || !errs.IsRetryable(err) {
		t.Fatalf("retry before the postback: %v", err)
	}
	forms := f.OneClickRequests()
	if len(forms) != 1 {
		t.Fatalf("%d one-click requests, want 1 (never re-sent)", len(forms))
	}
	if got := forms[0]; got.Get("purchaseid") != cred.Token || got.Get("octoken") != cred.Token || got.Has("camkit_key") ||
		got.Get("eticketid") != "109595:13925" || got.Get("amount") != "5.00" || got.Get("dynamictrans") == "" {
		t.Fatalf("one-click request %v: want PurchaseId (and OCToken) = %s, eticketid, amount, dynamictrans, no camkit_key", got, cred.Token)
	}
	f.Mu.Lock()
	var tranid string
	for id, sale := range f.Sales {
		if sale.PurchaseID == cred.Token {
			tranid = id
		}
	}
	f.Mu.Unlock()
	pb, err := f.OneClickPostback(tranid)
	if err != nil {
		t.Fatal(err)
	}
	clock.add(time.Minute)
	for i := 0; i < 2; i++ { // delivered twice: booked once
		if res, err := s.ParseWebhook(ctx, pb); err != nil || len(res.Events) != 1 || res.Events[0].Type != processor.EventRebill {
			t.Fatalf("one-click TransPost delivery %d: %+v %v", i+1, res, err)
		}
	}
	res, err := s.Charge(ctx, req)
	if err != nil || res.Reference != tranid || res.Amount != usd(500) {
		t.Fatalf("retry after the postback: %+v %v", res, err)
	}
	if n := len(f.OneClickRequests()); n != 1 {
		t.Fatalf("%d one-click sales, want 1", n)
	}

	// The same TransPost cannot settle a second lost charge of the same
	// amount: after the wait, that one gets a final error and is not re-sent.
	req2 := processor.ChargeRequest{IdempotencyKey: "tip/43", Credential: cred, Amount: usd(500)}
	if _, err := s.Charge(f.HangNextBooking(t), req2); errs.CodeOf(err) != errs.Timeout {
		t.Fatalf("second charge: %v", err)
	}
	if _, err := s.ParseWebhook(ctx, pb); err != nil { // a late redelivery of the first
		t.Fatal(err)
	}
	if _, err := s.Charge(ctx, req2); errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("the first charge's TransPost settled the second: %v", err)
	}
	clock.add(settleWait + time.Minute)
	for i := 0; i < 2; i++ {
		_, err := s.Charge(ctx, req2)
		if errs.CodeOf(err) != errs.Conflict || errs.IsRetryable(err) || !strings.Contains(err.Error(), "portal") {
			t.Fatalf("after the wait: %v, want a final error naming Segpay's portal", err)
		}
	}
	if n := len(f.OneClickRequests()); n != 2 {
		t.Fatalf("%d one-click requests, want 2 (none re-sent)", n)
	}
	if w := s.log.(*warnings).all(); !strings.Contains(w, "tip/43") {
		t.Fatalf("the unsettled charge was not logged: %q", w)
	}
}

// A one-click TransPost that comes before the answer (out of order) is the
// answered charge's, and a declined one-click's TransPost settles nothing.
func TestOneClickOutOfOrderAndDeclined(t *testing.T) {
	f := newFakeSegpay(t)
	s, _ := newPlugin(t, f, "", nil)
	ctx := context.Background()
	cred := buyFirst(t, s, f, cardApprove)
	res, err := s.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "block/1", Credential: cred, Amount: usd(600)})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := f.OneClickPostback(res.Reference)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ParseWebhook(ctx, pb); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	notes := append([]saleNote(nil), s.st.OneClick[cred.Token]...)
	s.mu.Unlock()
	if len(notes) != 1 || notes[0].Claimed != "block/1" {
		t.Fatalf("notes of the purchase: %+v, want the answered sale, claimed", notes)
	}
	bad := buyFirst(t, s, f, cardInsufficient)
	_, err = s.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "block/2", Credential: bad, Amount: usd(600)})
	if errs.CodeOf(err) != errs.InsufficientFunds {
		t.Fatalf("declined one-click: %v", err)
	}
	declined := processor.WebhookRequest{RemoteAddr: segpayIP + ":1", Query: url.Values{"trantype": {"sale"}, "approved": {"No"}, "stage": {"Rebill"},
		"purchaseid": {bad.Token}, "tranid": {"999000111"}, "price": {"6.00"}, "currencycode": {"USD"}, "reason": {"Insufficient Funds"}}}
	if _, err := s.ParseWebhook(ctx, declined); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	notes = append([]saleNote(nil), s.st.OneClick[bad.Token]...)
	s.mu.Unlock()
	if len(notes) != 1 || notes[0].Claimed != "block/2" || notes[0].TranID != "999000111" {
		t.Fatalf("the declined one-click's TransPost: %+v, want it claimed by block/2", notes)
	}
}

// Without void_by_zero_capture (the default) the plugin promises no hold the
// host could not release: no auth_capture, partial capture or void, so the
// host funds seats with prepaid one-click blocks. A hold placed while holds
// were on is still captured after they are turned off.
func TestDefaultOffersNoHolds(t *testing.T) {
	f := newFakeSegpay(t)
	stateFile := filepath.Join(t.TempDir(), "state.json")
	on, _ := newPlugin(t, f, stateFile, map[string]any{"void_by_zero_capture": true})
	ctx := context.Background()
	cred := buyFirst(t, on, f, cardApprove)
	a, err := on.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "seat/1/auth", Credential: cred, Amount: usd(2000)})
	if err != nil {
		t.Fatal(err)
	}
	if caps, _ := on.Capabilities(ctx); !caps.AuthCapture || !caps.PartialCapture || !caps.Void || caps.MaxHoldDays != 7 {
		t.Fatalf("holds on: %+v", caps)
	}
	off, _ := newPlugin(t, f, stateFile, nil) // the same state, the setting left out
	caps, err := off.Capabilities(ctx)
	if err != nil || caps.AuthCapture || caps.PartialCapture || caps.Void || !caps.ChargeStoredCredential {
		t.Fatalf("default capabilities %+v %v: want no hold, one-click charges", caps, err)
	}
	if caps, _ := newSegpay(time.Now, &warnings{}).Capabilities(ctx); caps.AuthCapture || caps.Void {
		t.Fatalf("capabilities before Configure promise a hold: %+v", caps)
	}
	if _, err := off.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "seat/2/auth", Credential: cred, Amount: usd(2000)}); errs.CodeOf(err) != errs.Unsupported {
		t.Fatalf("Authorize with holds off: %v", err)
	}
	if _, err := off.Void(ctx, processor.VoidRequest{IdempotencyKey: "v", AuthorizationReference: a.Reference}); errs.CodeOf(err) != errs.Unsupported {
		t.Fatalf("Void with holds off: %v", err)
	}
	if _, err := off.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "c0", AuthorizationReference: "12345", Amount: usd(1)}); errs.CodeOf(err) != errs.Unsupported {
		t.Fatalf("Capture of no known hold with holds off: %v", err)
	}
	c, err := off.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "c1", AuthorizationReference: a.Reference, Amount: usd(700)})
	if err != nil || c.Amount != usd(700) || c.Released != usd(1300) {
		t.Fatalf("capture of the earlier hold: %+v %v", c, err)
	}
	f.Mu.Lock()
	auths := len(f.Auths)
	f.Mu.Unlock()
	if auths != 1 {
		t.Fatalf("%d authorisations at Segpay, want the one placed while holds were on", auths)
	}
}

// PostPayCapture carries the eticketid and purchaseid Segpay's Post Pay page
// documents, takes at most the hold once, and a lapsed hold cannot be captured.
func TestCaptureFieldsAndFailures(t *testing.T) {
	f := newFakeSegpay(t)
	s := newTestPlugin(t, f, "")
	ctx := context.Background()
	cred := buyFirst(t, s, f, cardApprove)
	a, err := s.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "seat/1/auth", Credential: cred, Amount: usd(1000)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "over", AuthorizationReference: a.Reference, Amount: usd(1001)}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("capture above the hold: %v", err)
	}
	c, err := s.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "cap", AuthorizationReference: a.Reference, Amount: usd(400)})
	if err != nil || c.Released != usd(600) {
		t.Fatalf("partial capture: %+v %v", c, err)
	}
	forms := f.CaptureRequests()
	if got := forms[len(forms)-1]; got.Get("eticketid") != "109595:13925" || got.Get("purchaseid") != cred.Token ||
		got.Get("transactionId") != a.Reference || got.Get("amount") != "4.00" {
		t.Fatalf("capture request %v", got)
	}
	b, err := s.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "seat/2/auth", Credential: cred, Amount: usd(1000)})
	if err != nil {
		t.Fatal(err)
	}
	f.ExpireAuth(b.Reference)
	if _, err := s.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "late", AuthorizationReference: b.Reference, Amount: usd(100)}); errs.CodeOf(err) != errs.AuthExpired {
		t.Fatalf("capture of a lapsed hold: %v", err)
	}
	for _, card := range []struct {
		number string
		code   errs.Code
	}{{cardDecline, errs.Declined}, {cardInsufficient, errs.InsufficientFunds}, {cardExpired, errs.ExpiredCard}, {cardUnavailable, errs.Unavailable}} {
		cr := buyFirst(t, s, f, card.number)
		_, err := s.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "auth/" + card.number, Credential: cr, Amount: usd(500)})
		if errs.CodeOf(err) != card.code {
			t.Errorf("PostPayAuth with %s: %v, want %s", card.number, err, card.code)
		}
	}
}

// Segpay posts a void as trantype=sale&action=void and a chargeback as
// trantype=charge; a trantype or member action camkit does not know is
// acknowledged (200) and logged, never refused.
func TestTransPostTypes(t *testing.T) {
	f := newFakeSegpay(t)
	s, _ := newPlugin(t, f, "", nil)
	ctx := context.Background()
	cred := buyFirst(t, s, f, cardApprove)
	res, err := s.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "b1", Credential: cred, Amount: usd(900)})
	if err != nil {
		t.Fatal(err)
	}
	void, err := f.VoidPostback(res.Reference, usd(900))
	if err != nil {
		t.Fatal(err)
	}
	wr, err := s.ParseWebhook(ctx, void)
	if err != nil || len(wr.Events) != 1 || wr.Events[0].Type != processor.EventVoid || wr.Events[0].RelatedReference != res.Reference || wr.Events[0].Amount != usd(900) {
		t.Fatalf("void TransPost: %+v %v, want a void of %s", wr, err, res.Reference)
	}
	res2, err := s.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "b2", Credential: cred, Amount: usd(800)})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := f.ChargebackPostback(res2.Reference, usd(800), "10.4")
	if err != nil {
		t.Fatal(err)
	}
	wr, err = s.ParseWebhook(ctx, cb)
	if err != nil || len(wr.Events) != 1 || wr.Events[0].Type != processor.EventChargeback || wr.Events[0].RelatedReference != res2.Reference {
		t.Fatalf("trantype=charge: %+v %v, want a chargeback", wr, err)
	}
	log := s.log.(*warnings)
	for _, q := range []url.Values{
		{"trantype": {"gift"}, "approved": {"Yes"}, "tranid": {"301"}, "price": {"1.00"}, "currencycode": {"USD"}},
		{"action": {"Probe"}, "purchaseid": {"100"}},
		{"action": {"SomethingNew"}, "purchaseid": {"100"}},
	} {
		wr, err := s.ParseWebhook(ctx, processor.WebhookRequest{RemoteAddr: segpayIP + ":1", Query: q})
		if err != nil || len(wr.Events) != 0 || wr.Response.Status != 200 || string(wr.Response.Body) != "OK" {
			t.Errorf("%v: %+v %v, want 200 and no event", q, wr, err)
		}
	}
	if w := log.all(); !strings.Contains(w, "gift") || !strings.Contains(w, "SomethingNew") {
		t.Fatalf("acknowledged postbacks were not logged: %q", w)
	}
}

func TestTransactionsReportIsUnsupported(t *testing.T) {
	s, _ := newPlugin(t, newFakeSegpay(t), "", nil)
	if _, err := s.Transactions(context.Background(), processor.TransactionsRequest{}); errs.CodeOf(err) != errs.Unsupported {
		t.Fatalf("Transactions = %v", err)
	}
}

func TestVoidAndAmounts(t *testing.T) {
	f := newFakeSegpay(t)
	s := newTestPlugin(t, f, "")
	cred := buyFirst(t, s, f, cardApprove)
	ctx := context.Background()
	a, err := s.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "seat/5/auth/1", Credential: cred, Amount: usd(92233720368547)})
	if err != nil {
		t.Fatal(err)
	}
	if f.LastAuthAm != "922337203685.47" {
		t.Fatalf("large amount went out as %q", f.LastAuthAm)
	}
	v, err := s.Void(ctx, processor.VoidRequest{IdempotencyKey: "seat/5/void/1", AuthorizationReference: a.Reference})
	if err != nil || v.Amount != a.Amount {
		t.Fatalf("void %+v %v", v, err)
	}
	f.Mu.Lock()
	voided := f.Auths[a.Reference].Voided
	f.Mu.Unlock()
	if !voided {
		t.Fatal("the fake's authorisation is not released")
	}
	_, err = s.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "jpy", Credential: cred, Amount: money.Money{Amount: 5000, Currency: "JPY"}})
	if errs.CodeOf(err) != errs.UnknownCurrency {
		t.Fatalf("JPY on a USD price point: %v", err)
	}
	off := newSegpay(time.Now, &warnings{})
	if err := off.Configure(ctx, f.Settings(t, filepath.Join(t.TempDir(), "s.json"), map[string]any{"void_by_zero_capture": false})); err != nil {
		t.Fatal(err)
	}
	caps, _ := off.Capabilities(ctx)
	if caps.Void {
		t.Fatal("void declared with void_by_zero_capture=false")
	}
	if _, err := off.Void(ctx, processor.VoidRequest{IdempotencyKey: "k", AuthorizationReference: a.Reference}); errs.CodeOf(err) != errs.Unsupported {
		t.Fatalf("void when off: %v", err)
	}
}

func TestDeclinedFirstPurchase(t *testing.T) {
	f := newFakeSegpay(t)
	s := newTestPlugin(t, f, "")
	ctx := context.Background()
	price := usd(995)
	co, err := s.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "p1", CustomerRef: "v", ReturnURL: "/r", Purchase: &price})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ParseWebhook(ctx, f.Purchase(t, co.URL, cardApprove, false)); err != nil {
		t.Fatal(err)
	}
	_, err = s.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference})
	if errs.CodeOf(err) != errs.InsufficientFunds {
		t.Fatalf("CompleteCheckout after a declined purchase: %v", err)
	}
	if _, err := s.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "p2", ReturnURL: "/r"}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("checkout without a purchase: %v", err)
	}
}

func TestPostbacks(t *testing.T) {
	f := newFakeSegpay(t)
	s := newTestPlugin(t, f, "")
	ctx := context.Background()
	pb := func(from string, kv ...string) processor.WebhookRequest {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return processor.WebhookRequest{Method: http.MethodGet, RemoteAddr: from, Query: q}
	}
	cb := pb(segpayIP+":1", "trantype", "chargeback", "approved", "Yes", "purchaseid", "100", "tranid", "200", "relatedtranid", "150",
		"price", "19.99", "currencycode", "USD", "reason", "4837")
	res, err := s.ParseWebhook(ctx, cb)
	if err != nil {
		t.Fatal(err)
	}
	ev := res.Events[0]
	if ev.Type != processor.EventChargeback || ev.RelatedReference != "150" || ev.Amount != usd(1999) || ev.Reason != "4837" {
		t.Fatalf("chargeback %+v", ev)
	}
	// Segpay posts again until it gets a 2xx: the redelivery is accepted with
	// the same event id, for the host to drop (or record, if the first was lost).
	again, err := s.ParseWebhook(ctx, cb)
	if err != nil || len(again.Events) != 1 || again.Events[0].ID != ev.ID || string(again.Response.Body) != "OK" {
		t.Fatalf("redelivered chargeback: %+v, %v; want event id %q", again, err, ev.ID)
	}
	// The same macros POSTed as a form body.
	body := url.Values{"trantype": {"sale"}, "approved": {"Yes"}, "stage": {"Rebill"}, "purchaseid": {"100"}, "tranid": {"201"},
		"price": {"9.99"}, "currencycode": {"USD"}}
	res, err = s.ParseWebhook(ctx, processor.WebhookRequest{Method: http.MethodPost, RemoteAddr: segpayIP + ":1", Body: []byte(body.Encode())})
	if err != nil || res.Events[0].Type != processor.EventRebill {
		t.Fatalf("rebill %+v %v", res, err)
	}
	res, err = s.ParseWebhook(ctx, pb(segpayIP+":1", "action", "Cancel", "purchaseid", "100"))
	if err != nil || res.Events[0].Type != processor.EventCancel {
		t.Fatalf("member cancel %+v %v", res, err)
	}
	res, err = s.ParseWebhook(ctx, pb(segpayIP+":1", "action", "Inquiry", "purchaseid", "100"))
	if err != nil || len(res.Events) != 0 || string(res.Response.Body) != "OK" {
		t.Fatalf("inquiry %+v %v", res, err)
	}
	bad := []struct {
		name string
		req  processor.WebhookRequest
		code errs.Code
	}{
		{"forged source", pb("203.0.113.1:1", "trantype", "credit", "approved", "Yes", "tranid", "300", "relatedtranid", "1", "price", "1.00", "currencycode", "USD"), errs.Unauthenticated},
		{"no tranid", pb(segpayIP+":1", "trantype", "sale", "price", "1.00", "currencycode", "USD"), errs.Invalid},
		{"bad price", pb(segpayIP+":1", "trantype", "sale", "tranid", "302", "price", "1.001", "currencycode", "USD"), errs.Invalid},
		{"bad currency", pb(segpayIP+":1", "trantype", "sale", "tranid", "303", "price", "1.00", "currencycode", "XX"), errs.UnknownCurrency},
		{"refund without original", pb(segpayIP+":1", "trantype", "credit", "approved", "Yes", "tranid", "304", "price", "1.00", "currencycode", "USD"), errs.Invalid},
		{"nothing", pb(segpayIP + ":1"), errs.Invalid},
	}
	for _, b := range bad {
		if _, err := s.ParseWebhook(ctx, b.req); errs.CodeOf(err) != b.code {
			t.Errorf("%s: %v, want %s", b.name, err, b.code)
		}
	}
}

func TestConfigureRefusesBadSettings(t *testing.T) {
	f := newFakeSegpay(t)
	good := map[string]any{}
	if err := json.Unmarshal(f.Settings(t, filepath.Join(t.TempDir(), "s.json"), nil), &good); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key   string
		value any
	}{
		{"eticket_id", "109595"}, {"postpay_eticket_id", nil}, {"srs_user_id", nil}, {"srs_access_key", ""},
		{"allowed_ips", nil}, {"allowed_ips", []string{"nonsense"}}, {"currency", "JPY"}, {"max_hold_days", 0},
		{"postpay_url", "mailto:x"}, {"colour", "red"},
	} {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		if c.value == nil {
			delete(m, c.key)
		} else {
			m[c.key] = c.value
		}
		b, _ := json.Marshal(m)
		err := newSegpay(time.Now, &warnings{}).Configure(context.Background(), b)
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s=%v: %v, want errs.Invalid naming it", c.key, c.value, err)
		}
	}
}
