package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/store/storetest"
)

// Benchmarks on PostgreSQL with 16 concurrent clients, reporting transfers/s
// and per-call p50/p99 latency. Run:
//
//	go test -run '^$' -bench . -benchtime 5s ./core/ledger/
//
// On a machine shared with other work, compare figures taken at the same
// time (and note the load average): they move with the load.
const (
	benchClients = 16
	benchWallets = 10000
)

var benchRun atomic.Int64

type benchEnv struct {
	l      *ledger.Ledger
	prefix string
	seq    atomic.Int64
}

// newBenchEnv opens a fresh database with benchWallets funded wallets.
func newBenchEnv(b *testing.B) *benchEnv { return newBenchEnvWith(b, ledger.Options{}) }

func newBenchEnvWith(b *testing.B, opts ledger.Options) *benchEnv {
	b.Helper()
	db := storetest.Postgres(b)
	// CAMKIT_BENCH_POOL=n caps the connection pool (default: core/store's),
	// to compare pool sizes under the same 16 clients.
	if v := os.Getenv("CAMKIT_BENCH_POOL"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("CAMKIT_BENCH_POOL=%q: want a positive number", v)
		}
		db.SQL().SetMaxOpenConns(n)
		db.SQL().SetMaxIdleConns(n)
	}
	env := &benchEnv{l: ledger.New(db, opts), prefix: fmt.Sprintf("b%d-%d", time.Now().UnixNano(), benchRun.Add(1))}
	ctx := context.Background()
	for lo := 0; lo < benchWallets; lo += ledger.MaxBatch {
		var reqs []ledger.Request
		for i := lo; i < min(lo+ledger.MaxBatch, benchWallets); i++ {
			reqs = append(reqs, ledger.Request{Key: fmt.Sprintf("fund/%d", i), Debit: "processor:bench:clearing",
				Credit: fmt.Sprintf("viewer:%d:wallet", i), Amount: usd(1 << 40)})
		}
		if _, err := env.l.Batch(ctx, reqs); err != nil {
			b.Fatal(err)
		}
	}
	return env
}

func (e *benchEnv) key() string { return fmt.Sprintf("%s/%d", e.prefix, e.seq.Add(1)) }

// run drives op from benchClients goroutines and reports the metrics;
// perOp is how many transfers one op applies.
func run(b *testing.B, perOp int, op func(rng *rand.Rand) error) {
	b.Helper()
	var (
		mu   sync.Mutex
		lats []time.Duration
		seed atomic.Uint64
	)
	b.SetParallelism((benchClients + 1) / max(1, runtimeProcs()))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 7))
		var local []time.Duration
		for pb.Next() {
			t := time.Now()
			if err := op(rng); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(t))
		}
		mu.Lock()
		lats = append(lats, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lats) == 0 {
		return
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	b.ReportMetric(float64(len(lats)*perOp)/elapsed.Seconds(), "transfers/s")
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(0, "ns/op")
}

// Single transfers, one per database transaction: a wallet (limited, so
// row-locked) pays a model's earnings.
func BenchmarkSingleTransfer(b *testing.B) {
	env := newBenchEnv(b)
	ctx := context.Background()
	run(b, 1, func(rng *rand.Rand) error {
		_, err := env.l.Transfer(ctx, ledger.Request{Key: env.key(), Debit: fmt.Sprintf("viewer:%d:wallet", rng.IntN(benchWallets)),
			Credit: fmt.Sprintf("model:%d:earnings", rng.IntN(100)), Amount: usd(rng.Int64N(500) + 1)})
		return err
	})
}

// Linked batches of 100 transfers, each batch one transaction.
func BenchmarkLinkedBatch100(b *testing.B) {
	env := newBenchEnv(b)
	ctx := context.Background()
	run(b, 100, func(rng *rand.Rand) error {
		reqs := make([]ledger.Request, 100)
		for i := range reqs {
			reqs[i] = ledger.Request{Key: env.key(), Debit: fmt.Sprintf("viewer:%d:wallet", rng.IntN(benchWallets)),
				Credit: fmt.Sprintf("model:%d:earnings", rng.IntN(100)), Amount: usd(rng.Int64N(500) + 1)}
		}
		_, err := env.l.Batch(ctx, reqs)
		return err
	})
}

// Hot account: every transfer credits platform:revenue.
func BenchmarkHotAccount(b *testing.B) { hotAccount(b, newBenchEnv(b)) }

// The hot-account claim itself: the same workload on a ledger whose balances
// have one shard (every credit of platform:revenue waits for the previous
// one to commit) and on one with 32 (the default: concurrent credits take
// different rows and wait for nobody).
func BenchmarkHotAccountShards(b *testing.B) {
	for _, n := range []int{1, 32} {
		b.Run(fmt.Sprintf("shards=%d", n), func(b *testing.B) {
			hotAccount(b, newBenchEnvWith(b, ledger.Options{Shards: n}))
		})
	}
}

func hotAccount(b *testing.B, env *benchEnv) {
	ctx := context.Background()
	run(b, 1, func(rng *rand.Rand) error {
		_, err := env.l.Transfer(ctx, ledger.Request{Key: env.key(), Debit: fmt.Sprintf("viewer:%d:wallet", rng.IntN(benchWallets)),
			Credit: "platform:revenue", Amount: usd(rng.Int64N(500) + 1)})
		return err
	})
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
