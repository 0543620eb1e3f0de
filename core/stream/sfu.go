package stream

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/camkit/camkit/sdk/errs"
)

// SFU is the in-process Service: one pion API, one room per show.
type SFU struct {
	cfg     Config
	api     *webrtc.API // models' connections
	subAPI  *webrtc.API // viewers' connections
	mux     ice.UDPMux
	out     *udpOut
	events  *eventQueue
	metrics *metrics
	pool    *fanoutPool

	mu       sync.Mutex
	closed   bool
	rooms    map[string]*room
	sessions map[string]session // by Session.ID, a secret
	seats    map[string]*subscriber
	// WHEP sessions counted against the caps (see takeSlot).
	viewersByClient map[netip.Addr]int
	viewersByShow   map[string]int

	stop chan struct{}
	wg   sync.WaitGroup
	// loops counts running up-track read loops: the fan-out pool must
	// outlive them.
	loops sync.WaitGroup
}

var _ Service = (*SFU)(nil)

// session is a WHIP publisher or a WHEP subscriber.
type session interface {
	sessionID() string
	authority() *sessionAuth
	peer() *webrtc.PeerConnection
	close(reason string)
}

// New starts an SFU. cfg.Admission is required.
func New(cfg Config) (*SFU, error) {
	if cfg.Admission == nil {
		return nil, errs.E(errs.Invalid, "stream: Config.Admission is required")
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	api, subAPI, mux, out, err := buildAPI(cfg)
	if err != nil {
		return nil, err
	}
	s := &SFU{
		cfg: cfg, api: api, subAPI: subAPI, mux: mux, out: out, metrics: m,
		events:   newEventQueue(cfg.Liveness),
		pool:     newFanoutPool(),
		rooms:    map[string]*room{},
		sessions: map[string]session{},
		seats:    map[string]*subscriber{},
		stop:     make(chan struct{}),

		viewersByClient: map[netip.Addr]int{},
		viewersByShow:   map[string]int{},
	}
	s.wg.Add(1)
	go s.watchdog()
	return s, nil
}

// Close ends every session, delivers pending liveness events and releases
// the UDP port.
func (s *SFU) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	all := make([]session, 0, len(s.sessions))
	for _, x := range s.sessions {
		all = append(all, x)
	}
	s.mu.Unlock()
	for _, x := range all {
		x.close(ReasonShutdown)
	}
	for _, x := range all {
		_ = x.peer().Close()
	}
	close(s.stop)
	s.wg.Wait()
	s.loops.Wait()
	s.pool.close()
	s.events.close()
	s.out.close()
	return s.mux.Close()
}

func (s *SFU) now() time.Time { return s.cfg.Clock.Now() }

// room returns the show's room, creating it.
func (s *SFU) room(showID string) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[showID]
	if r == nil {
		r = newRoom(s, showID)
		s.rooms[showID] = r
	}
	return r
}

// holdRoom returns the show's room pinned against dropIfIdle until the
// returned release is called: a session being negotiated is not yet in it.
func (s *SFU) holdRoom(showID string) (*room, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[showID]
	if r == nil {
		r = newRoom(s, showID)
		s.rooms[showID] = r
	}
	r.mu.Lock()
	r.pending++
	r.mu.Unlock()
	return r, func() {
		r.mu.Lock()
		r.pending--
		r.mu.Unlock()
		s.dropIfIdle(r)
	}
}

func (s *SFU) refuse(err error) error {
	code := string(errs.CodeOf(err))
	var full *TooManyViewersError
	if errors.As(err, &full) {
		code = "too_many_viewers_per_" + full.Scope
	}
	s.metrics.refused.WithLabelValues(code).Inc()
	return err
}

// refuseSession counts a PATCH or DELETE refused (no bearer, another
// bearer, no such session): someone probing session URLs shows on /metrics.
func (s *SFU) refuseSession(method string, err error) error {
	s.metrics.sessionRefused.WithLabelValues(method, string(errs.CodeOf(err))).Inc()
	return err
}

// parseOffer rejects what pion would choke on later with a vaguer message.
func parseOffer(offer string) (*sdp.SessionDescription, error) {
	if strings.TrimSpace(offer) == "" {
		return nil, errs.E(errs.Invalid, "empty SDP offer")
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return nil, errs.E(errs.Invalid, "malformed SDP offer: %v", err)
	}
	media := 0
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media == "audio" || m.MediaName.Media == "video" {
			media++
		}
	}
	if media == 0 {
		return nil, errs.E(errs.Invalid, "SDP offer has no audio or video section")
	}
	return &d, nil
}

// negotiate answers offer on pc and waits for ICE gathering, so the answer
// carries every candidate (WHIP/WHEP clients need not trickle).
func (s *SFU) negotiate(ctx context.Context, pc *webrtc.PeerConnection, offer string) (string, string, error) {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", "", errs.E(errs.Invalid, "SDP offer refused: %v", err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", "", errs.E(errs.Invalid, "cannot answer SDP offer: %v", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", "", errs.E(errs.Invalid, "cannot apply SDP answer: %v", err)
	}
	t := time.NewTimer(s.cfg.GatherTimeout)
	defer t.Stop()
	select {
	case <-gathered:
	case <-t.C: // answer with what is gathered so far
	case <-ctx.Done():
		return "", "", errs.E(errs.Timeout, "offer abandoned: %v", ctx.Err())
	}
	local := pc.LocalDescription()
	var d sdp.SessionDescription
	if err := d.UnmarshalString(local.SDP); err != nil {
		return "", "", errs.E(errs.Internal, "own SDP answer unreadable: %v", err)
	}
	accepted, ufrag := 0, ""
	for _, m := range d.MediaDescriptions {
		if v, ok := m.Attribute("ice-ufrag"); ok && ufrag == "" {
			ufrag = v
		}
		if m.MediaName.Port.Value == 0 {
			continue
		}
		if _, inactive := m.Attribute("inactive"); inactive {
			continue
		}
		if m.MediaName.Media == "audio" || m.MediaName.Media == "video" {
			accepted++
		}
	}
	if v, ok := d.Attribute("ice-ufrag"); ok && ufrag == "" {
		ufrag = v
	}
	if accepted == 0 {
		return "", "", errs.E(errs.Invalid, "no audio or video section of the offer uses a supported codec (VP8, H.264, Opus)")
	}
	return local.SDP, `"` + ufrag + `"`, nil
}

// Publish implements Service.
func (s *SFU) Publish(ctx context.Context, streamKey, offerSDP string) (Session, error) {
	if _, err := parseOffer(offerSDP); err != nil {
		return Session{}, s.refuse(err)
	}
	if strings.TrimSpace(streamKey) == "" {
		return Session{}, s.refuse(errs.E(errs.Unauthenticated, "a stream key is required"))
	}
	showID, err := s.cfg.Admission.ResolveStreamKey(ctx, streamKey)
	if err != nil {
		return Session{}, s.refuse(err)
	}
	if s.isClosed() {
		return Session{}, errs.Retry(errs.Unavailable, "stream service is shutting down")
	}
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{ICEServers: s.cfg.pionICEServers()})
	if err != nil {
		return Session{}, errs.E(errs.Internal, "new peer connection: %v", err)
	}
	r, release := s.holdRoom(showID)
	defer release()
	// The stream key is the session's bearer, whichever way it came (path
	// or Authorization): the encoder holds it already, nothing is minted.
	auth, _ := newSessionAuth(streamKey)
	pub := &publisher{id: secret(sessionIDBytes), auth: auth, sfu: s, room: r, pc: pc}
	pc.OnTrack(pub.onTrack)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		pub.down.Store(st == webrtc.PeerConnectionStateDisconnected || st == webrtc.PeerConnectionStateFailed)
		if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
			pub.close(ReasonFailed)
		}
	})
	answer, etag, err := s.negotiate(ctx, pc, offerSDP)
	if err != nil {
		pub.abandon()
		return Session{}, s.refuse(err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		pub.abandon()
		return Session{}, errs.Retry(errs.Unavailable, "stream service is shutting down")
	}
	s.sessions[pub.id] = pub
	s.metrics.publishers.Inc()
	s.mu.Unlock()
	if old := r.setPublisher(pub); old != nil {
		old.close(ReasonReplaced)
	}
	return Session{ID: pub.id, WatchID: pub.auth.watchID, ShowID: showID, AnswerSDP: answer, ETag: etag}, nil
}

// Subscribe implements Service.
func (s *SFU) Subscribe(ctx context.Context, req SubscribeRequest) (Session, error) {
	showID, token, offerSDP := req.ShowID, req.Token, req.OfferSDP
	if _, err := parseOffer(offerSDP); err != nil {
		return Session{}, s.refuse(err)
	}
	if strings.TrimSpace(showID) == "" {
		return Session{}, s.refuse(errs.E(errs.NotFound, "no show id given"))
	}
	admit, err := s.cfg.Admission.AdmitViewer(ctx, showID, token)
	if err != nil {
		return Session{}, s.refuse(err)
	}
	if s.isClosed() {
		return Session{}, errs.Retry(errs.Unavailable, "stream service is shutting down")
	}
	r, release := s.holdRoom(showID)
	defer release()
	if admit.SeatID == "" && r.currentMode() != ModePublic {
		return Session{}, s.refuse(errs.E(errs.Forbidden, "show %s is %s: a seat token is required", showID, r.currentMode()))
	}
	// The slot is taken before the (slow) negotiation, so a burst of offers
	// cannot all pass the check; every failure below gives it back.
	slot, err := s.takeSlot(showID, req.Client, admit.SeatID != "")
	if err != nil {
		return Session{}, s.refuse(err)
	}
	pc, err := s.subAPI.NewPeerConnection(webrtc.Configuration{ICEServers: s.cfg.pionICEServers()})
	if err != nil {
		slot.release()
		return Session{}, errs.E(errs.Internal, "new peer connection: %v", err)
	}
	auth, minted := newSessionAuth(token)
	sub := &subscriber{id: secret(sessionIDBytes), auth: auth, seatID: admit.SeatID, slot: slot, sfu: s, room: r, pc: pc}
	sub.video = newDownTrack(sub, webrtc.RTPCodecTypeVideo)
	sub.audio = newDownTrack(sub, webrtc.RTPCodecTypeAudio)
	for _, dt := range []*downTrack{sub.video, sub.audio} {
		sender, err := pc.AddTrack(dt)
		if err != nil {
			sub.abandon()
			return Session{}, errs.E(errs.Internal, "add track: %v", err)
		}
		go sub.readRTCP(sender)
	}
	pc.OnConnectionStateChange(sub.onState)
	answer, etag, err := s.negotiate(ctx, pc, offerSDP)
	if err != nil {
		sub.abandon()
		return Session{}, s.refuse(err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sub.abandon()
		return Session{}, errs.Retry(errs.Unavailable, "stream service is shutting down")
	}
	s.metrics.subscribers.Inc()
	var replaced *subscriber
	if sub.seatID != "" {
		replaced = s.seats[sub.seatID]
		s.seats[sub.seatID] = sub
	}
	s.sessions[sub.id] = sub
	s.mu.Unlock()
	if replaced != nil {
		replaced.close(ReasonReplaced)
	}
	if err := r.addSubscriber(sub); err != nil {
		sub.close(ReasonShowPrivate)
		return Session{}, s.refuse(err)
	}
	return Session{ID: sub.id, WatchID: sub.auth.watchID, Token: minted, ShowID: showID, SeatID: sub.seatID, AnswerSDP: answer, ETag: etag}, nil
}

// startLoop registers an up-track read loop, unless the SFU is closing.
func (s *SFU) startLoop() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.loops.Add(1)
	return true
}

func (s *SFU) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// authorize finds the session and checks bearer against the one that created
// it. A missing bearer is refused before the lookup, so an anonymous request
// learns nothing, not even whether the session exists.
func (s *SFU) authorize(id, bearer string) (session, error) {
	if bearer == "" {
		return nil, errs.E(errs.Unauthenticated, "this session needs the bearer token that created it: Authorization: Bearer <stream key, seat token or session token>")
	}
	s.mu.Lock()
	x, ok := s.sessions[id]
	s.mu.Unlock()
	if !ok {
		return nil, errs.E(errs.NotFound, "no such stream session (it ended, or never existed)")
	}
	if err := x.authority().check(bearer); err != nil {
		return nil, err
	}
	return x, nil
}

// forget drops a closed session from the indexes.
func (s *SFU) forget(x session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[x.sessionID()] == x {
		delete(s.sessions, x.sessionID())
	}
	if sub, ok := x.(*subscriber); ok {
		if sub.seatID != "" && s.seats[sub.seatID] == sub {
			delete(s.seats, sub.seatID)
		}
		sub.slot.releaseLocked()
	}
}

// End implements Service.
func (s *SFU) End(_ context.Context, sessionID, bearer string) error {
	x, err := s.authorize(sessionID, bearer)
	if err != nil {
		return s.refuseSession("delete", err)
	}
	x.close(ReasonClosed)
	return nil
}

// EndSeat implements Service.
func (s *SFU) EndSeat(seatID string) {
	s.mu.Lock()
	sub := s.seats[seatID]
	s.mu.Unlock()
	if sub != nil {
		sub.close(ReasonSeatEnded)
	}
}

// SetMode implements Service.
func (s *SFU) SetMode(showID string, mode Mode) {
	r := s.room(showID)
	r.setMode(mode)
	s.dropIfIdle(r)
}

// EndShow implements Service.
func (s *SFU) EndShow(showID string) {
	r := s.room(showID)
	r.endAll(ReasonShowEnded)
	s.dropIfIdle(r)
}

// EndPublisher implements Service.
func (s *SFU) EndPublisher(showID string) {
	if pub := s.publisherOf(showID); pub != nil {
		pub.close(ReasonClosed)
	}
}

// PublisherActive implements Service.
func (s *SFU) PublisherActive(showID string) bool {
	pub := s.publisherOf(showID)
	return pub != nil && pub.active(s.now(), s.cfg.PublisherStall)
}

// publisherOf is the show's publisher now, or nil (no room, or none on air).
func (s *SFU) publisherOf(showID string) *publisher {
	s.mu.Lock()
	r := s.rooms[showID]
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pub
}

// Watch implements Service.
func (s *SFU) Watch(showID, watchID string) (<-chan ShowEvent, func()) {
	r := s.room(showID)
	ch, stop := r.watch(watchID)
	return ch, func() {
		stop()
		s.dropIfIdle(r)
	}
}

// dropIfIdle forgets a room nobody uses, so show ids from URLs cannot grow
// the map without bound. A room in a private or group mode is kept: its
// mode still guards admission.
func (s *SFU) dropIfIdle(r *room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	idle := r.pub == nil && len(r.subs) == 0 && len(r.watchers) == 0 && r.pending == 0 && r.mode == ModePublic && !r.flowing
	r.mu.Unlock()
	if idle && s.rooms[r.showID] == r {
		delete(s.rooms, r.showID)
		s.metrics.showViewers.DeleteLabelValues(r.showID)
	}
}

// Patch implements Service: trickle candidates are added; an ICE restart
// (a new ufrag) is refused, since the SFU answers with every candidate and a
// client that lost its path is better served by a new session.
func (s *SFU) Patch(_ context.Context, sessionID, bearer string, frag []byte) ([]byte, error) {
	x, err := s.authorize(sessionID, bearer)
	if err != nil {
		return nil, s.refuseSession("patch", err)
	}
	pc := x.peer()
	current := ""
	if remote := pc.RemoteDescription(); remote != nil {
		current = iceUfrag(remote.SDP)
	}
	cands, err := parseSDPFrag(frag, current)
	if err != nil {
		return nil, err
	}
	for _, c := range cands {
		init := webrtc.ICECandidateInit{Candidate: c.Candidate}
		if c.Mid != "" {
			m := c.Mid
			init.SDPMid = &m
		} else {
			var zero uint16
			init.SDPMLineIndex = &zero
		}
		if err := pc.AddICECandidate(init); err != nil {
			return nil, errs.E(errs.Invalid, "ICE candidate refused: %v", err)
		}
	}
	return nil, nil
}

// watchdog applies the liveness timeouts.
func (s *SFU) watchdog() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.LivenessTick)
	defer t.Stop()
	var lastReports time.Time
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		rooms := make([]*room, 0, len(s.rooms))
		for _, r := range s.rooms {
			rooms = append(rooms, r)
		}
		s.mu.Unlock()
		now := s.now()
		for _, r := range rooms {
			r.checkLiveness(now)
		}
		// Sender reports about once a second (real time: they carry the
		// wall clock, whatever clock liveness is judged by).
		if wall := time.Now(); wall.Sub(lastReports) >= time.Second {
			lastReports = wall
			for _, r := range rooms {
				for _, sub := range r.subscribers() {
					sub.sendReports(wall)
				}
			}
		}
	}
}
