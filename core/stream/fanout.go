package stream

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// serialFanout is the audience size below which one goroutine writes to
// every viewer: handing off costs more than it saves.
const serialFanout = 24

// fanoutPool spreads one packet's writes (SRTP encryption and a sendto per
// viewer) over the cores, as LiveKit does, so one show is not capped by
// one core.
type fanoutPool struct {
	workers int
	jobs    chan fanJob
	wg      sync.WaitGroup
}

type fanJob struct {
	downs []*downTrack
	p     *fwdPacket
	res   *fanResult
}

type fanResult struct {
	wg      sync.WaitGroup
	packets atomic.Int64
	bytes   atomic.Int64
	wantKey atomic.Bool
}

func newFanoutPool() *fanoutPool {
	f := &fanoutPool{workers: runtime.GOMAXPROCS(0), jobs: make(chan fanJob, 64)}
	for i := 0; i < f.workers; i++ {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for j := range f.jobs {
				writeAll(j.downs, j.p, j.res)
				j.res.wg.Done()
			}
		}()
	}
	return f
}

func (f *fanoutPool) close() {
	close(f.jobs)
	f.wg.Wait()
}

func writeAll(downs []*downTrack, p *fwdPacket, res *fanResult) {
	var pkts, bytes int64
	want := false
	for _, d := range downs {
		n, w := d.write(p)
		if n > 0 {
			pkts++
			bytes += int64(n)
		}
		want = want || w
	}
	res.packets.Add(pkts)
	res.bytes.Add(bytes)
	if want {
		res.wantKey.Store(true)
	}
}

// forward writes p to every down track and returns when all writes are
// done, so the caller may reuse p's buffer.
func (f *fanoutPool) forward(downs []*downTrack, p *fwdPacket) (int, int, bool) {
	var res fanResult
	if len(downs) <= serialFanout {
		writeAll(downs, p, &res)
		return int(res.packets.Load()), int(res.bytes.Load()), res.wantKey.Load()
	}
	chunks := f.workers + 1
	size := (len(downs) + chunks - 1) / chunks
	for i := size; i < len(downs); i += size {
		end := min(i+size, len(downs))
		res.wg.Add(1)
		f.jobs <- fanJob{downs: downs[i:end], p: p, res: &res}
	}
	writeAll(downs[:size], p, &res)
	res.wg.Wait()
	return int(res.packets.Load()), int(res.bytes.Load()), res.wantKey.Load()
}
