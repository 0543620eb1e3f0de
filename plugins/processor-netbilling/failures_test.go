package main

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

func usd(minor int64) money.Money { return money.Money{Amount: minor, Currency: "USD"} }

// wantUnknownThenSettledByHand: the first answer is retryable (a retry is
// safe: it sends nothing), every retry is a final conflict, and the gateway
// saw the request once.
func wantUnknownThenSettledByHand(t *testing.T, f *fakeNB, tranType string, first error, retry func() error) {
	t.Helper()
	if !errs.IsRetryable(first) {
		t.Fatalf("first answer %v, want retryable", first)
	}
	for i := 0; i < 3; i++ {
		err := retry()
		if errs.CodeOf(err) != errs.Conflict || errs.IsRetryable(err) || !strings.Contains(err.Error(), "settle it by hand") {
			t.Fatalf("retry %d: %v, want a final conflict for the operator", i+1, err)
		}
	}
	if sent := f.Requests(tranType); sent != 1 {
		t.Fatalf("%d %s requests reached the gateway, want 1: an unknown outcome is never resent", sent, tranType)
	}
}

func TestTimeoutAfterAcceptanceChargesOnce(t *testing.T) {
	f := newFakeNB(t)
	n, _ := newTestPlugin(t, f)
	card := tokenise(t, n, f, cardApprove)
	f.Set(func() { f.DropAfterApply = true })
	req := processor.ChargeRequest{IdempotencyKey: "pack/1", Credential: card, Amount: usd(4999)}
	_, err := n.Charge(context.Background(), req)
	wantUnknownThenSettledByHand(t, f, "S", err, func() error { _, err := n.Charge(context.Background(), req); return err })
	if got := f.Count("S"); got != 1 {
		t.Fatalf("the gateway charged %d times, want once", got)
	}
}

func TestCaptureAnsweredPastTheDeadlineIsNotRepeated(t *testing.T) {
	f := newFakeNB(t)
	n, _ := newTestPlugin(t, f)
	card := tokenise(t, n, f, cardApprove)
	a, err := n.Authorize(context.Background(), processor.AuthorizeRequest{IdempotencyKey: "seat/1/auth/1", Credential: card, Amount: usd(2500)})
	if err != nil {
		t.Fatal(err)
	}
	f.Set(func() { f.CaptureDelay = 3 * time.Second })
	req := processor.CaptureRequest{IdempotencyKey: "seat/1/capture", AuthorizationReference: a.Reference, Amount: usd(2500)}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = n.Capture(ctx, req)
	cancel()
	if errs.CodeOf(err) != errs.Timeout {
		t.Fatalf("capture past the deadline: %v, want a timeout", err)
	}
	wantUnknownThenSettledByHand(t, f, "D", err, func() error {
		_, err := settled(t, func() (processor.CaptureResult, error) { return n.Capture(context.Background(), req) })
		return err
	})
	if got := f.Count("D"); got != 1 {
		t.Fatalf("the gateway captured %d times, want once", got)
	}
	// The host releases holds after a failed capture: a void of the hold
	// in doubt is refused and sends nothing, nor does another capture.
	if _, err := n.Void(context.Background(), processor.VoidRequest{IdempotencyKey: "seat/1/void", AuthorizationReference: a.Reference}); errs.CodeOf(err) != errs.Conflict || errs.IsRetryable(err) {
		t.Fatalf("void of the hold in doubt: %v, want a final conflict", err)
	}
	if _, err := n.Capture(context.Background(), processor.CaptureRequest{IdempotencyKey: "seat/1/capture-2", AuthorizationReference: a.Reference, Amount: usd(2500)}); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("another capture of the hold in doubt: %v, want conflict", err)
	}
	if f.Requests("U") != 1 || f.Requests("D") != 1 { // U: the card check's void
		t.Fatalf("sent U %d, D %d after the capture in doubt; want 1 and 1", f.Requests("U"), f.Requests("D"))
	}
}

func TestServerErrorIsAnUnknownOutcomeAndNotResent(t *testing.T) {
	f := newFakeNB(t)
	n, _ := newTestPlugin(t, f)
	card := tokenise(t, n, f, cardApprove)
	f.Set(func() { f.Fail5xx = 1 })
	req := processor.ChargeRequest{IdempotencyKey: "pack/5xx", Credential: card, Amount: usd(999)}
	_, err := n.Charge(context.Background(), req)
	wantUnknownThenSettledByHand(t, f, "S", err, func() error { _, err := n.Charge(context.Background(), req); return err })
}

func TestExceptionAfterProcessingIsNotResent(t *testing.T) {
	f := newFakeNB(t)
	n, _ := newTestPlugin(t, f)
	card := tokenise(t, n, f, cardApprove)
	f.Set(func() { f.FailStatus, f.FailTimes, f.FailAfterApply = 799, 1, true })
	req := processor.ChargeRequest{IdempotencyKey: "pack/799", Credential: card, Amount: usd(999)}
	_, err := n.Charge(context.Background(), req)
	wantUnknownThenSettledByHand(t, f, "S", err, func() error { _, err := n.Charge(context.Background(), req); return err })
	if got := f.Count("S"); got != 1 {
		t.Fatalf("the gateway charged %d times, want once", got)
	}
}

// 700-798 is a processing error: nothing was processed, so the same key
// sends the request again and it charges once.
func TestProcessingErrorIsRetriedAndChargesOnce(t *testing.T) {
	f := newFakeNB(t)
	n, _ := newTestPlugin(t, f)
	card := tokenise(t, n, f, cardApprove)
	f.Set(func() { f.FailStatus, f.FailTimes = 702, 1 })
	req := processor.ChargeRequest{IdempotencyKey: "pack/702", Credential: card, Amount: usd(999)}
	if _, err := n.Charge(context.Background(), req); errs.CodeOf(err) != errs.Unavailable || !errs.IsRetryable(err) {
		t.Fatalf("during a processing error: %v, want retryable unavailable", err)
	}
	c, err := n.Charge(context.Background(), req)
	if err != nil || c.Amount != usd(999) {
		t.Fatalf("retry: %+v, %v", c, err)
	}
	again, err := n.Charge(context.Background(), req)
	if err != nil || again != c {
		t.Fatalf("third call %+v, %v; want %+v", again, err, c)
	}
	if f.Count("S") != 1 || f.Requests("S") != 2 {
		t.Fatalf("charged %d, sent %d; want 1 and 2", f.Count("S"), f.Requests("S"))
	}
}

// 600-698 is invalid input: final, nothing moved, and the key is free again.
func TestInvalidInputAnswerIsFinalAndMovesNothing(t *testing.T) {
	f := newFakeNB(t)
	n, _ := newTestPlugin(t, f)
	card := tokenise(t, n, f, cardApprove)
	f.Set(func() { f.FailStatus, f.FailTimes = 604, 1 })
	req := processor.ChargeRequest{IdempotencyKey: "pack/604", Credential: card, Amount: usd(999)}
	if _, err := n.Charge(context.Background(), req); errs.CodeOf(err) != errs.Invalid || errs.IsRetryable(err) || !strings.Contains(err.Error(), "604") {
		t.Fatalf("a 604: %v, want final invalid", err)
	}
	if f.Count("S") != 0 {
		t.Fatal("a refused request charged")
	}
	if _, err := n.Charge(context.Background(), req); err != nil || f.Count("S") != 1 {
		t.Fatalf("after the cause is fixed: %v, %d charges", err, f.Count("S"))
	}
}

func TestDeclineStatusCodes(t *testing.T) {
	f := newFakeNB(t)
	n, _ := newTestPlugin(t, f)
	for card, want := range map[string]errs.Code{cardDecline: errs.Declined, cardInsufficient: errs.InsufficientFunds, cardExpired: errs.ExpiredCard, fakeCardFailed: errs.Declined} {
		c := tokenise(t, n, f, card)
		key := uniq("decline")
		for i := 0; i < 2; i++ { // a decline is recorded: the retry answers it again
			_, err := n.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: key, Credential: c, Amount: usd(500)})
			if errs.CodeOf(err) != want || errs.IsRetryable(err) {
				t.Errorf("card %s, try %d: %v, want final %s", card, i+1, err, want)
			}
		}
	}
	if f.Count("S") != 0 || f.Requests("S") != 4 {
		t.Fatalf("charged %d, sent %d; want 0 and 4", f.Count("S"), f.Requests("S"))
	}
}

// Documented: any status code but 0 and F is a successful transaction.
func TestUnlistedStatusCodesAreSuccesses(t *testing.T) {
	f := newFakeNB(t)
	n, _, log := newLoggedPlugin(t, f)
	card := tokenise(t, n, f, cardApprove)
	for _, code := range []string{"1", "I", "D", "Q"} {
		f.Set(func() { f.ApproveWith = code })
		key := uniq("status-" + code)
		c, err := n.Charge(context.Background(), processor.ChargeRequest{IdempotencyKey: key, Credential: card, Amount: usd(700)})
		if err != nil || c.Reference == "" || c.Amount != usd(700) {
			t.Errorf("status_code %s: %+v, %v; want a charge", code, c, err)
		}
	}
	if got := log.count("taken as a success"); got != 3 {
		t.Fatalf("%d warnings for unusual status codes, want 3 (I, D, Q)", got)
	}
	if f.Requests("S") != 4 {
		t.Fatalf("%d sales sent, want 4", f.Requests("S"))
	}
}

// The fake's D captures the whole hold whatever amount says (no document
// says otherwise): a price below the hold must still cost exactly the price.
func TestCaptureBelowTheHoldChargesExactlyThePrice(t *testing.T) {
	f := newFakeNB(t)
	n, _ := newTestPlugin(t, f)
	ctx := context.Background()
	card := tokenise(t, n, f, cardApprove)
	a, err := n.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "seat/9/auth/1", Credential: card, Amount: usd(2500)})
	if err != nil {
		t.Fatal(err)
	}
	req := processor.CaptureRequest{IdempotencyKey: "seat/9/capture", AuthorizationReference: a.Reference, Amount: usd(1800)}
	c, err := n.Capture(ctx, req)
	if err != nil || c.Amount != usd(1800) || c.Released != usd(700) || c.Reference == "" {
		t.Fatalf("capture: %+v, %v", c, err)
	}
	again, err := n.Capture(ctx, req)
	if err != nil || again != c {
		t.Fatalf("repeat: %+v, %v; want %+v", again, err, c)
	}
	f.Mu.Lock()
	var charged int64
	for _, tx := range f.Txns {
		if tx.Card == cardApprove && (tx.Type == "S" || tx.Type == "D") {
			charged += tx.Captured
		}
	}
	hold := f.Txns[a.Reference]
	f.Mu.Unlock()
	if charged != 1800 || hold == nil || !hold.Voided || hold.Captured != 0 {
		t.Fatalf("the card paid %d (hold %+v); want exactly 1800 and the hold voided", charged, hold)
	}
	// U: the tokenising card check's void and the hold's.
	if f.Requests("D") != 0 || f.Requests("U") != 2 || f.Requests("S") != 1 {
		t.Fatalf("sent D %d, U %d, S %d; want 0, 2, 1", f.Requests("D"), f.Requests("U"), f.Requests("S"))
	}
	if _, err := n.Void(ctx, processor.VoidRequest{IdempotencyKey: "seat/9/void", AuthorizationReference: a.Reference}); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("a void after the capture: %v, want conflict", err)
	}
	if _, err := n.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "seat/9/capture", AuthorizationReference: a.Reference, Amount: usd(1700)}); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("the key with another amount: %v, want conflict", err)
	}
	if _, err := n.Refund(ctx, processor.RefundRequest{IdempotencyKey: "seat/9/refund", Reference: c.Reference, Amount: usd(1800)}); err != nil {
		t.Fatalf("refund of the sale that captured: %v", err)
	}

	// The whole hold is a plain D.
	b, err := n.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "seat/10/auth/1", Credential: card, Amount: usd(1200)})
	if err != nil {
		t.Fatal(err)
	}
	w, err := n.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "seat/10/capture", AuthorizationReference: b.Reference, Amount: usd(1200)})
	if err != nil || w.Amount != usd(1200) || w.Released != usd(0) || f.Count("D") != 1 {
		t.Fatalf("whole capture: %+v, %v, %d captures", w, err, f.Count("D"))
	}
}

func startPurchase(t *testing.T, n *NETbilling, amount money.Money) processor.Checkout {
	t.Helper()
	co, err := n.StartCheckout(context.Background(), processor.StartCheckoutRequest{IdempotencyKey: uniq("co"), CustomerRef: "viewer/7",
		ReturnURL: "https://camkit.test/return", Purchase: &amount})
	if err != nil {
		t.Fatal(err)
	}
	return co
}

// The hashes concatenate fields without separators: moving a character
// from the total to the order id keeps them valid. Such an answer names no
// checkout of the plugin: acknowledged, logged, no event.
func TestPostbackWithShiftedFieldBoundariesGivesNoEvent(t *testing.T) {
	f := newFakeNB(t)
	n, _, log := newLoggedPlugin(t, f)
	co := startPurchase(t, n, usd(1999))
	genuine := f.Pay(co.Fields, cardApprove)
	forged := urlValues(map[string][]string{})
	for k, v := range genuine {
		forged[k] = append([]string(nil), v...)
	}
	forged.Set("Ecom_Cost_Total", "19.9")
	forged.Set("Ecom_ConsumerOrderID", "9"+co.Reference)
	if fuzzAuthentic(f.Key, forged) != true {
		t.Fatal("the forgery should carry valid hashes")
	}
	res, err := n.ParseWebhook(context.Background(), postback(forged))
	if err != nil || len(res.Events) != 0 || res.Response.Status != http.StatusOK {
		t.Fatalf("forged postback: %+v, %v; want 200 and no event", res, err)
	}
	if log.count("matches no checkout") != 1 {
		t.Fatalf("warnings %v", log.msgs)
	}
	res, err = n.ParseWebhook(context.Background(), postback(genuine))
	if err != nil || len(res.Events) != 1 || res.Events[0].Amount != usd(1999) || res.Events[0].CheckoutReference != co.Reference || res.Events[0].Type != processor.EventSale {
		t.Fatalf("genuine postback: %+v, %v", res, err)
	}
}

func TestPostbackForAnOrderThisPluginNeverStartedIsAcknowledged(t *testing.T) {
	f := newFakeNB(t)
	n, clock, log := newLoggedPlugin(t, f)
	res, err := n.ParseWebhook(context.Background(), postback(f.Postback("ck1", "SALE", "19.99", clock.t)))
	if err != nil || len(res.Events) != 0 || res.Response.Status != http.StatusOK || log.count("matches no checkout") != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	// NETbilling documents no refund or chargeback postback: such a type is
	// not an answer to a form of this plugin.
	if _, err := n.ParseWebhook(context.Background(), postback(f.Postback("ck2", "REFUND", "19.99", clock.t))); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("a REFUND postback: %v, want invalid", err)
	}
}

// NETbilling redelivers; answers arrive late and out of order. An old
// redelivery is accepted with the same event id; a second answer for a
// checkout another transaction completed gives no event and changes nothing.
func TestPostbacksRedeliveredLateAndOutOfOrder(t *testing.T) {
	f := newFakeNB(t)
	n, clock, _ := newLoggedPlugin(t, f)
	ctx := context.Background()
	co := startPurchase(t, n, usd(2999))
	approved := f.Pay(co.Fields, cardApprove)
	first, err := n.ParseWebhook(ctx, postback(approved))
	if err != nil || len(first.Events) != 1 {
		t.Fatalf("first delivery: %+v, %v", first, err)
	}
	clock.t = clock.t.Add(30 * 24 * time.Hour)
	again, err := n.ParseWebhook(ctx, postback(approved))
	if err != nil || len(again.Events) != 1 || !reflect.DeepEqual(again.Events[0], first.Events[0]) {
		t.Fatalf("a redelivery a month later: %+v, %v; want the same event %+v", again, err, first.Events[0])
	}
	// A decline from an earlier attempt on the same form arrives after the approval.
	late := f.Pay(co.Fields, cardFormDecline)
	res, err := n.ParseWebhook(ctx, postback(late))
	if err != nil || len(res.Events) != 0 {
		t.Fatalf("a late decline: %+v, %v; want acknowledged without an event", res, err)
	}
	done, err := n.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/7"})
	if err != nil || done.Charge == nil || done.Charge.Reference != approved.Get("Ecom_Ezic_Response_TransactionID") {
		t.Fatalf("the checkout after the late decline: %+v, %v", done, err)
	}
	// The server postback after the viewer's return: one event, the same one.
	co2 := startPurchase(t, n, usd(500))
	back := f.Pay(co2.Fields, cardApprove)
	if r, _ := n.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: "/pay/netbilling/return", Body: []byte(back.Encode())}); r.Status != http.StatusSeeOther {
		t.Fatalf("return: %d", r.Status)
	}
	res, err = n.ParseWebhook(ctx, postback(back))
	if err != nil || len(res.Events) != 1 || res.Events[0].Amount != usd(500) || res.Events[0].ID != back.Get("Ecom_Ezic_Response_TransactionID") {
		t.Fatalf("postback after the return: %+v, %v", res, err)
	}
	// An answer without its issue date still counts.
	co3 := startPurchase(t, n, usd(600))
	noDate := f.Pay(co3.Fields, cardApprove)
	noDate.Del("Ecom_Ezic_Response_IssueDate")
	if res, err := n.ParseWebhook(ctx, postback(noDate)); err != nil || len(res.Events) != 1 || !res.Events[0].OccurredAt.Equal(clock.t) {
		t.Fatalf("no issue date: %+v, %v", res, err)
	}
}

// Authentication stays: an answer whose hashes do not check out is refused,
// whatever it claims.
func TestForgedPostbacksAreRefused(t *testing.T) {
	f := newFakeNB(t)
	n, _ := newTestPlugin(t, f)
	co := startPurchase(t, n, usd(1999))
	genuine := f.Pay(co.Fields, cardApprove)
	forge := func(change func(v map[string][]string)) map[string][]string {
		v := map[string][]string{}
		for k, x := range genuine {
			v[k] = append([]string(nil), x...)
		}
		change(v)
		return v
	}
	for name, v := range map[string]map[string][]string{
		"amount changed":        forge(func(v map[string][]string) { v["Ecom_Cost_Total"] = []string{"1999.00"} }),
		"status flipped":        forge(func(v map[string][]string) { v["Ecom_Ezic_Response_StatusCode"] = []string{"0"} }),
		"no proof of purchase":  forge(func(v map[string][]string) { delete(v, "Ecom_Ezic_ProofOfPurchase_MD5") }),
		"made-up transaction":   forge(func(v map[string][]string) { v["Ecom_Ezic_Response_TransactionID"] = []string{"999999999999"} }),
		"unsigned copy differs": forge(func(v map[string][]string) { v["Ecom_Ezic_TransactionId"] = []string{"1"} }),
		"hash not covering the amount": forge(func(v map[string][]string) {
			v["Ecom_Ezic_Security_HashFields"] = []string{"Ecom_Ezic_AccountAndSitetag Ecom_ConsumerOrderID"}
		}),
		"wrong key": forge(func(v map[string][]string) {
			v["Ecom_Ezic_ProofOfPurchase_MD5"] = []string{md5Hex("another-key", genuine.Get("Ecom_Ezic_Response_TransactionID"))}
		}),
	} {
		if res, err := n.ParseWebhook(context.Background(), postback(urlValues(v))); errs.CodeOf(err) != errs.Unauthenticated {
			t.Errorf("%s: %+v, %v; want unauthenticated", name, res, err)
		}
	}
	if res, err := n.CompleteCheckout(context.Background(), processor.CompleteCheckoutRequest{CheckoutReference: co.Reference}); err != nil || !res.Pending {
		t.Fatalf("a forgery completed the checkout: %+v, %v", res, err)
	}
}

// A decline, then an approval on the same form (the viewer tried another
// card): the approval completes the checkout and gives its sale.
func TestApprovalAfterADeclineCompletesTheCheckout(t *testing.T) {
	f := newFakeNB(t)
	n, _ := newTestPlugin(t, f)
	ctx := context.Background()
	co := startPurchase(t, n, usd(1500))
	declined := f.Pay(co.Fields, cardFormDecline)
	res, err := n.ParseWebhook(ctx, postback(declined))
	if err != nil || len(res.Events) != 1 || res.Events[0].DeclineCode != errs.Declined || res.Events[0].Credential != nil {
		t.Fatalf("the decline: %+v, %v", res, err)
	}
	approved := f.Pay(co.Fields, cardApprove)
	res, err = n.ParseWebhook(ctx, postback(approved))
	id := approved.Get("Ecom_Ezic_Response_TransactionID")
	if err != nil || len(res.Events) != 1 || res.Events[0].Type != processor.EventSale || res.Events[0].ID != id || res.Events[0].DeclineCode != "" {
		t.Fatalf("the approval: %+v, %v", res, err)
	}
	done, err := n.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/7"})
	if err != nil || done.Charge == nil || done.Charge.Reference != id || done.Charge.Amount != usd(1500) {
		t.Fatalf("CompleteCheckout: %+v, %v", done, err)
	}
	// The decline redelivered afterwards changes nothing.
	if res, err := n.ParseWebhook(ctx, postback(declined)); err != nil || len(res.Events) != 0 {
		t.Fatalf("the decline again: %+v, %v", res, err)
	}
	if done, err := n.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer/7"}); err != nil || done.Charge == nil || done.Charge.Reference != id {
		t.Fatalf("after the redelivered decline: %+v, %v", done, err)
	}
}
