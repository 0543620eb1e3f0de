package accounts_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/web"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
)

type payEnv struct {
	*env
	logs  *testbin.Output
	proc  pluginhost.Processor
	cards *accounts.PaymentMethods
	packs *accounts.CreditPacks
	book  *ledger.Ledger
	base  string // http://127.0.0.1:port
	state string // the sandbox's state file
}

var testPacks = []accounts.Pack{
	{ID: "starter", Name: "Starter", Price: money.Money{Amount: 1000, Currency: "USD"}},
	{ID: "fan", Name: "Fan", Price: money.Money{Amount: 5000, Currency: "USD"}, Bonus: money.Money{Amount: 750, Currency: "USD"}, Badge: "Best value"},
}

// newPayEnv runs the real sandbox plugin process behind a real HTTP server
// that proxies /pay/sandbox/* exactly as core/web does, with the accounts
// middleware in front (the card form's POST must pass CSRF as a processor route).
func newPayEnv(t *testing.T) *payEnv {
	t.Helper()
	e := newEnv(t)
	logs := &testbin.Output{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := pluginhost.NewHost(log, nil)
	t.Cleanup(h.Close)
	state := filepath.Join(t.TempDir(), "sandbox.json")
	in, err := h.Launch(context.Background(), pluginhost.Spec{
		Kind: pluginkit.KindProcessor, Name: "sandbox", Path: testbin.Plugin(t, "processor-sandbox"),
		Settings: []byte(`{"state_file":"` + state + `","webhook_secret":"accounts-test-secret-0123"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	proc := pluginhost.NewProcessor(in)
	book := ledger.New(e.db, ledger.Options{Clock: e.clk})
	cards := accounts.NewPaymentMethods(e.svc, "sandbox", proc)
	packs, err := accounts.NewCreditPacks(e.svc, cards, book, testPacks)
	if err != nil {
		t.Fatal(err)
	}
	srv := web.New(web.Options{Log: log, Registry: prometheus.NewRegistry()})
	app := srv.App()
	mw := accounts.NewHTTP(e.svc, accounts.HTTPOptions{InsecureCookies: true})
	app.Use(mw.Session(), mw.CSRF())
	(&web.ProcessorRoutes{Name: "sandbox", Processor: proc}).Mount(app)
	// Stand-ins for the wallet pages: the signed-in viewer adds a card.
	app.Get("/wallet/card/add", mw.RequireUser(), func(c *fiber.Ctx) error {
		u, _ := accounts.CurrentUser(c)
		co, err := cards.BeginAddCard(c.UserContext(), u.ID, "/wallet/card/return", "")
		if err != nil {
			return err
		}
		return c.Redirect(co.URL, fiber.StatusSeeOther)
	})
	app.Get("/wallet/card/return", mw.RequireUser(), func(c *fiber.Ctx) error {
		u, _ := accounts.CurrentUser(c)
		q, _ := url.ParseQuery(string(c.Request().URI().QueryString()))
		card, err := cards.CompleteAddCard(c.UserContext(), u.ID, q)
		if err != nil {
			return err
		}
		return c.SendString("saved " + card.Brand + " " + card.Last4)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return &payEnv{env: e, logs: logs, proc: proc, cards: cards, packs: packs, book: book, base: "http://" + ln.Addr().String(), state: state}
}

// addCard signs a new viewer in and adds number through the hosted page,
// with net/http as the browser.
func (p *payEnv) addCard(t *testing.T, email, number string) (accounts.User, string) {
	t.Helper()
	u := p.user(t, email, accounts.RoleViewer)
	r, err := p.svc.Login(context.Background(), accounts.LoginRequest{Email: email, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	base, _ := url.Parse(p.base)
	jar.SetCookies(base, []*http.Cookie{{Name: accounts.SessionCookie, Value: r.Token, Path: "/"}})
	client := &http.Client{Jar: jar}
	resp, err := client.Get(p.base + "/wallet/card/add")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `name="card_number"`) {
		t.Fatalf("hosted card page: %d %s", resp.StatusCode, page)
	}
	action := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindStringSubmatch(string(page))
	ref := regexp.MustCompile(`name="ref" value="([^"]+)"`).FindStringSubmatch(string(page))
	if action == nil || ref == nil {
		t.Fatalf("no form on the hosted page: %s", page)
	}
	resp, err = client.PostForm(p.base+action[1], url.Values{"ref": {ref[1]}, "card_number": {number}, "exp": {"12/34"}, "cvc": {"123"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after the card form: %d %s", resp.StatusCode, body)
	}
	return u, string(body)
}

// dump is every row of every table, as text: what a database dump holds.
func dump(t *testing.T, db *store.DB) string {
	t.Helper()
	rows, err := db.SQL().Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("only %d tables found: %v", len(tables), tables)
	}
	var sb strings.Builder
	for _, tb := range tables {
		rs, err := db.SQL().Query(`SELECT t::text FROM ` + tb + ` t`)
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
			var line string
			_ = rs.Scan(&line)
			sb.WriteString(tb + " " + line + "\n")
		}
		rs.Close()
	}
	return sb.String()
}

func TestCardOnFileThroughTheSandboxHostedPageStoresNoCardNumber(t *testing.T) {
	p := newPayEnv(t)
	ctx := context.Background()
	u, body := p.addCard(t, "viv@example.com", "4242 4242 4242 4242")
	if body != "saved visa 4242" && body != "saved Visa 4242" {
		t.Fatalf("return page: %q", body)
	}
	card, err := p.cards.Card(ctx, u.ID)
	if err != nil || card.Last4 != "4242" || card.Processor != "sandbox" || card.ExpYear != 2034 || card.ExpMonth != 12 {
		t.Fatalf("card on file %+v %v", card, err)
	}
	cred, err := p.cards.Credential(ctx, u.ID)
	if err != nil || !strings.HasPrefix(cred.Token, "sbx_tok_") {
		t.Fatalf("credential %+v %v", cred, err)
	}

	// Adding again replaces the card: one per viewer.
	_, body2 := p.addCardFor(t, u, "5555 5555 5555 4444")
	if !strings.Contains(body2, "4444") {
		t.Fatalf("second card: %q", body2)
	}
	var n int
	if err := p.db.SQL().QueryRow(`SELECT count(*) FROM payment_methods WHERE user_id = $1`, u.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d cards on file (%v), want 1", n, err)
	}
	if c, _ := p.cards.Card(ctx, u.ID); c.Last4 != "4444" {
		t.Fatalf("after replacing: %+v", c)
	}

	d := dump(t, p.db)
	if !strings.Contains(d, "sbx_tok_") || !strings.Contains(d, "4444") {
		t.Fatalf("the dump does not even hold the credential; the check below would prove nothing:\n%s", d)
	}
	logs := p.logs.String()
	for _, pan := range []string{"4242424242424242", "4242 4242 4242 4242", "5555555555554444", "5555 5555 5555 4444"} {
		if strings.Contains(d, pan) {
			t.Errorf("database dump contains the card number %s", pan)
		}
		if strings.Contains(logs, pan) {
			t.Errorf("logs contain the card number %s", pan)
		}
	}
}

// addCardFor adds a card for an existing, signed-in-able user.
func (p *payEnv) addCardFor(t *testing.T, u accounts.User, number string) (accounts.User, string) {
	t.Helper()
	r, err := p.svc.Login(context.Background(), accounts.LoginRequest{Email: u.Email, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	base, _ := url.Parse(p.base)
	jar.SetCookies(base, []*http.Cookie{{Name: accounts.SessionCookie, Value: r.Token, Path: "/"}})
	client := &http.Client{Jar: jar}
	resp, err := client.Get(p.base + "/wallet/card/add")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ref := regexp.MustCompile(`name="ref" value="([^"]+)"`).FindStringSubmatch(string(page))
	if ref == nil {
		t.Fatalf("no form: %s", page)
	}
	resp, err = client.PostForm(p.base+"/pay/sandbox/checkout", url.Values{"ref": {ref[1]}, "card_number": {number}, "exp": {"12/34"}, "cvc": {"123"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return u, string(body)
}

func TestCreditPackPurchaseCreditsTheWalletAndTheLedgerVerifies(t *testing.T) {
	p := newPayEnv(t)
	ctx := context.Background()
	u, _ := p.addCard(t, "wes@example.com", "4242424242424242")
	wallets := accounts.NewWallets(p.svc, p.book)

	pur, err := p.packs.Buy(ctx, u.ID, "fan", "")
	if err != nil {
		t.Fatal(err)
	}
	if pur.State != accounts.PurchaseSucceeded || !strings.HasPrefix(pur.ChargeReference, "sbx_ch_") {
		t.Fatalf("purchase %+v", pur)
	}
	if _, err := p.packs.Buy(ctx, u.ID, "starter", ""); err != nil {
		t.Fatal(err)
	}
	bal, err := wallets.Balance(ctx, u.ID)
	if err != nil || bal.Posted.Amount != 5000+750+1000 || bal.Available.Amount != 6750 || bal.Held.Amount != 0 {
		t.Fatalf("wallet %+v %v, want 67.50 USD", bal, err)
	}
	clearing, err := p.book.Balance(ctx, accounts.ClearingCode("sandbox"), "USD")
	if err != nil || clearing.DebitsPosted != 6000 {
		t.Fatalf("clearing %+v %v, want 60.00 owed by the processor", clearing, err)
	}
	rev, err := p.book.Balance(ctx, "platform:revenue", "USD")
	if err != nil || rev.DebitsPosted != 750 {
		t.Fatalf("platform revenue %+v %v, want the 7.50 bonus as its expense", rev, err)
	}
	rep, err := p.book.Verify(ctx)
	if err != nil || !rep.Clean() {
		t.Fatalf("ledger verify: %v %s", err, rep.Summary())
	}
	hist, err := wallets.History(ctx, u.ID, 10)
	if err != nil || len(hist) != 3 {
		t.Fatalf("history %+v %v", hist, err)
	}
	if hist[0].Amount.Amount != 1000 || hist[0].Balance.Amount != 6750 || hist[2].Amount.Amount != 5000 || hist[2].Balance.Amount != 5000 ||
		!strings.HasPrefix(hist[1].Reference, "creditpack/"+pur.ID+"/bonus") || !strings.Contains(hist[1].Description, "bonus") {
		t.Fatalf("history newest first: %+v", hist)
	}
	// Unknown packs and non-viewers are refused before anything moves.
	if _, err := p.packs.Buy(ctx, u.ID, "mega", ""); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("unknown pack: %v", err)
	}
	m := p.user(t, "model@example.com", accounts.RoleModel)
	if _, err := p.packs.Buy(ctx, m.ID, "fan", ""); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("model buying: %v", err)
	}
	noCard := p.user(t, "nocard@example.com", accounts.RoleViewer)
	if _, err := p.packs.Buy(ctx, noCard.ID, "fan", ""); errs.CodeOf(err) != errs.NotFound || !strings.Contains(err.Error(), "no card") {
		t.Fatalf("no card on file: %v", err)
	}
}

func TestDeclinedCardBuysNothing(t *testing.T) {
	p := newPayEnv(t)
	ctx := context.Background()
	u, _ := p.addCard(t, "dee@example.com", "4000000000000002") // the sandbox's decline card
	pur, err := p.packs.Buy(ctx, u.ID, "fan", "")
	if errs.CodeOf(err) != errs.Declined {
		t.Fatalf("buy with the decline card: %v, want declined", err)
	}
	if pur.State != accounts.PurchaseDeclined {
		t.Fatalf("purchase %+v", pur)
	}
	bal, err := accounts.NewWallets(p.svc, p.book).Balance(ctx, u.ID)
	if err != nil || bal.Posted.Amount != 0 {
		t.Fatalf("wallet after a decline: %+v %v", bal, err)
	}
	var transfers int
	if err := p.db.SQL().QueryRow(`SELECT count(*) FROM ledger_transfers`).Scan(&transfers); err != nil || transfers != 0 {
		t.Fatalf("%d ledger transfers after a decline (%v)", transfers, err)
	}
	list, err := p.packs.Purchases(ctx, u.ID, 10)
	if err != nil || len(list) != 1 || list[0].State != accounts.PurchaseDeclined || list[0].ErrorCode != errs.Declined {
		t.Fatalf("purchases %+v %v", list, err)
	}
	rep, err := p.book.Verify(ctx)
	if err != nil || !rep.Clean() {
		t.Fatalf("ledger verify: %v %s", err, rep.Summary())
	}
}
