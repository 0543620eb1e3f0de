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

	"github.com/camkit/camkit/plugins/processor-epoch/fakegw"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/processor"
)

var pluginBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "processor-epoch-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginBinary = filepath.Join(dir, "processor-epoch")
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

func settingsJSON(t *testing.T, stateFile string, extra map[string]any) []byte {
	t.Helper()
	m := map[string]any{"co_code": "abc123", "digest_key": fakegw.DigestKey, "state_file": stateFile, "price_points": []map[string]any{
		{"pi_code": "pack100", "amount": 999, "currency": "USD"},
		{"pi_code": "club30", "amount": 1999, "currency": "USD", "recurring_days": 30, "recurring_amount": 1499},
		{"pi_code": "packjpy", "amount": 1500, "currency": "JPY"},
	}}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fields(kv ...string) url.Values {
	f := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// postback builds what Epoch POSTs back, signed with the fake's key.
func postback(kv ...string) processor.WebhookRequest { return fakegw.Postback(fields(kv...)) }

// warnings records what the plugin logs for an operator.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Warn(msg string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, fmt.Sprint(append([]any{msg}, args...)...))
}

func (w *warnings) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.msgs, "\n")
}

func TestConformance(t *testing.T) {
	plugintest.Processor(t, pluginBinary, plugintest.ProcessorOptions{
		Settings: settingsJSON(t, filepath.Join(t.TempDir(), "state.json"), nil),
		Currency: "USD",
		Webhook: func(t *testing.T) processor.WebhookRequest {
			n := fmt.Sprint(time.Now().UnixNano()%1e12 + seq.Add(1))
			return postback("ets_transaction_id", n, "ets_member_idx", "5551", "ets_transaction_type", "C",
				"ets_transaction_amount", "-9.99", "ets_ref_trans_ids", "1000001", "ets_transaction_date", time.Now().UTC().Format("2006-01-02 15:04:05"))
		},
	})
}

func newTestPlugin(t *testing.T) *Epoch {
	t.Helper()
	e := newEpoch(time.Now, &warnings{})
	if err := e.Configure(context.Background(), settingsJSON(t, filepath.Join(t.TempDir(), "state.json"), nil)); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestCapabilitiesAreWalletOnly(t *testing.T) {
	e := newTestPlugin(t)
	caps, _ := e.Capabilities(context.Background())
	if caps.AuthCapture || caps.ChargeStoredCredential || caps.Void || caps.Refund || !caps.HostedCheckoutRequired ||
		caps.WebhookAuth != processor.WebhookHash || strings.Join(caps.Currencies, ",") != "JPY,USD" {
		t.Fatalf("capabilities %+v", caps)
	}
	_, err := e.Authorize(context.Background(), processor.AuthorizeRequest{IdempotencyKey: "k", Credential: processor.StoredCredential{Token: "1"}, Amount: money.Money{Amount: 1, Currency: "USD"}})
	if errs.CodeOf(err) != errs.Unsupported {
		t.Fatalf("Authorize: %v", err)
	}
	_, err = e.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "k", Credential: processor.StoredCredential{Token: "1"}, Amount: money.Money{Amount: 1, Currency: "USD"}})
	if errs.CodeOf(err) != errs.Unsupported {
		t.Fatalf("Charge: %v", err)
	}
}

func TestCreditPackPurchase(t *testing.T) {
	e := newTestPlugin(t)
	ctx := context.Background()
	price := money.Money{Amount: 999, Currency: "USD"}
	req := processor.StartCheckoutRequest{IdempotencyKey: "pack/1", CustomerRef: "viewer/4", ReturnURL: "https://camkit.test/credits/done", Purchase: &price}
	co, err := e.StartCheckout(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"co_code": "abc123", "pi_code": "pack100", "reseller": "a", "response_post": "Y", "x_camkit_ref": co.Reference, "x_camkit_customer": "viewer/4"}
	for k, v := range want {
		if co.Fields[k] != v {
			t.Errorf("field %s = %q, want %q", k, co.Fields[k], v)
		}
	}
	if co.Method != http.MethodPost || co.URL != "https://wnu.com/secure/fpost.cgi" || !strings.Contains(co.Fields["pi_returnurl"], "checkout="+co.Reference) {
		t.Fatalf("checkout %+v", co)
	}
	again, err := e.StartCheckout(ctx, req)
	if err != nil || again.Reference != co.Reference {
		t.Fatalf("repeat: %+v %v", again, err)
	}
	res, err := e.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, Params: url.Values{"ans": {"Y"}, "transaction_id": {"9"}}})
	if err != nil || !res.Pending {
		t.Fatalf("a return without a postback must stay pending: %+v %v", res, err)
	}
	hook := postback("ans", "YGOODTEST", "order_id", "70001", "transaction_id", "80001", "member_id", "5551", "pi_code", "pack100",
		"amount", "9.99", "x_camkit_ref", co.Reference, "x_camkit_customer", "viewer/4")
	wr, err := e.ParseWebhook(ctx, hook)
	if err != nil {
		t.Fatal(err)
	}
	ev := wr.Events[0]
	if ev.Type != processor.EventSale || ev.Reference != "80001" || ev.Amount != price || ev.CheckoutReference != co.Reference || string(wr.Response.Body) != "OK" {
		t.Fatalf("sale event %+v", ev)
	}
	res, err = e.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/4"})
	if err != nil || res.Pending || res.Charge == nil || res.Charge.Reference != "80001" || res.Charge.Amount != price || res.Credential.Token != "5551" {
		t.Fatalf("completed %+v %v", res, err)
	}
	// Epoch posts again until it gets a 2xx: the redelivery is accepted with
	// the same event id, for the host to drop (or record, if the first was lost).
	redelivered, err := e.ParseWebhook(ctx, hook)
	if err != nil || len(redelivered.Events) != 1 || redelivered.Events[0].ID != ev.ID {
		t.Fatalf("redelivered postback: %+v, %v; want event id %q", redelivered, err, ev.ID)
	}
	// DataPlus reports the same sale later: it is the same event.
	dp, err := e.ParseWebhook(ctx, postback("ets_transaction_id", "80001", "ets_transaction_type", "O", "ets_transaction_amount", "9.99",
		"ets_member_idx", "5551", "ets_pi_code", "pack100"))
	if err != nil || dp.Events[0].ID != ev.ID || dp.Events[0].Type != processor.EventSale {
		t.Fatalf("the DataPlus record of the sale: %+v, %v; want event id %q", dp, err, ev.ID)
	}
	other := money.Money{Amount: 1000, Currency: "USD"}
	if _, err := e.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "x", ReturnURL: "/r", Purchase: &other}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("no price point for 10.00: %v", err)
	}
	jpy := money.Money{Amount: 1500, Currency: "JPY"}
	cj, err := e.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "jpy", ReturnURL: "/r", Purchase: &jpy})
	if err != nil || cj.Fields["pi_code"] != "packjpy" {
		t.Fatalf("JPY pack: %+v %v", cj, err)
	}
	wr, err = e.ParseWebhook(ctx, postback("ans", "Y", "order_id", "70002", "transaction_id", "80002", "pi_code", "packjpy", "amount", "1500", "x_camkit_ref", cj.Reference))
	if err != nil || wr.Events[0].Amount != jpy {
		t.Fatalf("JPY sale %+v %v", wr, err)
	}
}

func TestMembershipAndDeclines(t *testing.T) {
	e := newTestPlugin(t)
	ctx := context.Background()
	price := money.Money{Amount: 1999, Currency: "USD"}
	co, err := e.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "club/1", ReturnURL: "/r", Purchase: &price,
		Recurring: &processor.RecurringTerms{Amount: money.Money{Amount: 1499, Currency: "USD"}, PeriodDays: 30}})
	if err != nil || co.Fields["pi_code"] != "club30" {
		t.Fatalf("membership checkout %+v %v", co, err)
	}
	wr, err := e.ParseWebhook(ctx, postback("ans", "NInsufficient funds", "order_id", "70003", "pi_code", "club30", "x_camkit_ref", co.Reference))
	if err != nil || wr.Events[0].DeclineCode != errs.InsufficientFunds {
		t.Fatalf("declined postback %+v %v", wr, err)
	}
	if _, err := e.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference}); errs.CodeOf(err) != errs.InsufficientFunds {
		t.Fatalf("CompleteCheckout after a decline: %v", err)
	}
}

func TestDataPlusEvents(t *testing.T) {
	e := newTestPlugin(t)
	ctx := context.Background()
	now := time.Now().UTC().Format("2006-01-02 15:04:05")
	cases := []struct {
		kind    string
		typ     processor.EventType
		amount  string
		related string
	}{
		{"N", processor.EventRebill, "14.99", ""},
		{"U", processor.EventRebill, "14.99", ""},
		{"C", processor.EventRefund, "-14.99", "90001"},
		{"D", processor.EventChargeback, "14.99", "90001,90000"},
		{"X", processor.EventVoid, "14.99", "90002"},
	}
	for i, c := range cases {
		wr, err := e.ParseWebhook(ctx, postback("ets_transaction_id", fmt.Sprint(91000+i), "ets_member_idx", "5551", "ets_transaction_type", c.kind,
			"ets_transaction_amount", c.amount, "ets_ref_trans_ids", c.related, "ets_transaction_date", now, "ets_pi_code", "club30", "ets_reason", "4837"))
		if err != nil {
			t.Fatalf("%s: %v", c.kind, err)
		}
		ev := wr.Events[0]
		if ev.Type != c.typ || ev.Amount != (money.Money{Amount: 1499, Currency: "USD"}) || ev.SubscriptionReference != "5551" || ev.ID != fmt.Sprintf("dp:%d", 91000+i) {
			t.Fatalf("%s: %+v", c.kind, ev)
		}
		if c.related != "" && ev.RelatedReference != strings.Split(c.related, ",")[0] {
			t.Fatalf("%s: related %q", c.kind, ev.RelatedReference)
		}
	}
	redelivered, err := e.ParseWebhook(ctx, postback("ets_transaction_id", "91000", "ets_member_idx", "5551", "ets_transaction_type", "N",
		"ets_transaction_amount", "14.99", "ets_transaction_date", now, "ets_pi_code", "club30"))
	if err != nil || redelivered.Events[0].ID != "dp:91000" {
		t.Fatalf("a redelivered DataPlus event: %+v, %v; want it accepted as dp:91000", redelivered, err)
	}
	forged := postback("ets_transaction_id", "92000", "ets_transaction_type", "N", "ets_transaction_amount", "1.00")
	forged.RemoteAddr = "198.51.100.1:1"
	if _, err := e.ParseWebhook(ctx, forged); errs.CodeOf(err) != errs.Unauthenticated {
		t.Errorf("a DataPlus push from off the allow-list: %v, want unauthenticated", err)
	}
}

// Authentic notices camkit cannot book are answered with Epoch's "OK" and
// logged, never refused: a refusal only makes Epoch post them again.
func TestAuthenticNoticesThatCannotBeBookedAreAcknowledgedAndLogged(t *testing.T) {
	log := &warnings{}
	e := newEpoch(time.Now, log)
	if err := e.Configure(context.Background(), settingsJSON(t, filepath.Join(t.TempDir(), "s.json"), nil)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		req  processor.WebhookRequest
		logs string
	}{
		"unknown DataPlus type Q":       {postback("ets_transaction_id", "92002", "ets_transaction_type", "Q", "ets_transaction_amount", "1.00"), "92002"},
		"type S, in no source":          {postback("ets_transaction_id", "92005", "ets_transaction_type", "S", "ets_transaction_amount", "9.99"), "92005"},
		"credit without original":       {postback("ets_transaction_id", "92003", "ets_transaction_type", "C", "ets_transaction_amount", "-1.00"), "92003"},
		"amount with 3 decimals":        {postback("ets_transaction_id", "92004", "ets_transaction_type", "N", "ets_transaction_amount", "1.234"), "92004"},
		"non-numeric id":                {postback("ets_transaction_id", "x1", "ets_transaction_type", "N", "ets_transaction_amount", "1.00"), "x1"},
		"unknown currency":              {postback("ets_transaction_id", "92006", "ets_transaction_type", "N", "ets_transaction_amount", "1.00", "ets_currency", "ZZZ"), "92006"},
		"ans neither Y nor N":           {postback("ans", "MAYBE", "order_id", "1", "pi_code", "pack100"), "MAYBE"},
		"approved, no tx id":            {postback("ans", "Y", "order_id", "70010", "pi_code", "pack100"), "70010"},
		"neither FlexPost nor DataPlus": {postback("foo", "bar"), "foo"},
		"a DataPlus cancellation":       {fakegw.Unsigned(fields("mcs_or_idx", "5551", "mcs_picode", "club30", "mcs_reason", "too expensive")), "5551"},
	} {
		res, err := e.ParseWebhook(context.Background(), c.req)
		if err != nil || len(res.Events) != 0 || res.Response.Status != 200 || string(res.Response.Body) != "OK" {
			t.Errorf("%s: %+v, %v; want 200 OK and no event", name, res, err)
		}
		if !strings.Contains(log.all(), c.logs) {
			t.Errorf("%s: the warnings %q do not mention %q", name, log.all(), c.logs)
		}
	}
	// A free trial moved no money: acknowledged, nothing booked.
	res, err := e.ParseWebhook(context.Background(), postback("ets_transaction_id", "92007", "ets_transaction_type", "F", "ets_transaction_amount", "0.00"))
	if err != nil || len(res.Events) != 0 || res.Response.Status != 200 {
		t.Errorf("free trial: %+v, %v", res, err)
	}
}

func TestConfigureRefusesBadSettings(t *testing.T) {
	for _, c := range []struct {
		extra map[string]any
		key   string
	}{
		{map[string]any{"co_code": ""}, "co_code"},
		{map[string]any{"digest_key": ""}, "digest_key"},
		{map[string]any{"digest_key": "short-key"}, "digest_key"},
		{map[string]any{"price_points": []any{}}, "price_points"},
		{map[string]any{"price_points": []map[string]any{{"pi_code": "a", "amount": 0, "currency": "USD"}}}, "amount"},
		{map[string]any{"price_points": []map[string]any{{"pi_code": "a", "amount": 1, "currency": "ZZZ"}}}, "currency"},
		{map[string]any{"price_points": []map[string]any{{"pi_code": "a", "amount": 1, "currency": "USD", "recurring_days": 30}}}, "recurring"},
		{map[string]any{"allowed_ips": []string{"x"}}, "allowed_ips"},
		{map[string]any{"fpost_url": "wnu.com"}, "fpost_url"},
		{map[string]any{"colour": "red"}, "colour"},
		{map[string]any{"dataplus_auth": "none"}, "dataplus_auth"},
		{map[string]any{"dataplus_auth": ""}, "dataplus_auth"},
	} {
		err := newEpoch(time.Now, &warnings{}).Configure(context.Background(), settingsJSON(t, filepath.Join(t.TempDir(), "s.json"), c.extra))
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%v: %v, want errs.Invalid naming %s", c.extra, err, c.key)
		}
	}
}

// The whole path through the fake Epoch: the viewer pays on the hosted page,
// the postback completes the checkout, and a credit and a chargeback pushed
// by DataPlus name the sale they reverse.
func TestHostedPurchaseThenCreditAndChargebackThroughFakeEpoch(t *testing.T) {
	f := fakegw.New(t)
	e := newEpoch(time.Now, &warnings{})
	settings, err := f.Settings(filepath.Join(t.TempDir(), "state.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Configure(ctx, settings); err != nil {
		t.Fatal(err)
	}
	pack := money.Money{Amount: 2999, Currency: "USD"}
	co, err := e.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "pack/9", CustomerRef: "v9", ReturnURL: "https://camkit.test/r", Purchase: &pack})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := f.Purchase(co, "4111111111111111")
	if err != nil {
		t.Fatal(err)
	}
	wr, err := e.ParseWebhook(ctx, pb)
	if err != nil || len(wr.Events) != 1 || wr.Events[0].Type != processor.EventSale || wr.Events[0].Amount != pack || wr.Events[0].CustomerRef != "v9" {
		t.Fatalf("postback: %+v %v", wr, err)
	}
	sale := wr.Events[0].Reference
	res, err := e.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "v9"})
	if err != nil || res.Charge == nil || res.Charge.Reference != sale {
		t.Fatalf("CompleteCheckout: %+v %v", res, err)
	}
	credit, err := f.CreditPostback(sale, money.Money{Amount: 1000, Currency: "USD"}, "customer request")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := f.ChargebackPostback(sale, money.Money{Amount: 1999, Currency: "USD"}, "4837")
	if err != nil {
		t.Fatal(err)
	}
	for want, req := range map[processor.EventType]processor.WebhookRequest{processor.EventRefund: credit, processor.EventChargeback: cb} {
		wr, err := e.ParseWebhook(ctx, req)
		if err != nil || len(wr.Events) != 1 || wr.Events[0].Type != want || wr.Events[0].RelatedReference != sale {
			t.Fatalf("%s: %+v %v", want, wr, err)
		}
	}
	if _, err := f.CreditPostback(sale, money.Money{Amount: 1, Currency: "USD"}, ""); err == nil {
		t.Fatal("the fake gave back more than the sale took")
	}
}
