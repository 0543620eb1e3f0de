package tickets_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/camkit/camkit/core/clock/clocktest"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/core/tickets"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/split"
)

var t0 = time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)

func usd(a int64) money.Money { return money.Money{Amount: a, Currency: "USD"} }

// splitPlugin runs the real split-percentage plugin: tickets 70% model,
// 10% studio, 20% platform (which also gets the rounding remainder).
func splitPlugin(t testing.TB) tickets.Allocator {
	t.Helper()
	h := pluginhost.NewHost(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	t.Cleanup(h.Close)
	in, err := h.Launch(context.Background(), pluginhost.Spec{
		Kind: pluginkit.KindSplit, Name: "percentage", Path: testbin.Plugin(t, "split-percentage"),
		Settings: []byte(`{"ticket":{"model":7000,"studio":1000,"affiliate":0,"platform":2000}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	return pluginhost.NewSplit(in)
}

// studios names each model's studio, as her profile would.
type studios map[string]string

func (s studios) PartiesOf(_ context.Context, modelID string) (split.Parties, error) {
	return split.Parties{ModelID: modelID, StudioID: s[modelID]}, nil
}

type env struct {
	t    *testing.T
	ctx  context.Context
	clk  *clocktest.Fake
	book *ledger.Ledger
	svc  *tickets.Service
	st   *tickets.MemStore
}

func newEnv(t *testing.T, pol tickets.Policy) *env {
	t.Helper()
	db := storetest.SQLite(t)
	clk := clocktest.NewFake(t0)
	book := ledger.New(db, ledger.Options{Clock: clk})
	st := tickets.NewMemStore()
	svc, err := tickets.New(tickets.Config{Store: st, Book: book, Splitter: splitPlugin(t), Parties: studios{"mia": "agency"},
		Clock: clk, Currency: "USD", MaxPrice: 100_00, Secret: []byte("0123456789abcdef0123"), Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: context.Background(), clk: clk, book: book, svc: svc, st: st}
}

// fund credits a viewer's wallet as a credit pack would.
func (e *env) fund(viewer string, amount int64) {
	e.t.Helper()
	if _, err := e.book.Transfer(e.ctx, ledger.Request{Key: "test/fund/" + viewer, Debit: "processor:sandbox:clearing",
		Credit: "viewer:" + viewer + ":wallet", Amount: usd(amount), Memo: "credit pack"}); err != nil {
		e.t.Fatal(err)
	}
}

// balance is an account's posted balance and what holds reserve on it.
func (e *env) balance(code string) (posted, held int64) {
	e.t.Helper()
	b, err := e.book.Balance(e.ctx, code, "USD")
	if errs.CodeOf(err) == errs.NotFound {
		return 0, 0
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return b.Posted().Amount, b.DebitsPending
}

func (e *env) wallet(viewer string) (posted, held int64) {
	return e.balance("viewer:" + viewer + ":wallet")
}

func (e *env) verify() {
	e.t.Helper()
	rep, err := e.book.Verify(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if !rep.Clean() {
		e.t.Fatalf("ledger verify: %s", rep.Summary())
	}
}

// schedule announces a one-hour $10 show of mia starting in an hour, its
// doors closing 10 minutes after the start.
func (e *env) schedule(capacity int) tickets.Show {
	e.t.Helper()
	sh, err := e.svc.Schedule(e.ctx, "mia", tickets.ScheduleRequest{Title: "Friday night", Price: usd(10_00),
		StartsAt: t0.Add(time.Hour), Duration: time.Hour, DoorsCloseAt: t0.Add(time.Hour + 10*time.Minute), Capacity: capacity})
	if err != nil {
		e.t.Fatal(err)
	}
	return sh
}

func (e *env) buy(viewer, showID string) tickets.Ticket {
	e.t.Helper()
	tk, err := e.svc.Buy(e.ctx, viewer, showID, "key-"+viewer, tickets.PayWallet)
	if err != nil {
		e.t.Fatalf("%s buys: %v", viewer, err)
	}
	return tk
}

func wantCode(t *testing.T, err error, code errs.Code, what string) {
	t.Helper()
	if errs.CodeOf(err) != code {
		t.Fatalf("%s: got %v (%s), want %s", what, err, errs.CodeOf(err), code)
	}
}
