package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

// These tests drive the Sandbox in-process with a clock they control.

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestSandbox(t *testing.T) (*Sandbox, *fakeClock, string) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)}
	s := newSandbox(clock.now)
	stateFile := filepath.Join(t.TempDir(), "state.json")
	if err := s.Configure(context.Background(), settingsJSON(t, stateFile)); err != nil {
		t.Fatal(err)
	}
	return s, clock, stateFile
}

func TestConfigureRefusesBadSettings(t *testing.T) {
	for _, c := range []struct{ json, key string }{
		{`{"webhook_secret":"short"}`, "webhook_secret"},
		{`{}`, "webhook_secret"},
		{`{"webhook_secret":"camkit-sandbox-development-secret"}`, "published"},
		{`{"webhook_secret":"change-me"}`, "published"},
		{`{"state_file":"","webhook_secret":"0123456789abcdef0"}`, "state_file"},
		{`{"webhook_secret":"0123456789abcdef0","max_hold_days":0}`, "max_hold_days"},
		{`{"webhook_secret":"0123456789abcdef0","max_hold_days":31}`, "max_hold_days"},
		{`{"webhook_secret":"0123456789abcdef0","colour":"red"}`, "colour"},
	} {
		err := newSandbox(time.Now).Configure(context.Background(), []byte(c.json))
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), c.key) {
			t.Errorf("Configure(%s) = %v, want errs.Invalid naming %s", c.json, err, c.key)
		}
	}
	corrupt := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(corrupt, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := newSandbox(time.Now).Configure(context.Background(), []byte(`{"webhook_secret":"0123456789abcdef0","state_file":"`+corrupt+`"}`))
	if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("a corrupt state file gave %v", err)
	}
}

func TestCallsBeforeConfigureAreRetryable(t *testing.T) {
	s := newSandbox(time.Now)
	_, err := s.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "k", Credential: processor.StoredCredential{Token: "t"}, Amount: money.Money{Amount: 1, Currency: "USD"}})
	if errs.CodeOf(err) != errs.Unavailable || !errs.IsRetryable(err) {
		t.Fatalf("got %v", err)
	}
}

func webhookAt(t *testing.T, at time.Time, ev webhookEvent) processor.WebhookRequest {
	t.Helper()
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return processor.WebhookRequest{Method: http.MethodPost, Body: body,
		Headers: http.Header{signatureHeader: {signWebhook(testSecret, at, body)}}}
}

func TestWebhookRefusesForgedAndStaleSignatures(t *testing.T) {
	s, clock, _ := newTestSandbox(t)
	ctx := context.Background()
	ev := webhookEvent{ID: "evt_1", Type: "chargeback", Reference: "cb_1", RelatedReference: "sbx_ch_1",
		Amount: &money.Money{Amount: 1000, Currency: "USD"}, Reason: "10.4", OccurredAt: clock.t}

	stale := webhookAt(t, clock.t.Add(-5*time.Minute-time.Second), ev)
	if _, err := s.ParseWebhook(ctx, stale); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("a signature older than 5 minutes: %v", err)
	}
	future := webhookAt(t, clock.t.Add(6*time.Minute), ev)
	if _, err := s.ParseWebhook(ctx, future); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("a signature from the future: %v", err)
	}
	wrongKey := webhookAt(t, clock.t, ev)
	wrongKey.Headers.Set(signatureHeader, "t="+strings.Split(strings.TrimPrefix(wrongKey.Headers.Get(signatureHeader), "t="), ",")[0]+",s=00ff")
	if _, err := s.ParseWebhook(ctx, wrongKey); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("a wrong signature: %v", err)
	}

	res, err := s.ParseWebhook(ctx, webhookAt(t, clock.t.Add(-4*time.Minute), ev))
	if err != nil {
		t.Fatalf("a 4-minute-old signature: %v", err)
	}
	got := res.Events[0]
	if got.Type != processor.EventChargeback || got.RelatedReference != "sbx_ch_1" || got.Amount.Amount != 1000 || got.Reason != "10.4" {
		t.Fatalf("event %+v", got)
	}
	if res.Response.Status != 200 || string(res.Response.Body) != "OK" {
		t.Fatalf("response %+v", res.Response)
	}

	// An authentic redelivery of the same event is returned again with the
	// same id: the host, not the plugin, drops duplicates after recording the
	// first (see processor.Processor.ParseWebhook).
	clock.t = clock.t.Add(time.Minute)
	again, err := s.ParseWebhook(ctx, webhookAt(t, clock.t, ev))
	if err != nil || len(again.Events) != 1 || again.Events[0].ID != got.ID {
		t.Fatalf("a redelivery: %+v, %v", again, err)
	}
}

func TestWebhookRefusesMalformedEvents(t *testing.T) {
	s, clock, _ := newTestSandbox(t)
	for name, c := range map[string]struct {
		ev   webhookEvent
		code errs.Code
	}{
		"no id":          {webhookEvent{Type: "sale"}, errs.Invalid},
		"unknown type":   {webhookEvent{ID: "e1", Type: "payout"}, errs.Invalid},
		"bad currency":   {webhookEvent{ID: "e2", Type: "sale", Amount: &money.Money{Amount: 1, Currency: "ZZZ"}}, errs.UnknownCurrency},
		"not a decline":  {webhookEvent{ID: "e3", Type: "rebill", DeclineCode: "conflict"}, errs.Invalid},
		"failed rebill ": {webhookEvent{ID: "e4", Type: "rebill", DeclineCode: "insufficient_funds"}, ""},
	} {
		_, err := s.ParseWebhook(context.Background(), webhookAt(t, clock.t, c.ev))
		if errs.CodeOf(err) != c.code {
			t.Errorf("%s: got %v, want %q", name, err, c.code)
		}
	}
}

func TestCheckoutPage(t *testing.T) {
	s, clock, stateFile := newTestSandbox(t)
	ctx := context.Background()
	start := func(purchase *money.Money, desc string) processor.Checkout {
		t.Helper()
		co, err := s.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: uniq("co"), CustomerRef: "viewer/2",
			ReturnURL: "/account/return", CancelURL: "/account", Purchase: purchase, Description: desc})
		if err != nil {
			t.Fatal(err)
		}
		return co
	}
	post := func(ref, number, exp, cvc string) processor.HTTPResponse {
		t.Helper()
		form := url.Values{"ref": {ref}, "card_number": {number}, "exp": {exp}, "cvc": {cvc}}
		r, err := s.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: "/pay/sandbox/checkout", Body: []byte(form.Encode())})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	t.Run("form is escaped and framed safely", func(t *testing.T) {
		co := start(nil, `<script>alert(1)</script>`)
		page, _ := s.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodGet, Path: "/pay/sandbox/checkout", Query: url.Values{"ref": {co.Reference}}})
		if page.Status != 200 || strings.Contains(string(page.Body), "<script>") {
			t.Fatalf("page %d:\n%s", page.Status, page.Body)
		}
		if page.Headers.Get("Cache-Control") != "no-store" || !strings.Contains(page.Headers.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("headers %v", page.Headers)
		}
	})
	t.Run("bad input re-renders the form without the number", func(t *testing.T) {
		co := start(nil, "")
		for _, c := range [][3]string{{"4242424242424241", "12/40", "123"}, {"4242424242424242", "13/40", "123"}, {"4242424242424242", "04/30", "123"}, {"4242424242424242", "12/40", "12"}} {
			r := post(co.Reference, c[0], c[1], c[2])
			if r.Status != http.StatusUnprocessableEntity || strings.Contains(string(r.Body), c[0]) {
				t.Errorf("%v: %d, body echoes number: %v", c, r.Status, strings.Contains(string(r.Body), c[0]))
			}
		}
		if _, err := s.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference}); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("completing a checkout without a card: %v", err)
		}
	})
	t.Run("purchase is charged on the page", func(t *testing.T) {
		pack := money.Money{Amount: 1999, Currency: "USD"}
		co := start(&pack, "100 credits")
		r := post(co.Reference, "4242 4242 4242 4242", "12/40", "123")
		back, _ := url.Parse(r.Headers.Get("Location"))
		if r.Status != http.StatusSeeOther || back.Path != "/account/return" || back.Query().Get("status") != "approved" {
			t.Fatalf("%d to %s", r.Status, back)
		}
		res, err := s.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/2", Params: back.Query()})
		if err != nil || res.Charge == nil || res.Charge.Amount != pack || res.Credential.Brand != "visa" {
			t.Fatalf("CompleteCheckout = %+v, %v", res, err)
		}
		if again := post(co.Reference, "4242424242424242", "12/40", "123"); again.Status != http.StatusGone {
			t.Fatalf("posting a card twice: %d", again.Status)
		}
		if _, err := s.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/3"}); errs.CodeOf(err) != errs.Forbidden {
			t.Fatalf("another customer completing it: %v", err)
		}
		forged := url.Values{"token": {"sbx_tok_forged"}}
		if _, err := s.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, Params: forged}); errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("a forged token: %v", err)
		}
	})
	t.Run("declined purchase comes back typed", func(t *testing.T) {
		pack := money.Money{Amount: 500, Currency: "EUR"}
		co := start(&pack, "")
		r := post(co.Reference, "4000000000009995", "12/40", "123")
		back, _ := url.Parse(r.Headers.Get("Location"))
		if back.Query().Get("status") != "declined" {
			t.Fatalf("redirect %s", back)
		}
		if _, err := s.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference}); errs.CodeOf(err) != errs.InsufficientFunds {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("expired checkout", func(t *testing.T) {
		co := start(nil, "")
		clock.t = clock.t.Add(checkoutTTL)
		if r := post(co.Reference, "4242424242424242", "12/40", "123"); r.Status != http.StatusGone {
			t.Fatalf("%d", r.Status)
		}
	})
	t.Run("unknown routes", func(t *testing.T) {
		r, _ := s.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodGet, Path: "/pay/sandbox/../admin"})
		if r.Status != http.StatusNotFound {
			t.Fatalf("%d", r.Status)
		}
		r, _ = s.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodDelete, Path: "/pay/sandbox/checkout"})
		if r.Status != http.StatusMethodNotAllowed {
			t.Fatalf("%d", r.Status)
		}
	})
	b := stateOnDisk(t, stateFile)
	for n := range testCards {
		if strings.Contains(string(b), n) {
			t.Errorf("the state file holds the card number %s", n)
		}
	}
}

func TestRecurringCheckoutAndCancel(t *testing.T) {
	s, _, _ := newTestSandbox(t)
	ctx := context.Background()
	monthly := money.Money{Amount: 2999, Currency: "GBP"}
	startReq := func() processor.StartCheckoutRequest { // fresh pointers each time, as after a host restart
		m := monthly
		return processor.StartCheckoutRequest{IdempotencyKey: "sub/1", CustomerRef: "viewer/4", ReturnURL: "https://camkit.test/r",
			Purchase: &m, Recurring: &processor.RecurringTerms{Amount: monthly, PeriodDays: 30}}
	}
	co, err := s.StartCheckout(ctx, startReq())
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.StartCheckout(ctx, startReq()); err != nil || again.Reference != co.Reference {
		t.Fatalf("repeated StartCheckout = %+v, %v; first was %s", again, err, co.Reference)
	}
	form := url.Values{"ref": {co.Reference}, "card_number": {"4242424242424242"}, "exp": {"01/39"}, "cvc": {"999"}}
	if _, err := s.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: "/pay/sandbox/checkout", Body: []byte(form.Encode())}); err != nil {
		t.Fatal(err)
	}
	res, err := s.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference})
	if err != nil || res.SubscriptionReference == "" {
		t.Fatalf("%+v %v", res, err)
	}
	for i := 0; i < 2; i++ {
		if err := s.CancelRecurring(ctx, processor.CancelRecurringRequest{IdempotencyKey: "sub/1/cancel", SubscriptionReference: res.SubscriptionReference}); err != nil {
			t.Fatal(err)
		}
	}
	if !s.st.Subscriptions[res.SubscriptionReference].Cancelled {
		t.Fatal("subscription not cancelled")
	}
	err = s.CancelRecurring(ctx, processor.CancelRecurringRequest{IdempotencyKey: "sub/x/cancel", SubscriptionReference: "sbx_sub_nope"})
	if errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("cancelling an unknown subscription: %v", err)
	}
}

// stateOnDisk is everything the plugin wrote about its state: the snapshot
// (absent until the journal is first compacted) and the journal.
func stateOnDisk(t *testing.T, stateFile string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{stateFile, processorkit.JournalPath(stateFile)} {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if !bytes.Contains(all, []byte("sbx_tok_")) {
		t.Fatalf("no stored card token in %s or its journal: the state was not written", stateFile)
	}
	return all
}
