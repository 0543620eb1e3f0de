package ledger_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/clock/clocktest"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"gorm.io/gorm"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func usd(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }

type fixture struct {
	t     *testing.T
	db    *store.DB
	l     *ledger.Ledger
	clock *clocktest.Fake
	ctx   context.Context
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	c := clocktest.NewFake(t0)
	return &fixture{t: t, db: db, l: ledger.New(db, ledger.Options{Clock: c}), clock: c, ctx: context.Background()}
}

func (f *fixture) transfer(r ledger.Request) ledger.Transfer {
	f.t.Helper()
	tr, err := f.l.Transfer(f.ctx, r)
	if err != nil {
		f.t.Fatalf("transfer %q: %v", r.Key, err)
	}
	return tr
}

func (f *fixture) balance(code string) ledger.Balance {
	f.t.Helper()
	b, err := f.l.Balance(f.ctx, code, "USD")
	if err != nil {
		f.t.Fatalf("balance %s: %v", code, err)
	}
	return b
}

func (f *fixture) wantBalance(code string, posted, available int64) {
	f.t.Helper()
	b := f.balance(code)
	if b.Posted().Amount != posted || b.Available().Amount != available {
		f.t.Errorf("%s: posted %d available %d, want %d and %d (%+v)", code, b.Posted().Amount, b.Available().Amount, posted, available, b)
	}
}

func (f *fixture) verifyClean() ledger.Report {
	f.t.Helper()
	rep, err := f.l.Verify(f.ctx)
	if err != nil {
		f.t.Fatalf("verify: %v", err)
	}
	for _, fl := range rep.Faults {
		f.t.Errorf("verify fault: %s", fl)
	}
	return rep
}

// fund credits a viewer wallet from the sandbox processor's clearing account.
func (f *fixture) fund(viewer string, amount int64) {
	f.t.Helper()
	f.transfer(ledger.Request{Key: "fund/" + viewer + "/" + time.Now().Format(time.RFC3339Nano), Debit: "processor:sandbox:clearing",
		Credit: "viewer:" + viewer + ":wallet", Amount: usd(amount)})
}

func (f *fixture) count() int64 {
	f.t.Helper()
	var n int64
	if err := f.db.Gorm().Raw("SELECT COUNT(*) FROM ledger_transfers").Scan(&n).Error; err != nil {
		f.t.Fatal(err)
	}
	return n
}

func wantCode(t *testing.T, err error, code errs.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if errs.CodeOf(err) != code {
		t.Fatalf("error %v has code %s, want %s", err, errs.CodeOf(err), code)
	}
}

func TestSingleTransfersMoveBalances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.fund("1", 1000)
		tr := f.transfer(ledger.Request{Key: "tip/1", Debit: "viewer:1:wallet", Credit: "model:7:earnings", Amount: usd(250), Memo: "tip"})
		if tr.ID == 0 || tr.Kind != ledger.Single || tr.Debit != "viewer:1:wallet" || tr.Credit != "model:7:earnings" ||
			tr.Amount != usd(250) || !tr.CreatedAt.Equal(t0) || tr.Memo != "tip" {
			t.Fatalf("transfer %+v", tr)
		}
		f.wantBalance("viewer:1:wallet", 750, 750)
		f.wantBalance("model:7:earnings", 250, 250)
		// The clearing account is an asset of no limit: it goes "negative" in
		// credit-normal reading.
		f.wantBalance("processor:sandbox:clearing", -1000, -1000)
		acc, err := f.l.Account(f.ctx, "viewer:1:wallet", "USD")
		if err != nil || acc.Flags != ledger.DebitsMustNotExceedCredits {
			t.Fatalf("wallet account %+v %v", acc, err)
		}
		byID, err := f.l.TransferByID(f.ctx, tr.ID)
		if err != nil || byID != tr {
			t.Fatalf("TransferByID = %+v %v, want %+v", byID, err, tr)
		}
		byKey, err := f.l.TransferByKey(f.ctx, "tip/1")
		if err != nil || byKey != tr {
			t.Fatalf("TransferByKey = %+v %v", byKey, err)
		}
		_, err = f.l.TransferByKey(f.ctx, "nope")
		wantCode(t, err, errs.NotFound)
		_, err = f.l.TransferByID(f.ctx, 999999)
		wantCode(t, err, errs.NotFound)
		rep := f.verifyClean()
		if rep.Accounts != 3 || rep.Transfers != 2 || len(rep.Currencies) != 1 || rep.Currencies[0] != "USD" {
			t.Fatalf("report %+v", rep)
		}
		if s := rep.Summary(); s != "ledger: 3 accounts, 2 transfers, 1 currencies (USD): clean" {
			t.Fatalf("summary %q", s)
		}
	})
}

func TestHoldPostPartialVoidAndTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.fund("2", 1000)
		h := f.transfer(ledger.Request{Key: "seat/1/hold/1", Kind: ledger.Pending, Debit: "viewer:2:wallet", Credit: "model:3:earnings", Amount: usd(600)})
		f.wantBalance("viewer:2:wallet", 1000, 400)
		f.wantBalance("model:3:earnings", 0, 0)
		if b := f.balance("model:3:earnings"); b.CreditsPending != 600 {
			t.Fatalf("model pending credits %d", b.CreditsPending)
		}
		// A second hold beyond what is available is refused.
		_, err := f.l.Transfer(f.ctx, ledger.Request{Key: "seat/1/hold/2", Kind: ledger.Pending, Debit: "viewer:2:wallet", Credit: "model:3:earnings", Amount: usd(401)})
		wantCode(t, err, errs.Limit)
		// Partial post: 450 taken, 150 released.
		p := f.transfer(ledger.Request{Key: "seat/1/capture", Kind: ledger.Post, PendingKey: "seat/1/hold/1", Amount: usd(450)})
		if p.PendingID != h.ID || p.Amount != usd(450) || p.Debit != "viewer:2:wallet" || p.Credit != "model:3:earnings" {
			t.Fatalf("post %+v", p)
		}
		f.wantBalance("viewer:2:wallet", 550, 550)
		f.wantBalance("model:3:earnings", 450, 450)
		// Resolving again, either way, is a conflict and writes nothing.
		n := f.count()
		_, err = f.l.Transfer(f.ctx, ledger.Request{Key: "seat/1/capture-again", Kind: ledger.Post, PendingID: h.ID})
		wantCode(t, err, errs.Conflict)
		_, err = f.l.Transfer(f.ctx, ledger.Request{Key: "seat/1/void", Kind: ledger.Void, PendingID: h.ID})
		wantCode(t, err, errs.Conflict)
		if f.count() != n {
			t.Fatal("a refused resolution wrote a transfer")
		}
		// Void, then void twice.
		h2 := f.transfer(ledger.Request{Key: "seat/2/hold/1", Kind: ledger.Pending, Debit: "viewer:2:wallet", Credit: "model:3:earnings", Amount: usd(500)})
		f.wantBalance("viewer:2:wallet", 550, 50)
		f.transfer(ledger.Request{Key: "seat/2/void", Kind: ledger.Void, PendingID: h2.ID})
		f.wantBalance("viewer:2:wallet", 550, 550)
		_, err = f.l.Transfer(f.ctx, ledger.Request{Key: "seat/2/void-2", Kind: ledger.Void, PendingID: h2.ID})
		wantCode(t, err, errs.Conflict)
		// Full post.
		h3 := f.transfer(ledger.Request{Key: "seat/3/hold/1", Kind: ledger.Pending, Debit: "viewer:2:wallet", Credit: "model:3:earnings", Amount: usd(100)})
		full := f.transfer(ledger.Request{Key: "seat/3/capture", Kind: ledger.Post, PendingID: h3.ID})
		if full.Amount != usd(100) {
			t.Fatalf("full post %+v", full)
		}
		f.wantBalance("viewer:2:wallet", 450, 450)
		f.verifyClean()
	})
}

func TestPendingTimeoutExpiresExactlyOnceAcrossRestart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.fund("4", 1000)
		h := f.transfer(ledger.Request{Key: "seat/9/hold/1", Kind: ledger.Pending, Debit: "viewer:4:wallet", Credit: "model:1:earnings",
			Amount: usd(300), Timeout: time.Minute})
		if !h.TimeoutAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("timeout at %v", h.TimeoutAt)
		}
		long := f.transfer(ledger.Request{Key: "seat/10/hold/1", Kind: ledger.Pending, Debit: "viewer:4:wallet", Credit: "model:1:earnings",
			Amount: usd(100), Timeout: time.Hour})
		if n, err := f.l.ExpirePending(f.ctx, t0.Add(59*time.Second)); err != nil || n != 0 {
			t.Fatalf("early expiry: %d %v", n, err)
		}
		f.clock.Advance(2 * time.Minute)
		// Too late to post, even before the expirer ran.
		_, err := f.l.Transfer(f.ctx, ledger.Request{Key: "seat/9/capture", Kind: ledger.Post, PendingID: h.ID})
		wantCode(t, err, errs.Conflict)
		if !strings.Contains(err.Error(), "expired") {
			t.Fatalf("error %v does not say expired", err)
		}
		n, err := f.l.ExpirePending(f.ctx, f.clock.Now())
		if err != nil || n != 1 {
			t.Fatalf("expiry: %d %v", n, err)
		}
		f.wantBalance("viewer:4:wallet", 1000, 900)
		// A restarted host (a new Ledger on the same database) expires nothing twice.
		restarted := ledger.New(db, ledger.Options{Clock: f.clock})
		if n, err := restarted.ExpirePending(f.ctx, f.clock.Now().Add(10*time.Minute)); err != nil || n != 0 {
			t.Fatalf("second expiry: %d %v", n, err)
		}
		e, err := f.l.TransferByKey(f.ctx, ledger.ExpireKey(h.ID))
		if err != nil || e.Kind != ledger.Expire || e.PendingID != h.ID || e.Amount != usd(300) {
			t.Fatalf("expire transfer %+v %v", e, err)
		}
		// The long hold expires after its own timeout, on the restarted host.
		if n, err := restarted.ExpirePending(f.ctx, t0.Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("long expiry: %d %v", n, err)
		}
		_, err = f.l.Transfer(f.ctx, ledger.Request{Key: "seat/10/void", Kind: ledger.Void, PendingID: long.ID})
		wantCode(t, err, errs.Conflict)
		f.wantBalance("viewer:4:wallet", 1000, 1000)
		f.verifyClean()
	})
}

func TestIdempotency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.fund("5", 1000)
		r := ledger.Request{Key: "tip/5/1", Debit: "viewer:5:wallet", Credit: "model:2:earnings", Amount: usd(100), Memo: "tip"}
		first := f.transfer(r)
		f.clock.Advance(time.Second)
		again := f.transfer(r)
		if again != first {
			t.Fatalf("repeat returned %+v, want %+v", again, first)
		}
		f.wantBalance("viewer:5:wallet", 900, 900)
		n := f.count()
		for _, other := range []ledger.Request{
			{Key: "tip/5/1", Debit: "viewer:5:wallet", Credit: "model:2:earnings", Amount: usd(101), Memo: "tip"},
			{Key: "tip/5/1", Debit: "viewer:5:wallet", Credit: "model:3:earnings", Amount: usd(100), Memo: "tip"},
			{Key: "tip/5/1", Debit: "viewer:5:wallet", Credit: "model:2:earnings", Amount: usd(100), Memo: "other"},
			{Key: "tip/5/1", Kind: ledger.Pending, Debit: "viewer:5:wallet", Credit: "model:2:earnings", Amount: usd(100), Memo: "tip"},
		} {
			_, err := f.l.Transfer(f.ctx, other)
			wantCode(t, err, errs.Conflict)
		}
		// Holds and posts repeat too, even once the wallet could no longer pay.
		h := ledger.Request{Key: "seat/5/hold", Kind: ledger.Pending, Debit: "viewer:5:wallet", Credit: "model:2:earnings", Amount: usd(900), Timeout: time.Minute}
		hold := f.transfer(h)
		if again := f.transfer(h); again != hold {
			t.Fatalf("repeated hold %+v", again)
		}
		post := ledger.Request{Key: "seat/5/capture", Kind: ledger.Post, PendingKey: "seat/5/hold", Amount: usd(800)}
		p := f.transfer(post)
		if again := f.transfer(post); again != p {
			t.Fatalf("repeated post %+v", again)
		}
		post.Amount = usd(700)
		_, err := f.l.Transfer(f.ctx, post)
		wantCode(t, err, errs.Conflict)
		// A batch repeated in part is a conflict.
		_, err = f.l.Batch(f.ctx, []ledger.Request{r, {Key: "tip/5/2", Debit: "viewer:5:wallet", Credit: "model:2:earnings", Amount: usd(1)}})
		wantCode(t, err, errs.Conflict)
		if f.count() != n+2 {
			t.Fatalf("transfers %d, want %d", f.count(), n+2)
		}
		f.wantBalance("viewer:5:wallet", 100, 100)
		f.verifyClean()
	})
}

func TestBatchIsAllOrNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		// A later transfer may spend what an earlier one in the batch credited.
		out, err := f.l.Batch(f.ctx, []ledger.Request{
			{Key: "b1/fund", Debit: "processor:sandbox:clearing", Credit: "viewer:6:wallet", Amount: usd(500)},
			{Key: "b1/spend", Debit: "viewer:6:wallet", Credit: "platform:revenue", Amount: usd(500)},
		})
		if err != nil || len(out) != 2 || out[0].ID >= out[1].ID {
			t.Fatalf("batch %+v %v", out, err)
		}
		f.wantBalance("viewer:6:wallet", 0, 0)
		n := f.count()
		_, err = f.l.Batch(f.ctx, []ledger.Request{
			{Key: "b2/fund", Debit: "processor:sandbox:clearing", Credit: "viewer:6:wallet", Amount: usd(100)},
			{Key: "b2/tip", Debit: "viewer:6:wallet", Credit: "model:1:earnings", Amount: usd(60)},
			{Key: "b2/tip2", Debit: "viewer:6:wallet", Credit: "model:1:earnings", Amount: usd(60)},
		})
		wantCode(t, err, errs.Limit)
		if f.count() != n {
			t.Fatal("a failed batch left transfers behind")
		}
		f.wantBalance("viewer:6:wallet", 0, 0)
		if _, err := f.l.Account(f.ctx, "model:1:earnings", "USD"); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("a failed batch left an account behind: %v", err)
		}
		_, err = f.l.Batch(f.ctx, []ledger.Request{
			{Key: "dup", Debit: "processor:sandbox:clearing", Credit: "viewer:6:wallet", Amount: usd(1)},
			{Key: "dup", Debit: "processor:sandbox:clearing", Credit: "viewer:6:wallet", Amount: usd(1)},
		})
		wantCode(t, err, errs.Invalid)
		_, err = f.l.Batch(f.ctx, nil)
		wantCode(t, err, errs.Invalid)
		f.verifyClean()
	})
}

func TestBadInputIsTypedAndWritesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.fund("8", 1000)
		if _, err := f.l.OpenAccount(f.ctx, "house:float", "EUR", 0); err != nil {
			t.Fatal(err)
		}
		hold := f.transfer(ledger.Request{Key: "h", Kind: ledger.Pending, Debit: "viewer:8:wallet", Credit: "model:1:earnings", Amount: usd(300)})
		single := f.transfer(ledger.Request{Key: "s", Debit: "viewer:8:wallet", Credit: "model:1:earnings", Amount: usd(1)})
		// A revenue account near the top of int64.
		f.transfer(ledger.Request{Key: "big", Debit: "processor:big:clearing", Credit: "platform:revenue", Amount: usd(math.MaxInt64)})
		n := f.count()
		before := f.balance("viewer:8:wallet")
		w := func(r ledger.Request) ledger.Request {
			if r.Debit == "" && r.Kind == "" {
				r.Debit, r.Credit = "viewer:8:wallet", "model:1:earnings"
			}
			return r
		}
		for _, tc := range []struct {
			name string
			r    ledger.Request
			code errs.Code
		}{
			{"zero amount", w(ledger.Request{Key: "k1", Amount: usd(0)}), errs.Invalid},
			{"negative amount", w(ledger.Request{Key: "k2", Amount: usd(-5)}), errs.Invalid},
			{"overflowing balance", ledger.Request{Key: "k3", Debit: "processor:big:clearing", Credit: "platform:revenue", Amount: usd(1)}, errs.Limit},
			{"unknown currency", w(ledger.Request{Key: "k4", Amount: money.Money{Amount: 5, Currency: "ZZZ"}}), errs.UnknownCurrency},
			{"unknown account", ledger.Request{Key: "k5", Debit: "viewer:8:wallet", Credit: "nosuch:thing", Amount: usd(5)}, errs.NotFound},
			{"account in another currency", ledger.Request{Key: "k6", Debit: "house:float", Credit: "platform:revenue", Amount: usd(5)}, errs.NotFound},
			{"same account", ledger.Request{Key: "k7", Debit: "viewer:8:wallet", Credit: "viewer:8:wallet", Amount: usd(5)}, errs.Invalid},
			{"malformed code", ledger.Request{Key: "k8", Debit: "Viewer 8", Credit: "platform:revenue", Amount: usd(5)}, errs.Invalid},
			{"no key", w(ledger.Request{Amount: usd(5)}), errs.Invalid},
			{"overdraft", w(ledger.Request{Key: "k9", Amount: usd(700)}), errs.Limit},
			{"post more than hold", ledger.Request{Key: "k10", Kind: ledger.Post, PendingID: hold.ID, Amount: usd(301)}, errs.Invalid},
			{"post in other currency", ledger.Request{Key: "k11", Kind: ledger.Post, PendingID: hold.ID, Amount: money.Money{Amount: 5, Currency: "EUR"}}, errs.Invalid},
			{"post zero", ledger.Request{Key: "k12", Kind: ledger.Post, PendingID: hold.ID, Amount: usd(0)}, errs.Invalid},
			{"post unknown hold", ledger.Request{Key: "k13", Kind: ledger.Post, PendingID: 987654}, errs.NotFound},
			{"post a single transfer", ledger.Request{Key: "k14", Kind: ledger.Post, PendingID: single.ID}, errs.Invalid},
			{"void with amount", ledger.Request{Key: "k15", Kind: ledger.Void, PendingID: hold.ID, Amount: usd(5)}, errs.Invalid},
			{"void without hold", ledger.Request{Key: "k16", Kind: ledger.Void}, errs.Invalid},
			{"timeout on single", w(ledger.Request{Key: "k17", Amount: usd(5), Timeout: time.Minute}), errs.Invalid},
			{"unknown kind", ledger.Request{Key: "k18", Kind: "steal", Debit: "viewer:8:wallet", Credit: "platform:revenue", Amount: usd(5)}, errs.Invalid},
			{"expire from outside", ledger.Request{Key: "k19", Kind: ledger.Expire, PendingID: hold.ID}, errs.Invalid},
			{"reused key", w(ledger.Request{Key: "s", Amount: usd(2)}), errs.Conflict},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.l.Transfer(f.ctx, tc.r)
				wantCode(t, err, tc.code)
				if f.count() != n {
					t.Fatalf("%s wrote a transfer", tc.name)
				}
			})
		}
		if after := f.balance("viewer:8:wallet"); after != before {
			t.Fatalf("wallet moved: %+v -> %+v", before, after)
		}
		// Accounts: conflicting flags, malformed codes, unknown currency.
		_, err := f.l.OpenAccount(f.ctx, "house:float", "EUR", ledger.DebitsMustNotExceedCredits)
		wantCode(t, err, errs.Conflict)
		_, err = f.l.OpenAccount(f.ctx, "viewer:1:wallet", "USD", 0)
		wantCode(t, err, errs.Conflict)
		_, err = f.l.OpenAccount(f.ctx, "", "USD", 0)
		wantCode(t, err, errs.Invalid)
		_, err = f.l.OpenAccount(f.ctx, "house:x", "ABC", 0)
		wantCode(t, err, errs.UnknownCurrency)
		_, err = f.l.OpenAccount(f.ctx, "house:x", "USD", 3)
		wantCode(t, err, errs.Invalid)
		f.verifyClean()
	})
}

func TestAppendOnlyIsEnforcedByTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.fund("9", 100)
		g := db.Gorm()
		for _, q := range []string{
			"UPDATE ledger_transfers SET amount = 1",
			"DELETE FROM ledger_transfers",
			"UPDATE ledger_accounts SET flags = 0",
			"DELETE FROM ledger_accounts",
			"DELETE FROM ledger_balances",
		} {
			err := g.Exec(q).Error
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want a refusal", q, err)
			}
		}
		if db.Dialect() == store.Postgres {
			if err := g.Exec("TRUNCATE ledger_transfers CASCADE").Error; err == nil {
				t.Error("TRUNCATE was allowed")
			}
		}
		f.wantBalance("viewer:9:wallet", 100, 100)
		f.verifyClean()
	})
}

func TestFailureBetweenTransferRowAndBalancesLeavesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.fund("10", 500)
		n := f.count()
		injected := errors.New("injected crash")
		calls := 0
		ledger.SetAfterInsert(f.l, func() error {
			calls++
			// The rows are in the transaction at this point.
			return injected
		})
		_, err := f.l.Transfer(f.ctx, ledger.Request{Key: "a/1", Debit: "viewer:10:wallet", Credit: "model:4:earnings", Amount: usd(200)})
		if err == nil || calls != 1 || !errors.Is(err, injected) && !strings.Contains(err.Error(), injected.Error()) {
			t.Fatalf("err %v calls %d", err, calls)
		}
		// On PostgreSQL the failure is raised inside the transfer function,
		// which says how many rows it had written by then.
		if db.Dialect() == store.Postgres && !strings.Contains(err.Error(), "after 1 transfer rows were written") {
			t.Fatalf("err %v does not show the transfer row was written before the failure", err)
		}
		if f.count() != n {
			t.Fatal("the transfer row survived the failure")
		}
		if _, err := f.l.TransferByKey(f.ctx, "a/1"); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("TransferByKey after failure: %v", err)
		}
		f.wantBalance("viewer:10:wallet", 500, 500)
		if _, err := f.l.Account(f.ctx, "model:4:earnings", "USD"); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("an account created by the failed transfer survived: %v", err)
		}
		// The same key works afterwards: nothing half-written blocks it.
		ledger.SetAfterInsert(f.l, nil)
		f.transfer(ledger.Request{Key: "a/1", Debit: "viewer:10:wallet", Credit: "model:4:earnings", Amount: usd(200)})
		f.wantBalance("viewer:10:wallet", 300, 300)
		f.verifyClean()
	})
}

func TestStatementRunningBalanceAndCursor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.fund("11", 1000)
		h := f.transfer(ledger.Request{Key: "st/h", Kind: ledger.Pending, Debit: "viewer:11:wallet", Credit: "model:5:earnings", Amount: usd(400)})
		f.transfer(ledger.Request{Key: "st/t1", Debit: "viewer:11:wallet", Credit: "model:5:earnings", Amount: usd(50)})
		f.transfer(ledger.Request{Key: "st/other", Debit: "processor:sandbox:clearing", Credit: "viewer:99:wallet", Amount: usd(5)})
		f.transfer(ledger.Request{Key: "st/p", Kind: ledger.Post, PendingID: h.ID, Amount: usd(300)})
		f.transfer(ledger.Request{Key: "st/t2", Debit: "viewer:11:wallet", Credit: "platform:revenue", Amount: usd(25)})
		h2 := f.transfer(ledger.Request{Key: "st/h2", Kind: ledger.Pending, Debit: "viewer:11:wallet", Credit: "model:5:earnings", Amount: usd(100)})
		f.transfer(ledger.Request{Key: "st/v", Kind: ledger.Void, PendingID: h2.ID})

		var all []ledger.Entry
		cursor, pages := "", 0
		for {
			page, err := f.l.Statement(f.ctx, "viewer:11:wallet", "USD", cursor, 3)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			all = append(all, page.Entries...)
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		if pages != 3 || len(all) != 7 {
			t.Fatalf("%d pages, %d entries", pages, len(all))
		}
		wantPosted := []int64{1000, 1000, 950, 650, 625, 625, 625}
		wantAvail := []int64{1000, 600, 550, 650, 625, 525, 625}
		for i, e := range all {
			if e.After.Posted().Amount != wantPosted[i] || e.After.Available().Amount != wantAvail[i] {
				t.Errorf("entry %d (%s %s): posted %d available %d, want %d %d", i, e.Transfer.Kind, e.Transfer.Key,
					e.After.Posted().Amount, e.After.Available().Amount, wantPosted[i], wantAvail[i])
			}
			if i > 0 && e.Transfer.ID <= all[i-1].Transfer.ID {
				t.Errorf("entries out of order")
			}
		}
		if all[0].Side != "credit" || all[2].Side != "debit" {
			t.Errorf("sides %s %s", all[0].Side, all[2].Side)
		}
		if last := all[len(all)-1].After; last != f.balance("viewer:11:wallet") {
			t.Errorf("last running balance %+v differs from the balance", last)
		}
		_, err := f.l.Statement(f.ctx, "viewer:11:wallet", "USD", "!!", 3)
		wantCode(t, err, errs.Invalid)
		_, err = f.l.Statement(f.ctx, "viewer:11:wallet", "USD", "", 0)
		wantCode(t, err, errs.Invalid)
		_, err = f.l.Statement(f.ctx, "viewer:404:wallet", "USD", "", 3)
		wantCode(t, err, errs.NotFound)
	})
}

func TestVerifyFindsFaults(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.fund("12", 100)
		acc, err := f.l.Account(f.ctx, "viewer:12:wallet", "USD")
		if err != nil {
			t.Fatal(err)
		}
		// Forge money: a balance shard no transfer explains, which also
		// overdraws the wallet and unbalances USD.
		if err := db.Gorm().Exec(`INSERT INTO ledger_balances (account_id, shard, debits_pending, debits_posted, credits_pending, credits_posted)
			VALUES (?, 9999, 0, 500, 0, 0)`, acc.ID).Error; err != nil {
			t.Fatal(err)
		}
		rep, err := f.l.Verify(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]bool{}
		for _, fl := range rep.Faults {
			kinds[fl.Kind] = true
		}
		for _, k := range []string{"balance_mismatch", "limit_exceeded", "currency_imbalance"} {
			if !kinds[k] {
				t.Errorf("verify missed %s: %v", k, rep.Faults)
			}
		}
		if rep.Clean() || !strings.Contains(rep.Summary(), "3 faults") {
			t.Errorf("summary %q", rep.Summary())
		}
	})
}

// Concurrent first uses of an account create it once.
func TestConcurrentFirstUseCreatesAccountOnce(t *testing.T) {
	f := newFixture(t, storetest.Postgres(t))
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.l.Transfer(f.ctx, ledger.Request{Key: "first/" + string(rune('a'+i)), Debit: "processor:new:clearing",
				Credit: "viewer:777:wallet", Amount: usd(10)})
			errc <- err
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int64
	if err := f.db.Gorm().Raw("SELECT COUNT(*) FROM ledger_accounts WHERE code = 'viewer:777:wallet'").Scan(&n).Error; err != nil || n != 1 {
		t.Fatalf("%d accounts (%v)", n, err)
	}
	f.wantBalance("viewer:777:wallet", 160, 160)
	f.verifyClean()
}

// A caller's own transaction carries the transfers: rolled back, nothing
// moved; committed, both its rows and the transfers are there.
func TestInTxFollowsTheCallersTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.fund("13", 100)
		rollback := errors.New("caller gives up")
		err := db.Gorm().Transaction(func(tx *gorm.DB) error {
			if _, err := f.l.InTx(tx).Transfer(f.ctx, ledger.Request{Key: "intx/1", Debit: "viewer:13:wallet", Credit: "platform:revenue", Amount: usd(40)}); err != nil {
				return err
			}
			b, err := f.l.InTx(tx).Balance(f.ctx, "viewer:13:wallet", "USD")
			if err != nil || b.Posted().Amount != 60 {
				t.Errorf("inside the transaction: %+v %v", b, err)
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("transaction: %v", err)
		}
		f.wantBalance("viewer:13:wallet", 100, 100)
		if err := db.Gorm().Transaction(func(tx *gorm.DB) error {
			_, err := f.l.InTx(tx).Transfer(f.ctx, ledger.Request{Key: "intx/1", Debit: "viewer:13:wallet", Credit: "platform:revenue", Amount: usd(40)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		f.wantBalance("viewer:13:wallet", 60, 60)
		f.verifyClean()
	})
}
