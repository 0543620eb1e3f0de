// Package stream is camkit's media plane: a pion SFU that ingests a model's
// stream over WHIP, plays it to viewers over WHEP, admits viewers per seat and
// reports liveness (is media really flowing?) to whoever meters it. It knows
// nothing of money, prices or billing: the host injects an Admission that
// answers "may this token watch?" and subscribes a LivenessSink to learn when
// media flows and when a viewer is really there.
package stream

import (
	"context"
	"net/netip"
	"time"
)

// Service is the SFU as the host sees it. Every error it returns is an
// *errs.Error, or wraps one and names its own HTTP status (TooManyViewersError,
// the ICE-restart refusal), so the HTTP adapter maps it through the host's one
// table without guessing.
//
// Sessions are capabilities (RFC 9725 section 4.3): a session's ID is an
// unguessable secret known only to its creator, and Patch and End also need
// the bearer that created the session: the stream key for a publisher, the
// seat token for a paid viewer, and for a viewer who sent none the session
// token minted for it (Session.Token). Nothing the SFU tells anyone else
// (Watch, liveness events for the host) carries a session ID.
type Service interface {
	// Publish ingests a model's WHIP offer. The stream key is resolved to a
	// show by the Admission; a second publish to the same show replaces the
	// first (an encoder reconnecting without a DELETE must not be locked out).
	Publish(ctx context.Context, streamKey, offerSDP string) (Session, error)
	// Subscribe plays a show to a viewer (WHEP). A viewer may subscribe before
	// the model publishes: media starts when it arrives. Viewers without a
	// seat are refused with a *TooManyViewersError over the configured caps.
	Subscribe(ctx context.Context, req SubscribeRequest) (Session, error)
	// Patch applies a trickle-ICE sdpfrag (RFC 8840) to a session. An ICE
	// restart is refused with errs.Unsupported and HTTP status 422 (RFC 9725).
	// bearer must be the session's: errs.Unauthenticated when empty,
	// errs.Forbidden when it is another; the session is untouched either way.
	Patch(ctx context.Context, sessionID, bearer string, sdpFrag []byte) ([]byte, error)
	// End closes a session (the DELETE on its Location), with the same bearer
	// rule as Patch.
	End(ctx context.Context, sessionID, bearer string) error
	// EndSeat cuts the viewer holding a seat; its media stops at once.
	EndSeat(seatID string)
	// SetMode records a show's mode. Turning private or group cuts every
	// viewer without a seat and tells them why through Watch.
	SetMode(showID string, mode Mode)
	// EndShow closes the show's publisher and every viewer.
	EndShow(showID string)
	// EndPublisher closes the show's publisher as its DELETE would (its
	// watcher is told "closed"); viewers stay, waiting for the next one.
	EndPublisher(showID string)
	// PublisherActive reports whether the show has a publisher whose media
	// is really flowing: RTP within Config.PublisherStall and a connection
	// not disconnected, failed or closed. An Admission asks it before
	// refusing a second publisher, so an encoder whose connection dropped is
	// let back in at once.
	PublisherActive(showID string) bool
	// Watch streams a show's public events (mode changes, live/paused) for
	// pages, and the events of the one session whose Session.WatchID is
	// watchID (it ended, and why); "" watches the public events only. stop
	// releases the subscription.
	Watch(showID, watchID string) (events <-chan ShowEvent, stop func())
}

// SubscribeRequest is a viewer's WHEP offer.
type SubscribeRequest struct {
	ShowID string
	// Token is the seat token the viewer sent as bearer; "" for a public viewer.
	Token    string
	OfferSDP string
	// Client is the viewer's address (clientaddr.Of), for the per-client cap.
	// The zero value is not counted per client.
	Client netip.Addr
}

// Admission is injected by the host: it owns stream keys, shows and seats.
type Admission interface {
	// ResolveStreamKey returns the show a stream key publishes to, or
	// errs.Unauthenticated / errs.Forbidden.
	ResolveStreamKey(ctx context.Context, streamKey string) (showID string, err error)
	// AdmitViewer decides whether the holder of token may watch showID now:
	// errs.NotFound for an unknown show, errs.Unauthenticated for an unknown
	// or expired token, errs.Forbidden for a token of another show or a
	// public visitor of a private show.
	AdmitViewer(ctx context.Context, showID, token string) (Admit, error)
}

// Admit is the Admission's yes. SeatID is empty for a public viewer.
type Admit struct {
	SeatID string
}

// LivenessSink receives liveness events in order, one at a time, from a
// single goroutine. It must not block for long: it delays later events.
type LivenessSink interface {
	Liveness(ev LivenessEvent)
}

// Mode is a show's mode as far as admission of public viewers goes.
type Mode string

const (
	ModePublic  Mode = "public"
	ModePrivate Mode = "private"
	ModeGroup   Mode = "group"
)

// Session is the answer to a WHIP or WHEP offer.
type Session struct {
	// ID names the session URL. It is a secret of its creator (at least 128
	// random bits): never show it to anyone else, never put it in a page.
	ID string
	// WatchID is a public handle of the session, distinct from ID: Watch with
	// it delivers this session's own events. It grants nothing else, so it
	// may travel in a query string.
	WatchID string
	// Token is the bearer Patch and End need, minted for a session whose
	// creator sent none (a public viewer); empty otherwise, since the creator
	// already holds its bearer (stream key, seat token).
	Token     string
	ShowID    string
	SeatID    string // WHEP only; empty for a public viewer
	AnswerSDP string
	// ETag identifies the ICE session, for If-Match on PATCH (RFC 9725).
	ETag string
}

// LivenessEvent is one of ModelMediaFlowing, ModelMediaStopped,
// ViewerConnected, ViewerDisconnected.
type LivenessEvent interface{ isLivenessEvent() }

// ModelMediaFlowing: RTP from the model started arriving at Since.
type ModelMediaFlowing struct {
	ShowID    string
	SessionID string
	Since     time.Time
}

// ModelMediaStopped: no RTP since LastPacketAt (backdated: the meter must not
// bill the media timeout).
type ModelMediaStopped struct {
	ShowID       string
	SessionID    string
	LastPacketAt time.Time
	Reason       string
}

// ViewerConnected: the viewer is there and sees the model since At. The first
// one of a session waits for both its PeerConnection to connect and the first
// video keyframe to be written to its transport, and At is the later of the
// two (in practice the keyframe); a viewer coming back after a
// ViewerDisconnected is there again at its connection's next evidence.
type ViewerConnected struct {
	ShowID       string
	SeatID       string
	SubscriberID string
	At           time.Time
}

// ViewerDisconnected: the last evidence the viewer was there (its last RTCP,
// or its connection state) was at LastEvidenceAt.
type ViewerDisconnected struct {
	ShowID         string
	SeatID         string
	SubscriberID   string
	LastEvidenceAt time.Time
	Reason         string
}

func (ModelMediaFlowing) isLivenessEvent()  {}
func (ModelMediaStopped) isLivenessEvent()  {}
func (ViewerConnected) isLivenessEvent()    {}
func (ViewerDisconnected) isLivenessEvent() {}

// ShowEventType names what a page may be told about a show.
type ShowEventType string

const (
	EventMode   ShowEventType = "mode"   // the show's mode changed
	EventLive   ShowEventType = "live"   // the model's media is flowing
	EventPaused ShowEventType = "paused" // the model's media stopped
	EventEnded  ShowEventType = "ended"  // the watching session ended; only its own watcher is told
)

// Reasons a session ends, as told to pages.
const (
	ReasonClosed      = "closed"       // DELETE or End
	ReasonSeatEnded   = "seat_ended"   // EndSeat
	ReasonShowPrivate = "show_private" // a public viewer cut by SetMode
	ReasonShowEnded   = "show_ended"   // EndShow
	ReasonReplaced    = "replaced"     // the same seat or show connected again
	ReasonFailed      = "failed"       // the PeerConnection failed
	ReasonTimeout     = "timeout"      // no evidence within the timeout
	ReasonShutdown    = "shutdown"     // the SFU closed
)

// ShowEvent is what Watch delivers and the SSE endpoint relays to anyone who
// asks. It names no session, seat or viewer: the feed is public.
type ShowEvent struct {
	Type   ShowEventType `json:"type"`
	ShowID string        `json:"show"`
	Mode   Mode          `json:"mode,omitempty"`
	Reason string        `json:"reason,omitempty"`
	At     time.Time     `json:"at"`
}
