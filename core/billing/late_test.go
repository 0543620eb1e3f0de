package billing_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
)

// cardSlow is the sandbox's slow test card: every authorisation or charge
// answers after 2 s of real time (plugins/processor-sandbox/cards.go).
const cardSlow = "4000000000000259"

// extendingWhile runs the clock to `to` in the background, which fires the
// seat's extension at t0+240 s; it returns once that extension's processor
// call (call number nth of op) is in flight at the sandbox, and a wait for
// the background clock to finish.
func (v *env) extendingWhile(op string, nth int, to time.Time) (wait func()) {
	v.t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		v.clk.AdvanceTo(to)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for v.proc.count(op) < nth {
		if time.Now().After(deadline) {
			v.t.Fatalf("the extension's %s never started (%d calls)", op, v.proc.count(op))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return func() {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			v.t.Fatal("the clock never finished advancing")
		}
	}
}

func lateSteps(r billing.Receipt) (late []billing.FundingStep) {
	for _, f := range r.Funding {
		if f.Late {
			late = append(late, f)
		}
	}
	return late
}

// Symptom 8 of issue 10: the viewer ends the seat while its extension is
// being authorised; the authorisation lands after the end. It funds
// nothing: it is voided at once, the price is captured on the hold that
// funded the seat when it ended, and the receipt's funded is that hold.
func TestLateExtension_CardHold_ViewerEndsWhileAuthorising_LateHoldVoidedReceiptHonest(t *testing.T) {
	v := newEnv(t)
	info := v.openCard("seat1", cardSlow, stdPolicy())
	t0 := info.OpenedAt
	v.bothLive("seat1")
	wait := v.extendingWhile("authorize", 2, t0.Add(240*time.Second))
	r := v.end("seat1") // the authorisation of 1200 is still in flight
	wait()

	v.assertReceiptCovers(r, 240, cents(480))
	if r.Funded != cents(600) || r.Released != cents(120) {
		t.Fatalf("funded %v released %v: want the 600 that funded the seat when it ended, 120 released", r.Funded, r.Released)
	}
	late := lateSteps(r)
	if len(late) != 1 || late[0].N != 2 || late[0].Ceiling != cents(1200) || late[0].Status != "released" {
		t.Fatalf("funding %+v: want step 2 (1200) late and released", r.Funding)
	}
	if c := captureOf(t, r); c.Amount != cents(480) || c.Key != "seat/seat1/capture" {
		t.Fatalf("capture %+v", c)
	}
	// The capture went on the first hold; the late one was voided once.
	calls := map[string]string{}
	for _, c := range r.ProcessorCalls {
		calls[c.Key] = c.State
	}
	if calls["seat/seat1/void/2"] != "succeeded" || calls["seat/seat1/void/1"] != "" {
		t.Fatalf("processor calls %+v: want the late hold (2) voided and the first (1) captured", r.ProcessorCalls)
	}
	if n := v.proc.count("void"); n != 1 {
		t.Fatalf("%d voids, want the late hold's alone", n)
	}
	v.assertHoldsClosed(r)
	if e := v.events.of("seat1", billing.EventFundingExtended); len(e) != 0 {
		t.Fatalf("a late extension was announced: %+v", e)
	}
	if got := v.posted("platform:revenue", "USD") + v.posted("model:m1:earnings", "USD"); got != 480 {
		t.Fatalf("booked %d, want 480", got)
	}
	v.verifyLedger()
}

// The receipt: "funded 6.00 beside funding_exhausted at 3.00". The
// extension is still being authorised when funded time runs out: the seat
// ends on time at 300 s, funded by its first block, and the late hold is
// voided.
func TestLateExtension_CardHold_FundingRunsOutWhileAuthorising_ReceiptShowsTheFundingAtTheEnd(t *testing.T) {
	v := newEnv(t)
	info := v.openCard("seat1", cardSlow, stdPolicy())
	t0 := info.OpenedAt
	v.bothLive("seat1")
	end := t0.Add(300 * time.Second)
	wait := v.extendingWhile("authorize", 2, end)
	v.clk.AdvanceTo(end) // the guard fires while the authorisation is in flight
	wait()
	r := v.receipt("seat1")
	if r.CloseReason != billing.ClosedFundingExhausted || !r.ClosedAt.Equal(end) {
		t.Fatalf("closed %s at t0+%v, want funding_exhausted at t0+300s", r.CloseReason, r.ClosedAt.Sub(t0))
	}
	v.assertReceiptCovers(r, 300, cents(600))
	if r.Funded != cents(600) || r.Released.Amount != 0 {
		t.Fatalf("funded %v released %v beside %s: want 600 and 0", r.Funded, r.Released, r.CloseReason)
	}
	if late := lateSteps(r); len(late) != 1 || late[0].N != 2 || late[0].Status != "released" {
		t.Fatalf("funding %+v", r.Funding)
	}
	if c := captureOf(t, r); c.Amount != cents(600) {
		t.Fatalf("capture %+v", c)
	}
	v.assertHoldsClosed(r)
	v.verifyLedger()
}

// prepaid_blocks: the second block's charge lands after the viewer ended
// the seat. It is refunded to the card at once and in full (nothing of it
// stays in the wallet); the first block pays the price and its unused part
// stays in the wallet as credit, as configured.
func TestLateExtension_PrepaidBlocks_LateChargeRefundedInFull(t *testing.T) {
	v := newEnv(t, func(c *billing.Config) { c.Strategies = map[string]billing.Strategy{"sandbox": billing.PrepaidBlocks} })
	info := v.openCard("seat1", cardSlow, stdPolicy())
	t0 := info.OpenedAt
	v.bothLive("seat1")
	wait := v.extendingWhile("charge", 2, t0.Add(240*time.Second))
	r := v.end("seat1")
	wait()

	v.assertReceiptCovers(r, 240, cents(480))
	if r.Funded != cents(600) || r.Refunded != cents(600) {
		t.Fatalf("funded %v refunded %v: want 600 funded and the late 600 refunded", r.Funded, r.Refunded)
	}
	late := lateSteps(r)
	if len(late) != 1 || late[0].N != 2 || late[0].Kind != "charge" || late[0].Status != "released" {
		t.Fatalf("funding %+v: want charge 2 late and released (refunded)", r.Funding)
	}
	if n := v.proc.count("refund"); n != 1 {
		t.Fatalf("%d refunds, want one", n)
	}
	v.assertRefundedInFull(late[0].Reference)
	if got := v.posted("viewer:v1:wallet", "USD"); got != 120 {
		t.Fatalf("wallet holds %d, want the first block's unused 120 only", got)
	}
	if b := v.balance("viewer:v1:wallet", "USD"); b.DebitsPending != 0 {
		t.Fatalf("a hold is left on the wallet: %+v", b)
	}
	if got := v.posted("platform:revenue", "USD") + v.posted("model:m1:earnings", "USD"); got != 480 {
		t.Fatalf("booked %d, want 480", got)
	}
	v.verifyLedger()
}

// wallet: the ledger batch that replaces the hold for the next block
// commits just after the seat ended. The receipt shows the first block as
// the funding and nothing stays held on the wallet.
func TestLateExtension_Wallet_HoldCommittedAfterTheEnd_NothingStaysHeld(t *testing.T) {
	v := newEnv(t)
	v.topUp("v1", cents(2000))
	info, err := v.eng.OpenSeat(v.ctx, billing.OpenRequest{SeatID: "seat1", ShowID: "show1", Kind: split.KindPrivate,
		ViewerID: "v1", ModelID: "m1", Policy: stdPolicy()})
	must(t, err)
	t0 := info.OpenedAt
	v.bothLive("seat1")
	// The extension's ledger batch is slow: it has committed, and its
	// outcome is being written, when the viewer ends the seat.
	inBatch, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	billing.SetHook(v.eng, func(p string) {
		if p == "intent:ledger" && v.clk.Now().Equal(t0.Add(240*time.Second)) {
			once.Do(func() { close(inBatch); <-release })
		}
	})
	done := make(chan struct{})
	go func() { defer close(done); v.clk.AdvanceTo(t0.Add(240 * time.Second)) }()
	<-inBatch
	ended := make(chan billing.Receipt, 1)
	go func() { ended <- v.end("seat1") }()
	time.Sleep(200 * time.Millisecond) // the end closes the seat, then waits for the batch
	close(release)
	<-done
	r := <-ended

	v.assertReceiptCovers(r, 240, cents(480))
	if r.Funded != cents(600) {
		t.Fatalf("funded %v, want the 600 held when the seat ended", r.Funded)
	}
	if got := v.posted("viewer:v1:wallet", "USD"); got != 2000-480 {
		t.Fatalf("wallet %d, want %d", got, 2000-480)
	}
	if b := v.balance("viewer:v1:wallet", "USD"); b.DebitsPending != 0 {
		t.Fatalf("a hold is left on the wallet: %+v", b)
	}
	v.verifyLedger()
}

// Across a crash: the host dies while the second block is being charged
// (the sandbox charged it; the outcome was never written). Recovery closes
// the seat at its last checkpoint, finds the charge by repeating it under
// its key, and since it landed after the end refunds it in full, once,
// even when the host dies again in the middle of that refund.
func TestLateExtension_PrepaidBlocks_CrashDuringTheCharge_RecoveryRefundsItOnce(t *testing.T) {
	v := newEnv(t, func(c *billing.Config) { c.Strategies = map[string]billing.Strategy{"sandbox": billing.PrepaidBlocks} })
	v.openCard("seat1", cardOK, stdPolicy())
	v.bothLive("seat1")
	v.clk.Advance(239 * time.Second)
	must(t, v.eng.Checkpoint(v.ctx))
	if !v.crashAt("intent:charge", func() { v.clk.Advance(2 * time.Second) }) {
		t.Fatal("the extension never ran")
	}
	v.restart()
	if !v.crashAt("intent:refund", func() { _, _ = v.eng.Recover(v.ctx) }) {
		t.Fatal("recovery refunded nothing")
	}
	v.restart()
	v.recoverTwice()
	r := v.receipt("seat1")
	if r.CloseReason != billing.ClosedRecovered || r.Funded != cents(600) {
		t.Fatalf("closed %s funded %v: want recovered, funded by the first block", r.CloseReason, r.Funded)
	}
	late := lateSteps(r)
	if len(late) != 1 || late[0].N != 2 || late[0].Status != "released" || r.Refunded != cents(600) {
		t.Fatalf("funding %+v refunded %v", r.Funding, r.Refunded)
	}
	v.assertRefundedInFull(late[0].Reference)
	if got := v.posted("viewer:v1:wallet", "USD"); got != 600-r.Price.Amount {
		t.Fatalf("wallet %d, want the first block's unused %d", got, 600-r.Price.Amount)
	}
	v.verifyLedger()
}

// Across a crash in the middle of the undo: the late authorisation has
// landed and its void reached the sandbox when the host dies (the void's
// outcome is not written). Recovery finds the seat closed as the viewer
// ended it, funded by the first hold; it repeats the void under its key
// and captures on the first hold, once.
func TestLateExtension_CardHold_CrashWhileVoidingTheLateHold_RecoveryFinishesOnce(t *testing.T) {
	v := newEnv(t)
	info := v.openCard("seat1", cardSlow, stdPolicy())
	t0 := info.OpenedAt
	v.bothLive("seat1")
	crashed := make(chan bool, 1)
	billing.SetHook(v.eng, func(p string) {
		if p == "intent:void" {
			panic(crash{p})
		}
	})
	go func() {
		defer func() {
			_, ok := recover().(crash)
			crashed <- ok
		}()
		v.clk.AdvanceTo(t0.Add(240 * time.Second)) // the extension, and in it the late void
	}()
	deadline := time.Now().Add(10 * time.Second)
	for v.proc.count("authorize") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the extension never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The viewer's end; the host dies before it can settle (the dead
	// engine's end never returns).
	go func() { _, _ = v.eng.EndSeat(context.Background(), "seat1", billing.ClosedByViewer) }()
	select {
	case ok := <-crashed:
		if !ok {
			t.Fatal("the extension ended without reaching the late void")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no crash")
	}
	v.restart()
	rep := v.recoverTwice()
	if rep.Closed != 0 || rep.Settled != 1 {
		t.Fatalf("recovery %+v: want the closed seat settled, not closed again", rep)
	}
	r := v.receipt("seat1")
	if r.CloseReason != billing.ClosedByViewer || !r.ClosedAt.Equal(t0.Add(240*time.Second)) || r.Funded != cents(600) {
		t.Fatalf("closed %s at t0+%v funded %v: want the viewer's end at t0+240s, funded 600", r.CloseReason, r.ClosedAt.Sub(t0), r.Funded)
	}
	v.assertReceiptCovers(r, 240, cents(480))
	if late := lateSteps(r); len(late) != 1 || late[0].N != 2 || late[0].Status != "released" {
		t.Fatalf("funding %+v", r.Funding)
	}
	if c := captureOf(t, r); c.Amount != cents(480) {
		t.Fatalf("capture %+v", c)
	}
	v.assertHoldsClosed(r)
	v.verifyLedger()
}

// assertRefundedInFull checks at the sandbox that a charge has nothing left
// to refund: a one-cent refund under a fresh key is refused.
func (v *env) assertRefundedInFull(ref string) {
	v.t.Helper()
	_, err := v.sbx.Refund(context.Background(), processor.RefundRequest{IdempotencyKey: "probe/" + ref, Reference: ref, Amount: cents(1)})
	if errs.CodeOf(err) != errs.Invalid {
		v.t.Fatalf("charge %s still has money to refund at the sandbox: probe got %v", ref, err)
	}
}
