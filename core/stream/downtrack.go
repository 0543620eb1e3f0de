package stream

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// fwdPacket is one RTP packet from a model on its way to every viewer. It is
// parsed once; each downTrack writes its own rewritten header.
type fwdPacket struct {
	pkt      rtp.Packet
	keyframe bool
	up       *upTrack
}

// downTrack is one viewer's copy of one of the show's tracks. It is the seam
// for simulcast: today its source is the show's single upTrack of its kind;
// a layer selector would switch sources, and the munger below already keeps
// the viewer's sequence numbers and timestamps continuous across a switch
// (it does so today when a model reconnects).
type downTrack struct {
	id, streamID string
	kind         webrtc.RTPCodecType
	sub          *subscriber

	closed atomic.Bool

	mu        sync.Mutex
	bound     bool
	ssrc      webrtc.SSRC
	writer    webrtc.TrackLocalWriter
	codecs    []webrtc.RTPCodecParameters
	src       *upTrack
	pt        uint8
	ptOK      bool
	clockRate uint32
	started   bool
	seqOffset uint16
	tsOffset  uint32
	lastIn    uint16
	anyOut    bool
	lastSeq   uint16
	lastTS    uint32
	lastAt    time.Time
	// epoch is the first sequence number sent with the current offsets:
	// NACKs for older ones are not answered (their mapping is gone).
	epoch uint16
	// For RTCP sender reports.
	packets, octets uint32
}

var _ webrtc.TrackLocal = (*downTrack)(nil)

func newDownTrack(sub *subscriber, kind webrtc.RTPCodecType) *downTrack {
	return &downTrack{id: kind.String(), streamID: "camkit-" + sub.room.showID, kind: kind, sub: sub}
}

func (d *downTrack) ID() string                { return d.id }
func (d *downTrack) RID() string               { return "" }
func (d *downTrack) StreamID() string          { return d.streamID }
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.kind }

// Bind is called by pion once the viewer's transport is up. Any codec of
// our kind is accepted here; the choice per packet follows the source.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var mine []webrtc.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) {
			continue
		}
		if strings.HasPrefix(strings.ToLower(c.MimeType), strings.ToLower(d.kind.String())+"/") {
			mine = append(mine, c)
		}
	}
	if len(mine) == 0 {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	d.mu.Lock()
	d.bound = true
	d.ssrc = ctx.SSRC()
	d.writer = ctx.WriteStream()
	d.codecs = mine
	d.src = nil
	d.mu.Unlock()
	if d.kind == webrtc.RTPCodecTypeVideo {
		d.sub.room.requestKeyframe(d.kind)
	}
	return mine[0], nil
}

func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.mu.Lock()
	d.bound = false
	d.writer = nil
	d.mu.Unlock()
	return nil
}

// pickPT finds the viewer's payload type for the source's codec: the same
// MIME type, preferring identical fmtp (H.264 profile and packetisation).
func pickPT(codecs []webrtc.RTPCodecParameters, src webrtc.RTPCodecParameters) (uint8, bool) {
	found, ok := uint8(0), false
	for _, c := range codecs {
		if !strings.EqualFold(c.MimeType, src.MimeType) {
			continue
		}
		if c.SDPFmtpLine == src.SDPFmtpLine {
			return uint8(c.PayloadType), true
		}
		if !ok || (strings.Contains(src.SDPFmtpLine, "packetization-mode=1") == strings.Contains(c.SDPFmtpLine, "packetization-mode=1")) {
			found, ok = uint8(c.PayloadType), true
		}
	}
	return found, ok
}

// write forwards one packet; it reports the payload bytes written (0 when
// the packet was held back) and whether the viewer still waits for a
// keyframe, so the caller can ask the model for one.
func (d *downTrack) write(p *fwdPacket) (int, bool) {
	if d.closed.Load() {
		return 0, false
	}
	d.mu.Lock()
	if !d.bound {
		d.mu.Unlock()
		return 0, false
	}
	if d.src != p.up {
		// A new source (the model reconnected, or a future layer switch):
		// wait for a keyframe and re-anchor the offsets.
		d.src = p.up
		d.pt, d.ptOK = pickPT(d.codecs, p.up.codec)
		d.clockRate = p.up.codec.ClockRate
		d.started = false
	}
	if !d.ptOK {
		d.mu.Unlock()
		return 0, false
	}
	in := &p.pkt
	first := false
	if !d.started {
		if !p.keyframe || len(in.Payload) == 0 {
			d.mu.Unlock()
			return 0, d.kind == webrtc.RTPCodecTypeVideo
		}
		outSeq, outTS := in.SequenceNumber, in.Timestamp
		if d.anyOut {
			outSeq = d.lastSeq + 1
			elapsed := time.Since(d.lastAt)
			step := uint32(elapsed.Seconds() * float64(d.clockRate))
			if step == 0 {
				step = 1
			}
			outTS = d.lastTS + step
		}
		d.seqOffset = in.SequenceNumber - outSeq
		d.tsOffset = in.Timestamp - outTS
		d.lastIn = in.SequenceNumber
		d.started = true
		d.epoch = outSeq
		first = d.kind == webrtc.RTPCodecTypeVideo
	} else {
		diff := int16(in.SequenceNumber - d.lastIn)
		if diff > 0 {
			d.lastIn = in.SequenceNumber
			if len(in.Payload) == 0 && diff == 1 {
				// Padding-only probe: drop it and close the gap so the
				// viewer does not NACK a packet that will never come.
				d.seqOffset++
				d.epoch = in.SequenceNumber + 1 - d.seqOffset
				d.mu.Unlock()
				return 0, false
			}
		} else if len(in.Payload) == 0 || diff < -1000 {
			d.mu.Unlock()
			return 0, false
		}
	}
	hdr := in.Header
	hdr.SSRC = uint32(d.ssrc)
	hdr.PayloadType = d.pt
	hdr.SequenceNumber = in.SequenceNumber - d.seqOffset
	hdr.Timestamp = in.Timestamp - d.tsOffset
	// Header extension ids were negotiated with the model, not the viewer.
	hdr.Extension = false
	hdr.Extensions = nil
	hdr.Padding = false
	hdr.PaddingSize = 0
	if !d.anyOut || int16(hdr.SequenceNumber-d.lastSeq) > 0 {
		d.lastSeq, d.lastTS, d.lastAt, d.anyOut = hdr.SequenceNumber, hdr.Timestamp, time.Now(), true
	}
	d.packets++
	d.octets += uint32(len(in.Payload))
	w := d.writer
	d.mu.Unlock()
	if _, err := w.WriteRTP(&hdr, in.Payload); err != nil {
		return 0, false
	}
	if first {
		// The keyframe a picture starts from is on the viewer's transport:
		// from here the viewer can see the model (see subscriber.videoDelivered).
		d.sub.videoDelivered(d.sub.sfu.now())
	}
	return len(in.Payload), false
}

// maxResend caps the packets one NACK message gets back, so a viewer
// reporting a huge gap cannot turn the SFU into an amplifier.
const maxResend = 64

// resend answers a viewer's NACK for the sequence numbers seqs (the
// viewer's numbering) from the model's history, as the original packet
// again on the viewer's SSRC (RFC 4585). Not over RTX: a receiver that
// repairs from RTX after its NACK logic (pion's does) keeps asking for
// packets it already has, and the answers would snowball.
func (d *downTrack) resend(seqs []uint16) int {
	var buf [1500]byte
	sent := 0
	for _, seq := range seqs[:min(len(seqs), maxResend)] {
		d.mu.Lock()
		src := d.src
		if d.closed.Load() || !d.bound || !d.started || src == nil || src.hist == nil ||
			int16(seq-d.epoch) < 0 || int16(d.lastSeq-seq) < 0 {
			d.mu.Unlock()
			continue
		}
		ts, marker, payload, ok := src.hist.get(seq+d.seqOffset, buf[:0])
		if !ok {
			d.mu.Unlock()
			continue
		}
		hdr := rtp.Header{Version: 2, SSRC: uint32(d.ssrc), PayloadType: d.pt, SequenceNumber: seq, Timestamp: ts - d.tsOffset, Marker: marker}
		w := d.writer
		d.mu.Unlock()
		if _, err := w.WriteRTP(&hdr, payload); err == nil {
			sent++
		}
	}
	return sent
}

// senderReport describes what was sent so far (RFC 3550 6.4.1), or nil
// before anything was.
func (d *downTrack) senderReport(now time.Time) *rtcp.SenderReport {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.bound || !d.anyOut {
		return nil
	}
	rtpTime := d.lastTS + uint32(now.Sub(d.lastAt).Seconds()*float64(d.clockRate))
	return &rtcp.SenderReport{SSRC: uint32(d.ssrc), NTPTime: ntpTime(now), RTPTime: rtpTime, PacketCount: d.packets, OctetCount: d.octets}
}

// ntpTime is t in the 64-bit NTP format (seconds since 1900, fraction).
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}
