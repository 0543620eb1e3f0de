package billing_test

import (
	"testing"
	"time"

	"github.com/camkit/camkit/core/meter"
)

// A seat's meter is written on every transition (within one flush interval)
// and at least every 5 s while nothing happens, so a crash loses at most
// that much of the viewer's favourable doubt.
func TestCheckpointsOnEveryTransitionAndAtLeastEveryFiveSeconds(t *testing.T) {
	v := newEnv(t)
	v.openCard("seat1", cardOK, stdPolicy())
	last := func() (seq, atMs int64) {
		t.Helper()
		must(t, v.db.SQL().QueryRowContext(v.ctx, `SELECT seq, checkpoint_at_ms FROM billing_checkpoints WHERE seat_id = 'seat1'`).Scan(&seq, &atMs))
		return
	}
	v.clk.Advance(6 * time.Second) // the open checkpoint, then one periodic write
	seq0, at0 := last()
	v.live("seat1", meter.ModelMediaFlowing, v.clk.Now())
	v.clk.Advance(250 * time.Millisecond) // one flush interval
	seq1, at1 := last()
	if seq1 != seq0+1 || at1 <= at0 {
		t.Fatalf("after a transition: seq %d -> %d, at %d -> %d", seq0, seq1, at0, at1)
	}
	v.clk.Advance(4 * time.Second) // no transition, not yet 5 s
	if seq, _ := last(); seq != seq1 {
		t.Fatalf("written again after 4 s without a transition (seq %d)", seq)
	}
	v.clk.Advance(1250 * time.Millisecond)
	seq2, at2 := last()
	if seq2 != seq1+1 || at2-at1 < 5000 || at2-at1 > 5250 {
		t.Fatalf("periodic write: seq %d -> %d, %d ms after the last", seq1, seq2, at2-at1)
	}
}
