// Package clocktest provides a fake clock.Clock that only moves when a test
// moves it, and fires timers deterministically: in deadline order, ties in the
// order they were armed, with Now() equal to each timer's deadline while it
// fires.
package clocktest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/camkit/camkit/core/clock"
)

// Fake is a clock.Clock advanced by hand. It is safe for concurrent use, so
// code under test may arm timers from its own goroutines while the test
// advances the clock (use BlockUntil to wait for them to be armed).
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	seq     uint64
	pending []*fakeTimer
	// changed is closed (and replaced) whenever a timer is armed, so
	// BlockUntil can wait without polling.
	changed chan struct{}
}

var (
	_ clock.Clock  = (*Fake)(nil)
	_ clock.Timer  = (*fakeTimer)(nil)
	_ clock.Ticker = (*fakeTicker)(nil)
)

// NewFake returns a fake clock reading start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer arms a timer due d from now. A timer with d <= 0 fires on the next
// Advance (even Advance(0)), never on its own: nothing happens between calls.
func (f *Fake) NewTimer(d time.Duration) clock.Timer {
	t := &fakeTimer{clk: f, ch: make(chan time.Time, 1)}
	f.arm(t, d)
	return t
}

// AfterFunc arms a timer that calls fn inside Advance, in the advancing
// goroutine, with no lock held: fn may read Now and arm further timers, and
// those fire within the same Advance when they fall due before its end.
func (f *Fake) AfterFunc(d time.Duration, fn func()) clock.Timer {
	t := &fakeTimer{clk: f, fn: fn}
	f.arm(t, d)
	return t
}

// NewTicker arms a ticker firing every d. It panics when d <= 0, like
// time.NewTicker.
func (f *Fake) NewTicker(d time.Duration) clock.Ticker {
	if d <= 0 {
		panic("clocktest: non-positive interval for NewTicker")
	}
	t := &fakeTimer{clk: f, ch: make(chan time.Time, 1), period: d}
	f.arm(t, d)
	return &fakeTicker{t: t}
}

// Advance moves the clock forward by d, firing every timer that falls due on
// the way. It panics on a negative d: the fake clock never goes backwards.
func (f *Fake) Advance(d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("clocktest: Advance(%v): the clock never goes backwards", d))
	}
	f.AdvanceTo(f.Now().Add(d))
}

// AdvanceTo moves the clock forward to target, firing every timer due at or
// before it. A target before Now panics.
func (f *Fake) AdvanceTo(target time.Time) {
	for {
		f.mu.Lock()
		if target.Before(f.now) {
			now := f.now
			f.mu.Unlock()
			panic(fmt.Sprintf("clocktest: AdvanceTo(%v) is before Now (%v)", target, now))
		}
		t := f.nextDueLocked(target)
		if t == nil {
			f.now = target
			f.mu.Unlock()
			return
		}
		f.removeLocked(t)
		if t.deadline.After(f.now) {
			f.now = t.deadline
		}
		firedAt := f.now
		if t.period > 0 {
			f.scheduleLocked(t, t.deadline.Add(t.period))
		}
		fn, ch := t.fn, t.ch
		f.mu.Unlock()
		if fn != nil {
			fn()
			continue
		}
		select { // a slow reader misses a tick, as with the runtime's timers
		case ch <- firedAt:
		default:
		}
	}
}

// Pending reports how many timers and tickers are armed.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// BlockUntil waits until at least n timers or tickers are armed, or ctx ends.
// Tests use it before Advance when the code under test arms its timers in
// another goroutine.
func (f *Fake) BlockUntil(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		if len(f.pending) >= n {
			f.mu.Unlock()
			return nil
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("clocktest: waiting for %d armed timers, have %d: %w", n, f.Pending(), ctx.Err())
		}
	}
}

func (f *Fake) arm(t *fakeTimer, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scheduleLocked(t, f.now.Add(d))
}

func (f *Fake) scheduleLocked(t *fakeTimer, at time.Time) {
	f.seq++
	t.deadline, t.seq = at, f.seq
	f.pending = append(f.pending, t)
	close(f.changed)
	f.changed = make(chan struct{})
}

// nextDueLocked returns the earliest timer due at or before limit. A linear
// scan is fine: a test arms a handful of timers.
func (f *Fake) nextDueLocked(limit time.Time) *fakeTimer {
	var best *fakeTimer
	for _, t := range f.pending {
		if t.deadline.After(limit) {
			continue
		}
		if best == nil || t.deadline.Before(best.deadline) ||
			(t.deadline.Equal(best.deadline) && t.seq < best.seq) {
			best = t
		}
	}
	return best
}

func (f *Fake) removeLocked(t *fakeTimer) bool {
	for i, p := range f.pending {
		if p == t {
			f.pending = append(f.pending[:i], f.pending[i+1:]...)
			return true
		}
	}
	return false
}

type fakeTimer struct {
	clk      *Fake
	ch       chan time.Time // nil for AfterFunc
	fn       func()         // nil for channel timers
	period   time.Duration  // > 0 for tickers
	deadline time.Time
	seq      uint64
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := t.clk.removeLocked(t)
	t.drainLocked()
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := t.clk.removeLocked(t)
	t.drainLocked()
	t.clk.scheduleLocked(t, t.clk.now.Add(d))
	return was
}

// drainLocked drops a value sent but not yet received, so a stopped or reset
// timer never delivers a stale time (the Go 1.23 timer contract).
func (t *fakeTimer) drainLocked() {
	if t.ch == nil {
		return
	}
	select {
	case <-t.ch:
	default:
	}
}

type fakeTicker struct{ t *fakeTimer }

func (k *fakeTicker) C() <-chan time.Time { return k.t.ch }
func (k *fakeTicker) Stop()               { k.t.Stop() }

func (k *fakeTicker) Reset(d time.Duration) {
	if d <= 0 {
		panic("clocktest: non-positive interval for Ticker.Reset")
	}
	k.t.clk.mu.Lock()
	k.t.period = d
	k.t.clk.mu.Unlock()
	k.t.Reset(d)
}
