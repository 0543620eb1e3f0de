package meter_test

import (
	"encoding/json"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/sdk/errs"
)

// The reference model: each side's presence is a list of periods [since, cut)
// and billable time is the measure of seat ∩ model ∩ viewer, computed by brute
// intersection. It knows nothing of the meter's intervals, merging or cutting.

type span struct{ from, to int64 } // to = open when open is true
type refSide struct {
	present bool
	since   int64
	periods []span
}
type ref struct {
	phase          meter.Phase
	opened, closed int64
	lastAt         int64
	model, viewer  refSide
}

const open = int64(1) << 62

func floorRef(ns int64) int64 { return ns / 1e6 } // times are >= the epoch
func ceilRef(ns int64) int64  { return (ns + 1e6 - 1) / 1e6 }

// accepts says whether the meter must accept e, and applies it to the model.
func (r *ref) apply(k meter.Kind, ns int64) bool {
	side := map[meter.Kind]*refSide{
		meter.ModelMediaFlowing: &r.model, meter.ModelMediaStopped: &r.model,
		meter.ViewerConnected: &r.viewer, meter.ViewerDisconnected: &r.viewer,
	}[k]
	switch k {
	case meter.SeatOpened:
		at := ceilRef(ns)
		if r.phase != meter.Pending || at < r.lastAt {
			return false
		}
		r.phase, r.opened, r.lastAt = meter.Open, at, at
	case meter.ModelMediaFlowing, meter.ViewerConnected:
		at := ceilRef(ns)
		if r.phase != meter.Open || side.present || at < r.lastAt {
			return false
		}
		side.present, side.since, r.lastAt = true, at, at
	case meter.ModelMediaStopped, meter.ViewerDisconnected:
		if r.phase != meter.Open || !side.present {
			return false
		}
		cut := max(floorRef(ns), side.since)
		side.periods = append(side.periods, span{side.since, cut})
		side.present = false
		r.lastAt = max(r.lastAt, cut)
	case meter.SeatClosed:
		if r.phase != meter.Open {
			return false
		}
		r.phase, r.closed = meter.Closed, max(floorRef(ns), r.opened)
		r.lastAt = max(r.lastAt, r.closed)
	default:
		return false
	}
	return true
}

func (s *refSide) all() []span {
	if s.present {
		return append(append([]span(nil), s.periods...), span{s.since, open})
	}
	return s.periods
}

// billable is |seat ∩ model ∩ viewer ∩ (-inf, now)| in ms.
func (r *ref) billable(now int64) int64 {
	if r.phase == meter.Pending {
		return 0
	}
	seat := span{r.opened, open}
	if r.phase == meter.Closed {
		seat.to = r.closed
	}
	seat.to = min(seat.to, now)
	var total int64
	for _, a := range r.model.all() {
		for _, b := range r.viewer.all() {
			from := max(a.from, b.from, seat.from)
			to := min(a.to, b.to, seat.to)
			total += max(0, to-from)
		}
	}
	return total
}

var base = t0.UnixNano()

// drawEvent mostly draws a transition the seat can take, so sequences get
// deep, and sometimes anything at all (unknown kinds included), so refusals
// are exercised too.
func drawEvent(t *rapid.T, r *ref) (meter.Kind, int64) {
	lastAt := r.lastAt
	k := meter.Kind(rapid.IntRange(0, 7).Draw(t, "anyKind"))
	// rapid favours small numbers, so the rare branches sit mid-range.
	if rapid.IntRange(0, 9).Draw(t, "roll") != 5 {
		var valid []meter.Kind
		switch r.phase {
		case meter.Pending:
			valid = []meter.Kind{meter.SeatOpened}
		case meter.Open:
			valid = []meter.Kind{meter.ModelMediaFlowing, meter.ViewerConnected}
			if r.model.present {
				valid[0] = meter.ModelMediaStopped
			}
			if r.viewer.present {
				valid[1] = meter.ViewerDisconnected
			}
			if rapid.IntRange(0, 99).Draw(t, "closeRoll") == 50 {
				valid = []meter.Kind{meter.SeatClosed}
			}
		}
		if len(valid) > 0 {
			k = rapid.SampledFrom(valid).Draw(t, "validKind")
		}
	}
	// Mostly forward, sometimes backwards (out of order or backdated).
	deltaMs := rapid.Int64Range(-3000, 10000).Draw(t, "deltaMs")
	subMs := int64(0)
	if rapid.Bool().Draw(t, "subMs") {
		subMs = rapid.Int64Range(0, 999_999).Draw(t, "subNs")
	}
	ns := max(base, base+(lastAt+deltaMs)*1e6+subMs)
	if lastAt == 0 {
		ns = base + subMs
	}
	return k, ns - base
}

func at(offsetNs int64) time.Time { return time.Unix(0, base+offsetNs).UTC() }

func snapJSON(t *rapid.T, m *meter.Meter, now time.Time) string {
	b, err := json.Marshal(m.Snapshot(now))
	if err != nil {
		t.Fatalf("marshal snapshot: %v", err)
	}
	return string(b)
}

func clone(t *rapid.T, m *meter.Meter) *meter.Meter {
	var s meter.Snapshot
	if err := json.Unmarshal([]byte(snapJSON(t, m, at(0))), &s); err != nil {
		t.Fatalf("unmarshal snapshot: %v", err)
	}
	c, err := meter.Restore(s)
	if err != nil {
		t.Fatalf("restore of a real snapshot: %v", err)
	}
	return c
}

func checkShape(t *rapid.T, m *meter.Meter) {
	var sum time.Duration
	ivs := m.Intervals()
	for i, iv := range ivs {
		if iv.EndMs <= iv.StartMs {
			t.Fatalf("interval %d empty: %v", i, iv)
		}
		if i > 0 && ivs[i-1].EndMs >= iv.StartMs {
			t.Fatalf("intervals %d and %d overlap or touch: %v %v", i-1, i, ivs[i-1], iv)
		}
		sum += iv.Duration()
	}
	if since, ok := m.OpenSince(); ok {
		if n := len(ivs); n > 0 && since.UnixMilli() <= ivs[n-1].EndMs {
			t.Fatalf("open interval at %v touches the last closed one %v", since, ivs[n-1])
		}
	} else if m.BillableDuration(at(1<<50)) != sum {
		t.Fatalf("not live, but billable %v != sum of intervals %v", m.BillableDuration(at(1<<50)), sum)
	}
	_, paused := m.PausedSince()
	if paused != (m.Phase() == meter.Open && !m.Live()) {
		t.Fatalf("PausedSince ok=%v with phase %v live %v", paused, m.Phase(), m.Live())
	}
}

// TestRandomEventSequencesProperty checks, over random event sequences (valid
// and not, in and out of order, backdated): refused events change nothing;
// billable time is exactly the time the seat was open with both sides live
// (so never more); intervals are ordered and never overlap; a loss, and
// backdating it further, never adds billable time; Snapshot->JSON->Restore->
// continue equals continuing; crash recovery bills no more than the
// checkpoint; closing at WhenBillableReaches bills exactly the limit.
func TestRandomEventSequencesProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m, r := meter.New(), &ref{}
		var twin *meter.Meter // restored from a snapshot midway, fed the same events
		steps := rapid.IntRange(1, 100).Draw(t, "steps")
		forkAt := rapid.IntRange(0, steps).Draw(t, "forkAt")
		for i := range steps {
			if i == forkAt {
				twin = clone(t, m)
			}
			k, ns := drawEvent(t, r)
			now := at(max(ns, r.lastAt*1e6) + 5e9)
			before := snapJSON(t, m, now)
			billBefore := m.BillableDuration(now)
			var pre *meter.Meter
			if k == meter.ModelMediaStopped || k == meter.ViewerDisconnected || k == meter.SeatClosed {
				pre = clone(t, m)
			}

			err := m.Apply(meter.Event{Kind: k, At: at(ns)})
			want := r.apply(k, ns)
			if twin != nil {
				if terr := twin.Apply(meter.Event{Kind: k, At: at(ns)}); (terr == nil) != (err == nil) {
					t.Fatalf("restored twin disagrees on %v: %v vs %v", k, terr, err)
				}
			}
			if (err == nil) != want {
				t.Fatalf("step %d %v at %dns: err %v, reference accepts=%v", i, k, ns, err, want)
			}
			if err != nil {
				if c := errs.CodeOf(err); c != errs.Invalid && c != errs.Conflict {
					t.Fatalf("error code %s, want invalid or conflict", c)
				}
				if after := snapJSON(t, m, now); after != before {
					t.Fatalf("refused event changed the meter:\n%s\n%s", before, after)
				}
				continue
			}
			checkShape(t, m)

			// Billable is exactly the time the seat was open with both sides
			// live, so never more; checked at several "now"s past the last event.
			for _, extra := range []int64{0, 1, 999, 60_000} {
				nowMs := r.lastAt + extra
				got := m.BillableDuration(time.UnixMilli(t0.UnixMilli() + nowMs))
				if wantMs := r.billable(nowMs); got != time.Duration(wantMs)*time.Millisecond {
					t.Fatalf("step %d: billable at +%dms = %v, reference %dms", i, nowMs, got, wantMs)
				}
			}

			if pre != nil {
				// A loss never adds billable time...
				if after := m.BillableDuration(now); after > billBefore {
					t.Fatalf("%v raised billable from %v to %v", k, billBefore, after)
				}
				// ...and backdating it further never adds either.
				earlier := ns - rapid.Int64Range(0, 20_000).Draw(t, "backdateMs")*1e6
				if earlier >= 0 {
					if err := pre.Apply(meter.Event{Kind: k, At: at(earlier)}); err != nil {
						t.Fatalf("the same loss backdated was refused: %v", err)
					}
					if b, a := pre.BillableDuration(now), m.BillableDuration(now); b > a {
						t.Fatalf("backdating %v from %d to %d raised billable %v -> %v", k, ns, earlier, a, b)
					}
				}
			}
		}

		if twin != nil {
			end := at(r.lastAt*1e6 + 7e9)
			if a, b := snapJSON(t, m, end), snapJSON(t, twin, end); a != b {
				t.Fatalf("Snapshot->Restore->continue diverged from continuing:\n%s\n%s", a, b)
			}
		}

		// Crash recovery bills what the checkpoint vouches for, and no more.
		ck := at(r.lastAt*1e6 + rapid.Int64Range(-5000, 5000).Draw(t, "ckptMs")*1e6)
		rec, err := meter.CloseAtCheckpoint(m.Snapshot(ck))
		if err != nil {
			t.Fatalf("CloseAtCheckpoint: %v", err)
		}
		if m.Phase() != meter.Pending && rec.Phase() != meter.Closed {
			t.Fatalf("recovered seat is %v", rec.Phase())
		}
		if rb, mb := rec.BillableDuration(at(1<<50)), m.BillableDuration(ck); rb > mb {
			t.Fatalf("recovery billed %v, more than %v at the checkpoint", rb, mb)
		}
		if ck.UnixMilli() >= t0.UnixMilli()+r.lastAt {
			if rb, mb := rec.BillableDuration(at(1<<50)), m.BillableDuration(ck); rb != mb {
				t.Fatalf("recovery billed %v, want %v at the checkpoint", rb, mb)
			}
		}

		// Closing where WhenBillableReaches says bills exactly the limit.
		if m.Phase() == meter.Open {
			limit := time.Duration(rapid.Int64Range(0, 120_000).Draw(t, "limitMs")) * time.Millisecond
			if when, ok := m.WhenBillableReaches(limit); ok {
				c := clone(t, m)
				if err := c.SeatClosed(when); err != nil {
					t.Fatalf("close at %v: %v", when, err)
				}
				if got := c.BillableDuration(at(1 << 50)); got != limit {
					t.Fatalf("closed at WhenBillableReaches(%v) = %v: billable %v", limit, when, got)
				}
			} else if m.Live() || m.BillableDuration(at(1<<50)) >= limit {
				t.Fatalf("WhenBillableReaches(%v) unknown, live=%v billable=%v", limit, m.Live(), m.BillableDuration(at(1<<50)))
			}
		}
	})
}
