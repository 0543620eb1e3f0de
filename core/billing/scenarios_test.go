package billing_test

import (
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/meter"
)

// DESIGN.md: "The viewer's connection drops mid-show: billing pauses at the
// last packet and resumes on reconnect."
func TestViewerConnectionDropsMidShow_BillingPausesAtLastPacketAndResumesOnReconnect(t *testing.T) {
	v := newEnv(t)
	info := v.openCard("seat1", cardOK, stdPolicy())
	t0 := info.OpenedAt
	v.bothLive("seat1")
	v.clk.Advance(100 * time.Second)
	// The stream layer notices the loss 3 s after the last RTCP and backdates it.
	v.live("seat1", meter.ViewerDisconnected, t0.Add(97*time.Second))
	v.clk.Advance(20 * time.Second)
	v.live("seat1", meter.ViewerConnected, v.clk.Now())
	v.clk.Advance(50 * time.Second)
	r := v.end("seat1")
	v.assertReceiptCovers(r, 147, cents(294)) // 120/min * 147 s / 60
	if want := ivs(t0, 0, 97, 120, 170); !sameIntervals(r.Intervals, want) {
		t.Fatalf("intervals %v, want %v", r.Intervals, want)
	}
	if c := captureOf(t, r); c.Amount != cents(294) || c.State != "succeeded" || c.Reference == "" {
		t.Fatalf("capture %+v", c)
	}
	if r.Funded != cents(600) || r.Released != cents(306) {
		t.Fatalf("funded %v released %v, want 600 and 306", r.Funded, r.Released)
	}
	v.assertHoldsClosed(r)
	if got := v.posted("platform:revenue", "USD") + v.posted("model:m1:earnings", "USD"); got != 294 {
		t.Fatalf("revenue + model earnings = %d, want the 294 captured", got)
	}
	if v.posted("model:m1:earnings", "USD") <= 0 {
		t.Fatal("the split gave the model nothing")
	}
	v.verifyLedger()
}

// DESIGN.md: "The model's stream drops while billing runs on: the same, from
// the model's side."
func TestModelStreamDropsMidShow_BillingPausesAtLastPacketAndResumes(t *testing.T) {
	v := newEnv(t)
	info := v.openCard("seat1", cardOK, stdPolicy())
	t0 := info.OpenedAt
	v.bothLive("seat1")
	v.clk.Advance(60 * time.Second)
	v.live("seat1", meter.ModelMediaStopped, t0.Add(57*time.Second+500*time.Millisecond))
	v.clk.Advance(30 * time.Second)
	v.live("seat1", meter.ModelMediaFlowing, v.clk.Now())
	v.clk.Advance(30 * time.Second)
	r := v.end("seat1")
	v.assertReceiptCovers(r, 87, cents(174)) // 57.5 + 30 = 87.5 s, floored once
	if want := ivs(t0, 0, 57.5, 90, 120); !sameIntervals(r.Intervals, want) {
		t.Fatalf("intervals %v, want %v", r.Intervals, want)
	}
	v.assertHoldsClosed(r)
	v.verifyLedger()
}

// Both sides drop at once and come back apart: only time with both present
// is billed.
func TestModelAndViewerDropTogether_OnlyTimeWithBothLiveIsBilled(t *testing.T) {
	v := newEnv(t)
	info := v.openCard("seat1", cardOK, stdPolicy())
	t0 := info.OpenedAt
	v.bothLive("seat1")
	v.clk.Advance(40 * time.Second)
	v.live("seat1", meter.ModelMediaStopped, t0.Add(37*time.Second))
	v.live("seat1", meter.ViewerDisconnected, t0.Add(35*time.Second))
	v.clk.Advance(10 * time.Second)
	v.live("seat1", meter.ViewerConnected, v.clk.Now()) // t0+50, model still away
	v.clk.Advance(10 * time.Second)
	v.live("seat1", meter.ModelMediaFlowing, v.clk.Now()) // t0+60
	v.clk.Advance(15 * time.Second)
	r := v.end("seat1")
	v.assertReceiptCovers(r, 50, cents(100))
	if want := ivs(t0, 0, 35, 60, 75); !sameIntervals(r.Intervals, want) {
		t.Fatalf("intervals %v, want %v", r.Intervals, want)
	}
	v.verifyLedger()
}

// A connection flapping every second is billed only for its live halves,
// and every transition is checkpointed.
func TestViewerConnectionFlapsEverySecond_BilledOnlyWhileConnected(t *testing.T) {
	v := newEnv(t)
	info := v.openCard("seat1", cardOK, stdPolicy())
	t0 := info.OpenedAt
	v.bothLive("seat1")
	for i := 0; i < 60; i++ {
		// Live for 0.5 s, gone for 0.5 s, each loss backdated to its last packet.
		v.clk.Advance(time.Second)
		v.live("seat1", meter.ViewerDisconnected, v.clk.Now().Add(-500*time.Millisecond))
		v.live("seat1", meter.ViewerConnected, v.clk.Now())
	}
	must(t, v.eng.Checkpoint(v.ctx))
	v.clk.Advance(10 * time.Second)
	r := v.end("seat1")
	// 60 half-seconds (30 s) plus the last 10 s.
	v.assertReceiptCovers(r, 40, cents(80))
	if len(r.Intervals) != 61 || r.Intervals[0] != ivs(t0, 0, 0.5)[0] {
		t.Fatalf("%d intervals, first %v", len(r.Intervals), r.Intervals[0])
	}
	v.verifyLedger()
}

// DESIGN.md: a pause longer than the maximum ends the seat; the pause itself
// is not billed.
func TestPauseLongerThanMaximum_SeatEndsAndPauseIsNotBilled(t *testing.T) {
	v := newEnv(t)
	info := v.openCard("seat1", cardOK, stdPolicy())
	t0 := info.OpenedAt
	v.bothLive("seat1")
	v.clk.Advance(30 * time.Second)
	v.live("seat1", meter.ModelMediaStopped, t0.Add(28*time.Second))
	v.clk.Advance(119 * time.Second) // paused 121 s: past the maximum of 120
	r := v.receipt("seat1")
	if r.CloseReason != billing.ClosedPauseExceeded || !r.ClosedAt.Equal(t0.Add(148*time.Second)) {
		t.Fatalf("closed %v at %v, want pause_exceeded at t0+148s", r.CloseReason, r.ClosedAt.Sub(t0))
	}
	v.assertReceiptCovers(r, 28, cents(56))
	if err := v.eng.Liveness("seat1", meter.Event{Kind: meter.ModelMediaFlowing, At: v.clk.Now()}); err == nil {
		t.Fatal("an event for the ended seat was accepted")
	}
	v.assertHoldsClosed(r)
	v.verifyLedger()
}

// A seat nobody ever watched costs nothing and leaves no hold.
func TestSeatEndingAtZeroSeconds_NothingCapturedHoldVoided(t *testing.T) {
	v := newEnv(t)
	v.openCard("seat1", cardOK, stdPolicy())
	v.clk.Advance(5 * time.Second)
	r := v.end("seat1")
	v.assertReceiptCovers(r, 0, cents(0))
	for _, c := range r.ProcessorCalls {
		if c.Op == "capture" {
			t.Fatalf("a zero-second seat was captured: %+v", c)
		}
	}
	if len(r.LedgerTransfers) != 0 {
		t.Fatalf("ledger transfers for a free seat: %+v", r.LedgerTransfers)
	}
	v.assertHoldsClosed(r)
	v.verifyLedger()
}
