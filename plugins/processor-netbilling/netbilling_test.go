package main

import (
	"context"
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
	dir, err := os.MkdirTemp("", "processor-netbilling-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginBinary = filepath.Join(dir, "processor-netbilling")
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

func settingsFor(t *testing.T, f *fakeNB, stateFile string) []byte {
	t.Helper()
	b, err := f.Settings(stateFile, nil)
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

// tokenise stores a card as a viewer does: camkit auto-posts the form to
// NETbilling's hosted page, the card is typed there, NETbilling posts the
// viewer back to /pay/netbilling/return, and the host completes the checkout.
func tokenise(t *testing.T, p processor.Processor, f *fakeNB, card string) processor.StoredCredential {
	t.Helper()
	ctx := context.Background()
	co, err := p.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: uniq("tokenise"), CustomerRef: "viewer/1",
		ReturnURL: "https://camkit.test/account/cards/return?x=1"})
	if err != nil {
		t.Fatalf("StartCheckout: %v", err)
	}
	if co.Method != http.MethodPost || co.URL != f.URL("/gw/native/interactive2.2") ||
		co.Fields["Ecom_Ezic_Fulfillment_ReturnURL"] != "https://camkit.test/pay/netbilling/return" || co.Fields["Ecom_Ezic_Payment_AuthorizationType"] != "AUTH" {
		t.Fatalf("checkout %+v", co)
	}
	back := f.Pay(co.Fields, card)
	resp, err := p.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: "/pay/netbilling/return", Body: []byte(back.Encode()),
		Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	if err != nil || resp.Status != http.StatusSeeOther {
		t.Fatalf("return: %d %v\n%s", resp.Status, err, resp.Body)
	}
	loc, err := url.Parse(resp.Headers.Get("Location"))
	if err != nil || loc.Host != "camkit.test" || loc.Query().Get("checkout") != co.Reference || loc.Query().Get("x") != "1" || loc.Query().Get("status") != "approved" {
		t.Fatalf("redirect to %q", resp.Headers.Get("Location"))
	}
	res, err := p.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/1", Params: loc.Query()})
	if err != nil || res.Credential == nil || res.Credential.Token != "CS:"+back.Get("Ecom_Ezic_Response_TransactionID") || res.Charge != nil {
		t.Fatalf("CompleteCheckout = %+v, %v", res, err)
	}
	return *res.Credential
}

func postback(v url.Values) processor.WebhookRequest {
	return processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/netbilling", Body: []byte(v.Encode()), RemoteAddr: "127.0.0.1:40000",
		Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}
}

func TestConformance(t *testing.T) {
	f := newFakeNB(t)
	stateFile := filepath.Join(t.TempDir(), "state.json")
	var launched processor.Processor // the suite's plugin, seen by Credentials
	plugintest.Processor(t, pluginBinary, plugintest.ProcessorOptions{
		Settings: settingsFor(t, f, stateFile),
		Currency: "USD",
		Amount:   1000,
		Credentials: func(t *testing.T, p processor.Processor) plugintest.TestCredentials {
			launched = p
			return plugintest.TestCredentials{
				Approve:      tokenise(t, p, f, cardApprove),
				Decline:      tokenise(t, p, f, cardDecline),
				Insufficient: tokenise(t, p, f, cardInsufficient),
				Expired:      tokenise(t, p, f, cardExpired),
				Unavailable:  tokenise(t, p, f, cardUnavailable),
				Slow:         tokenise(t, p, f, cardSlow),
			}
		},
		// Postbacks give events only for the plugin's own checkouts: the
		// suite's webhook is NETbilling's answer to a purchase it started.
		Webhook: func(t *testing.T) processor.WebhookRequest {
			if launched == nil {
				t.Fatal("the suite asked for a webhook before the credentials")
			}
			pack := money.Money{Amount: 1999, Currency: "USD"}
			co, err := launched.StartCheckout(context.Background(), processor.StartCheckoutRequest{IdempotencyKey: uniq("suite-co"), CustomerRef: "viewer/suite",
				ReturnURL: "https://camkit.test/return", Purchase: &pack})
			if err != nil {
				t.Fatalf("StartCheckout: %v", err)
			}
			return postback(f.Pay(co.Fields, cardApprove))
		},
	})
	// Every card check was voided, so no viewer keeps a $1 hold.
	f.Mu.Lock()
	defer f.Mu.Unlock()
	checks := 0
	for _, tx := range f.Txns {
		if tx.Type == "A" && tx.Amount == 100 && tx.Orig == "" {
			checks++
			if !tx.Voided && tx.Card != cardUnavailable && tx.Card != cardSlow {
				t.Errorf("card check %s on %s was not voided", tx.ID, tx.Card)
			}
		}
	}
	if checks < 4 {
		t.Fatalf("%d card checks seen", checks)
	}
	for _, r := range f.Log {
		if a := r.Get("amount"); a != "" && (len(a) < 4 || a[len(a)-3] != '.') {
			t.Errorf("amount %q is not dollars with two decimals", a)
		}
	}
}

func start(t *testing.T, f *fakeNB) processor.Processor {
	t.Helper()
	p, _ := plugintest.LaunchProcessor(t, pluginBinary)
	if err := p.Configure(context.Background(), settingsFor(t, f, filepath.Join(t.TempDir(), "state.json"))); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return p
}

// A 6xx (invalid input) is a final refusal that moved nothing.
func TestInvalidInputIsFinal(t *testing.T) {
	f := newFakeNB(t)
	p := start(t, f)
	_, err := p.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "k1", Credential: processor.StoredCredential{Token: "CS:999"}, Amount: money.Money{Amount: 100, Currency: "USD"}})
	if errs.CodeOf(err) != errs.Invalid || errs.IsRetryable(err) || !strings.Contains(err.Error(), "no such stored card") || !strings.Contains(err.Error(), "605") {
		t.Fatalf("charge of an unknown stored card: %v", err)
	}
}

func TestPurchaseAtCheckoutAndPostback(t *testing.T) {
	f := newFakeNB(t)
	p := start(t, f)
	ctx := context.Background()
	pack := money.Money{Amount: 2999, Currency: "USD"}
	co, err := p.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "co/1", CustomerRef: "viewer/9", ReturnURL: "https://camkit.test/account/return", CancelURL: "/account", Purchase: &pack, Description: "300 credits"})
	if err != nil {
		t.Fatal(err)
	}
	if co.Fields["Ecom_Cost_Total"] != "29.99" || co.Fields["Ecom_Ezic_Payment_AuthorizationType"] != "SALE" || co.Fields["Ecom_Ezic_Fulfillment_GiveUpURL"] != "https://camkit.test/account" {
		t.Fatalf("form fields %v", co.Fields)
	}
	if res, err := p.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/9"}); err != nil || !res.Pending {
		t.Fatalf("before any answer: %+v, %v", res, err)
	}
	// The viewer closes the tab: only NETbilling's postback arrives.
	back := f.Pay(co.Fields, cardApprove)
	res, err := p.ParseWebhook(ctx, postback(back))
	if err != nil || len(res.Events) != 1 {
		t.Fatalf("postback: %+v, %v", res, err)
	}
	ev := res.Events[0]
	id := back.Get("Ecom_Ezic_Response_TransactionID")
	if ev.Type != processor.EventSale || ev.Reference != id || ev.CheckoutReference != co.Reference || ev.Amount != pack || ev.CustomerRef != "viewer/9" || ev.Credential.Token != "CS:"+id {
		t.Fatalf("event %+v", ev)
	}
	if res.Response.Status != 200 || string(res.Response.Body) != "OK" {
		t.Fatalf("response %+v", res.Response)
	}
	done, err := p.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/9"})
	if err != nil || done.Charge == nil || done.Charge.Reference != id || done.Charge.Amount != pack {
		t.Fatalf("CompleteCheckout after the postback: %+v, %v", done, err)
	}
	// The viewer's late return is still welcome and changes nothing.
	r, _ := p.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: "/pay/netbilling/return", Body: []byte(back.Encode())})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("late return: %d %s", r.Status, r.Body)
	}
	if _, err := p.Refund(ctx, processor.RefundRequest{IdempotencyKey: "rf", Reference: id, Amount: money.Money{Amount: 999, Currency: "USD"}}); err != nil {
		t.Fatalf("refund of the checkout's sale: %v", err)
	}

	declined, err := p.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "co/2", CustomerRef: "viewer/9", ReturnURL: "https://camkit.test/account/return", Purchase: &pack})
	if err != nil {
		t.Fatal(err)
	}
	r, _ = p.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: "/pay/netbilling/return", Body: []byte(f.Pay(declined.Fields, cardFormDecline).Encode())})
	if !strings.Contains(r.Headers.Get("Location"), "status=declined") {
		t.Fatalf("declined return: %d %v", r.Status, r.Headers)
	}
	if _, err := p.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: declined.Reference, CustomerRef: "viewer/9"}); errs.CodeOf(err) != errs.Declined {
		t.Fatalf("completing a declined checkout: %v", err)
	}
}
