// Command billbench measures core/billing under load on this machine:
//
//   - meter: N concurrent open seats (wallet-funded, so opening needs no
//     processor) metered by one engine on the real clock, with liveness churn
//     and checkpoints batched to PostgreSQL; it reports checkpoint lag
//     percentiles and CPU and memory per seat.
//   - group: one group show (core/shows.Paid) with G paying seats, each
//     funded on its own (card holds on the sandbox plugin, or wallet), its
//     viewers churning and the model's media dropping once for everyone; it
//     reports checkpoint lag percentiles, then the model ends the show and it
//     reports how long until every seat is settled.
//   - settle: M card-hold seats on the sandbox processor plugin (or wallet
//     seats with -strategy wallet), then all ended at once by C workers; it
//     reports settlements per second and the CPU each settlement cost this
//     process, the plugin process and the PostgreSQL backends serving the
//     bench database (from /proc), which, unlike the rate, does not depend
//     on what else the shared machine is running.
//
// Each run creates a fresh database on the server given by -db (dropped at
// the end). Example:
//
//	go run ./cmd/billbench -mode meter -seats 20000 -duration 60s
//	go run ./cmd/billbench -mode settle -settle 2000 -workers 32 -sandbox bin/plugins/processor-sandbox
//	go run ./cmd/billbench -mode group -group 200 -duration 30s -sandbox bin/plugins/processor-sandbox
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
	_ "github.com/jackc/pgx/v5/stdlib"
)

func main() {
	mode := flag.String("mode", "meter", "meter, group or settle")
	admin := flag.String("db", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server to create the bench database on")
	seats := flag.Int("seats", 20000, "meter: concurrent open seats")
	dur := flag.Duration("duration", 60*time.Second, "meter: measured run time")
	flapEvery := flag.Duration("flap", 30*time.Second, "meter: mean time between one seat's viewer drops")
	nSettle := flag.Int("settle", 2000, "settle: seats to settle")
	nGroup := flag.Int("group", 200, "group: paying seats in the one group show")
	workers := flag.Int("workers", 32, "concurrent openers / settlers")
	sandbox := flag.String("sandbox", "bin/plugins/processor-sandbox", "settle: sandbox plugin binary")
	strategy := flag.String("strategy", "card_hold", "settle, group: card_hold (sandbox plugin) or wallet (ledger holds only)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run here")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	dbURL, drop := createDB(ctx, *admin)
	defer drop()
	db, err := store.Open(ctx, dbURL)
	check(err)
	defer db.Close()
	_, err = db.Migrate(ctx)
	check(err)
	switch *mode {
	case "meter":
		benchMeter(ctx, db, *seats, *dur, *flapEvery, *workers)
	case "settle":
		benchSettle(ctx, db, *nSettle, *workers, *sandbox, *strategy == "wallet")
	case "group":
		benchGroup(ctx, db, *nGroup, *dur, *flapEvery, *workers, *sandbox, *strategy == "wallet")
	default:
		check(fmt.Errorf("unknown -mode %q", *mode))
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "billbench:", err)
		os.Exit(1)
	}
}

func createDB(ctx context.Context, admin string) (string, func()) {
	adb, err := sql.Open("pgx", admin)
	check(err)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "camkit_billbench_" + hex.EncodeToString(b[:])
	_, err = adb.ExecContext(ctx, "CREATE DATABASE "+name)
	check(err)
	u, err := url.Parse(admin)
	check(err)
	u.Path = "/" + name
	return u.String(), func() {
		_, _ = adb.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		adb.Close()
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func parallel(n, workers int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func benchMeter(ctx context.Context, db *store.DB, n int, dur, flapEvery time.Duration, workers int) {
	clk := clock.Real()
	led := ledger.New(db, ledger.Options{Clock: clk})
	// Credits for every viewer, in batches.
	t := time.Now()
	for i := 0; i < n; i += ledger.MaxBatch {
		var reqs []ledger.Request
		for j := i; j < min(n, i+ledger.MaxBatch); j++ {
			reqs = append(reqs, ledger.Request{Key: fmt.Sprintf("topup/%d", j), Kind: ledger.Single, Debit: "processor:bench:clearing",
				Credit: fmt.Sprintf("viewer:v%d:wallet", j), Amount: money.Money{Amount: 100000, Currency: "USD"}})
		}
		_, err := led.Batch(ctx, reqs)
		check(err)
	}
	eng, err := billing.NewEngine(billing.Config{DB: db, Ledger: led, Clock: clk, Log: quiet()})
	check(err)
	heap0 := heapInUse()
	pol := pricing.DefaultPolicy(money.Money{Amount: 120, Currency: "USD"})
	pol.MaxPauseSeconds = 3600
	var fails atomic.Int64
	parallel(n, workers, func(i int) {
		id := fmt.Sprintf("b%d", i)
		if _, err := eng.OpenSeat(ctx, billing.OpenRequest{SeatID: id, ShowID: "show", Kind: split.KindGroup, ViewerID: fmt.Sprintf("v%d", i),
			ModelID: "m1", Policy: pol}); err != nil {
			fails.Add(1)
			return
		}
		now := clk.Now()
		_ = eng.Liveness(id, meter.Event{Kind: meter.ModelMediaFlowing, At: now})
		_ = eng.Liveness(id, meter.Event{Kind: meter.ViewerConnected, At: now})
	})
	fmt.Printf("opened %d seats (%d failed) in %v; engine meters %d\n", n, fails.Load(), time.Since(t).Round(time.Millisecond), eng.OpenSeats())
	time.Sleep(6 * time.Second) // let the opening burst's checkpoints drain
	eng.ResetCheckpointStats()
	heap1 := heapInUse()
	cpu0, wall0 := cpuTime(), time.Now()
	// Churn: each seat's viewer drops every flapEvery on average and comes
	// back 2 s later, its loss backdated 1 s.
	perTick := int(math.Ceil(float64(n) / flapEvery.Seconds() / 10))
	var events atomic.Int64
	stop := churn(&events, func(time.Time) int { return perTick }, func() string { return fmt.Sprintf("b%d", mrand.IntN(n)) },
		func(id string, at time.Time) error {
			return eng.Liveness(id, meter.Event{Kind: meter.ViewerDisconnected, At: at})
		},
		func(id string, at time.Time) error {
			return eng.Liveness(id, meter.Event{Kind: meter.ViewerConnected, At: at})
		})
	time.Sleep(dur)
	stop()
	cpu := cpuTime() - cpu0
	wall := time.Since(wall0)
	st := eng.CheckpointStats()
	fmt.Printf("metered %d seats for %v: %d liveness events (%.0f/s), %d checkpoint rows in %d flushes (%.0f rows/s)\n",
		eng.OpenSeats(), wall.Round(time.Millisecond), events.Load(), float64(events.Load())/wall.Seconds(), st.Rows, st.Flushes,
		float64(st.Rows)/wall.Seconds())
	fmt.Printf("checkpoint lag: p50 %v, p99 %v, max %v\n", st.LagP50.Round(time.Millisecond), st.LagP99.Round(time.Millisecond), st.Max.Round(time.Millisecond))
	fmt.Printf("host CPU: %.1f%% of one core = %.2f µs CPU per seat-second\n", 100*cpu.Seconds()/wall.Seconds(),
		float64(cpu.Microseconds())/float64(n)/wall.Seconds())
	fmt.Printf("memory: %.1f KiB heap per open seat (%.1f MiB for %d seats)\n", float64(heap1-heap0)/1024/float64(n),
		float64(heap1-heap0)/(1<<20), n)
	_ = eng.Close()
}

func benchSettle(ctx context.Context, db *store.DB, n, workers int, sandboxPath string, wallet bool) {
	clk := clock.Real()
	led := ledger.New(db, ledger.Options{Clock: clk})
	funding, procs, done := setupFunding(ctx, led, n, sandboxPath, wallet)
	defer done()
	eng, err := billing.NewEngine(billing.Config{DB: db, Ledger: led, Clock: clk, Log: quiet(), Processors: procs})
	check(err)
	pol := pricing.DefaultPolicy(money.Money{Amount: 120, Currency: "USD"})
	t := time.Now()
	var fails atomic.Int64
	parallel(n, workers, func(i int) {
		id := fmt.Sprintf("c%d", i)
		if _, err := eng.OpenSeat(ctx, billing.OpenRequest{SeatID: id, ShowID: "show", Kind: split.KindGroup, ViewerID: fmt.Sprintf("v%d", i),
			ModelID: "m1", Policy: pol, Funding: funding}); err != nil {
			fails.Add(1)
			return
		}
		now := clk.Now()
		_ = eng.Liveness(id, meter.Event{Kind: meter.ModelMediaFlowing, At: now})
		_ = eng.Liveness(id, meter.Event{Kind: meter.ViewerConnected, At: now})
	})
	fmt.Printf("opened %d seats (%d failed, wallet=%v) in %v\n", n, fails.Load(), wallet, time.Since(t).Round(time.Millisecond))
	time.Sleep(1500 * time.Millisecond) // every seat has a priced second
	var lats []time.Duration
	var mu sync.Mutex
	fails.Store(0)
	cpu0 := cpuOf(ctx, db)
	t = time.Now()
	parallel(n, workers, func(i int) {
		s := time.Now()
		if _, err := eng.EndSeat(ctx, fmt.Sprintf("c%d", i), billing.ClosedByViewer); err != nil {
			if fails.Add(1) == 1 {
				fmt.Fprintln(os.Stderr, "billbench: first failed settlement:", err)
			}
			return
		}
		mu.Lock()
		lats = append(lats, time.Since(s))
		mu.Unlock()
	})
	wall := time.Since(t)
	cpu1 := cpuOf(ctx, db)
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	p := func(q int) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[min(len(lats)-1, len(lats)*q/100)].Round(time.Millisecond)
	}
	fmt.Printf("settled %d seats (%d failed) in %v: %.0f settlements/s with %d workers; latency p50 %v p99 %v\n",
		len(lats), fails.Load(), wall.Round(time.Millisecond), float64(len(lats))/wall.Seconds(), workers, p(50), p(99))
	if k := len(lats); k > 0 {
		per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(k) }
		fmt.Printf("CPU per settlement: host %.0f µs, plugin %.0f µs, PostgreSQL backends %.0f µs\n",
			per(cpu1.host-cpu0.host), per(cpu1.plugins-cpu0.plugins), per(cpu1.backends.since(cpu0.backends)))
	}
	rep, err := led.Verify(ctx)
	check(err)
	fmt.Printf("ledger verify: %s\n", rep.Summary())
	_ = eng.Close()
}

// cpuSample is the CPU time used so far by this process, its plugin
// children and the database's backends serving this bench's database, so a
// phase's cost per operation is measured apart from whatever else the shared
// machine runs.
type cpuSample struct {
	host, plugins time.Duration
	backends      procTimes
}

type procTimes map[int]time.Duration

// since is the CPU the processes used after prev was taken (a backend that
// started meanwhile counts whole).
func (p procTimes) since(prev procTimes) time.Duration {
	var d time.Duration
	for pid, t := range p {
		d += t - prev[pid]
	}
	return d
}

func cpuOf(ctx context.Context, db *store.DB) cpuSample {
	s := cpuSample{host: cpuTime(), backends: procTimes{}}
	me := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, t, ok := procStat(pid); ok && ppid == me {
			s.plugins += t
		}
	}
	rows, err := db.SQL().QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return s
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			if _, t, ok := procStat(pid); ok {
				s.backends[pid] = t
			}
		}
	}
	return s
}

// procStat reads a process's parent and user+system CPU from /proc (Linux;
// elsewhere ok is false and the figure is left out).
func procStat(pid int) (ppid int, cpu time.Duration, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// The command name may hold spaces: fields are counted after its ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return ppid, time.Duration(ut+st) * time.Second / ticksPerSecond, true
}

func tokenise(ctx context.Context, p processor.Processor) *processor.StoredCredential {
	co, err := p.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "bench-card", CustomerRef: "bench", ReturnURL: "https://bench.invalid/r"})
	check(err)
	u, _ := url.Parse(co.URL)
	form := url.Values{"ref": {co.Reference}, "card_number": {"4242424242424242"}, "exp": {"12/40"}, "cvc": {"123"}}
	resp, err := p.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: u.Path, Body: []byte(form.Encode()),
		Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	check(err)
	back, _ := url.Parse(resp.Headers.Get("Location"))
	res, err := p.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "bench", Params: back.Query()})
	check(err)
	return res.Credential
}

// setupFunding is how n viewers (v0..v{n-1}) pay: a card on file with the
// sandbox processor plugin (launched here; done stops it), or wallet credits
// put on the ledger now.
func setupFunding(ctx context.Context, led *ledger.Ledger, n int, sandboxPath string, wallet bool) (billing.Funding, map[string]processor.Processor, func()) {
	if wallet {
		for i := 0; i < n; i += ledger.MaxBatch {
			var reqs []ledger.Request
			for j := i; j < min(n, i+ledger.MaxBatch); j++ {
				reqs = append(reqs, ledger.Request{Key: fmt.Sprintf("topup/%d", j), Kind: ledger.Single, Debit: "processor:bench:clearing",
					Credit: fmt.Sprintf("viewer:v%d:wallet", j), Amount: money.Money{Amount: 100000, Currency: "USD"}})
			}
			_, err := led.Batch(ctx, reqs)
			check(err)
		}
		return billing.Funding{}, nil, func() {}
	}
	host := pluginhost.NewHost(quiet(), nil)
	stateDir, err := os.MkdirTemp("/dev/shm", "billbench-")
	if err != nil {
		stateDir, err = os.MkdirTemp("", "billbench-")
		check(err)
	}
	done := func() { host.Close(); os.RemoveAll(stateDir) }
	abs, err := filepath.Abs(sandboxPath)
	check(err)
	in, err := host.Launch(ctx, pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: "sandbox", Path: abs,
		Settings: []byte(`{"state_file":"` + filepath.Join(stateDir, "sbx.json") + `","webhook_secret":"billbench-secret-0123456789"}`)})
	check(err)
	sbx := pluginhost.NewProcessor(in)
	return billing.Funding{Processor: "sandbox", Credential: tokenise(ctx, sbx)}, map[string]processor.Processor{"sandbox": sbx}, done
}

// churn drops viewers and brings them back until the returned stop is
// called: every 100 ms, drops(now) viewers picked by pick lose their
// connection (backdated 1 s) and those dropped 2 s before come back. Every
// event the meter took counts in events; an empty pick is skipped.
func churn(events *atomic.Int64, drops func(now time.Time) int, pick func() string, drop, back func(id string, at time.Time) error) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		type dropped struct {
			id string
			at time.Time
		}
		var pending []dropped
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			now := time.Now()
			for k := drops(now); k > 0; k-- {
				if id := pick(); id != "" && drop(id, now.Add(-time.Second)) == nil {
					pending = append(pending, dropped{id, now.Add(2 * time.Second)})
					events.Add(1)
				}
			}
			keep := pending[:0]
			for _, p := range pending {
				if now.Before(p.at) {
					keep = append(keep, p)
				} else if back(p.id, now) == nil {
					events.Add(1)
				}
			}
			pending = keep
		}
	}()
	return func() { close(done); wg.Wait() }
}
