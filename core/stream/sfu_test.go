package stream_test

import (
	"context"
	"github.com/camkit/camkit/core/clock/clocktest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/sdk/errs"
)

type fixture struct {
	sfu   *stream.SFU
	adm   *streamtest.Admission
	rec   *streamtest.Recorder
	reg   *prometheus.Registry
	clock *clocktest.Fake
}

func newFixture(t *testing.T, tune func(*stream.Config)) *fixture {
	t.Helper()
	f := &fixture{adm: streamtest.NewAdmission(), rec: streamtest.NewRecorder(), reg: prometheus.NewRegistry()}
	cfg := stream.Config{Admission: f.adm, Liveness: f.rec, Registerer: f.reg, LivenessTick: 50 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	if c, ok := cfg.Clock.(*clocktest.Fake); ok {
		f.clock = c
	}
	s, err := stream.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.sfu = s
	t.Cleanup(func() { _ = s.Close() })
	return f
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// publish starts a synthetic model whose only keyframes after the first are
// answers to keyframe requests, so a viewer seeing one proves the relay.
func (f *fixture) publish(t *testing.T, key string) *streamtest.Publisher {
	t.Helper()
	p, err := streamtest.Publish(ctx(t), streamtest.PublishDirect(f.sfu, key), streamtest.PublisherOptions{KeyframeEvery: 1 << 30})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func (f *fixture) subscribe(t *testing.T, show, token string) *streamtest.Subscriber {
	t.Helper()
	s, _ := f.subscribeSession(t, show, token)
	return s
}

// subscribeSession is subscribe keeping the session (its id, watch id and
// minted token).
func (f *fixture) subscribeSession(t *testing.T, show, token string) (*streamtest.Subscriber, stream.Session) {
	t.Helper()
	var sess stream.Session
	s, err := streamtest.Subscribe(ctx(t), streamtest.SubscribeRequest(f.sfu, stream.SubscribeRequest{ShowID: show, Token: token}, &sess))
	if err != nil {
		t.Fatalf("subscribe %s/%q: %v", show, token, err)
	}
	t.Cleanup(s.Close)
	return s, sess
}

// receiving waits until the viewer got a video keyframe and audio, then
// reports whether video packets keep arriving.
func receiving(t *testing.T, s *streamtest.Subscriber) {
	t.Helper()
	if !streamtest.WaitFor(20*time.Second, func() bool {
		return s.Video.Keyframes.Load() > 0 && s.Audio.Packets.Load() > 5 && s.Video.Packets.Load() > 20
	}) {
		t.Fatalf("viewer receives nothing: video %d packets %d keyframes, audio %d packets",
			s.Video.Packets.Load(), s.Video.Keyframes.Load(), s.Audio.Packets.Load())
	}
}

func stillReceiving(t *testing.T, name string, s *streamtest.Subscriber) {
	t.Helper()
	before := s.Video.Packets.Load()
	if !streamtest.WaitFor(3*time.Second, func() bool { return s.Video.Packets.Load() > before+30 }) {
		t.Fatalf("%s stopped receiving (%d packets)", name, s.Video.Packets.Load())
	}
}

func TestPublishAndFanOutVP8AndOpus(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	pub := f.publish(t, "key-1")
	if _, ok := f.rec.Wait(5*time.Second, isFlowing("show-1")); !ok {
		t.Fatal("model media never reported flowing")
	}
	// Let the model's first keyframe pass before anyone joins.
	if !streamtest.WaitFor(5*time.Second, func() bool { return pub.Packets.Load() > 150 }) {
		t.Fatal("model does not send")
	}
	initial := pub.Keyframes.Load()
	a := f.subscribe(t, "show-1", "")
	b := f.subscribe(t, "show-1", "")
	receiving(t, a)
	receiving(t, b)
	if pub.PLIs.Load() == 0 || pub.Keyframes.Load() == initial {
		t.Errorf("the model got %d keyframe requests for its joining viewers and sent %d keyframes", pub.PLIs.Load(), pub.Keyframes.Load()-initial)
	}
	exp, got := a.Video.Loss()
	if got+got/100 < exp {
		t.Errorf("viewer a lost packets on loopback: expected %d, received %d", exp, got)
	}
	if n := f.metric(t, "camkit_stream_packets_forwarded_total"); n < 40 {
		t.Errorf("packets_forwarded_total = %v", n)
	}
	if n := f.metric(t, "camkit_stream_subscribers"); n != 2 {
		t.Errorf("subscribers gauge = %v, want 2", n)
	}
}

func TestBadOffersAreRefusedWithTypedErrors(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	f.adm.AddShow("show-2", "key-2")
	f.adm.SetMode("show-2", stream.ModePrivate)
	f.sfu.SetMode("show-2", stream.ModePrivate)
	f.adm.AddSeat("tok-2", "show-2", "seat-2")
	f.adm.AddSeat("tok-old", "show-2", "seat-old")
	f.adm.ExpireToken("tok-old")
	f.adm.AddSeat("tok-1", "show-1", "seat-1")

	pub := f.publish(t, "key-1")
	viewer := f.subscribe(t, "show-1", "")
	receiving(t, viewer)
	_ = pub

	noMedia := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	c := ctx(t)
	cases := []struct {
		name string
		call func() error
		want errs.Code
	}{
		{"malformed SDP", func() error { _, err := f.sfu.Publish(c, "key-1", "hello"); return err }, errs.Invalid},
		{"SDP without media", func() error { _, err := f.sfu.Publish(c, "key-1", noMedia); return err }, errs.Invalid},
		{"wrong stream key", func() error {
			_, err := streamtest.Publish(c, streamtest.PublishDirect(f.sfu, "nope"), streamtest.PublisherOptions{})
			return err
		}, errs.Unauthenticated},
		{"unknown show", func() error {
			_, err := streamtest.Subscribe(c, streamtest.SubscribeDirect(f.sfu, "show-x", ""))
			return err
		}, errs.NotFound},
		{"public visitor of a private show", func() error {
			_, err := streamtest.Subscribe(c, streamtest.SubscribeDirect(f.sfu, "show-2", ""))
			return err
		}, errs.Forbidden},
		{"expired seat token", func() error {
			_, err := streamtest.Subscribe(c, streamtest.SubscribeDirect(f.sfu, "show-2", "tok-old"))
			return err
		}, errs.Unauthenticated},
		{"foreign seat token", func() error {
			_, err := streamtest.Subscribe(c, streamtest.SubscribeDirect(f.sfu, "show-2", "tok-1"))
			return err
		}, errs.Forbidden},
		{"unknown session", func() error { return f.sfu.End(c, "nope", "some-bearer") }, errs.NotFound},
		{"session without a bearer", func() error { return f.sfu.End(c, "nope", "") }, errs.Unauthenticated},
	}
	for _, tc := range cases {
		err := tc.call()
		if errs.CodeOf(err) != tc.want {
			t.Errorf("%s: got %v, want code %s", tc.name, err, tc.want)
		}
	}
	// The seat holder of the private show gets in, and show-1 kept streaming.
	seat := f.subscribe(t, "show-2", "tok-2")
	stillReceiving(t, "show-1 viewer", viewer)
	if seat.Video.Packets.Load() != 0 {
		t.Error("show-2 has no model yet its viewer got video")
	}
}

// metric sums every series of a metric family in the fixture's registry.
func (f *fixture) metric(t *testing.T, name string) float64 {
	t.Helper()
	fams, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range fams {
		if fam.GetName() != name {
			continue
		}
		sum := 0.0
		for _, m := range fam.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
		return sum
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func isFlowing(show string) func(stream.LivenessEvent) bool {
	return func(ev stream.LivenessEvent) bool {
		e, ok := ev.(stream.ModelMediaFlowing)
		return ok && e.ShowID == show
	}
}

func TestH264IsForwarded(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	pub, err := streamtest.Publish(ctx(t), streamtest.PublishDirect(f.sfu, "key-1"), streamtest.PublisherOptions{H264: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	v := f.subscribe(t, "show-1", "")
	receiving(t, v)
	if c := v.PC.GetTransceivers()[0].Receiver().Track().Codec().MimeType; c != "video/H264" {
		t.Fatalf("viewer got %s", c)
	}
}

func TestOfferWithoutSupportedCodecIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	fp := strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
	vp9Only := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 98\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
		"a=fingerprint:sha-256 " + fp + "\r\na=setup:actpass\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\na=rtpmap:98 VP9/90000\r\n"
	_, err := f.sfu.Publish(ctx(t), "key-1", vp9Only)
	if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), "supported codec") {
		t.Fatalf("VP9-only offer: %v", err)
	}
}

// More viewers than one goroutine serves: the parallel fan-out path, and a
// Close while it runs.
func TestParallelFanOutAndCloseUnderLoad(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	f.publish(t, "key-1")
	const n = 30
	subs := make([]*streamtest.Subscriber, n)
	for i := range subs {
		subs[i] = f.subscribe(t, "show-1", "")
	}
	for _, s := range subs {
		receiving(t, s)
	}
	if got := f.metric(t, "camkit_stream_show_subscribers"); got != n {
		t.Fatalf("show_subscribers = %v, want %d", got, n)
	}
	if err := f.sfu.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := streamtest.Publish(ctx(t), streamtest.PublishDirect(f.sfu, "key-1"), streamtest.PublisherOptions{})
	if errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("publish after Close: %v, want unavailable", err)
	}
}

// A viewer on a lossy path gets its lost video back: its NACKs are
// answered from the model's packet history with the viewer's own
// numbering. It also gets RTCP sender reports.
func TestLostPacketsAreResentAndSenderReportsArrive(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	f.publish(t, "key-1")
	s, err := streamtest.SubscribeWith(ctx(t), streamtest.SubscribeDirect(f.sfu, "show-1", ""),
		streamtest.SubscriberOptions{LoseVideo: func(seq uint16) bool { return seq%25 == 7 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	receiving(t, s)
	if !streamtest.WaitFor(10*time.Second, func() bool { return s.Lost() >= 5 && s.Repaired() >= s.Lost()/2 }) {
		t.Fatalf("lost %d video packets, %d came again", s.Lost(), s.Repaired())
	}
	if !streamtest.WaitFor(5*time.Second, func() bool { return s.SenderReports.Load() > 0 }) {
		t.Error("no RTCP sender report reached the viewer")
	}
}
