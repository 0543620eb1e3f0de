package clock_test

import (
	"testing"
	"time"

	"github.com/camkit/camkit/core/clock"
)

func TestRealClockTimerFires(t *testing.T) {
	var c clock.Clock = clock.Real()
	before := c.Now()
	tm := c.NewTimer(time.Millisecond)
	select {
	case v := <-tm.C():
		if v.Before(before) {
			t.Fatalf("timer time %v before start %v", v, before)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("real timer never fired")
	}
	ran := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(ran) })
	select {
	case <-ran:
	case <-time.After(30 * time.Second):
		t.Fatal("real AfterFunc never ran")
	}
	if c.NewTimer(time.Hour).Stop() != true {
		t.Fatal("Stop of a pending real timer reported not pending")
	}
	tk := c.NewTicker(time.Millisecond)
	defer tk.Stop()
	select {
	case <-tk.C():
	case <-time.After(30 * time.Second):
		t.Fatal("real ticker never ticked")
	}
}
