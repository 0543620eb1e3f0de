package accounts_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"testing"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// observed is the real sandbox plugin behind a recorder of every charge it
// made (its references: a second real charge has a second reference), that
// can lose the answer of the next charges after the processor made them —
// what a host crash or a timeout between the charge and its answer looks like.
type observed struct {
	accounts.Checkouts
	mu    sync.Mutex
	calls int
	refs  map[string]bool
	lose  int
}

func (o *observed) Charge(ctx context.Context, req processor.ChargeRequest) (processor.ChargeResult, error) {
	res, err := o.Checkouts.Charge(ctx, req)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if err == nil {
		o.refs[res.Reference] = true
		if o.lose > 0 {
			o.lose--
			return processor.ChargeResult{}, errs.Retry(errs.Timeout, "the processor's answer was lost")
		}
	}
	return res, err
}

func (o *observed) charged() int { o.mu.Lock(); defer o.mu.Unlock(); return len(o.refs) }

// observedPacks sells testPacks through p's sandbox, observed.
func (p *payEnv) observedPacks(t *testing.T) (*accounts.CreditPacks, *observed) {
	t.Helper()
	o := &observed{Checkouts: p.proc, refs: map[string]bool{}}
	packs, err := accounts.NewCreditPacks(p.svc, accounts.NewPaymentMethods(p.svc, "sandbox", o), p.book, testPacks)
	if err != nil {
		t.Fatal(err)
	}
	return packs, o
}

func (p *payEnv) walletPosted(t *testing.T, userID string) int64 {
	t.Helper()
	b, err := accounts.NewWallets(p.svc, p.book).Balance(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return b.Posted.Amount
}

// A retry under the client's key after the processor charged but its answer
// never arrived finds the same purchase and finishes it with the same
// processor key: one charge, one credit. Without a key each call is a new
// purchase, which is why the API documents requests without one as
// unprotected.
func TestCreditPackRetryUnderAKeyAfterALostAnswerChargesOnce(t *testing.T) {
	p := newPayEnv(t)
	ctx := context.Background()
	u, _ := p.addCard(t, "kim@example.com", "4242424242424242")
	packs, proc := p.observedPacks(t)

	proc.lose = 1
	first, err := packs.Buy(ctx, u.ID, "fan", "h:retry-key-0001")
	if !errs.IsRetryable(err) || first.State != accounts.PurchasePending || proc.charged() != 1 {
		t.Fatalf("first attempt: %+v %v (%d charges), want pending with a retryable error after one charge", first, err, proc.charged())
	}
	again, err := packs.Buy(ctx, u.ID, "fan", "h:retry-key-0001")
	if err != nil || again.ID != first.ID || again.State != accounts.PurchaseSucceeded {
		t.Fatalf("retry: %+v %v, want purchase %s succeeded", again, err, first.ID)
	}
	if proc.charged() != 1 || !proc.refs[again.ChargeReference] {
		t.Fatalf("the card was charged %d times (%v), want once under purchase %s", proc.charged(), proc.refs, again.ChargeReference)
	}
	// Answered again from the record: the processor is not asked.
	calls := proc.calls
	if third, err := packs.Buy(ctx, u.ID, "fan", "h:retry-key-0001"); err != nil || third.ID != first.ID || proc.calls != calls {
		t.Fatalf("third call: %+v %v (%d processor calls, was %d)", third, err, proc.calls, calls)
	}
	if got := p.walletPosted(t, u.ID); got != 5750 {
		t.Fatalf("wallet %d, want 57.50 credited once", got)
	}
	if list, err := packs.Purchases(ctx, u.ID, 10); err != nil || len(list) != 1 {
		t.Fatalf("purchases %+v %v, want one", list, err)
	}

	// The same without a key: the retry is a new purchase and a new charge.
	proc.lose = 1
	if _, err := packs.Buy(ctx, u.ID, "starter", ""); !errs.IsRetryable(err) {
		t.Fatalf("keyless first attempt: %v", err)
	}
	if _, err := packs.Buy(ctx, u.ID, "starter", ""); err != nil {
		t.Fatal(err)
	}
	if proc.charged() != 3 {
		t.Fatalf("%d charges: a keyless retry is expected to charge again (it is documented as unprotected)", proc.charged())
	}
	rep, err := p.book.Verify(ctx)
	if err != nil || !rep.Clean() {
		t.Fatalf("ledger verify: %v %s", err, rep.Summary())
	}
}

// Concurrent calls under one key (two hosts, or a middleware bypassed):
// one purchase, one charge, the same answer for every caller.
func TestCreditPackConcurrentBuysUnderOneKeyChargeOnce(t *testing.T) {
	p := newPayEnv(t)
	ctx := context.Background()
	u, _ := p.addCard(t, "lou@example.com", "4242424242424242")
	packs, proc := p.observedPacks(t)
	const n = 6
	var (
		wg  sync.WaitGroup
		out [n]accounts.Purchase
		bad [n]error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], bad[i] = packs.Buy(ctx, u.ID, "starter", "h:double-click-01")
		}()
	}
	wg.Wait()
	for i := range n {
		if bad[i] != nil || out[i].ID != out[0].ID || out[i].State != accounts.PurchaseSucceeded || out[i].ChargeReference != out[0].ChargeReference {
			t.Fatalf("caller %d: %+v %v; caller 0: %+v", i, out[i], bad[i], out[0])
		}
	}
	if proc.charged() != 1 || p.walletPosted(t, u.ID) != 1000 {
		t.Fatalf("%d charges, wallet %d: want one charge of 10.00", proc.charged(), p.walletPosted(t, u.ID))
	}
}

// A key belongs to its user and to one purchase; a decline under a key is
// answered again without asking the processor.
func TestCreditPackKeysArePerUserAndPerPack(t *testing.T) {
	p := newPayEnv(t)
	ctx := context.Background()
	alice, _ := p.addCard(t, "ann@example.com", "4242424242424242")
	bob, _ := p.addCard(t, "ben@example.com", "4242424242424242")
	dee, _ := p.addCard(t, "dee@example.com", "4000000000000002") // declines
	packs, proc := p.observedPacks(t)

	a, err := packs.Buy(ctx, alice.ID, "starter", "h:same-key-0001")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := packs.Buy(ctx, alice.ID, "fan", "h:same-key-0001"); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("alice's key for another pack: %v, want conflict", err)
	}
	b, err := packs.Buy(ctx, bob.ID, "starter", "h:same-key-0001")
	if err != nil || b.ID == a.ID || b.UserID != bob.ID {
		t.Fatalf("bob under alice's key: %+v %v, want his own purchase", b, err)
	}
	if proc.charged() != 2 || p.walletPosted(t, alice.ID) != 1000 || p.walletPosted(t, bob.ID) != 1000 {
		t.Fatalf("%d charges; wallets %d and %d", proc.charged(), p.walletPosted(t, alice.ID), p.walletPosted(t, bob.ID))
	}

	d1, err1 := packs.Buy(ctx, dee.ID, "fan", "h:declined-key-01")
	calls := proc.calls
	d2, err2 := packs.Buy(ctx, dee.ID, "fan", "h:declined-key-01")
	if errs.CodeOf(err1) != errs.Declined || errs.CodeOf(err2) != errs.Declined || d2.ID != d1.ID || d2.State != accounts.PurchaseDeclined ||
		proc.calls != calls || err2.Error() != err1.Error() {
		t.Fatalf("declines: %v / %v (%+v), processor calls %d -> %d", err1, err2, d2, calls, proc.calls)
	}
}

// A card checkout started under a key is one checkout at the processor
// however often it is retried; and two returns from the processor racing
// (a double load of the return page) store the card once, both answering it.
func TestCardCheckoutUnderAKeyStartsOnceAndRacingReturnsStoreOneCard(t *testing.T) {
	p := newPayEnv(t)
	ctx := context.Background()
	u := p.user(t, "cat@example.com", accounts.RoleViewer)
	ret := p.base + "/wallet/card/return"
	co1, err1 := p.cards.BeginAddCard(ctx, u.ID, ret, "h:card-key-0001")
	co2, err2 := p.cards.BeginAddCard(ctx, u.ID, ret, "h:card-key-0001")
	co3, err3 := p.cards.BeginAddCard(ctx, u.ID, ret, "")
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if co1.Reference != co2.Reference || co1.URL != co2.URL || co3.Reference == co1.Reference {
		t.Fatalf("checkouts %s, %s (same key) and %s (no key)", co1.Reference, co2.Reference, co3.Reference)
	}

	// The card typed on the hosted page; stop at the processor's redirect.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(p.base + co1.URL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ref := regexp.MustCompile(`name="ref" value="([^"]+)"`).FindStringSubmatch(string(page))
	if ref == nil {
		t.Fatalf("hosted page: %s", page)
	}
	resp, err = client.PostForm(p.base+"/pay/sandbox/checkout", url.Values{"ref": {ref[1]}, "card_number": {"4242424242424242"}, "exp": {"12/34"}, "cvc": {"123"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusSeeOther || back.Query().Get(accounts.ReturnParam) == "" {
		t.Fatalf("after the card form: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	const n = 4
	var (
		wg    sync.WaitGroup
		cards [n]accounts.Card
		bad   [n]error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cards[i], bad[i] = p.cards.CompleteAddCard(ctx, u.ID, back.Query())
		}()
	}
	wg.Wait()
	for i := range n {
		if bad[i] != nil || cards[i].Last4 != "4242" {
			t.Fatalf("return %d: %+v %v", i, cards[i], bad[i])
		}
	}
	var stored int
	if err := p.db.SQL().QueryRow(`SELECT count(*) FROM payment_methods WHERE user_id = $1`, u.ID).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("%d cards on file (%v)", stored, err)
	}
}
