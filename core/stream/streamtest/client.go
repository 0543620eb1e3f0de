package streamtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/camkit/camkit/core/stream"
)

// Signal sends an SDP offer somewhere and returns the answer.
type Signal func(ctx context.Context, offer string) (answer string, err error)

// PublishDirect signals straight into a Service, with no HTTP in between.
func PublishDirect(svc stream.Service, key string) Signal {
	return func(ctx context.Context, offer string) (string, error) {
		s, err := svc.Publish(ctx, key, offer)
		return s.AnswerSDP, err
	}
}

// SubscribeDirect signals a WHEP subscription straight into a Service.
func SubscribeDirect(svc stream.Service, show, token string) Signal {
	return SubscribeRequest(svc, stream.SubscribeRequest{ShowID: show, Token: token}, nil)
}

// SubscribeRequest signals req (its OfferSDP filled in) straight into a
// Service; the session is stored in *out when not nil.
func SubscribeRequest(svc stream.Service, req stream.SubscribeRequest, out *stream.Session) Signal {
	return func(ctx context.Context, offer string) (string, error) {
		req.OfferSDP = offer
		s, err := svc.Subscribe(ctx, req)
		if out != nil {
			*out = s
		}
		return s.AnswerSDP, err
	}
}

// PublishSession is PublishDirect keeping the session in *out.
func PublishSession(svc stream.Service, key string, out *stream.Session) Signal {
	return func(ctx context.Context, offer string) (string, error) {
		s, err := svc.Publish(ctx, key, offer)
		*out = s
		return s.AnswerSDP, err
	}
}

// HTTPError is a non-201 answer from a WHIP/WHEP endpoint.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// HTTPSignal posts the offer to url (WHIP or WHEP) with an optional bearer
// token. The session's Location is stored in *location when not nil.
func HTTPSignal(url, bearer string, location *string) Signal {
	var hdr http.Header
	signal := HTTPSignalHeaders(url, bearer, &hdr)
	return func(ctx context.Context, offer string) (string, error) {
		answer, err := signal(ctx, offer)
		if err == nil && location != nil {
			*location = hdr.Get("Location")
		}
		return answer, err
	}
}

// HTTPSignalHeaders is HTTPSignal keeping every header of the 201 answer
// (Location, the watch id, a minted session token) in *hdr.
func HTTPSignalHeaders(url, bearer string, hdr *http.Header) Signal {
	return func(ctx context.Context, offer string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(offer))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/sdp")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			return "", &HTTPError{Status: resp.StatusCode, Body: string(body)}
		}
		*hdr = resp.Header.Clone()
		return string(body), nil
	}
}

// newAPI builds a client-side pion API on loopback only. mute, when not nil,
// drops every outgoing RTCP packet while set (a viewer gone silent); loss,
// when not nil, drops incoming video packets before the NACK logic sees
// them.
func newAPI(mute *atomic.Bool, loss *lossFactory, lean bool) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if mute != nil {
		ir.Add(&muteFactory{mute: mute})
	}
	if loss != nil {
		ir.Add(loss)
	}
	if !lean {
		if err := webrtc.ConfigureNack(me, ir); err != nil {
			return nil, err
		}
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	if loss != nil {
		// The loss is simulated after SRTP, which has seen the original:
		// its replay check would refuse the retransmission a real lost
		// packet's would pass.
		se.DisableSRTPReplayProtection(true)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// lossFactory loses the first copy of each incoming video packet whose
// sequence number drop selects, and counts the copies that come again
// (retransmissions answering the viewer's NACKs).
type lossFactory struct {
	drop     func(seq uint16) bool
	mu       sync.Mutex
	lost     map[uint16]bool
	dropped  atomic.Int64
	repaired atomic.Int64
}

func (f *lossFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &lossInterceptor{f: f}, nil
}

type lossInterceptor struct {
	interceptor.NoOp
	f *lossFactory
}

func (l *lossInterceptor) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	if !strings.HasPrefix(strings.ToLower(info.MimeType), "video/") {
		return r
	}
	f := l.f
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attr, err := r.Read(b, a)
			if err != nil || n < 4 {
				return n, attr, err
			}
			seq := uint16(b[2])<<8 | uint16(b[3])
			f.mu.Lock()
			again, lose := f.lost[seq], false
			if again {
				delete(f.lost, seq)
			} else if f.drop(seq) {
				f.lost[seq], lose = true, true
			}
			f.mu.Unlock()
			switch {
			case again:
				f.repaired.Add(1)
			case lose:
				f.dropped.Add(1)
				continue
			}
			return n, attr, err
		}
	})
}

type muteFactory struct{ mute *atomic.Bool }

func (f *muteFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &muteInterceptor{mute: f.mute}, nil
}

type muteInterceptor struct {
	interceptor.NoOp
	mute *atomic.Bool
}

func (m *muteInterceptor) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, a interceptor.Attributes) (int, error) {
		if m.mute.Load() {
			return 0, nil
		}
		return w.Write(pkts, a)
	})
}

// connect runs the offer/answer exchange for a client PeerConnection.
func connect(ctx context.Context, pc *webrtc.PeerConnection, signal Signal) error {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return ctx.Err()
	}
	answer, err := signal(ctx, pc.LocalDescription().SDP)
	if err != nil {
		return err
	}
	return pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer})
}

// PublisherOptions shape the synthetic stream.
type PublisherOptions struct {
	VideoBitrate  int // bits per second of VP8; default 1.5 Mbit/s
	FPS           int // default 30
	KeyframeEvery int // frames between natural keyframes; default 90
	NoAudio       bool
	// H264 sends H.264 (IDR / non-IDR slices in FU-A fragments) instead of VP8.
	H264 bool
	// KeyframesAfter holds every keyframe (the first, scheduled ones and
	// answers to requests) until this long after sending starts: only delta
	// frames before it, a keyframe at once after it. An encoder that takes
	// its time to produce a picture a viewer can start from.
	KeyframesAfter time.Duration
}

// Publisher sends synthetic VP8 (with a real keyframe pattern: a VP8
// payload descriptor and frame tag, keyframes on schedule and on PLI) and
// Opus-sized audio packets.
type Publisher struct {
	PC    *webrtc.PeerConnection
	opts  PublisherOptions
	video *webrtc.TrackLocalStaticRTP
	audio *webrtc.TrackLocalStaticRTP

	forceKey  atomic.Bool
	sending   atomic.Bool
	PLIs      atomic.Int64
	Keyframes atomic.Int64
	Packets   atomic.Int64
	// FirstKeyAt is when the first keyframe was sent (UnixNano).
	FirstKeyAt atomic.Int64

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// Publish connects a synthetic publisher through signal and starts sending.
func Publish(ctx context.Context, signal Signal, opts PublisherOptions) (*Publisher, error) {
	if opts.VideoBitrate == 0 {
		opts.VideoBitrate = 1_500_000
	}
	if opts.FPS == 0 {
		opts.FPS = 30
	}
	if opts.KeyframeEvery == 0 {
		opts.KeyframeEvery = 90
	}
	api, err := newAPI(nil, nil, false)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &Publisher{PC: pc, opts: opts, stop: make(chan struct{})}
	videoCodec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	if opts.H264 {
		videoCodec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}
	}
	p.video, err = webrtc.NewTrackLocalStaticRTP(videoCodec, "video", "synthetic")
	if err != nil {
		return nil, err
	}
	tracks := []*webrtc.TrackLocalStaticRTP{p.video}
	if !opts.NoAudio {
		p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "synthetic")
		if err != nil {
			return nil, err
		}
		tracks = append(tracks, p.audio)
	}
	for _, t := range tracks {
		tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			_ = pc.Close()
			return nil, err
		}
		go p.readRTCP(tr.Sender())
	}
	if err := connect(ctx, pc, signal); err != nil {
		_ = pc.Close()
		return nil, err
	}
	p.sending.Store(true)
	p.forceKey.Store(true)
	p.wg.Add(1)
	go p.sendVideo()
	if p.audio != nil {
		p.wg.Add(1)
		go p.sendAudio()
	}
	return p, nil
}

func (p *Publisher) readRTCP(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.PLIs.Add(1)
				p.forceKey.Store(true)
			}
		}
	}
}

// SetSending pauses (false) or resumes the media without closing anything:
// a model whose encoder stalls.
func (p *Publisher) SetSending(on bool) { p.sending.Store(on) }

func (p *Publisher) sendVideo() {
	defer p.wg.Done()
	const mtu = 1100
	frameBytes := p.opts.VideoBitrate / 8 / p.opts.FPS
	var seq uint16
	var ts uint32
	frame := 0
	buf := make([]byte, 3*frameBytes+16)
	_, _ = rand.Read(buf)
	// Frames are paced against a fixed start, not a ticker, so a starved
	// goroutine catches up instead of silently lowering the bitrate.
	start := time.Now()
	interval := time.Second / time.Duration(p.opts.FPS)
	for {
		next := start.Add(time.Duration(frame+1) * interval)
		select {
		case <-p.stop:
			return
		case <-time.After(time.Until(next)):
		}
		ts += 90000 / uint32(p.opts.FPS)
		frame++
		if !p.sending.Load() {
			continue
		}
		key := false
		if time.Since(start) >= p.opts.KeyframesAfter {
			key = p.forceKey.Swap(false) || frame%p.opts.KeyframeEvery == 0
		}
		size := frameBytes
		if key {
			size = 2 * frameBytes
			p.Keyframes.Add(1)
			p.FirstKeyAt.CompareAndSwap(0, time.Now().UnixNano())
		}
		for off := 0; off < size; off += mtu {
			n := min(mtu, size-off)
			payload := make([]byte, 1+n)
			copy(payload[1:], buf[off:off+n])
			if p.opts.H264 {
				// FU-A (RFC 6184 5.8): indicator, then S/E bits and the NAL type.
				nal := byte(1)
				if key {
					nal = 5
				}
				fu := nal
				if off == 0 {
					fu |= 0x80
				}
				if off+n >= size {
					fu |= 0x40
				}
				payload = append([]byte{0x7c, fu}, payload[1:]...)
			} else if off == 0 {
				payload[0] = 0x10 // S=1, PID=0
				if key {
					payload[1] = 0x00 // P=0: keyframe
					copy(payload[4:], []byte{0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01})
				} else {
					payload[1] |= 0x01
				}
			}
			seq++
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: off+n >= size}, Payload: payload}
			if err := p.video.WriteRTP(pkt); err != nil {
				return
			}
			p.Packets.Add(1)
		}
	}
}

func (p *Publisher) sendAudio() {
	defer p.wg.Done()
	var seq uint16
	var ts uint32
	payload := make([]byte, 80)
	_, _ = rand.Read(payload)
	start := time.Now()
	for i := 1; ; i++ {
		select {
		case <-p.stop:
			return
		case <-time.After(time.Until(start.Add(time.Duration(i) * 20 * time.Millisecond))):
		}
		ts += 960
		if !p.sending.Load() {
			continue
		}
		seq++
		if err := p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: payload}); err != nil {
			return
		}
		p.Packets.Add(1)
	}
}

// Close stops sending and closes the connection (DTLS close_notify).
func (p *Publisher) Close() {
	p.once.Do(func() {
		close(p.stop)
		p.wg.Wait()
		_ = p.PC.Close()
	})
}

// TrackStats counts what one subscribed track received.
type TrackStats struct {
	Packets    atomic.Int64
	Bytes      atomic.Int64
	Keyframes  atomic.Int64
	FirstAt    atomic.Int64 // UnixNano of the first packet
	FirstKeyAt atomic.Int64 // UnixNano of the first keyframe packet
	LastAt     atomic.Int64 // UnixNano of the latest packet

	mu       sync.Mutex
	started  bool
	base     uint64 // extended sequence number of the first packet
	highest  uint64
	received uint64
}

func (t *TrackStats) add(seq uint16, size int, key bool) {
	now := time.Now().UnixNano()
	t.Packets.Add(1)
	t.Bytes.Add(int64(size))
	t.FirstAt.CompareAndSwap(0, now)
	t.LastAt.Store(now)
	if key {
		t.Keyframes.Add(1)
		t.FirstKeyAt.CompareAndSwap(0, now)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.started {
		t.started, t.base, t.highest, t.received = true, uint64(seq)+1<<16, uint64(seq)+1<<16, 1
		return
	}
	// Extend the 16-bit number against the highest seen (RFC 3550 A.1).
	ext := t.highest&^0xffff | uint64(seq)
	switch {
	case ext+0x8000 < t.highest:
		ext += 1 << 16
	case ext > t.highest+0x8000:
		ext -= 1 << 16
	}
	if ext > t.highest {
		t.highest = ext
	}
	t.received++
}

// Loss returns packets expected (by sequence number) and received so far.
func (t *TrackStats) Loss() (expected, received uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.started {
		return 0, 0
	}
	return t.highest - t.base + 1, t.received
}

// Subscriber is a pion viewer counting what it receives.
type Subscriber struct {
	PC           *webrtc.PeerConnection
	Video, Audio TrackStats
	mute         atomic.Bool
	loss         *lossFactory
	Started      time.Time
	// SenderReports counts RTCP sender reports received.
	SenderReports atomic.Int64
}

// SubscriberOptions shape a viewer.
type SubscriberOptions struct {
	// LoseVideo, when set, loses the first copy of each video packet whose
	// sequence number it selects (a lossy network).
	LoseVideo func(seq uint16) bool
	// Lean leaves out the NACK generator (receiver reports stay): the
	// cheapest real viewer, for load tests that count loss themselves.
	Lean bool
}

// Lost and Repaired count video packets lost on purpose and received again
// (retransmitted after a NACK).
func (s *Subscriber) Lost() int64 {
	if s.loss == nil {
		return 0
	}
	return s.loss.dropped.Load()
}

func (s *Subscriber) Repaired() int64 {
	if s.loss == nil {
		return 0
	}
	return s.loss.repaired.Load()
}

// Subscribe connects a viewer through signal.
func Subscribe(ctx context.Context, signal Signal) (*Subscriber, error) {
	return SubscribeWith(ctx, signal, SubscriberOptions{})
}

// SubscribeWith connects a viewer shaped by opts through signal.
func SubscribeWith(ctx context.Context, signal Signal, opts SubscriberOptions) (*Subscriber, error) {
	s := &Subscriber{Started: time.Now()}
	if opts.LoseVideo != nil {
		s.loss = &lossFactory{drop: opts.LoseVideo, lost: map[uint16]bool{}}
	}
	api, err := newAPI(&s.mute, s.loss, opts.Lean)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	s.PC = pc
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			_ = pc.Close()
			return nil, err
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		go func() {
			for {
				pkts, _, err := recv.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if _, ok := p.(*rtcp.SenderReport); ok {
						s.SenderReports.Add(1)
					}
				}
			}
		}()
		st, mime := &s.Audio, tr.Codec().MimeType
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			st = &s.Video
		}
		buf := make([]byte, 1500)
		var h rtp.Header
		var lastPLI time.Time
		for {
			n, _, err := tr.Read(buf)
			if err != nil {
				return
			}
			hn, err := h.Unmarshal(buf[:n])
			if err != nil {
				continue
			}
			payload := buf[hn:n]
			st.add(h.SequenceNumber, len(payload), stream.IsKeyframe(mime, payload))
			// Like a browser's decoder: video without a keyframe to start
			// from asks for one (the first packets of a new track can be
			// lost while the receiver is still being set up).
			if st == &s.Video && st.Keyframes.Load() == 0 && time.Since(lastPLI) > 300*time.Millisecond &&
				time.Since(time.Unix(0, st.FirstAt.Load())) > 100*time.Millisecond {
				lastPLI = time.Now()
				_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
			}
		}
	})
	if err := connect(ctx, pc, signal); err != nil {
		_ = pc.Close()
		return nil, err
	}
	return s, nil
}

// MuteRTCP stops (true) or resumes every RTCP packet the viewer sends,
// while its ICE keepalives go on: a viewer whose media path silently died.
func (s *Subscriber) MuteRTCP(on bool) { s.mute.Store(on) }

func (s *Subscriber) Close() { _ = s.PC.Close() }

// WaitFor polls cond every 10 ms until it holds or timeout passes.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}
