package ledger_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camkit/camkit/core/clock/clocktest"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/sdk/errs"
	"pgregory.net/rapid"
)

// model is what the ledger should hold, computed independently in Go.
type model struct {
	bal   map[string]ledger.Balance // by code; only the four sums are used
	holds []*mhold
	done  []done // successful requests, for repeats
}

type mhold struct {
	id        int64
	key       string
	debit     string
	credit    string
	amount    int64
	timeoutAt time.Time
	resolved  bool
}

type done struct {
	req ledger.Request
	out ledger.Transfer
}

func (m *model) move(debit, credit string, dd, cd [4]int64) {
	b := m.bal[debit]
	b.DebitsPending += dd[0]
	b.DebitsPosted += dd[1]
	m.bal[debit] = b
	c := m.bal[credit]
	c.CreditsPending += cd[2]
	c.CreditsPosted += cd[3]
	m.bal[credit] = c
}

// limited reports whether a debit of amount more would overdraw code.
func (m *model) overdraws(code string, amount int64) bool {
	if _, limited := ledger.ChartFlags(code); !limited {
		return false
	}
	f, _ := ledger.ChartFlags(code)
	if f != ledger.DebitsMustNotExceedCredits {
		return false
	}
	b := m.bal[code]
	return b.DebitsPending+b.DebitsPosted+amount > b.CreditsPosted
}

var checkSeq atomic.Int64

// Random sequences of transfers, holds, partial posts, voids, expiries,
// batches and repeated keys: every result matches the model, balances match
// it after every step, and Verify stays clean.
func TestPropertiesHoldUnderRandomSequences(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := clocktest.NewFake(t0) // shared by all checks: time only moves forward
		rapid.Check(t, func(rt *rapid.T) {
			l := ledger.New(db, ledger.Options{Clock: clk, Shards: 4})
			p := fmt.Sprintf("c%d", checkSeq.Add(1))
			wallets := []string{"viewer:" + p + "a:wallet", "viewer:" + p + "b:wallet", "viewer:" + p + "c:wallet"}
			earnings := []string{"model:" + p + "x:earnings", "studio:" + p + "y:earnings"}
			clearing, revenue := "processor:"+p+":clearing", "platform:revenue"
			startRevenue := ledger.Balance{}
			if b, err := l.Balance(ctx, revenue, "USD"); err == nil {
				startRevenue = b
			}
			m := &model{bal: map[string]ledger.Balance{revenue: startRevenue}}
			seq := 0
			key := func() string { seq++; return fmt.Sprintf("%s/%d", p, seq) }
			check := func(code string) {
				got, err := l.Balance(ctx, code, "USD")
				if errs.CodeOf(err) == errs.NotFound {
					got = ledger.Balance{}
				} else if err != nil {
					rt.Fatalf("balance %s: %v", code, err)
				}
				want := m.bal[code]
				if got.DebitsPending != want.DebitsPending || got.DebitsPosted != want.DebitsPosted ||
					got.CreditsPending != want.CreditsPending || got.CreditsPosted != want.CreditsPosted {
					rt.Fatalf("%s: ledger %+v, model %+v", code, got, want)
				}
			}
			all := append(append([]string{clearing, revenue}, wallets...), earnings...)
			payees := append(append([]string{revenue}, earnings...), wallets...)
			unresolved := func() []*mhold {
				var hs []*mhold
				for _, h := range m.holds {
					if !h.resolved {
						hs = append(hs, h)
					}
				}
				return hs
			}

			steps := rapid.IntRange(1, 25).Draw(rt, "steps")
			for range steps {
				switch action := rapid.SampledFrom([]string{"fund", "single", "hold", "post", "void", "expire", "repeat", "batch"}).Draw(rt, "action"); action {
				case "fund":
					w := rapid.SampledFrom(wallets).Draw(rt, "wallet")
					amt := rapid.Int64Range(1, 1000).Draw(rt, "amount")
					r := ledger.Request{Key: key(), Debit: clearing, Credit: w, Amount: usd(amt)}
					out, err := l.Transfer(ctx, r)
					if err != nil {
						rt.Fatalf("fund: %v", err)
					}
					m.move(clearing, w, [4]int64{0, amt}, [4]int64{0, 0, 0, amt})
					m.done = append(m.done, done{r, out})
				case "single", "hold":
					from := rapid.SampledFrom(append(wallets, earnings...)).Draw(rt, "from")
					to := rapid.SampledFrom(payees).Draw(rt, "to")
					if from == to {
						continue
					}
					amt := rapid.Int64Range(1, 600).Draw(rt, "amount")
					r := ledger.Request{Key: key(), Debit: from, Credit: to, Amount: usd(amt)}
					if action == "hold" {
						r.Kind = ledger.Pending
						if rapid.Bool().Draw(rt, "timeout") {
							r.Timeout = time.Duration(rapid.IntRange(1, 120).Draw(rt, "secs")) * time.Second
						}
					}
					out, err := l.Transfer(ctx, r)
					if m.overdraws(from, amt) {
						if errs.CodeOf(err) != errs.Limit {
							rt.Fatalf("%s of %d from %s: %v, want limit (model %+v)", action, amt, from, err, m.bal[from])
						}
						continue
					}
					if err != nil {
						rt.Fatalf("%s: %v", action, err)
					}
					if action == "hold" {
						m.move(from, to, [4]int64{amt}, [4]int64{0, 0, amt})
						h := &mhold{id: out.ID, key: r.Key, debit: from, credit: to, amount: amt}
						if r.Timeout > 0 {
							h.timeoutAt = clk.Now().Add(r.Timeout)
						}
						m.holds = append(m.holds, h)
					} else {
						m.move(from, to, [4]int64{0, amt}, [4]int64{0, 0, 0, amt})
					}
					m.done = append(m.done, done{r, out})
				case "post", "void":
					if len(m.holds) == 0 {
						continue
					}
					h := rapid.SampledFrom(m.holds).Draw(rt, "hold")
					r := ledger.Request{Key: key(), Kind: ledger.Post, PendingID: h.id}
					if rapid.Bool().Draw(rt, "byKey") {
						r.PendingID, r.PendingKey = 0, h.key
					}
					amt := h.amount
					if action == "void" {
						r.Kind = ledger.Void
					} else if rapid.Bool().Draw(rt, "partial") {
						amt = rapid.Int64Range(1, h.amount+1).Draw(rt, "post")
						r.Amount = usd(amt)
					}
					out, err := l.Transfer(ctx, r)
					switch {
					case h.resolved:
						if errs.CodeOf(err) != errs.Conflict {
							rt.Fatalf("%s of resolved hold %d: %v, want conflict", action, h.id, err)
						}
						continue
					case action == "post" && !h.timeoutAt.IsZero() && !clk.Now().Before(h.timeoutAt):
						if errs.CodeOf(err) != errs.Conflict {
							rt.Fatalf("post of timed-out hold %d: %v, want conflict", h.id, err)
						}
						continue
					case amt > h.amount:
						if errs.CodeOf(err) != errs.Invalid {
							rt.Fatalf("post of %d > hold %d: %v, want invalid", amt, h.amount, err)
						}
						continue
					}
					if err != nil {
						rt.Fatalf("%s hold %d: %v", action, h.id, err)
					}
					h.resolved = true
					posted := amt
					if action == "void" {
						posted = 0
					}
					m.move(h.debit, h.credit, [4]int64{-h.amount, posted}, [4]int64{0, 0, -h.amount, posted})
					m.done = append(m.done, done{r, out})
				case "expire":
					clk.Advance(time.Duration(rapid.IntRange(0, 90).Draw(rt, "advance")) * time.Second)
					want := 0
					for _, h := range unresolved() {
						if !h.timeoutAt.IsZero() && !clk.Now().Before(h.timeoutAt) {
							want++
							h.resolved = true
							m.move(h.debit, h.credit, [4]int64{-h.amount}, [4]int64{0, 0, -h.amount})
						}
					}
					n, err := l.ExpirePending(ctx, clk.Now())
					if err != nil || n != want {
						rt.Fatalf("expired %d (%v), want %d", n, err, want)
					}
				case "repeat":
					if len(m.done) == 0 {
						continue
					}
					d := rapid.SampledFrom(m.done).Draw(rt, "earlier")
					r := d.req
					altered := rapid.Bool().Draw(rt, "altered")
					if altered {
						r.Memo = "changed"
					}
					out, err := l.Transfer(ctx, r)
					if altered {
						if errs.CodeOf(err) != errs.Conflict {
							rt.Fatalf("altered repeat of %q: %v, want conflict", r.Key, err)
						}
					} else if err != nil || out != d.out {
						rt.Fatalf("repeat of %q: %+v %v, want %+v", r.Key, out, err, d.out)
					}
				case "batch":
					n := rapid.IntRange(2, 4).Draw(rt, "n")
					var reqs []ledger.Request
					trial := &model{bal: map[string]ledger.Balance{}}
					for k, v := range m.bal {
						trial.bal[k] = v
					}
					fails := false
					for range n {
						from := rapid.SampledFrom(append(wallets, clearing)).Draw(rt, "from")
						to := rapid.SampledFrom(payees).Draw(rt, "to")
						if from == to {
							continue
						}
						amt := rapid.Int64Range(1, 400).Draw(rt, "amount")
						reqs = append(reqs, ledger.Request{Key: key(), Debit: from, Credit: to, Amount: usd(amt)})
						if trial.overdraws(from, amt) {
							fails = true
						}
						trial.move(from, to, [4]int64{0, amt}, [4]int64{0, 0, 0, amt})
					}
					if len(reqs) == 0 {
						continue
					}
					outs, err := l.Batch(ctx, reqs)
					if fails {
						if errs.CodeOf(err) != errs.Limit {
							rt.Fatalf("batch should overdraw: %v", err)
						}
						continue
					}
					if err != nil {
						rt.Fatalf("batch: %v", err)
					}
					m.bal = trial.bal
					for i := range reqs {
						m.done = append(m.done, done{reqs[i], outs[i]})
					}
				}
				for _, code := range all {
					check(code)
				}
			}
			// Leave no open hold behind for the next check's expiry count.
			for _, h := range unresolved() {
				if _, err := l.Transfer(ctx, ledger.Request{Key: key(), Kind: ledger.Void, PendingID: h.id}); err != nil {
					rt.Fatalf("cleanup void: %v", err)
				}
			}
			rep, err := l.Verify(ctx)
			if err != nil || !rep.Clean() {
				rt.Fatalf("verify: %v %v", err, rep.Faults)
			}
		})
	})
}
