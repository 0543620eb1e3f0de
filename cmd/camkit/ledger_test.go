package main_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/money"
)

// ledgerVerify runs `camkit ledger verify` against url.
func ledgerVerify(t *testing.T, url string) (string, int) {
	cmd := exec.Command(testbin.Host(t), "ledger", "verify")
	cmd.Dir = t.TempDir()
	cmd.Env = append(env(t), "CAMKIT_DATABASE_URL="+url)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func TestLedgerVerifyCleanThenFaulty(t *testing.T) {
	for name, url := range map[string]string{"sqlite": storetest.SQLiteURL(t), "postgres": storetest.PostgresURL(t)} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			l := ledger.New(db, ledger.Options{})
			usd := func(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }
			for _, r := range []ledger.Request{
				{Key: "t1", Debit: "processor:sandbox:clearing", Credit: "viewer:1:wallet", Amount: usd(5000)},
				{Key: "t2", Debit: "viewer:1:wallet", Credit: "model:7:earnings", Amount: usd(1200)},
			} {
				if _, err := l.Transfer(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			out, code := ledgerVerify(t, url)
			if code != 0 || !strings.Contains(out, "clean") {
				t.Fatalf("clean ledger: exit %d\n%s", code, out)
			}
			// Break a balance behind the ledger's back (balances are not append-only;
			// transfers are) and verify must say so and exit 1.
			if err := db.Gorm().Exec("UPDATE ledger_balances SET credits_posted = credits_posted + 1 WHERE account_id = (SELECT id FROM ledger_accounts WHERE code = 'model:7:earnings' LIMIT 1)").Error; err != nil {
				t.Fatal(err)
			}
			out, code = ledgerVerify(t, url)
			if code != 1 || !strings.Contains(out, "FAULT") {
				t.Fatalf("tampered ledger: exit %d\n%s", code, out)
			}
		})
	}
}
