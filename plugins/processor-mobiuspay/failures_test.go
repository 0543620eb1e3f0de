package main

import (
	"context"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

func usd(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }

// queriedOrder reports whether query.php was asked about orderID.
func queriedOrder(f *fakeNMI, orderID string) bool {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	for _, q := range f.Queries {
		if q.Get("order_id") == orderID {
			return true
		}
	}
	return false
}

// NMI charged, but its answer never arrived: the retry under the same key
// looks the order up with query.php (the orderid is derived from the key)
// and returns the charge it finds; nothing is sent twice.
func TestChargeTimeoutAfterAcceptanceIsLookedUpNotResent(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, _ := newTestPlugin(t, f)
	card := tokenise(t, m, f, cardApprove)
	f.Set(func() { f.Late["sale"] = 3 * time.Second })
	req := processor.ChargeRequest{IdempotencyKey: "wallet/9/pack/1", Credential: card, Amount: usd(2999)}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := m.Charge(ctx, req)
	cancel()
	if !errs.IsRetryable(err) {
		t.Fatalf("charge whose answer was lost: %v, want retryable", err)
	}
	if f.Count("sale") != 1 {
		t.Fatalf("the gateway charged %d times before its answer was lost, want 1", f.Count("sale"))
	}
	f.Set(func() { delete(f.Late, "sale") })
	c, err := settled(t, func() (processor.ChargeResult, error) { return m.Charge(context.Background(), req) })
	if err != nil || c.Amount != usd(2999) {
		t.Fatalf("retry: %+v, %v", c, err)
	}
	orderID := orderIDFor(req.IdempotencyKey)
	tx, ok := f.Tx(c.Reference)
	if !ok || tx.OrderID != orderID || !queriedOrder(f, orderID) {
		t.Fatalf("the retry returned %s (%+v); want the first sale, found by its orderid %s with query.php", c.Reference, tx, orderID)
	}
	if n, sent := f.Count("sale"), f.Requests("sale"); n != 1 || sent != 1 {
		t.Fatalf("sales %d, sale requests %d: want 1 and 1", n, sent)
	}
}

// The same for a refund: the retry finds the refund by its orderid.
func TestRefundTimeoutAfterAcceptanceIsLookedUpNotResent(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, _ := newTestPlugin(t, f)
	card := tokenise(t, m, f, cardApprove)
	sale, err := m.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: "s/1", Credential: card, Amount: usd(1000)})
	if err != nil {
		t.Fatal(err)
	}
	f.Set(func() { f.Late["refund"] = 3 * time.Second })
	req := processor.RefundRequest{IdempotencyKey: "s/1/refund", Reference: sale.Reference, Amount: usd(400)}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = m.Refund(ctx, req)
	cancel()
	if !errs.IsRetryable(err) {
		t.Fatalf("refund whose answer was lost: %v", err)
	}
	f.Set(func() { delete(f.Late, "refund") })
	r, err := settled(t, func() (processor.RefundResult, error) { return m.Refund(context.Background(), req) })
	if err != nil || r.Amount != usd(400) || r.Reference == "" {
		t.Fatalf("retry: %+v, %v", r, err)
	}
	if n, sent := f.Count("refund"), f.Requests("refund"); n != 1 || sent != 1 {
		t.Fatalf("refunds %d, refund requests %d: want 1 and 1", n, sent)
	}
	if tx, _ := f.Tx(sale.Reference); tx.Refunded != 400 {
		t.Fatalf("the gateway refunded %d of the sale", tx.Refunded)
	}
}

// A 5xx leaves the capture's outcome unknown: the retry asks query.php,
// finds no capture on the authorisation and sends it, once.
func TestCaptureAfter5xxIsLookedUpThenSentOnce(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, _ := newTestPlugin(t, f)
	card := tokenise(t, m, f, cardApprove)
	a, err := m.Authorize(context.Background(), processor.AuthorizeRequest{IdempotencyKey: "seat/5/auth/1", Credential: card, Amount: usd(2500)})
	if err != nil {
		t.Fatal(err)
	}
	f.Set(func() { f.Fail5xx = 1 })
	req := processor.CaptureRequest{IdempotencyKey: "seat/5/capture", AuthorizationReference: a.Reference, Amount: usd(2000)}
	if _, err := m.Capture(context.Background(), req); errs.CodeOf(err) != errs.Unavailable || !errs.IsRetryable(err) {
		t.Fatalf("capture during a 502: %v", err)
	}
	c, err := m.Capture(context.Background(), req)
	if err != nil || c.Amount != usd(2000) || c.Released != usd(500) {
		t.Fatalf("retry: %+v, %v", c, err)
	}
	if n, sent := f.Count("capture"), f.Requests("capture"); n != 1 || sent != 2 {
		t.Fatalf("captures %d, capture requests %d: want 1 applied of 2 sent (the 502 did nothing)", n, sent)
	}
}

// Every documented response_code reaches the host as the errs code its
// meaning calls for; only the processor-communication errors are
// retryable, and a decline is final under its key.
func TestDocumentedResponseCodesMapToErrsCodes(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, _ := newTestPlugin(t, f)
	card := tokenise(t, m, f, cardApprove)
	want := map[string]errs.Code{
		"200": errs.Declined, "201": errs.Declined, "202": errs.InsufficientFunds, "203": errs.InsufficientFunds, "204": errs.Declined,
		"220": errs.InvalidCard, "221": errs.InvalidCard, "222": errs.InvalidCard, "223": errs.ExpiredCard, "224": errs.InvalidCard,
		"225": errs.InvalidCard, "226": errs.InvalidCard, "240": errs.Declined, "250": errs.FraudSuspected, "251": errs.FraudSuspected,
		"252": errs.FraudSuspected, "253": errs.FraudSuspected, "260": errs.Declined, "261": errs.Declined, "262": errs.Declined,
		"263": errs.InvalidCard, "264": errs.Declined, "300": errs.Invalid, "400": errs.Invalid, "410": errs.Forbidden, "411": errs.Forbidden,
		"420": errs.Unavailable, "421": errs.Unavailable, "430": errs.Conflict, "440": errs.Invalid, "441": errs.Invalid,
		"460": errs.Unsupported, "461": errs.InvalidCard,
	}
	for code, wantCode := range want {
		f.Set(func() { f.NextCode = code })
		req := processor.ChargeRequest{IdempotencyKey: "codes/" + code, Credential: card, Amount: usd(100)}
		_, err := m.Charge(context.Background(), req)
		retry := code == "420" || code == "421"
		if errs.CodeOf(err) != wantCode || errs.IsRetryable(err) != retry {
			t.Errorf("response_code %s: %v; want %s (retryable %v)", code, err, wantCode, retry)
			continue
		}
		sent := f.Requests("sale")
		again, err2 := m.Charge(context.Background(), req)
		switch {
		case errs.IsDecline(err):
			// Recorded: the same key answers the same decline, sends nothing.
			if errs.CodeOf(err2) != wantCode || f.Requests("sale") != sent {
				t.Errorf("response_code %s repeated: %v, %d more requests", code, err2, f.Requests("sale")-sent)
			}
		case retry:
			// The processor was not reached: the retry looks the order up,
			// finds the failed attempt moved nothing and sends it again.
			if err2 != nil || again.Amount != usd(100) || f.Requests("sale") != sent+1 || !queriedOrder(f, orderIDFor(req.IdempotencyKey)) {
				t.Errorf("response_code %s retried: %+v, %v", code, again, err2)
			}
		}
	}
}

// NMI captures any amount up to the authorisation and releases the rest:
// the plugin reports the release, refuses a second capture and a void of
// the captured hold locally (nothing reaches the gateway), and refunds at
// most what was captured.
func TestPartialCaptureReleasesTheRest(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, _ := newTestPlugin(t, f)
	ctx := context.Background()
	card := tokenise(t, m, f, cardApprove)
	a, err := m.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "seat/7/auth/1", Credential: card, Amount: usd(2500)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "seat/7/over", AuthorizationReference: a.Reference, Amount: usd(2501)}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("capture above the hold: %v", err)
	}
	c, err := m.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "seat/7/capture", AuthorizationReference: a.Reference, Amount: usd(1234)})
	if err != nil || c.Amount != usd(1234) || c.Released != usd(1266) || c.Reference != a.Reference {
		t.Fatalf("partial capture: %+v, %v", c, err)
	}
	if tx, _ := f.Tx(a.Reference); tx.Captured != 1234 || tx.Amount != 2500 {
		t.Fatalf("the gateway captured %d of %d", tx.Captured, tx.Amount)
	}
	sent := len(f.Log)
	if _, err := m.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "seat/7/capture/2", AuthorizationReference: a.Reference, Amount: usd(100)}); errs.CodeOf(err) != errs.Conflict {
		t.Errorf("a second capture: %v", err)
	}
	if _, err := m.Void(ctx, processor.VoidRequest{IdempotencyKey: "seat/7/void", AuthorizationReference: a.Reference}); errs.CodeOf(err) != errs.Conflict {
		t.Errorf("a void after the capture: %v", err)
	}
	if _, err := m.Refund(ctx, processor.RefundRequest{IdempotencyKey: "seat/7/refund/big", Reference: c.Reference, Amount: usd(1235)}); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("refund above the capture: %v", err)
	}
	if len(f.Log) != sent {
		t.Fatalf("%d refused requests reached the gateway", len(f.Log)-sent)
	}
	if r, err := m.Refund(ctx, processor.RefundRequest{IdempotencyKey: "seat/7/refund", Reference: c.Reference, Amount: usd(1234)}); err != nil || r.Amount != usd(1234) {
		t.Fatalf("refund of the capture: %+v, %v", r, err)
	}
}
