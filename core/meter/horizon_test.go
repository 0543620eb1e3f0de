package meter_test

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/camkit/camkit/core/meter"
)

// Time before a horizon that no loss is backdated past is final: with every
// loss dated at most lag before the instant it is applied, the billable
// seconds before now-lag never go down as the seat goes on, never exceed the
// billable seconds at now, and never exceed the seat's final total.
func TestBillableSecondsBeforeHorizonProperty_FinalOnceOlderThanTheBackdate(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		lag := time.Duration(rapid.IntRange(0, 6000).Draw(rt, "lagMs")) * time.Millisecond
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		m := meter.New()
		if err := m.SeatOpened(now); err != nil {
			rt.Fatal(err)
		}
		last := now
		var model, viewer bool
		var seen int64
		check := func() {
			got := m.BillableSecondsBefore(now.Add(-lag))
			if got < seen {
				rt.Fatalf("final seconds went back from %d to %d at %v", seen, got, now)
			}
			if all := m.BillableSeconds(now); got > all {
				rt.Fatalf("%d final seconds, %d billable in all", got, all)
			}
			seen = got
		}
		for range rapid.IntRange(1, 40).Draw(rt, "steps") {
			now = now.Add(time.Duration(rapid.IntRange(0, 9000).Draw(rt, "advanceNs")) * time.Millisecond)
			check()
			back := now.Add(-time.Duration(rapid.Int64Range(0, int64(lag/time.Millisecond)).Draw(rt, "backMs")) * time.Millisecond)
			if back.Before(last) {
				back = last
			}
			var err error
			switch rapid.IntRange(0, 1).Draw(rt, "side") {
			case 0:
				if model {
					err = m.ModelMediaStopped(back)
				} else {
					err, last = m.ModelMediaFlowing(now), now
				}
				model = !model
			case 1:
				if viewer {
					err = m.ViewerDisconnected(back)
				} else {
					err, last = m.ViewerConnected(now), now
				}
				viewer = !viewer
			}
			if err != nil {
				rt.Fatal(err)
			}
			check()
		}
		if err := m.SeatClosed(now); err != nil {
			rt.Fatal(err)
		}
		if final := m.BillableSeconds(now); seen > final {
			rt.Fatalf("showed %d final seconds, the seat bills %d", seen, final)
		}
		if got := m.BillableSecondsBefore(now.Add(time.Hour)); got != m.BillableSeconds(now) {
			rt.Fatalf("a closed seat: %d before a later horizon, %d in all", got, m.BillableSeconds(now))
		}
	})
}
