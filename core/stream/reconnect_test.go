package stream_test

import (
	"testing"
	"time"

	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/sdk/errs"
)

// PublisherActive follows the publisher's packets, not the media timeout: a
// second after its RTP stops it no longer holds the show (so its encoder
// may reconnect), though its media is not yet reported stopped.
func TestPublisherActiveFollowsItsPackets(t *testing.T) {
	f := newFixture(t, func(c *stream.Config) { c.MediaTimeout = 5 * time.Second })
	f.adm.AddShow("show-1", "key-1")
	if f.sfu.PublisherActive("show-1") {
		t.Fatal("active before any publisher")
	}
	pub := f.publish(t, "key-1")
	if _, ok := f.rec.Wait(5*time.Second, isFlowing("show-1")); !ok {
		t.Fatal("no ModelMediaFlowing")
	}
	if !f.sfu.PublisherActive("show-1") {
		t.Fatal("a publisher sending media is not active")
	}
	pub.SetSending(false)
	cut := time.Now()
	if !streamtest.WaitFor(3*time.Second, func() bool { return !f.sfu.PublisherActive("show-1") }) {
		t.Fatal("still active 3 s after its packets stopped")
	}
	if took := time.Since(cut); took < 900*time.Millisecond || took > 1600*time.Millisecond {
		t.Fatalf("inactive %v after its packets stopped, want about PublisherStall (1 s)", took)
	}
	t.Logf("inactive %v after its packets stopped", time.Since(cut).Round(time.Millisecond))
	if _, ok := f.rec.Wait(0, isStopped("show-1")); ok {
		t.Fatal("media reported stopped before the media timeout")
	}
	pub.SetSending(true)
	if !streamtest.WaitFor(3*time.Second, func() bool { return f.sfu.PublisherActive("show-1") }) {
		t.Fatal("not active again once its packets resumed")
	}
}

// A publisher replacing another reports the old one's media stopped at once
// (backdated to its last packet) and its own flowing from its first packet,
// so a seat is paused exactly for the gap, even one shorter than the media
// timeout.
func TestReplacingAPublisherReportsTheGap(t *testing.T) {
	f := newFixture(t, func(c *stream.Config) { c.MediaTimeout = 5 * time.Second })
	f.adm.AddShow("show-1", "key-1")
	var first, second stream.Session
	p1, err := streamtest.Publish(ctx(t), streamtest.PublishSession(f.sfu, "key-1", &first), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p1.Close)
	if _, ok := f.rec.Wait(5*time.Second, isFlowing("show-1")); !ok {
		t.Fatal("no ModelMediaFlowing")
	}
	p1.SetSending(false)
	time.Sleep(1200 * time.Millisecond)
	p2, err := streamtest.Publish(ctx(t), streamtest.PublishSession(f.sfu, "key-1", &second), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p2.Close)
	ev, ok := f.rec.Wait(2*time.Second, isStopped("show-1"))
	if !ok {
		t.Fatal("the replaced publisher's media was not reported stopped")
	}
	stop := ev.(stream.ModelMediaStopped)
	if stop.SessionID != first.ID || stop.Reason != stream.ReasonReplaced || time.Since(stop.LastPacketAt) < time.Second {
		t.Fatalf("stop %+v, want the first session's, replaced, dated at its last packet", stop)
	}
	ev, ok = f.rec.Wait(5*time.Second, func(e stream.LivenessEvent) bool {
		x, ok := e.(stream.ModelMediaFlowing)
		return ok && x.SessionID == second.ID
	})
	if !ok {
		t.Fatal("the new publisher's media was not reported flowing")
	}
	if got := ev.(stream.ModelMediaFlowing).Since; got.Before(stop.LastPacketAt) {
		t.Fatalf("flowing again at %v, before the stop at %v", got, stop.LastPacketAt)
	}
}

// EndPublisher ends the publisher's session as its DELETE does and keeps
// the viewers, who see the next publisher.
func TestEndPublisherKeepsTheViewers(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	var sess stream.Session
	p1, err := streamtest.Publish(ctx(t), streamtest.PublishSession(f.sfu, "key-1", &sess), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p1.Close)
	v := f.subscribe(t, "show-1", "")
	if !streamtest.WaitFor(5*time.Second, func() bool { return v.Video.Keyframes.Load() > 0 }) {
		t.Fatal("the viewer sees nothing")
	}
	f.sfu.EndPublisher("show-1")
	if err := f.sfu.End(ctx(t), sess.ID, "key-1"); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("DELETE after EndPublisher: %v, want not found", err)
	}
	if f.sfu.PublisherActive("show-1") {
		t.Fatal("still active after EndPublisher")
	}
	ev, ok := f.rec.Wait(2*time.Second, isStopped("show-1"))
	if !ok || ev.(stream.ModelMediaStopped).Reason != stream.ReasonClosed {
		t.Fatalf("stop after EndPublisher: %+v %v", ev, ok)
	}
	keys := v.Video.Keyframes.Load()
	f.publish(t, "key-1")
	if !streamtest.WaitFor(5*time.Second, func() bool { return v.Video.Keyframes.Load() > keys }) {
		t.Fatal("the viewer does not see the next publisher")
	}
}
