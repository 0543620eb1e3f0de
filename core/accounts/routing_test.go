package accounts_test

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/routing"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
)

// keyed is a real sandbox process behind a recorder of the idempotency key
// of every charge asked of it, which can lose the answer of the next charge
// after the processor made it.
type keyed struct {
	processor.Processor
	mu   sync.Mutex
	keys []string
	refs map[string]bool
	lose int
}

func (k *keyed) Charge(ctx context.Context, req processor.ChargeRequest) (processor.ChargeResult, error) {
	res, err := k.Processor.Charge(ctx, req)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys = append(k.keys, req.IdempotencyKey)
	if err == nil {
		k.refs[res.Reference] = true
		if k.lose > 0 {
			k.lose--
			return processor.ChargeResult{}, errs.Retry(errs.Timeout, "the processor's answer was lost")
		}
	}
	return res, err
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type routedEnv struct {
	*env
	a, b  *keyed
	cards *accounts.PaymentMethods
	packs *accounts.CreditPacks
	book  *ledger.Ledger
}

// newRoutedEnv runs two real sandbox processes, sandbox and sandbox-b, with
// cascade = [sandbox, sandbox-b].
func newRoutedEnv(t *testing.T) *routedEnv {
	t.Helper()
	e := newEnv(t)
	h := pluginhost.NewHost(quiet(), nil)
	t.Cleanup(h.Close)
	launch := func(name string) *keyed {
		in, err := h.Launch(context.Background(), pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: name, Path: testbin.Plugin(t, "processor-sandbox"),
			Settings: []byte(`{"state_file":"` + filepath.Join(t.TempDir(), name+".json") + `","webhook_secret":"accounts-test-secret-0123","name":"` + name + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		return &keyed{Processor: pluginhost.NewProcessor(in), refs: map[string]bool{}}
	}
	r := &routedEnv{env: e, a: launch("sandbox"), b: launch("sandbox-b"), book: ledger.New(e.db, ledger.Options{Clock: e.clk})}
	rt, err := routing.New("sandbox", []string{"sandbox-b"}, nil, []string{"sandbox", "sandbox-b"})
	if err != nil {
		t.Fatal(err)
	}
	if r.cards, err = accounts.NewRoutedPaymentMethods(e.svc, rt, map[string]accounts.Checkouts{"sandbox": r.a, "sandbox-b": r.b}); err != nil {
		t.Fatal(err)
	}
	if r.packs, err = accounts.NewCreditPacks(e.svc, r.cards, r.book, testPacks); err != nil {
		t.Fatal(err)
	}
	return r
}

// addCard puts number on file where the routed checkout sends the viewer.
func (r *routedEnv) addCard(t *testing.T, userID, number string) accounts.Card {
	t.Helper()
	ctx := context.Background()
	co, err := r.cards.BeginAddCard(ctx, userID, "https://camkit.test/wallet/card/return", "")
	if err != nil {
		t.Fatal(err)
	}
	p := map[string]*keyed{"sandbox": r.a, "sandbox-b": r.b}[co.Processor]
	u, _ := url.Parse(co.URL)
	resp, err := p.ServeHTTP(ctx, processor.HTTPRequest{Method: "POST", Path: u.Path, Headers: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}},
		Body: []byte(url.Values{"ref": {co.Reference}, "card_number": {number}, "exp": {"12/40"}, "cvc": {"123"}}.Encode())})
	if err != nil || resp.Headers.Get("Location") == "" {
		t.Fatalf("card page at %s: %d %v", co.Processor, resp.Status, err)
	}
	back, _ := url.Parse(resp.Headers.Get("Location"))
	card, err := r.cards.CompleteAddCard(ctx, userID, back.Query())
	if err != nil {
		t.Fatal(err)
	}
	return card
}

// A soft decline at sandbox moves the purchase on to sandbox-b, recorded
// before sandbox-b is asked; when sandbox-b's answer is lost, Resume
// finishes it there under the same key and never asks sandbox again.
func TestCreditPackCascadeResumesWhereItMovedTo(t *testing.T) {
	r := newRoutedEnv(t)
	ctx := context.Background()
	u := r.user(t, "kim@example.com", accounts.RoleViewer)
	if c := r.addCard(t, u.ID, "4000000000009995"); c.Processor != "sandbox" {
		t.Fatalf("first card at %s", c.Processor)
	}
	if c := r.addCard(t, u.ID, "4242424242424242"); c.Processor != "sandbox-b" {
		t.Fatalf("second card at %s", c.Processor)
	}
	r.b.lose = 1
	first, err := r.packs.Buy(ctx, u.ID, "starter", "h:cascade-resume-1")
	if !errs.IsRetryable(err) || first.State != accounts.PurchasePending || first.Processor != "sandbox-b" {
		t.Fatalf("first try: %+v %v, want pending at sandbox-b", first, err)
	}
	var chargeKey, declined string
	if err := r.db.Gorm().Raw(`SELECT charge_key, declined_via FROM credit_pack_purchases WHERE id = ?`, first.ID).Row().Scan(&chargeKey, &declined); err != nil {
		t.Fatal(err)
	}
	if chargeKey != "creditpack/"+first.ID+"/via/sandbox-b" || declined != "sandbox" {
		t.Fatalf("row: charge_key %q declined_via %q", chargeKey, declined)
	}
	if n, err := r.packs.Resume(ctx); err != nil || n != 1 {
		t.Fatalf("Resume: %d %v", n, err)
	}
	list, err := r.packs.Purchases(ctx, u.ID, 10)
	if err != nil || len(list) != 1 || list[0].State != accounts.PurchaseSucceeded || list[0].Processor != "sandbox-b" {
		t.Fatalf("purchases %+v %v", list, err)
	}
	want := "creditpack/" + first.ID + "/via/"
	if !slices.Equal(r.a.keys, []string{want + "sandbox"}) || !slices.Equal(r.b.keys, []string{want + "sandbox-b", want + "sandbox-b"}) {
		t.Fatalf("keys asked: sandbox %v, sandbox-b %v", r.a.keys, r.b.keys)
	}
	if len(r.b.refs) != 1 || len(r.a.refs) != 0 {
		t.Fatalf("charges: sandbox-b %d, sandbox %d; want 1 and 0", len(r.b.refs), len(r.a.refs))
	}
	b, err := r.book.Balance(ctx, accounts.ClearingCode("sandbox-b"), "USD")
	if err != nil || b.DebitsPosted != 1000 {
		t.Fatalf("sandbox-b clearing %+v %v", b, err)
	}
	if rep, err := r.book.Verify(ctx); err != nil || !rep.Clean() {
		t.Fatalf("ledger verify: %v %s", err, rep.Summary())
	}
}

// A purchase left pending by a host older than routing (no charge_key) is
// finished under the one key it used, creditpack/<id>, never a new one.
func TestPendingPurchaseFromBeforeRoutingKeepsItsKey(t *testing.T) {
	r := newRoutedEnv(t)
	ctx := context.Background()
	u := r.user(t, "old@example.com", accounts.RoleViewer)
	r.addCard(t, u.ID, "4242424242424242")
	_, cred, err := r.cards.Credential(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.db.Gorm().Exec(`INSERT INTO credit_pack_purchases (id, user_id, pack_id, processor, credential, price_amount, bonus_amount, currency, state, created_at)
		VALUES ('oldpurchase1', ?, 'starter', 'sandbox', ?, 1000, 0, 'USD', 'pending', ?)`, u.ID, cred.Token, r.clk.Now()).Error; err != nil {
		t.Fatal(err)
	}
	if n, err := r.packs.Resume(ctx); err != nil || n != 1 {
		t.Fatalf("Resume: %d %v", n, err)
	}
	if !slices.Equal(r.a.keys, []string{"creditpack/oldpurchase1"}) || len(r.b.keys) != 0 {
		t.Fatalf("keys asked: sandbox %v, sandbox-b %v", r.a.keys, r.b.keys)
	}
}
