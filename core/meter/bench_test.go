package meter_test

import (
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/camkit/camkit/core/meter"
)

const seats = 20_000

// BenchmarkApplyFlap is the per-event cost on one seat whose viewer drops and
// comes back every second: each op is one event, and every second op closes
// an interval (so appends are included, amortised).
func BenchmarkApplyFlap(b *testing.B) {
	m := liveAtB(b, t0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		at := t0.Add(time.Duration(i+1) * time.Second)
		var err error
		if i%2 == 0 {
			err = m.ViewerDisconnected(at)
		} else {
			err = m.ViewerConnected(at)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApply20kSeats feeds events round-robin to 20,000 live seats, as a
// host metering that many at once would: each op is one event on the next
// seat, so caches are cold as they would be in production.
func BenchmarkApply20kSeats(b *testing.B) {
	ms := make([]*meter.Meter, seats)
	for i := range ms {
		ms[i] = liveAtB(b, t0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		seat, round := i%seats, i/seats
		at := t0.Add(time.Duration(round+1) * time.Second)
		var err error
		if round%2 == 0 {
			err = ms[seat].ModelMediaStopped(at)
		} else {
			err = ms[seat].ModelMediaFlowing(at)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckpoint is the CPU side of one checkpoint: Snapshot plus JSON
// for a seat with 10 intervals (the database write is billing's).
func BenchmarkCheckpoint(b *testing.B) {
	m := seatWithIntervals(b, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := json.Marshal(m.Snapshot(t0.Add(time.Hour))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryPerSeat reports the heap held by 20,000 live meters with 10
// closed intervals each (a show with a few drops), as bytes/seat.
func BenchmarkMemoryPerSeat(b *testing.B) {
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ms := make([]*meter.Meter, seats)
		for i := range ms {
			ms[i] = seatWithIntervals(b, 10)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/seats, "bytes/seat")
		runtime.KeepAlive(ms)
	}
}

func liveAtB(b *testing.B, at time.Time) *meter.Meter {
	m := meter.New()
	for _, e := range []meter.Event{{meter.SeatOpened, at}, {meter.ModelMediaFlowing, at}, {meter.ViewerConnected, at}} {
		if err := m.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

func seatWithIntervals(b *testing.B, n int) *meter.Meter {
	m := liveAtB(b, t0)
	for k := range n {
		base := t0.Add(time.Duration(k*60+30) * time.Second)
		if m.ViewerDisconnected(base) != nil || m.ViewerConnected(base.Add(5*time.Second)) != nil {
			b.Fatal("flap refused")
		}
	}
	return m
}
