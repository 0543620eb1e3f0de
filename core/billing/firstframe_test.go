package billing_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
)

// seatFeed is the stream-to-billing wiring core/shows does, for one seat:
// the show's media events and the seat's viewer events go to its meter.
type seatFeed struct {
	eng    *billing.Engine
	seatID string
	mu     sync.Mutex
	errs   []error
}

func (f *seatFeed) Liveness(ev stream.LivenessEvent) {
	var me meter.Event
	switch e := ev.(type) {
	case stream.ModelMediaFlowing:
		me = meter.Event{Kind: meter.ModelMediaFlowing, At: e.Since}
	case stream.ModelMediaStopped:
		me = meter.Event{Kind: meter.ModelMediaStopped, At: e.LastPacketAt}
	case stream.ViewerConnected:
		me = meter.Event{Kind: meter.ViewerConnected, At: e.At}
	case stream.ViewerDisconnected:
		me = meter.Event{Kind: meter.ViewerDisconnected, At: e.LastEvidenceAt}
	}
	if err := f.eng.Liveness(f.seatID, me); err != nil {
		f.mu.Lock()
		f.errs = append(f.errs, err)
		f.mu.Unlock()
	}
}

// The done-when of issue 12: billing begins at the first delivered video
// frame (within 100 ms) on H.264 and VP8. A real pion publisher whose encoder
// sends its first keyframe 2 s late and a real pion viewer, through the SFU,
// into the engine on a real clock; the receipt's first interval starts when
// the viewer received its first keyframe, not when its connection came up,
// and the seconds billed match the video the viewer received within 1 s.
func TestReceiptStartsAtFirstDeliveredVideoFrame(t *testing.T) {
	for _, tc := range []struct {
		name string
		h264 bool
	}{{"VP8", false}, {"H264", true}} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t, func(c *billing.Config) { c.Clock = clock.Real() })
			seat := "ff" + tc.name
			v.openCard(seat, cardOK, stdPolicy())
			feed := &seatFeed{eng: v.eng, seatID: seat}
			adm := streamtest.NewAdmission()
			adm.AddShow("show1", "key1")
			adm.AddSeat("tok", "show1", seat)
			sfu, err := stream.New(stream.Config{Admission: adm, Liveness: feed, LivenessTick: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sfu.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			pub, err := streamtest.Publish(ctx, streamtest.PublishDirect(sfu, "key1"),
				streamtest.PublisherOptions{KeyframeEvery: 1 << 30, H264: tc.h264, KeyframesAfter: 2 * time.Second})
			if err != nil {
				t.Fatalf("publish: %v", err)
			}
			t.Cleanup(pub.Close)
			viewer, err := streamtest.Subscribe(ctx, streamtest.SubscribeDirect(sfu, "show1", "tok"))
			if err != nil {
				t.Fatalf("subscribe: %v", err)
			}
			t.Cleanup(viewer.Close)
			if !streamtest.WaitFor(10*time.Second, func() bool { return viewer.Video.FirstKeyAt.Load() != 0 }) {
				t.Fatal("no keyframe reached the viewer")
			}
			firstKey := time.Unix(0, viewer.Video.FirstKeyAt.Load())
			if !streamtest.WaitFor(5*time.Second, func() bool { ls, _ := v.eng.LiveSeat(seat); return ls.Billing }) {
				t.Fatalf("not billing after the first keyframe: %+v", must2(v.eng.LiveSeat(seat)))
			}
			time.Sleep(3 * time.Second)
			r := v.end(seat)
			lastVideo := time.Unix(0, viewer.Video.LastAt.Load())
			feed.mu.Lock()
			if len(feed.errs) > 0 {
				t.Errorf("liveness refused: %v", feed.errs)
			}
			feed.mu.Unlock()
			if len(r.Intervals) != 1 {
				t.Fatalf("intervals %v, want one", r.Intervals)
			}
			if d := r.Intervals[0].Start().Sub(firstKey); d < -100*time.Millisecond || d > 100*time.Millisecond {
				t.Fatalf("billing began at %v, the viewer's first keyframe came at %v: %v apart",
					r.Intervals[0].Start().Format(time.StampMilli), firstKey.Format(time.StampMilli), d)
			}
			received := lastVideo.Sub(firstKey)
			if diff := time.Duration(r.BillableSeconds)*time.Second - received; diff < -time.Second || diff > time.Second {
				t.Fatalf("billed %d s, the viewer received %v of video", r.BillableSeconds, received)
			}
		})
	}
}

func must2(ls billing.LiveSeat, _ bool) billing.LiveSeat { return ls }
