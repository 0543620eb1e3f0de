// Package clock defines the host's one clock interface and its real
// implementation. Tests use clocktest.Fake instead.
package clock

import "time"

// Real returns the wall clock. Since Go 1.23 the runtime's timers drop stale
// values on Stop and Reset, which is the contract Timer promises.
func Real() Clock { return realClock{} }

type realClock struct{}

var (
	_ Clock  = realClock{}
	_ Timer  = (*realTimer)(nil)
	_ Ticker = (*realTicker)(nil)
)

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return &realTimer{t: time.NewTimer(d)} }

func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	return &realTimer{t: time.AfterFunc(d, f)}
}

func (realClock) NewTicker(d time.Duration) Ticker { return &realTicker{t: time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (r *realTimer) C() <-chan time.Time        { return r.t.C }
func (r *realTimer) Stop() bool                 { return r.t.Stop() }
func (r *realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

type realTicker struct{ t *time.Ticker }

func (r *realTicker) C() <-chan time.Time   { return r.t.C }
func (r *realTicker) Stop()                 { r.t.Stop() }
func (r *realTicker) Reset(d time.Duration) { r.t.Reset(d) }
