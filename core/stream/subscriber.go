package stream

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// subscriber is a viewer's WHEP session.
type subscriber struct {
	id, seatID string
	auth       sessionAuth
	slot       *viewerSlot // its place under the caps, given back when it ends
	sfu        *SFU
	room       *room
	pc         *webrtc.PeerConnection
	video      *downTrack
	audio      *downTrack
	closed     atomic.Bool

	mu          sync.Mutex
	pcConnected bool
	// firstFrame is when the first video keyframe was written to the
	// viewer's transport. Before it the viewer sees nothing, however
	// connected: ViewerConnected waits for it.
	firstFrame   time.Time
	reported     bool // ViewerConnected sent and not yet matched by ViewerDisconnected
	lastEvidence time.Time
}

var _ session = (*subscriber)(nil)

func (s *subscriber) sessionID() string            { return s.id }
func (s *subscriber) authority() *sessionAuth      { return &s.auth }
func (s *subscriber) peer() *webrtc.PeerConnection { return s.pc }

// abandon closes a subscriber that never became visible: no accounting, no events.
func (s *subscriber) abandon() {
	s.closed.Store(true)
	s.slot.release()
	_ = s.pc.Close()
}

// close stops the viewer's media first (its down tracks leave the fan-out
// lists and refuse writes), then tears the connection down in the background.
func (s *subscriber) close(reason string) {
	if !s.closed.CompareAndSwap(false, true) {
		return
	}
	s.video.closed.Store(true)
	s.audio.closed.Store(true)
	s.room.removeSubscriber(s, reason)
	s.sfu.forget(s)
	s.mu.Lock()
	s.disconnectLocked(reason)
	s.mu.Unlock()
	s.sfu.metrics.subscribers.Dec()
	s.sfu.dropIfIdle(s.room)
	go s.pc.Close()
}

// disconnectLocked must be called with s.mu held.
func (s *subscriber) disconnectLocked(reason string) {
	if !s.reported {
		return
	}
	s.reported = false
	s.sfu.events.push(ViewerDisconnected{ShowID: s.room.showID, SeatID: s.seatID, SubscriberID: s.id, LastEvidenceAt: s.lastEvidence, Reason: reason})
}

// connectLocked reports the viewer there at now, once its connection is up
// and video has reached it (the first time; a viewer back after a loss is
// there again as soon as its connection vouches for it, its picture goes on).
func (s *subscriber) connectLocked(now time.Time) {
	if s.reported || s.closed.Load() || s.firstFrame.IsZero() {
		return
	}
	s.reported = true
	s.sfu.events.push(ViewerConnected{ShowID: s.room.showID, SeatID: s.seatID, SubscriberID: s.id, At: now})
}

// videoDelivered records the first video keyframe written to the viewer at
// at: billing starts there, not when the connection came up (the picture
// follows it by a keyframe request's round trip and the encoder's answer).
func (s *subscriber) videoDelivered(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.firstFrame.IsZero() {
		return
	}
	s.firstFrame = at
	if s.pcConnected {
		if at.After(s.lastEvidence) {
			s.lastEvidence = at
		}
		s.connectLocked(at)
	}
}

func (s *subscriber) onState(st webrtc.PeerConnectionState) {
	switch st {
	case webrtc.PeerConnectionStateConnected:
		now := s.sfu.now()
		s.mu.Lock()
		s.pcConnected = true
		s.lastEvidence = now
		s.connectLocked(now)
		s.mu.Unlock()
	case webrtc.PeerConnectionStateDisconnected:
		s.mu.Lock()
		s.pcConnected = false
		s.disconnectLocked("disconnected")
		s.mu.Unlock()
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		s.close(ReasonFailed)
	}
}

// readRTCP reads the viewer's RTCP: evidence of life, keyframe requests
// relayed to the model, NACKs answered from the model's packet history.
func (s *subscriber) readRTCP(sender *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		n, _, err := sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		now := s.sfu.now()
		s.mu.Lock()
		if now.After(s.lastEvidence) {
			s.lastEvidence = now
		}
		if s.pcConnected {
			s.connectLocked(now)
		}
		s.mu.Unlock()
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				s.sfu.metrics.keyframeAsked.Inc()
				s.room.requestKeyframe(webrtc.RTPCodecTypeVideo)
			case *rtcp.TransportLayerNack:
				var seqs []uint16
				for _, pair := range p.Nacks {
					seqs = append(seqs, pair.PacketList()...)
				}
				s.video.resend(seqs)
			}
		}
	}
}

// checkLiveness applies the viewer RTCP timeout. A viewer is only expected
// to send RTCP about media it receives: while the model's media is not
// flowing (or just resumed), the connection state alone vouches for it.
func (s *subscriber) checkLiveness(now time.Time, flowing bool, since time.Time) {
	timeout := s.sfu.cfg.ViewerTimeout
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.reported {
		return
	}
	if !flowing || now.Sub(since) < timeout {
		if s.pcConnected && now.After(s.lastEvidence) {
			s.lastEvidence = now
		}
		return
	}
	if now.Sub(s.lastEvidence) > timeout {
		s.disconnectLocked(ReasonTimeout)
	}
}

// sendReports sends the viewer an RTCP sender report per track that has
// sent media (lip sync and round-trip time in the browser).
func (s *subscriber) sendReports(now time.Time) {
	var pkts []rtcp.Packet
	for _, d := range []*downTrack{s.video, s.audio} {
		if sr := d.senderReport(now); sr != nil {
			pkts = append(pkts, sr)
		}
	}
	if len(pkts) > 0 && !s.closed.Load() {
		_ = s.pc.WriteRTCP(pkts)
	}
}
