package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/sdk/errs"
)

// 32 goroutines x 500 random transfers among 20 limited wallets (plus money
// coming in from a processor and going out to revenue): no lost update, no
// overdraft, Verify clean, and the wallets hold exactly what came in minus
// what went out.
func TestConcurrentTransfersAmongLimitedWallets(t *testing.T) {
	const (
		workers   = 32
		perWorker = 500
		wallets   = 20
		initial   = 1000
	)
	ctx := context.Background()
	db := storetest.Postgres(t)
	l := ledger.New(db, ledger.Options{})
	wallet := func(i int) string { return fmt.Sprintf("viewer:%d:wallet", i) }
	for i := range wallets {
		if _, err := l.Transfer(ctx, ledger.Request{Key: fmt.Sprintf("init/%d", i), Debit: "processor:cc:clearing",
			Credit: wallet(i), Amount: usd(initial)}); err != nil {
			t.Fatal(err)
		}
	}
	var in, out, ok, refused atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := range perWorker {
				amt := rng.Int64N(200) + 1
				r := ledger.Request{Key: fmt.Sprintf("w%d/%d", w, i), Amount: usd(amt)}
				switch x := rng.IntN(10); {
				case x < 6:
					a, b := rng.IntN(wallets), rng.IntN(wallets-1)
					if b >= a {
						b++
					}
					r.Debit, r.Credit = wallet(a), wallet(b)
				case x < 8:
					r.Debit, r.Credit = wallet(rng.IntN(wallets)), "platform:revenue"
				default:
					r.Debit, r.Credit = "processor:cc:clearing", wallet(rng.IntN(wallets))
				}
				_, err := l.Transfer(ctx, r)
				switch {
				case err == nil:
					ok.Add(1)
					if r.Credit == "platform:revenue" {
						out.Add(amt)
					}
					if r.Debit == "processor:cc:clearing" {
						in.Add(amt)
					}
				case errs.CodeOf(err) == errs.Limit:
					refused.Add(1)
				default:
					errc <- fmt.Errorf("transfer %s: %w", r.Key, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if ok.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("%d applied, %d refused: the load did not exercise both paths", ok.Load(), refused.Load())
	}
	var total int64
	for i := range wallets {
		b, err := l.Balance(ctx, wallet(i), "USD")
		if err != nil {
			t.Fatal(err)
		}
		if b.Available().Amount < 0 || b.Posted().Amount < 0 {
			t.Errorf("%s overdrawn: %+v", wallet(i), b)
		}
		total += b.Posted().Amount
	}
	if want := wallets*initial + in.Load() - out.Load(); total != want {
		t.Errorf("wallets hold %d, want %d (in %d, out %d)", total, want, in.Load(), out.Load())
	}
	rev, err := l.Balance(ctx, "platform:revenue", "USD")
	if err != nil || rev.Posted().Amount != out.Load() {
		t.Errorf("revenue %+v (%v), want %d", rev, err, out.Load())
	}
	var n int64
	if err := db.Gorm().Raw("SELECT COUNT(*) FROM ledger_transfers").Scan(&n).Error; err != nil || n != ok.Load()+wallets {
		t.Errorf("%d transfers stored, %d applied (%v)", n, ok.Load()+wallets, err)
	}
	rep, err := l.Verify(ctx)
	if err != nil || !rep.Clean() {
		t.Fatalf("verify: %v %v", err, rep.Faults)
	}
	t.Logf("%d applied, %d refused for limits; %s", ok.Load(), refused.Load(), rep.Summary())
}
