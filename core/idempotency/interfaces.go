package idempotency

import (
	"context"
	"time"
)

// Store keeps one record per (user, key): the claim of the request that runs
// under it, then that request's final answer. Every method is safe for
// concurrent use by several hosts on one database. *SQLStore is the
// implementation.
type Store interface {
	// Begin claims the key for the request c describes, or says why not:
	// Acquired (the caller runs the request, then calls Complete or Release
	// with the outcome's Token), Done (replay Response), InFlight (another
	// holder runs it now) or Mismatch (the key was used for another request).
	// An expired record counts as absent; a running claim whose lease ended
	// is taken over.
	Begin(ctx context.Context, c Claim) (Outcome, error)
	// Complete keeps the final answer of the claim token holds; it is
	// replayed until now + ttl. A claim taken over meanwhile is left alone.
	Complete(ctx context.Context, userID, key, token string, r Response, now time.Time, ttl time.Duration) error
	// Release forgets the claim token holds: the answer was not final, and
	// a retry runs the request again.
	Release(ctx context.Context, userID, key, token string) error
	// Expire deletes the records that expired before now and returns how many.
	Expire(ctx context.Context, now time.Time) (int64, error)
}

// Claim is a request asking for its key.
type Claim struct {
	UserID      string
	Key         string // the effective key: h:…, f:… or k:…
	Fingerprint string // Fingerprint of the request
	Method      string
	Path        string
	Now         time.Time
	Lease       time.Duration // how long the claim holds without an answer before another may take it
	TTL         time.Duration // how long an unanswered record exists at all
}

// State is what Begin found.
type State int

const (
	Acquired State = iota + 1 // the key is the caller's: run the request
	Done                      // answered before: replay Outcome.Response
	InFlight                  // another request under the key runs now
	Mismatch                  // the key was used for a different request
)

func (s State) String() string {
	switch s {
	case Acquired:
		return "acquired"
	case Done:
		return "done"
	case InFlight:
		return "in flight"
	case Mismatch:
		return "mismatch"
	}
	return "unknown"
}

// Outcome is Begin's answer.
type Outcome struct {
	State    State
	Token    string    // Acquired: what Complete and Release need
	Response *Response // Done: the answer to replay
}

// Response is a kept answer: what a replay sends.
type Response struct {
	Status int
	// Header holds the replayed headers (Content-Type, Location, …), one
	// value each.
	Header map[string]string `json:"header,omitempty"`
	// Cookies are raw Set-Cookie values of the configured cookies (the
	// flash message a form's redirect sets).
	Cookies []string `json:"cookies,omitempty"`
	Body    []byte   `json:"-"`
}
