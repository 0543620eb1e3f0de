package billing_test

import (
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/split"
)

// DESIGN.md: "Pre-authorised time runs out before the next authorisation
// lands: extend early; if it fails, end on time. Never unmetered." The card
// approves its first hold and declines every extension: the seat warns,
// retries, and ends exactly when the 300 funded seconds are used.
func TestPreauthorisedTimeRunsOut_ExtensionDeclinedAtLead_SeatEndsExactlyWhenFundingRunsOut(t *testing.T) {
	v := newEnv(t)
	info := v.openCard("seat1", cardFirstOnly, stdPolicy())
	t0 := info.OpenedAt
	if info.FundedSeconds != 300 || info.Funded != cents(600) || info.Strategy != billing.CardHold {
		t.Fatalf("opened %+v", info)
	}
	v.bothLive("seat1")
	v.clk.Advance(240 * time.Second) // funded time left = lead: the extension is tried
	warn := v.events.of("seat1", billing.EventFundingWarning)
	if len(warn) != 1 || warn[0].Code != errs.Declined || warn[0].Attempt != 1 {
		t.Fatalf("warnings after the lead: %+v", warn)
	}
	// A pause stretches funded time in wall-clock terms; billable time is what counts.
	v.clk.Advance(10 * time.Second)
	v.live("seat1", meter.ViewerDisconnected, t0.Add(250*time.Second))
	v.clk.Advance(20 * time.Second)
	v.live("seat1", meter.ViewerConnected, v.clk.Now()) // t0+270
	v.clk.Advance(10 * time.Minute)
	r := v.receipt("seat1")
	if r.CloseReason != billing.ClosedFundingExhausted || !r.ClosedAt.Equal(t0.Add(320*time.Second)) {
		t.Fatalf("closed %v at t0+%v, want funding_exhausted at t0+320s", r.CloseReason, r.ClosedAt.Sub(t0))
	}
	v.assertReceiptCovers(r, 300, cents(600))
	if len(v.events.of("seat1", billing.EventFundingWarning)) < 2 {
		t.Fatal("the failed extension was not retried")
	}
	auths := 0
	for _, c := range r.ProcessorCalls {
		if c.Op == "authorize" {
			auths++
			if c.Amount != cents(600) && (c.Amount != cents(1200) || c.State != "declined") {
				t.Fatalf("authorisation %+v", c)
			}
		}
	}
	if auths < 3 {
		t.Fatalf("%d authorisations, want the first and at least two declined extensions", auths)
	}
	if c := captureOf(t, r); c.Amount != cents(600) {
		t.Fatalf("captured %v, want all 600 funded", c.Amount)
	}
	v.assertHoldsClosed(r)
	v.verifyLedger()
}

// The extension's first try fails (the processor is unreachable); the
// retry lands before funded time runs out and the seat goes on, on one
// hold: the previous authorisation is voided.
func TestPreauthorisedTimeRunsOut_ExtensionRetryLandsJustInTime_SeatContinuesOnOneHold(t *testing.T) {
	v := newEnv(t)
	v.openCard("seat1", cardOK, stdPolicy())
	v.bothLive("seat1")
	v.proc.failNext("authorize", errDown, errDown, errDown, errDown)
	v.clk.Advance(240 * time.Second)
	// Tries at t0+240, +242, +246 and +254 fail (backoff 2, 4, 8 s); the
	// fifth, 16 s later at t0+270, lands 30 s before funding would run out.
	v.clk.Advance(29 * time.Second)
	if n := len(v.events.of("seat1", billing.EventFundingExtended)); n != 0 {
		t.Fatalf("extended before the fifth attempt (%d)", n)
	}
	v.clk.Advance(2 * time.Second)
	ext := v.events.of("seat1", billing.EventFundingExtended)
	if len(ext) != 1 || ext[0].Funded != cents(1200) || ext[0].FundedSeconds != 600 {
		t.Fatalf("extensions %+v", ext)
	}
	if w := v.events.of("seat1", billing.EventFundingWarning); len(w) != 4 || w[3].Attempt != 4 || w[0].Code != errs.Unavailable {
		t.Fatalf("warnings %+v", w)
	}
	v.clk.Advance(200 * time.Second) // t0+471: past the first block
	r := v.end("seat1")
	v.assertReceiptCovers(r, 471, cents(942))
	if r.Funded != cents(1200) {
		t.Fatalf("funded %v", r.Funded)
	}
	// Every failed attempt reused the same key: exactly one auth/2.
	var keys []string
	for _, c := range r.ProcessorCalls {
		keys = append(keys, c.Key+":"+c.State)
	}
	want := []string{"seat/seat1/auth/1:succeeded", "seat/seat1/auth/2:succeeded", "seat/seat1/void/1:succeeded", "seat/seat1/capture:succeeded"}
	if len(keys) != len(want) {
		t.Fatalf("processor calls %v, want %v", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Fatalf("processor calls %v, want %v", keys, want)
		}
	}
	if c := captureOf(t, r); c.Amount != cents(942) {
		t.Fatal(c)
	}
	v.assertHoldsClosed(r)
	v.verifyLedger()
}

// Long shows chain extensions: each one authorises the cumulative ceiling
// and voids the previous hold.
func TestLongShow_CumulativeReauthorisationKeepsOneHoldOpen(t *testing.T) {
	v := newEnv(t)
	v.openCard("seat1", cardOK, stdPolicy())
	v.bothLive("seat1")
	v.clk.Advance(17 * time.Minute)
	r := v.end("seat1")
	v.assertReceiptCovers(r, 1020, cents(2040))
	if r.Funded != cents(2400) { // 4 blocks: extended at 240, 540, 840 s
		t.Fatalf("funded %v", r.Funded)
	}
	open := 0
	for _, f := range r.Funding {
		if f.Status == "open" {
			open++
		}
	}
	if open != 0 || len(r.Funding) != 4 || r.Funding[3].Status != "captured" {
		t.Fatalf("funding %+v", r.Funding)
	}
	v.assertHoldsClosed(r)
	v.verifyLedger()
}

// prepaid_blocks: each block is charged into the wallet and held there; the
// unused part of the last block stays in the wallet as credit.
func TestPrepaidBlocks_UnusedTimeReturnsToWalletAsCredit(t *testing.T) {
	v := newEnv(t, func(c *billing.Config) { c.Strategies = map[string]billing.Strategy{"sandbox": billing.PrepaidBlocks} })
	info := v.openCard("seat1", cardOK, stdPolicy())
	if info.Strategy != billing.PrepaidBlocks {
		t.Fatalf("strategy %s", info.Strategy)
	}
	v.bothLive("seat1")
	v.clk.Advance(400 * time.Second) // two blocks charged (the second at 240 s)
	r := v.end("seat1")
	v.assertReceiptCovers(r, 400, cents(800))
	charges := 0
	for _, c := range r.ProcessorCalls {
		if c.Op == "charge" && c.State == "succeeded" {
			charges++
		}
	}
	if charges != 2 {
		t.Fatalf("%d charges", charges)
	}
	if got := v.posted("viewer:v1:wallet", "USD"); got != 400 {
		t.Fatalf("wallet holds %d, want the unused 400", got)
	}
	if b := v.balance("viewer:v1:wallet", "USD"); b.DebitsPending != 0 {
		t.Fatalf("a hold is left on the wallet: %+v", b)
	}
	if got := v.posted("platform:revenue", "USD") + v.posted("model:m1:earnings", "USD"); got != 800 {
		t.Fatalf("revenue + earnings %d, want 800", got)
	}
	v.verifyLedger()
}

// prepaid_blocks with refunds configured: the unused part goes back to the card.
func TestPrepaidBlocks_UnusedTimeRefundedWhenConfigured(t *testing.T) {
	v := newEnv(t, func(c *billing.Config) {
		c.Strategies = map[string]billing.Strategy{"sandbox": billing.PrepaidBlocks}
		c.RefundUnused = true
	})
	v.openCard("seat1", cardOK, stdPolicy())
	v.bothLive("seat1")
	v.clk.Advance(100 * time.Second)
	r := v.end("seat1")
	v.assertReceiptCovers(r, 100, cents(200))
	if r.Refunded != cents(400) {
		t.Fatalf("refunded %v, want 400", r.Refunded)
	}
	if got := v.posted("viewer:v1:wallet", "USD"); got != 0 {
		t.Fatalf("wallet holds %d after the refund", got)
	}
	if got := v.posted("processor:sandbox:clearing", "USD"); got != 0-200 && got != 200 {
		t.Fatalf("clearing %d: want 200 owed by the processor", got)
	}
	v.verifyLedger()
}

// wallet: credits bought earlier are held per block on the wallet; the
// price is posted and the rest released.
func TestWalletCredits_PricePostedRestReleased(t *testing.T) {
	v := newEnv(t)
	v.topUp("v1", cents(1000))
	info, err := v.eng.OpenSeat(v.ctx, billing.OpenRequest{SeatID: "seat1", ShowID: "show1", Kind: split.KindPrivate,
		ViewerID: "v1", ModelID: "m1", Policy: stdPolicy()})
	must(t, err)
	if info.Strategy != billing.Wallet || info.Funded != cents(600) {
		t.Fatalf("opened %+v", info)
	}
	v.bothLive("seat1")
	v.clk.Advance(250 * time.Second) // the extension to 1200 fails: only 1000 in the wallet
	if w := v.events.of("seat1", billing.EventFundingWarning); len(w) == 0 || w[0].Code != errs.Limit {
		t.Fatalf("warnings %+v", w)
	}
	v.topUp("v1", cents(500)) // the viewer buys more; the retry lands
	v.clk.Advance(20 * time.Second)
	if e := v.events.of("seat1", billing.EventFundingExtended); len(e) != 1 {
		t.Fatalf("extensions %+v", e)
	}
	v.clk.Advance(60 * time.Second)
	r := v.end("seat1")
	v.assertReceiptCovers(r, 330, cents(660))
	if got := v.posted("viewer:v1:wallet", "USD"); got != 1500-660 {
		t.Fatalf("wallet %d, want %d", got, 1500-660)
	}
	if b := v.balance("viewer:v1:wallet", "USD"); b.DebitsPending != 0 {
		t.Fatalf("a hold is left: %+v", b)
	}
	v.verifyLedger()
}

// A wallet without a block's worth is refused at once, with nothing held.
func TestWalletWithoutEnoughCredits_SeatRefusedNothingHeld(t *testing.T) {
	v := newEnv(t)
	v.topUp("v1", cents(100))
	_, err := v.eng.OpenSeat(v.ctx, billing.OpenRequest{SeatID: "seat1", ShowID: "show1", Kind: split.KindPrivate,
		ViewerID: "v1", ModelID: "m1", Policy: stdPolicy()})
	wantCode(t, err, errs.Limit, "")
	if st, _ := v.eng.SeatState(v.ctx, "seat1"); st != "failed" {
		t.Fatalf("seat %s", st)
	}
	if b := v.balance("viewer:v1:wallet", "USD"); b.DebitsPending != 0 || b.Posted() != (money.Money{Amount: 100, Currency: "USD"}) {
		t.Fatalf("wallet %+v", b)
	}
}

// A declined card opens no seat and holds nothing.
func TestDeclinedCard_NoSeatNothingHeld(t *testing.T) {
	v := newEnv(t)
	_, err := v.eng.OpenSeat(v.ctx, billing.OpenRequest{SeatID: "seat1", ShowID: "show1", Kind: split.KindPrivate,
		ViewerID: "v1", ModelID: "m1", Policy: stdPolicy(), Funding: billing.Funding{Processor: "sandbox", Credential: v.card(cardDecline)}})
	wantCode(t, err, errs.Declined, "")
	if st, _ := v.eng.SeatState(v.ctx, "seat1"); st != "failed" {
		t.Fatalf("seat %s", st)
	}
	if v.eng.OpenSeats() != 0 {
		t.Fatal("a declined seat is metered")
	}
}
