package meter_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/sdk/errs"
)

var t0 = time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)

// s returns t0 plus seconds; ms returns t0 plus milliseconds.
func s(sec int64) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
func ms(n int64) time.Time  { return t0.Add(time.Duration(n) * time.Millisecond) }

// iv builds the expected interval in seconds after t0.
func iv(from, to int64) meter.Interval {
	return meter.Interval{StartMs: s(from).UnixMilli(), EndMs: s(to).UnixMilli()}
}

func mustApply(t *testing.T, m *meter.Meter, evs ...meter.Event) {
	t.Helper()
	for _, e := range evs {
		if err := m.Apply(e); err != nil {
			t.Fatalf("Apply(%v at %v): %v", e.Kind, e.At.Sub(t0), err)
		}
	}
}

func ev(k meter.Kind, at time.Time) meter.Event { return meter.Event{Kind: k, At: at} }

// liveAt opens a seat at `at` with both sides live at once.
func liveAt(t *testing.T, at time.Time) *meter.Meter {
	t.Helper()
	m := meter.New()
	mustApply(t, m, ev(meter.SeatOpened, at), ev(meter.ModelMediaFlowing, at), ev(meter.ViewerConnected, at))
	if !m.Live() {
		t.Fatal("not live after open + flowing + connected")
	}
	return m
}

func wantIntervals(t *testing.T, m *meter.Meter, want ...meter.Interval) {
	t.Helper()
	if got := m.Intervals(); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("intervals = %v, want %v", got, want)
	}
}

func TestViewerDropAndReconnectPausesAtLastEvidence(t *testing.T) {
	m := liveAt(t, s(0))
	// The viewer's last RTCP was at 60 s; the 5 s timeout reports it at 65 s.
	mustApply(t, m, ev(meter.ViewerDisconnected, s(60)))
	if got := m.BillableDuration(s(65)); got != 60*time.Second {
		t.Fatalf("billable at 65 s = %v, want 60s (backdated to the last evidence)", got)
	}
	if p, ok := m.PausedSince(); !ok || !p.Equal(s(60)) {
		t.Fatalf("PausedSince = %v, %v; want 60 s", p.Sub(t0), ok)
	}
	mustApply(t, m, ev(meter.ViewerConnected, s(90)))
	if _, ok := m.PausedSince(); ok {
		t.Fatal("still paused after reconnect")
	}
	if got := m.BillableDuration(s(100)); got != 70*time.Second {
		t.Fatalf("billable at 100 s = %v, want 70s", got)
	}
	mustApply(t, m, ev(meter.SeatClosed, s(120)))
	wantIntervals(t, m, iv(0, 60), iv(90, 120))
	if got := m.BillableSeconds(s(999)); got != 90 {
		t.Fatalf("BillableSeconds after close = %d, want 90", got)
	}
}

func TestModelDropAndReconnectPausesAtLastPacket(t *testing.T) {
	m := liveAt(t, s(0))
	mustApply(t, m, ev(meter.ModelMediaStopped, s(30)))
	if m.Live() {
		t.Fatal("live while the model's media is stopped")
	}
	if got := m.BillableDuration(s(33)); got != 30*time.Second {
		t.Fatalf("billable = %v, want 30s", got)
	}
	mustApply(t, m, ev(meter.ModelMediaFlowing, s(45)), ev(meter.SeatClosed, s(50)))
	wantIntervals(t, m, iv(0, 30), iv(45, 50))
	if got := m.BillableSeconds(s(50)); got != 35 {
		t.Fatalf("BillableSeconds = %d, want 35", got)
	}
}

func TestBothSidesDropAtOnce(t *testing.T) {
	m := liveAt(t, s(0))
	// Both timeouts fire together; the model's is reported first, then the
	// viewer's, whose last evidence is earlier still.
	mustApply(t, m, ev(meter.ModelMediaStopped, s(50)), ev(meter.ViewerDisconnected, s(48)))
	wantIntervals(t, m, iv(0, 48))
	if p, _ := m.PausedSince(); !p.Equal(s(48)) {
		t.Fatalf("PausedSince = %v, want 48 s", p.Sub(t0))
	}
	mustApply(t, m, ev(meter.ModelMediaFlowing, s(70)))
	if m.Live() {
		t.Fatal("live with the viewer still away")
	}
	mustApply(t, m, ev(meter.ViewerConnected, s(75)), ev(meter.SeatClosed, s(100)))
	wantIntervals(t, m, iv(0, 48), iv(75, 100))
}

func TestBackdatedLossTrimsAnIntervalClosedMeanwhile(t *testing.T) {
	m := liveAt(t, s(0))
	// The model stops at 10 s (reported at 13 s) and is back at 13 s; only
	// then does the viewer's timeout report that its evidence ended at 8 s.
	mustApply(t, m, ev(meter.ModelMediaStopped, s(10)), ev(meter.ModelMediaFlowing, s(13)))
	if !m.Live() {
		t.Fatal("not live after the model returned")
	}
	mustApply(t, m, ev(meter.ViewerDisconnected, s(8)))
	wantIntervals(t, m, iv(0, 8))
	if got := m.BillableDuration(s(20)); got != 8*time.Second {
		t.Fatalf("billable = %v, want 8s: nothing after the viewer's last evidence", got)
	}
}

func TestBackdatedLossNeverReachesBeforeTheSideConnected(t *testing.T) {
	m := liveAt(t, s(0))
	mustApply(t, m, ev(meter.ViewerDisconnected, s(20)), ev(meter.ViewerConnected, s(30)))
	// "Last evidence" at 25 s contradicts the reconnection at 30 s: the cut
	// stops at 30 s and the interval before the reconnection is untouched.
	mustApply(t, m, ev(meter.ViewerDisconnected, s(25)))
	wantIntervals(t, m, iv(0, 20))
	if p, _ := m.PausedSince(); !p.Equal(s(20)) {
		t.Fatalf("PausedSince = %v, want 20 s", p.Sub(t0))
	}
}

func TestFlappingEverySecond(t *testing.T) {
	m := meter.New()
	mustApply(t, m, ev(meter.SeatOpened, s(0)), ev(meter.ModelMediaFlowing, s(0)))
	// The viewer is connected on even seconds and gone on odd ones, for an hour.
	for k := int64(0); k < 3600; k += 2 {
		mustApply(t, m, ev(meter.ViewerConnected, s(k)), ev(meter.ViewerDisconnected, s(k+1)))
	}
	if got := m.BillableSeconds(s(3600)); got != 1800 {
		t.Fatalf("billable = %d s, want 1800", got)
	}
	if n := len(m.Intervals()); n != 1800 {
		t.Fatalf("%d intervals, want 1800", n)
	}
	// Now the model flaps too, half a second out of phase with the viewer.
	mustApply(t, m, ev(meter.ModelMediaStopped, ms(3600_000)))
	for k := int64(3600); k < 3700; k++ {
		mustApply(t, m,
			ev(meter.ViewerConnected, s(k)), ev(meter.ModelMediaFlowing, ms(k*1000+500)),
			ev(meter.ViewerDisconnected, ms(k*1000+750)), ev(meter.ModelMediaStopped, ms(k*1000+900)))
	}
	if got := m.BillableDuration(s(3700)); got != 1800*time.Second+100*250*time.Millisecond {
		t.Fatalf("billable = %v, want 1800s + 100 x 250ms", got)
	}
}

func TestPausePastTheMaximumIsReportedNotActedOn(t *testing.T) {
	m := liveAt(t, s(0))
	mustApply(t, m, ev(meter.ModelMediaStopped, s(60)))
	// Long after a 120 s maximum the meter still only reports; the billing
	// engine reads PausedSince and ends the seat.
	p, ok := m.PausedSince()
	if !ok || !p.Equal(s(60)) || m.Phase() != meter.Open {
		t.Fatalf("PausedSince = %v, %v; phase %v", p.Sub(t0), ok, m.Phase())
	}
	if paused := s(600).Sub(p); paused <= 120*time.Second {
		t.Fatalf("paused for %v", paused)
	}
	mustApply(t, m, ev(meter.SeatClosed, p.Add(120*time.Second)))
	if got := m.BillableSeconds(s(600)); got != 60 {
		t.Fatalf("billable = %d, want 60: a pause is never billed", got)
	}
	if _, ok := m.PausedSince(); ok {
		t.Fatal("a closed seat reports a pause")
	}
}

func TestPausedSinceOpenWhenNeverLive(t *testing.T) {
	m := meter.New()
	mustApply(t, m, ev(meter.SeatOpened, s(5)), ev(meter.ModelMediaFlowing, s(6)))
	if p, ok := m.PausedSince(); !ok || !p.Equal(s(5)) {
		t.Fatalf("PausedSince = %v, %v; want the open time", p.Sub(t0), ok)
	}
	if _, ok := meter.New().PausedSince(); ok {
		t.Fatal("a pending seat reports a pause")
	}
}

func TestSeatEndingAtZeroSeconds(t *testing.T) {
	m := meter.New()
	mustApply(t, m, ev(meter.SeatOpened, s(0)), ev(meter.SeatClosed, s(0)))
	if m.BillableDuration(s(100)) != 0 || len(m.Intervals()) != 0 || m.Phase() != meter.Closed {
		t.Fatalf("a seat closed at open: billable %v, intervals %v", m.BillableDuration(s(100)), m.Intervals())
	}
	m = liveAt(t, s(0))
	mustApply(t, m, ev(meter.SeatClosed, s(0)))
	if m.BillableDuration(s(100)) != 0 || len(m.Intervals()) != 0 {
		t.Fatalf("live and closed at the same instant: billable %v, intervals %v", m.BillableDuration(s(100)), m.Intervals())
	}
	// Live for 999 ms is zero billable seconds.
	m = liveAt(t, s(0))
	mustApply(t, m, ev(meter.SeatClosed, ms(999)))
	if m.BillableSeconds(s(5)) != 0 || m.BillableDuration(s(5)) != 999*time.Millisecond {
		t.Fatalf("999 ms: %d s, %v", m.BillableSeconds(s(5)), m.BillableDuration(s(5)))
	}
}

func TestOutOfOrderTimestampsAndBadTransitionsChangeNothing(t *testing.T) {
	pending := func() *meter.Meter { return meter.New() }
	open := func() *meter.Meter {
		m := meter.New()
		mustApply(t, m, ev(meter.SeatOpened, s(10)), ev(meter.ModelMediaFlowing, s(20)))
		return m
	}
	closed := func() *meter.Meter {
		m := liveAt(t, s(10))
		mustApply(t, m, ev(meter.SeatClosed, s(30)))
		return m
	}
	for _, c := range []struct {
		name string
		m    func() *meter.Meter
		e    meter.Event
		code errs.Code
	}{
		{"gain earlier than the last event", open, ev(meter.ViewerConnected, s(19)), errs.Invalid},
		{"gain a millisecond early", open, ev(meter.ViewerConnected, ms(19_999)), errs.Invalid},
		{"model flowing twice", open, ev(meter.ModelMediaFlowing, s(25)), errs.Conflict},
		{"viewer gone but never connected", open, ev(meter.ViewerDisconnected, s(25)), errs.Conflict},
		{"opened twice", open, ev(meter.SeatOpened, s(25)), errs.Conflict},
		{"event before open", pending, ev(meter.ModelMediaFlowing, s(1)), errs.Conflict},
		{"loss before open", pending, ev(meter.ViewerDisconnected, s(1)), errs.Conflict},
		{"close before open", pending, ev(meter.SeatClosed, s(1)), errs.Conflict},
		{"event after close", closed, ev(meter.ViewerConnected, s(40)), errs.Conflict},
		{"loss after close", closed, ev(meter.ModelMediaStopped, s(29)), errs.Conflict},
		{"closed twice", closed, ev(meter.SeatClosed, s(40)), errs.Conflict},
		{"unknown kind", open, ev(meter.Kind(0), s(30)), errs.Invalid},
		{"unknown kind 99", open, ev(meter.Kind(99), s(30)), errs.Invalid},
		{"zero time", open, ev(meter.ViewerConnected, time.Time{}), errs.Invalid},
		{"before 1970", pending, ev(meter.SeatOpened, time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)), errs.Invalid},
		{"after 9999", pending, ev(meter.SeatOpened, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)), errs.Invalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := c.m()
			before, _ := json.Marshal(m.Snapshot(s(50)))
			err := m.Apply(c.e)
			if errs.CodeOf(err) != c.code {
				t.Fatalf("err = %v, want code %s", err, c.code)
			}
			after, _ := json.Marshal(m.Snapshot(s(50)))
			if string(before) != string(after) {
				t.Fatalf("a refused event changed the meter:\n%s\n%s", before, after)
			}
		})
	}
}

func TestMillisecondRoundingFavoursTheViewer(t *testing.T) {
	m := meter.New()
	start := t0.Add(400 * time.Microsecond) // rounds up to 1 ms
	mustApply(t, m, ev(meter.SeatOpened, start), ev(meter.ModelMediaFlowing, start), ev(meter.ViewerConnected, start))
	mustApply(t, m, ev(meter.ViewerDisconnected, t0.Add(10*time.Millisecond+900*time.Microsecond))) // down to 10 ms
	if got := m.BillableDuration(s(1)); got != 9*time.Millisecond {
		t.Fatalf("billable = %v, want 9ms (start up, end down)", got)
	}
	// "now" rounds down too.
	mustApply(t, m, ev(meter.ViewerConnected, ms(20)))
	if got := m.BillableDuration(t0.Add(25*time.Millisecond + 999*time.Microsecond)); got != 14*time.Millisecond {
		t.Fatalf("billable = %v, want 14ms", got)
	}
	if got := m.BillableDuration(ms(5)); got != 9*time.Millisecond {
		t.Fatalf("billable with now before the open interval = %v, want 9ms", got)
	}
}

func TestTouchingIntervalsMerge(t *testing.T) {
	m := liveAt(t, s(0))
	mustApply(t, m, ev(meter.ModelMediaStopped, s(10)), ev(meter.ModelMediaFlowing, s(10)), ev(meter.SeatClosed, s(20)))
	wantIntervals(t, m, iv(0, 20))
}

func TestBackdatedCloseEndsExactlyWhenFundingRunsOut(t *testing.T) {
	m := liveAt(t, s(0))
	mustApply(t, m, ev(meter.ViewerDisconnected, s(100)), ev(meter.ViewerConnected, s(150)))
	funded := 300 * time.Second
	at, ok := m.WhenBillableReaches(funded)
	if !ok || !at.Equal(s(350)) {
		t.Fatalf("WhenBillableReaches(300s) = %v, %v; want 350 s", at.Sub(t0), ok)
	}
	// The engine's timer fires 700 ms late; it closes at the computed instant.
	mustApply(t, m, ev(meter.SeatClosed, at))
	if got := m.BillableDuration(ms(350_700)); got != funded {
		t.Fatalf("billable = %v, want exactly the funded %v", got, funded)
	}
	// Reached inside a closed interval: the instant is in the past.
	if at, ok := m.WhenBillableReaches(40 * time.Second); !ok || !at.Equal(s(40)) {
		t.Fatalf("WhenBillableReaches(40s) = %v, %v", at.Sub(t0), ok)
	}
	if at, ok := m.WhenBillableReaches(100 * time.Second); !ok || !at.Equal(s(100)) {
		t.Fatalf("WhenBillableReaches(100s) = %v, %v; want the end of the first interval", at.Sub(t0), ok)
	}
	// Never reached on a closed seat.
	if _, ok := m.WhenBillableReaches(301 * time.Second); ok {
		t.Fatal("a closed seat will reach more billable time")
	}
}

func TestWhenBillableReachesWhilePaused(t *testing.T) {
	m := liveAt(t, s(0))
	mustApply(t, m, ev(meter.ModelMediaStopped, s(10)))
	if _, ok := m.WhenBillableReaches(20 * time.Second); ok {
		t.Fatal("a paused seat claims to know when it will reach 20 s")
	}
	if _, ok := meter.New().WhenBillableReaches(0); ok {
		t.Fatal("a pending seat reaches a limit")
	}
	if at, ok := m.WhenBillableReaches(0); !ok || !at.Equal(s(0)) {
		t.Fatalf("WhenBillableReaches(0) = %v, %v", at.Sub(t0), ok)
	}
	// A sub-millisecond limit rounds up: never earlier than the limit.
	mustApply(t, m, ev(meter.ModelMediaFlowing, s(20)))
	if at, _ := m.WhenBillableReaches(10*time.Second + time.Microsecond); !at.Equal(ms(20_001)) {
		t.Fatalf("got %v", at.Sub(t0))
	}
}

func TestSnapshotJSONRestoreResumes(t *testing.T) {
	m := liveAt(t, s(0))
	mustApply(t, m, ev(meter.ViewerDisconnected, s(30)), ev(meter.ViewerConnected, s(40)))
	raw, err := json.Marshal(m.Snapshot(s(45)))
	if err != nil {
		t.Fatal(err)
	}
	var snap meter.Snapshot
	if err := json.Unmarshal(raw, &snap); err != nil {
		t.Fatal(err)
	}
	r, err := meter.Restore(snap)
	if err != nil {
		t.Fatalf("Restore(%s): %v", raw, err)
	}
	for _, x := range []*meter.Meter{m, r} {
		mustApply(t, x, ev(meter.ModelMediaStopped, s(50)), ev(meter.SeatClosed, s(60)))
	}
	if !slices.Equal(m.Intervals(), r.Intervals()) || m.BillableDuration(s(60)) != r.BillableDuration(s(60)) {
		t.Fatalf("restored meter diverged: %v vs %v", r.Intervals(), m.Intervals())
	}
	wantIntervals(t, r, iv(0, 30), iv(40, 50))
}

func TestCloseAtCheckpointBillsUpToTheCheckpointOnly(t *testing.T) {
	m := liveAt(t, s(0))
	mustApply(t, m, ev(meter.ViewerDisconnected, s(30)), ev(meter.ViewerConnected, s(40)))
	snap := m.Snapshot(s(55)) // the last checkpoint before the crash
	r, err := meter.CloseAtCheckpoint(snap)
	if err != nil {
		t.Fatal(err)
	}
	if r.Phase() != meter.Closed {
		t.Fatalf("phase %v", r.Phase())
	}
	wantIntervals(t, r, iv(0, 30), iv(40, 55))
	if got := r.BillableSeconds(s(9999)); got != 45 {
		t.Fatalf("billable = %d, want 45", got)
	}
	// Recovery twice changes nothing.
	again, err := meter.CloseAtCheckpoint(r.Snapshot(s(9999)))
	if err != nil || !slices.Equal(again.Intervals(), r.Intervals()) || again.Phase() != meter.Closed {
		t.Fatalf("second recovery: %v, %v", again.Intervals(), err)
	}
	// A checkpoint taken with a stale "now" (before the latest event) closes
	// there: never more than the checkpoint vouches for.
	stale, err := meter.CloseAtCheckpoint(m.Snapshot(s(35)))
	if err != nil {
		t.Fatal(err)
	}
	wantIntervals(t, stale, iv(0, 30))
	// A pending seat stays pending.
	p, err := meter.CloseAtCheckpoint(meter.New().Snapshot(s(1)))
	if err != nil || p.Phase() != meter.Pending {
		t.Fatalf("pending recovery: %v, %v", p.Phase(), err)
	}
}

func TestRestoreRefusesImpossibleSnapshots(t *testing.T) {
	good := func() meter.Snapshot {
		m := liveAt(t, s(0))
		mustApply(t, m, ev(meter.ViewerDisconnected, s(30)), ev(meter.ViewerConnected, s(40)))
		return m.Snapshot(s(50))
	}
	if _, err := meter.Restore(good()); err != nil {
		t.Fatalf("good snapshot refused: %v", err)
	}
	for name, mutate := range map[string]func(*meter.Snapshot){
		"version":                 func(x *meter.Snapshot) { x.Version = 2 },
		"phase":                   func(x *meter.Snapshot) { x.Phase = meter.Phase(7) },
		"empty interval":          func(x *meter.Snapshot) { x.Intervals[0].EndMs = x.Intervals[0].StartMs },
		"interval before open":    func(x *meter.Snapshot) { x.Intervals[0].StartMs = x.OpenedAt - 1 },
		"interval after last":     func(x *meter.Snapshot) { x.Intervals[0].EndMs = x.LastEvent + 1 },
		"live before interval":    func(x *meter.Snapshot) { x.LiveSince = x.Intervals[0].EndMs - 1 },
		"live after last event":   func(x *meter.Snapshot) { x.LiveSince = x.LastEvent + 1 },
		"live since but not live": func(x *meter.Snapshot) { x.Viewer = meter.SideState{} },
		"side since before open":  func(x *meter.Snapshot) { x.Model.Since = x.OpenedAt - 1 },
		"absent side with since":  func(x *meter.Snapshot) { x.Model.Present = false; x.LiveSince = 0 },
		"last event before open":  func(x *meter.Snapshot) { x.LastEvent = x.OpenedAt - 1 },
		"open with a close time":  func(x *meter.Snapshot) { x.ClosedAt = x.LastEvent },
		"negative checkpoint":     func(x *meter.Snapshot) { x.CheckpointAt = -1 },
		"closed before interval": func(x *meter.Snapshot) {
			x.Phase, x.LiveSince, x.ClosedAt = meter.Closed, 0, x.Intervals[0].EndMs-1
		},
		"overlapping intervals": func(x *meter.Snapshot) {
			x.Intervals = append(x.Intervals, meter.Interval{StartMs: x.Intervals[0].EndMs - 1, EndMs: x.Intervals[0].EndMs + 1})
		},
		"pending with state": func(x *meter.Snapshot) { x.Phase = meter.Pending },
	} {
		x := good()
		mutate(&x)
		if _, err := meter.Restore(x); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%s: Restore = %v, want invalid", name, err)
		}
		if _, err := meter.CloseAtCheckpoint(x); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%s: CloseAtCheckpoint = %v, want invalid", name, err)
		}
	}
	var p meter.Phase
	if err := json.Unmarshal([]byte(`"halfway"`), &p); err == nil {
		t.Error("unknown phase name accepted")
	}
}

func TestAccessors(t *testing.T) {
	m := meter.New()
	if !m.LastEventAt().IsZero() || m.Phase() != meter.Pending || m.Phase().String() != "pending" {
		t.Fatalf("pending meter: %v %v", m.LastEventAt(), m.Phase())
	}
	mustApply(t, m, ev(meter.SeatOpened, s(1)), ev(meter.ViewerConnected, s(2)), ev(meter.ModelMediaFlowing, s(3)))
	if at, ok := m.OpenSince(); !ok || !at.Equal(s(3)) {
		t.Fatalf("OpenSince = %v, %v", at.Sub(t0), ok)
	}
	mustApply(t, m, ev(meter.ViewerDisconnected, s(1)))
	if !m.LastEventAt().Equal(s(3)) {
		t.Fatalf("a backdated loss moved LastEventAt to %v", m.LastEventAt().Sub(t0))
	}
	if _, ok := m.OpenSince(); ok {
		t.Fatal("OpenSince while paused")
	}
	got := m.Intervals()
	if len(got) != 0 {
		t.Fatalf("the viewer's loss clamped at its own connection (2 s) must leave no billable time, got %v", got)
	}
	i := iv(5, 7)
	if !i.Start().Equal(s(5)) || !i.End().Equal(s(7)) || i.Duration() != 2*time.Second {
		t.Fatalf("Interval accessors: %v %v %v", i.Start(), i.End(), i.Duration())
	}
	if meter.ViewerDisconnected.String() != "viewer_disconnected" || meter.Kind(0).String() != "kind(?)" {
		t.Fatal("Kind names")
	}
}
