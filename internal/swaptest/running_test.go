package swaptest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/clock/clocktest"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/routing"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
)

// Swapping processors on a running site (issue 11, item 5): the operator
// changes plugins.processor from sandbox to sandbox-b (another real plugin
// process; the sandbox binary under a second name) while a viewer has a card
// on file at sandbox and a private seat open there. The host now loads
// sandbox as retired: the open seat keeps extending and settles at sandbox,
// its refund and chargeback arrive through sandbox's webhooks and reach the
// ledger, new funding asks for a card at sandbox-b, and the ledger balances.

// swapSite is the accounts and billing services over both processors.
type swapSite struct {
	w          *world // name "sandbox": the old processor, as the scenario's helpers expect
	acc        *accounts.Service
	oldP, newP processor.Processor
	newCalls   *counting
	viewerID   string
}

func newSwapSite(t *testing.T) *swapSite {
	t.Helper()
	ctx := context.Background()
	db := storetest.Postgres(t)
	w := &world{t: t, ctx: ctx, name: "sandbox", clk: clocktest.NewFake(time.Now().UTC().Truncate(time.Second)), events: &eventLog{}}
	w.led = ledger.New(db, ledger.Options{Clock: w.clk})
	host := pluginhost.NewHost(quiet(), nil)
	t.Cleanup(host.Close)
	launch := func(kind pluginkit.Kind, name, file string, settings []byte) *pluginhost.Instance {
		in, err := host.Launch(ctx, pluginhost.Spec{Kind: kind, Name: name, Path: testbin.Plugin(t, file), Settings: settings})
		if err != nil {
			t.Fatalf("launch %s: %v", name, err)
		}
		return in
	}
	sandboxSettings := func(name string) []byte {
		b, _ := json.Marshal(map[string]any{"state_file": filepath.Join(t.TempDir(), name+".json"), "webhook_secret": sandboxSecret, "name": name})
		return b
	}
	s := &swapSite{w: w}
	s.oldP = pluginhost.NewProcessor(launch(pluginkit.KindProcessor, "sandbox", "processor-sandbox", sandboxSettings("sandbox")))
	s.newP = pluginhost.NewProcessor(launch(pluginkit.KindProcessor, "sandbox-b", "processor-sandbox", sandboxSettings("sandbox-b")))
	w.proc = s.oldP
	w.calls = &counting{Processor: s.oldP, n: map[string]int{}}
	s.newCalls = &counting{Processor: s.newP, n: map[string]int{}}
	splitter := pluginhost.NewSplit(launch(pluginkit.KindSplit, "percentage", "split-percentage", nil))
	var err error
	// The engine has both from the start: it never routes, it calls the
	// processor each seat names.
	w.eng, err = billing.NewEngine(billing.Config{DB: db, Ledger: w.led, Clock: w.clk, Log: quiet(),
		Processors: map[string]processor.Processor{"sandbox": w.calls, "sandbox-b": s.newCalls}, Splitter: splitter, Events: w.events,
		FlushEvery: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.eng.Close() })
	s.acc, err = accounts.New(ctx, db, accounts.Options{Currency: "USD", Clock: w.clk, PasswordParams: accounts.TestPasswordParams})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.acc.CreateUser(ctx, accounts.NewUser{Email: "viv@example.com", DisplayName: "Viv", Password: "correct horse battery", Role: accounts.RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	s.viewerID = u.ID
	return s
}

// cards is the site's card service as configured: default is
// plugins.processor, retired what the host loaded as retired.
func (s *swapSite) cards(t *testing.T, def string, retired ...string) (*accounts.PaymentMethods, *accounts.CreditPacks) {
	t.Helper()
	r, err := routing.New(def, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]accounts.Checkouts{"sandbox": s.w.calls, "sandbox-b": s.newCalls}
	for name := range clients {
		if name != def && !strings.Contains(strings.Join(retired, ","), name) {
			delete(clients, name)
		}
	}
	pm, err := accounts.NewRoutedPaymentMethods(s.acc, r, clients)
	if err != nil {
		t.Fatal(err)
	}
	packs, err := accounts.NewCreditPacks(s.acc, pm, s.w.led, []accounts.Pack{{ID: "starter", Name: "Starter", Price: usd(1000)}})
	if err != nil {
		t.Fatal(err)
	}
	return pm, packs
}

// addCard types the card on the processor's page the checkout names, as the
// viewer's browser does, and completes it.
func (s *swapSite) addCard(t *testing.T, pm *accounts.PaymentMethods, number string) accounts.Card {
	t.Helper()
	co, err := pm.BeginAddCard(s.w.ctx, s.viewerID, "https://camkit.test/wallet/card/return", "")
	if err != nil {
		t.Fatal(err)
	}
	p := map[string]processor.Processor{"sandbox": s.oldP, "sandbox-b": s.newP}[co.Processor]
	u, _ := url.Parse(co.URL)
	if u.Path != "/pay/"+co.Processor+"/checkout" {
		t.Fatalf("checkout at %s sends the viewer to %s", co.Processor, co.URL)
	}
	form := url.Values{"ref": {co.Reference}, "card_number": {number}, "exp": {"12/40"}, "cvc": {"123"}}
	resp, err := p.ServeHTTP(s.w.ctx, httpForm(u.Path, form.Encode()))
	if err != nil || resp.Headers.Get("Location") == "" {
		t.Fatalf("card page: %d %v %s", resp.Status, err, resp.Body)
	}
	back, _ := url.Parse(resp.Headers.Get("Location"))
	card, err := pm.CompleteAddCard(s.w.ctx, s.viewerID, back.Query())
	if err != nil {
		t.Fatal(err)
	}
	return card
}

func TestSwapProcessorsOnARunningSite(t *testing.T) {
	s := newSwapSite(t)
	w := s.w
	before, packsBefore := s.cards(t, "sandbox")
	if card := s.addCard(t, before, "4242424242424242"); card.Processor != "sandbox" {
		t.Fatalf("card went to %s", card.Processor)
	}
	bought, err := packsBefore.Buy(w.ctx, s.viewerID, "starter", "h:pack-before-swap")
	if err != nil || bought.Processor != "sandbox" {
		t.Fatalf("pack before the swap: %+v %v", bought, err)
	}

	// The seat opens at sandbox with the card on file.
	procName, cred, err := before.Credential(w.ctx, s.viewerID)
	if err != nil || procName != "sandbox" {
		t.Fatalf("credential %s %v", procName, err)
	}
	info, err := w.eng.OpenSeat(w.ctx, billing.OpenRequest{SeatID: "seat1", ShowID: "show1", Kind: split.KindPrivate,
		ViewerID: s.viewerID, ModelID: model, Policy: pricing.DefaultPolicy(usd(ratePerMinute)),
		Funding: billing.Funding{Processor: procName, Credential: &cred}})
	if err != nil || info.Strategy != billing.CardHold {
		t.Fatalf("OpenSeat: %+v %v", info, err)
	}
	t0 := info.OpenedAt
	w.live(meter.ModelMediaFlowing, w.clk.Now())
	w.live(meter.ViewerConnected, w.clk.Now())
	w.clk.Advance(100 * time.Second)
	w.live(meter.ViewerDisconnected, t0.Add(97*time.Second))
	w.clk.Advance(30 * time.Second)
	w.live(meter.ViewerConnected, w.clk.Now())

	// The swap: plugins.processor = "sandbox-b"; sandbox is still referenced
	// (a card on file, an open seat), so it is loaded as retired.
	after, packsAfter := s.cards(t, "sandbox-b", "sandbox")
	card, err := after.Card(w.ctx, s.viewerID)
	if err != nil || card.Processor != "sandbox" || !card.Retired {
		t.Fatalf("card on file after the swap: %+v %v", card, err)
	}
	// New funding asks for a card at the new processor, naming the old one.
	_, err = packsAfter.Buy(w.ctx, s.viewerID, "starter", "h:pack-after-swap")
	var need *accounts.NeedCard
	if !errors.As(err, &need) || errs.CodeOf(err) != errs.NotFound || need.Was.Processor != "sandbox" || need.Processor != "sandbox-b" ||
		!strings.Contains(err.Error(), "was with sandbox; add a card to continue") {
		t.Fatalf("buying with only the old card: %v", err)
	}
	if _, _, err := after.Credential(w.ctx, s.viewerID); !errors.As(err, &need) {
		t.Fatalf("a new seat would fund with the old card: %v", err)
	}

	// The open seat keeps extending at sandbox, never at sandbox-b.
	w.clk.Advance(470 * time.Second)
	ext := w.events.of(billing.EventFundingExtended)
	if len(ext) != 2 || ext[1].Funded != usd(fundedCents) {
		t.Fatalf("extensions after the swap %+v, want two, to 1800", ext)
	}
	if n := w.calls.count("authorize"); n != 3 {
		t.Fatalf("%d holds at sandbox, want the first and two extensions", n)
	}
	if n := s.newCalls.count("authorize") + s.newCalls.count("charge") + s.newCalls.count("capture"); n != 0 {
		t.Fatalf("the open seat called sandbox-b %d times", n)
	}
	end, err := w.eng.EndSeat(w.ctx, "seat1", billing.ClosedByViewer)
	if err != nil || !end.Settled {
		t.Fatalf("EndSeat: %v %+v", err, end.Status)
	}
	r := end.Receipt
	if r.Processor != "sandbox" || r.Price != price || r.BillableSeconds != billableSecs {
		t.Fatalf("receipt: %s %v %d s, want sandbox %v %d s", r.Processor, r.Price, r.BillableSeconds, price, billableSecs)
	}
	fk := startSandbox(t) // its refund/chargeback notices and settled check, signed for sandbox
	fk.settled(w, r)

	// Refund and chargeback of the old card's charge, through sandbox's
	// webhooks, reach the ledger and the receipt.
	reversals(t, w, swap{name: "sandbox", strategy: billing.CardHold}, fk, r)

	// The viewer adds a card: it goes to sandbox-b, and new funding uses it.
	if c := s.addCard(t, after, "4242424242424242"); c.Processor != "sandbox-b" || c.Retired {
		t.Fatalf("new card %+v", c)
	}
	pu, err := packsAfter.Buy(w.ctx, s.viewerID, "starter", "h:pack-after-card")
	if err != nil || pu.Processor != "sandbox-b" || pu.State != accounts.PurchaseSucceeded || s.newCalls.count("charge") != 1 {
		t.Fatalf("pack after the new card: %+v %v", pu, err)
	}
	cards, err := after.Cards(w.ctx, s.viewerID)
	if err != nil || len(cards) != 2 {
		t.Fatalf("cards on file %+v %v: the old one must stay for its processor", cards, err)
	}
	if got := w.balance("processor:sandbox-b:clearing").DebitsPosted; got != 1000 {
		t.Fatalf("sandbox-b clearing %d, want the 1000 of its pack", got)
	}
	if got := w.balance("processor:sandbox:clearing").DebitsPosted; got < 1000+price.Amount {
		t.Fatalf("sandbox clearing %d, want the old pack and the seat", got)
	}
	if got := w.posted("viewer:" + s.viewerID + ":wallet"); got != 2000 {
		t.Fatalf("wallet %d, want both packs", got)
	}
	w.verifyLedger()
}

// TestDeclinedExtensionNeverSwitchesProcessor: with routing and a cascade
// (sandbox first, then sandbox-b) and a card at each, a seat opened at
// sandbox whose extension sandbox declines is not extended at sandbox-b:
// the seat's holds stay with the processor that opened it, and it ends at
// what was funded.
func TestDeclinedExtensionNeverSwitchesProcessor(t *testing.T) {
	s := newSwapSite(t)
	w := s.w
	r, err := routing.New("sandbox", []string{"sandbox-b"}, nil, []string{"sandbox", "sandbox-b"})
	if err != nil {
		t.Fatal(err)
	}
	pm, err := accounts.NewRoutedPaymentMethods(s.acc, r, map[string]accounts.Checkouts{"sandbox": w.calls, "sandbox-b": s.newCalls})
	if err != nil {
		t.Fatal(err)
	}
	// Approves its first authorisation, declines every later one.
	if c := s.addCard(t, pm, "4000000000000341"); c.Processor != "sandbox" {
		t.Fatalf("first card at %s", c.Processor)
	}
	if c := s.addCard(t, pm, "4242424242424242"); c.Processor != "sandbox-b" {
		t.Fatalf("second card at %s", c.Processor)
	}
	routes, err := pm.Routes(w.ctx, s.viewerID, "USD")
	if err != nil || len(routes) != 2 || routes[0].Processor != "sandbox" || routes[1].Processor != "sandbox-b" {
		t.Fatalf("routes %+v %v", routes, err)
	}
	info, err := w.eng.OpenSeat(w.ctx, billing.OpenRequest{SeatID: "seat1", ShowID: "show1", Kind: split.KindPrivate,
		ViewerID: s.viewerID, ModelID: model, Policy: pricing.DefaultPolicy(usd(ratePerMinute)),
		Funding: billing.Funding{Processor: routes[0].Processor, Credential: &routes[0].Credential}})
	if err != nil {
		t.Fatal(err)
	}
	w.live(meter.ModelMediaFlowing, w.clk.Now())
	w.live(meter.ViewerConnected, w.clk.Now())
	for i := 0; i < 40; i++ { // past the extension point and the funded end
		w.clk.Advance(10 * time.Second)
	}
	if n := w.calls.count("authorize"); n < 2 {
		t.Fatalf("%d authorisations at sandbox: the extension was never tried there", n)
	}
	if n := s.newCalls.count("authorize") + s.newCalls.count("charge"); n != 0 {
		t.Fatalf("the seat's extension went to sandbox-b (%d calls)", n)
	}
	end, err := w.eng.EndSeat(w.ctx, "seat1", billing.ClosedByViewer)
	if err != nil || !end.Settled {
		t.Fatalf("EndSeat: %v %+v", err, end.Status)
	}
	if rc := end.Receipt; rc.Processor != "sandbox" || rc.Funded != info.Funded || rc.Price.Amount > info.Funded.Amount {
		t.Fatalf("receipt %s funded %v price %v, want sandbox, the first block %v and no more", rc.Processor, rc.Funded, rc.Price, info.Funded)
	}
	if n := s.newCalls.count("authorize") + s.newCalls.count("charge") + s.newCalls.count("capture"); n != 0 {
		t.Fatalf("settlement called sandbox-b %d times", n)
	}
	w.verifyLedger()
}
