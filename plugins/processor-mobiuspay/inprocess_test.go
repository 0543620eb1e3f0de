package main

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// These tests drive MobiusPay in-process with a clock they control.

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestPlugin(t *testing.T, f *fakeNMI, currencies ...string) (*MobiusPay, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	m := newMobiusPay(clock.now)
	if err := m.Configure(context.Background(), settingsFor(t, f, filepath.Join(t.TempDir(), "state.json"), currencies...)); err != nil {
		t.Fatal(err)
	}
	return m, clock
}

func TestConfigureRefusesBadSettings(t *testing.T) {
	base := `"security_key":"k","tokenization_key":"p","webhook_signing_key":"0123456789abcdef0"`
	for _, c := range []struct{ json, key string }{
		{`{"tokenization_key":"p","webhook_signing_key":"0123456789abcdef0"}`, "security_key"},
		{`{"security_key":"k","webhook_signing_key":"0123456789abcdef0"}`, "tokenization_key"},
		{`{"security_key":"k","tokenization_key":"p","webhook_signing_key":"short"}`, "webhook_signing_key"},
		{`{` + base + `,"api_url":"http://gateway.example/api/transact.php"}`, "api_url"},
		{`{` + base + `,"query_url":"not a url"}`, "query_url"},
		{`{` + base + `,"currencies":["USD","ZZZ"]}`, "currencies[1]"},
		{`{` + base + `,"currencies":[]}`, "currencies"},
		{`{` + base + `,"max_hold_days":31}`, "max_hold_days"},
		{`{` + base + `,"webhook_max_age":"5s"}`, "webhook_max_age"},
		{`{` + base + `,"webhook_allowed_cidrs":["10.0.0.0/33"]}`, "webhook_allowed_cidrs[0]"},
		{`{` + base + `,"colour":"red"}`, "colour"},
	} {
		err := newMobiusPay(time.Now).Configure(context.Background(), []byte(c.json))
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), c.key) {
			t.Errorf("Configure(%s) = %v, want errs.Invalid naming %s", c.json, err, c.key)
		}
	}
}

func TestWireAmounts(t *testing.T) {
	for _, c := range []struct {
		m    money.Money
		want string
	}{
		{money.Money{Amount: 1, Currency: "USD"}, "0.01"},
		{money.Money{Amount: 1234, Currency: "USD"}, "12.34"},
		{money.Money{Amount: 5000, Currency: "JPY"}, "5000"},
		{money.Money{Amount: 1005, Currency: "BHD"}, "1.005"},
		{money.Money{Amount: math.MaxInt64, Currency: "USD"}, "92233720368547758.07"},
		{money.Money{Amount: math.MaxInt64, Currency: "JPY"}, "9223372036854775807"},
	} {
		got, err := wireAmount(c.m)
		if err != nil || got != c.want {
			t.Errorf("wireAmount(%v) = %q, %v; want %q", c.m, got, err, c.want)
		}
		back, err := parseWireAmount(got, c.m.Currency)
		if err != nil || back != c.m {
			t.Errorf("parseWireAmount(%q) = %v, %v; want %v", got, back, err, c.m)
		}
	}
	if _, err := wireAmount(money.Money{Amount: 1, Currency: "ZZZ"}); errs.CodeOf(err) != errs.UnknownCurrency {
		t.Errorf("unknown currency: %v", err)
	}
}

// The largest amount a hold can carry goes to the gateway and back exactly.
func TestLargeAmountReachesGatewayExactly(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, _ := newTestPlugin(t, f)
	card := tokenise(t, m, f, cardApprove)
	big := money.Money{Amount: math.MaxInt64, Currency: "USD"}
	a, err := m.Authorize(context.Background(), processor.AuthorizeRequest{IdempotencyKey: "big", Credential: card, Amount: big})
	if err != nil || a.Amount != big {
		t.Fatalf("Authorize %v: %+v, %v", big, a, err)
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if tx := f.Txns[a.Reference]; tx == nil || tx.Amount != math.MaxInt64 {
		t.Fatalf("the gateway holds %+v", tx)
	}
}

func TestDeclineCodes(t *testing.T) {
	for code, want := range map[string]errs.Code{
		"200": errs.Declined, "201": errs.Declined, "202": errs.InsufficientFunds, "203": errs.InsufficientFunds,
		"223": errs.ExpiredCard, "225": errs.InvalidCard, "220": errs.InvalidCard, "252": errs.FraudSuspected,
		"253": errs.FraudSuspected, "264": errs.Declined,
	} {
		err := directResponse{Response: "2", ResponseCode: code, Text: "x"}.err()
		if errs.CodeOf(err) != want || errs.IsRetryable(err) {
			t.Errorf("response=2 code %s: %v, want final %s", code, err, want)
		}
	}
	for code, want := range map[string]errs.Code{"420": errs.Unavailable, "421": errs.Unavailable, "410": errs.Forbidden, "300": errs.Invalid, "461": errs.InvalidCard} {
		err := directResponse{Response: "3", ResponseCode: code, Text: "x"}.err()
		if errs.CodeOf(err) != want || errs.IsRetryable(err) != (want == errs.Unavailable) {
			t.Errorf("response=3 code %s: %v, want %s", code, err, want)
		}
	}
	if err := (directResponse{Response: "9"}).err(); !errs.IsRetryable(err) {
		t.Errorf("an unknown response is not retryable: %v", err)
	}
}

func webhookBytes(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWebhooksForgedMalformedAndRedelivered(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, clock := newTestPlugin(t, f)
	ctx := context.Background()
	body := txWebhook(t, "transaction.refund.success", "777", "12.50", "USD", clock.t.Add(-time.Hour), map[string]any{"original_transaction_id": "776"})

	forged := signedWebhook(body)
	forged.Headers.Set("Webhook-Signature", "t=abc,s="+signature("another-key-0123456789", "abc", body))
	noHeader := signedWebhook(body)
	noHeader.Headers.Del("Webhook-Signature")
	garbled := signedWebhook(body)
	garbled.Headers.Set("Webhook-Signature", "s=00")
	tampered := signedWebhook(body)
	tampered.Body = []byte(strings.Replace(string(body), "12.50", "99.50", 1))
	for name, req := range map[string]processor.WebhookRequest{"wrong key": forged, "no header": noHeader, "no nonce": garbled, "body changed": tampered} {
		if _, err := m.ParseWebhook(ctx, req); errs.CodeOf(err) != errs.Unauthenticated {
			t.Errorf("%s: %v, want unauthenticated", name, err)
		}
	}

	genuine := signedWebhook(body)
	res, err := m.ParseWebhook(ctx, genuine)
	if err != nil {
		t.Fatal(err)
	}
	var env webhookBody
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	ev := res.Events[0]
	if ev.Type != processor.EventRefund || ev.Reference != "777" || ev.RelatedReference != "776" ||
		ev.Amount != (money.Money{Amount: 1250, Currency: "USD"}) || ev.ID != env.EventID || !ev.OccurredAt.Equal(clock.t.Add(-time.Hour)) {
		t.Fatalf("event %+v, want NMI's event_id %q as its id", ev, env.EventID)
	}
	if res.Response.Status != http.StatusOK || string(res.Response.Body) != "OK" {
		t.Fatalf("response %+v", res.Response)
	}
	// An authentic redelivery (the same delivery again, or NMI re-signing
	// with a fresh nonce) is accepted with the same event id: the host drops
	// it if it recorded the first, and records it if it did not.
	for name, again := range map[string]processor.WebhookRequest{"same delivery": genuine, "re-signed": signedWebhook(body)} {
		res2, err := m.ParseWebhook(ctx, again)
		if err != nil {
			t.Fatalf("%s: a redelivery was refused: %v", name, err)
		}
		if len(res2.Events) != 1 || res2.Events[0].ID != ev.ID || res2.Response.Status != http.StatusOK {
			t.Fatalf("%s: redelivery = %+v, want the same event id %q", name, res2, ev.ID)
		}
	}

	// NMI redelivers after outages: a signed action dated days ago, or an
	// hour ahead (a clock off), is accepted, not refused as stale.
	for _, at := range []time.Time{clock.t.Add(-73 * time.Hour), clock.t.Add(-30 * 24 * time.Hour), clock.t.Add(time.Hour)} {
		old := txWebhook(t, "transaction.sale.success", "778", "1.00", "USD", at, nil)
		res, err := m.ParseWebhook(ctx, signedWebhook(old))
		if err != nil || len(res.Events) != 1 || !res.Events[0].OccurredAt.Equal(at.UTC()) {
			t.Errorf("an authentic delivery dated %s: %+v, %v; want it accepted", at, res, err)
		}
	}
	for name, c := range map[string]struct {
		body []byte
		code errs.Code
	}{
		"not json":     {[]byte(`{"event_id":`), errs.Invalid},
		"no event id":  {webhookBytes(t, map[string]any{"event_type": "transaction.sale.success", "event_body": map[string]any{}}), errs.Invalid},
		"no amount":    {webhookBytes(t, map[string]any{"event_id": "e9", "event_type": "transaction.sale.success", "event_body": map[string]any{"transaction_id": "1", "currency": "USD"}}), errs.Invalid},
		"no tx id":     {webhookBytes(t, map[string]any{"event_id": "e8", "event_type": "transaction.sale.success", "event_body": map[string]any{"currency": "USD", "action": map[string]any{"amount": "1.00"}}}), errs.Invalid},
		"bad amount":   {txWebhook(t, "transaction.sale.success", "779", "1.001", "USD", clock.t, nil), errs.Invalid},
		"float amount": {txWebhook(t, "transaction.sale.success", "779", "1e3", "USD", clock.t, nil), errs.Invalid},
		"negative":     {txWebhook(t, "transaction.refund.success", "779", "-1.00", "USD", clock.t, map[string]any{"original_transaction_id": "1"}), errs.Invalid},
		"bad currency": {txWebhook(t, "transaction.sale.success", "780", "1.00", "XXQ", clock.t, nil), errs.UnknownCurrency},
	} {
		if _, err := m.ParseWebhook(ctx, signedWebhook(c.body)); errs.CodeOf(err) != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
	// An unreadable date does not lose the event: it is dated on receipt.
	undated := webhookBytes(t, map[string]any{"event_id": "e10", "event_type": "transaction.sale.success", "event_body": map[string]any{"transaction_id": "1", "currency": "USD", "action": map[string]any{"amount": "1.00", "date": "yesterday"}}})
	if res, err := m.ParseWebhook(ctx, signedWebhook(undated)); err != nil || len(res.Events) != 1 || !res.Events[0].OccurredAt.Equal(clock.t) {
		t.Errorf("an undated sale: %+v, %v", res, err)
	}
}

func TestWebhookEvents(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, clock := newTestPlugin(t, f)
	ctx := context.Background()

	failed := txWebhook(t, "transaction.sale.failure", "801", "5.00", "USD", clock.t, map[string]any{"customer_vault_id": "42"})
	failed = []byte(strings.Replace(string(failed), `"response_code":"200"`, `"response_code":"202"`, 1))
	res, err := m.ParseWebhook(ctx, signedWebhook(failed))
	if err != nil || len(res.Events) != 1 || res.Events[0].DeclineCode != errs.InsufficientFunds || res.Events[0].Credential.Token != "42" ||
		res.Events[0].Credential.Brand != "visa" || res.Events[0].Credential.Last4 != "1111" {
		t.Fatalf("failed sale: %+v, %v", res, err)
	}
	capture := txWebhook(t, "transaction.capture.success", "802", "3.00", "USD", clock.t, nil)
	if res, err := m.ParseWebhook(ctx, signedWebhook(capture)); err != nil || res.Events[0].Type != processor.EventCapture || res.Events[0].RelatedReference != "802" {
		t.Fatalf("capture: %+v, %v", res, err)
	}
	cb := webhookBytes(t, map[string]any{"event_id": "cb-1", "event_type": "chargeback.batch.complete", "event_body": map[string]any{
		"chargebacks": []any{
			map[string]any{"id": "c1", "transaction_id": "700", "date": "20260101", "amount": "10.00", "reason_code": "10.4", "reason": "Other Fraud"},
			map[string]any{"id": "c2", "transaction_id": "701", "date": "2026-01-02", "amount": "0.99", "currency": "EUR", "reason_code": "4837"},
		}}})
	res, err = m.ParseWebhook(ctx, signedWebhook(cb))
	if err != nil || len(res.Events) != 2 {
		t.Fatalf("chargeback batch: %+v, %v", res, err)
	}
	c1, c2 := res.Events[0], res.Events[1]
	if c1.Type != processor.EventChargeback || c1.RelatedReference != "700" || c1.Amount != (money.Money{Amount: 1000, Currency: "USD"}) ||
		!strings.HasPrefix(c1.Reason, "10.4") || c1.ID != "cb-1:c1" || c1.OccurredAt.IsZero() {
		t.Fatalf("chargeback 1: %+v", c1)
	}
	if c2.Amount != (money.Money{Amount: 99, Currency: "EUR"}) || c2.Reason != "4837" || c2.ID != "cb-1:c2" {
		t.Fatalf("chargeback 2: %+v", c2)
	}
}

func TestWebhookSourceAllowList(t *testing.T) {
	f := newFakeNMI(t, "USD")
	clock := &fakeClock{t: time.Now().UTC()}
	m := newMobiusPay(clock.now)
	var cfg map[string]any
	if err := json.Unmarshal(settingsFor(t, f, filepath.Join(t.TempDir(), "s.json")), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["webhook_allowed_cidrs"] = []string{"198.51.100.0/24"}
	if err := m.Configure(context.Background(), webhookBytes(t, cfg)); err != nil {
		t.Fatal(err)
	}
	req := signedWebhook(txWebhook(t, "transaction.sale.success", "1", "1.00", "USD", clock.t, nil))
	if _, err := m.ParseWebhook(context.Background(), req); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("from 127.0.0.1: %v", err)
	}
	req.RemoteAddr = "198.51.100.7:443"
	if _, err := m.ParseWebhook(context.Background(), req); err != nil {
		t.Fatalf("from an allowed address: %v", err)
	}
}

// A capture that the plugin refuses locally never reaches the gateway.
func TestLocalChecksSendNothing(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, clock := newTestPlugin(t, f)
	ctx := context.Background()
	card := tokenise(t, m, f, cardApprove)
	a, err := m.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "h1", Credential: card, Amount: money.Money{Amount: 1000, Currency: "USD"}})
	if err != nil {
		t.Fatal(err)
	}
	sent := f.Requests("capture")
	if _, err := m.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "c-eur", AuthorizationReference: a.Reference, Amount: money.Money{Amount: 10, Currency: "EUR"}}); errs.CodeOf(err) != errs.UnknownCurrency {
		t.Errorf("capture in an undeclared currency: %v", err)
	}
	clock.t = clock.t.Add(8 * 24 * time.Hour)
	if _, err := m.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "c-late", AuthorizationReference: a.Reference, Amount: a.Amount}); errs.CodeOf(err) != errs.AuthExpired {
		t.Errorf("capture after max_hold_days: %v", err)
	}
	if got := f.Requests("capture"); got != sent {
		t.Fatalf("%d capture requests reached the gateway", got-sent)
	}
	if _, err := m.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pan", Credential: processor.StoredCredential{Token: "4111 1111 1111 1111"}, Amount: money.Money{Amount: 100, Currency: "USD"}}); errs.CodeOf(err) != errs.InvalidCard {
		t.Errorf("a card number as token: %v", err)
	}
}
