package stream

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/netip"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

// Sizes of the random values the SFU hands out, in bytes of crypto/rand.
const (
	sessionIDBytes    = 24 // 192 bits: the session URL (RFC 9725 asks for unguessable)
	sessionTokenBytes = 32 // 256 bits: a public viewer's minted bearer
	watchIDBytes      = 16 // 128 bits: the public watch handle (grants nothing, but not enumerable)
)

// secret returns n bytes of crypto/rand as URL-safe base64 without padding,
// so it fits a path segment, a header and a query string unescaped.
func secret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on supported platforms; a guessable
		// session URL would be worse than stopping.
		panic("stream: crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionAuth is what makes a session a capability: the digest of the bearer
// that created it, and its public watch handle. Only the digest is kept, so
// the comparison takes the same time whatever the bearer's length.
type sessionAuth struct {
	watchID string
	bearer  [sha256.Size]byte
}

// newSessionAuth keeps bearer's digest; with no bearer it mints a session
// token, returned so the creator (and only it) learns it.
func newSessionAuth(bearer string) (a sessionAuth, minted string) {
	if bearer == "" {
		minted = secret(sessionTokenBytes)
		bearer = minted
	}
	return sessionAuth{watchID: secret(watchIDBytes), bearer: sha256.Sum256([]byte(bearer))}, minted
}

// check answers whether bearer may act on the session, in constant time.
func (a *sessionAuth) check(bearer string) error {
	if bearer == "" {
		return errs.E(errs.Unauthenticated, "this session needs the bearer token that created it: Authorization: Bearer <stream key, seat token or session token>")
	}
	got := sha256.Sum256([]byte(bearer))
	if subtle.ConstantTimeCompare(got[:], a.bearer[:]) != 1 {
		return errs.E(errs.Forbidden, "this bearer token did not create this session")
	}
	return nil
}

// StatusError is an error of the vocabulary that a protocol gives an HTTP
// status of its own: RFC 9725 answers an ICE restart it does not support with
// 422, where the host's table says 501 for errs.Unsupported.
type StatusError struct {
	Err    *errs.Error
	Status int
}

func (e *StatusError) Error() string   { return e.Err.Error() }
func (e *StatusError) Unwrap() error   { return e.Err }
func (e *StatusError) HTTPStatus() int { return e.Status }

func errICERestart() error {
	return &StatusError{Err: errs.E(errs.Unsupported, "ICE restart is not supported: start a new session"), Status: http.StatusUnprocessableEntity}
}

// TooManyViewersError refuses a viewer over a cap (per client address or per
// show). The HTTP layer answers 429 Too Many Requests with Retry-After; it
// unwraps to a retryable errs.Limit for callers that only know the vocabulary.
type TooManyViewersError struct {
	Err *errs.Error
	// Scope is "client" or "show": which cap was reached.
	Scope string
	Max   int
	After time.Duration
}

func (e *TooManyViewersError) Error() string             { return e.Err.Error() }
func (e *TooManyViewersError) Unwrap() error             { return e.Err }
func (e *TooManyViewersError) RetryAfter() time.Duration { return e.After }
func (e *TooManyViewersError) HTTPStatus() int           { return http.StatusTooManyRequests }

// How long a refused viewer is asked to wait. A client's own slot frees the
// moment it ends a session (the player DELETEs on leaving); a full show frees
// one when any viewer leaves, which takes longer to be likely.
const (
	retryClientCap = 5 * time.Second
	retryShowCap   = 15 * time.Second
)

// clientKey is what the per-client cap counts by: an IPv4 address, or an
// IPv6 address's /64 (one subscriber line gets at least a /64 and can pick
// any address in it). ok is false for the zero address: not counted.
func clientKey(a netip.Addr) (key netip.Addr, ok bool) {
	if !a.IsValid() {
		return netip.Addr{}, false
	}
	a = a.Unmap()
	if a.Is4() {
		return a, true
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.Addr(), true
}

// viewerSlot is one WHEP session's place under the caps, held from before
// negotiation (so concurrent offers cannot all pass the check) until the
// session ends.
type viewerSlot struct {
	sfu       *SFU
	show      string
	client    netip.Addr
	hasClient bool
	released  bool // guarded by sfu.mu
}

// takeSlot counts a viewer of show from client, or refuses one without a seat
// over a cap. A seat's viewer is counted but never refused: one seat has one
// session at a time (a new one replaces it), and a paying viewer must not be
// locked out by free ones.
func (s *SFU) takeSlot(show string, client netip.Addr, seat bool) (*viewerSlot, error) {
	key, hasClient := clientKey(client)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !seat {
		if max := s.cfg.MaxViewersPerClient; max > 0 && hasClient && s.viewersByClient[key] >= max {
			return nil, &TooManyViewersError{Scope: "client", Max: max, After: retryClientCap,
				Err: errs.Retry(errs.Limit, "too many streams from your address (at most %d at once): close one and try again", max)}
		}
		if max := s.cfg.MaxViewersPerShow; max > 0 && s.viewersByShow[show] >= max {
			return nil, &TooManyViewersError{Scope: "show", Max: max, After: retryShowCap,
				Err: errs.Retry(errs.Limit, "this show is full (%d viewers): try again shortly", max)}
		}
	}
	s.viewersByShow[show]++
	if hasClient {
		s.viewersByClient[key]++
	}
	return &viewerSlot{sfu: s, show: show, client: key, hasClient: hasClient}, nil
}

// release gives the slot back; it is safe to call more than once.
func (v *viewerSlot) release() {
	if v == nil {
		return
	}
	v.sfu.mu.Lock()
	defer v.sfu.mu.Unlock()
	v.releaseLocked()
}

// releaseLocked is release with sfu.mu held.
func (v *viewerSlot) releaseLocked() {
	if v == nil || v.released {
		return
	}
	s := v.sfu
	v.released = true
	if s.viewersByShow[v.show]--; s.viewersByShow[v.show] <= 0 {
		delete(s.viewersByShow, v.show)
	}
	if v.hasClient {
		if s.viewersByClient[v.client]--; s.viewersByClient[v.client] <= 0 {
			delete(s.viewersByClient, v.client)
		}
	}
}
