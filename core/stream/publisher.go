package stream

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// publisher is a model's WHIP session.
type publisher struct {
	id     string
	auth   sessionAuth
	sfu    *SFU
	room   *room
	pc     *webrtc.PeerConnection
	closed atomic.Bool
	// lastRTP is the clock time (UnixNano) of its last RTP packet, 0 before
	// the first; down is set while its connection is disconnected or failed.
	lastRTP atomic.Int64
	down    atomic.Bool
}

// active: its media is flowing right now (see Service.PublisherActive).
func (p *publisher) active(now time.Time, stall time.Duration) bool {
	last := p.lastRTP.Load()
	return !p.closed.Load() && !p.down.Load() && last != 0 && now.Sub(time.Unix(0, last)) <= stall
}

var _ session = (*publisher)(nil)

func (p *publisher) sessionID() string            { return p.id }
func (p *publisher) authority() *sessionAuth      { return &p.auth }
func (p *publisher) peer() *webrtc.PeerConnection { return p.pc }

func (p *publisher) close(reason string) {
	if !p.closed.CompareAndSwap(false, true) {
		return
	}
	p.sfu.forget(p)
	p.room.publisherGone(p, reason)
	p.sfu.metrics.publishers.Dec()
	p.sfu.dropIfIdle(p.room)
	go p.pc.Close()
}

// abandon closes a publisher that never became visible: no accounting, no events.
func (p *publisher) abandon() {
	p.closed.Store(true)
	_ = p.pc.Close()
}

func (p *publisher) onTrack(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	up := &upTrack{
		pub: p, room: p.room, track: tr,
		kind: tr.Kind(), codec: tr.Codec(), mime: tr.Codec().MimeType,
		ssrc: uint32(tr.SSRC()),
	}
	if up.kind == webrtc.RTPCodecTypeVideo {
		up.hist = &history{}
	}
	up.kf.interval = p.sfu.cfg.KeyframeInterval
	up.kf.send = up.sendPLI
	if !p.sfu.startLoop() {
		return
	}
	defer p.sfu.loops.Done()
	if p.closed.Load() || !p.room.setUp(p, up) {
		// Not forwarded, but read so pion's buffers and interceptors drain.
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
		}
	}
	up.run()
}

// upTrack is one track arriving from a model.
type upTrack struct {
	pub   *publisher
	room  *room
	track *webrtc.TrackRemote
	kind  webrtc.RTPCodecType
	codec webrtc.RTPCodecParameters
	mime  string
	ssrc  uint32
	kf    keyframeLimiter
	hist  *history // video only: viewers' NACKs are answered from it

	// tap is a snapshot waiting for a keyframe (SFU.Keyframe); params the
	// latest H.264 parameter sets, for a keyframe sent without them.
	tap    atomic.Pointer[frameTap]
	params paramSets
}

func (u *upTrack) run() {
	defer u.room.clearUp(u)
	s := u.pub.sfu
	buf := make([]byte, 1500)
	fp := &fwdPacket{up: u}
	// A video frame's packets are held in the send queue until its last
	// one (the marker) has been fanned out, so each viewer gets the frame
	// in one GSO send; an audio packet is sent with the frame being
	// fanned out, or at once. udpOut bounds how long anything waits.
	holding := false
	var heldAt time.Time
	defer func() {
		if holding {
			s.out.release()
		}
	}()
	for {
		n, _, err := u.track.Read(buf)
		if err != nil || u.pub.closed.Load() {
			// A replaced publisher must stop feeding viewers at once, even
			// before its connection has finished closing.
			return
		}
		if err := fp.pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		fp.keyframe = IsKeyframe(u.mime, fp.pkt.Payload)
		if u.hist != nil {
			u.hist.add(fp.pkt.SequenceNumber, fp.pkt.Timestamp, fp.pkt.Marker, fp.pkt.Payload)
		}
		now := s.now()
		u.pub.lastRTP.Store(now.UnixNano())
		u.room.onPacket(u.pub, now)
		u.feedTap(&fp.pkt, fp.keyframe, now)
		downs := *u.room.downs[kindIdx(u.kind)].Load()
		if len(downs) == 0 {
			continue
		}
		if !holding {
			s.out.hold()
			holding, heldAt = true, time.Now()
		}
		pkts, bytes, wantKey := s.pool.forward(downs, fp)
		if u.kind != webrtc.RTPCodecTypeVideo || fp.pkt.Marker || time.Since(heldAt) >= maxAge {
			s.out.release()
			holding = false
		}
		if pkts > 0 {
			s.metrics.packets.Add(float64(pkts))
			s.metrics.bytes.Add(float64(bytes))
		}
		if wantKey {
			u.requestKeyframe()
		}
	}
}

func (u *upTrack) requestKeyframe() {
	if u.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	u.kf.request()
}

func (u *upTrack) sendPLI() {
	if u.pub.closed.Load() {
		return
	}
	u.pub.sfu.metrics.keyframeSent.Inc()
	_ = u.pub.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: u.ssrc}})
}

// keyframeLimiter sends at most one keyframe request per interval; asks in
// between are coalesced into one sent when the interval ends, so a viewer
// joining just after another does not wait for the model's next natural
// keyframe.
type keyframeLimiter struct {
	interval time.Duration
	send     func()

	mu      sync.Mutex
	last    time.Time
	pending bool
}

func (k *keyframeLimiter) request() {
	k.mu.Lock()
	now := time.Now()
	if since := now.Sub(k.last); since >= k.interval {
		k.last = now
		k.mu.Unlock()
		k.send()
		return
	} else if !k.pending {
		k.pending = true
		time.AfterFunc(k.interval-since, func() {
			k.mu.Lock()
			k.pending = false
			k.last = time.Now()
			k.mu.Unlock()
			k.send()
		})
	}
	k.mu.Unlock()
}
