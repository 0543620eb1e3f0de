package main

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

type fakeClock struct{ t time.Time }

// warnings records what the plugin logs at warn.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Warn(msg string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, fmt.Sprint(append([]any{msg}, args...)...))
}

func (w *warnings) count(substr string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, m := range w.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

func (c *fakeClock) now() time.Time { return c.t }

func newTestPlugin(t *testing.T, f *fakeNB) (*NETbilling, *fakeClock) {
	n, clock, _ := newLoggedPlugin(t, f)
	return n, clock
}

func newLoggedPlugin(t *testing.T, f *fakeNB) (*NETbilling, *fakeClock, *warnings) {
	t.Helper()
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	log := &warnings{}
	n := newNETbilling(clock.now, log)
	if err := n.Configure(context.Background(), settingsFor(t, f, filepath.Join(t.TempDir(), "state.json"))); err != nil {
		t.Fatal(err)
	}
	return n, clock, log
}

func TestConfigureRefusesBadSettings(t *testing.T) {
	base := `"account_id":"104901072025","site_tag":"CAMKIT","integrity_key":"0123456789"`
	for _, c := range []struct{ json, key string }{
		{`{"site_tag":"S","integrity_key":"0123456789"}`, "account_id"},
		{`{"account_id":"12ab","site_tag":"S","integrity_key":"0123456789"}`, "account_id"},
		{`{"account_id":"1","integrity_key":"0123456789"}`, "site_tag"},
		{`{"account_id":"1","site_tag":"S","integrity_key":"short"}`, "integrity_key"},
		{`{` + base + `,"direct_url":"http://secure.netbilling.com:1402/gw/sas/direct3.1"}`, "direct_url"},
		{`{` + base + `,"form_url":"::"}`, "form_url"},
		{`{` + base + `,"poll_url":"https://secure.netbilling.com/gw/native/poll1.0"}`, "poll_url"},
		{`{` + base + `,"card_check_amount":-1}`, "card_check_amount"},
		{`{` + base + `,"max_hold_days":0}`, "max_hold_days"},
		{`{` + base + `,"postback_max_age":"24h"}`, "postback_max_age"},
		{`{` + base + `,"postback_allowed_cidrs":["300.1.1.0/24"]}`, "postback_allowed_cidrs[0]"},
		{`{` + base + `,"currency":"EUR"}`, "currency"},
	} {
		err := newNETbilling(time.Now, nil).Configure(context.Background(), []byte(c.json))
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), c.key) {
			t.Errorf("Configure(%s) = %v, want errs.Invalid naming %s", c.json, err, c.key)
		}
	}
}

func TestWireAmounts(t *testing.T) {
	for minor, want := range map[int64]string{1: "0.01", 100: "1.00", 123456: "1234.56", math.MaxInt64: "92233720368547758.07"} {
		got, err := wireAmount(money.Money{Amount: minor, Currency: "USD"})
		if err != nil || got != want {
			t.Errorf("wireAmount(%d USD) = %q, %v; want %q", minor, got, err, want)
		}
	}
	if _, err := wireAmount(money.Money{Amount: 5000, Currency: "JPY"}); errs.CodeOf(err) != errs.UnknownCurrency {
		t.Errorf("JPY: %v", err)
	}
}

func TestLargeAmountReachesGatewayExactly(t *testing.T) {
	f := newFakeNB(t)
	n, _ := newTestPlugin(t, f)
	card := tokenise(t, n, f, cardApprove)
	big := money.Money{Amount: math.MaxInt64, Currency: "USD"}
	a, err := n.Authorize(context.Background(), processor.AuthorizeRequest{IdempotencyKey: "big", Credential: card, Amount: big})
	if err != nil || a.Amount != big {
		t.Fatalf("%+v, %v", a, err)
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if tx := f.Txns[a.Reference]; tx == nil || tx.Amount != math.MaxInt64 {
		t.Fatalf("the gateway holds %+v", tx)
	}
	if _, err := n.Authorize(context.Background(), processor.AuthorizeRequest{IdempotencyKey: "jpy", Credential: card, Amount: money.Money{Amount: 5000, Currency: "JPY"}}); errs.CodeOf(err) != errs.UnknownCurrency {
		t.Fatalf("a JPY hold: %v", err)
	}
}

func TestDeclineTexts(t *testing.T) {
	for msg, want := range map[string]errs.Code{
		"DECLINED": errs.Declined, "INSUFFICIENT FUNDS": errs.InsufficientFunds, "NSF": errs.InsufficientFunds,
		"CARD EXPIRED": errs.ExpiredCard, "BAD CVV2": errs.InvalidCard, "PICK UP CARD": errs.FraudSuspected,
		"A/DECLINED": errs.FraudSuspected, "L/DECLINED": errs.FraudSuspected, "DO NOT HONOR": errs.Declined,
	} {
		for _, status := range []string{"0", "F"} {
			err := directResponse{StatusCode: status, AuthMsg: msg}.err()
			if errs.CodeOf(err) != want || errs.IsRetryable(err) {
				t.Errorf("status %s %q: %v, want final %s", status, msg, err, want)
			}
		}
	}
	for _, ok := range []string{"1", "T"} {
		if err := (directResponse{StatusCode: ok}).err(); err != nil {
			t.Errorf("status %s: %v", ok, err)
		}
	}
	// Documented: every status code but 0 and F is a success.
	for _, other := range []string{"I", "D", "Z"} {
		if err := (directResponse{StatusCode: other}).err(); err != nil {
			t.Errorf("status %s: %v, want a success", other, err)
		}
	}
	if err := (directResponse{}).err(); !errs.IsRetryable(err) {
		t.Errorf("no status code: %v, want retryable (outcome unknown)", err)
	}
}

// resign recomputes the request hash of v after a test changed a hashed field.
func resign(f *fakeNB, v map[string][]string) map[string][]string {
	vals := make(map[string][]string, len(v))
	for k, x := range v {
		vals[k] = x
	}
	uv := urlValues(vals)
	uv.Set("Ecom_Ezic_Security_HashValue_MD5", f.HashOf(uv))
	return uv
}

func TestPostbackSourceAllowList(t *testing.T) {
	f := newFakeNB(t)
	clock := &fakeClock{t: time.Now().UTC()}
	n := newNETbilling(clock.now, nil)
	s := strings.TrimSuffix(string(settingsFor(t, f, filepath.Join(t.TempDir(), "s.json"))), "}") + `,"postback_allowed_cidrs":["198.51.100.0/24"]}`
	if err := n.Configure(context.Background(), []byte(s)); err != nil {
		t.Fatal(err)
	}
	req := postback(f.Postback("o1", "SALE", "1.00", clock.t))
	if _, err := n.ParseWebhook(context.Background(), req); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("from 127.0.0.1: %v", err)
	}
	req.RemoteAddr = "198.51.100.20:1402"
	if _, err := n.ParseWebhook(context.Background(), req); err != nil {
		t.Fatalf("from an allowed address: %v", err)
	}
}

func TestReturnRefusesForgedAnswers(t *testing.T) {
	f := newFakeNB(t)
	n, _ := newTestPlugin(t, f)
	ctx := context.Background()
	pack := money.Money{Amount: 999, Currency: "USD"}
	co, err := n.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "co", CustomerRef: "v", ReturnURL: "https://camkit.test/r", Purchase: &pack})
	if err != nil {
		t.Fatal(err)
	}
	back := f.Pay(co.Fields, cardApprove)
	back.Set("Ecom_Ezic_Response_StatusCode", "1") // the fake approves with T in test mode
	r, _ := n.ServeHTTP(ctx, processor.HTTPRequest{Method: "POST", Path: "/pay/netbilling/return", Body: []byte(back.Encode())})
	if r.Status != 400 {
		t.Fatalf("an altered answer: %d", r.Status)
	}
	if res, err := n.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference}); err != nil || !res.Pending {
		t.Fatalf("the altered answer completed the checkout: %+v, %v", res, err)
	}
	if _, err := n.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "co2", ReturnURL: "/relative"}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("a relative return URL: %v", err)
	}
	if _, err := n.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "co", CustomerRef: "v", ReturnURL: "https://camkit.test/other", Purchase: &pack}); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("a reused key: %v", err)
	}
}

func urlValues(m map[string][]string) url.Values { return url.Values(m) }
