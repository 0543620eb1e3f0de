package chat

import (
	"fmt"
	"sync"
	"time"

	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/sdk/errs"
)

// FloodLimit is a token bucket per user: Burst messages at once, then one
// more every Every. The default, 5 at once and one a second, is "5 messages
// in 5 seconds".
type FloodLimit struct {
	Burst int
	Every time.Duration
}

// DefaultFloodLimit is 5 messages per 5 seconds.
var DefaultFloodLimit = FloodLimit{Burst: 5, Every: time.Second}

// FloodError says a user sends too fast. It unwraps to errs.Limit; the HTTP
// layer answers 429 with Retry-After, the WebSocket an error frame.
type FloodError struct {
	Err   *errs.Error
	After time.Duration
}

func (e *FloodError) Error() string             { return e.Err.Error() }
func (e *FloodError) Unwrap() error             { return e.Err }
func (e *FloodError) RetryAfter() time.Duration { return e.After }
func (e *FloodError) HTTPStatus() int           { return 429 }

type flood struct {
	mu    sync.Mutex
	clk   clock.Clock
	limit FloodLimit
	users map[string]*tokens
	ops   int
}

type tokens struct {
	n  int
	at time.Time
}

func newFlood(clk clock.Clock, l FloodLimit) *flood {
	return &flood{clk: clk, limit: l, users: map[string]*tokens{}}
}

func (f *flood) refill(t *tokens, now time.Time) bool {
	if t.n < f.limit.Burst {
		if k := int(now.Sub(t.at) / f.limit.Every); k > 0 {
			t.n += k
			t.at = t.at.Add(time.Duration(k) * f.limit.Every)
		}
	}
	if t.n >= f.limit.Burst {
		t.n, t.at = f.limit.Burst, now
		return true
	}
	return false
}

// take spends one of user's tokens, or says how long to wait.
func (f *flood) take(user string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clk.Now()
	if f.ops++; f.ops%4096 == 0 {
		for k, t := range f.users {
			if f.refill(t, now) {
				delete(f.users, k)
			}
		}
	}
	t := f.users[user]
	if t == nil {
		t = &tokens{n: f.limit.Burst, at: now}
		f.users[user] = t
	}
	f.refill(t, now)
	if t.n <= 0 {
		wait := t.at.Add(f.limit.Every).Sub(now)
		secs := (wait + time.Second - 1) / time.Second
		return &FloodError{
			Err:   errs.Retry(errs.Limit, "you are sending messages too fast: wait %s", fmt.Sprintf("%ds", max(secs, 1))),
			After: wait,
		}
	}
	t.n--
	return nil
}
