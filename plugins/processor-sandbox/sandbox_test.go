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
	"github.com/camkit/camkit/sdk/processorkit"
)

const testSecret = "test-webhook-secret-0123456789"

// pluginBinary is built once for the package by TestMain.
var pluginBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "processor-sandbox-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginBinary = filepath.Join(dir, "processor-sandbox")
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

func settingsJSON(t *testing.T, stateFile string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"state_file": stateFile, "webhook_secret": testSecret, "max_hold_days": 7})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var seq atomic.Int64

func uniq(prefix string) string {
	return fmt.Sprintf("%s/%d/%d", prefix, time.Now().UnixNano(), seq.Add(1))
}

// tokenise enters number on the plugin's hosted card page, through the same
// calls the host makes, and returns the stored credential.
func tokenise(t *testing.T, p processor.Processor, number string) processor.StoredCredential {
	t.Helper()
	ctx := context.Background()
	co, err := p.StartCheckout(ctx, processor.StartCheckoutRequest{
		IdempotencyKey: uniq("tokenise"), CustomerRef: "viewer/1", ReturnURL: "https://camkit.test/account/cards/return?x=1",
	})
	if err != nil {
		t.Fatalf("StartCheckout: %v", err)
	}
	u, err := url.Parse(co.URL)
	if err != nil || co.Method != http.MethodGet || u.Path != "/pay/sandbox/checkout" {
		t.Fatalf("checkout %+v: want a GET of /pay/sandbox/checkout", co)
	}
	page, err := p.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodGet, Path: u.Path, Query: u.Query()})
	if err != nil || page.Status != http.StatusOK || !strings.Contains(string(page.Body), `name="card_number"`) {
		t.Fatalf("card page: %d %v\n%s", page.Status, err, page.Body)
	}
	form := url.Values{"ref": {co.Reference}, "card_number": {number}, "exp": {"12/40"}, "cvc": {"123"}}
	resp, err := p.ServeHTTP(ctx, processor.HTTPRequest{
		Method: http.MethodPost, Path: u.Path, Body: []byte(form.Encode()),
		Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
	})
	if err != nil || resp.Status != http.StatusSeeOther {
		t.Fatalf("posting the card: %d %v\n%s", resp.Status, err, resp.Body)
	}
	back, err := url.Parse(resp.Headers.Get("Location"))
	if err != nil || back.Host != "camkit.test" || back.Query().Get("checkout") != co.Reference || back.Query().Get("x") != "1" {
		t.Fatalf("redirect to %q: want the return URL with the checkout reference", resp.Headers.Get("Location"))
	}
	if strings.Contains(back.String(), number) {
		t.Fatal("the redirect carries the card number")
	}
	res, err := p.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/1", Params: back.Query()})
	if err != nil {
		t.Fatalf("CompleteCheckout: %v", err)
	}
	c := res.Credential
	if c == nil || !strings.HasPrefix(c.Token, "sbx_tok_") || c.Last4 != number[len(number)-4:] || c.ExpMonth != 12 || c.ExpYear != 2040 {
		t.Fatalf("credential %+v for %s", c, number)
	}
	if back.Query().Get("token") != c.Token {
		t.Fatalf("redirect token %q, credential token %q", back.Query().Get("token"), c.Token)
	}
	return *c
}

func signedWebhook(t *testing.T, ev webhookEvent) processor.WebhookRequest {
	t.Helper()
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return processor.WebhookRequest{
		Method: http.MethodPost, Path: "/webhooks/sandbox", Body: body, RemoteAddr: "127.0.0.1:50000",
		Headers: http.Header{"Content-Type": {"application/json"}, signatureHeader: {signWebhook(testSecret, time.Now(), body)}},
	}
}

func TestConformance(t *testing.T) {
	stateFile := filepath.Join(t.TempDir(), "state.json")
	plugintest.Processor(t, pluginBinary, plugintest.ProcessorOptions{
		Settings: settingsJSON(t, stateFile),
		Currency: "USD",
		Amount:   1000,
		Credentials: func(t *testing.T, p processor.Processor) plugintest.TestCredentials {
			return plugintest.TestCredentials{
				Approve:      tokenise(t, p, "4242424242424242"),
				Decline:      tokenise(t, p, "4000000000000002"),
				Insufficient: tokenise(t, p, "4000000000009995"),
				Expired:      tokenise(t, p, "4000000000000069"),
				Unavailable:  tokenise(t, p, "4000000000000119"),
				Slow:         tokenise(t, p, "4000000000000259"),
			}
		},
		Webhook: func(t *testing.T) processor.WebhookRequest {
			return signedWebhook(t, webhookEvent{ID: uniq("evt"), Type: "refund", Reference: "sbx_rf_1", RelatedReference: "sbx_ch_1",
				Amount: &money.Money{Amount: 1000, Currency: "USD"}, OccurredAt: time.Now().UTC()})
		},
	})
	b := stateOnDisk(t, stateFile)
	for n := range testCards {
		if strings.Contains(string(b), n) {
			t.Errorf("the state file contains the card number %s", n)
		}
	}
}

// The conformance suite again, in a zero-decimal currency.
func TestConformanceJPY(t *testing.T) {
	plugintest.Processor(t, pluginBinary, plugintest.ProcessorOptions{
		Settings: settingsJSON(t, filepath.Join(t.TempDir(), "state.json")),
		Currency: "JPY",
		Amount:   5000,
		Credentials: func(t *testing.T, p processor.Processor) plugintest.TestCredentials {
			return plugintest.TestCredentials{
				Approve:      tokenise(t, p, "5555555555554444"),
				Decline:      tokenise(t, p, "4000000000000002"),
				Insufficient: tokenise(t, p, "4000000000009995"),
			}
		},
		Webhook: func(t *testing.T) processor.WebhookRequest {
			return signedWebhook(t, webhookEvent{ID: uniq("evt"), Type: "sale", Reference: "sbx_ch_2",
				Amount: &money.Money{Amount: 5000, Currency: "JPY"}, OccurredAt: time.Now().UTC()})
		},
	})
}

func start(t *testing.T, stateFile string) (processor.Processor, func()) {
	t.Helper()
	p, client := plugintest.LaunchProcessor(t, pluginBinary)
	if err := p.Configure(context.Background(), settingsJSON(t, stateFile)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return p, client.Kill
}

// A hold placed before the plugin process dies can be captured after it is
// started again on the same state file, and idempotency keys still hold.
func TestHoldSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	stateFile := filepath.Join(t.TempDir(), "state.json")
	p, kill := start(t, stateFile)
	cred := tokenise(t, p, "4242424242424242")
	amt := money.Money{Amount: 2500, Currency: "EUR"}
	authReq := processor.AuthorizeRequest{IdempotencyKey: "seat/1/auth/1", Credential: cred, Amount: amt}
	a, err := p.Authorize(ctx, authReq)
	if err != nil {
		t.Fatal(err)
	}
	kill()
	if _, err := p.Capabilities(ctx); errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("after kill the old client answered %v, want unavailable: the process is still up", err)
	}

	p2, _ := start(t, stateFile)
	again, err := p2.Authorize(ctx, authReq)
	if err != nil || again.Reference != a.Reference {
		t.Fatalf("repeat after restart = %+v, %v; first was %+v", again, err, a)
	}
	c, err := p2.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "seat/1/capture", AuthorizationReference: a.Reference, Amount: money.Money{Amount: 1800, Currency: "EUR"}})
	if err != nil {
		t.Fatalf("capture after restart: %v", err)
	}
	if c.Amount.Amount != 1800 || c.Released.Amount != 700 {
		t.Fatalf("capture after restart = %+v", c)
	}
	if _, err := p2.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "seat/2/block/1", Credential: cred, Amount: amt}); err != nil {
		t.Fatalf("the token stored before the restart no longer charges: %v", err)
	}
}

// A hold past max_hold_days cannot be captured (errs.AuthExpired) but can be voided.
func TestExpiredHoldAfterRestart(t *testing.T) {
	ctx := context.Background()
	stateFile := filepath.Join(t.TempDir(), "state.json")
	p, kill := start(t, stateFile)
	cred := tokenise(t, p, "4242424242424242")
	a, err := p.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "seat/9/auth/1", Credential: cred, Amount: money.Money{Amount: 900, Currency: "GBP"}})
	if err != nil {
		t.Fatal(err)
	}
	if max := time.Now().Add(7*24*time.Hour + time.Minute); a.ExpiresAt.After(max) || a.ExpiresAt.Before(max.Add(-time.Hour)) {
		t.Fatalf("hold expires at %v, want 7 days from now", a.ExpiresAt)
	}
	kill()

	// Eight days pass while the plugin is down: the hold's expiry is moved
	// back through the plugin's own journal.
	var mu sync.Mutex
	store, err := processorkit.OpenStore(stateFile, newState, &mu, processorkit.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	store.State().Holds[a.Reference].ExpiresAt = time.Now().Add(-24 * time.Hour)
	store.Touch(tHolds, a.Reference)
	tk, err := store.Stage()
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	p2, _ := start(t, stateFile)
	_, err = p2.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "seat/9/capture", AuthorizationReference: a.Reference, Amount: money.Money{Amount: 900, Currency: "GBP"}})
	if errs.CodeOf(err) != errs.AuthExpired {
		t.Fatalf("capture of an expired hold: %v, want %s", err, errs.AuthExpired)
	}
	if _, err := p2.Void(ctx, processor.VoidRequest{IdempotencyKey: "seat/9/void", AuthorizationReference: a.Reference}); err != nil {
		t.Fatalf("void of an expired hold: %v", err)
	}
}
