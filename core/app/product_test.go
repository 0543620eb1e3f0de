package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
)

// world is a site with an admin, an approved model on air at 2.00/min, and
// two viewers; alice has the sandbox card on file and a credit pack.
type world struct {
	*site
	admin, model, alice, bob *browser
	modelID, showID          string
}

func newWorld(t *testing.T) *world { return newWorldOn(t, newSite(t, nil)) }

func newWorldOn(t *testing.T, s *site) *world {
	w := &world{site: s, admin: s.browser("admin"), model: s.browser("model"), alice: s.browser("alice"), bob: s.browser("bob")}
	if _, err := s.acc.CreateUser(context.Background(), accounts.NewUser{Email: "ops@example.com", DisplayName: "Ops",
		Password: "correct horse battery", Role: accounts.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	w.admin.login("ops@example.com")
	w.model.signup("mia@example.com", "Mia", "model")
	w.alice.signup("alice@example.com", "Alice", "viewer")
	w.bob.signup("bob@example.com", "Bob", "viewer")
	m, err := s.acc.UserByEmail(context.Background(), "mia@example.com")
	if err != nil {
		t.Fatal(err)
	}
	w.modelID = m.ID

	// Not approved yet: she cannot go live.
	r := w.model.form("/dashboard/live", nil, true).must(t, http.StatusForbidden, "go live unapproved")
	if _, ok, _ := s.app.Shows.ShowOfModel(context.Background(), m.ID); ok {
		t.Fatal("an unapproved model went live")
	}
	_ = r
	admin := w.admin.get("/admin").must(t, http.StatusOK, "admin page")
	approve := findAttr(admin.body, "/admin/models/"+m.ID+"/approve")
	if approve == "" {
		t.Fatalf("admin page lists no approval for the model:\n%s", admin.body)
	}
	w.admin.form(approve, nil, true).must(t, http.StatusSeeOther, "approve")
	w.model.form("/dashboard/rate", url.Values{"rate": {"2.00"}, "currency": {"USD"}}, true).must(t, http.StatusSeeOther, "set rate")
	w.model.form("/dashboard/live", nil, true).must(t, http.StatusSeeOther, "go live")
	sh, ok, err := s.app.Shows.ShowOfModel(context.Background(), m.ID)
	if err != nil || !ok {
		t.Fatalf("model not on air after going live: %v", err)
	}
	w.showID = sh.ID

	w.addCard(w.alice)
	w.alice.form("/wallet/packs", url.Values{"pack": {"starter"}}, true).must(t, http.StatusSeeOther, "buy pack")
	return w
}

// addCard goes through the processor's hosted card page as a browser does.
func (w *world) addCard(b *browser) {
	t := w.t
	co := b.get("/wallet/card").must(t, http.StatusOK, "checkout page")
	pay := findAttr(co.body, "/pay/sandbox/checkout")
	if pay == "" {
		t.Fatalf("checkout page has no link to the sandbox card page:\n%s", co.body)
	}
	page := b.get(pay).must(t, http.StatusOK, "sandbox card page")
	ref := regexp1(page.body, `name="ref" value="([^"]+)"`)
	back := b.form("/pay/sandbox/checkout", url.Values{"ref": {ref}, "card_number": {"4242 4242 4242 4242"}, "exp": {"12/34"}, "cvc": {"123"}}, false).
		must(t, http.StatusSeeOther, "sandbox card form")
	loc, err := url.Parse(back.hdr.Get("Location"))
	if err != nil || loc.Path != "/wallet/card/return" {
		t.Fatalf("sandbox sent the browser to %q", back.hdr.Get("Location"))
	}
	b.get(loc.RequestURI()).must(t, http.StatusSeeOther, "card return")
	var card struct{ Brand, Last4 string }
	b.api(http.MethodGet, "/card", nil, "").must(t, http.StatusOK, "card").json(t, &card)
	if card.Last4 != "4242" {
		t.Fatalf("card on file: %+v", card)
	}
}

func TestSiteFlowThroughTheThemeOnPostgres(t *testing.T) { siteFlow(t, newWorld(t)) }

// The embedded default (`make run`) is SQLite: the same flow works there.
func TestSiteFlowThroughTheThemeOnSQLite(t *testing.T) {
	siteFlow(t, newWorldOn(t, newSiteOn(t, storetest.SQLite(t), nil)))
}

func siteFlow(t *testing.T, w *world) {
	ctx := context.Background()

	// The directory, the profile and the room, all through the theme plugin.
	home := w.alice.get("/").must(t, http.StatusOK, "home")
	if !strings.Contains(home.body, "/shows/"+w.showID) || !strings.Contains(home.body, "Mia") {
		t.Fatalf("home does not list the live model:\n%s", home.body)
	}
	if r := w.alice.get("/?q=nobody-by-this-name"); strings.Contains(r.body, "/shows/"+w.showID) {
		t.Fatal("search for another name still lists the model")
	}
	prof := w.alice.get("/models/"+w.modelID).must(t, http.StatusOK, "profile")
	if !strings.Contains(prof.body, "2.00") {
		t.Fatalf("profile does not show the rate:\n%s", prof.body)
	}
	room := w.alice.get("/shows/"+w.showID).must(t, http.StatusOK, "room")
	for _, want := range []string{"data-camkit-player", "data-camkit-chat", "/shows/" + w.showID + "/private", "/shows/" + w.showID + "/tip", theme.PlayerScript, "/static/camkit-site.js"} {
		if !strings.Contains(room.body, want) {
			t.Fatalf("room page lacks %q", want)
		}
	}

	// Wallet: the pack credited 10.00, history from the ledger.
	var wal struct {
		Balance money.Money
		History []theme.LedgerRow
	}
	w.alice.api(http.MethodGet, "/wallet", nil, "").must(t, http.StatusOK, "wallet").json(t, &wal)
	if wal.Balance != (money.Money{Amount: 1000, Currency: "USD"}) || len(wal.History) == 0 {
		t.Fatalf("wallet after the starter pack: %+v", wal)
	}
	w.alice.get("/wallet").must(t, http.StatusOK, "wallet page")

	// A tip through the room's form moves 1.00 out of the wallet.
	w.alice.form("/shows/"+w.showID+"/tip", url.Values{"amount": {"1.00"}, "currency": {"USD"}}, true).must(t, http.StatusSeeOther, "tip")
	w.alice.api(http.MethodGet, "/wallet", nil, "").must(t, http.StatusOK, "wallet").json(t, &wal)
	if wal.Balance.Amount != 900 {
		t.Fatalf("wallet after a 1.00 tip: %+v", wal.Balance)
	}
	// One wallet line for the tip, whatever its split, named after the model.
	var tipLines []theme.LedgerRow
	for _, r := range wal.History {
		if strings.HasPrefix(r.Reference, "tip/") {
			tipLines = append(tipLines, r)
		}
	}
	if len(tipLines) != 1 || tipLines[0].Amount.Amount != -100 || tipLines[0].Description != "Tip to Mia" {
		t.Fatalf("a 1.00 tip in the wallet: want one line -1.00 \"Tip to Mia\", got %+v", tipLines)
	}
	if hist, _ := w.app.Web.Chat.History(ctx, w.showID, 10); len(hist) == 0 || hist[len(hist)-1].Tip == nil {
		t.Fatalf("the tip is not in the room's chat: %+v", hist)
	}

	// Private: request, the model sees it, accepts; the price locks at 2.00.
	w.alice.form("/shows/"+w.showID+"/private", nil, true).must(t, http.StatusSeeOther, "request private")
	dash := w.model.get("/dashboard").must(t, http.StatusOK, "dashboard")
	accept := findAttr(dash.body, "/dashboard/requests/")
	if !strings.HasSuffix(accept, "/accept") {
		t.Fatalf("dashboard lists no request:\n%s", dash.body)
	}
	w.model.form(accept, nil, true).must(t, http.StatusSeeOther, "accept")
	seatID := strings.TrimPrefix(w.alice.get("/shows/"+w.showID).must(t, http.StatusSeeOther, "room moves to the seat").hdr.Get("Location"), "/seats/")
	seatPage := w.alice.get("/seats/"+seatID).must(t, http.StatusOK, "private show page")
	if tok := regexp1(seatPage.body, `data-token="([^"]+)"`); !strings.HasPrefix(tok, "st_") {
		t.Fatalf("the viewer's private page carries no seat token (%q)", tok)
	}
	// The public room is closed to others while private.
	if r := w.bob.get("/shows/"+w.showID).must(t, http.StatusOK, "room while private"); strings.Contains(r.body, `action="/shows/`+w.showID+`/private"`) {
		t.Fatal("another viewer is offered a private show while one runs")
	}

	// The model changes her rate: the open seat keeps 2.00.
	w.model.form("/dashboard/rate", url.Values{"rate": {"9.00"}, "currency": {"USD"}}, true).must(t, http.StatusSeeOther, "rate change")
	var seat struct {
		Open   bool
		Policy struct {
			RatePerMinute money.Money `json:"rate_per_minute"`
		}
	}
	w.alice.api(http.MethodGet, "/seats/"+seatID, nil, "").must(t, http.StatusOK, "seat").json(t, &seat)
	if !seat.Open || seat.Policy.RatePerMinute.Amount != 200 {
		t.Fatalf("open seat after the model's rate change: %+v", seat)
	}

	// The viewer ends it; the receipt is hers, at the locked rate.
	w.alice.form("/seats/"+seatID+"/end", nil, true).must(t, http.StatusSeeOther, "end seat")
	rec := w.alice.get("/receipts/"+seatID).must(t, http.StatusOK, "receipt page")
	if !strings.Contains(rec.body, "2.00") {
		t.Fatalf("receipt does not show the locked 2.00 rate:\n%s", rec.body)
	}
	if !strings.Contains(rec.body, "Minimum applied") {
		t.Fatalf("receipt page does not say whether the minimum applied:\n%s", rec.body)
	}
	// The viewer's receipt: what she paid and why, not the platform's split;
	// its show id is the API's. Her model and the admin see the allocation.
	var mine map[string]any
	w.alice.api(http.MethodGet, "/receipts/"+seatID, nil, "").must(t, http.StatusOK, "viewer's receipt").json(t, &mine)
	if _, ok := mine["allocation"]; ok {
		t.Fatalf("the viewer's receipt shows the allocation: %v", mine["allocation"])
	}
	if _, ok := mine["minimum_applied"].(bool); !ok || mine["show_id"] != w.showID {
		t.Fatalf("viewer's receipt: minimum_applied %v, show_id %v (want %s)", mine["minimum_applied"], mine["show_id"], w.showID)
	}
	for _, tr := range mine["ledger_transfers"].([]any) {
		m := tr.(map[string]any)
		if d, c := m["debit"].(string), m["credit"].(string); !strings.HasPrefix(d, "viewer:") && !strings.HasPrefix(c, "viewer:") {
			t.Fatalf("the viewer's receipt lists a transfer between the platform's accounts: %v", m)
		}
	}
	var receipts []struct {
		SeatID string `json:"seat_id"`
	}
	w.alice.api(http.MethodGet, "/receipts", nil, "").must(t, http.StatusOK, "receipts").json(t, &receipts)
	if len(receipts) != 1 || receipts[0].SeatID != seatID {
		t.Fatalf("receipts: %+v", receipts)
	}

	// The admin checks the books.
	w.admin.form("/admin/verify", nil, true).must(t, http.StatusSeeOther, "verify")
	if page := w.admin.get("/admin").must(t, http.StatusOK, "admin"); !strings.Contains(page.body, "balanced") {
		t.Fatalf("admin page does not show a clean ledger:\n%s", page.body)
	}
	if r, err := w.app.Ledger.Verify(ctx); err != nil || !r.Clean() {
		t.Fatalf("ledger verify: %v %+v", err, r.Faults)
	}
}

func regexp1(body, expr string) string {
	m := mustRE(expr).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return htmlUnescape(m[1])
}
