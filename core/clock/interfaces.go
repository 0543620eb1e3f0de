package clock

import "time"

// Clock is the host's one source of time. Every package that needs "now" or a
// deadline takes a Clock instead of calling the time package, so tests can run
// hours of a show in microseconds with clocktest.Fake and get the same answer
// every run.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once, after d.
	NewTimer(d time.Duration) Timer
	// AfterFunc calls f in its own goroutine (real clock) or inside
	// Fake.Advance (fake clock) once d has passed. The returned Timer's C is nil.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTicker returns a ticker that sends the time on its channel every d
	// (d must be > 0). Ticks are dropped, not queued, when the reader is slow.
	NewTicker(d time.Duration) Ticker
}

// Timer is the part of *time.Timer that callers use, with C as a method so a
// fake can implement it.
type Timer interface {
	// C is the channel the time is sent on; nil for an AfterFunc timer.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was pending.
	// After Stop returns no stale value is left in C.
	Stop() bool
	// Reset re-arms the timer to fire after d; it reports whether it was
	// pending. After Reset returns no stale value is left in C.
	Reset(d time.Duration) bool
}

// Ticker is the part of *time.Ticker that callers use.
type Ticker interface {
	C() <-chan time.Time
	Stop()
	Reset(d time.Duration)
}
