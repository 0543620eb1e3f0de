package stream

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/pion/webrtc/v4"
)

const (
	audioIdx = 0
	videoIdx = 1
)

func kindIdx(k webrtc.RTPCodecType) int {
	if k == webrtc.RTPCodecTypeVideo {
		return videoIdx
	}
	return audioIdx
}

// room is one show: at most one publisher, its up tracks, the viewers'
// down tracks and the model-side liveness state.
type room struct {
	sfu    *SFU
	showID string

	// downs are copy-on-write lists read on every packet without a lock.
	downs [2]atomic.Pointer[[]*downTrack]
	// lastPacket is the clock time (UnixNano) of the model's last RTP packet.
	lastPacket atomic.Int64
	flowingHot atomic.Bool

	mu           sync.Mutex
	mode         Mode
	modeSeq      uint64 // counts mode changes (ShowState.ModeSeq)
	pub          *publisher
	ups          [2]*upTrack
	subs         map[string]*subscriber
	flowing      bool
	flowingSince time.Time
	watchers     map[chan ShowEvent]string // a page's channel -> the watch id it follows ("" for none)
	pending      int                       // sessions being negotiated for this room
}

func newRoom(s *SFU, showID string) *room {
	r := &room{sfu: s, showID: showID, mode: ModePublic, subs: map[string]*subscriber{}, watchers: map[chan ShowEvent]string{}}
	for i := range r.downs {
		r.downs[i].Store(&[]*downTrack{})
	}
	return r
}

func (r *room) currentMode() Mode {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mode
}

// broadcast tells every page watching the show. It must be called with r.mu
// held.
func (r *room) broadcast(ev ShowEvent) { r.send("", ev) }

// tell tells only the pages following one session (by its watch id): that
// session's end is nobody else's business. It must be called with r.mu held.
func (r *room) tell(watchID string, ev ShowEvent) {
	if watchID != "" {
		r.send(watchID, ev)
	}
}

func (r *room) send(watchID string, ev ShowEvent) {
	ev.ShowID = r.showID
	for ch, follows := range r.watchers {
		if watchID != "" && follows != watchID {
			continue
		}
		select {
		case ch <- ev:
		default: // a page too slow to read loses events rather than stalling media
		}
	}
}

func (r *room) watch(watchID string) (<-chan ShowEvent, func()) {
	ch := make(chan ShowEvent, 32)
	r.mu.Lock()
	r.watchers[ch] = watchID
	now := r.sfu.now()
	ch <- ShowEvent{Type: EventMode, ShowID: r.showID, Mode: r.mode, At: now}
	if r.flowing {
		ch <- ShowEvent{Type: EventLive, ShowID: r.showID, At: r.flowingSince}
	} else {
		ch <- ShowEvent{Type: EventPaused, ShowID: r.showID, At: now}
	}
	r.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.watchers, ch)
			close(ch)
			r.mu.Unlock()
		})
	}
}

func (r *room) setMode(mode Mode) {
	r.mu.Lock()
	if r.mode == mode {
		r.mu.Unlock()
		return
	}
	r.mode = mode
	r.modeSeq++
	var cut []*subscriber
	if mode != ModePublic {
		for _, s := range r.subs {
			if s.seatID == "" {
				cut = append(cut, s)
			}
		}
	}
	r.broadcast(ShowEvent{Type: EventMode, Mode: mode, At: r.sfu.now()})
	r.mu.Unlock()
	for _, s := range cut {
		s.close(ReasonShowPrivate)
	}
}

func (r *room) endAll(reason string) {
	r.mu.Lock()
	pub := r.pub
	subs := make([]*subscriber, 0, len(r.subs))
	for _, s := range r.subs {
		subs = append(subs, s)
	}
	r.mu.Unlock()
	for _, s := range subs {
		s.close(reason)
	}
	if pub != nil {
		pub.close(reason)
	}
}

// setPublisher makes p the show's publisher. The one it replaces is cut
// at once, so its media, if flowing, is reported stopped now (backdated to
// its last packet) and the new publisher's first packet reports it flowing
// again: a seat is paused for exactly the gap between the two.
func (r *room) setPublisher(p *publisher) (old *publisher) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old = r.pub
	r.pub = p
	r.ups = [2]*upTrack{}
	if old != nil && r.flowing {
		r.stopFlowing(old.id, ReasonReplaced)
	}
	return old
}

// setUp installs a publisher's track as the show's source of its kind. A
// second track of a kind (a simulcast layer) is refused for now.
func (r *room) setUp(p *publisher, up *upTrack) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := kindIdx(up.kind)
	if r.pub != p || r.ups[i] != nil {
		return false
	}
	r.ups[i] = up
	return true
}

func (r *room) clearUp(up *upTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := kindIdx(up.kind); r.ups[i] == up {
		r.ups[i] = nil
	}
}

func (r *room) requestKeyframe(kind webrtc.RTPCodecType) {
	r.mu.Lock()
	up := r.ups[kindIdx(kind)]
	r.mu.Unlock()
	if up != nil {
		up.requestKeyframe()
	}
}

func (r *room) publisherGone(p *publisher, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tell(p.auth.watchID, ShowEvent{Type: EventEnded, Reason: reason, At: r.sfu.now()})
	if r.pub != p {
		return // replaced: setPublisher reported its media stopped
	}
	r.pub = nil
	r.ups = [2]*upTrack{}
	if r.flowing {
		r.stopFlowing(p.id, reason)
	}
}

// onPacket records model liveness; the hot path is one atomic store.
func (r *room) onPacket(p *publisher, now time.Time) {
	r.lastPacket.Store(now.UnixNano())
	if r.flowingHot.Load() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.flowing || r.pub != p {
		return
	}
	r.flowing = true
	r.flowingSince = now
	r.flowingHot.Store(true)
	r.sfu.events.push(ModelMediaFlowing{ShowID: r.showID, SessionID: p.id, Since: now})
	r.broadcast(ShowEvent{Type: EventLive, At: now})
}

// stopFlowing must be called with r.mu held.
func (r *room) stopFlowing(sessionID, reason string) {
	last := time.Unix(0, r.lastPacket.Load())
	r.flowing = false
	r.flowingHot.Store(false)
	r.sfu.events.push(ModelMediaStopped{ShowID: r.showID, SessionID: sessionID, LastPacketAt: last, Reason: reason})
	r.broadcast(ShowEvent{Type: EventPaused, Reason: reason, At: last})
}

func (r *room) checkLiveness(now time.Time) {
	r.mu.Lock()
	if r.flowing && now.Sub(time.Unix(0, r.lastPacket.Load())) > r.sfu.cfg.MediaTimeout {
		id := ""
		if r.pub != nil {
			id = r.pub.id
		}
		r.stopFlowing(id, ReasonTimeout)
	}
	flowing, since := r.flowing, r.flowingSince
	subs := make([]*subscriber, 0, len(r.subs))
	for _, s := range r.subs {
		subs = append(subs, s)
	}
	r.mu.Unlock()
	for _, s := range subs {
		s.checkLiveness(now, flowing, since)
	}
}

func (r *room) rebuildDowns() {
	var v, a []*downTrack
	for _, s := range r.subs {
		v = append(v, s.video)
		a = append(a, s.audio)
	}
	r.downs[videoIdx].Store(&v)
	r.downs[audioIdx].Store(&a)
	r.sfu.metrics.showViewers.WithLabelValues(r.showID).Set(float64(len(r.subs)))
}

func (r *room) addSubscriber(s *subscriber) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.seatID == "" && r.mode != ModePublic {
		return errs.E(errs.Forbidden, "show %s is %s: a seat token is required", r.showID, r.mode)
	}
	if s.closed.Load() {
		// Closed while it was being registered (replaced, failed): its
		// removeSubscriber already ran, so adding it now would leak it.
		return nil
	}
	r.subs[s.id] = s
	r.rebuildDowns()
	return nil
}

func (r *room) removeSubscriber(s *subscriber, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.subs[s.id]; ok {
		delete(r.subs, s.id)
		r.rebuildDowns()
	}
	r.tell(s.auth.watchID, ShowEvent{Type: EventEnded, Reason: reason, At: r.sfu.now()})
}

func (r *room) subscribers() []*subscriber {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*subscriber, 0, len(r.subs))
	for _, s := range r.subs {
		out = append(out, s)
	}
	return out
}
