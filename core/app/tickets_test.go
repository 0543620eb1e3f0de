package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
)

type ticketShowJSON struct {
	ID    string      `json:"id"`
	State string      `json:"state"`
	Sold  int         `json:"sold"`
	Price money.Money `json:"price"`
}

type ticketJSON struct {
	ID       string      `json:"id"`
	State    string      `json:"state"`
	Token    string      `json:"token"`
	WHEPURL  string      `json:"whep_url"`
	Posted   money.Money `json:"posted"`
	Refunded money.Money `json:"refunded"`
}

// ticketWorld is the product with a model on air and four more viewers:
// alice paid for her credits with a card (newWorld), the others' wallets
// are credited as a credit pack would.
type ticketWorld struct {
	*world
	cat, dan *browser
	ids      map[*browser]string
}

func newTicketWorld(t *testing.T) *ticketWorld {
	return ticketWorldOf(t, newWorldOn(t, newSite(t, noShortShowRefund)))
}

// noShortShowRefund has a show of a few seconds not refunded for being
// short: what the ticket tests check is the money of a show that happened.
func noShortShowRefund(c *config.Config) { c.Tickets.RefundIfShorterThan = "0" }

// ticketWorldOf adds cat and dan to a world and credits bob's, cat's and
// dan's wallets.
func ticketWorldOf(t *testing.T, ww *world) *ticketWorld {
	w := &ticketWorld{world: ww}
	w.cat, w.dan = w.site.browser("cat"), w.site.browser("dan")
	w.cat.signup("cat@example.com", "Cat", "viewer")
	w.dan.signup("dan@example.com", "Dan", "viewer")
	w.ids = map[*browser]string{}
	for b, email := range map[*browser]string{w.alice: "alice@example.com", w.bob: "bob@example.com", w.cat: "cat@example.com", w.dan: "dan@example.com"} {
		u, err := w.acc.UserByEmail(context.Background(), email)
		if err != nil {
			t.Fatal(err)
		}
		w.ids[b] = u.ID
		if b != w.alice {
			if _, err := w.app.Ledger.Transfer(context.Background(), ledger.Request{Key: "test/credits/" + u.ID, Debit: "processor:sandbox:clearing",
				Credit: "viewer:" + u.ID + ":wallet", Amount: money.Money{Amount: 10_00, Currency: "USD"}, Memo: "credit pack"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return w
}

// schedule has the model announce a $5 show starting in two seconds,
// doors open for a minute after.
func (w *ticketWorld) schedule(capacity int) (ticketShowJSON, time.Time) {
	start := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
	body := fmt.Sprintf(`{"title":"Friday night","price":{"amount":500,"currency":"USD"},"starts_at":%q,"duration_seconds":600,"doors_close_at":%q,"capacity":%d}`,
		start.UTC().Format(time.RFC3339), start.Add(time.Minute).UTC().Format(time.RFC3339), capacity)
	var sh ticketShowJSON
	w.model.post("/me/ticket-shows", body, "").must(w.t, http.StatusCreated, "schedule").json(w.t, &sh)
	return sh, start
}

func (w *ticketWorld) buy(b *browser, showID, key string) ticketJSON {
	var tk ticketJSON
	b.post("/ticket-shows/"+showID+"/tickets", "", key).must(w.t, http.StatusCreated, b.name+" buys").json(w.t, &tk)
	return tk
}

func (w *ticketWorld) ticketCall(path, key string) ticketShowJSON {
	var sh ticketShowJSON
	w.model.post(path, "", key).must(w.t, http.StatusOK, path).json(w.t, &sh)
	return sh
}

// Three viewers buy tickets from their wallets (one with a double click),
// a fourth is refused once the show is sold out and then refused the
// video once it starts, while the holders watch; when it ends the tickets
// are posted and split, and the ledger verifies clean. Media is real: the
// model publishes over WHIP and the viewers are pion WHEP clients.
func TestTicketShowThroughTheHost(t *testing.T) {
	w := newTicketWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sh, start := w.schedule(3)

	var profile ticketShowJSON
	w.dan.api(http.MethodGet, "/models/"+w.modelID+"/ticket-show", nil, "").must(t, http.StatusOK, "profile's ticket show").json(t, &profile)
	if profile.ID != sh.ID || profile.Price.Amount != 500 {
		t.Fatalf("the model's upcoming ticket show %+v, want %s at $5", profile, sh.ID)
	}

	// A double click (one key twice) and a retry with another key buy once.
	first := w.buy(w.alice, sh.ID, "alice-click-0001")
	again := w.buy(w.alice, sh.ID, "alice-click-0001")
	other := w.buy(w.alice, sh.ID, "alice-retry-0002")
	if first.ID == "" || again.ID != first.ID || other.ID != first.ID || first.State != "held" {
		t.Fatalf("alice's tickets %+v %+v %+v, want one held ticket", first, again, other)
	}
	tickets := map[*browser]ticketJSON{w.alice: first}
	for _, b := range []*browser{w.bob, w.cat} {
		tickets[b] = w.buy(b, sh.ID, b.name+"-buys-0001")
	}
	r := w.dan.post("/ticket-shows/"+sh.ID+"/tickets", "", "dan-buys-0001").must(t, http.StatusPaymentRequired, "a fourth ticket of three")
	if !strings.Contains(r.body, "sold out") {
		t.Fatalf("sold-out refusal says %s", r.body)
	}
	for b := range tickets {
		if posted, held := w.walletOf(b); posted != 10_00 || held != 5_00 {
			t.Fatalf("%s's wallet before the show: posted %d held %d, want 1000 and 500 held", b.name, posted, held)
		}
	}

	var my struct {
		StreamKey string `json:"stream_key"`
		WHIPURL   string `json:"whip_url"`
	}
	w.model.api(http.MethodGet, "/me/show", nil, "").must(t, http.StatusOK, "my show").json(t, &my)
	pub, err := streamtest.Publish(ctx, streamtest.HTTPSignal(my.WHIPURL, my.StreamKey, nil), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	whep := w.url + "/whep/" + w.showID
	// Before the ticket show her broadcast is public: dan watches for free.
	free, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(whep, "", nil))
	if err != nil {
		t.Fatalf("dan watches the public show: %v", err)
	}
	defer free.Close()
	if !streamtest.WaitFor(15*time.Second, func() bool { return free.Video.Packets.Load() > 30 }) {
		t.Fatal("dan receives nothing of the public show")
	}

	// A holder's token plays the public broadcast before the start too.
	early, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(whep, first.Token, nil))
	if err != nil {
		t.Fatalf("alice watches the public show with her ticket's token: %v", err)
	}
	defer early.Close()
	if !streamtest.WaitFor(15*time.Second, func() bool { return early.Video.Packets.Load() > 30 }) {
		t.Fatal("alice's ticket token plays nothing of the public show")
	}

	w.model.post("/me/ticket-shows/"+sh.ID+"/start", "", "").must(t, http.StatusBadRequest, "start before the start time")
	time.Sleep(time.Until(start))
	if got := w.ticketCall("/me/ticket-shows/"+sh.ID+"/start", ""); got.State != "running" || got.Sold != 3 {
		t.Fatalf("started %+v, want running with 3 sold", got)
	}
	// Dan's free session was cut when it started, and he cannot come back.
	if !streamtest.WaitFor(10*time.Second, func() bool {
		n := free.Video.Packets.Load()
		time.Sleep(700 * time.Millisecond)
		return free.Video.Packets.Load() == n
	}) {
		t.Fatal("dan still receives the ticket show")
	}
	_, err = streamtest.Subscribe(ctx, streamtest.HTTPSignal(whep, "", nil))
	if he, ok := err.(*streamtest.HTTPError); !ok || he.Status != http.StatusForbidden || !strings.Contains(he.Body, "ticket") {
		t.Fatalf("dan without a ticket: %v, want 403", err)
	}
	_, err = streamtest.Subscribe(ctx, streamtest.HTTPSignal(whep, tickets[w.bob].Token+"x", nil))
	if he, ok := err.(*streamtest.HTTPError); !ok || he.Status != http.StatusUnauthorized {
		t.Fatalf("a forged ticket: %v, want 401", err)
	}
	// A private show would let the ticket holders' seats into it: she ends
	// the ticket show first.
	var req struct {
		ID string `json:"id"`
	}
	w.dan.post("/shows/"+w.showID+"/private-requests", "", "dan-private-0001").must(t, http.StatusCreated, "dan asks for a private show").json(t, &req)
	r = w.model.post("/requests/"+req.ID+"/accept", "", "accept-0001").must(t, http.StatusConflict, "accept a private show during the ticket show")
	if !strings.Contains(r.body, "ticket show") {
		t.Fatalf("the refusal says %s", r.body)
	}
	// The holders watch with their tickets' tokens (as GET /me/tickets gives them).
	var mine []ticketJSON
	w.bob.api(http.MethodGet, "/me/tickets", nil, "").must(t, http.StatusOK, "bob's tickets").json(t, &mine)
	if len(mine) != 1 || mine[0].Token != tickets[w.bob].Token || mine[0].WHEPURL != "/whep/"+w.showID {
		t.Fatalf("bob's tickets %+v", mine)
	}
	for _, b := range []*browser{w.alice, w.bob, w.cat} {
		v, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+tickets[b].WHEPURL, tickets[b].Token, nil))
		if err != nil {
			t.Fatalf("%s watches with her ticket: %v", b.name, err)
		}
		defer v.Close()
		if !streamtest.WaitFor(15*time.Second, func() bool { return v.Video.Keyframes.Load() > 0 && v.Video.Packets.Load() > 30 }) {
			t.Fatalf("%s's ticket admits her but no media arrives", b.name)
		}
	}

	time.Sleep(time.Second)
	if got := w.ticketCall("/me/ticket-shows/"+sh.ID+"/end", "end-0001"); got.State != "ended" {
		t.Fatalf("ended %+v", got)
	}
	w.ticketCall("/me/ticket-shows/"+sh.ID+"/end", "end-0002") // a retry settles nothing twice
	for b := range tickets {
		if posted, held := w.walletOf(b); posted != 5_00 || held != 0 {
			t.Fatalf("%s's wallet after the show: posted %d held %d, want 500 and nothing held", b.name, posted, held)
		}
	}
	if posted, held := w.walletOf(w.dan); posted != 10_00 || held != 0 {
		t.Fatalf("dan's wallet: %d held %d, want untouched", posted, held)
	}
	// The default split (60% model; no studio or affiliate: the platform
	// keeps theirs) of three $5 tickets.
	if got := w.balance("model:" + w.modelID + ":earnings"); got != 9_00 {
		t.Fatalf("model earnings %d, want 900", got)
	}
	if got := w.balance("platform:revenue"); got != 6_00 {
		t.Fatalf("platform revenue %d, want 600", got)
	}
	var wallet struct {
		History []struct {
			Description string      `json:"description"`
			Amount      money.Money `json:"amount"`
			Pending     bool        `json:"pending"`
		} `json:"history"`
	}
	w.cat.api(http.MethodGet, "/wallet", nil, "").must(t, http.StatusOK, "cat's wallet").json(t, &wallet)
	var lines []string
	for _, h := range wallet.History {
		lines = append(lines, fmt.Sprintf("%s %d %v", h.Description, h.Amount.Amount, h.Pending))
	}
	if got := strings.Join(lines, "\n"); !strings.Contains(got, "Ticket: Friday night -500 false") || !strings.Contains(got, "Ticket held: Friday night -500 true") {
		t.Fatalf("cat's wallet does not show the ticket held, then posted:\n%s", got)
	}
	w.ledgerClean()
}

// A cancelled ticket show refunds every ticket exactly once, however often
// the model's cancel is retried (the same key, another key, after the
// show started).
func TestCancelledTicketShowRefundsOnceThroughTheHost(t *testing.T) {
	w := newTicketWorld(t)
	sh, start := w.schedule(0)
	tickets := map[*browser]ticketJSON{}
	for _, b := range []*browser{w.alice, w.bob, w.cat} {
		tickets[b] = w.buy(b, sh.ID, b.name+"-buys-0001")
	}
	time.Sleep(time.Until(start))
	// While she is in a private show the ticket show waits: its holders are
	// not let into someone's private show.
	var req, seat struct {
		ID string `json:"id"`
	}
	w.dan.post("/shows/"+w.showID+"/private-requests", "", "dan-private-0001").must(t, http.StatusCreated, "dan asks for a private show").json(t, &req)
	w.model.post("/requests/"+req.ID+"/accept", "", "accept-0001").must(t, http.StatusCreated, "accept").json(t, &seat)
	r := w.model.post("/me/ticket-shows/"+sh.ID+"/start", "", "")
	if r.code != http.StatusConflict || !strings.Contains(r.body, "private show") {
		t.Fatalf("start during a private show: %d %s, want 409", r.code, r.body)
	}
	if r := w.model.post("/seats/"+seat.ID+"/end", "", "end-seat-0001"); r.code != http.StatusOK && r.code != http.StatusAccepted {
		t.Fatalf("end the private seat: %d %s", r.code, r.body)
	}
	w.ticketCall("/me/ticket-shows/"+sh.ID+"/start", "")
	for _, key := range []string{"cancel-0001", "cancel-0001", "cancel-0002", ""} {
		if got := w.ticketCall("/me/ticket-shows/"+sh.ID+"/cancel", key); got.State != "cancelled" {
			t.Fatalf("cancel (%q): %+v", key, got)
		}
	}
	for b, tk := range tickets {
		if posted, held := w.walletOf(b); posted != 10_00 || held != 0 {
			t.Fatalf("%s's wallet after the cancel: posted %d held %d, want 1000 and nothing held", b.name, posted, held)
		}
		var mine []ticketJSON
		b.api(http.MethodGet, "/me/tickets", nil, "").must(t, http.StatusOK, "tickets").json(t, &mine)
		if len(mine) != 1 || mine[0].State != "refunded" || mine[0].Refunded.Amount != 500 || mine[0].Posted.Amount != 0 {
			t.Fatalf("%s's ticket after the cancel: %+v", b.name, mine)
		}
		tr, err := w.app.Ledger.TransferByKey(context.Background(), "ticket/"+tk.ID+"/refund")
		if err != nil || tr.Kind != ledger.Void || tr.Amount.Amount != 500 {
			t.Fatalf("%s's refund: %+v %v", b.name, tr, err)
		}
		if _, err := w.app.Ledger.TransferByKey(context.Background(), "ticket/"+tk.ID+"/post"); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("a cancelled ticket was posted: %v", err)
		}
	}
	if got := w.balance("model:" + w.modelID + ":earnings"); got != 0 {
		t.Fatalf("model earnings %d after a cancelled show", got)
	}
	r = w.dan.post("/ticket-shows/"+sh.ID+"/tickets", "", "dan-0001").must(t, http.StatusBadRequest, "a ticket to a cancelled show")
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	_ = json.Unmarshal([]byte(r.body), &e)
	if !strings.Contains(e.Error.Message, "cancelled") {
		t.Fatalf("refusal says %q", e.Error.Message)
	}
	w.ledgerClean()
}

func (w *ticketWorld) walletOf(b *browser) (posted, held int64) {
	bal, err := w.app.Web.Wallets.Balance(context.Background(), w.ids[b])
	if err != nil {
		w.t.Fatal(err)
	}
	return bal.Posted.Amount, bal.Held.Amount
}

func (w *ticketWorld) balance(code string) int64 {
	b, err := w.app.Ledger.Balance(context.Background(), code, "USD")
	if errs.CodeOf(err) == errs.NotFound {
		return 0
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return b.Posted().Amount
}

// The pages of a ticket show, in both themes: the model schedules it from
// her dashboard, her profile and room offer "Buy ticket — $5.00", a viewer
// buys it with the form (a double submit buys once), her wallet lists it
// held, and after the model cancels it, refunded.
func TestTicketShowPagesInBothThemes(t *testing.T) {
	for _, th := range []string{"default", "midnight"} {
		t.Run(th, func(t *testing.T) {
			w := newWorldOn(t, newSite(t, func(c *config.Config) { c.Plugins.Theme = th }))
			start := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04")
			form := url.Values{"title": {"Midnight gala"}, "price": {"5"}, "currency": {"USD"}, "starts_at": {start},
				"minutes": {"45"}, "doors_minutes": {"10"}, "capacity": {"20"}}
			w.model.form("/dashboard/ticket-shows", form, true).must(t, http.StatusSeeOther, "schedule from the dashboard")
			dash := w.model.get("/dashboard").must(t, http.StatusOK, "dashboard").body
			cancelAt := findAttr(dash, "/dashboard/ticket-shows/")
			if !strings.Contains(dash, "Midnight gala") || !strings.HasSuffix(cancelAt, "/start") && !strings.HasSuffix(cancelAt, "/cancel") {
				t.Fatalf("the dashboard does not list the ticket show with its actions (%q)", cancelAt)
			}
			for _, path := range []string{"/models/" + w.modelID, "/shows/" + w.showID} {
				page := w.alice.get(path).must(t, http.StatusOK, path).body
				if !strings.Contains(htmlUnescape(page), "Buy ticket — $5.00") {
					t.Fatalf("%s does not offer the ticket:\n%s", path, page)
				}
			}
			room := w.alice.get("/shows/" + w.showID).body
			buy := findAttr(room, "/ticket-shows/")
			if !strings.Contains(buy, "/buy") {
				t.Fatalf("no buy form in the room (%q)", buy)
			}
			// The same rendered form submitted twice (its one idempotency field): one ticket.
			for range 2 {
				w.alice.form(buy, url.Values{theme.IdempotencyField: {"idem-ticket-0123456789"}}, true).must(t, http.StatusSeeOther, "buy from the room")
			}
			if after := w.alice.get("/shows/" + w.showID).body; !strings.Contains(after, "You have a ticket") {
				t.Fatal("the room does not say she has a ticket")
			}
			wallet := w.alice.get("/wallet").must(t, http.StatusOK, "wallet").body
			if !strings.Contains(wallet, "Midnight gala") || !strings.Contains(wallet, "held") {
				t.Fatalf("the wallet does not list the held ticket:\n%s", wallet)
			}
			u, err := w.acc.UserByEmail(context.Background(), "alice@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if bal, err := w.app.Web.Wallets.Balance(context.Background(), u.ID); err != nil || bal.Held.Amount != 5_00 {
				t.Fatalf("alice's wallet holds %+v %v, want one $5 ticket", bal.Held, err)
			}
			dash = w.model.get("/dashboard").body
			var cancel string
			for _, a := range attrs(dash) {
				if strings.HasPrefix(a, "/dashboard/ticket-shows/") && strings.HasSuffix(a, "/cancel") {
					cancel = a
				}
			}
			w.model.form(cancel, nil, true).must(t, http.StatusSeeOther, "cancel from the dashboard")
			if wallet := w.alice.get("/wallet").body; !strings.Contains(wallet, "refunded") {
				t.Fatalf("the wallet does not show the ticket refunded:\n%s", wallet)
			}
			if bal, _ := w.app.Web.Wallets.Balance(context.Background(), u.ID); bal.Held.Amount != 0 || bal.Posted.Amount != 10_00 {
				t.Fatalf("alice's wallet after the cancel: %+v", bal)
			}
			w.ledgerClean()
		})
	}
}

// A ticket paid by card: the card on file is charged the price into the
// wallet (one purchase however often the request is retried with its
// key), the wallet holds it like any ticket, and a cancel refunds it to
// the wallet. A viewer without a card is sent to add one and charged
// nothing.
func TestTicketPaidByCardThroughTheHost(t *testing.T) {
	w := newTicketWorld(t)
	sh, _ := w.schedule(0)
	alice := w.ids[w.alice]
	before := w.purchases(alice)
	var tk ticketJSON
	for range 3 {
		w.alice.post("/ticket-shows/"+sh.ID+"/tickets", `{"pay":"card"}`, "alice-card-0001").must(t, http.StatusCreated, "buy by card").json(t, &tk)
	}
	if tk.State != "held" {
		t.Fatalf("ticket paid by card: %+v", tk)
	}
	if n := w.purchases(alice); n != before+1 {
		t.Fatalf("%d card payments for one ticket, want 1", n-before)
	}
	if posted, held := w.walletOf(w.alice); posted != 15_00 || held != 5_00 {
		t.Fatalf("alice's wallet after paying by card: posted %d held %d, want 1500 and 500 held", posted, held)
	}
	r := w.bob.post("/ticket-shows/"+sh.ID+"/tickets", `{"pay":"card"}`, "bob-card-0001")
	if r.code < 400 || !strings.Contains(r.body, "card") {
		t.Fatalf("bob has no card: %d %s, want a refusal naming the card", r.code, r.body)
	}
	if posted, held := w.walletOf(w.bob); posted != 10_00 || held != 0 {
		t.Fatalf("bob's wallet after a refused card payment: %d held %d", posted, held)
	}
	w.bob.post("/ticket-shows/"+sh.ID+"/tickets", `{"pay":"cash"}`, "").must(t, http.StatusBadRequest, "pay cash")
	w.ticketCall("/me/ticket-shows/"+sh.ID+"/cancel", "cancel-0001")
	if posted, held := w.walletOf(w.alice); posted != 15_00 || held != 0 {
		t.Fatalf("alice's wallet after the cancel: posted %d held %d, want the card payment back in the wallet", posted, held)
	}
	w.ledgerClean()
}
