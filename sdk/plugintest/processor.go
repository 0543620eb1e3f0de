package plugintest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/hashicorp/go-plugin"
)

// ProcessorOptions tune the processor conformance suite to one plugin.
type ProcessorOptions struct {
	// Settings are passed to Configure (JSON); nil means "{}".
	Settings []byte
	// Credentials returns the test credentials of the processor's test mode.
	// It is called once, after Configure, with the launched plugin, so it may
	// tokenise test cards through the plugin's own checkout. Required when the
	// plugin declares auth_capture or charge_stored_credential.
	Credentials func(t *testing.T, p processor.Processor) TestCredentials
	// Webhook returns a notification the plugin must accept: correctly signed
	// and from an allowed address. The suite forges variants of it, which must
	// be refused, before it sends the real one. Each call must build a fresh
	// event (its own id). Required unless webhook_auth is "none".
	Webhook func(t *testing.T) processor.WebhookRequest
	// Currency of the test amounts; default the first declared currency.
	Currency string
	// Amount in minor units of the holds and charges; default 1000. Must be at least 10.
	Amount int64
}

// TestCredentials are stored credentials with known outcomes in test mode.
type TestCredentials struct {
	Approve      processor.StoredCredential // approves every amount
	Decline      processor.StoredCredential // errs.Declined
	Insufficient processor.StoredCredential // errs.InsufficientFunds
	// Optional ones: a zero value (empty Token) leaves their subtest out.
	Expired     processor.StoredCredential // errs.ExpiredCard
	Unavailable processor.StoredCredential // retryable errs.Unavailable, nothing moved
	Slow        processor.StoredCredential // answers late; a short deadline gives a retryable errs.Timeout
}

// LaunchProcessor starts a processor plugin binary (see Launch) and returns
// the host's client to it and the go-plugin client.
func LaunchProcessor(t testing.TB, binaryPath string) (processor.Processor, *plugin.Client) {
	t.Helper()
	raw, client := Launch(t, binaryPath, pluginkit.KindProcessor, &processor.Plugin{})
	p, ok := raw.(processor.Processor)
	if !ok {
		t.Fatalf("%s dispensed %T, not a processor.Processor", binaryPath, raw)
	}
	return p, client
}

// Processor runs the processor conformance suite against the plugin binary at
// binaryPath, limited to the capabilities the plugin declares; every
// capability it does not declare must answer errs.Unsupported.
func Processor(t *testing.T, binaryPath string, opts ProcessorOptions) {
	t.Helper()
	p, _ := LaunchProcessor(t, binaryPath)
	ctx := context.Background()
	if opts.Settings == nil {
		opts.Settings = []byte("{}")
	}
	info, err := p.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Kind != pluginkit.KindProcessor || info.Name == "" {
		t.Fatalf("Info = %+v: want kind %q and a name", info, pluginkit.KindProcessor)
	}
	if err := p.Configure(ctx, opts.Settings); err != nil {
		t.Fatalf("Configure(%s): %v", opts.Settings, err)
	}
	caps, err := p.Capabilities(ctx)
	if err != nil {
		t.Fatalf("Capabilities: %v", err)
	}
	s := &processorSuite{p: p, caps: caps, opts: opts, prefix: fmt.Sprintf("plugintest/%d", time.Now().UnixNano())}

	if !t.Run("capabilities are coherent", s.capabilities) {
		t.FailNow() // the rest relies on currencies and flags being sane
	}
	if s.opts.Currency == "" {
		s.opts.Currency = caps.Currencies[0]
	}
	if s.opts.Amount == 0 {
		s.opts.Amount = 1000
	}
	if s.opts.Amount < 10 {
		t.Fatalf("ProcessorOptions.Amount %d is below 10 minor units", s.opts.Amount)
	}
	if caps.AuthCapture || caps.ChargeStoredCredential {
		if opts.Credentials == nil {
			t.Fatal("the plugin moves money with stored credentials: ProcessorOptions.Credentials is required")
		}
		s.creds = opts.Credentials(t, p)
		if s.creds.Approve.Token == "" || s.creds.Decline.Token == "" || s.creds.Insufficient.Token == "" {
			t.Fatal("Credentials must return Approve, Decline and Insufficient credentials")
		}
	}

	t.Run("capabilities can fund a seat", s.funding) // funding.go
	t.Run("undeclared capabilities answer unsupported", s.unsupported)
	s.runIf(t, caps.AuthCapture, "capability auth_capture", "authorise then capture in full", s.fullCapture)
	s.runIf(t, caps.PartialCapture, "capability partial_capture", "partial capture releases the remainder", s.partialCapture)
	s.runIf(t, caps.AuthCapture, "capability auth_capture", "capture above the hold fails and leaves the hold", s.overCapture)
	s.runIf(t, caps.Void, "capability void", "void releases the hold", s.void)
	s.runIf(t, caps.ChargeStoredCredential, "capability charge_stored_credential", "charge a stored credential", s.charge)
	s.runIf(t, caps.Refund, "capability refund", "full refund", s.fullRefund)
	s.runIf(t, caps.PartialRefund, "capability partial_refund", "partial refunds up to the total", s.partialRefund)
	movesMoney, movesNeed := caps.AuthCapture || caps.ChargeStoredCredential, "capability auth_capture or charge_stored_credential"
	s.runIf(t, movesMoney, movesNeed, "repeated idempotency key returns the first result", s.idempotency)
	s.runIf(t, movesMoney, movesNeed, "declines are typed", s.declines)
	s.runIf(t, movesMoney, movesNeed, "unknown currency is refused", s.unknownCurrency)
	s.runIf(t, movesMoney, movesNeed, "zero and negative amounts are invalid", s.nonPositive)
	s.runIf(t, movesMoney && s.creds.Unavailable.Token != "", "TestCredentials.Unavailable", "processor unavailable is retryable", s.unavailable)
	s.runIf(t, movesMoney && s.creds.Slow.Token != "", "TestCredentials.Slow", "deadline is respected", s.deadline)
	s.runIf(t, caps.WebhookAuth != processor.WebhookNone, "webhook_auth other than none", "forged webhooks are unauthenticated", s.webhooks)
}

type processorSuite struct {
	p      processor.Processor
	caps   processor.Capabilities
	opts   ProcessorOptions
	creds  TestCredentials
	prefix string // makes idempotency keys unique per run: the plugin may keep them across runs
	seq    atomic.Int64
}

// runIf runs the subtest when the plugin declares what it needs, and
// otherwise says in the test log what it lacks.
func (s *processorSuite) runIf(t *testing.T, declared bool, need, name string, f func(*testing.T)) {
	t.Helper()
	if !declared {
		t.Logf("not run: %q: needs %s", name, need)
		return
	}
	t.Run(name, f)
}

func (s *processorSuite) key(step string) string {
	return fmt.Sprintf("%s/%s/%d", s.prefix, step, s.seq.Add(1))
}

func (s *processorSuite) amount(minor int64) money.Money {
	return money.Money{Amount: minor, Currency: s.opts.Currency}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails unless err is an *errs.Error with the code.
func wantCode(t *testing.T, what string, err error, code errs.Code) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: got %v (%T), want errs.%s", what, err, err, code)
	}
	if e.Code != code {
		t.Fatalf("%s: got %v, want code %q", what, e, code)
	}
}

// wantFinal fails unless err is a non-retryable *errs.Error.
func wantFinal(t *testing.T, what string, err error) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: got %v (%T), want a final *errs.Error", what, err, err)
	}
	if e.Retryable {
		t.Fatalf("%s: got retryable %v, want a final error", what, e)
	}
}

func wantMoney(t *testing.T, what string, got, want money.Money) {
	t.Helper()
	if got != want {
		t.Fatalf("%s moved %s, want %s", what, got, want)
	}
}

func (s *processorSuite) capabilities(t *testing.T) {
	c := s.caps
	if len(c.Currencies) == 0 {
		t.Fatal("no currencies declared")
	}
	for _, cur := range c.Currencies {
		if _, err := money.Lookup(cur); err != nil {
			t.Errorf("declared currency %q is not ISO 4217", cur)
		}
	}
	if s.opts.Currency != "" && !c.Accepts(s.opts.Currency) {
		t.Errorf("ProcessorOptions.Currency %s is not among the declared %v", s.opts.Currency, c.Currencies)
	}
	switch c.WebhookAuth {
	case processor.WebhookHMAC, processor.WebhookHash, processor.WebhookIPAllowlist, processor.WebhookNone:
	default:
		t.Errorf("webhook_auth %q is none of hmac, hash, ip_allowlist, none", c.WebhookAuth)
	}
	if c.AuthCapture && c.MaxHoldDays <= 0 {
		t.Errorf("auth_capture declared with max_hold_days %d", c.MaxHoldDays)
	}
	if c.PartialCapture && !c.AuthCapture {
		t.Error("partial_capture declared without auth_capture")
	}
	if c.Void && !c.AuthCapture {
		t.Error("void declared without auth_capture")
	}
	if c.PartialRefund && !c.Refund {
		t.Error("partial_refund declared without refund")
	}
}

func (s *processorSuite) unsupported(t *testing.T) {
	ctx := ctxT(t)
	cred := s.creds.Approve
	if cred.Token == "" {
		cred = processor.StoredCredential{Token: "plugintest-none"}
	}
	amt := s.amount(s.opts.Amount)
	checked := 0
	if !s.caps.AuthCapture {
		checked++
		_, err := s.p.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: s.key("unsupported-auth"), Credential: cred, Amount: amt})
		wantCode(t, "Authorize without auth_capture", err, errs.Unsupported)
		_, err = s.p.Capture(ctx, processor.CaptureRequest{IdempotencyKey: s.key("unsupported-capture"), AuthorizationReference: "x", Amount: amt})
		wantCode(t, "Capture without auth_capture", err, errs.Unsupported)
	}
	if !s.caps.Void {
		checked++
		_, err := s.p.Void(ctx, processor.VoidRequest{IdempotencyKey: s.key("unsupported-void"), AuthorizationReference: "x"})
		wantCode(t, "Void without void", err, errs.Unsupported)
	}
	if !s.caps.ChargeStoredCredential {
		checked++
		_, err := s.p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: s.key("unsupported-charge"), Credential: cred, Amount: amt})
		wantCode(t, "Charge without charge_stored_credential", err, errs.Unsupported)
	}
	if !s.caps.Refund {
		checked++
		_, err := s.p.Refund(ctx, processor.RefundRequest{IdempotencyKey: s.key("unsupported-refund"), Reference: "x", Amount: amt})
		wantCode(t, "Refund without refund", err, errs.Unsupported)
	}
	if !s.caps.NativeRecurring {
		checked++
		err := s.p.CancelRecurring(ctx, processor.CancelRecurringRequest{IdempotencyKey: s.key("unsupported-cancel"), SubscriptionReference: "x"})
		wantCode(t, "CancelRecurring without native_recurring", err, errs.Unsupported)
	}
	t.Logf("%d undeclared capabilities checked", checked)
}

// authorize holds minor units on the approving credential and checks the result.
func (s *processorSuite) authorize(t *testing.T, minor int64) processor.Authorization {
	t.Helper()
	want := s.amount(minor)
	before := time.Now()
	a, err := s.p.Authorize(ctxT(t), processor.AuthorizeRequest{IdempotencyKey: s.key("auth"), Credential: s.creds.Approve, Amount: want, Description: "plugintest hold"})
	if err != nil {
		t.Fatalf("Authorize %s: %v", want, err)
	}
	if a.Reference == "" {
		t.Fatal("Authorize returned no reference")
	}
	wantMoney(t, "Authorize", a.Amount, want)
	if !a.ExpiresAt.After(before) {
		t.Fatalf("hold expires at %v, not in the future", a.ExpiresAt)
	}
	if limit := before.Add(time.Duration(s.caps.MaxHoldDays)*24*time.Hour + time.Hour); a.ExpiresAt.After(limit) {
		t.Fatalf("hold expires at %v, after the declared max_hold_days %d", a.ExpiresAt, s.caps.MaxHoldDays)
	}
	return a
}

// moneyTaken captures or charges minor units and returns the payment's reference, for the refund subtests.
func (s *processorSuite) moneyTaken(t *testing.T, minor int64) string {
	t.Helper()
	want := s.amount(minor)
	if s.caps.ChargeStoredCredential {
		c, err := s.p.Charge(ctxT(t), processor.ChargeRequest{IdempotencyKey: s.key("charge"), Credential: s.creds.Approve, Amount: want})
		if err != nil {
			t.Fatalf("Charge %s: %v", want, err)
		}
		wantMoney(t, "Charge", c.Amount, want)
		return c.Reference
	}
	a := s.authorize(t, minor)
	c, err := s.p.Capture(ctxT(t), processor.CaptureRequest{IdempotencyKey: s.key("capture"), AuthorizationReference: a.Reference, Amount: want})
	if err != nil {
		t.Fatalf("Capture %s: %v", want, err)
	}
	wantMoney(t, "Capture", c.Amount, want)
	return c.Reference
}

func (s *processorSuite) fullCapture(t *testing.T) {
	a := s.authorize(t, s.opts.Amount)
	c, err := s.p.Capture(ctxT(t), processor.CaptureRequest{IdempotencyKey: s.key("capture"), AuthorizationReference: a.Reference, Amount: a.Amount})
	if err != nil {
		t.Fatalf("Capture: %v", err)
	}
	if c.Reference == "" {
		t.Fatal("Capture returned no reference")
	}
	wantMoney(t, "Capture", c.Amount, a.Amount)
	if c.Released.Amount != 0 {
		t.Fatalf("a full capture released %s", c.Released)
	}
	_, err = s.p.Capture(ctxT(t), processor.CaptureRequest{IdempotencyKey: s.key("capture-again"), AuthorizationReference: a.Reference, Amount: s.amount(1)})
	wantFinal(t, "a second capture of a captured hold", err)
}

func (s *processorSuite) partialCapture(t *testing.T) {
	a := s.authorize(t, s.opts.Amount)
	part := s.amount(s.opts.Amount * 6 / 10)
	rest := s.amount(s.opts.Amount - part.Amount)
	c, err := s.p.Capture(ctxT(t), processor.CaptureRequest{IdempotencyKey: s.key("capture"), AuthorizationReference: a.Reference, Amount: part})
	if err != nil {
		t.Fatalf("Capture %s of %s: %v", part, a.Amount, err)
	}
	wantMoney(t, "partial Capture", c.Amount, part)
	if c.Released != rest {
		t.Fatalf("partial capture released %s, want the remainder %s", c.Released, rest)
	}
	// The remainder is gone: a second capture, even of exactly it, fails.
	_, err = s.p.Capture(ctxT(t), processor.CaptureRequest{IdempotencyKey: s.key("capture-rest"), AuthorizationReference: a.Reference, Amount: rest})
	wantFinal(t, "capturing the released remainder", err)
	if s.caps.Void {
		_, err = s.p.Void(ctxT(t), processor.VoidRequest{IdempotencyKey: s.key("void-after-capture"), AuthorizationReference: a.Reference})
		wantFinal(t, "voiding a captured hold", err)
	}
}

func (s *processorSuite) overCapture(t *testing.T) {
	a := s.authorize(t, s.opts.Amount)
	_, err := s.p.Capture(ctxT(t), processor.CaptureRequest{IdempotencyKey: s.key("capture-over"), AuthorizationReference: a.Reference, Amount: s.amount(s.opts.Amount + 1)})
	wantFinal(t, "capturing more than the hold", err)
	if !errs.IsDecline(err) && errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("capturing more than the hold: got %v, want errs.Invalid or a decline", err)
	}
	c, err := s.p.Capture(ctxT(t), processor.CaptureRequest{IdempotencyKey: s.key("capture"), AuthorizationReference: a.Reference, Amount: a.Amount})
	if err != nil {
		t.Fatalf("capture after a refused over-capture: %v", err)
	}
	wantMoney(t, "Capture", c.Amount, a.Amount)
}

func (s *processorSuite) void(t *testing.T) {
	a := s.authorize(t, s.opts.Amount)
	v, err := s.p.Void(ctxT(t), processor.VoidRequest{IdempotencyKey: s.key("void"), AuthorizationReference: a.Reference})
	if err != nil {
		t.Fatalf("Void: %v", err)
	}
	wantMoney(t, "Void", v.Amount, a.Amount)
	_, err = s.p.Capture(ctxT(t), processor.CaptureRequest{IdempotencyKey: s.key("capture-voided"), AuthorizationReference: a.Reference, Amount: s.amount(1)})
	wantFinal(t, "capturing a voided hold", err)
	_, err = s.p.Void(ctxT(t), processor.VoidRequest{IdempotencyKey: s.key("void-unknown"), AuthorizationReference: "plugintest-no-such-hold"})
	wantFinal(t, "voiding an unknown hold", err)
}

func (s *processorSuite) charge(t *testing.T) {
	want := s.amount(s.opts.Amount)
	c, err := s.p.Charge(ctxT(t), processor.ChargeRequest{IdempotencyKey: s.key("charge"), Credential: s.creds.Approve, Amount: want, Description: "plugintest block"})
	if err != nil {
		t.Fatalf("Charge: %v", err)
	}
	if c.Reference == "" {
		t.Fatal("Charge returned no reference")
	}
	wantMoney(t, "Charge", c.Amount, want)
}

func (s *processorSuite) fullRefund(t *testing.T) {
	ref := s.moneyTaken(t, s.opts.Amount)
	r, err := s.p.Refund(ctxT(t), processor.RefundRequest{IdempotencyKey: s.key("refund"), Reference: ref, Amount: s.amount(s.opts.Amount)})
	if err != nil {
		t.Fatalf("Refund: %v", err)
	}
	if r.Reference == "" {
		t.Fatal("Refund returned no reference")
	}
	wantMoney(t, "Refund", r.Amount, s.amount(s.opts.Amount))
	_, err = s.p.Refund(ctxT(t), processor.RefundRequest{IdempotencyKey: s.key("refund-again"), Reference: ref, Amount: s.amount(1)})
	wantFinal(t, "refunding a fully refunded payment", err)
}

func (s *processorSuite) partialRefund(t *testing.T) {
	ref := s.moneyTaken(t, s.opts.Amount)
	first := s.amount(s.opts.Amount * 3 / 10)
	second := s.amount(s.opts.Amount - first.Amount)
	_, err := s.p.Refund(ctxT(t), processor.RefundRequest{IdempotencyKey: s.key("refund-over"), Reference: ref, Amount: s.amount(s.opts.Amount + 1)})
	wantFinal(t, "refunding more than was taken", err)
	for i, want := range []money.Money{first, second} {
		r, err := s.p.Refund(ctxT(t), processor.RefundRequest{IdempotencyKey: s.key("refund"), Reference: ref, Amount: want})
		if err != nil {
			t.Fatalf("partial refund %d of %s: %v", i+1, want, err)
		}
		wantMoney(t, "partial Refund", r.Amount, want)
	}
	_, err = s.p.Refund(ctxT(t), processor.RefundRequest{IdempotencyKey: s.key("refund-beyond"), Reference: ref, Amount: s.amount(1)})
	wantFinal(t, "refunding beyond the total", err)
}

func (s *processorSuite) idempotency(t *testing.T) {
	ctx := ctxT(t)
	if s.caps.AuthCapture {
		t.Run("authorize", func(t *testing.T) {
			req := processor.AuthorizeRequest{IdempotencyKey: s.key("idem-auth"), Credential: s.creds.Approve, Amount: s.amount(s.opts.Amount)}
			a1, err := s.p.Authorize(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			a2, err := s.p.Authorize(ctx, req)
			if err != nil {
				t.Fatalf("repeat: %v", err)
			}
			if a2.Reference != a1.Reference || a2.Amount != a1.Amount {
				t.Fatalf("repeat returned %+v, first was %+v: a second hold was placed", a2, a1)
			}
			other := req
			other.Amount = s.amount(s.opts.Amount + 1)
			_, err = s.p.Authorize(ctx, other)
			wantCode(t, "the same key with another amount", err, errs.Conflict)

			creq := processor.CaptureRequest{IdempotencyKey: s.key("idem-capture"), AuthorizationReference: a1.Reference, Amount: s.amount(s.opts.Amount / 2)}
			c1, err := s.p.Capture(ctx, creq)
			if err != nil {
				t.Fatal(err)
			}
			c2, err := s.p.Capture(ctx, creq)
			if err != nil {
				t.Fatalf("repeated capture: %v", err)
			}
			if c1 != c2 {
				t.Fatalf("repeated capture returned %+v, first was %+v", c2, c1)
			}
		})
	}
	if s.caps.Void {
		t.Run("void", func(t *testing.T) {
			a := s.authorize(t, s.opts.Amount)
			req := processor.VoidRequest{IdempotencyKey: s.key("idem-void"), AuthorizationReference: a.Reference}
			v1, err := s.p.Void(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			v2, err := s.p.Void(ctx, req)
			if err != nil {
				t.Fatalf("repeated void: %v", err)
			}
			if v1 != v2 {
				t.Fatalf("repeated void returned %+v, first was %+v", v2, v1)
			}
		})
	}
	if s.caps.ChargeStoredCredential {
		t.Run("charge", func(t *testing.T) {
			req := processor.ChargeRequest{IdempotencyKey: s.key("idem-charge"), Credential: s.creds.Approve, Amount: s.amount(s.opts.Amount)}
			c1, err := s.p.Charge(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			c2, err := s.p.Charge(ctx, req)
			if err != nil {
				t.Fatalf("repeat: %v", err)
			}
			if c2.Reference != c1.Reference || c2.Amount != c1.Amount {
				t.Fatalf("repeat returned %+v, first was %+v: charged twice", c2, c1)
			}
			if s.caps.Refund {
				// Charged once means refundable once: a second payment would leave room for more.
				full := processor.RefundRequest{IdempotencyKey: s.key("idem-refund"), Reference: c1.Reference, Amount: c1.Amount}
				r1, err := s.p.Refund(ctx, full)
				if err != nil {
					t.Fatal(err)
				}
				r2, err := s.p.Refund(ctx, full)
				if err != nil {
					t.Fatalf("repeated refund: %v", err)
				}
				if r1 != r2 {
					t.Fatalf("repeated refund returned %+v, first was %+v", r2, r1)
				}
			}
		})
	}
	t.Run("decline", func(t *testing.T) {
		key := s.key("idem-decline")
		_, err1 := s.moveMoney(ctx, key, s.creds.Decline, s.amount(s.opts.Amount))
		_, err2 := s.moveMoney(ctx, key, s.creds.Decline, s.amount(s.opts.Amount))
		wantCode(t, "first attempt", err1, errs.Declined)
		wantCode(t, "repeated attempt", err2, errs.Declined)
	})
}

// moveMoney authorises (or, without auth_capture, charges) amount on cred.
func (s *processorSuite) moveMoney(ctx context.Context, key string, cred processor.StoredCredential, amt money.Money) (string, error) {
	if s.caps.AuthCapture {
		a, err := s.p.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: key, Credential: cred, Amount: amt})
		return a.Reference, err
	}
	c, err := s.p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: key, Credential: cred, Amount: amt})
	return c.Reference, err
}

// bothWays runs check against Authorize and Charge, as far as declared.
func (s *processorSuite) bothWays(t *testing.T, cred processor.StoredCredential, amt money.Money, check func(t *testing.T, what string, err error)) {
	t.Helper()
	ctx := ctxT(t)
	if s.caps.AuthCapture {
		_, err := s.p.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: s.key("auth"), Credential: cred, Amount: amt})
		check(t, "Authorize", err)
	}
	if s.caps.ChargeStoredCredential {
		_, err := s.p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: s.key("charge"), Credential: cred, Amount: amt})
		check(t, "Charge", err)
	}
}

func (s *processorSuite) declines(t *testing.T) {
	amt := s.amount(s.opts.Amount)
	cases := []struct {
		name string
		cred processor.StoredCredential
		code errs.Code
	}{
		{"declined", s.creds.Decline, errs.Declined},
		{"insufficient funds", s.creds.Insufficient, errs.InsufficientFunds},
		{"expired card", s.creds.Expired, errs.ExpiredCard},
	}
	for _, c := range cases {
		if c.cred.Token == "" {
			t.Logf("not run: %s: no TestCredentials for it", c.name)
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			s.bothWays(t, c.cred, amt, func(t *testing.T, what string, err error) {
				wantCode(t, what, err, c.code)
				if !errs.IsDecline(err) || errs.IsRetryable(err) {
					t.Fatalf("%s: %v is not a final decline", what, err)
				}
			})
		})
	}
}

func (s *processorSuite) unknownCurrency(t *testing.T) {
	s.bothWays(t, s.creds.Approve, money.Money{Amount: s.opts.Amount, Currency: "ZZZ"}, func(t *testing.T, what string, err error) {
		wantCode(t, what+" in ZZZ (not ISO 4217)", err, errs.UnknownCurrency)
	})
	for _, code := range money.Codes() {
		if !s.caps.Accepts(code) {
			s.bothWays(t, s.creds.Approve, money.Money{Amount: s.opts.Amount, Currency: code}, func(t *testing.T, what string, err error) {
				wantCode(t, what+" in undeclared "+code, err, errs.UnknownCurrency)
			})
			return
		}
	}
	t.Log("the plugin declares every ISO 4217 currency: only ZZZ tried")
}

func (s *processorSuite) nonPositive(t *testing.T) {
	for _, minor := range []int64{0, -s.opts.Amount} {
		s.bothWays(t, s.creds.Approve, s.amount(minor), func(t *testing.T, what string, err error) {
			wantCode(t, fmt.Sprintf("%s of %d", what, minor), err, errs.Invalid)
		})
	}
	if s.caps.AuthCapture {
		a := s.authorize(t, s.opts.Amount)
		_, err := s.p.Capture(ctxT(t), processor.CaptureRequest{IdempotencyKey: s.key("capture-negative"), AuthorizationReference: a.Reference, Amount: s.amount(-1)})
		wantCode(t, "Capture of -1", err, errs.Invalid)
	}
	if s.caps.Refund {
		ref := s.moneyTaken(t, s.opts.Amount)
		for _, minor := range []int64{0, -1} {
			_, err := s.p.Refund(ctxT(t), processor.RefundRequest{IdempotencyKey: s.key("refund-nonpositive"), Reference: ref, Amount: s.amount(minor)})
			wantCode(t, fmt.Sprintf("Refund of %d", minor), err, errs.Invalid)
		}
	}
	// No key, no money: a retry could otherwise move it twice.
	_, err := s.moveMoney(ctxT(t), "", s.creds.Approve, s.amount(s.opts.Amount))
	wantCode(t, "a request without an idempotency key", err, errs.Invalid)
}

func (s *processorSuite) unavailable(t *testing.T) {
	key := s.key("unavailable")
	for i := 0; i < 2; i++ { // a retry with the same key is allowed and fails the same way
		_, err := s.moveMoney(ctxT(t), key, s.creds.Unavailable, s.amount(s.opts.Amount))
		wantCode(t, "unavailable processor", err, errs.Unavailable)
		if !errs.IsRetryable(err) {
			t.Fatalf("attempt %d: %v is not retryable", i+1, err)
		}
	}
}

func (s *processorSuite) deadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.moveMoney(ctx, s.key("slow"), s.creds.Slow, s.amount(s.opts.Amount))
	if !errs.IsRetryable(err) || (errs.CodeOf(err) != errs.Timeout && errs.CodeOf(err) != errs.Unavailable) {
		t.Fatalf("a call past its deadline returned %v, want a retryable timeout", err)
	}
	// Not a timing assertion on the plugin's speed: only that it did not run
	// on for many seconds after the host gave up.
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("the call returned after %v", waited)
	}
}

func (s *processorSuite) webhooks(t *testing.T) {
	if s.opts.Webhook == nil {
		t.Fatalf("the plugin declares webhook_auth %q: ProcessorOptions.Webhook is required", s.caps.WebhookAuth)
	}
	ctx := ctxT(t)
	valid := s.opts.Webhook(t)

	forged := map[string]processor.WebhookRequest{}
	switch s.caps.WebhookAuth {
	case processor.WebhookHMAC, processor.WebhookHash:
		tampered := cloneWebhook(valid)
		tampered.Body = tamper(tampered.Body)
		forged["body changed after signing"] = tampered
		if s.caps.WebhookAuth == processor.WebhookHMAC {
			unsigned := cloneWebhook(valid)
			for name := range unsigned.Headers {
				if !strings.EqualFold(name, "Content-Type") {
					delete(unsigned.Headers, name)
				}
			}
			forged["signature headers removed"] = unsigned
		}
	case processor.WebhookIPAllowlist:
		off := cloneWebhook(valid)
		off.RemoteAddr = "203.0.113.9:40000" // TEST-NET-3: on nobody's allow-list
		forged["source address off the allow-list"] = off
	}
	for name, req := range forged {
		_, err := s.p.ParseWebhook(ctx, req)
		wantCode(t, "webhook with "+name, err, errs.Unauthenticated)
	}

	res, err := s.p.ParseWebhook(ctx, valid)
	if err != nil {
		t.Fatalf("the genuine webhook was refused after the forgeries: %v", err)
	}
	if len(res.Events) == 0 {
		t.Fatal("the genuine webhook gave no events")
	}
	if res.Response.Status < 200 || res.Response.Status > 299 {
		t.Fatalf("the genuine webhook is answered with HTTP %d, want 2xx", res.Response.Status)
	}
	for _, e := range res.Events {
		known := false
		for _, k := range processor.EventTypes {
			known = known || e.Type == k
		}
		if !known || e.ID == "" {
			t.Fatalf("event %+v: want a known type and an id", e)
		}
	}
}

func cloneWebhook(r processor.WebhookRequest) processor.WebhookRequest {
	c := r
	c.Body = append([]byte(nil), r.Body...)
	c.Headers = r.Headers.Clone()
	if r.Query != nil {
		c.Query = make(map[string][]string, len(r.Query))
		for k, v := range r.Query {
			c.Query[k] = append([]string(nil), v...)
		}
	}
	return c
}

// tamper changes one character of the body and keeps it parseable: the last
// digit becomes another digit (an amount, an id), else a letter is swapped.
func tamper(b []byte) []byte {
	out := append([]byte(nil), b...)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] >= '0' && out[i] <= '9' {
			out[i] = '0' + (out[i]-'0'+1)%10
			return out
		}
	}
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] >= 'a' && out[i] <= 'y' {
			out[i]++
			return out
		}
	}
	return append(out, ' ')
}
