package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

// These tests drive the plugin in-process against the fake, with a clock they control.

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// warnings records what the plugin logs for an operator.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Warn(msg string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, fmt.Sprint(append([]any{msg, " "}, args...)...))
}

func (w *warnings) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.msgs, "\n")
}

func newTestPlugin(t *testing.T, f *fakeCCBill, stateFile string) (*CCBill, *testClock) {
	t.Helper()
	clock := &testClock{t: time.Now()}
	c := newCCBill(clock.now, &warnings{})
	if stateFile == "" {
		stateFile = filepath.Join(t.TempDir(), "state.json")
	}
	if err := c.Configure(context.Background(), f.Settings(t, stateFile, nil)); err != nil {
		t.Fatal(err)
	}
	return c, clock
}

func usd(minor int64) money.Money { return money.Money{Amount: minor, Currency: "USD"} }

func TestConfigureRefusesBadSettings(t *testing.T) {
	f := newFakeCCBill(t)
	good := map[string]any{}
	if err := json.Unmarshal(f.Settings(t, filepath.Join(t.TempDir(), "s.json"), nil), &good); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		key   string
		value any // nil deletes the key
	}{
		{"app_id", nil}, {"secret", ""}, {"frontend_app_id", nil}, {"datalink_password", nil},
		{"client_accnum", 12345}, {"client_subacc", nil}, {"client_subacc", 10000},
		{"api_base_url", "ftp://api.ccbill.com"}, {"billing_api_url", "not a url"},
		{"allowed_ips", []string{"64.38.212.0/33"}}, {"allowed_ips", []string{}},
		{"currencies", []string{"USD", "XXY"}}, {"request_timeout_seconds", 0},
		// Removed keys are refused like any unknown key: a stale config says so at start.
		{"max_webhook_age_hours", 168}, {"billing_api_url", "https://bill.ccbill.com/jpost/billingApi.cgi"},
		{"colour", "red"},
	}
	for _, c := range cases {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		if c.value == nil {
			delete(m, c.key)
		} else {
			m[c.key] = c.value
		}
		b, _ := json.Marshal(m)
		err := newCCBill(time.Now, &warnings{}).Configure(context.Background(), b)
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s=%v: Configure = %v, want errs.Invalid naming %s", c.key, c.value, err, c.key)
		}
	}
}

func TestCallsBeforeConfigureAreRetryable(t *testing.T) {
	_, err := newCCBill(time.Now, &warnings{}).Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "k",
		Credential: processor.StoredCredential{Token: "pt1"}, Amount: usd(100)})
	if errs.CodeOf(err) != errs.Unavailable || !errs.IsRetryable(err) {
		t.Fatalf("got %v", err)
	}
}

// CCBill books the charge, then the answer comes after the host gave up.
// The retry under the same key finds the charge through the token's charge
// list and returns it: the card is charged once.
func TestTimeoutAfterAcceptedChargeIsNotChargedTwice(t *testing.T) {
	f := newFakeCCBill(t)
	stateFile := filepath.Join(t.TempDir(), "state.json")
	c, _ := newTestPlugin(t, f, stateFile)
	cred := tokenise(t, c, f, cardApprove)
	req := processor.ChargeRequest{IdempotencyKey: "seat/7/block/1", Credential: cred, Amount: usd(1234)}

	_, err := c.Charge(f.HangNextBooking(t), req)
	if errs.CodeOf(err) != errs.Timeout || !errs.IsRetryable(err) {
		t.Fatalf("charge past its deadline: %v, want a retryable timeout", err)
	}
	if n := len(f.ChargesOf(cred.Token)); n != 1 {
		t.Fatalf("the fake booked %d charges, want 1 (accepted before the timeout)", n)
	}

	// The plugin process restarts in between: the pending record is on disk.
	c2, _ := newTestPlugin(t, f, stateFile)
	res, err := c2.Charge(context.Background(), req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	charges := f.ChargesOf(cred.Token)
	if len(charges) != 1 {
		t.Fatalf("after the retry the fake holds %d charges of the token, want 1", len(charges))
	}
	if res.Amount != usd(1234) || res.Reference == "" {
		t.Fatalf("retry result %+v", res)
	}
	again, err := c2.Charge(context.Background(), req)
	if err != nil || again != res {
		t.Fatalf("second retry = %+v, %v; want %+v", again, err, res)
	}
	if charges[0].PassThrough["camkitKey"] != "seat/7/block/1" {
		t.Fatalf("the charge does not carry the idempotency key: %v", charges[0].PassThrough)
	}
	// A later block on the same token is a new charge, not confused with the first.
	next, err := c2.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "seat/7/block/2", Credential: cred, Amount: usd(1234)})
	if err != nil || next.Reference == res.Reference || len(f.ChargesOf(cred.Token)) != 2 {
		t.Fatalf("next block %+v %v, %d charges", next, err, len(f.ChargesOf(cred.Token)))
	}
}

// An unknown outcome where CCBill booked nothing is sent again, once.
func TestTimeoutBeforeBookingIsSentAgain(t *testing.T) {
	f := newFakeCCBill(t)
	c, _ := newTestPlugin(t, f, "")
	cred := tokenise(t, c, f, cardApprove)
	req := processor.ChargeRequest{IdempotencyKey: "seat/8/block/1", Credential: cred, Amount: usd(500)}
	// A pending record as a lost request leaves it: the baseline is the empty charge list.
	pend, _ := json.Marshal(chargePending{Token: cred.Token, Baseline: nil})
	if err := c.putOp(req.IdempotencyKey, &processorkit.OpRecord{Fingerprint: processorkit.Fingerprint("charge", cred.Token, req.Amount, (*recurringTerms)(nil)),
		Status: processorkit.OpPending, Pending: pend, Started: time.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	res, err := c.Charge(context.Background(), req)
	if err != nil || res.Amount != usd(500) {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	if n := len(f.ChargesOf(cred.Token)); n != 1 {
		t.Fatalf("%d charges, want 1", n)
	}
}

func TestOAuthTokenIsCachedAndRenewed(t *testing.T) {
	f := newFakeCCBill(t)
	f.TokenTTL = 300
	c, clock := newTestPlugin(t, f, "")
	cred := processor.StoredCredential{Token: f.CreateToken(cardApprove)}
	charge := func(key string) {
		t.Helper()
		if _, err := c.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: key, Credential: cred, Amount: usd(100)}); err != nil {
			t.Fatalf("charge %s: %v", key, err)
		}
	}
	issued := func() int { f.Mu.Lock(); defer f.Mu.Unlock(); return f.TokensIssued }
	charge("a")
	charge("b")
	if n := issued(); n != 1 {
		t.Fatalf("%d OAuth tokens for two charges, want 1 (cached)", n)
	}
	clock.add(280 * time.Second) // within the renewal margin of the 300 s token
	charge("c")
	if n := issued(); n != 2 {
		t.Fatalf("%d OAuth tokens after expiry, want 2", n)
	}
	f.RevokeTokens() // CCBill forgot it early: a 401, a new token, the same request once more
	charge("d")
	f.Mu.Lock()
	unauthorized := f.Unauthorized
	f.Mu.Unlock()
	if issued() != 3 || unauthorized != 1 {
		t.Fatalf("after revocation: %d tokens, %d 401s; want 3 and 1", issued(), unauthorized)
	}
	if n := len(f.ChargesOf(cred.Token)); n != 4 {
		t.Fatalf("%d charges, want 4", n)
	}
}

func TestWrongCredentialsAreReported(t *testing.T) {
	f := newFakeCCBill(t)
	c := newCCBill(time.Now, &warnings{})
	if err := c.Configure(context.Background(), f.Settings(t, filepath.Join(t.TempDir(), "s.json"), map[string]any{"secret": "wrong"})); err != nil {
		t.Fatal(err)
	}
	_, err := c.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "k", Credential: processor.StoredCredential{Token: f.CreateToken(cardApprove)}, Amount: usd(100)})
	if errs.CodeOf(err) != errs.Unauthenticated || !strings.Contains(err.Error(), "app_id") {
		t.Fatalf("got %v", err)
	}
}

// initialPrice is a JSON number written from the exact decimal text, and
// currencyCode the numeric ISO code, whatever the exponent or size.
func TestAmountWireFormat(t *testing.T) {
	f := newFakeCCBill(t)
	c, _ := newTestPlugin(t, f, "")
	cases := []struct {
		m       money.Money
		price   string
		numeric int
	}{
		{money.Money{Amount: 5000, Currency: "JPY"}, "5000", 392},
		{money.Money{Amount: 1, Currency: "USD"}, "0.01", 840},
		{money.Money{Amount: 1050, Currency: "EUR"}, "10.50", 978},
		{money.Money{Amount: 999999999999999999, Currency: "GBP"}, "9999999999999999.99", 826},
	}
	for i, tc := range cases {
		cred := processor.StoredCredential{Token: f.CreateToken(cardApprove)}
		res, err := c.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "wire/" + tc.price, Credential: cred, Amount: tc.m})
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		got := f.ChargesOf(cred.Token)
		if len(got) != 1 || got[0].RawPrice != tc.price || got[0].CurrencyCode != tc.numeric || got[0].Amount != tc.m || res.Amount != tc.m {
			t.Fatalf("%s: the wire carried %+v, want initialPrice %s currencyCode %d", tc.m, got[0], tc.price, tc.numeric)
		}
	}
	_, err := c.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "wire/bhd", Credential: processor.StoredCredential{Token: f.CreateToken(cardApprove)}, Amount: money.Money{Amount: 1000, Currency: "BHD"}})
	if errs.CodeOf(err) != errs.UnknownCurrency {
		t.Fatalf("BHD (not configured) = %v", err)
	}
}

func TestPurchaseAndRecurringAtCheckout(t *testing.T) {
	f := newFakeCCBill(t)
	c, _ := newTestPlugin(t, f, "")
	ctx := context.Background()
	price := usd(1999)
	co, err := c.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "fanclub/1", CustomerRef: "viewer/2", ReturnURL: "/account/return",
		Purchase: &price, Recurring: &processor.RecurringTerms{Amount: usd(999), PeriodDays: 30}, Description: "Fan club"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "fanclub/1", CustomerRef: "viewer/2", ReturnURL: "/account/return",
		Purchase: &price, Recurring: &processor.RecurringTerms{Amount: usd(999), PeriodDays: 30}, Description: "Fan club"})
	if err != nil || again.Reference != co.Reference {
		t.Fatalf("repeated StartCheckout = %+v, %v; want %s", again, err, co.Reference)
	}
	tok := f.CreateToken(cardApprove)
	resp, err := c.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: "/pay/ccbill/checkout",
		Body: []byte(url.Values{"ref": {co.Reference}, "payment_token_id": {tok}}.Encode())})
	if err != nil || resp.Status != http.StatusSeeOther {
		t.Fatalf("post: %d %v %s", resp.Status, err, resp.Body)
	}
	back, _ := url.Parse(resp.Headers.Get("Location"))
	res, err := c.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/2", Params: back.Query()})
	if err != nil {
		t.Fatal(err)
	}
	charges := f.ChargesOf(tok)
	if res.Charge == nil || res.Charge.Amount != price || len(charges) != 1 || !charges[0].Recurring || res.SubscriptionReference != res.Charge.Reference {
		t.Fatalf("result %+v, charges %+v", res, charges)
	}
	if _, err := c.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/3"}); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("another customer's completion: %v", err)
	}
	// Posting the page again does not charge again.
	resp, _ = c.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: "/pay/ccbill/checkout",
		Body: []byte(url.Values{"ref": {co.Reference}, "payment_token_id": {tok}}.Encode())})
	if resp.Status != http.StatusGone || len(f.ChargesOf(tok)) != 1 {
		t.Fatalf("second post: %d, %d charges", resp.Status, len(f.ChargesOf(tok)))
	}
	cancelReq := processor.CancelRecurringRequest{IdempotencyKey: "fanclub/1/cancel", SubscriptionReference: res.SubscriptionReference}
	if err := c.CancelRecurring(ctx, cancelReq); err != nil {
		t.Fatal(err)
	}
	if err := c.CancelRecurring(ctx, cancelReq); err != nil {
		t.Fatalf("repeated cancel: %v", err)
	}
	f.Mu.Lock()
	cancelled := f.Cancelled[res.SubscriptionReference]
	f.Mu.Unlock()
	if !cancelled {
		t.Fatal("the subscription was not cancelled at the fake")
	}
	if err := c.CancelRecurring(ctx, processor.CancelRecurringRequest{IdempotencyKey: "x", SubscriptionReference: "1"}); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("cancel of an unknown subscription: %v", err)
	}
}

func TestDeclinedPurchaseAtCheckout(t *testing.T) {
	f := newFakeCCBill(t)
	c, _ := newTestPlugin(t, f, "")
	ctx := context.Background()
	price := usd(500)
	co, err := c.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "pack/1", CustomerRef: "v", ReturnURL: "/r", Purchase: &price})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := c.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: "/pay/ccbill/checkout",
		Body: []byte(url.Values{"ref": {co.Reference}, "payment_token_id": {f.CreateToken(cardInsufficient)}}.Encode())})
	back, _ := url.Parse(resp.Headers.Get("Location"))
	if back.Query().Get("status") != "declined" {
		t.Fatalf("redirect %v", back)
	}
	_, err = c.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, Params: back.Query()})
	if errs.CodeOf(err) != errs.InsufficientFunds {
		t.Fatalf("CompleteCheckout = %v", err)
	}
}

// DataLink cannot look a refund up: an unknown outcome waits for the
// Refund webhook instead of refunding a second time.
func TestRefundWithUnknownOutcomeSettlesByWebhook(t *testing.T) {
	f := newFakeCCBill(t)
	c, clock := newTestPlugin(t, f, "")
	cred := processor.StoredCredential{Token: f.CreateToken(cardApprove)}
	ch, err := c.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "seat/1/block/1", Credential: cred, Amount: usd(1000)})
	if err != nil {
		t.Fatal(err)
	}
	req := processor.RefundRequest{IdempotencyKey: "seat/1/unused", Reference: ch.Reference, Amount: usd(400)}
	_, err = c.Refund(f.HangNextBooking(t), req)
	if errs.CodeOf(err) != errs.Timeout {
		t.Fatalf("refund past its deadline: %v", err)
	}
	_, err = c.Refund(context.Background(), req)
	if errs.CodeOf(err) != errs.Unavailable || !errs.IsRetryable(err) || !strings.Contains(err.Error(), "webhook") {
		t.Fatalf("retry before the webhook: %v", err)
	}
	hook := webhookJSON(t, "Refund", "64.38.215.3:1000", map[string]any{"subscriptionId": ch.Reference, "transactionId": "0312001",
		"amount": "4.00", "currencyCode": "840", "reason": "", "timestamp": ccbillTime(clock.now())})
	if _, err := c.ParseWebhook(context.Background(), hook); err != nil {
		t.Fatal(err)
	}
	res, err := c.Refund(context.Background(), req)
	if err != nil || res.Amount != usd(400) {
		t.Fatalf("retry after the webhook = %+v, %v", res, err)
	}
	f.Mu.Lock()
	calls, refunded := f.RefundCalls, f.Charges[ch.Reference].Refunded
	f.Mu.Unlock()
	if calls != 1 || refunded != 400 {
		t.Fatalf("%d refund calls, %d refunded; want 1 and 400", calls, refunded)
	}
	// Without a webhook, the refund is never sent again: after the wait the
	// key gets a final error for the operator, and keeps it.
	req2 := processor.RefundRequest{IdempotencyKey: "seat/1/unused-2", Reference: ch.Reference, Amount: usd(100)}
	if _, err := c.Refund(f.HangNextBooking(t), req2); errs.CodeOf(err) != errs.Timeout {
		t.Fatalf("second refund past its deadline: %v", err)
	}
	clock.add(refundSettleWait + time.Minute)
	for i := 0; i < 2; i++ {
		_, err := c.Refund(context.Background(), req2)
		if errs.CodeOf(err) != errs.Conflict || errs.IsRetryable(err) || !strings.Contains(err.Error(), "admin") {
			t.Fatalf("refund %d after the wait: %v, want a final error naming CCBill's admin", i+1, err)
		}
	}
	f.Mu.Lock()
	calls = f.RefundCalls
	f.Mu.Unlock()
	if calls != 2 {
		t.Fatalf("%d refund calls reached DataLink, want 2 (none re-sent)", calls)
	}
	if w := c.log.(*warnings).all(); !strings.Contains(w, "seat/1/unused-2") {
		t.Fatalf("the unsettled refund was not logged for the operator: %q", w)
	}
}

// DataLink's -7 (internal error) does not prove nothing happened: a refund
// answered -7 stays pending and is settled by the Refund webhook, never sent
// again; a cancel answered -7 is sent again (cancelling twice is harmless).
func TestDatalinkInternalErrorIsRetriedOnlyForCancel(t *testing.T) {
	f := newFakeCCBill(t)
	c, clock := newTestPlugin(t, f, "")
	ctx := context.Background()
	ch, err := c.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "pack/7", Credential: processor.StoredCredential{Token: f.CreateToken(cardApprove)}, Amount: usd(2500)})
	if err != nil {
		t.Fatal(err)
	}
	req := processor.RefundRequest{IdempotencyKey: "pack/7/refund", Reference: ch.Reference, Amount: usd(2500)}
	f.NextDatalinkResult(-7)
	if _, err := c.Refund(ctx, req); errs.CodeOf(err) != errs.Unavailable || !strings.Contains(err.Error(), "-7") {
		t.Fatalf("refund answered -7: %v", err)
	}
	if _, err := c.Refund(ctx, req); errs.CodeOf(err) != errs.Unavailable || !strings.Contains(err.Error(), "webhook") {
		t.Fatalf("retry of a -7 refund: %v, want a wait for the webhook", err)
	}
	f.Mu.Lock()
	calls := f.RefundCalls
	f.Mu.Unlock()
	if n := len(f.DatalinkRequests()); n != 1 || calls != 0 {
		t.Fatalf("%d DataLink requests (%d booked refunds), want the one answered -7", n, calls)
	}
	hook, err := f.RefundWebhook(ch.Reference, usd(2500), "")
	if err != nil {
		t.Fatal(err)
	}
	clock.add(time.Minute)
	if _, err := c.ParseWebhook(ctx, hook); err != nil {
		t.Fatal(err)
	}
	if res, err := c.Refund(ctx, req); err != nil || res.Amount != usd(2500) {
		t.Fatalf("refund after its webhook: %+v %v", res, err)
	}

	sub, err := c.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "club/1", Credential: processor.StoredCredential{Token: f.CreateToken(cardApprove)}, Amount: usd(999)})
	if err != nil {
		t.Fatal(err)
	}
	cancel := processor.CancelRecurringRequest{IdempotencyKey: "club/1/cancel", SubscriptionReference: sub.Reference}
	f.NextDatalinkResult(-7)
	if err := c.CancelRecurring(ctx, cancel); errs.CodeOf(err) != errs.Unavailable || !errs.IsRetryable(err) {
		t.Fatalf("cancel answered -7: %v, want retryable", err)
	}
	if err := c.CancelRecurring(ctx, cancel); err != nil {
		t.Fatalf("retried cancel: %v", err)
	}
	f.Mu.Lock()
	cancelled := f.Cancelled[sub.Reference]
	f.Mu.Unlock()
	if !cancelled {
		t.Fatal("the retried cancel did not reach DataLink")
	}
}

// Every documented DataLink failure is a clear errs kind, final (nothing
// booked, the key forgotten) except -7.
func TestDatalinkResultCodes(t *testing.T) {
	f := newFakeCCBill(t)
	c, _ := newTestPlugin(t, f, "")
	ctx := context.Background()
	ch, err := c.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "codes", Credential: processor.StoredCredential{Token: f.CreateToken(cardApprove)}, Amount: usd(5000)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		result int
		code   errs.Code
		words  string
	}{
		{0, errs.Conflict, "failed"}, {-1, errs.Unauthenticated, "datalink_username"}, {-2, errs.Invalid, "subscription id"},
		{-3, errs.NotFound, "no record"}, {-4, errs.Forbidden, "client_accnum"}, {-5, errs.Invalid, "arguments"},
		{-6, errs.Unsupported, "action"}, {-8, errs.Forbidden, "IP address"}, {-9, errs.Forbidden, "deactivated"},
		{-10, errs.Forbidden, "not set up"}, {-12, errs.Limit, "log-ins"}, {-15, errs.Limit, "refund threshold"},
		{-16, errs.Limit, "void threshold"}, {-23, errs.Limit, "transaction limit"}, {-24, errs.Limit, "purchase limit"},
		{-99, errs.Internal, "does not document"},
	}
	for i, tc := range cases {
		f.NextDatalinkResult(tc.result)
		key := fmt.Sprintf("codes/refund/%d", i)
		_, err := c.Refund(ctx, processor.RefundRequest{IdempotencyKey: key, Reference: ch.Reference, Amount: usd(100)})
		if errs.CodeOf(err) != tc.code || errs.IsRetryable(err) || !strings.Contains(err.Error(), tc.words) || !strings.Contains(err.Error(), fmt.Sprint(tc.result)) {
			t.Errorf("result %d: %v, want final %s saying %q", tc.result, err, tc.code, tc.words)
		}
		c.mu.Lock()
		rec := c.st.Ops[key]
		c.mu.Unlock()
		if rec != nil {
			t.Errorf("result %d left a record %+v: a refusal moved nothing, the key must be free", tc.result, rec)
		}
	}
	// The fake's own refusals: over the refund threshold, and more than is left.
	f.Mu.Lock()
	f.RefundThreshold = 3000
	f.Mu.Unlock()
	if _, err := c.Refund(ctx, processor.RefundRequest{IdempotencyKey: "codes/big", Reference: ch.Reference, Amount: usd(4000)}); errs.CodeOf(err) != errs.Limit {
		t.Fatalf("refund over the threshold: %v", err)
	}
	if _, err := c.Refund(ctx, processor.RefundRequest{IdempotencyKey: "codes/unknown", Reference: "925014201000000999", Amount: usd(100)}); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("refund of an unknown subscription: %v", err)
	}
	res, err := c.Refund(ctx, processor.RefundRequest{IdempotencyKey: "codes/ok", Reference: ch.Reference, Amount: usd(1250)})
	if err != nil || res.Amount != usd(1250) {
		t.Fatalf("a partial refund: %+v %v", res, err)
	}
	forms := f.DatalinkRequests()
	last := forms[len(forms)-1]
	if last.Get("action") != "refundTransaction" || last.Get("amount") != "12.50" || last.Get("subscriptionId") != ch.Reference ||
		last.Get("clientAccnum") != "900123" || last.Get("username") != "dluser" {
		t.Fatalf("the refund went to DataLink as %v", last)
	}
}

// A refund whose answer came back must not let its own Refund webhook settle
// a later refund of the same amount whose answer is lost.
func TestRefundWebhookSettlesOnlyItsOwnRefund(t *testing.T) {
	f := newFakeCCBill(t)
	c, clock := newTestPlugin(t, f, "")
	ctx := context.Background()
	ch, err := c.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "seat/9/block/1", Credential: processor.StoredCredential{Token: f.CreateToken(cardApprove)}, Amount: usd(1000)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refund(ctx, processor.RefundRequest{IdempotencyKey: "seat/9/r1", Reference: ch.Reference, Amount: usd(300)}); err != nil {
		t.Fatal(err)
	}
	req2 := processor.RefundRequest{IdempotencyKey: "seat/9/r2", Reference: ch.Reference, Amount: usd(300)}
	if _, err := c.Refund(f.HangNextBooking(t), req2); errs.CodeOf(err) != errs.Timeout {
		t.Fatalf("second refund: %v", err)
	}
	// The first refund's webhook arrives late, after the second was sent.
	first := webhookJSON(t, "Refund", "64.38.212.1:1", map[string]any{"subscriptionId": ch.Reference, "transactionId": "0312100001",
		"amount": "3.00", "currencyCode": "840", "timestamp": ccbillTime(clock.now())})
	if _, err := c.ParseWebhook(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refund(ctx, req2); errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("the first refund's webhook settled the second: %v", err)
	}
	second := webhookJSON(t, "Refund", "64.38.212.1:1", map[string]any{"subscriptionId": ch.Reference, "transactionId": "0312100002",
		"amount": "3.00", "currencyCode": "840", "timestamp": ccbillTime(clock.now())})
	if _, err := c.ParseWebhook(ctx, second); err != nil {
		t.Fatal(err)
	}
	if res, err := c.Refund(ctx, req2); err != nil || res.Amount != usd(300) {
		t.Fatalf("after its own webhook: %+v %v", res, err)
	}
}

func TestTransactionsReportIsUnsupported(t *testing.T) {
	f := newFakeCCBill(t)
	c, _ := newTestPlugin(t, f, "")
	if _, err := c.Transactions(context.Background(), processor.TransactionsRequest{}); errs.CodeOf(err) != errs.Unsupported {
		t.Fatalf("Transactions = %v, want errs.Unsupported", err)
	}
}

// The card page loads the documented widget release, and each page gets a
// fresh front-end token: CCBill's token is for a single request.
func TestCardPageWidgetAndFreshToken(t *testing.T) {
	f := newFakeCCBill(t)
	c, _ := newTestPlugin(t, f, "")
	ctx := context.Background()
	co, err := c.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "card/1", CustomerRef: "v", ReturnURL: "/r"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(co.URL)
	var tokens []string
	for i := 0; i < 2; i++ {
		page, err := c.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodGet, Path: u.Path, Query: u.Query(), RemoteAddr: "198.51.100.7:1"})
		if err != nil || page.Status != http.StatusOK {
			t.Fatalf("page: %d %v", page.Status, err)
		}
		body := string(page.Body)
		if !strings.Contains(body, `src="https://js.ccbill.com/v1.13.1/ccbill-advanced-widget.js"`) || !strings.Contains(body, "ccbill.CCBillAdvancedWidget") {
			t.Fatalf("page does not load widget v1.13.1:\n%s", body)
		}
		i := strings.Index(body, `data-token="`)
		tokens = append(tokens, body[i:i+40])
	}
	if tokens[0] == tokens[1] {
		t.Fatalf("two card pages carry the same front-end token %s", tokens[0])
	}
}

func TestWebhooks(t *testing.T) {
	f := newFakeCCBill(t)
	c, clock := newTestPlugin(t, f, "")
	ctx := context.Background()
	now := ccbillTime(clock.now())

	sale := webhookJSON(t, "NewSaleSuccess", "64.38.240.20:443", map[string]any{"subscriptionId": "925014201000000206",
		"transactionId": "0312000001", "billedInitialPrice": "19.99", "billedCurrencyCode": "840", "accountingInitialPrice": "18.00",
		"accountingCurrencyCode": "978", "timestamp": now, "paymentTokenId": "ptabc", "last4": "1111", "expDate": "0130", "cardType": "VISA",
		"X-camkitCustomer": "viewer/9"})
	res, err := c.ParseWebhook(ctx, sale)
	if err != nil {
		t.Fatal(err)
	}
	ev := res.Events[0]
	if ev.Type != processor.EventSale || ev.Reference != "925014201000000206" || ev.Amount != usd(1999) || ev.CustomerRef != "viewer/9" ||
		ev.Credential == nil || ev.Credential.Last4 != "1111" || ev.Credential.ExpYear != 2030 || string(res.Response.Body) != "OK" {
		t.Fatalf("sale: %+v %+v", ev, res.Response)
	}
	// CCBill posts again until it gets a 2xx: the redelivery is accepted with
	// the same event id, for the host to drop (or record, if the first was lost).
	again, err := c.ParseWebhook(ctx, sale)
	if err != nil || len(again.Events) != 1 || again.Events[0].ID != ev.ID || string(again.Response.Body) != "OK" {
		t.Fatalf("redelivered sale: %+v, %v; want event id %q", again, err, ev.ID)
	}

	// Form-encoded chargeback, as CCBill sends when the format is set to "form".
	cb := url.Values{"subscriptionId": {"925014201000000206"}, "transactionId": {"0312000009"}, "amount": {"19.99"},
		"currency": {"USD"}, "reason": {"10.4 Other Fraud"}, "timestamp": {now}}
	res, err = c.ParseWebhook(ctx, processor.WebhookRequest{Method: http.MethodPost, RemoteAddr: "[::ffff:64.38.241.9]:80",
		Query: url.Values{"eventType": {"Chargeback"}}, Body: []byte(cb.Encode()), Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	if err != nil {
		t.Fatal(err)
	}
	ev = res.Events[0]
	if ev.Type != processor.EventChargeback || ev.RelatedReference != "925014201000000206" || ev.Amount != usd(1999) || ev.Reason != "10.4 Other Fraud" || ev.ID == "" {
		t.Fatalf("chargeback: %+v", ev)
	}

	fail := webhookJSON(t, "RenewalFailure", "64.38.212.1:1", map[string]any{"subscriptionId": "925014201000000206", "transactionId": "77",
		"failureReason": "Insufficient Funds", "failureCode": "24", "timestamp": now})
	res, err = c.ParseWebhook(ctx, fail)
	if err != nil || res.Events[0].Type != processor.EventRebill || res.Events[0].DeclineCode != errs.InsufficientFunds {
		t.Fatalf("renewal failure: %+v %v", res.Events, err)
	}
	res, err = c.ParseWebhook(ctx, webhookJSON(t, "BillingDateChange", "64.38.212.1:1", map[string]any{"subscriptionId": "925014201000000206", "timestamp": now}))
	if err != nil || len(res.Events) != 0 || res.Response.Status != 200 {
		t.Fatalf("billing date change: %+v %v", res, err)
	}

	// Never refused for its age: a redelivery days later, a clock ahead, or
	// no timestamp at all (dated on arrival) are all booked.
	for name, ts := range map[string]any{"eight days late": ccbillTime(clock.now().Add(-8 * 24 * time.Hour)),
		"a year late": ccbillTime(clock.now().AddDate(-1, 0, 0)), "two hours ahead": ccbillTime(clock.now().Add(2 * time.Hour)), "none": nil} {
		fields := map[string]any{"subscriptionId": "925014201000000206", "transactionId": "0312" + fmt.Sprint(len(name)), "amount": "1.00", "currencyCode": "840"}
		if ts != nil {
			fields["timestamp"] = ts
		}
		res, err := c.ParseWebhook(ctx, webhookJSON(t, "Refund", "64.38.212.1:1", fields))
		if err != nil || len(res.Events) != 1 || res.Events[0].Type != processor.EventRefund || res.Response.Status != 200 {
			t.Errorf("refund webhook with timestamp %s: %+v %v, want booked", name, res, err)
		}
	}

	// An upgrade is a new sale; the documented events that move no money,
	// and types CCBill may add, are acknowledged (200) and logged, not booked.
	res, err = c.ParseWebhook(ctx, webhookJSON(t, "UpgradeSuccess", "64.38.212.1:1", map[string]any{"subscriptionId": "925014201000000400",
		"originalSubscriptionId": "925014201000000206", "transactionId": "0312000400", "billedInitialPrice": "29.99", "billedCurrencyCode": "840", "timestamp": now}))
	if err != nil || len(res.Events) != 1 || res.Events[0].Type != processor.EventSale || res.Events[0].Reference != "925014201000000400" || res.Events[0].Amount != usd(2999) {
		t.Fatalf("upgrade success: %+v %v", res, err)
	}
	log := c.log.(*warnings)
	for _, typ := range []string{"UpgradeFailure", "CustomerDataUpdate", "UserReactivation", "Bonus", "SomethingNew"} {
		res, err := c.ParseWebhook(ctx, webhookJSON(t, typ, "64.38.212.1:1", map[string]any{"subscriptionId": "925014201000000206", "timestamp": now}))
		if err != nil || len(res.Events) != 0 || res.Response.Status != 200 || string(res.Response.Body) != "OK" {
			t.Errorf("%s: %+v %v, want 200 and no event", typ, res, err)
		}
		if !strings.Contains(log.all(), typ) {
			t.Errorf("%s was acknowledged without a log line for the operator", typ)
		}
	}

	bad := []struct {
		name string
		req  processor.WebhookRequest
		code errs.Code
	}{
		{"forged source", webhookJSON(t, "Refund", "203.0.113.5:443", map[string]any{"subscriptionId": "1", "transactionId": "2", "amount": "1.00", "currencyCode": "840", "timestamp": now}), errs.Unauthenticated},
		{"no source", webhookJSON(t, "Refund", "", map[string]any{"subscriptionId": "1", "transactionId": "2", "amount": "1.00", "currencyCode": "840", "timestamp": now}), errs.Unauthenticated},
		{"no amount", webhookJSON(t, "Refund", "64.38.212.1:1", map[string]any{"subscriptionId": "1", "transactionId": "4", "timestamp": now}), errs.Invalid},
		{"float noise", webhookJSON(t, "Refund", "64.38.212.1:1", map[string]any{"subscriptionId": "1", "transactionId": "5", "amount": "1.005", "currencyCode": "840", "timestamp": now}), errs.Invalid},
		{"bad subscription", webhookJSON(t, "Refund", "64.38.212.1:1", map[string]any{"subscriptionId": "abc", "transactionId": "7", "amount": "1.00", "currencyCode": "840", "timestamp": now}), errs.Invalid},
		{"unknown currency", webhookJSON(t, "Refund", "64.38.212.1:1", map[string]any{"subscriptionId": "1", "transactionId": "8", "amount": "1.00", "currencyCode": "999", "timestamp": now}), errs.UnknownCurrency},
		{"malformed JSON", processor.WebhookRequest{RemoteAddr: "64.38.212.1:1", Query: url.Values{"eventType": {"Refund"}}, Body: []byte(`{"subscriptionId":`),
			Headers: http.Header{"Content-Type": {"application/json"}}}, errs.Invalid},
	}
	for _, b := range bad {
		if _, err := c.ParseWebhook(ctx, b.req); errs.CodeOf(err) != b.code {
			t.Errorf("%s: %v, want %s", b.name, err, b.code)
		}
	}
}

func TestRedeliveredRefundWebhookIsNotedOnce(t *testing.T) {
	f := newFakeCCBill(t)
	c, clock := newTestPlugin(t, f, "")
	ctx := context.Background()
	refund := webhookJSON(t, "Refund", "64.38.212.1:1", map[string]any{"subscriptionId": "925014201000000300", "transactionId": "0312000301",
		"amount": "5.00", "currencyCode": "840", "reason": "customer request", "timestamp": ccbillTime(clock.now())})
	var ids []string
	for i := 0; i < 3; i++ {
		res, err := c.ParseWebhook(ctx, refund)
		if err != nil || len(res.Events) != 1 || res.Events[0].Type != processor.EventRefund {
			t.Fatalf("delivery %d: %+v, %v", i+1, res, err)
		}
		ids = append(ids, res.Events[0].ID)
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Fatalf("redeliveries got different event ids: %v", ids)
	}
	c.mu.Lock()
	n := len(c.st.Refunds["925014201000000300"])
	c.mu.Unlock()
	if n != 1 {
		t.Fatalf("the refund was noted %d times; one unknown refund must not be settled by three deliveries of one webhook", n)
	}
}

// CCBill's documented REST failures: an unknown payment token (404 100101)
// is a bad card and frees the key; a 500 (100103 "Transaction error.") is an
// unknown outcome: the key stays pending and its retry looks the token's
// charges up before sending again.
func TestRESTErrorCodes(t *testing.T) {
	f := newFakeCCBill(t)
	c, _ := newTestPlugin(t, f, "")
	ctx := context.Background()
	_, err := c.Charge(ctx, processor.ChargeRequest{IdempotencyKey: "bad-token", Credential: processor.StoredCredential{Token: "ptunknown"}, Amount: usd(100)})
	if errs.CodeOf(err) != errs.InvalidCard || !strings.Contains(err.Error(), "100101") {
		t.Fatalf("unknown payment token: %v", err)
	}
	c.mu.Lock()
	rec := c.st.Ops["bad-token"]
	c.mu.Unlock()
	if rec != nil {
		t.Fatalf("a 404 left a record %+v", rec)
	}
	cred := processor.StoredCredential{Token: f.CreateToken(cardUnavailable)}
	req := processor.ChargeRequest{IdempotencyKey: "five-hundred", Credential: cred, Amount: usd(100)}
	for i := 0; i < 2; i++ {
		_, err := c.Charge(ctx, req)
		if errs.CodeOf(err) != errs.Unavailable || !errs.IsRetryable(err) || !strings.Contains(err.Error(), "100103") {
			t.Fatalf("attempt %d on a 500: %v", i+1, err)
		}
		c.mu.Lock()
		rec := c.st.Ops["five-hundred"]
		c.mu.Unlock()
		if rec == nil || rec.Status != processorkit.OpPending {
			t.Fatalf("attempt %d: the 500 left %+v, want the key pending", i+1, rec)
		}
	}
	if n := len(f.ChargesOf(cred.Token)); n != 0 {
		t.Fatalf("%d charges booked", n)
	}
}
