package stream_test

import (
	"context"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/sdk/errs"
)

// Keyframe hands over one whole keyframe of a public show (from the packet
// that starts it to its marker, in sequence), asking the model for it; a
// private show's is refused, and ShowState follows the publisher, the mode
// and the WHEP viewers.
func TestKeyframeAndShowState(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	if _, ok := f.sfu.ShowState("show-1"); ok {
		t.Fatal("a state for a show nobody uses")
	}
	pub := f.publish(t, "key-1")
	v := f.subscribe(t, "show-1", "")
	defer v.Close()
	var st stream.ShowState
	if !streamtest.WaitFor(5*time.Second, func() bool {
		st, _ = f.sfu.ShowState("show-1")
		return st.Flowing && st.Viewers == 1 && st.VideoCodec != ""
	}) {
		t.Fatalf("state: %+v", st)
	}
	if !st.Publisher || st.Mode != stream.ModePublic || st.VideoCodec != webrtc.MimeTypeVP8 || st.LastPacketAt.IsZero() {
		t.Fatalf("state: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	time.Sleep(700 * time.Millisecond) // past the keyframe rate limit of the viewer's join
	plis := pub.PLIs.Load()
	kf, err := f.sfu.Keyframe(ctx, "show-1")
	if err != nil {
		t.Fatal(err)
	}
	if !streamtest.WaitFor(2*time.Second, func() bool { return pub.PLIs.Load() > plis }) {
		t.Error("no keyframe was asked of the model")
	}
	if len(kf.Packets) < 2 || !stream.IsKeyframe(kf.MimeType, kf.Packets[0].Payload) || !kf.Packets[len(kf.Packets)-1].Marker {
		t.Fatalf("not one whole keyframe: %d packets", len(kf.Packets))
	}
	for i, p := range kf.Packets[1:] {
		if p.SequenceNumber != kf.Packets[i].SequenceNumber+1 || p.Timestamp != kf.Packets[0].Timestamp || kf.Packets[i].Marker {
			t.Fatalf("packet %d is not the frame's next", i+1)
		}
	}

	f.sfu.SetMode("show-1", stream.ModePrivate)
	if st2, _ := f.sfu.ShowState("show-1"); st2.Mode != stream.ModePrivate || st2.ModeSeq == st.ModeSeq {
		t.Fatalf("after SetMode: %+v", st2)
	}
	if _, err := f.sfu.Keyframe(ctx, "show-1"); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("a private show's keyframe: %v", err)
	}
	pub.Close()
	if !streamtest.WaitFor(5*time.Second, func() bool { st, _ = f.sfu.ShowState("show-1"); return !st.Publisher && !st.Flowing }) {
		t.Fatalf("after the publisher left: %+v", st)
	}
	if _, err := f.sfu.Keyframe(ctx, "show-2"); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("an unknown show's keyframe: %v", err)
	}
}
