package chat_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camkit/camkit/core/chat"
	fws "github.com/fasthttp/websocket"
)

// BenchmarkRoomFanout1000 measures one room with 1,000 WebSocket clients on
// loopback: each op is one chat message sent by a client over its socket,
// stored, and delivered to all 1,000 readers. It reports the p50/p99/max of
// the send-to-receive latency over every delivery.
//
//	go test ./core/chat/ -run '^$' -bench RoomFanout1000 -benchtime 200x
func BenchmarkRoomFanout1000(b *testing.B) {
	const readers = 1000
	// The flood limit is lifted for the one sender: the benchmark measures
	// fan-out, not the limiter.
	e := newEnv(b, nil, chat.Options{Flood: chat.FloodLimit{Burst: 1 << 30, Every: time.Second}})
	var (
		startNS  atomic.Int64
		got      sync.WaitGroup
		mu       sync.Mutex
		lat      = make([]time.Duration, 0, readers*b.N)
		marker   = []byte(`"type":"message"`)
		conns    []*fws.Conn
		ready    sync.WaitGroup
		stopping atomic.Bool
	)
	dialer := &fws.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 256}
	for i := 0; i < readers; i++ {
		c, _, err := dialer.Dial(e.url+"show-1", nil)
		if err != nil {
			b.Fatalf("dial reader %d: %v", i, err)
		}
		conns = append(conns, c)
		ready.Add(1)
		go func(c *fws.Conn) {
			local := make([]time.Duration, 0, b.N)
			defer func() {
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
				ready.Done()
			}()
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					if !stopping.Load() {
						b.Errorf("reader: %v", err)
					}
					return
				}
				if bytes.Contains(msg, marker) {
					local = append(local, time.Duration(time.Now().UnixNano()-startNS.Load()))
					got.Done()
				}
			}
		}(c)
	}
	h := http.Header{}
	h.Set("X-Test-User", "ben")
	sender, _, err := dialer.Dial(e.url+"show-1", h)
	if err != nil {
		b.Fatal(err)
	}
	defer sender.Close()
	go func() { // the sender's own frames (hello, its echo) are drained, not measured
		for {
			if _, _, err := sender.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for e.svc.Viewers("show-1") < readers+1 {
		time.Sleep(10 * time.Millisecond)
	}

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got.Add(readers)
		startNS.Store(time.Now().UnixNano())
		if err := sender.WriteMessage(fws.TextMessage, []byte(fmt.Sprintf(`{"type":"message","text":"bench %d"}`, i))); err != nil {
			b.Fatal(err)
		}
		got.Wait()
	}
	b.StopTimer()
	stopping.Store(true)
	for _, c := range conns {
		c.Close()
	}
	ready.Wait()
	if len(lat) != readers*b.N {
		b.Fatalf("%d deliveries, want %d", len(lat), readers*b.N)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}
