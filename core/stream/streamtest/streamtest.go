// Package streamtest holds what tests and the load tool need to exercise
// core/stream for real: pion clients that publish synthetic VP8 + Opus and
// subscribe, a fake clock, an in-memory Admission and a liveness recorder.
package streamtest

import (
	"context"
	"sync"
	"time"

	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/sdk/errs"
)

// Admission is an in-memory stream.Admission: stream keys, shows with a
// mode, and seat tokens that can expire.
type Admission struct {
	mu     sync.Mutex
	keys   map[string]string // stream key -> show
	modes  map[string]stream.Mode
	tokens map[string]seatToken
}

type seatToken struct {
	show, seat string
	expired    bool
}

var _ stream.Admission = (*Admission)(nil)

func NewAdmission() *Admission {
	return &Admission{keys: map[string]string{}, modes: map[string]stream.Mode{}, tokens: map[string]seatToken{}}
}

// AddShow registers a public show published with key.
func (a *Admission) AddShow(showID, key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys[key] = showID
	a.modes[showID] = stream.ModePublic
}

func (a *Admission) SetMode(showID string, m stream.Mode) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.modes[showID] = m
}

// AddSeat issues a token for a seat of a show.
func (a *Admission) AddSeat(token, showID, seatID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tokens[token] = seatToken{show: showID, seat: seatID}
}

func (a *Admission) ExpireToken(token string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.tokens[token]
	t.expired = true
	a.tokens[token] = t
}

func (a *Admission) ResolveStreamKey(_ context.Context, key string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	show, ok := a.keys[key]
	if !ok {
		return "", errs.E(errs.Unauthenticated, "unknown stream key")
	}
	return show, nil
}

func (a *Admission) AdmitViewer(_ context.Context, showID, token string) (stream.Admit, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	mode, ok := a.modes[showID]
	if !ok {
		return stream.Admit{}, errs.E(errs.NotFound, "no show %q", showID)
	}
	if token == "" {
		if mode != stream.ModePublic {
			return stream.Admit{}, errs.E(errs.Forbidden, "show %s is %s: a seat token is required", showID, mode)
		}
		return stream.Admit{}, nil
	}
	t, ok := a.tokens[token]
	switch {
	case !ok:
		return stream.Admit{}, errs.E(errs.Unauthenticated, "unknown seat token")
	case t.expired:
		return stream.Admit{}, errs.E(errs.Unauthenticated, "seat token expired")
	case t.show != showID:
		return stream.Admit{}, errs.E(errs.Forbidden, "seat token is for another show")
	}
	return stream.Admit{SeatID: t.seat}, nil
}

// Recorder is a stream.LivenessSink that keeps every event.
type Recorder struct {
	mu     sync.Mutex
	events []stream.LivenessEvent
	wake   chan struct{}
}

var _ stream.LivenessSink = (*Recorder)(nil)

func NewRecorder() *Recorder { return &Recorder{wake: make(chan struct{}, 1)} }

func (r *Recorder) Liveness(ev stream.LivenessEvent) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Recorder) Events() []stream.LivenessEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]stream.LivenessEvent(nil), r.events...)
}

// Wait returns the first event (from the start) matching match, waiting up
// to timeout for it.
func (r *Recorder) Wait(timeout time.Duration, match func(stream.LivenessEvent) bool) (stream.LivenessEvent, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		for _, ev := range r.Events() {
			if match(ev) {
				return ev, true
			}
		}
		select {
		case <-r.wake:
		case <-deadline.C:
			return nil, false
		}
	}
}
