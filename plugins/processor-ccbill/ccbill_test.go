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

	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/processor"
)

// pluginBinary is built once for the package by TestMain.
var pluginBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "processor-ccbill-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginBinary = filepath.Join(dir, "processor-ccbill")
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

// tokenise goes through the card page the way a viewer does: the page is
// served, the widget (here: the fake) turns the card into a payment token in
// the browser, the token alone is posted back, and the host completes.
func tokenise(t *testing.T, p processor.Processor, f *fakeCCBill, card string) processor.StoredCredential {
	t.Helper()
	ctx := context.Background()
	co, err := p.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: uniq("tokenise"), CustomerRef: "viewer/1",
		ReturnURL: "https://camkit.test/account/cards/return?x=1"})
	if err != nil {
		t.Fatalf("StartCheckout: %v", err)
	}
	u, err := url.Parse(co.URL)
	if err != nil || co.Method != http.MethodGet || u.Path != "/pay/ccbill/checkout" {
		t.Fatalf("checkout %+v: want a GET of /pay/ccbill/checkout", co)
	}
	page, err := p.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodGet, Path: u.Path, Query: u.Query(), RemoteAddr: "198.51.100.7:5555"})
	if err != nil || page.Status != http.StatusOK {
		t.Fatalf("card page: %d %v\n%s", page.Status, err, page.Body)
	}
	body := string(page.Body)
	for _, want := range []string{`data-ccbill="cardNumber"`, `data-ccbill="cvv2"`, "ccbill-advanced-widget.js", `data-token="frontend-app-token-`, `value="198.51.100.7"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("card page lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, `name="card`) || strings.Contains(body, `name="cvv`) {
		t.Fatal("a card field has a name attribute: the browser would post it to camkit")
	}
	if csp := page.Headers.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'nonce-") {
		t.Fatalf("CSP %q", csp)
	}
	token := f.CreateToken(card)
	form := url.Values{"ref": {co.Reference}, "payment_token_id": {token}}
	resp, err := p.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: u.Path, Body: []byte(form.Encode()),
		Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	if err != nil || resp.Status != http.StatusSeeOther {
		t.Fatalf("posting the token: %d %v\n%s", resp.Status, err, resp.Body)
	}
	back, err := url.Parse(resp.Headers.Get("Location"))
	if err != nil || back.Host != "camkit.test" || back.Query().Get("checkout") != co.Reference || back.Query().Get("x") != "1" {
		t.Fatalf("redirect to %q: want the return URL with the checkout reference", resp.Headers.Get("Location"))
	}
	res, err := p.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/1", Params: back.Query()})
	if err != nil {
		t.Fatalf("CompleteCheckout: %v", err)
	}
	if res.Credential == nil || res.Credential.Token != token || res.Charge != nil {
		t.Fatalf("checkout result %+v, want credential %s and no charge", res, token)
	}
	return *res.Credential
}

// ccbillTime is a webhook timestamp as CCBill writes it (Arizona time).
func ccbillTime(t time.Time) string { return t.In(ccbillZone).Format("2006-01-02 15:04:05") }

func webhookJSON(t *testing.T, eventType, from string, fields map[string]any) processor.WebhookRequest {
	t.Helper()
	body, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/ccbill", Body: body, RemoteAddr: from,
		Query: url.Values{"eventType": {eventType}, "eventGroupType": {"Subscription"}}, Headers: http.Header{"Content-Type": {"application/json"}}}
}

func conformance(t *testing.T, currency string, amount int64) {
	f := newFakeCCBill(t)
	plugintest.Processor(t, pluginBinary, plugintest.ProcessorOptions{
		Settings: f.Settings(t, filepath.Join(t.TempDir(), "state.json"), nil),
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
			d, _ := money.FormatDecimal(money.Money{Amount: amount, Currency: currency})
			cur, _ := money.Lookup(currency)
			return webhookJSON(t, "Refund", "64.38.212.10:443", map[string]any{
				"subscriptionId": "925014201000000999", "transactionId": uniq("tx"), "amount": json.Number(d),
				"currencyCode": fmt.Sprint(cur.Numeric), "reason": "customer request", "timestamp": ccbillTime(time.Now())})
		},
	})
}

func TestConformanceUSD(t *testing.T) { conformance(t, "USD", 1000) }

// Zero-decimal currency: initialPrice goes out as "5000", not "50.00".
func TestConformanceJPY(t *testing.T) { conformance(t, "JPY", 5000) }
