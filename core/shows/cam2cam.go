package shows

// Cam2cam: the paying viewer of a private show shares her camera and
// microphone with the model.
//
// Media: the viewer's camera is a room of its own in the SFU, Cam2camRoom(seat
// id). She publishes to it over WHIP with her seat token as the stream key
// (ResolveStreamKey resolves a seat token to that room, and only while the
// seat is open with cam2cam granted); the model plays it over WHEP with a
// bearer minted for her alone (Cam2cam.ModelToken, given only to her
// dashboard); every other bearer, the seat's own included, is refused. The
// room is kept private in the SFU for the seat's life, so no public visitor is
// let in and core/thumbnail (public rooms only) never takes a picture of it;
// nothing records it. Its liveness events are dropped before they reach any
// meter: the seat is metered on the model's media and the viewer's WHEP
// connection, as without cam2cam, so losing the viewer's camera never pauses
// billing.
//
// Money: the model's profile says what cam2cam adds to her rate a minute
// (accounts.ModelProfile.Cam2camSurcharge; nil, she does not offer it; zero,
// free). The viewer asks for it with her private request (RequestPrivateWith),
// which records the surcharge she was shown; the model accepts with or without
// it (AcceptOptions.Cam2cam). Granted, the seat locks RatePerMinute = rate +
// surcharge, labelled with pricing.Policy.Cam2camSurchargePerMinute: one
// price, locked once when the seat opens, one meter, never changed mid-seat
// (the model stopping the camera later, RefuseCam2cam, does not lower it).
// The receipt reads the surcharge's share of the one price
// (billing.Receipt.Cam2cam).
//
// The state is in memory: a restart ends every seat (see restore), and a
// request's cam2cam ask does not survive one (it is asked again).

import (
	"context"
	"crypto/subtle"
	"strings"
	"sync"

	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

const (
	// seatTokenPrefix starts every seat token: a WHIP publish with one is a
	// viewer's camera, never a model's stream key ("sk_").
	seatTokenPrefix = "st_"
	cam2camPrefix   = "c2c-"
)

// Cam2camRoom is the SFU room (WHIP/WHEP show id) of a seat's viewer camera.
func Cam2camRoom(seatID string) string { return cam2camPrefix + seatID }

func cam2camSeatOf(room string) (string, bool) {
	id, ok := strings.CutPrefix(room, cam2camPrefix)
	return id, ok && id != ""
}

func isSeatToken(key string) bool { return strings.HasPrefix(key, seatTokenPrefix) }

func isCam2camEvent(ev stream.LivenessEvent) bool {
	var room string
	switch e := ev.(type) {
	case stream.ModelMediaFlowing:
		room = e.ShowID
	case stream.ModelMediaStopped:
		room = e.ShowID
	case stream.ViewerConnected:
		room = e.ShowID
	case stream.ViewerDisconnected:
		room = e.ShowID
	}
	return strings.HasPrefix(room, cam2camPrefix)
}

// cam2camSeats holds the seats granted cam2cam, while open. Its lock is never
// held while taking Service.mu.
type cam2camSeats struct {
	mu sync.Mutex
	m  map[string]*cam2camSeat
}

type cam2camSeat struct {
	surcharge  money.Money
	modelToken string
	stopped    bool // the model stopped the camera; the price stays locked
}

func (c *cam2camSeats) get(seatID string) (cam2camSeat, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x := c.m[seatID]
	if x == nil {
		return cam2camSeat{}, false
	}
	return *x, true
}

// PrivateOptions is what a viewer asks for with a private request.
type PrivateOptions struct {
	// Cam2cam: she asks to share her camera with the model, at the model's
	// current surcharge (Cam2camOffer), which the request records.
	Cam2cam bool
}

// Cam2camOffer is the model's current cam2cam surcharge per minute; ok is
// false when she does not offer cam2cam.
func (s *Service) Cam2camOffer(ctx context.Context, modelID string) (surcharge money.Money, ok bool, err error) {
	p, err := s.cfg.Accounts.Profile(ctx, modelID)
	if err != nil || p.Cam2camSurcharge == nil {
		return money.Money{}, false, err
	}
	return *p.Cam2camSurcharge, true, nil
}

// RequestPrivateWith is RequestPrivate with the viewer's options. Asking
// again with cam2cam turns a pending request into a cam2cam one.
func (s *Service) RequestPrivateWith(ctx context.Context, viewerID, showID string, opt PrivateOptions) (Request, error) {
	if !opt.Cam2cam {
		return s.RequestPrivate(ctx, viewerID, showID)
	}
	s.mu.Lock()
	b := s.byID[showID]
	model := ""
	if b != nil {
		model = b.model
	}
	s.mu.Unlock()
	if b == nil {
		return Request{}, errs.E(errs.NotFound, "this show is not on air")
	}
	sur, ok, err := s.Cam2camOffer(ctx, model)
	if err != nil {
		return Request{}, err
	}
	if !ok {
		return Request{}, errs.E(errs.Invalid, "this model does not offer cam2cam; ask for a private show without it")
	}
	r, err := s.RequestPrivate(ctx, viewerID, showID)
	if err != nil {
		return Request{}, err
	}
	s.mu.Lock()
	if q := s.requests[r.ID]; q != nil {
		q.Cam2cam, q.Cam2camSurcharge = true, sur
		r = q.Request
	}
	s.mu.Unlock()
	return r, nil
}

// withCam2cam is pol with the surcharge the viewer was shown added to the
// rate, when r asks for cam2cam and the model granted it (Accept clears
// r.Cam2cam otherwise).
func withCam2cam(pol pricing.Policy, r *Request) (pricing.Policy, bool) {
	if !r.Cam2cam || r.Cam2camSurcharge.Currency != pol.RatePerMinute.Currency {
		return pol, false
	}
	pol.RatePerMinute.Amount += r.Cam2camSurcharge.Amount
	pol.Cam2camSurchargePerMinute = r.Cam2camSurcharge
	return pol, true
}

// openCam2cam makes the seat's camera room, private from its first moment.
func (s *Service) openCam2cam(st *seat, granted bool) {
	if !granted || !st.policy.HasCam2cam() {
		return
	}
	s.c2c.mu.Lock()
	if s.c2c.m == nil {
		s.c2c.m = map[string]*cam2camSeat{}
	}
	s.c2c.m[st.id] = &cam2camSeat{surcharge: st.policy.Cam2camSurchargePerMinute, modelToken: randomID("c2m_", 24)}
	s.c2c.mu.Unlock()
	if s.media != nil {
		s.media.SetMode(Cam2camRoom(st.id), stream.ModePrivate)
	}
}

// endCam2cam closes the seat's camera room, if it has one.
func (s *Service) endCam2cam(seatID string) {
	s.c2c.mu.Lock()
	_, had := s.c2c.m[seatID]
	delete(s.c2c.m, seatID)
	s.c2c.mu.Unlock()
	if had && s.media != nil {
		room := Cam2camRoom(seatID)
		s.media.EndShow(room)
		// Public again only so the SFU forgets the empty room; the seat is
		// gone, so AdmitViewer refuses everyone.
		s.media.SetMode(room, stream.ModePublic)
	}
}

// resolveCam2cam is ResolveStreamKey for a seat token: the seat's camera room
// while the seat is open with cam2cam granted.
func (s *Service) resolveCam2cam(token string) (string, error) {
	s.mu.Lock()
	st := s.seatByTokenLocked(token)
	open, id := st != nil && st.open, ""
	if st != nil {
		id = st.id
	}
	s.mu.Unlock()
	if st == nil {
		return "", errs.E(errs.Unauthenticated, "unknown seat token")
	}
	if !open {
		return "", errs.E(errs.Forbidden, "this private show has ended")
	}
	if c, ok := s.c2c.get(id); !ok || c.stopped {
		return "", errs.E(errs.Forbidden, "cam2cam is not part of this private show")
	}
	return Cam2camRoom(id), nil
}

// admitCam2cam is AdmitViewer for a camera room: only the model's bearer of
// an open seat with cam2cam. Every other one (none, the seat's own token,
// another seat's, a forged one) is the same Forbidden.
func (s *Service) admitCam2cam(seatID, token string) (stream.Admit, error) {
	refused := errs.E(errs.Forbidden, "only the model sees a viewer's camera")
	c, ok := s.c2c.get(seatID)
	if !ok || c.stopped || token == "" || subtle.ConstantTimeCompare([]byte(c.modelToken), []byte(token)) != 1 {
		return stream.Admit{}, refused
	}
	s.mu.Lock()
	st := s.seats[seatID]
	open := st != nil && st.open
	s.mu.Unlock()
	if !open {
		return stream.Admit{}, refused
	}
	// The admit names the room, not the seat: the SFU keys a seat's viewer
	// by it, and the model's player must neither replace the viewer's own
	// (seat) session nor look like a seat to billing.
	return stream.Admit{SeatID: Cam2camRoom(seatID)}, nil
}

// Cam2cam is a seat's cam2cam as one of its parties sees it.
type Cam2cam struct {
	SeatID string
	// Granted: the seat's viewer may publish her camera (WHIP to /whip with
	// her seat token as bearer); false when not granted or stopped.
	Granted bool
	// SurchargePerMinute is the part of the seat's locked rate that pays
	// for cam2cam (zero when free).
	SurchargePerMinute money.Money
	// Room is the WHEP show id of the viewer's camera.
	Room string
	// ModelToken is the model's WHEP bearer for Room; only she is given it.
	ModelToken string
}

// Cam2cam is the seat's cam2cam for its viewer or its model; ok is false
// when the seat has none. Anyone else is told there is no such seat.
func (s *Service) Cam2cam(_ context.Context, actorID, seatID string) (Cam2cam, bool, error) {
	s.mu.Lock()
	st := s.seats[seatID]
	party := st != nil && st.open && (actorID == st.viewer || actorID == st.model)
	isModel := st != nil && actorID == st.model
	s.mu.Unlock()
	if !party {
		return Cam2cam{}, false, errs.E(errs.NotFound, "no such seat in progress")
	}
	c, ok := s.c2c.get(seatID)
	if !ok {
		return Cam2cam{SeatID: seatID}, false, nil
	}
	out := Cam2cam{SeatID: seatID, Granted: !c.stopped, SurchargePerMinute: c.surcharge, Room: Cam2camRoom(seatID)}
	if isModel && !c.stopped {
		out.ModelToken = c.modelToken
	}
	return out, true, nil
}

// Cam2camOfModel is the cam2cam of the model's open seat, for her dashboard.
func (s *Service) Cam2camOfModel(ctx context.Context, modelID string) (Cam2cam, bool, error) {
	s.mu.Lock()
	id := ""
	for _, st := range s.seats {
		if st.model == modelID && st.open {
			id = st.id
			break
		}
	}
	s.mu.Unlock()
	if id == "" {
		return Cam2cam{}, false, nil
	}
	return s.Cam2cam(ctx, modelID, id)
}

// RefuseCam2cam is the model stopping the viewer's camera for the rest of
// the seat: her player and the viewer's publisher are cut and a new publish
// is refused. The seat's price stays as it was locked when it opened.
func (s *Service) RefuseCam2cam(_ context.Context, modelID, seatID string) error {
	s.mu.Lock()
	st := s.seats[seatID]
	ok := st != nil && st.open && st.model == modelID
	s.mu.Unlock()
	if !ok {
		return errs.E(errs.NotFound, "no such seat in progress")
	}
	s.c2c.mu.Lock()
	c := s.c2c.m[seatID]
	if c != nil {
		c.stopped = true
	}
	s.c2c.mu.Unlock()
	if c == nil {
		return errs.E(errs.Conflict, "this seat has no cam2cam")
	}
	if s.media != nil {
		s.media.EndShow(Cam2camRoom(seatID))
	}
	return nil
}
