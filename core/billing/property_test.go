package billing_test

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/split"
	"pgregory.net/rapid"
)

// fewChecks caps rapid's checks for a property that drives plugin processes
// and a database: each check is a whole seat's life.
func fewChecks(t *testing.T, n int) {
	f := flag.Lookup("rapid.checks")
	if f == nil {
		return
	}
	old := f.Value.String()
	must(t, f.Value.Set(fmt.Sprint(n)))
	t.Cleanup(func() { _ = f.Value.Set(old) })
}

// Random liveness sequences (drops backdated to the last packet, reconnects,
// flapping, long pauses), random cards (one that declines every extension),
// random ends by the viewer, and random crashes followed by recovery. For
// every seat: billed seconds <= seconds with both sides live; the price <=
// the money secured; exactly one final capture when there is a price and none
// otherwise; the ledger verifies clean; a second recovery changes nothing.
func TestRandomEventSequencesProperty_BillingNeverExceedsLivenessOrFunding(t *testing.T) {
	fewChecks(t, 10)
	v := newEnv(t)
	ok := v.card(cardOK)
	seq := 0
	rapid.Check(t, func(rt *rapid.T) {
		seq++
		seat := fmt.Sprintf("p%d", seq)
		number := rapid.SampledFrom([]string{cardOK, cardFirstOnly}).Draw(rt, "card")
		cred := ok
		if number == cardFirstOnly { // its first authorisation is the seat's first block
			cred = v.card(cardFirstOnly)
		}
		pol := stdPolicy()
		pol.BlockSeconds = rapid.Int64Range(60, 180).Draw(rt, "block")
		pol.ExtensionLeadSeconds = rapid.Int64Range(0, 30).Draw(rt, "lead")
		pol.MaxPauseSeconds = rapid.Int64Range(20, 90).Draw(rt, "maxPause")
		_, err := v.eng.OpenSeat(v.ctx, billing.OpenRequest{SeatID: seat, ShowID: "show1", Kind: split.KindGroup, ViewerID: "v" + seat,
			ModelID: "m1", Policy: pol, Funding: billing.Funding{Processor: "sandbox", Credential: cred}})
		if err != nil {
			rt.Fatalf("open: %v", err)
		}
		var model, viewer bool
		var lastAt, liveSince time.Time
		var bothLiveMs int64 // the reference: time with both sides present
		closed := false
		apply := func(k meter.Kind, at time.Time) {
			if closed {
				return
			}
			err := v.eng.Liveness(seat, meter.Event{Kind: k, At: at})
			if errs.CodeOf(err) == errs.Conflict { // ended meanwhile (funding ran out, or a long pause)
				closed = true
				return
			}
			if err != nil {
				rt.Fatalf("%v at %v: %v", k, at, err)
			}
			wasBoth := model && viewer
			switch k {
			case meter.ModelMediaFlowing:
				model = true
			case meter.ModelMediaStopped:
				model = false
			case meter.ViewerConnected:
				viewer = true
			case meter.ViewerDisconnected:
				viewer = false
			}
			if !wasBoth && model && viewer {
				liveSince = at
			}
			if wasBoth && !(model && viewer) {
				bothLiveMs += at.Sub(liveSince).Milliseconds()
			}
			lastAt = at
		}
		steps := rapid.IntRange(1, 25).Draw(rt, "steps")
		crashed := false
		for i := 0; i < steps && !closed; i++ {
			v.clk.Advance(time.Duration(rapid.IntRange(0, 40_000).Draw(rt, "ms")) * time.Millisecond)
			now := v.clk.Now()
			// A loss is backdated by up to 3 s, never before the last event.
			back := now.Add(-time.Duration(rapid.IntRange(0, 3000).Draw(rt, "backMs")) * time.Millisecond)
			if back.Before(lastAt) {
				back = lastAt
			}
			switch rapid.IntRange(0, 4).Draw(rt, "event") {
			case 0:
				if model {
					apply(meter.ModelMediaStopped, back)
				} else {
					apply(meter.ModelMediaFlowing, now)
				}
			case 1, 2:
				if viewer {
					apply(meter.ViewerDisconnected, back)
				} else {
					apply(meter.ViewerConnected, now)
				}
			case 3:
				if rapid.IntRange(0, 9).Draw(rt, "crash") == 0 {
					must(t, v.eng.Checkpoint(v.ctx))
					v.restart()
					v.recoverTwice()
					crashed, closed = true, true
				}
			}
		}
		if !closed {
			if _, err := v.eng.EndSeat(v.ctx, seat, billing.ClosedByViewer); err != nil && errs.CodeOf(err) != errs.Conflict {
				rt.Fatalf("end: %v", err)
			}
		}
		if model && viewer && !crashed {
			bothLiveMs += v.clk.Now().Sub(liveSince).Milliseconds()
		}
		r, err := v.eng.Receipt(v.ctx, seat)
		if err != nil {
			rt.Fatalf("receipt: %v", err)
		}
		if !crashed && r.BillableSeconds > bothLiveMs/1000 {
			rt.Fatalf("billed %d s, both sides were live %d ms", r.BillableSeconds, bothLiveMs)
		}
		if r.CloseReason == billing.ClosedByViewer && r.BillableSeconds != bothLiveMs/1000 {
			rt.Fatalf("ended by the viewer: billed %d s, both live %d ms", r.BillableSeconds, bothLiveMs)
		}
		if r.Price.Amount > r.Funded.Amount {
			rt.Fatalf("price %v above funding %v", r.Price, r.Funded)
		}
		captures := 0
		for _, c := range r.ProcessorCalls {
			if c.Op == "capture" && c.State == "succeeded" {
				captures++
				if c.Amount != r.Price {
					rt.Fatalf("captured %v, price %v", c.Amount, r.Price)
				}
			}
		}
		if want := map[bool]int{true: 1, false: 0}[r.Price.Amount > 0]; captures != want {
			rt.Fatalf("%d captures for a price of %v", captures, r.Price)
		}
		for _, f := range r.Funding {
			if f.Status == "open" {
				rt.Fatalf("hold left open: %+v", f)
			}
		}
		v.verifyLedger()
	})
}
