package ledger_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/sdk/errs"
)

// The atomicity test's hook runs in Go; on PostgreSQL a transfer is one
// function call, so this failure comes from the database itself: a trigger
// refuses every balance write, which happens after the transfer rows are
// inserted (the function's step order). Nothing may be left behind: no
// transfer, no account created on the way, no balance moved.
func TestBalanceWriteFailureInsideTheDatabaseLeavesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.fund("20", 500)
		n := f.count()
		g := db.Gorm()
		install := []string{`CREATE FUNCTION test_refuse_balance() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'test: balance write refused'; END $$`,
			`CREATE TRIGGER test_refuse_balance BEFORE INSERT OR UPDATE ON ledger_balances
			FOR EACH ROW EXECUTE FUNCTION test_refuse_balance()`}
		remove := []string{"DROP TRIGGER test_refuse_balance ON ledger_balances", "DROP FUNCTION test_refuse_balance()"}
		if db.Dialect() == store.SQLite {
			install = []string{
				`CREATE TRIGGER test_refuse_insert BEFORE INSERT ON ledger_balances BEGIN SELECT RAISE(ABORT, 'test: balance write refused'); END`,
				`CREATE TRIGGER test_refuse_update BEFORE UPDATE ON ledger_balances BEGIN SELECT RAISE(ABORT, 'test: balance write refused'); END`,
			}
			remove = []string{"DROP TRIGGER test_refuse_insert", "DROP TRIGGER test_refuse_update"}
		}
		for _, q := range install {
			if err := g.Exec(q).Error; err != nil {
				t.Fatal(err)
			}
		}
		for _, reqs := range [][]ledger.Request{
			{{Key: "db/0", Debit: "processor:sandbox:clearing", Credit: "viewer:20:wallet", Amount: usd(10)}}, // both accounts exist
			{{Key: "db/1", Debit: "viewer:20:wallet", Credit: "model:9:earnings", Amount: usd(200)}},
			{{Key: "db/2", Debit: "viewer:20:wallet", Credit: "platform:revenue", Amount: usd(100)}},
			{{Key: "db/3", Debit: "processor:sandbox:clearing", Credit: "viewer:21:wallet", Amount: usd(50)},
				{Key: "db/4", Debit: "viewer:21:wallet", Credit: "model:9:earnings", Amount: usd(50)}},
		} {
			_, err := f.l.Batch(f.ctx, reqs)
			if err == nil || !strings.Contains(err.Error(), "balance write refused") {
				t.Fatalf("batch %s: %v, want the trigger's refusal", reqs[0].Key, err)
			}
			if f.count() != n {
				t.Fatalf("batch %s: a transfer row survived the failure", reqs[0].Key)
			}
			for _, r := range reqs {
				if _, err := f.l.TransferByKey(f.ctx, r.Key); errs.CodeOf(err) != errs.NotFound {
					t.Fatalf("TransferByKey(%s) after failure: %v", r.Key, err)
				}
			}
		}
		for _, code := range []string{"model:9:earnings", "viewer:21:wallet"} {
			if _, err := f.l.Account(f.ctx, code, "USD"); errs.CodeOf(err) != errs.NotFound {
				t.Fatalf("%s, created by a failed transfer, survived: %v", code, err)
			}
		}
		for _, q := range remove {
			if err := g.Exec(q).Error; err != nil {
				t.Fatal(err)
			}
		}
		f.wantBalance("viewer:20:wallet", 500, 500)
		// The same keys work afterwards: nothing half-written blocks them.
		f.transfer(ledger.Request{Key: "db/1", Debit: "viewer:20:wallet", Credit: "model:9:earnings", Amount: usd(200)})
		f.wantBalance("viewer:20:wallet", 300, 300)
		f.wantBalance("model:9:earnings", 200, 200)
		f.verifyClean()
	})
}

// Concurrent credits of one unlimited account with few shards: with one,
// every writer waits for the row; with two, writers take a free row, create
// the second, or wait. Both must lose nothing, and debits of the limited
// wallets (their shard 0, under their lock) must never overdraw them.
func TestHotAccountWithFewShards(t *testing.T) {
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Postgres(t)
			l := ledger.New(db, ledger.Options{Shards: shards})
			const workers, each, wallets = 12, 40, 4
			for i := range wallets {
				if _, err := l.Transfer(ctx, ledger.Request{Key: fmt.Sprintf("fund/%d", i), Debit: "processor:cc:clearing",
					Credit: fmt.Sprintf("viewer:%d:wallet", i), Amount: usd(3000)}); err != nil {
					t.Fatal(err)
				}
			}
			var moved, refused atomic.Int64
			var wg sync.WaitGroup
			errc := make(chan error, workers)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						amt := int64(1 + (w*7+i*13)%50)
						r := ledger.Request{Key: fmt.Sprintf("hot/%d/%d", w, i), Debit: fmt.Sprintf("viewer:%d:wallet", (w+i)%wallets),
							Credit: "platform:revenue", Amount: usd(amt)}
						if i%5 == 4 { // a linked pair through the fast path's batch function
							_, err := l.Batch(ctx, []ledger.Request{r, {Key: r.Key + "/fee", Debit: "processor:cc:clearing",
								Credit: "platform:revenue", Amount: usd(1)}})
							if err == nil {
								moved.Add(amt + 1)
								continue
							}
							if errs.CodeOf(err) == errs.Limit {
								refused.Add(1)
								continue
							}
							errc <- err
							return
						}
						_, err := l.Transfer(ctx, r)
						switch {
						case err == nil:
							moved.Add(amt)
						case errs.CodeOf(err) == errs.Limit:
							refused.Add(1)
						default:
							errc <- err
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
			rev, err := l.Balance(ctx, "platform:revenue", "USD")
			if err != nil || rev.Posted().Amount != moved.Load() {
				t.Fatalf("revenue %+v (%v), want %d", rev, err, moved.Load())
			}
			var rows int64
			if err := db.Gorm().Raw(`SELECT COUNT(*) FROM ledger_balances b JOIN ledger_accounts a ON a.id = b.account_id
				WHERE a.code = 'platform:revenue'`).Scan(&rows).Error; err != nil || rows < 1 || rows > int64(shards) {
				t.Fatalf("platform:revenue has %d balance rows (%v), want 1..%d", rows, err, shards)
			}
			rep, err := l.Verify(ctx)
			if err != nil || !rep.Clean() {
				t.Fatalf("verify: %v %v", err, rep.Faults)
			}
			t.Logf("shards=%d: %d moved, %d refused, revenue on %d rows", shards, moved.Load(), refused.Load(), rows)
		})
	}
}
