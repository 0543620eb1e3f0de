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

func TestConformance(t *testing.T) {
	f := newFakeSegpay(t)
	plugintest.Processor(t, pluginBinary, plugintest.ProcessorOptions{
		Settings: f.Settings(t, filepath.Join(t.TempDir(), "state.json"), nil),
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

func newTestPlugin(t *testing.T, f *fakeSegpay, stateFile string) *Segpay {
	t.Helper()
	s := newSegpay(time.Now)
	if stateFile == "" {
		stateFile = filepath.Join(t.TempDir(), "state.json")
	}
	if err := s.Configure(context.Background(), f.Settings(t, stateFile, nil)); err != nil {
		t.Fatal(err)
	}
	return s
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
// waits for Segpay's TransPost of the sale, which names it.
func TestLostOneClickAnswerSettlesByTransPost(t *testing.T) {
	f := newFakeSegpay(t)
	s := newTestPlugin(t, f, "")
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
	f.Mu.Lock()
	var tranid string
	for id, sale := range f.Sales {
		if sale.Key == "tip/42" {
			tranid = id
		}
	}
	oneclicks := f.Oneclicks
	f.Mu.Unlock()
	if tranid == "" || oneclicks != 1 {
		t.Fatalf("the fake booked %d one-click sales (%q)", oneclicks, tranid)
	}
	pb := processor.WebhookRequest{RemoteAddr: segpayIP + ":80", Query: url.Values{"trantype": {"sale"}, "approved": {"Yes"}, "stage": {"Initial"},
		"purchaseid": {cred.Token}, "tranid": {tranid}, "price": {"5.00"}, "currencycode": {"USD"}, "camkit_key": {"tip/42"}}}
	if _, err := s.ParseWebhook(ctx, pb); err != nil {
		t.Fatal(err)
	}
	res, err := s.Charge(ctx, req)
	if err != nil || res.Reference != tranid || res.Amount != usd(500) {
		t.Fatalf("retry after the postback: %+v %v", res, err)
	}
	f.Mu.Lock()
	oneclicks = f.Oneclicks
	f.Mu.Unlock()
	if oneclicks != 1 {
		t.Fatalf("%d one-click sales, want 1", oneclicks)
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
	off := newSegpay(time.Now)
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
		{"unknown trantype", pb(segpayIP+":1", "trantype", "gift", "tranid", "301", "price", "1.00", "currencycode", "USD"), errs.Invalid},
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
		err := newSegpay(time.Now).Configure(context.Background(), b)
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s=%v: %v, want errs.Invalid naming it", c.key, c.value, err)
		}
	}
}
