package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/web"
)

// Symptom 6 of issue 10: a double-submitted Buy charged the card twice and
// the Idempotency-Key header was ignored. These tests run the real plugin
// processes (sandbox processor, currency, split, theme) on PostgreSQL.

// Test cards of the sandbox (plugins/processor-sandbox/cards.go).
const (
	cardOK   = "4242424242424242"
	cardSlow = "4000000000000259" // answers after 2 s, then approves
)

// viewer signs a new viewer up and puts number on file through the
// sandbox's hosted page, as a browser does.
func (w *world) viewer(name, number string) (*browser, string) {
	t := w.t
	b := w.site.browser(name)
	email := strings.ToLower(name) + "@example.com"
	b.signup(email, name, "viewer")
	co := b.get("/wallet/card").must(t, http.StatusOK, "checkout page")
	page := b.get(findAttr(co.body, "/pay/sandbox/checkout")).must(t, http.StatusOK, "sandbox card page")
	back := b.form("/pay/sandbox/checkout", url.Values{"ref": {regexp1(page.body, `name="ref" value="([^"]+)"`)}, "card_number": {number},
		"exp": {"12/34"}, "cvc": {"123"}}, false).must(t, http.StatusSeeOther, "sandbox card form")
	b.get(mustURL(back.hdr.Get("Location")).RequestURI()).must(t, http.StatusSeeOther, "card return")
	u, err := w.acc.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return b, u.ID
}

// sandbox is the processor plugin's process.
func (s *site) sandbox() *pluginhost.Instance {
	for _, in := range s.host.Instances() {
		if in.Spec().Name == "sandbox" {
			return in
		}
	}
	s.t.Fatal("no sandbox plugin")
	return nil
}

var chargeRef = regexp.MustCompile(`sbx_ch_[0-9a-f]{24}`)

// charges counts the charges the sandbox processor ever made, from its own
// durable state (snapshot and journal): every charge has its own reference,
// and a call answers only once its record is on disk.
func (s *site) charges() int {
	var settings struct {
		StateFile string `json:"state_file"`
	}
	if err := json.Unmarshal(s.sandbox().Spec().Settings, &settings); err != nil || settings.StateFile == "" {
		s.t.Fatalf("sandbox settings: %v", err)
	}
	refs := map[string]bool{}
	for _, f := range []string{settings.StateFile, settings.StateFile + ".journal"} {
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

func (w *world) posted(userID string) int64 {
	b, err := w.app.Web.Wallets.Balance(context.Background(), userID)
	if err != nil {
		w.t.Fatal(err)
	}
	return b.Posted.Amount
}

func (w *world) purchases(userID string) int {
	list, err := w.app.Packs.Purchases(context.Background(), userID, 100)
	if err != nil {
		w.t.Fatal(err)
	}
	return len(list)
}

func (w *world) ledgerClean() {
	if r, err := w.app.Ledger.Verify(context.Background()); err != nil || !r.Clean() {
		w.t.Fatalf("ledger verify: %v %+v", err, r.Faults)
	}
}

// post is an API POST with an Idempotency-Key (none when key is "").
func (b *browser) post(path, body, key string) resp {
	req, _ := http.NewRequest(http.MethodPost, b.s.url+web.APIBase+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set(idempotency.Header, key)
	}
	req.Header.Set("X-CSRF-Token", b.csrf())
	return b.do(req)
}

// postUntilFinal is a client that honours the answers of the draft: 409
// (still running) after Retry-After, 5xx after a pause, with the same key,
// until a final answer.
func (b *browser) postUntilFinal(path, body, key string) (final resp, busy int) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := b.post(path, body, key)
		switch {
		case r.code == http.StatusConflict && r.hdr.Get("Retry-After") != "":
			busy++
			s, _ := strconv.Atoi(r.hdr.Get("Retry-After"))
			time.Sleep(time.Duration(s) * time.Second)
		case r.code >= 500:
			time.Sleep(200 * time.Millisecond)
		default:
			return r, busy
		}
		if time.Now().After(deadline) {
			b.s.t.Fatalf("POST %s under %s: no final answer in 60 s (last %d %s)", path, key, r.code, trim(r.body))
		}
	}
}

// Two concurrent purchases of one pack under one key: one charge, one
// credit, and both clients get the same answer (the second a replay).
func TestConcurrentBuysWithOneKeyChargeOnce(t *testing.T) {
	w := newWorld(t)
	sam, samID := w.viewer("Sam", cardSlow) // 2 s per charge: the two requests overlap
	before := w.charges()
	const key = `"5d1c9a6e-3f7b-4e2a-9c1d-0b8e7f6a5c4d"`
	var (
		wg      sync.WaitGroup
		answers [2]resp
		busy    [2]int
	)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], busy[i] = sam.postUntilFinal("/credit-packs/starter/purchases", "", key)
		}()
	}
	wg.Wait()
	for i, a := range answers {
		a.must(t, http.StatusCreated, "purchase "+strconv.Itoa(i))
	}
	if answers[0].body != answers[1].body {
		t.Fatalf("two answers for one key:\n%s\n%s", answers[0].body, answers[1].body)
	}
	replays := 0
	for _, a := range answers {
		if a.hdr.Get(idempotency.ReplayedHeader) == "true" {
			replays++
		}
	}
	if replays != 1 {
		t.Fatalf("%d of the two answers are replays, want exactly one", replays)
	}
	if got := w.charges() - before; got != 1 {
		t.Fatalf("the card was charged %d times for one key", got)
	}
	if w.posted(samID) != 1000 || w.purchases(samID) != 1 {
		t.Fatalf("wallet %d, %d purchases: want 10.00 from one purchase", w.posted(samID), w.purchases(samID))
	}
	t.Logf("409 answers seen while the first purchase ran: %v", busy)
	w.ledgerClean()
}

// The same key with another request is 422 and moves nothing; a key of
// one user never answers another.
func TestReusedKeyIs422AndKeysBelongToTheirUser(t *testing.T) {
	w := newWorld(t)
	aliceID := w.aliceID()
	bob, bobID := w.viewer("Bobby", cardOK)
	before, alice0 := w.charges(), w.posted(aliceID)

	first := w.alice.post("/credit-packs/starter/purchases", "", "alice-key-0001").must(t, http.StatusCreated, "first purchase")
	other := w.alice.post("/credit-packs/popular/purchases", "", "alice-key-0001")
	var e struct {
		Error struct{ Code, Message string }
	}
	other.must(t, http.StatusUnprocessableEntity, "same key, other pack").json(t, &e)
	if e.Error.Code != "conflict" || !strings.Contains(e.Error.Message, "Idempotency-Key") {
		t.Fatalf("422 error: %+v", e)
	}
	// The card checkout with another body under a used key, likewise.
	w.alice.post("/card/checkouts", `{}`, "alice-key-0002").must(t, http.StatusCreated, "checkout")
	w.alice.post("/card/checkouts", `{"return_url":"/wallet"}`, "alice-key-0002").must(t, http.StatusUnprocessableEntity, "checkout, other body")
	if got := w.charges() - before; got != 1 || w.posted(aliceID)-alice0 != 1000 {
		t.Fatalf("%d charges, alice +%d: the refused request moved money", got, w.posted(aliceID)-alice0)
	}

	// Bob replays Alice's key: he buys for himself, and never sees her answer.
	mine := bob.post("/credit-packs/starter/purchases", "", "alice-key-0001").must(t, http.StatusCreated, "bob under alice's key")
	var a, b struct{ ID string }
	first.json(t, &a)
	mine.json(t, &b)
	if a.ID == "" || b.ID == a.ID || mine.hdr.Get(idempotency.ReplayedHeader) != "" {
		t.Fatalf("bob got alice's answer: %s vs %s", mine.body, first.body)
	}
	if w.posted(bobID) != 1000 || w.posted(aliceID)-alice0 != 1000 || w.charges()-before != 2 {
		t.Fatalf("wallets: bob %d, alice +%d; %d charges", w.posted(bobID), w.posted(aliceID)-alice0, w.charges()-before)
	}
	w.ledgerClean()
}

func (w *world) aliceID() string {
	u, err := w.acc.UserByEmail(context.Background(), "alice@example.com")
	if err != nil {
		w.t.Fatal(err)
	}
	return u.ID
}

var (
	formKeyRE = regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`)
	csrfRE    = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
)

// postPage posts v as the form of a rendered page would: its CSRF token
// and its idempotency key taken from the page.
func (b *browser) postPage(page, action string, v url.Values) resp {
	b.s.t.Helper()
	k, c := formKeyRE.FindStringSubmatch(page), csrfRE.FindStringSubmatch(page)
	if k == nil || c == nil {
		b.s.t.Fatalf("the page carries no idempotency key or CSRF token:\n%s", trim(page))
	}
	v.Set("idempotency_key", htmlUnescape(k[1]))
	v.Set("_csrf", htmlUnescape(c[1]))
	req, _ := http.NewRequest(http.MethodPost, b.s.url+action, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// The site's own Buy form: a double submit from one rendered page charges
// once and both answers are the same redirect; another pack's form of the
// same page is another purchase; a new page is a new key. The room's tip
// form, likewise.
func TestDoubleSubmittedFormsMoveMoneyOnce(t *testing.T) {
	w := newWorld(t)
	aliceID := w.aliceID()
	before, wallet0 := w.charges(), w.posted(aliceID)

	page := w.alice.get("/wallet").must(t, http.StatusOK, "wallet page").body
	if len(formKeyRE.FindAllString(page, -1)) < 2 {
		t.Fatalf("the wallet page's forms carry no idempotency key:\n%s", trim(page))
	}
	var (
		wg      sync.WaitGroup
		answers [2]resp
	)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = w.alice.postPage(page, "/wallet/packs", url.Values{"pack": {"starter"}})
		}()
	}
	wg.Wait()
	for _, a := range answers {
		a.must(t, http.StatusSeeOther, "double-submitted buy")
		if a.hdr.Get("Location") != "/wallet" {
			t.Fatalf("buy form went to %q", a.hdr.Get("Location"))
		}
	}
	if got := w.charges() - before; got != 1 || w.posted(aliceID)-wallet0 != 1000 {
		t.Fatalf("a double submit charged %d times, wallet +%d", got, w.posted(aliceID)-wallet0)
	}
	// Both redirects carry the purchase's flash.
	for _, a := range answers {
		if !strings.Contains(strings.Join(a.hdr.Values("Set-Cookie"), ";"), "camkit_flash=") {
			t.Fatalf("an answer lacks the flash: %v", a.hdr)
		}
	}
	// Another pack's form on the same page is its own purchase.
	w.alice.postPage(page, "/wallet/packs", url.Values{"pack": {"popular"}}).must(t, http.StatusSeeOther, "other pack")
	// The next page has a new key: buying the starter pack again is a new purchase.
	next := w.alice.get("/wallet").must(t, http.StatusOK, "wallet page again").body
	if formKeyRE.FindStringSubmatch(next)[1] == formKeyRE.FindStringSubmatch(page)[1] {
		t.Fatal("two renders of the wallet page share an idempotency key")
	}
	w.alice.postPage(next, "/wallet/packs", url.Values{"pack": {"starter"}}).must(t, http.StatusSeeOther, "buy again")
	if got := w.charges() - before; got != 3 {
		t.Fatalf("%d charges after three distinct purchases, want 3", got)
	}

	// The room's tip form, double-submitted: one tip down to the ledger.
	wallet1 := w.posted(aliceID)
	room := w.alice.get("/shows/"+w.showID).must(t, http.StatusOK, "room").body
	tip := url.Values{"amount": {"1.00"}, "currency": {"USD"}}
	w.alice.postPage(room, "/shows/"+w.showID+"/tip", tip).must(t, http.StatusSeeOther, "tip")
	w.alice.postPage(room, "/shows/"+w.showID+"/tip", tip).must(t, http.StatusSeeOther, "tip again")
	if got := wallet1 - w.posted(aliceID); got != 100 {
		t.Fatalf("a double-submitted 1.00 tip took %d", got)
	}
	hist, err := w.app.Web.Chat.History(context.Background(), w.showID, 50)
	if err != nil {
		t.Fatal(err)
	}
	tips := 0
	for _, m := range hist {
		if m.Tip != nil {
			tips++
		}
	}
	if tips != 1 {
		t.Fatalf("%d tips announced for one double-submitted form", tips)
	}
	w.ledgerClean()
}

// The processor plugin is killed (SIGKILL) while it holds the charge; the
// host restarts it. The first attempt answers 503 and is not kept; the
// client's retry under the same key finds the same purchase and finishes it
// with the same processor key: the card is charged once in total.
func TestRetryAfterProcessorKilledMidCallChargesOnce(t *testing.T) {
	w := newWorld(t)
	sam, samID := w.viewer("Samantha", cardSlow)
	before := w.charges()
	const key = "retry-after-kill-0001"
	first := make(chan resp, 1)
	go func() { first <- sam.post("/credit-packs/starter/purchases", "", key) }()

	// The purchase row is written just before the charge call; the slow
	// card then keeps the call in the plugin for 2 s.
	var purchaseID string
	deadline := time.Now().Add(20 * time.Second)
	for purchaseID == "" {
		if time.Now().After(deadline) {
			t.Fatal("the purchase never started")
		}
		list, err := w.app.Packs.Purchases(context.Background(), samID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 1 && list[0].State == "pending" {
			purchaseID = list[0].ID
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond)
	in := w.sandbox()
	pid := in.Status().PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := <-first
	if r.code < 500 {
		t.Fatalf("the attempt whose processor was killed answered %d %s, want a 5xx", r.code, trim(r.body))
	}
	if strings.Contains(r.body, "/tmp") || strings.Contains(r.body, "unix") || strings.Contains(r.body, "plugin") {
		t.Fatalf("the 5xx tells the client about the host's insides: %s", r.body)
	}

	// The client retries with the same key until it gets a final answer
	// (the plugin comes back within seconds).
	final, _ := sam.postUntilFinal("/credit-packs/starter/purchases", "", key)
	final.must(t, http.StatusCreated, "retry after the restart")
	var p struct{ ID, State string }
	final.json(t, &p)
	if p.ID != purchaseID || p.State != "succeeded" {
		t.Fatalf("the retry answered purchase %s (%s), want the first attempt's %s", p.ID, p.State, purchaseID)
	}
	if st := in.Status(); st.PID == pid || st.Restarts < 1 {
		t.Fatalf("the sandbox was not restarted: %+v", st)
	}
	if got := w.charges() - before; got != 1 {
		t.Fatalf("the card was charged %d times across the kill and the retry", got)
	}
	if w.posted(samID) != 1000 || w.purchases(samID) != 1 {
		t.Fatalf("wallet %d, %d purchases", w.posted(samID), w.purchases(samID))
	}
	// And from now on the same key answers the kept result.
	again := sam.post("/credit-packs/starter/purchases", "", key).must(t, http.StatusCreated, "replay")
	if again.body != final.body || again.hdr.Get(idempotency.ReplayedHeader) != "true" {
		t.Fatalf("replay %s, want %s", again.body, final.body)
	}
	w.ledgerClean()
}

// A double click on "private show" without a key (a client that sends
// none) still asks the model once: the service finds the pending request.
func TestConcurrentPrivateRequestsAreOneRequest(t *testing.T) {
	w := newWorld(t)
	const n = 8
	tok := w.alice.csrf()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		ids   [n]string
	)
	for i := range n {
		req, _ := http.NewRequest(http.MethodPost, w.url+web.APIBase+"/shows/"+w.showID+"/private-requests", nil)
		req.Header.Set("X-CSRF-Token", tok)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start // all at once, as a double click's requests arrive
			var r struct{ ID string }
			w.alice.do(req).must(t, http.StatusCreated, "private request").json(t, &r)
			ids[i] = r.ID
		}()
	}
	close(start)
	wg.Wait()
	var reqs []struct{ ID string }
	w.model.api(http.MethodGet, "/me/requests", nil, "").must(t, http.StatusOK, "requests").json(t, &reqs)
	if len(reqs) != 1 {
		t.Fatalf("the model got %d requests for one double click: %+v", len(reqs), reqs)
	}
	for i, id := range ids {
		if id != reqs[0].ID {
			t.Fatalf("request %d answered %s, the model sees %s", i, id, reqs[0].ID)
		}
	}
}

// API clients that send no key still work; they are not protected (the
// OpenAPI document says so): two requests are two purchases.
func TestRequestsWithoutAKeyAreServedUnprotected(t *testing.T) {
	w := newWorld(t)
	aliceID := w.aliceID()
	before, wallet0 := w.charges(), w.posted(aliceID)
	w.alice.post("/credit-packs/starter/purchases", "", "").must(t, http.StatusCreated, "no key")
	w.alice.post("/credit-packs/starter/purchases", "", "").must(t, http.StatusCreated, "no key again")
	if w.charges()-before != 2 || w.posted(aliceID)-wallet0 != 2000 {
		t.Fatalf("%d charges, wallet +%d: want two purchases", w.charges()-before, w.posted(aliceID)-wallet0)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In, Description string }
		}
	}
	w.alice.api(http.MethodGet, "/openapi.json", nil, "").must(t, 200, "document").json(t, &doc)
	found := false
	for _, prm := range doc.Paths["/credit-packs/{pack}/purchases"]["post"].Parameters {
		if prm.Name == idempotency.Header && prm.In == "header" && strings.Contains(prm.Description, "not protected") {
			found = true
		}
	}
	if !found {
		t.Fatal("the purchase operation does not document the Idempotency-Key header and the unprotected keyless case")
	}
}

// The OpenAPI document and the routes agree on which POSTs take an
// Idempotency-Key: a malformed key is refused (400, naming the header) by
// exactly the operations documented with it, before anything runs; every
// other POST ignores the header.
func TestIdempotencyKeyIsHonouredByExactlyTheDocumentedOperations(t *testing.T) {
	w := newWorld(t)
	var doc struct {
		Paths map[string]map[string]struct {
			ID         string `json:"operationId"`
			Security   []any
			Parameters []struct{ Name, In string }
			Servers    []any
		}
	}
	w.alice.api(http.MethodGet, "/openapi.json", nil, "").must(t, 200, "document").json(t, &doc)
	ops := map[string]string{ // who may call it, as the document's summary of auth cannot say
		"requestPrivate": "viewer", "tip": "viewer", "menuTip": "viewer", "buyPack": "viewer", "startCardCheckout": "viewer", "completeCardCheckout": "viewer",
		"endSeat": "viewer", "chatPost": "viewer", "confirmAge": "viewer", "login": "viewer", "signup": "viewer",
		"goLive": "model", "accept": "model", "decline": "model", "joinGroup": "viewer", "startGroup": "model", "stopCam2cam": "model", "spy": "viewer",
		"verifyLedger": "admin", "approveModel": "admin", "rejectModel": "admin",
		"buyTicket": "viewer", "scheduleTicketShow": "model", "startTicketShow": "model", "endTicketShow": "model", "cancelTicketShow": "model",
	}
	by := map[string]*browser{"viewer": w.alice, "model": w.model, "admin": w.admin}
	checked, keyed := 0, 0
	for path, methods := range doc.Paths {
		op, ok := methods["post"]
		if !ok || len(op.Servers) > 0 {
			continue // the media endpoints (WHIP, WHEP) at the site root move no money
		}
		documented := false
		for _, prm := range op.Parameters {
			documented = documented || prm.Name == idempotency.Header && prm.In == "header"
		}
		role, known := ops[op.ID]
		if !known {
			t.Errorf("POST %s (%s): add it to this test's table", path, op.ID)
			continue
		}
		concrete := strings.NewReplacer("{show}", w.showID, "{seat}", "st-none", "{pack}", "starter", "{id}", "rq-none").Replace(path)
		r := by[role].post(concrete, "", "not a valid key")
		refused := r.code == http.StatusBadRequest && strings.Contains(r.body, "Idempotency-Key")
		if refused != documented {
			t.Errorf("POST %s (%s): documented with the header %v, refuses a bad key %v (%d %s)", path, op.ID, documented, refused, r.code, trim(r.body))
		}
		checked++
		if documented {
			keyed++
		}
	}
	if checked < 15 || keyed != 13 {
		t.Fatalf("checked %d POST operations, %d with the header: the walk is broken", checked, keyed)
	}
}
