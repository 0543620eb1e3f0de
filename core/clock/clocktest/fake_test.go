package clocktest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/camkit/camkit/core/clock/clocktest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestAdvanceFiresInDeadlineOrderTiesInArmOrder(t *testing.T) {
	f := clocktest.NewFake(t0)
	var got []string
	var at []time.Duration
	rec := func(name string) func() {
		return func() { got = append(got, name); at = append(at, f.Now().Sub(t0)) }
	}
	f.AfterFunc(3*time.Second, rec("c"))
	f.AfterFunc(time.Second, rec("a1"))
	f.AfterFunc(time.Second, rec("a2"))
	f.AfterFunc(2*time.Second, rec("b"))
	f.AfterFunc(10*time.Second, rec("late"))

	f.Advance(5 * time.Second)

	if want := []string{"a1", "a2", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
	if want := []time.Duration{time.Second, time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(at, want) {
		t.Fatalf("Now() while firing = %v, want each timer's deadline %v", at, want)
	}
	if got := f.Now(); !got.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("Now after Advance = %v", got)
	}
	if f.Pending() != 1 {
		t.Fatalf("Pending = %d, want 1 (the late timer)", f.Pending())
	}
}

func TestCallbackArmingATimerFiresWithinTheSameAdvance(t *testing.T) {
	f := clocktest.NewFake(t0)
	var fired []time.Duration
	f.AfterFunc(time.Second, func() {
		fired = append(fired, f.Now().Sub(t0))
		f.AfterFunc(time.Second, func() { fired = append(fired, f.Now().Sub(t0)) })
		f.AfterFunc(time.Hour, func() { fired = append(fired, f.Now().Sub(t0)) })
	})
	f.Advance(3 * time.Second)
	if want := []time.Duration{time.Second, 2 * time.Second}; !slices.Equal(fired, want) {
		t.Fatalf("fired at %v, want %v", fired, want)
	}
}

func TestChannelTimerStopAndResetLeaveNoStaleValue(t *testing.T) {
	f := clocktest.NewFake(t0)
	tm := f.NewTimer(time.Second)
	f.Advance(time.Second)
	// Fired but not received: Stop must report "not pending" and drop the value.
	if tm.Stop() {
		t.Fatal("Stop after firing reported a pending timer")
	}
	select {
	case v := <-tm.C():
		t.Fatalf("stale value %v after Stop", v)
	default:
	}

	if tm.Reset(2 * time.Second) {
		t.Fatal("Reset of a stopped timer reported pending")
	}
	f.Advance(time.Second)
	select {
	case v := <-tm.C():
		t.Fatalf("fired early at %v", v)
	default:
	}
	if !tm.Reset(time.Second) { // re-armed while pending
		t.Fatal("Reset of a pending timer reported not pending")
	}
	f.Advance(time.Second)
	select {
	case v := <-tm.C():
		if want := t0.Add(3 * time.Second); !v.Equal(want) {
			t.Fatalf("fired with %v, want %v", v, want)
		}
	default:
		t.Fatal("reset timer did not fire")
	}
}

func TestStoppedAfterFuncNeverRuns(t *testing.T) {
	f := clocktest.NewFake(t0)
	ran := false
	tm := f.AfterFunc(time.Second, func() { ran = true })
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer reported not pending")
	}
	f.Advance(time.Hour)
	if ran {
		t.Fatal("stopped AfterFunc ran")
	}
	if tm.C() != nil {
		t.Fatal("AfterFunc timer has a channel")
	}
}

func TestZeroDurationTimerFiresOnNextAdvance(t *testing.T) {
	f := clocktest.NewFake(t0)
	ran := 0
	f.AfterFunc(0, func() { ran++ })
	if ran != 0 {
		t.Fatal("fired before any Advance")
	}
	f.Advance(0)
	if ran != 1 {
		t.Fatalf("ran %d times, want 1", ran)
	}
}

func TestTickerTicksEveryPeriodAndDropsWhenUnread(t *testing.T) {
	f := clocktest.NewFake(t0)
	tk := f.NewTicker(5 * time.Second)
	var got []time.Duration
	for range 3 {
		f.Advance(5 * time.Second)
		got = append(got, (<-tk.C()).Sub(t0))
	}
	if want := []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second}; !slices.Equal(got, want) {
		t.Fatalf("ticks %v, want %v", got, want)
	}
	f.Advance(20 * time.Second) // four ticks, reader asleep: one is kept
	if v := <-tk.C(); !v.Equal(t0.Add(20 * time.Second)) {
		t.Fatalf("kept tick %v, want the first unread one at +20s", v.Sub(t0))
	}
	select {
	case v := <-tk.C():
		t.Fatalf("second queued tick %v", v)
	default:
	}
	tk.Reset(time.Second)
	f.Advance(time.Second)
	if v := <-tk.C(); !v.Equal(t0.Add(36 * time.Second)) {
		t.Fatalf("tick after Reset at %v, want +36s", v.Sub(t0))
	}
	tk.Stop()
	f.Advance(time.Hour)
	select {
	case v := <-tk.C():
		t.Fatalf("tick %v after Stop", v)
	default:
	}
	if f.Pending() != 0 {
		t.Fatalf("Pending = %d after Stop", f.Pending())
	}
}

func TestBlockUntilWaitsForAnotherGoroutineToArm(t *testing.T) {
	f := clocktest.NewFake(t0)
	done := make(chan time.Time)
	go func() {
		tm := f.NewTimer(time.Minute)
		done <- <-tm.C()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	f.Advance(time.Minute)
	if v := <-done; !v.Equal(t0.Add(time.Minute)) {
		t.Fatalf("got %v", v)
	}
}

func TestBlockUntilHonoursContext(t *testing.T) {
	f := clocktest.NewFake(t0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.BlockUntil(ctx, 1); err == nil {
		t.Fatal("BlockUntil with no timers and a cancelled context returned nil")
	}
}

func TestClockNeverGoesBackwards(t *testing.T) {
	f := clocktest.NewFake(t0)
	for name, fn := range map[string]func(){
		"Advance(-1)":   func() { f.Advance(-1) },
		"AdvanceTo(<)":  func() { f.AdvanceTo(t0.Add(-time.Second)) },
		"NewTicker(0)":  func() { f.NewTicker(0) },
		"Ticker.Reset0": func() { f.NewTicker(time.Second).Reset(0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			fn()
		}()
	}
	if !f.Now().Equal(t0) {
		t.Fatalf("Now moved to %v", f.Now())
	}
}
