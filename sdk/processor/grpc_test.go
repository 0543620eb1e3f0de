package processor_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/hashicorp/go-plugin"
)

// fake records the last request it got and answers with canned results, so a
// test can compare both ends of the gRPC boundary field by field.
type fake struct {
	got      any
	err      error
	settings []byte
	deadline time.Time // the deadline the plugin side saw
	block    bool      // wait for ctx to end before answering

	caps     processor.Capabilities
	checkout processor.Checkout
	complete processor.CheckoutResult
	auth     processor.Authorization
	capture  processor.CaptureResult
	void     processor.VoidResult
	charge   processor.ChargeResult
	refund   processor.RefundResult
	webhook  processor.WebhookResult
	http     processor.HTTPResponse
	report   processor.TransactionReport
}

var _ processor.Processor = (*fake)(nil)

func (f *fake) enter(ctx context.Context, req any) error {
	f.got = req
	f.deadline, _ = ctx.Deadline()
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return f.err
}

func (f *fake) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindProcessor, Name: "fake", Version: "1.2.3"}, nil
}
func (f *fake) Configure(_ context.Context, s []byte) error { f.settings = s; return f.err }
func (f *fake) Capabilities(ctx context.Context) (processor.Capabilities, error) {
	return f.caps, f.enter(ctx, nil)
}
func (f *fake) StartCheckout(ctx context.Context, r processor.StartCheckoutRequest) (processor.Checkout, error) {
	return f.checkout, f.enter(ctx, r)
}
func (f *fake) CompleteCheckout(ctx context.Context, r processor.CompleteCheckoutRequest) (processor.CheckoutResult, error) {
	return f.complete, f.enter(ctx, r)
}
func (f *fake) Authorize(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, error) {
	return f.auth, f.enter(ctx, r)
}
func (f *fake) Capture(ctx context.Context, r processor.CaptureRequest) (processor.CaptureResult, error) {
	return f.capture, f.enter(ctx, r)
}
func (f *fake) Void(ctx context.Context, r processor.VoidRequest) (processor.VoidResult, error) {
	return f.void, f.enter(ctx, r)
}
func (f *fake) Charge(ctx context.Context, r processor.ChargeRequest) (processor.ChargeResult, error) {
	return f.charge, f.enter(ctx, r)
}
func (f *fake) Refund(ctx context.Context, r processor.RefundRequest) (processor.RefundResult, error) {
	return f.refund, f.enter(ctx, r)
}
func (f *fake) CancelRecurring(ctx context.Context, r processor.CancelRecurringRequest) error {
	return f.enter(ctx, r)
}
func (f *fake) ParseWebhook(ctx context.Context, r processor.WebhookRequest) (processor.WebhookResult, error) {
	return f.webhook, f.enter(ctx, r)
}
func (f *fake) ServeHTTP(ctx context.Context, r processor.HTTPRequest) (processor.HTTPResponse, error) {
	return f.http, f.enter(ctx, r)
}
func (f *fake) Transactions(ctx context.Context, r processor.TransactionsRequest) (processor.TransactionReport, error) {
	return f.report, f.enter(ctx, r)
}

// connect serves f through the real Plugin type over a real gRPC connection
// and returns what the host's Dispense would return.
func connect(t *testing.T, f *fake) processor.Processor {
	t.Helper()
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
		string(pluginkit.KindProcessor): &processor.Plugin{Impl: f},
	})
	// Stop the server first: client.Close asks the plugin side to stop it too, and
	// go-plugin's GRPCServer.Stop is not safe to run twice concurrently.
	t.Cleanup(func() { server.Stop(); client.Close() })
	raw, err := client.Dispense(string(pluginkit.KindProcessor))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := raw.(processor.Processor)
	if !ok {
		t.Fatalf("Dispense returned %T, not a processor.Processor", raw)
	}
	return p
}

var (
	usd  = money.Money{Amount: 123456789012, Currency: "USD"}
	jpy  = money.Money{Amount: 5000, Currency: "JPY"}
	cred = processor.StoredCredential{Token: "tok_1", Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2031, CustomerRef: "viewer/7"}
	when = time.Date(2031, 3, 4, 5, 6, 7, 890, time.UTC)
)

func TestModuleServedBesideProcessor(t *testing.T) {
	f := &fake{}
	p := connect(t, f)
	info, err := p.Info(context.Background())
	if err != nil || info.Name != "fake" || info.Kind != pluginkit.KindProcessor || info.Version != "1.2.3" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if err := p.Configure(context.Background(), []byte(`{"k":"v"}`)); err != nil {
		t.Fatal(err)
	}
	if string(f.settings) != `{"k":"v"}` {
		t.Fatalf("plugin got settings %q", f.settings)
	}
}

// Every request and result crosses the boundary unchanged: money, optional
// pointers, times, maps of values.
func TestRoundTripKeepsEveryField(t *testing.T) {
	f := &fake{
		caps: processor.Capabilities{AuthCapture: true, PartialCapture: true, Void: true, Refund: true, PartialRefund: true,
			ChargeStoredCredential: true, HostedCheckoutRequired: true, NativeRecurring: true,
			WebhookAuth: processor.WebhookHMAC, Currencies: []string{"USD", "JPY"}, MaxHoldDays: 7},
		checkout: processor.Checkout{Reference: "co_1", URL: "https://pay.example/x", Method: http.MethodPost,
			Fields: map[string]string{"pi_code": "abc"}, ExpiresAt: when},
		complete: processor.CheckoutResult{Credential: &cred, SubscriptionReference: "sub_1",
			Charge: &processor.ChargeResult{Reference: "ch_0", Amount: jpy}},
		auth:    processor.Authorization{Reference: "au_1", Amount: usd, ExpiresAt: when},
		capture: processor.CaptureResult{Reference: "cp_1", Amount: money.Money{Amount: 1, Currency: "USD"}, Released: money.Money{Amount: 123456789011, Currency: "USD"}},
		void:    processor.VoidResult{Reference: "vd_1", Amount: usd},
		charge:  processor.ChargeResult{Reference: "ch_1", Amount: jpy, NewCredential: &processor.StoredCredential{Token: "tok_2"}},
		refund:  processor.RefundResult{Reference: "rf_1", Amount: jpy},
		webhook: processor.WebhookResult{
			Events: []processor.Event{{ID: "ev_1", Type: processor.EventChargeback, Reference: "cb_1", RelatedReference: "ch_1",
				SubscriptionReference: "sub_1", CheckoutReference: "co_1", CustomerRef: "viewer/7", Amount: usd,
				Credential: &cred, OccurredAt: when, DeclineCode: errs.Declined, Reason: "10.4"}},
			Response: processor.HTTPResponse{Status: 200, Headers: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("OK")},
		},
		report: processor.TransactionReport{Source: "fake report", Transactions: []processor.Transaction{
			{Reference: "ch_1", Kind: processor.TxSale, Amount: usd, OccurredAt: when},
			{Reference: "rf_1", Kind: processor.TxRefund, Amount: jpy, RelatedReference: "ch_1", OccurredAt: when}}},
		http: processor.HTTPResponse{Status: 303, Headers: http.Header{"Location": {"/back?a=1"}, "Set-Cookie": {"a=1", "b=2"}}},
	}
	p := connect(t, f)
	ctx := context.Background()
	hreq := processor.HTTPRequest{Method: "POST", Path: "/pay/fake/hook", Query: url.Values{"a": {"1", "2"}},
		Headers: http.Header{"X-Sig": {"t=1,s=ab"}}, Body: []byte{0, 1, 2, 255}, RemoteAddr: "64.38.212.1:443"}

	startReq := processor.StartCheckoutRequest{IdempotencyKey: "k", CustomerRef: "viewer/7", ReturnURL: "https://x/r",
		CancelURL: "https://x/c", Purchase: &jpy, Description: "pack", Locale: "de-DE",
		Recurring: &processor.RecurringTerms{Amount: usd, PeriodDays: 30}}
	completeReq := processor.CompleteCheckoutRequest{CheckoutReference: "co_1", CustomerRef: "viewer/7", Params: url.Values{"token": {"t"}}}
	authReq := processor.AuthorizeRequest{IdempotencyKey: "seat/1/auth/1", Credential: cred, Amount: usd, Description: "d"}
	captureReq := processor.CaptureRequest{IdempotencyKey: "seat/1/capture", AuthorizationReference: "au_1", Amount: jpy}
	voidReq := processor.VoidRequest{IdempotencyKey: "seat/1/void/1", AuthorizationReference: "au_1"}
	chargeReq := processor.ChargeRequest{IdempotencyKey: "seat/1/block/2", Credential: cred, Amount: jpy, Description: "d"}
	refundReq := processor.RefundRequest{IdempotencyKey: "r", Reference: "ch_1", Amount: jpy, Reason: "goodwill"}
	cancelReq := processor.CancelRecurringRequest{IdempotencyKey: "c", SubscriptionReference: "sub_1"}
	reportReq := processor.TransactionsRequest{From: when.Add(-time.Hour), To: when}

	cases := []struct {
		name     string
		req      any
		call     func() (any, error)
		wantResp any
	}{
		{"Capabilities", nil, func() (any, error) { return p.Capabilities(ctx) }, f.caps},
		{"StartCheckout", startReq, func() (any, error) { return p.StartCheckout(ctx, startReq) }, f.checkout},
		{"CompleteCheckout", completeReq, func() (any, error) { return p.CompleteCheckout(ctx, completeReq) }, f.complete},
		{"Authorize", authReq, func() (any, error) { return p.Authorize(ctx, authReq) }, f.auth},
		{"Capture", captureReq, func() (any, error) { return p.Capture(ctx, captureReq) }, f.capture},
		{"Void", voidReq, func() (any, error) { return p.Void(ctx, voidReq) }, f.void},
		{"Charge", chargeReq, func() (any, error) { return p.Charge(ctx, chargeReq) }, f.charge},
		{"Refund", refundReq, func() (any, error) { return p.Refund(ctx, refundReq) }, f.refund},
		{"CancelRecurring", cancelReq, func() (any, error) { return nil, p.CancelRecurring(ctx, cancelReq) }, nil},
		{"ParseWebhook", hreq, func() (any, error) { return p.ParseWebhook(ctx, hreq) }, f.webhook},
		{"ServeHTTP", hreq, func() (any, error) { return p.ServeHTTP(ctx, hreq) }, f.http},
		{"Transactions", reportReq, func() (any, error) { return p.Transactions(ctx, reportReq) }, f.report},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.got = "no call"
			got, err := c.call()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f.got, c.req) {
				t.Errorf("plugin got\n %#v\nwant\n %#v", f.got, c.req)
			}
			if !reflect.DeepEqual(got, c.wantResp) {
				t.Errorf("host got\n %#v\nwant\n %#v", got, c.wantResp)
			}
		})
	}
}

func TestTypedErrorsSurviveTheBoundary(t *testing.T) {
	for _, want := range []*errs.Error{
		errs.E(errs.InsufficientFunds, "card 0002: not enough"),
		errs.E(errs.Declined, "do not honour"),
		errs.E(errs.UnknownCurrency, "XTS"),
		errs.E(errs.Unauthenticated, "bad signature"),
		errs.Retry(errs.Unavailable, "processor down"),
	} {
		t.Run(string(want.Code), func(t *testing.T) {
			p := connect(t, &fake{err: want})
			_, err := p.Authorize(context.Background(), processor.AuthorizeRequest{IdempotencyKey: "k", Credential: cred, Amount: usd})
			var got *errs.Error
			if !errors.As(err, &got) {
				t.Fatalf("error %T %v is not an *errs.Error", err, err)
			}
			if *got != *want {
				t.Fatalf("got %#v, want %#v", got, want)
			}
			if errs.IsDecline(got) != errs.IsDecline(want) || errs.IsRetryable(got) != want.Retryable {
				t.Fatalf("decline/retry classification changed: %v", got)
			}
		})
	}
}

func TestDeadlinePropagates(t *testing.T) {
	f := &fake{}
	p := connect(t, f)
	deadline := time.Now().Add(30 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if _, err := p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "k", Credential: cred, Amount: usd}); err != nil {
		t.Fatal(err)
	}
	if f.deadline.IsZero() {
		t.Fatal("plugin saw no deadline")
	}
	if d := deadline.Sub(f.deadline); d < -time.Second || d > time.Second {
		t.Fatalf("plugin deadline %v differs from host deadline %v by %v", f.deadline, deadline, d)
	}

	// A plugin that outlives the deadline: the host gets a retryable Timeout.
	f.block = true
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_, err := p.Capture(ctx2, processor.CaptureRequest{IdempotencyKey: "k", AuthorizationReference: "a", Amount: usd})
	if errs.CodeOf(err) != errs.Timeout || !errs.IsRetryable(err) {
		t.Fatalf("got %v, want a retryable timeout", err)
	}
}
