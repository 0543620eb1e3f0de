package processorkit

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

// fakeGateway stands for a processor that can find a request by its order id.
type fakeGateway struct {
	mu      sync.Mutex
	orders  map[string]result // what the processor did, by order id
	sends   int
	answer  func(ref string) (result, error) // what the next send answers
	started chan struct{}                    // closed when a send begins, if set
	release chan struct{}                    // a send waits for it, if set
}

func (g *fakeGateway) send(_ context.Context, ref string) (result, error) {
	g.mu.Lock()
	g.sends++
	answer, started, release := g.answer, g.started, g.release
	g.mu.Unlock()
	if started != nil {
		close(started)
	}
	if release != nil {
		<-release
	}
	out, err := answer(ref)
	if err == nil || errs.CodeOf(err) == errs.Timeout { // accepted, even if the answer is lost
		g.mu.Lock()
		if err == nil {
			g.orders[ref] = out
		} else {
			g.orders[ref] = result{Ref: "tx_" + ref, Amount: 500}
		}
		g.mu.Unlock()
	}
	return out, err
}

func (g *fakeGateway) lookup(_ context.Context, ref string) (result, bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	out, ok := g.orders[ref]
	return out, ok, nil
}

type journalFixture struct {
	mu      sync.Mutex
	st      *testState
	path    string
	applied []result
	j       *Journal
	g       *fakeGateway
}

func newJournalFixture(t *testing.T) *journalFixture {
	f := &journalFixture{st: freshTestState(), path: filepath.Join(t.TempDir(), "state.json"),
		g: &fakeGateway{orders: map[string]result{}, answer: func(ref string) (result, error) { return result{Ref: "tx_" + ref, Amount: 500}, nil }}}
	f.j = &Journal{Name: "acme", Mu: &f.mu, Now: time.Now,
		Ops: func() Ops {
			if f.st == nil {
				return nil
			}
			return f.st.Ops
		},
		Save: func() error {
			var err error
			f.st, err = SaveState("acme", f.path, f.st, freshTestState)
			return err
		}}
	return f
}

func (f *journalFixture) attempt(key string, amount int64) Attempt[result] {
	return Attempt[result]{
		Key: key, Fingerprint: Fingerprint("charge", amount),
		NewRef: func(context.Context) (string, error) { return "ord_" + key, nil },
		Lookup: f.g.lookup, Send: f.g.send,
		Apply: func(out result) { f.applied = append(f.applied, out) },
	}
}

func TestAtMostOnceRepeatsTheRecordedResult(t *testing.T) {
	f := newJournalFixture(t)
	ctx := context.Background()
	first, err := AtMostOnce(ctx, f.j, f.attempt("k1", 500))
	if err != nil || first.Ref != "tx_ord_k1" {
		t.Fatalf("first = %+v, %v", first, err)
	}
	again, err := AtMostOnce(ctx, f.j, f.attempt("k1", 500))
	if err != nil || again != first || f.g.sends != 1 || len(f.applied) != 1 {
		t.Fatalf("repeat = %+v, %v; sends %d applied %d", again, err, f.g.sends, len(f.applied))
	}
	if _, err := AtMostOnce(ctx, f.j, f.attempt("k1", 501)); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("same key, other amount: %v", err)
	}
	// The record survived on disk.
	back, err := LoadState(f.path, freshTestState)
	if err != nil || back.Ops["k1"] == nil || back.Ops["k1"].Status != OpDone || back.Ops["k1"].Ref != "ord_k1" {
		t.Fatalf("state file record = %+v, %v", back.Ops["k1"], err)
	}
}

func TestAtMostOnceTimeoutAfterAcceptIsLookedUpNotResent(t *testing.T) {
	f := newJournalFixture(t)
	ctx := context.Background()
	f.g.answer = func(string) (result, error) { return result{}, errs.Retry(errs.Timeout, "answer lost") }
	if _, err := AtMostOnce(ctx, f.j, f.attempt("k", 500)); errs.CodeOf(err) != errs.Timeout {
		t.Fatalf("first attempt: %v, want timeout", err)
	}
	if rec := f.st.Ops["k"]; rec == nil || rec.Status != OpPending {
		t.Fatalf("after a lost answer the key must stay pending, got %+v", rec)
	}
	f.g.answer = func(ref string) (result, error) {
		t.Error("a request the processor already took was sent again")
		return result{}, nil
	}
	got, err := AtMostOnce(ctx, f.j, f.attempt("k", 500))
	if err != nil || got.Ref != "tx_ord_k" || f.g.sends != 1 || len(f.applied) != 1 {
		t.Fatalf("retry = %+v, %v; sends %d applied %d", got, err, f.g.sends, len(f.applied))
	}
}

func TestAtMostOnceResendsWhatTheProcessorNeverSaw(t *testing.T) {
	f := newJournalFixture(t)
	ctx := context.Background()
	f.g.answer = func(string) (result, error) { return result{}, errs.Retry(errs.Unavailable, "connection refused") }
	if _, err := AtMostOnce(ctx, f.j, f.attempt("k", 500)); errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("first attempt: %v", err)
	}
	var refs []string
	f.g.answer = func(ref string) (result, error) {
		refs = append(refs, ref)
		return result{Ref: "tx_" + ref, Amount: 500}, nil
	}
	got, err := AtMostOnce(ctx, f.j, f.attempt("k", 500))
	if err != nil || got.Ref != "tx_ord_k" || len(refs) != 1 || refs[0] != "ord_k" {
		t.Fatalf("retry = %+v, %v; resent with %v (want the same order id)", got, err, refs)
	}
}

func TestAtMostOnceDeclinesAndRefusals(t *testing.T) {
	f := newJournalFixture(t)
	ctx := context.Background()
	f.g.answer = func(string) (result, error) { return result{}, errs.E(errs.InsufficientFunds, "nsf") }
	if _, err := AtMostOnce(ctx, f.j, f.attempt("d", 500)); errs.CodeOf(err) != errs.InsufficientFunds {
		t.Fatalf("decline: %v", err)
	}
	f.g.answer = func(string) (result, error) { return result{Ref: "x"}, nil }
	if _, err := AtMostOnce(ctx, f.j, f.attempt("d", 500)); errs.CodeOf(err) != errs.InsufficientFunds || f.g.sends != 1 {
		t.Fatalf("a recorded decline must be replayed without sending: %v, sends %d", err, f.g.sends)
	}

	f.g.answer = func(string) (result, error) { return result{}, errs.E(errs.Invalid, "bad field") }
	if _, err := AtMostOnce(ctx, f.j, f.attempt("r", 500)); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("refusal: %v", err)
	}
	if f.st.Ops["r"] != nil {
		t.Fatal("a final refusal moved nothing: its key must be forgotten")
	}
	f.g.answer = func(ref string) (result, error) { return result{Ref: "tx_" + ref}, nil }
	if _, err := AtMostOnce(ctx, f.j, f.attempt("r", 500)); err != nil {
		t.Fatalf("retry after a corrected cause: %v", err)
	}

	f.mu.Lock()
	f.st = nil
	f.mu.Unlock()
	if _, err := AtMostOnce(ctx, f.j, f.attempt("z", 500)); errs.CodeOf(err) != errs.Unavailable || !errs.IsRetryable(err) {
		t.Fatalf("before Configure: %v", err)
	}
}

func TestAtMostOnceChecksAndRefusesConcurrentRepeats(t *testing.T) {
	f := newJournalFixture(t)
	ctx := context.Background()
	a := f.attempt("c", 500)
	a.Check = func() error { return errs.E(errs.NotFound, "no such hold") }
	if _, err := AtMostOnce(ctx, f.j, a); errs.CodeOf(err) != errs.NotFound || f.g.sends != 0 || f.st.Ops["c"] != nil {
		t.Fatalf("failed check: %v, sends %d", err, f.g.sends)
	}
	a = f.attempt("n", 500)
	a.NewRef = func(context.Context) (string, error) { return "", errs.Retry(errs.Unavailable, "getid down") }
	if _, err := AtMostOnce(ctx, f.j, a); errs.CodeOf(err) != errs.Unavailable || f.st.Ops["n"] != nil {
		t.Fatalf("no id, nothing sent, nothing recorded: %v %+v", err, f.st.Ops["n"])
	}

	f.g.started, f.g.release = make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() { _, err := AtMostOnce(ctx, f.j, f.attempt("w", 500)); done <- err }()
	<-f.g.started
	if _, err := AtMostOnce(ctx, f.j, f.attempt("w", 500)); errs.CodeOf(err) != errs.Unavailable || !errs.IsRetryable(err) {
		t.Fatalf("a repeat while the first is on the wire: %v", err)
	}
	close(f.g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f.g.sends != 1 {
		t.Fatalf("sends = %d", f.g.sends)
	}
}
