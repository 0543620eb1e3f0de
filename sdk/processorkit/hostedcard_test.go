package processorkit

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

const (
	testPAN    = "4242424242424242"
	testReturn = "https://site.example/wallet/card/return?card_checkout=c1"
)

// cardPageFixture is a HostedCardPage on a state file, with a clock the test
// moves and a Tokenize hook that records what it was given.
type cardPageFixture struct {
	t     *testing.T
	path  string
	clock time.Time
	mu    sync.Mutex
	cards []Card
	fail  error // returned by Tokenize when set
	token string
	page  *HostedCardPage
	seen  bytes.Buffer // everything the host could see: checkouts, responses, results
}

func newCardPage(t *testing.T, path string) *cardPageFixture {
	t.Helper()
	f := &cardPageFixture{t: t, path: path, clock: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC), token: "tok_test_1"}
	f.open()
	return f
}

func (f *cardPageFixture) open() {
	f.t.Helper()
	f.page = &HostedCardPage{Name: "acme", Now: func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.clock },
		Tokenize: func(_ context.Context, c Card) (processor.StoredCredential, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.cards = append(f.cards, c)
			if f.fail != nil {
				return processor.StoredCredential{}, f.fail
			}
			return processor.StoredCredential{Token: f.token}, nil
		}}
	if err := f.page.Open(f.path); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { f.page.Close() })
}

// restart is a new plugin process on the same state file.
func (f *cardPageFixture) restart() {
	f.t.Helper()
	if err := f.page.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.open()
}

func (f *cardPageFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.clock = f.clock.Add(d)
	f.mu.Unlock()
}

func (f *cardPageFixture) tokenized() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.cards) }

func (f *cardPageFixture) record(v any) {
	b, _ := json.Marshal(v)
	f.seen.Write(b)
}

func (f *cardPageFixture) start(key, customer string) processor.Checkout {
	f.t.Helper()
	co, err := f.page.StartCheckout(context.Background(), processor.StartCheckoutRequest{IdempotencyKey: key, CustomerRef: customer, ReturnURL: testReturn})
	if err != nil {
		f.t.Fatalf("StartCheckout: %v", err)
	}
	f.record(co)
	return co
}

func (f *cardPageFixture) serve(method, target string, body string, h http.Header) processor.HTTPResponse {
	f.t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		f.t.Fatal(err)
	}
	resp, err := f.page.ServeHTTP(context.Background(), processor.HTTPRequest{Method: method, Path: u.Path, Query: u.Query(), Headers: h, Body: []byte(body)})
	if err != nil {
		f.t.Fatalf("ServeHTTP %s %s: %v", method, target, err)
	}
	f.record(resp)
	return resp
}

func (f *cardPageFixture) post(ref, number, exp, cvc string) processor.HTTPResponse {
	f.t.Helper()
	form := url.Values{"ref": {ref}, "card_number": {number}, "exp": {exp}, "cvc": {cvc}}
	return f.serve(http.MethodPost, "/pay/acme/card", form.Encode(), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}})
}

func (f *cardPageFixture) complete(ref, customer string, params url.Values) (processor.CheckoutResult, error) {
	res, err := f.page.CompleteCheckout(context.Background(), processor.CompleteCheckoutRequest{CheckoutReference: ref, CustomerRef: customer, Params: params})
	f.record(res)
	return res, err
}

func wantStatus(t *testing.T, what string, r processor.HTTPResponse, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: HTTP %d %q, want %d", what, r.Status, r.Body, status)
	}
}

func TestHostedCardPageStoresACardAndNeverHandsOutTheNumber(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acme.json")
	f := newCardPage(t, path)
	co := f.start("card/u1/c1", "u1")
	if co.Method != http.MethodGet || !strings.HasPrefix(co.URL, "/pay/acme/card?ref=") || co.Reference == "" {
		t.Fatalf("checkout %+v: want a GET to /pay/acme/card?ref=<reference>", co)
	}
	if want := f.clock.Add(30 * time.Minute); !co.ExpiresAt.Equal(want) {
		t.Fatalf("checkout expires at %v, want %v", co.ExpiresAt, want)
	}

	page := f.serve(http.MethodGet, co.URL, "", nil)
	wantStatus(t, "the card page", page, http.StatusOK)
	if csp := page.Headers.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("card page CSP %q: want default-src 'none', form-action 'self', frame-ancestors 'none'", csp)
	}
	if page.Headers.Get("Cache-Control") != "no-store" || bytes.Contains(bytes.ToLower(page.Body), []byte("<script")) {
		t.Fatalf("card page: cache-control %q, want no-store and no script:\n%s", page.Headers.Get("Cache-Control"), page.Body)
	}
	if !bytes.Contains(page.Body, []byte(`action="/pay/acme/card"`)) || !bytes.Contains(page.Body, []byte(`value="`+co.Reference+`"`)) {
		t.Fatalf("the form does not post the checkout to its own page:\n%s", page.Body)
	}

	back := f.post(co.Reference, "4242 4242 4242 4242", "12/34", "123")
	wantStatus(t, "posting the card", back, http.StatusSeeOther)
	loc, err := url.Parse(back.Headers.Get("Location"))
	if err != nil || loc.Host != "site.example" || loc.Path != "/wallet/card/return" {
		t.Fatalf("redirect to %q, want the host's return URL", back.Headers.Get("Location"))
	}
	if q := loc.Query(); q.Get("card_checkout") != "c1" || q.Get("checkout") != co.Reference || q.Get("status") != "approved" {
		t.Fatalf("return query %v: want the host's card_checkout kept, checkout=%s, status=approved", q, co.Reference)
	}
	if n := f.tokenized(); n != 1 || f.cards[0].Number != testPAN || f.cards[0].ExpMonth != 12 || f.cards[0].ExpYear != 2034 || f.cards[0].CVC != "123" {
		t.Fatalf("Tokenize got %d cards %v: want the typed card once, spaces removed", n, f.cards)
	}

	res, err := f.complete(co.Reference, "u1", loc.Query())
	if err != nil {
		t.Fatalf("CompleteCheckout: %v", err)
	}
	want := processor.StoredCredential{Token: "tok_test_1", Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2034}
	if res.Credential == nil || *res.Credential != want || res.Charge != nil || res.Pending {
		t.Fatalf("CompleteCheckout = %+v (credential %+v), want %+v and nothing charged", res, res.Credential, want)
	}
	again, err := f.complete(co.Reference, "u1", loc.Query())
	if err != nil || again.Credential == nil || *again.Credential != want {
		t.Fatalf("a repeated CompleteCheckout = %+v, %v: want the same credential", again, err)
	}

	// What the host received, and what the plugin wrote to disk, hold no card number.
	if err := f.page.Close(); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{path, JournalPath(path)} {
		if b, err := os.ReadFile(file); err == nil {
			f.seen.Write(b)
		}
	}
	if !bytes.Contains(f.seen.Bytes(), []byte("tok_test_1")) {
		t.Fatal("the check below looked at nothing: the token is not in what was recorded")
	}
	for _, leak := range []string{testPAN, "4242 4242 4242 4242", "424242424242"} {
		if bytes.Contains(f.seen.Bytes(), []byte(leak)) {
			t.Fatalf("%q left the plugin (a response, a result or the state file)", leak)
		}
	}
}

func TestHostedCardPageReferenceIsSingleUseAndExpires(t *testing.T) {
	f := newCardPage(t, filepath.Join(t.TempDir(), "acme.json"))
	co := f.start("card/u1/c1", "u1")
	wantStatus(t, "first post", f.post(co.Reference, testPAN, "12/34", "123"), http.StatusSeeOther)
	wantStatus(t, "a second post on a used checkout", f.post(co.Reference, "5555555555554444", "12/34", "123"), http.StatusGone)
	wantStatus(t, "the page of a used checkout", f.serve(http.MethodGet, co.URL, "", nil), http.StatusGone)
	if res, err := f.complete(co.Reference, "u1", nil); err != nil || res.Credential.Last4 != "4242" {
		t.Fatalf("the second post replaced the first card: %+v, %v", res.Credential, err)
	}

	late := f.start("card/u1/c2", "u1")
	f.advance(30 * time.Minute)
	wantStatus(t, "the page of an expired checkout", f.serve(http.MethodGet, late.URL, "", nil), http.StatusGone)
	wantStatus(t, "a post on an expired checkout", f.post(late.Reference, testPAN, "12/34", "123"), http.StatusGone)

	wantStatus(t, "a post naming no checkout", f.post("", testPAN, "12/34", "123"), http.StatusNotFound)
	wantStatus(t, "a post naming a guessed checkout", f.post("co_000000000000000000000000", testPAN, "12/34", "123"), http.StatusNotFound)

	fresh := f.start("card/u1/c3", "u1")
	form := url.Values{"ref": {fresh.Reference}, "card_number": {testPAN}, "exp": {"12/34"}, "cvc": {"123"}}.Encode()
	wantStatus(t, "a post from another site", f.serve(http.MethodPost, "/pay/acme/card", form, http.Header{"Sec-Fetch-Site": {"cross-site"}}), http.StatusForbidden)
	wantStatus(t, "an oversized post", f.serve(http.MethodPost, "/pay/acme/card", form+"&pad="+strings.Repeat("x", 5000), nil), http.StatusRequestEntityTooLarge)
	wantStatus(t, "another path", f.serve(http.MethodGet, "/pay/acme/admin?ref="+fresh.Reference, "", nil), http.StatusNotFound)
	wantStatus(t, "PUT", f.serve(http.MethodPut, "/pay/acme/card", form, nil), http.StatusMethodNotAllowed)
	if n := f.tokenized(); n != 1 {
		t.Fatalf("Tokenize ran %d times: refused posts must not reach the processor", n)
	}
	wantStatus(t, "the checkout after the refused posts", f.post(fresh.Reference, testPAN, "12/34", "123"), http.StatusSeeOther)
}

func TestHostedCardPageRefusesWhatItCannotTokenise(t *testing.T) {
	f := newCardPage(t, filepath.Join(t.TempDir(), "acme.json"))
	co := f.start("card/u1/c1", "u1")
	for _, c := range []struct{ name, number, exp, cvc string }{
		{"a number failing Luhn", "4242424242424241", "12/34", "123"},
		{"letters in the number", "4242abcd42424242", "12/34", "123"},
		{"a short number", "42424242", "12/34", "123"},
		{"an expiry in the past", testPAN, "11/26", "123"},
		{"an expiry without a slash", testPAN, "1234", "123"},
		{"month 13", testPAN, "13/34", "123"},
		{"a two-digit CVC", testPAN, "12/34", "12"},
	} {
		r := f.post(co.Reference, c.number, c.exp, c.cvc)
		wantStatus(t, c.name, r, http.StatusUnprocessableEntity)
		if bytes.Contains(r.Body, []byte(c.number)) {
			t.Fatalf("%s: the page echoes the number back", c.name)
		}
	}
	if n := f.tokenized(); n != 0 {
		t.Fatalf("Tokenize ran %d times on malformed cards", n)
	}

	f.fail = errs.E(errs.InvalidCard, "acme: card refused")
	r := f.post(co.Reference, testPAN, "12/34", "123")
	wantStatus(t, "a card the processor refuses", r, http.StatusUnprocessableEntity)
	if !bytes.Contains(r.Body, []byte("refused")) || bytes.Contains(r.Body, []byte(testPAN)) {
		t.Fatalf("the refusal page does not say so, or echoes the number:\n%s", r.Body)
	}
	f.fail = errs.Retry(errs.Unavailable, "acme: vault down")
	wantStatus(t, "the vault unavailable", f.post(co.Reference, testPAN, "12/34", "123"), http.StatusUnprocessableEntity)
	if _, err := f.complete(co.Reference, "u1", nil); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("CompleteCheckout after refusals: %v, want not_found (no card stored)", err)
	}

	f.fail = nil
	f.token = "tok_" + testPAN
	wantStatus(t, "a token holding the card number", f.post(co.Reference, testPAN, "12/34", "123"), http.StatusBadGateway)
	f.token = "tok_fine"
	wantStatus(t, "the card once the processor takes it", f.post(co.Reference, testPAN, "12/34", "123"), http.StatusSeeOther)
}

func TestHostedCardPageCheckoutSurvivesARestart(t *testing.T) {
	f := newCardPage(t, filepath.Join(t.TempDir(), "acme.json"))
	co := f.start("card/u1/c1", "u1")
	f.restart()
	if again := f.start("card/u1/c1", "u1"); again.Reference != co.Reference {
		t.Fatalf("after a restart the same key started checkout %s, first was %s", again.Reference, co.Reference)
	}
	wantStatus(t, "the page after a restart", f.serve(http.MethodGet, co.URL, "", nil), http.StatusOK)
	wantStatus(t, "posting after a restart", f.post(co.Reference, testPAN, "12/34", "123"), http.StatusSeeOther)
	f.restart()
	res, err := f.complete(co.Reference, "u1", url.Values{"checkout": {co.Reference}})
	if err != nil || res.Credential == nil || res.Credential.Token != "tok_test_1" {
		t.Fatalf("CompleteCheckout after a second restart = %+v, %v", res, err)
	}
	wantStatus(t, "a post after the restart on the used checkout", f.post(co.Reference, testPAN, "12/34", "123"), http.StatusGone)
}

func TestHostedCardPageCheckoutRules(t *testing.T) {
	f := newCardPage(t, filepath.Join(t.TempDir(), "acme.json"))
	ctx := context.Background()
	co := f.start("card/u1/c1", "u1")
	_, err := f.page.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "card/u1/c1", CustomerRef: "u2", ReturnURL: testReturn})
	if errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("the same key for another viewer: %v, want conflict", err)
	}
	amt := money.Money{Amount: 500, Currency: "USD"}
	_, err = f.page.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "buy/u1/1", CustomerRef: "u1", ReturnURL: testReturn, Purchase: &amt})
	if errs.CodeOf(err) != errs.Unsupported {
		t.Fatalf("a checkout with a purchase: %v, want unsupported (the page stores a card only)", err)
	}
	for _, bad := range []processor.StartCheckoutRequest{
		{CustomerRef: "u1", ReturnURL: testReturn},
		{IdempotencyKey: "k", CustomerRef: "u1"},
		{IdempotencyKey: "k", CustomerRef: "u1", ReturnURL: "javascript:alert(1)"},
		{IdempotencyKey: "k", CustomerRef: "u1", ReturnURL: "//evil.example/x"},
	} {
		if _, err := f.page.StartCheckout(ctx, bad); errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("StartCheckout(%+v): %v, want invalid", bad, err)
		}
	}
	if _, err := f.complete(co.Reference, "u1", nil); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("completing before a card was typed: %v, want not_found", err)
	}
	wantStatus(t, "posting the card", f.post(co.Reference, testPAN, "12/34", "123"), http.StatusSeeOther)
	if _, err := f.complete(co.Reference, "u2", nil); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("another viewer completing the checkout: %v, want forbidden", err)
	}
	if _, err := f.complete(co.Reference, "u1", url.Values{"checkout": {"co_other"}}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("a return from another checkout: %v, want invalid", err)
	}
	if _, err := f.complete("co_nope", "u1", nil); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("an unknown checkout: %v, want not_found", err)
	}

	closed := &HostedCardPage{Name: "acme", Tokenize: f.page.Tokenize}
	_, err = closed.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "k", CustomerRef: "u1", ReturnURL: testReturn})
	if errs.CodeOf(err) != errs.Unavailable || !errs.IsRetryable(err) {
		t.Fatalf("StartCheckout before Open: %v, want retryable unavailable", err)
	}
	if r, _ := closed.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodGet, Path: "/pay/acme/card"}); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("the page before Open: HTTP %d, want 503", r.Status)
	}
	if _, err := closed.Charge(ctx, processor.ChargeRequest{}); errs.CodeOf(err) != errs.Unsupported {
		t.Fatalf("Charge through the embedded page: %v, want unsupported", err)
	}
}

func TestCardNeverPrintsItsNumber(t *testing.T) {
	c := Card{Number: testPAN, ExpMonth: 12, ExpYear: 2034, CVC: "123"}
	for _, s := range []string{c.String(), c.GoString()} {
		if strings.Contains(s, testPAN) || strings.Contains(s, "123 ") || !strings.Contains(s, "4242") {
			t.Fatalf("Card prints as %q", s)
		}
	}
	for number, brand := range map[string]string{testPAN: "visa", "5555555555554444": "mastercard", "2223003122003222": "mastercard",
		"378282246310005": "amex", "6011111111111117": "discover", "3566002020360505": ""} {
		if got := (Card{Number: number}).Brand(); got != brand {
			t.Errorf("Brand(%s) = %q, want %q", number, got, brand)
		}
	}
}

func TestHostedCardPageOnePostAtATimePerCheckout(t *testing.T) {
	f := newCardPage(t, filepath.Join(t.TempDir(), "acme.json"))
	co := f.start("card/u1/c1", "u1")
	entered, release := make(chan struct{}), make(chan struct{})
	inner := f.page.Tokenize
	f.page.Tokenize = func(ctx context.Context, c Card) (processor.StoredCredential, error) {
		close(entered)
		<-release
		return inner(ctx, c)
	}
	first := make(chan processor.HTTPResponse)
	go func() { first <- f.post(co.Reference, testPAN, "12/34", "123") }()
	<-entered
	wantStatus(t, "a double submit while the first is with the processor", f.post(co.Reference, testPAN, "12/34", "123"), http.StatusConflict)
	close(release)
	wantStatus(t, "the first submit", <-first, http.StatusSeeOther)
	if n := f.tokenized(); n != 1 {
		t.Fatalf("Tokenize ran %d times for one checkout", n)
	}
}

func TestHostedCardPageForgetsCheckoutsADayAfterTheyExpire(t *testing.T) {
	f := newCardPage(t, filepath.Join(t.TempDir(), "acme.json"))
	old := f.start("card/u1/old", "u1")
	wantStatus(t, "posting the card", f.post(old.Reference, testPAN, "12/34", "123"), http.StatusSeeOther)
	f.advance(30*time.Minute + keepFinished - time.Minute)
	f.start("card/u1/new1", "u1")
	if _, err := f.complete(old.Reference, "u1", nil); err != nil {
		t.Fatalf("a checkout within a day of its expiry is forgotten: %v", err)
	}
	f.advance(2 * time.Minute)
	f.start("card/u1/new2", "u1")
	if _, err := f.complete(old.Reference, "u1", nil); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("a checkout a day past its expiry: %v, want not_found", err)
	}
	f.restart()
	if _, err := f.complete(old.Reference, "u1", nil); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("after a restart the forgotten checkout is back: %v", err)
	}
	if again := f.start("card/u1/old", "u1"); again.Reference == old.Reference {
		t.Fatal("the forgotten checkout's key still answers it")
	}
}
