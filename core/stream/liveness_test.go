package stream_test

import (
	"github.com/camkit/camkit/core/clock/clocktest"
	"testing"
	"time"

	"github.com/camkit/camkit/core/stream"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// stepClock advances the fake clock by total in small steps while media keeps
// flowing in real time, so the model's own timeout never fires by accident.
func stepClock(c *clocktest.Fake, total time.Duration) time.Time {
	const step = 100 * time.Millisecond
	var now time.Time
	for d := time.Duration(0); d < total; d += step {
		c.Advance(min(step, total-d))
		now = c.Now()
		time.Sleep(20 * time.Millisecond)
	}
	return now
}

func TestModelStopIsBackdatedToLastPacket(t *testing.T) {
	clock := clocktest.NewFake(t0)
	f := newFixture(t, func(c *stream.Config) { c.Clock = clock })
	f.adm.AddShow("show-1", "key-1")
	pub := f.publish(t, "key-1")
	ev, ok := f.rec.Wait(5*time.Second, isFlowing("show-1"))
	if !ok {
		t.Fatal("no ModelMediaFlowing")
	}
	if got := ev.(stream.ModelMediaFlowing).Since; !got.Equal(t0) {
		t.Fatalf("flowing since %v, want %v", got, t0)
	}
	clock.Advance(time.Second)
	last := clock.Now()
	time.Sleep(300 * time.Millisecond) // packets now carry `last`
	pub.SetSending(false)
	time.Sleep(300 * time.Millisecond) // nothing left in flight

	clock.Advance(2900 * time.Millisecond)
	if _, ok := f.rec.Wait(400*time.Millisecond, isStopped("show-1")); ok {
		t.Fatal("media reported stopped before the 3 s timeout")
	}
	clock.Advance(200 * time.Millisecond)
	ev, ok = f.rec.Wait(3*time.Second, isStopped("show-1"))
	if !ok {
		t.Fatal("no ModelMediaStopped after the timeout")
	}
	if got := ev.(stream.ModelMediaStopped).LastPacketAt; !got.Equal(last) {
		t.Fatalf("stop backdated to %v, want the last packet at %v", got, last)
	}

	// Media resuming is reported at the moment it resumes.
	clock.Advance(10 * time.Second)
	resumed := clock.Now()
	pub.SetSending(true)
	ev, ok = f.rec.Wait(3*time.Second, func(e stream.LivenessEvent) bool {
		x, ok := e.(stream.ModelMediaFlowing)
		return ok && !x.Since.Equal(t0)
	})
	if !ok {
		t.Fatal("no second ModelMediaFlowing after resuming")
	}
	if got := ev.(stream.ModelMediaFlowing).Since; !got.Equal(resumed) {
		t.Fatalf("resumed at %v, want %v", got, resumed)
	}
}

func TestModelDisconnectIsReportedAtOnce(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	pub := f.publish(t, "key-1")
	if _, ok := f.rec.Wait(5*time.Second, isFlowing("show-1")); !ok {
		t.Fatal("no ModelMediaFlowing")
	}
	pub.Close()
	closed := time.Now()
	ev, ok := f.rec.Wait(2*time.Second, isStopped("show-1"))
	if !ok {
		t.Fatal("no ModelMediaStopped within 2 s of the model hanging up (the 3 s timeout must not be needed)")
	}
	last := ev.(stream.ModelMediaStopped).LastPacketAt
	if last.After(closed) || closed.Sub(last) > 500*time.Millisecond {
		t.Fatalf("last packet at %v, model closed at %v", last, closed)
	}
}

func TestSilentViewerIsBackdatedToLastRTCP(t *testing.T) {
	clock := clocktest.NewFake(t0)
	f := newFixture(t, func(c *stream.Config) { c.Clock = clock })
	f.adm.AddShow("show-1", "key-1")
	f.adm.AddSeat("tok", "show-1", "seat-1")
	f.publish(t, "key-1")
	v := f.subscribe(t, "show-1", "tok")
	receiving(t, v)
	if _, ok := f.rec.Wait(5*time.Second, isViewer[stream.ViewerConnected]("seat-1")); !ok {
		t.Fatal("no ViewerConnected")
	}
	stepClock(clock, 6*time.Second) // past the grace after media started
	// Hold the clock still for longer than the viewer's 1 s report interval,
	// so its last report carries exactly `last`.
	last := clock.Now()
	time.Sleep(1500 * time.Millisecond)
	v.MuteRTCP(true)
	time.Sleep(300 * time.Millisecond)

	stepClock(clock, 4900*time.Millisecond)
	if ev, ok := f.rec.Wait(300*time.Millisecond, isViewer[stream.ViewerDisconnected]("seat-1")); ok {
		t.Fatalf("viewer reported gone before the 5 s timeout: %+v", ev)
	}
	stepClock(clock, 200*time.Millisecond)
	ev, ok := f.rec.Wait(3*time.Second, isViewer[stream.ViewerDisconnected]("seat-1"))
	if !ok {
		t.Fatal("no ViewerDisconnected after 5 s without RTCP")
	}
	d := ev.(stream.ViewerDisconnected)
	if !d.LastEvidenceAt.Equal(last) || d.Reason != stream.ReasonTimeout {
		t.Fatalf("disconnect %+v, want backdated to %v for timeout", d, last)
	}

	// Its reports coming back make it connected again.
	v.MuteRTCP(false)
	n := 0
	if _, ok := f.rec.Wait(3*time.Second, func(e stream.LivenessEvent) bool {
		if x, ok := e.(stream.ViewerConnected); ok && x.SeatID == "seat-1" {
			n++
		}
		return n == 2
	}); !ok {
		t.Fatal("viewer not reported connected again after its RTCP resumed")
	}
}

func TestViewerHangUpIsBackdated(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	f.adm.AddSeat("tok", "show-1", "seat-1")
	f.publish(t, "key-1")
	v := f.subscribe(t, "show-1", "tok")
	receiving(t, v)
	if _, ok := f.rec.Wait(5*time.Second, isViewer[stream.ViewerConnected]("seat-1")); !ok {
		t.Fatal("no ViewerConnected")
	}
	v.Close()
	closed := time.Now()
	ev, ok := f.rec.Wait(3*time.Second, isViewer[stream.ViewerDisconnected]("seat-1"))
	if !ok {
		t.Fatal("no ViewerDisconnected after the viewer hung up")
	}
	d := ev.(stream.ViewerDisconnected)
	if d.LastEvidenceAt.After(closed) || closed.Sub(d.LastEvidenceAt) > 1500*time.Millisecond {
		t.Fatalf("last evidence %v, viewer hung up at %v", d.LastEvidenceAt, closed)
	}
}

func isStopped(show string) func(stream.LivenessEvent) bool {
	return func(ev stream.LivenessEvent) bool {
		e, ok := ev.(stream.ModelMediaStopped)
		return ok && e.ShowID == show
	}
}

func isViewer[T stream.ViewerConnected | stream.ViewerDisconnected](seat string) func(stream.LivenessEvent) bool {
	return func(ev stream.LivenessEvent) bool {
		switch e := ev.(type) {
		case stream.ViewerConnected:
			_, want := any(*new(T)).(stream.ViewerConnected)
			return want && e.SeatID == seat
		case stream.ViewerDisconnected:
			_, want := any(*new(T)).(stream.ViewerDisconnected)
			return want && e.SeatID == seat
		}
		return false
	}
}
