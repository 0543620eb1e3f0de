package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/app"
	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// Routing and cascade (issue 11, item 4) between two real sandbox processes,
// "sandbox" (the default, A) and "sandbox-b" (B), with cascade = [A, B].

const (
	cardNSF   = "4000000000009995" // errs.InsufficientFunds: soft
	cardFraud = "4100000000000019" // errs.FraudSuspected: hard
)

// downable puts a switch in front of a processor's StartCheckout: while
// down, it answers as the plugin host does for a plugin that is restarting.
type downable struct {
	processor.Processor
	down atomic.Bool
}

func (d *downable) StartCheckout(ctx context.Context, r processor.StartCheckoutRequest) (processor.Checkout, error) {
	if d.down.Load() {
		return processor.Checkout{}, errs.Retry(errs.Unavailable, "plugin processor-sandbox is restarting")
	}
	return d.Processor.StartCheckout(ctx, r)
}

func routedSite(t *testing.T) (*site, *downable) {
	a := &downable{}
	s := newSiteWith(t, storetest.Postgres(t), func(c *config.Config) {
		c.Plugins.Processors = []string{"sandbox-b"}
		c.Routing.Cascade = []string{"sandbox", "sandbox-b"}
	}, siteOptions{Sandboxes: []string{"sandbox-b"}, Wrap: func(p *app.Plugins) {
		a.Processor = p.Processor
		p.Processor = a
	}})
	return s, a
}

var payLink = regexp.MustCompile(`/pay/(sandbox(?:-b)?)/checkout\?ref=[^"&]+`)

// addCardAt goes through whichever processor's card page the site sends the
// viewer to, and says which one that was.
func addCardAt(t *testing.T, b *browser, number string) string {
	t.Helper()
	co := b.get("/wallet/card").must(t, http.StatusOK, "checkout page")
	m := payLink.FindStringSubmatch(htmlUnescape(co.body))
	if m == nil {
		t.Fatalf("checkout page links no sandbox card page:\n%s", co.body)
	}
	page := b.get(m[0]).must(t, http.StatusOK, m[1]+" card page")
	back := b.form("/pay/"+m[1]+"/checkout", url.Values{"ref": {regexp1(page.body, `name="ref" value="([^"]+)"`)}, "card_number": {number},
		"exp": {"12/34"}, "cvc": {"123"}}, false).must(t, http.StatusSeeOther, m[1]+" card form")
	b.get(mustURL(back.hdr.Get("Location")).RequestURI()).must(t, http.StatusSeeOther, "card return")
	return m[1]
}

// chargesAt counts the charges processor name ever made, from its state file.
func (s *site) chargesAt(name string) int {
	for _, in := range s.host.Instances() {
		if in.Spec().Name != name {
			continue
		}
		var st struct {
			StateFile string `json:"state_file"`
		}
		if err := json.Unmarshal(in.Spec().Settings, &st); err != nil {
			s.t.Fatal(err)
		}
		refs := map[string]bool{}
		for _, f := range []string{st.StateFile, st.StateFile + ".journal"} {
			b, err := os.ReadFile(f)
			if err != nil && !os.IsNotExist(err) {
				s.t.Fatal(err)
			}
			for _, r := range chargeRef.FindAll(b, -1) {
				refs[string(r)] = true
			}
		}
		return len(refs)
	}
	s.t.Fatalf("no processor %s", name)
	return 0
}

func (s *site) clearing(name string) int64 {
	b, err := s.app.Ledger.Balance(context.Background(), accounts.ClearingCode(name), "USD")
	if errs.CodeOf(err) == errs.NotFound {
		return 0 // never used: no such account yet
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return b.DebitsPosted - b.CreditsPosted
}

func (s *site) userID(email string) string {
	u, err := s.acc.UserByEmail(context.Background(), email)
	if err != nil {
		s.t.Fatal(err)
	}
	return u.ID
}

func TestCascadeSoftDeclineAtAPaysAtB(t *testing.T) {
	s, _ := routedSite(t)
	alice := s.browser("alice")
	alice.signup("alice@example.com", "Alice", "viewer")
	// The first card goes to the first choice; the second to the processor
	// where she has none yet, so the cascade has somewhere to go.
	if at := addCardAt(t, alice, cardNSF); at != "sandbox" {
		t.Fatalf("first card went to %s", at)
	}
	if at := addCardAt(t, alice, cardOK); at != "sandbox-b" {
		t.Fatalf("second card went to %s", at)
	}
	var first, again struct{ ID, Processor, State string }
	alice.post("/credit-packs/starter/purchases", "", "cascade-key-0001").must(t, http.StatusCreated, "buy").json(t, &first)
	if first.Processor != "sandbox-b" || first.State != "succeeded" {
		t.Fatalf("purchase %+v, want succeeded at sandbox-b", first)
	}
	// A retry of the whole request charges nobody again.
	alice.post("/credit-packs/starter/purchases", "", "cascade-key-0001").must(t, http.StatusCreated, "buy again").json(t, &again)
	if again != first {
		t.Fatalf("retry answered %+v, first %+v", again, first)
	}
	// And the service under the same key (below the HTTP replay) finds the
	// same purchase: each processor's attempt key is the request's + /via/<name>.
	pu, err := s.app.Packs.Buy(context.Background(), s.userID("alice@example.com"), "starter", "h:cascade-key-0001")
	if err != nil {
		t.Fatal(err)
	}
	_ = pu
	if n := s.chargesAt("sandbox-b"); n != 1 {
		t.Fatalf("sandbox-b charged %d times, want 1", n)
	}
	if n := s.chargesAt("sandbox"); n != 0 {
		t.Fatalf("sandbox charged %d times after declining", n)
	}
	// The ledger names the processor per charge: B's clearing account owes
	// the pack, A's nothing.
	if b, a := s.clearing("sandbox-b"), s.clearing("sandbox"); b == 0 || a != 0 {
		t.Fatalf("clearing: sandbox-b %d, sandbox %d", b, a)
	}
	w := &world{site: s}
	if got := w.posted(s.userID("alice@example.com")); got != 1000 {
		t.Fatalf("wallet %d, want 1000", got)
	}
	w.ledgerClean()
}

func TestHardDeclineDoesNotCascade(t *testing.T) {
	s, _ := routedSite(t)
	bob := s.browser("bob")
	bob.signup("bob@example.com", "Bob", "viewer")
	if at := addCardAt(t, bob, cardFraud); at != "sandbox" {
		t.Fatalf("first card went to %s", at)
	}
	if at := addCardAt(t, bob, cardOK); at != "sandbox-b" {
		t.Fatalf("second card went to %s", at)
	}
	r := bob.post("/credit-packs/starter/purchases", "", "hard-key-000001").must(t, http.StatusPaymentRequired, "buy with a stolen card")
	if strings.Contains(r.body, "sandbox-b") {
		t.Fatalf("decline answer names the other processor: %s", r.body)
	}
	if n := s.chargesAt("sandbox-b"); n != 0 {
		t.Fatalf("a hard decline cascaded: sandbox-b charged %d times", n)
	}
	list, err := s.app.Packs.Purchases(context.Background(), s.userID("bob@example.com"), 10)
	if err != nil || len(list) != 1 || list[0].State != accounts.PurchaseDeclined || list[0].Processor != "sandbox" || list[0].ErrorCode != errs.FraudSuspected {
		t.Fatalf("purchases %+v %v", list, err)
	}
	if s.clearing("sandbox-b") != 0 || s.clearing("sandbox") != 0 {
		t.Fatal("money moved on a hard decline")
	}
}

func TestCardCheckoutCascadesPastAnUnavailableProcessor(t *testing.T) {
	s, a := routedSite(t)
	carol := s.browser("carol")
	carol.signup("carol@example.com", "Carol", "viewer")
	a.down.Store(true)
	if at := addCardAt(t, carol, cardOK); at != "sandbox-b" {
		t.Fatalf("with sandbox down the card checkout went to %s", at)
	}
	var card struct {
		Processor, Last4 string
		Retired          bool
	}
	carol.api(http.MethodGet, "/card", nil, "").must(t, http.StatusOK, "card").json(t, &card)
	if card.Processor != "sandbox-b" || card.Last4 != "4242" || card.Retired {
		t.Fatalf("card on file %+v", card)
	}
	// Back up: her next pack is charged to the card she has, at B.
	a.down.Store(false)
	var pu struct{ Processor, State string }
	carol.post("/credit-packs/starter/purchases", "", "carol-key-00001").must(t, http.StatusCreated, "buy").json(t, &pu)
	if pu.Processor != "sandbox-b" || pu.State != "succeeded" {
		t.Fatalf("purchase %+v", pu)
	}
}

// After the operator swaps plugins.processor from sandbox to sandbox-b, a
// viewer whose card is at sandbox is asked, in so many words, for a card at
// sandbox-b, and her next pack is charged there.
func TestAfterASwapTheViewerIsAskedForACardAtTheNewProcessor(t *testing.T) {
	db := storetest.Postgres(t)
	before := newSiteOn(t, db, nil)
	alice := before.browser("alice")
	alice.signup("alice@example.com", "Alice", "viewer")
	if at := addCardAt(t, alice, cardOK); at != "sandbox" {
		t.Fatalf("card went to %s", at)
	}
	before.app.Close()

	after := newSiteWith(t, db, func(c *config.Config) {
		c.Plugins.Processor = "sandbox-b"
		c.Plugins.RetiredProcessors = []string{"sandbox"}
	}, siteOptions{Sandboxes: []string{"sandbox-b"}, Default: "sandbox-b"})
	alice = after.browser("alice")
	alice.login("alice@example.com")
	const said = "Your saved card (visa ending 4242) was with sandbox"
	if page := alice.get("/wallet").must(t, http.StatusOK, "wallet"); !strings.Contains(htmlUnescape(page.body), said) {
		t.Fatalf("wallet does not say where the card was:\n%s", page.body)
	}
	r := alice.form("/wallet/packs", url.Values{"pack": {"starter"}}, true).must(t, http.StatusSeeOther, "buy with the old card")
	if loc := r.hdr.Get("Location"); !strings.HasPrefix(loc, "/wallet/card") {
		t.Fatalf("buying sends the viewer to %q, want the add-card page", loc)
	}
	page := alice.get("/wallet/card").must(t, http.StatusOK, "add a card")
	body := htmlUnescape(page.body)
	if !strings.Contains(body, said) || !strings.Contains(body, "Add a card to continue") || !strings.Contains(body, "Continue to sandbox-b") ||
		!strings.Contains(body, "/pay/sandbox-b/checkout") {
		t.Fatalf("the add-card page does not ask for a card at sandbox-b:\n%s", page.body)
	}
	if at := addCardAt(t, alice, cardOK); at != "sandbox-b" {
		t.Fatalf("new card went to %s", at)
	}
	var pu struct{ Processor, State string }
	alice.post("/credit-packs/starter/purchases", "", "after-swap-key-1").must(t, http.StatusCreated, "buy").json(t, &pu)
	if pu.Processor != "sandbox-b" || pu.State != "succeeded" || after.chargesAt("sandbox") != 0 {
		t.Fatalf("purchase %+v, sandbox charges %d", pu, after.chargesAt("sandbox"))
	}
	var card struct {
		Processor string
		Retired   bool
	}
	alice.api(http.MethodGet, "/card", nil, "").must(t, http.StatusOK, "card").json(t, &card)
	if card.Processor != "sandbox-b" || card.Retired {
		t.Fatalf("card on file %+v", card)
	}
}
