package billing_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/sdk/errs"
)

// endAll ends seat n times at once and returns every answer.
func (v *env) endAll(seat string, n int) []billing.SeatEnd {
	v.t.Helper()
	out := make([]billing.SeatEnd, n)
	errsOut := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errsOut[i] = v.eng.EndSeat(v.ctx, seat, billing.ClosedByViewer)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errsOut {
		if err != nil {
			v.t.Fatalf("end %d: %v", i, err)
		}
	}
	return out
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}

// Issue 10, symptom 7: "a concurrent second end answers 409". Ends at the
// same time and one after the other all get the one receipt; the money
// moved once.
func TestEndSeat_ConcurrentAndRepeated_OneReceiptMoneyMovedOnce(t *testing.T) {
	v := newEnv(t)
	v.openCard("seat1", cardOK, stdPolicy())
	v.bothLive("seat1")
	v.clk.Advance(100 * time.Second)
	ends := v.endAll("seat1", 6)
	again, err := v.eng.EndSeat(v.ctx, "seat1", billing.ClosedByModel)
	must(t, err)
	ends = append(ends, again)
	want := asJSON(t, ends[0].Receipt)
	for i, e := range ends {
		if !e.Settled || e.Status.State != billing.SeatSettled {
			t.Fatalf("end %d: %+v, want settled", i, e.Status)
		}
		if got := asJSON(t, e.Receipt); got != want {
			t.Fatalf("end %d answered another receipt:\n%s\nwant\n%s", i, got, want)
		}
	}
	r := ends[0].Receipt
	v.assertReceiptCovers(r, 100, cents(200))
	if r.CloseReason != billing.ClosedByViewer {
		t.Fatalf("close reason %s", r.CloseReason)
	}
	if n := v.proc.count("capture"); n != 1 {
		t.Fatalf("%d captures, want 1", n)
	}
	if got := v.posted("platform:revenue", "USD") + v.posted("model:m1:earnings", "USD"); got != 200 {
		t.Fatalf("booked %d, want 200 once", got)
	}
	v.verifyLedger()
}

// The processor is down when the viewer ends the seat. The seat is closed
// at once (its meter stops: later time is not billed) and the end answers
// "settling" with the decision, without the processor's words; repeats
// answer the same and call nothing. Settlement completes by itself when the
// processor is back, and the next end gets the receipt.
func TestEndSeat_ProcessorDown_SettlingThenSettlesByItself(t *testing.T) {
	v := newEnv(t)
	info := v.openCard("seat1", cardOK, stdPolicy())
	t0 := info.OpenedAt
	v.bothLive("seat1")
	v.clk.Advance(100 * time.Second)
	down := errs.Retry(errs.Unavailable, `plugin processor-sandbox: rpc error: connection error: desc = "transport: Error while dialing: dial unix /tmp/plugin3141592: connect: no such file or directory"`)
	v.proc.failNext("capture", down)

	first := v.endAll("seat1", 3)
	again, err := v.eng.EndSeat(v.ctx, "seat1", billing.ClosedByViewer)
	must(t, err)
	ends := append(first, again)
	want := billing.SeatStatus{SeatID: "seat1", State: billing.SeatSettling, ClosedAt: t0.Add(100 * time.Second),
		CloseReason: billing.ClosedByViewer, BillableSeconds: 100, Price: cents(200), Funded: cents(600)}
	for i, e := range ends {
		if e.Settled || e.Status != want || e.RetryAfter <= 0 || e.RetryAfter > 2*time.Second {
			t.Fatalf("end %d: %+v retry after %v, want %+v within 2 s", i, e.Status, e.RetryAfter, want)
		}
	}
	if n := v.proc.count("capture"); n != 1 {
		t.Fatalf("%d capture attempts while down, want the first end's alone", n)
	}
	// Closed: liveness no longer reaches the meter.
	err = v.eng.Liveness("seat1", meter.Event{Kind: meter.ViewerDisconnected, At: v.clk.Now()})
	wantCode(t, err, errs.Conflict, "closed")
	if _, err := v.eng.Receipt(v.ctx, "seat1"); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("receipt while settling: %v", err)
	}

	v.clk.Advance(2 * time.Second) // the background retry; the processor is back
	r := v.receipt("seat1")
	v.assertReceiptCovers(r, 100, cents(200))
	if !r.ClosedAt.Equal(t0.Add(100*time.Second)) || r.Funded != cents(600) {
		t.Fatalf("receipt closed at t0+%v funded %v", r.ClosedAt.Sub(t0), r.Funded)
	}
	end, err := v.eng.EndSeat(v.ctx, "seat1", billing.ClosedByViewer)
	must(t, err)
	if !end.Settled || asJSON(t, end.Receipt) != asJSON(t, r) {
		t.Fatalf("end after settlement: %+v", end.Status)
	}
	if c := captureOf(t, r); c.State != "succeeded" || c.Amount != cents(200) {
		t.Fatalf("capture %+v", c)
	}
	if n := v.proc.count("capture"); n != 2 {
		t.Fatalf("%d capture calls, want the failed one and the retry", n)
	}
	v.assertHoldsClosed(r)
	if got := v.posted("platform:revenue", "USD") + v.posted("model:m1:earnings", "USD"); got != 200 {
		t.Fatalf("booked %d, want 200 once", got)
	}
	v.verifyLedger()
}

// A seat recovered after a crash whose settlement waits for the processor
// answers "settling" from the database, then its receipt once the
// background retry lands.
func TestEndSeat_RecoveredSeatWaitingForTheProcessor_SettlingThenReceipt(t *testing.T) {
	v := newEnv(t)
	v.openCard("seat1", cardOK, stdPolicy())
	v.bothLive("seat1")
	v.clk.Advance(60 * time.Second)
	must(t, v.eng.Checkpoint(v.ctx))
	v.restart()
	v.proc.failNext("capture", errDown)
	rep, err := v.eng.Recover(v.ctx)
	must(t, err)
	if rep.Closed != 1 || rep.Retry != 1 {
		t.Fatalf("recovery %+v", rep)
	}
	end, err := v.eng.EndSeat(v.ctx, "seat1", billing.ClosedByViewer)
	must(t, err)
	st := end.Status
	if end.Settled || st.State != billing.SeatSettling || st.CloseReason != billing.ClosedRecovered ||
		st.BillableSeconds < 55 || st.Price.Amount != 2*st.BillableSeconds || st.Funded != cents(600) || end.RetryAfter <= 0 {
		t.Fatalf("end of a recovered seat: %+v after %v", st, end.RetryAfter)
	}
	v.clk.Advance(2 * time.Second)
	end, err = v.eng.EndSeat(v.ctx, "seat1", billing.ClosedByViewer)
	must(t, err)
	if !end.Settled || end.Receipt.Price != st.Price || !end.Receipt.ClosedAt.Equal(st.ClosedAt) {
		t.Fatalf("after the retry: %+v, want the settling decision %+v", end.Status, st)
	}
	v.verifyLedger()
}
