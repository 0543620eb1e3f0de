package stream_test

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
)

// A seat's billing starts with the first video frame the viewer can show,
// not when its connection comes up: an encoder that takes 2 s to send its
// first keyframe keeps a connected viewer unbilled for those 2 s. The SFU's
// liveness events drive core/meter (billing's own state machine, fed the
// same way by core/shows), and the meter's first live instant is checked
// against the moment the viewer received its first keyframe packet.
func TestBillingStartsAtFirstDeliveredKeyframe(t *testing.T) {
	for _, tc := range []struct {
		name string
		h264 bool
	}{{"VP8", false}, {"H264", true}} {
		t.Run(tc.name, func(t *testing.T) {
			const late = 2 * time.Second
			f := newFixture(t, nil)
			f.adm.AddShow("show-1", "key-1")
			f.adm.AddSeat("tok", "show-1", "seat-1")
			opened := time.Now()
			pub, err := streamtest.Publish(ctx(t), streamtest.PublishDirect(f.sfu, "key-1"),
				streamtest.PublisherOptions{KeyframeEvery: 1 << 30, H264: tc.h264, KeyframesAfter: late})
			if err != nil {
				t.Fatalf("publish: %v", err)
			}
			t.Cleanup(pub.Close)
			if _, ok := f.rec.Wait(5*time.Second, isFlowing("show-1")); !ok {
				t.Fatal("no ModelMediaFlowing")
			}
			v := f.subscribe(t, "show-1", "tok")
			var connectedAt time.Time
			if !streamtest.WaitFor(5*time.Second, func() bool {
				if v.PC.ConnectionState() == webrtc.PeerConnectionStateConnected {
					connectedAt = time.Now()
					return true
				}
				return false
			}) {
				t.Fatal("viewer never connected")
			}
			if _, ok := f.rec.Wait(5*time.Second, isViewer[stream.ViewerConnected]("seat-1")); !ok {
				t.Fatal("no ViewerConnected once the keyframe came")
			}
			// The event may beat the packet's way through the viewer's stack.
			if !streamtest.WaitFor(time.Second, func() bool { return v.Video.FirstKeyAt.Load() != 0 }) {
				t.Fatal("ViewerConnected reported, but no keyframe reached the viewer")
			}
			firstKey := time.Unix(0, v.Video.FirstKeyAt.Load())
			if gap := firstKey.Sub(connectedAt); gap < late/2 {
				t.Fatalf("the first keyframe came %v after the connection: the test needs a late one", gap)
			}
			if got := v.Video.Packets.Load(); got == 0 {
				t.Fatal("no video at all")
			}

			m := meter.New()
			if err := m.SeatOpened(opened); err != nil {
				t.Fatal(err)
			}
			for _, ev := range f.rec.Events() {
				var err error
				switch e := ev.(type) {
				case stream.ModelMediaFlowing:
					err = m.ModelMediaFlowing(e.Since)
				case stream.ModelMediaStopped:
					err = m.ModelMediaStopped(e.LastPacketAt)
				case stream.ViewerConnected:
					err = m.ViewerConnected(e.At)
				case stream.ViewerDisconnected:
					err = m.ViewerDisconnected(e.LastEvidenceAt)
				}
				if err != nil {
					t.Fatalf("meter refused %T%+v: %v", ev, ev, err)
				}
			}
			start, live := m.OpenSince()
			if !live {
				t.Fatalf("the seat is not billable after the first keyframe (events %+v)", f.rec.Events())
			}
			if d := start.Sub(firstKey); d < -100*time.Millisecond || d > 100*time.Millisecond {
				t.Fatalf("billing starts at %v, the viewer's first keyframe came at %v (%v apart; connection at %v)",
					start.Format(time.StampMilli), firstKey.Format(time.StampMilli), d, connectedAt.Format(time.StampMilli))
			}
			if got := m.BillableDuration(connectedAt.Add(late / 2)); got != 0 {
				t.Fatalf("%v billed between the connection and the first keyframe", got)
			}
		})
	}
}
