package stream

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/camkit/camkit/sdk/errs"
)

// Read-only views of the SFU for thumbnails, viewer counts and the home
// grid's presence. Nothing here changes what viewers or the model get.

// ShowState is what the SFU knows of one show right now.
type ShowState struct {
	ShowID string
	Mode   Mode
	// ModeSeq changes on every mode change: a frame taken under one value
	// may only be shown while it is still the current one (a show that went
	// private, even for a moment, invalidates every frame taken before).
	ModeSeq uint64
	// Publisher is true while a WHIP session is connected to the show.
	Publisher bool
	// Flowing is true while the model's media arrives (see MediaTimeout).
	Flowing bool
	// LastPacketAt is the clock time of the model's last RTP packet; zero
	// when none arrived since the room was made.
	LastPacketAt time.Time
	// VideoCodec is the MIME type of the model's video track ("" without one).
	VideoCodec string
	// Viewers counts the show's WHEP sessions, seats included.
	Viewers int
}

// ShowStates lists every show the SFU has a room for (a publisher, a viewer,
// a watcher, or a private mode kept).
func (s *SFU) ShowStates() []ShowState {
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	out := make([]ShowState, 0, len(rooms))
	for _, r := range rooms {
		out = append(out, r.state())
	}
	return out
}

// ShowState is one show's state; ok is false when the SFU has no room for
// it (nobody publishes or watches). It never creates a room.
func (s *SFU) ShowState(showID string) (ShowState, bool) {
	s.mu.Lock()
	r := s.rooms[showID]
	s.mu.Unlock()
	if r == nil {
		return ShowState{ShowID: showID, Mode: ModePublic}, false
	}
	return r.state(), true
}

func (r *room) state() ShowState {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := ShowState{ShowID: r.showID, Mode: r.mode, ModeSeq: r.modeSeq, Publisher: r.pub != nil, Flowing: r.flowing, Viewers: len(r.subs)}
	if ns := r.lastPacket.Load(); ns != 0 {
		st.LastPacketAt = time.Unix(0, ns)
	}
	if up := r.ups[videoIdx]; up != nil {
		st.VideoCodec = up.mime
	}
	return st
}

// Keyframe is one whole video frame that decodes on its own, as the model
// sent it: its RTP packets in order, from the first to the marker.
type Keyframe struct {
	ShowID   string
	MimeType string // webrtc.MimeTypeH264 or webrtc.MimeTypeVP8
	// ModeSeq is ShowState.ModeSeq while every packet of the frame arrived.
	ModeSeq uint64
	At      time.Time
	Packets []*rtp.Packet
}

// Keyframe waits for the next keyframe of a public show's video (asking the
// model for one, within the keyframe rate limit) and returns a copy of it.
// It is refused with errs.Forbidden while the show is private or group, and
// a frame during which the mode changed is never returned: frames of a paid
// show must not leave the SFU. errs.NotFound: no video is published now.
func (s *SFU) Keyframe(ctx context.Context, showID string) (Keyframe, error) {
	s.mu.Lock()
	r := s.rooms[showID]
	s.mu.Unlock()
	if r == nil {
		return Keyframe{}, errs.E(errs.NotFound, "show %s publishes no video", showID)
	}
	r.mu.Lock()
	up, mode, seq := r.ups[videoIdx], r.mode, r.modeSeq
	r.mu.Unlock()
	if mode != ModePublic {
		return Keyframe{}, errs.E(errs.Forbidden, "show %s is %s", showID, mode)
	}
	if up == nil {
		return Keyframe{}, errs.E(errs.NotFound, "show %s publishes no video", showID)
	}
	t := &frameTap{done: make(chan struct{})}
	if !up.tap.CompareAndSwap(nil, t) {
		// Another snapshot of this show is under way: share its frame.
		t = up.tap.Load()
		if t == nil {
			return Keyframe{}, errs.Retry(errs.Unavailable, "show %s: snapshot in progress", showID)
		}
	} else {
		defer up.tap.CompareAndSwap(t, nil)
	}
	// An encoder with a keyframe interval (OBS: 2 s) sends one soon by
	// itself; only one that waits to be asked (a browser) gets a PLI, so
	// snapshots do not add keyframes to every stream.
	ask := time.NewTimer(naturalKeyframeWait)
	defer ask.Stop()
	for waiting := true; waiting; {
		select {
		case <-t.done:
			waiting = false
		case <-ask.C:
			up.requestKeyframe()
		case <-ctx.Done():
			return Keyframe{}, errs.Retry(errs.Timeout, "show %s sent no keyframe in time: %v", showID, ctx.Err())
		}
	}
	r.mu.Lock()
	mode, now := r.mode, r.modeSeq
	r.mu.Unlock()
	if mode != ModePublic || now != seq {
		return Keyframe{}, errs.E(errs.Forbidden, "show %s changed mode during the frame", showID)
	}
	pkts := t.pkts
	if strings.EqualFold(up.mime, webrtc.MimeTypeH264) {
		pkts = up.params.complete(pkts)
	}
	return Keyframe{ShowID: showID, MimeType: up.mime, ModeSeq: seq, At: t.at, Packets: pkts}, nil
}

// naturalKeyframeWait is how long Keyframe waits for the encoder's own next
// keyframe before asking for one.
const naturalKeyframeWait = 1500 * time.Millisecond

// frameTap collects one keyframe from an up track's read loop. The loop
// only pays an atomic load per packet while no snapshot is asked for.
type frameTap struct {
	once sync.Once
	done chan struct{}
	// Written by the read loop only, until done is closed.
	pkts    []*rtp.Packet
	started bool
	ts      uint32
	next    uint16
	at      time.Time
}

// feed is called by the read loop with each packet; it copies what it keeps.
func (t *frameTap) feed(p *rtp.Packet, keyframe bool, now time.Time) {
	select {
	case <-t.done:
		return
	default:
	}
	if t.started && (p.Timestamp != t.ts || p.SequenceNumber != t.next) {
		// A lost, late or reordered packet: this frame cannot be trusted
		// to decode; wait for the next keyframe.
		t.started, t.pkts = false, nil
	}
	if !t.started {
		if !keyframe {
			return
		}
		t.started, t.ts, t.at = true, p.Timestamp, now
	}
	c := &rtp.Packet{Header: p.Header.Clone(), Payload: append([]byte(nil), p.Payload...)}
	t.pkts = append(t.pkts, c)
	t.next = p.SequenceNumber + 1
	if p.Marker {
		t.once.Do(func() { close(t.done) })
	}
}

// feedTap hands the packet to a pending snapshot, if any (video only), and
// keeps H.264 parameter sets: an encoder may send them once, not with every
// keyframe, and a decoder needs them.
func (u *upTrack) feedTap(p *rtp.Packet, keyframe bool, now time.Time) {
	if u.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	if len(p.Payload) > 0 && isParamSetCarrier(p.Payload[0]) && strings.EqualFold(u.mime, webrtc.MimeTypeH264) {
		u.params.note(p.Payload)
	}
	if t := u.tap.Load(); t != nil {
		t.feed(p, keyframe, now)
	}
}

// isParamSetCarrier: an SPS, a PPS or a STAP-A, by the NAL type in an H.264
// payload's first byte (one byte looked at per packet).
func isParamSetCarrier(b byte) bool {
	t := b & 0x1f
	return t == 7 || t == 8 || t == 24
}

// paramSets keeps a track's latest H.264 SPS and PPS (RFC 6184: single NAL
// units or aggregated in a STAP-A).
type paramSets struct {
	mu       sync.Mutex
	sps, pps []byte
}

func (ps *paramSets) note(payload []byte) {
	keep := func(nal []byte) {
		if len(nal) == 0 {
			return
		}
		switch nal[0] & 0x1f {
		case 7:
			ps.mu.Lock()
			ps.sps = append(ps.sps[:0], nal...)
			ps.mu.Unlock()
		case 8:
			ps.mu.Lock()
			ps.pps = append(ps.pps[:0], nal...)
			ps.mu.Unlock()
		}
	}
	switch payload[0] & 0x1f {
	case 7, 8:
		keep(payload)
	case 24: // STAP-A
		for i := 1; i+2 <= len(payload); {
			n := int(payload[i])<<8 | int(payload[i+1])
			i += 2
			if n == 0 || i+n > len(payload) {
				return
			}
			keep(payload[i : i+n])
			i += n
		}
	}
}

// complete puts the kept SPS and PPS before a keyframe that carries none.
func (ps *paramSets) complete(pkts []*rtp.Packet) []*rtp.Packet {
	if len(pkts) == 0 || h264HasSPS(pkts[0].Payload) {
		return pkts
	}
	ps.mu.Lock()
	sps, pps := append([]byte(nil), ps.sps...), append([]byte(nil), ps.pps...)
	ps.mu.Unlock()
	if len(sps) == 0 || len(pps) == 0 {
		return pkts
	}
	first := pkts[0].Header
	out := make([]*rtp.Packet, 0, len(pkts)+2)
	for i, nal := range [][]byte{sps, pps} {
		h := first.Clone()
		h.Marker = false
		h.SequenceNumber = first.SequenceNumber - uint16(2-i)
		out = append(out, &rtp.Packet{Header: h, Payload: nal})
	}
	return append(out, pkts...)
}

// h264HasSPS reports whether a payload is or aggregates an SPS.
func h264HasSPS(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	switch p[0] & 0x1f {
	case 7:
		return true
	case 24:
		for i := 1; i+2 <= len(p); {
			n := int(p[i])<<8 | int(p[i+1])
			i += 2
			if n == 0 || i+n > len(p) {
				return false
			}
			if p[i]&0x1f == 7 {
				return true
			}
			i += n
		}
	}
	return false
}
