package billing_test

import (
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
)

// Events for unknown or closed seats, out of order, from the future, or of
// the wrong kind are refused with a typed error and change nothing.
func TestBadInput_EventsForUnknownClosedOrOutOfOrder_RefusedAndNothingChanges(t *testing.T) {
	v := newEnv(t)
	info := v.openCard("seat1", cardOK, stdPolicy())
	t0 := info.OpenedAt
	err := v.eng.Liveness("nope", meter.Event{Kind: meter.ViewerConnected, At: t0})
	wantCode(t, err, errs.NotFound, "nope")
	v.bothLive("seat1")
	v.clk.Advance(30 * time.Second)
	// A gain stamped before the last accepted event.
	v.live("seat1", meter.ViewerDisconnected, t0.Add(20*time.Second))
	err = v.eng.Liveness("seat1", meter.Event{Kind: meter.ViewerConnected, At: t0.Add(10 * time.Second)})
	wantCode(t, err, errs.Invalid, "earlier")
	// Connected twice.
	v.live("seat1", meter.ViewerConnected, v.clk.Now())
	err = v.eng.Liveness("seat1", meter.Event{Kind: meter.ViewerConnected, At: v.clk.Now()})
	wantCode(t, err, errs.Conflict, "")
	// From the future.
	err = v.eng.Liveness("seat1", meter.Event{Kind: meter.ModelMediaStopped, At: v.clk.Now().Add(time.Minute)})
	wantCode(t, err, errs.Invalid, "ahead of the clock")
	// Not a liveness event.
	err = v.eng.Liveness("seat1", meter.Event{Kind: meter.SeatClosed, At: v.clk.Now()})
	wantCode(t, err, errs.Invalid, "not a liveness event")
	v.clk.Advance(10 * time.Second)
	r := v.end("seat1")
	v.assertReceiptCovers(r, 30, cents(60)) // 20 s + 10 s: the refused events changed nothing
	err = v.eng.Liveness("seat1", meter.Event{Kind: meter.ViewerDisconnected, At: v.clk.Now()})
	wantCode(t, err, errs.Conflict, "settled")
	// Ending it again is not an error: the same receipt, nothing moved twice.
	again, err := v.eng.EndSeat(v.ctx, "seat1", billing.ClosedByModel)
	must(t, err)
	if !again.Settled || again.Receipt.SettledAt != r.SettledAt || again.Receipt.CloseReason != billing.ClosedByViewer {
		t.Fatalf("second end %+v, want the first end's receipt", again)
	}
	v.verifyLedger()
}

// Malformed seat requests are refused before anything is held or written.
func TestBadInput_MalformedSeatRequests_RefusedBeforeAnythingIsHeld(t *testing.T) {
	v := newEnv(t)
	cred := v.card(cardOK)
	good := billing.OpenRequest{SeatID: "seat1", ShowID: "show1", Kind: split.KindPrivate, ViewerID: "v1", ModelID: "m1",
		Policy: stdPolicy(), Funding: billing.Funding{Processor: "sandbox", Credential: cred}}
	for name, tc := range map[string]struct {
		mod  func(*billing.OpenRequest)
		code errs.Code
	}{
		"viewer id with a colon":   {func(r *billing.OpenRequest) { r.ViewerID = "v:1" }, errs.Invalid},
		"no model":                 {func(r *billing.OpenRequest) { r.ModelID = "" }, errs.Invalid},
		"tip is not a seat":        {func(r *billing.OpenRequest) { r.Kind = split.KindTip }, errs.Invalid},
		"zero rate":                {func(r *billing.OpenRequest) { r.Policy.RatePerMinute.Amount = 0 }, errs.Invalid},
		"unknown processor":        {func(r *billing.OpenRequest) { r.Funding.Processor = "other" }, errs.NotFound},
		"no credential":            {func(r *billing.OpenRequest) { r.Funding.Credential = nil }, errs.Invalid},
		"credential, no processor": {func(r *billing.OpenRequest) { r.Funding.Processor = "" }, errs.Invalid},
	} {
		req := good
		tc.mod(&req)
		if _, err := v.eng.OpenSeat(v.ctx, req); errs.CodeOf(err) != tc.code {
			t.Errorf("%s: got %v, want %s", name, err, tc.code)
		}
	}
	if v.proc.count("authorize") != 0 {
		t.Fatal("a refused request reached the processor")
	}
	var n int
	must(t, v.db.SQL().QueryRowContext(v.ctx, `SELECT count(*) FROM billing_seats`).Scan(&n))
	if n != 0 {
		t.Fatalf("%d seats written", n)
	}
	if _, err := v.eng.OpenSeat(v.ctx, good); err != nil {
		t.Fatal(err)
	}
	_, err := v.eng.OpenSeat(v.ctx, good)
	wantCode(t, err, errs.Conflict, "exists")
}

// A processor that authorises another amount than asked: the seat does not
// open, nothing is recorded as held, and the stray hold is voided.
func TestProcessorReportsOtherAmountAtOpen_RejectedNothingCharged(t *testing.T) {
	v := newEnv(t)
	v.proc.misreport("authorize", cents(599))
	_, err := v.eng.OpenSeat(v.ctx, billing.OpenRequest{SeatID: "seat1", ShowID: "show1", Kind: split.KindPrivate, ViewerID: "v1",
		ModelID: "m1", Policy: stdPolicy(), Funding: billing.Funding{Processor: "sandbox", Credential: v.card(cardOK)}})
	wantCode(t, err, errs.Internal, "moved")
	if v.eng.OpenSeats() != 0 {
		t.Fatal("the seat is metered")
	}
	r := v.receipt("seat1")
	if r.Price.Amount != 0 || r.Funded.Amount != 0 || len(r.LedgerTransfers) != 0 || r.CloseReason != billing.ClosedFundingRejected {
		t.Fatalf("receipt %+v", r)
	}
	var voided bool
	for _, c := range r.ProcessorCalls {
		if c.Op == "authorize" && c.State != "rejected" {
			t.Fatalf("authorisation %+v recorded as %s", c, c.State)
		}
		voided = voided || (c.Op == "void" && c.State == "succeeded")
	}
	if !voided {
		t.Fatalf("the stray hold was not voided: %+v", r.ProcessorCalls)
	}
	// At the sandbox the authorisation is released.
	_, err = v.sbx.Void(v.ctx, processor.VoidRequest{IdempotencyKey: "probe", AuthorizationReference: r.ProcessorCalls[0].Reference})
	wantCode(t, err, errs.Conflict, "voided")
	v.verifyLedger()
}

// A processor that captures another amount (or currency) than asked: the
// settlement stops for an operator, and nothing is booked as moved.
func TestProcessorReportsOtherCurrencyAtCapture_SettlementStopsNothingBooked(t *testing.T) {
	v := newEnv(t)
	v.openCard("seat1", cardOK, stdPolicy())
	v.bothLive("seat1")
	v.clk.Advance(60 * time.Second)
	v.proc.misreport("capture", money.Money{Amount: 120, Currency: "EUR"})
	_, err := v.eng.EndSeat(v.ctx, "seat1", billing.ClosedByViewer)
	wantCode(t, err, errs.Internal, "moved")
	if st, _ := v.eng.SeatState(v.ctx, "seat1"); st != "failed" {
		t.Fatalf("seat %s, want failed for an operator", st)
	}
	// Ending it again answers the same; the receipt says an operator looks,
	// without the internals (its message reaches people).
	_, again := v.eng.EndSeat(v.ctx, "seat1", billing.ClosedByViewer)
	if again == nil || again.Error() != err.Error() {
		t.Fatalf("second end: %v, want the first end's %v", again, err)
	}
	_, err = v.eng.Receipt(v.ctx, "seat1")
	wantCode(t, err, errs.Conflict, "operator")
	if strings.Contains(err.Error(), "moved") {
		t.Fatalf("the receipt error names the internal cause: %v", err)
	}
	rep, err := v.led.Verify(v.ctx)
	must(t, err)
	if rep.Transfers != 0 {
		t.Fatalf("%d ledger transfers booked for a capture that did not match", rep.Transfers)
	}
	// Recovery leaves a failed seat alone.
	v.restart()
	if rep, err := v.eng.Recover(v.ctx); err != nil || rep != (billing.RecoveryReport{}) {
		t.Fatalf("recovery %+v %v", rep, err)
	}
}
