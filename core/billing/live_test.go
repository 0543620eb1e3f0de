package billing_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/split"
	"pgregory.net/rapid"
)

func backdateLimit(d time.Duration) envOpt {
	return func(c *billing.Config) { c.BackdateLimit = d }
}

func (v *env) liveSeat(seat string) billing.LiveSeat {
	v.t.Helper()
	ls, ok := v.eng.LiveSeat(seat)
	if !ok {
		v.t.Fatalf("LiveSeat(%s): not metered here", seat)
	}
	return ls
}

// The seat says why it is not billing, since when, and when it ends by
// itself: the maximum pause after the pause began, the same instant the
// engine closes it at.
func TestLiveSeatSaysWhyBillingIsPausedAndWhenTheSeatEnds(t *testing.T) {
	v := newEnv(t, backdateLimit(3*time.Second))
	pol := stdPolicy()
	pol.MaxPauseSeconds = 60
	info := v.openCard("ls1", cardOK, pol)
	t0 := info.OpenedAt

	ls := v.liveSeat("ls1")
	if !ls.Open || ls.Billing || ls.PauseReason != billing.PausedModelMedia || !ls.PausedSince.Equal(t0) ||
		!ls.EndsAt.Equal(t0.Add(60*time.Second)) || ls.EndReason != billing.ClosedPauseExceeded {
		t.Fatalf("a new seat without media: %+v", ls)
	}
	v.clk.Advance(2 * time.Second)
	v.live("ls1", meter.ModelMediaFlowing, v.clk.Now())
	if ls = v.liveSeat("ls1"); ls.PauseReason != billing.PausedViewerConnection || !ls.EndsAt.Equal(t0.Add(60*time.Second)) {
		t.Fatalf("media flows, no picture at the viewer yet: %+v", ls)
	}
	v.clk.Advance(time.Second)
	v.live("ls1", meter.ViewerConnected, v.clk.Now())
	if ls = v.liveSeat("ls1"); !ls.Billing || ls.PauseReason != "" || !ls.EndsAt.IsZero() || !ls.PausedSince.IsZero() {
		t.Fatalf("both there: %+v", ls)
	}
	v.clk.Advance(30 * time.Second)
	// The viewer's connection went silent 2 s ago (backdated by the SFU).
	lost := v.clk.Now().Add(-2 * time.Second)
	v.live("ls1", meter.ViewerDisconnected, lost)
	ls = v.liveSeat("ls1")
	if ls.Billing || ls.PauseReason != billing.PausedViewerConnection || !ls.PausedSince.Equal(lost) ||
		!ls.EndsAt.Equal(lost.Add(60*time.Second)) {
		t.Fatalf("viewer gone: %+v", ls)
	}
	// Both gone: the model's media is the reason (the viewer has nothing to receive).
	v.live("ls1", meter.ModelMediaStopped, v.clk.Now().Add(-time.Second))
	if ls = v.liveSeat("ls1"); ls.PauseReason != billing.PausedModelMedia || !ls.PausedSince.Equal(lost) {
		t.Fatalf("both gone: %+v", ls)
	}
	ends := ls.EndsAt
	v.clk.Advance(ends.Sub(v.clk.Now()) - time.Millisecond)
	if ls, ok := v.eng.LiveSeat("ls1"); !ok || !ls.Open {
		t.Fatalf("closed before its deadline %v: %+v", ends, ls)
	}
	v.clk.Advance(time.Millisecond)
	r := v.receipt("ls1")
	if r.CloseReason != billing.ClosedPauseExceeded || !r.ClosedAt.Equal(ends) {
		t.Fatalf("closed %s at %v, the seat said %v", r.CloseReason, r.ClosedAt, ends)
	}
	if r.BillableSeconds != 28 {
		t.Fatalf("billed %d s, want 28", r.BillableSeconds)
	}
}

// Billed so far lags the meter by the backdate limit, so a pause backdated
// within it takes nothing back: 40 s live, then a loss dated 3 s back.
func TestLiveSeatCostDoesNotGoBackWhenAPauseIsBackdated(t *testing.T) {
	v := newEnv(t, backdateLimit(3*time.Second))
	v.openCard("ls2", cardOK, stdPolicy())
	v.bothLive("ls2")
	v.clk.Advance(40 * time.Second)
	before := v.liveSeat("ls2")
	if before.BilledSeconds != 37 || before.BilledCost != cents(74) {
		t.Fatalf("after 40 s live, billed so far %d s %v, want 37 s (3 s not final yet) $0.74", before.BilledSeconds, before.BilledCost)
	}
	v.live("ls2", meter.ModelMediaStopped, v.clk.Now().Add(-3*time.Second))
	after := v.liveSeat("ls2")
	if after.BilledSeconds != 37 || after.BilledCost != before.BilledCost {
		t.Fatalf("the backdated pause moved billed so far from %+v to %+v", before, after)
	}
	r := v.end("ls2")
	if r.BillableSeconds != 37 || r.Price != before.BilledCost {
		t.Fatalf("billed %d s %v, the page said %d s %v", r.BillableSeconds, r.Price, before.BilledSeconds, before.BilledCost)
	}
}

// Random liveness (losses backdated up to the limit), random policies
// (granularity, minimum charge, grace), polled after every step: billed so
// far never goes down and never exceeds what the receipt bills.
func TestLiveSeatBilledSoFarProperty_MonotoneAndNeverAboveTheReceipt(t *testing.T) {
	fewChecks(t, 10)
	const lag = 3 * time.Second
	v := newEnv(t, backdateLimit(lag))
	cred := v.card(cardOK)
	seq := 0
	rapid.Check(t, func(rt *rapid.T) {
		seq++
		seat := fmt.Sprintf("m%d", seq)
		pol := stdPolicy()
		pol.Granularity = rapid.SampledFrom([]pricing.Granularity{pricing.PerSecond, pricing.PerStartedMinute, pricing.PerCompletedMinute}).Draw(rt, "granularity")
		pol.MinimumCharge = cents(rapid.SampledFrom([]int64{0, 50, 300}).Draw(rt, "minimum"))
		pol.GraceSeconds = rapid.Int64Range(0, 20).Draw(rt, "grace")
		pol.BlockSeconds = rapid.Int64Range(60, 120).Draw(rt, "block")
		pol.MaxPauseSeconds = rapid.Int64Range(20, 60).Draw(rt, "maxPause")
		if _, err := v.eng.OpenSeat(v.ctx, billing.OpenRequest{SeatID: seat, ShowID: "show1", Kind: split.KindPrivate, ViewerID: "v" + seat,
			ModelID: "m1", Policy: pol, Funding: billing.Funding{Processor: "sandbox", Credential: cred}}); err != nil {
			rt.Fatalf("open: %v", err)
		}
		var shown billing.LiveSeat
		poll := func() bool {
			ls, ok := v.eng.LiveSeat(seat)
			if !ok {
				return false
			}
			if ls.BilledSeconds < shown.BilledSeconds || ls.BilledCost.Amount < shown.BilledCost.Amount {
				rt.Fatalf("billed so far went back from %d s %v to %d s %v", shown.BilledSeconds, shown.BilledCost, ls.BilledSeconds, ls.BilledCost)
			}
			if ls.Open && (ls.Billing != (ls.PauseReason == "") || ls.Billing != ls.EndsAt.IsZero()) {
				rt.Fatalf("billing %v, pause reason %q, ends at %v", ls.Billing, ls.PauseReason, ls.EndsAt)
			}
			shown = ls
			return ls.Open
		}
		var model, viewer bool
		var lastAt time.Time
		closed := false
		apply := func(k meter.Kind, at time.Time) {
			err := v.eng.Liveness(seat, meter.Event{Kind: k, At: at})
			if errs.CodeOf(err) == errs.Conflict {
				closed = true
				return
			}
			if err != nil {
				rt.Fatalf("%v at %v: %v", k, at, err)
			}
			switch k {
			case meter.ModelMediaFlowing, meter.ModelMediaStopped:
				model = k == meter.ModelMediaFlowing
			default:
				viewer = k == meter.ViewerConnected
			}
			lastAt = at
		}
		steps := rapid.IntRange(1, 30).Draw(rt, "steps")
		for i := 0; i < steps && !closed; i++ {
			v.clk.Advance(time.Duration(rapid.IntRange(0, 8000).Draw(rt, "ms")) * time.Millisecond)
			if !poll() {
				closed = true
				break
			}
			now := v.clk.Now()
			back := now.Add(-time.Duration(rapid.Int64Range(0, lag.Milliseconds()).Draw(rt, "backMs")) * time.Millisecond)
			if back.Before(lastAt) {
				back = lastAt
			}
			switch rapid.IntRange(0, 2).Draw(rt, "event") {
			case 0:
				if model {
					apply(meter.ModelMediaStopped, back)
				} else {
					apply(meter.ModelMediaFlowing, now)
				}
			case 1:
				if viewer {
					apply(meter.ViewerDisconnected, back)
				} else {
					apply(meter.ViewerConnected, now)
				}
			}
			if !closed && !poll() {
				closed = true
			}
		}
		if !closed {
			if _, err := v.eng.EndSeat(v.ctx, seat, billing.ClosedByViewer); err != nil {
				rt.Fatalf("end: %v", err)
			}
		}
		r, err := v.eng.Receipt(v.ctx, seat)
		if err != nil {
			rt.Fatalf("receipt: %v", err)
		}
		if shown.BilledSeconds > r.BillableSeconds || shown.BilledCost.Amount > r.Price.Amount {
			rt.Fatalf("the page showed %d s %v, the receipt bills %d s %v", shown.BilledSeconds, shown.BilledCost, r.BillableSeconds, r.Price)
		}
		if shown.BilledCost.Currency != "" && shown.BilledCost.Currency != r.Price.Currency {
			rt.Fatalf("shown in %s, billed in %s", shown.BilledCost.Currency, r.Price.Currency)
		}
	})
}
