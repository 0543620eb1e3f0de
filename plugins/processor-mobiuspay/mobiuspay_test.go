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
	"github.com/camkit/camkit/sdk/processorkit"
)

const testSigningKey = "test-webhook-signing-key-0123456789"

// pluginBinary is built once for the package by TestMain.
var pluginBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "processor-mobiuspay-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginBinary = filepath.Join(dir, "processor-mobiuspay")
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

func settingsFor(t *testing.T, f *fakeNMI, stateFile string, currencies ...string) []byte {
	t.Helper()
	if len(currencies) == 0 {
		currencies = []string{"USD"}
	}
	b, err := json.Marshal(map[string]any{
		"security_key": f.Key, "tokenization_key": "test-public-key", "webhook_signing_key": testSigningKey,
		"api_url": f.URL("/api/transact.php"), "query_url": f.URL("/api/query.php"), "collectjs_url": f.URL("/token/Collect.js"),
		"currencies": currencies, "state_file": stateFile, "max_hold_days": 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// settled retries fn while the plugin still finishes the abandoned first
// attempt (the host gave up at its deadline; the plugin's request is being
// cancelled): that answer is retryable and a host retries it with backoff.
func settled[T any](t *testing.T, fn func() (T, error)) (T, error) {
	t.Helper()
	for i := 0; ; i++ {
		out, err := fn()
		if err == nil || !strings.Contains(err.Error(), "still in flight") || i == 50 {
			return out, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var seq atomic.Int64

func uniq(prefix string) string {
	return fmt.Sprintf("%s/%d/%d", prefix, time.Now().UnixNano(), seq.Add(1))
}

// tokenise goes through the checkout as a viewer would: the plugin's page
// loads Collect.js, the card goes to the (fake) gateway, the page posts the
// payment token back, and the host completes the checkout.
func tokenise(t *testing.T, p processor.Processor, f *fakeNMI, number string) processor.StoredCredential {
	t.Helper()
	ctx := context.Background()
	co, err := p.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: uniq("tokenise"), CustomerRef: "viewer/1",
		ReturnURL: "https://camkit.test/account/cards/return?x=1"})
	if err != nil {
		t.Fatalf("StartCheckout: %v", err)
	}
	u, err := url.Parse(co.URL)
	if err != nil || co.Method != http.MethodGet || u.Path != "/pay/mobiuspay/checkout" {
		t.Fatalf("checkout %+v: want a GET of /pay/mobiuspay/checkout", co)
	}
	page, err := p.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodGet, Path: u.Path, Query: u.Query()})
	body := string(page.Body)
	if err != nil || page.Status != http.StatusOK || !strings.Contains(body, f.URL("/token/Collect.js")) || !strings.Contains(body, `data-tokenization-key="test-public-key"`) {
		t.Fatalf("card page: %d %v\n%s", page.Status, err, body)
	}
	if strings.Contains(body, `name="ccnumber"`) || strings.Contains(body, `name="card_number"`) {
		t.Fatal("the card page has its own card number input: the number would pass through camkit")
	}
	token := f.Tokenize(number, "1240") // what Collect.js does in the browser
	form := url.Values{"ref": {co.Reference}, "payment_token": {token}}
	resp, err := p.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: u.Path, Body: []byte(form.Encode()),
		Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	if err != nil || resp.Status != http.StatusSeeOther {
		t.Fatalf("posting the token: %d %v\n%s", resp.Status, err, resp.Body)
	}
	back, err := url.Parse(resp.Headers.Get("Location"))
	if err != nil || back.Host != "camkit.test" || back.Query().Get("checkout") != co.Reference || back.Query().Get("x") != "1" {
		t.Fatalf("redirect to %q", resp.Headers.Get("Location"))
	}
	res, err := p.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/1", Params: back.Query()})
	if err != nil {
		t.Fatalf("CompleteCheckout: %v", err)
	}
	c := res.Credential
	if c == nil || c.Token == "" || c.Last4 != number[len(number)-4:] || c.ExpMonth != 12 || c.ExpYear != 2040 {
		t.Fatalf("credential %+v for %s", c, number)
	}
	return *c
}

// signedWebhook signs body as NMI does: t is a fresh nonce.
func signedWebhook(body []byte) processor.WebhookRequest {
	nonce := processorkit.NewRef("")
	return processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/mobiuspay", Body: body, RemoteAddr: "127.0.0.1:40000",
		Headers: http.Header{"Content-Type": {"application/json"}, "Webhook-Signature": {"t=" + nonce + ",s=" + signature(testSigningKey, nonce, body)}}}
}

// txWebhook is an NMI transaction event in the documented shape (NMI's
// webhook sample): the transaction's fields directly under event_body,
// card{} and action{}, the action dated 2006-01-02T15:04:05.
func txWebhook(t *testing.T, eventType, txID string, amount, currency string, at time.Time, extra map[string]any) []byte {
	t.Helper()
	success, code := "1", "100"
	if strings.HasSuffix(eventType, ".failure") {
		success, code = "0", "200"
	}
	body := map[string]any{"merchant": map[string]any{"id": "840984", "name": "test"}, "features": map[string]any{"is_test_mode": true},
		"transaction_id": txID, "transaction_type": "cc", "condition": "pendingsettlement", "currency": currency, "order_id": "ck1",
		"card": map[string]any{"cc_number": "411111******1111", "cc_exp": "1229", "cc_bin": "411111", "cc_type": "Visa"},
		"action": map[string]any{"amount": amount, "action_type": strings.Split(eventType, ".")[1], "date": at.UTC().Format("2006-01-02T15:04:05"),
			"success": success, "response_text": "SUCCESS", "response_code": code}}
	for k, v := range extra {
		body[k] = v
	}
	b, err := json.Marshal(map[string]any{"event_id": uniq("evt"), "event_type": eventType, "event_body": body})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func conformance(t *testing.T, currency string, amount int64, currencies ...string) *fakeNMI {
	f := newFakeNMI(t, currencies...)
	stateFile := filepath.Join(t.TempDir(), "state.json")
	plugintest.Processor(t, pluginBinary, plugintest.ProcessorOptions{
		Settings: settingsFor(t, f, stateFile, currencies...),
		Currency: currency,
		Amount:   amount,
		Credentials: func(t *testing.T, p processor.Processor) plugintest.TestCredentials {
			return plugintest.TestCredentials{
				Approve:      tokenise(t, p, f, cardApprove),
				Decline:      tokenise(t, p, f, cardDecline),
				Insufficient: tokenise(t, p, f, cardInsufficient),
				Expired:      tokenise(t, p, f, cardExpired),
				Unavailable:  tokenise(t, p, f, cardUnavailable),
				Slow:         tokenise(t, p, f, cardSlow),
			}
		},
		Webhook: func(t *testing.T) processor.WebhookRequest {
			return signedWebhook(txWebhook(t, "transaction.refund.success", "555", "10.00", currency, time.Now(), map[string]any{"original_transaction_id": "554"}))
		},
	})
	b, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{cardApprove, cardDecline, cardInsufficient, cardExpired, cardUnavailable, cardSlow} {
		if strings.Contains(string(b), n) {
			t.Errorf("the state file contains the card number %s", n)
		}
	}
	return f
}

func TestConformance(t *testing.T) {
	f := conformance(t, "USD", 1000, "USD", "EUR")
	// Every amount the plugin sent was a two-decimal string.
	for _, r := range f.Log {
		if a := r.Get("amount"); a != "" && (len(a) < 4 || a[len(a)-3] != '.') {
			t.Errorf("amount %q sent for USD is not x.xx", a)
		}
	}
}

// The suite again in a zero-decimal currency: amounts go out without a point.
func TestConformanceJPY(t *testing.T) {
	f := conformance(t, "JPY", 5000, "JPY", "USD")
	sent := 0
	for _, r := range f.Log {
		if a := r.Get("amount"); a != "" {
			sent++
			if strings.Contains(a, ".") {
				t.Errorf("amount %q sent for JPY has decimals", a)
			}
		}
	}
	if sent == 0 {
		t.Fatal("no amounts were sent")
	}
}

func start(t *testing.T, f *fakeNMI, stateFile string, currencies ...string) processor.Processor {
	t.Helper()
	p, _ := plugintest.LaunchProcessor(t, pluginBinary)
	if err := p.Configure(context.Background(), settingsFor(t, f, stateFile, currencies...)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return p
}

// NMI accepts a capture and answers after the host's deadline: the retry
// under the same key finds the capture with query.php and returns it; the
// gateway saw one capture request.
func TestCaptureTimeoutAfterAcceptIsNotRepeated(t *testing.T) {
	f := newFakeNMI(t, "USD")
	p := start(t, f, filepath.Join(t.TempDir(), "state.json"))
	card := tokenise(t, p, f, cardApprove)
	a, err := p.Authorize(context.Background(), processor.AuthorizeRequest{IdempotencyKey: "seat/1/auth/1", Credential: card, Amount: money.Money{Amount: 2500, Currency: "USD"}})
	if err != nil {
		t.Fatal(err)
	}
	f.Set(func() { f.Late["capture"] = 3 * time.Second })
	req := processor.CaptureRequest{IdempotencyKey: "seat/1/capture", AuthorizationReference: a.Reference, Amount: money.Money{Amount: 1800, Currency: "USD"}}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = p.Capture(ctx, req)
	cancel()
	if errs.CodeOf(err) != errs.Timeout || !errs.IsRetryable(err) {
		t.Fatalf("capture past the deadline: %v, want a retryable timeout", err)
	}
	if f.Count("capture") != 1 {
		t.Fatalf("the fake applied %d captures before answering late, want 1", f.Count("capture"))
	}
	f.Set(func() { delete(f.Late, "capture") })
	c, err := settled(t, func() (processor.CaptureResult, error) { return p.Capture(context.Background(), req) })
	if err != nil {
		t.Fatalf("retry of the capture: %v", err)
	}
	if c.Reference != a.Reference || c.Amount.Amount != 1800 || c.Released.Amount != 700 {
		t.Fatalf("retry returned %+v", c)
	}
	again, err := p.Capture(context.Background(), req)
	if err != nil || again != c {
		t.Fatalf("a third try returned %+v, %v; want %+v", again, err, c)
	}
	if n, sent := f.Count("capture"), f.Requests("capture"); n != 1 || sent != 1 {
		t.Fatalf("captures applied %d, capture requests sent %d: want 1 and 1", n, sent)
	}
}

// The same for an authorisation: the retry finds it by orderid.
func TestAuthorizeTimeoutAfterAcceptIsNotRepeated(t *testing.T) {
	f := newFakeNMI(t, "USD")
	p := start(t, f, filepath.Join(t.TempDir(), "state.json"))
	card := tokenise(t, p, f, cardApprove)
	f.Set(func() { f.Late["auth"] = 3 * time.Second })
	req := processor.AuthorizeRequest{IdempotencyKey: "seat/2/auth/1", Credential: card, Amount: money.Money{Amount: 500, Currency: "USD"}}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := p.Authorize(ctx, req)
	cancel()
	if !errs.IsRetryable(err) {
		t.Fatalf("auth past the deadline: %v", err)
	}
	f.Set(func() { delete(f.Late, "auth") })
	a, err := settled(t, func() (processor.Authorization, error) { return p.Authorize(context.Background(), req) })
	if err != nil || a.Amount.Amount != 500 {
		t.Fatalf("retry: %+v, %v", a, err)
	}
	if n := f.Count("auth"); n != 1 {
		t.Fatalf("%d auths at the gateway, want 1", n)
	}
	if _, err := p.Capture(context.Background(), processor.CaptureRequest{IdempotencyKey: "seat/2/capture", AuthorizationReference: a.Reference, Amount: a.Amount}); err != nil {
		t.Fatalf("the hold found by lookup cannot be captured: %v", err)
	}
}

// A 5xx leaves the outcome unknown: the retry looks the order up, finds
// nothing and sends again, once.
func TestGatewayErrorThenRetry(t *testing.T) {
	f := newFakeNMI(t, "USD")
	p := start(t, f, filepath.Join(t.TempDir(), "state.json"))
	card := tokenise(t, p, f, cardApprove)
	f.Set(func() { f.Fail5xx = 1 })
	req := processor.ChargeRequest{IdempotencyKey: "wallet/7/pack", Credential: card, Amount: money.Money{Amount: 1999, Currency: "USD"}}
	if _, err := p.Charge(context.Background(), req); errs.CodeOf(err) != errs.Unavailable || !errs.IsRetryable(err) {
		t.Fatalf("charge during a 502: %v", err)
	}
	c, err := p.Charge(context.Background(), req)
	if err != nil || c.Amount.Amount != 1999 {
		t.Fatalf("retry: %+v, %v", c, err)
	}
	if f.Count("sale") != 1 {
		t.Fatalf("%d sales", f.Count("sale"))
	}
}

func TestPurchaseAtCheckout(t *testing.T) {
	f := newFakeNMI(t, "USD")
	p := start(t, f, filepath.Join(t.TempDir(), "state.json"))
	ctx := context.Background()
	pack := money.Money{Amount: 2999, Currency: "USD"}
	co, err := p.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "co/1", CustomerRef: "viewer/9", ReturnURL: "/account/return", Purchase: &pack, Description: "300 credits"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "co/1", CustomerRef: "viewer/9", ReturnURL: "/account/return", Purchase: &pack, Description: "300 credits"})
	if err != nil || again.Reference != co.Reference {
		t.Fatalf("repeated StartCheckout: %+v, %v", again, err)
	}
	form := url.Values{"ref": {co.Reference}, "payment_token": {f.Tokenize(cardApproveMC, "0131")}}
	resp, err := p.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: "/pay/mobiuspay/checkout", Body: []byte(form.Encode())})
	if err != nil || resp.Status != http.StatusSeeOther || !strings.Contains(resp.Headers.Get("Location"), "status=approved") {
		t.Fatalf("%d %v %v", resp.Status, err, resp.Headers)
	}
	res, err := p.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/9"})
	if err != nil || res.Charge == nil || res.Charge.Amount != pack || res.Credential.Last4 != "1111" || res.Credential.Brand != "mastercard" {
		t.Fatalf("CompleteCheckout = %+v, %v", res, err)
	}
	if _, err := p.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/10"}); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("another viewer completing it: %v", err)
	}
	if twice, _ := p.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: "/pay/mobiuspay/checkout", Body: []byte(form.Encode())}); twice.Status != http.StatusGone {
		t.Fatalf("a second post: %d", twice.Status)
	}
	if f.Count("sale") != 1 {
		t.Fatalf("%d sales", f.Count("sale"))
	}

	declined, err := p.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "co/2", CustomerRef: "viewer/9", ReturnURL: "/account/return", Purchase: &pack})
	if err != nil {
		t.Fatal(err)
	}
	form = url.Values{"ref": {declined.Reference}, "payment_token": {f.Tokenize(cardInsufficient, "0131")}}
	resp, _ = p.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: "/pay/mobiuspay/checkout", Body: []byte(form.Encode())})
	if !strings.Contains(resp.Headers.Get("Location"), "status=declined") {
		t.Fatalf("declined purchase redirect %v", resp.Headers)
	}
	if _, err := p.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: declined.Reference, CustomerRef: "viewer/9"}); errs.CodeOf(err) != errs.InsufficientFunds {
		t.Fatalf("completing a declined purchase: %v", err)
	}
}
