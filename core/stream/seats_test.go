package stream_test

import (
	"testing"
	"time"

	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/sdk/errs"
)

// stopsWithin asserts a viewer's video stops arriving within d of cut and
// stays stopped.
func stopsWithin(t *testing.T, name string, s *streamtest.Subscriber, cut time.Time, d time.Duration) {
	t.Helper()
	time.Sleep(time.Until(cut.Add(d)))
	at := s.Video.Packets.Load()
	time.Sleep(time.Second)
	if after := s.Video.Packets.Load(); after != at {
		t.Fatalf("%s still received %d packets more than %v after being cut", name, after-at, d)
	}
}

func TestEndSeatCutsThatViewerWithinOneSecond(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	f.adm.SetMode("show-1", stream.ModeGroup)
	f.sfu.SetMode("show-1", stream.ModeGroup)
	f.adm.AddSeat("tok-a", "show-1", "seat-a")
	f.adm.AddSeat("tok-b", "show-1", "seat-b")
	f.publish(t, "key-1")
	a, sessA := f.subscribeSession(t, "show-1", "tok-a")
	b, sessB := f.subscribeSession(t, "show-1", "tok-b")
	receiving(t, a)
	receiving(t, b)
	events, stop := f.sfu.Watch("show-1", sessA.WatchID)
	defer stop()
	others, stopOthers := f.sfu.Watch("show-1", sessB.WatchID)
	defer stopOthers()
	public, stopPublic := f.sfu.Watch("show-1", "")
	defer stopPublic()

	f.sfu.EndSeat("seat-a")
	stopsWithin(t, "seat-a", a, time.Now(), time.Second)
	stillReceiving(t, "seat-b", b)

	ev, ok := f.rec.Wait(time.Second, isViewer[stream.ViewerDisconnected]("seat-a"))
	if !ok || ev.(stream.ViewerDisconnected).Reason != stream.ReasonSeatEnded {
		t.Fatalf("liveness after EndSeat: %+v", ev)
	}
	if !waitShowEvent(events, func(e stream.ShowEvent) bool {
		return e.Type == stream.EventEnded && e.Reason == stream.ReasonSeatEnded
	}) {
		t.Fatal("no ended event for the page of seat-a")
	}
	// Seat-a's end is its own page's business: neither seat-b's page nor
	// the public feed hears of it.
	for name, ch := range map[string]<-chan stream.ShowEvent{"seat-b's page": others, "the public feed": public} {
		if waitShowEvent(ch, func(e stream.ShowEvent) bool { return e.Type == stream.EventEnded }) {
			t.Fatalf("%s was told another session ended", name)
		}
	}
}

func TestTurningPrivateCutsPublicViewersAndTellsThem(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	f.adm.AddSeat("tok", "show-1", "seat-1")
	f.publish(t, "key-1")
	public, sess := f.subscribeSession(t, "show-1", "")
	seat := f.subscribe(t, "show-1", "tok")
	receiving(t, public)
	receiving(t, seat)
	events, stop := f.sfu.Watch("show-1", sess.WatchID)
	defer stop()

	f.sfu.SetMode("show-1", stream.ModePrivate)
	stopsWithin(t, "public viewer", public, time.Now(), time.Second)
	stillReceiving(t, "seat holder", seat)
	if !waitShowEvent(events, func(e stream.ShowEvent) bool { return e.Type == stream.EventMode && e.Mode == stream.ModePrivate }) {
		t.Fatal("no mode event")
	}
	if !waitShowEvent(events, func(e stream.ShowEvent) bool {
		return e.Type == stream.EventEnded && e.Reason == stream.ReasonShowPrivate
	}) {
		t.Fatal("the public viewer's page is not told the show went private")
	}
	// The SFU refuses new public viewers even if the host's admission lags.
	_, err := streamtest.Subscribe(ctx(t), streamtest.SubscribeDirect(f.sfu, "show-1", ""))
	if errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("public subscribe to a private show: %v", err)
	}
}

func TestViewerReconnectsAfterDroppedConnection(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	f.adm.AddSeat("tok", "show-1", "seat-1")
	f.publish(t, "key-1")
	first := f.subscribe(t, "show-1", "tok")
	receiving(t, first)
	first.Close()
	if _, ok := f.rec.Wait(3*time.Second, isViewer[stream.ViewerDisconnected]("seat-1")); !ok {
		t.Fatal("drop not reported")
	}
	again := f.subscribe(t, "show-1", "tok")
	receiving(t, again)
	n := 0
	if _, ok := f.rec.Wait(3*time.Second, func(e stream.LivenessEvent) bool {
		if x, ok := e.(stream.ViewerConnected); ok && x.SeatID == "seat-1" {
			n++
		}
		return n == 2
	}); !ok {
		t.Fatal("reconnect not reported as ViewerConnected")
	}

	// The same seat connecting again while the old connection lingers
	// replaces it: one seat, one stream.
	third := f.subscribe(t, "show-1", "tok")
	receiving(t, third)
	stopsWithin(t, "replaced viewer", again, time.Now(), time.Second)
}

func TestViewerSurvivesModelReconnect(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	pub := f.publish(t, "key-1")
	v := f.subscribe(t, "show-1", "")
	receiving(t, v)
	pub.Close()
	time.Sleep(300 * time.Millisecond)
	before := v.Video.Packets.Load()
	f.publish(t, "key-1")
	if !streamtest.WaitFor(5*time.Second, func() bool { return v.Video.Packets.Load() > before+60 }) {
		t.Fatal("viewer got nothing from the model's new session")
	}
	// Sequence numbers continue across the switch: no phantom loss of
	// thousands of packets for the viewer's NACKs and stats.
	exp, got := v.Video.Loss()
	if exp > got+got/10 {
		t.Fatalf("viewer sees a sequence gap across the reconnect: expected %d, received %d", exp, got)
	}
}

func waitShowEvent(ch <-chan stream.ShowEvent, match func(stream.ShowEvent) bool) bool {
	deadline := time.After(3 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return false
			}
			if match(e) {
				return true
			}
		case <-deadline:
			return false
		}
	}
}
