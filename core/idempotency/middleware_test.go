package idempotency_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/core/web"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// shop is the host's error handling (web.New) with the middleware on a
// few routes that count how often they really run. X-User stands for the
// signed-in user.
type shop struct {
	app  *fiber.App
	runs atomic.Int64
	// gate, when set, holds every run until closed; entered is told when a
	// run starts.
	gate    chan struct{}
	entered chan struct{}
	// failures is how many runs of /flaky answer 503 before one succeeds.
	failures atomic.Int64
	keys     sync.Map // effective key seen by the handler -> true
}

func newShop(t *testing.T, o idempotency.Options) *shop {
	t.Helper()
	s := &shop{}
	srv := web.New(web.Options{Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	s.app = srv.App()
	o.Scope = func(c *fiber.Ctx) (string, bool) { u := c.Get("X-User"); return u, u != "" }
	o.SkipFields = []string{"_csrf"}
	o.Cookies = []string{"camkit_flash"}
	mw := idempotency.New(idempotency.NewSQLStore(storetest.Postgres(t)), o)
	run := func(c *fiber.Ctx) int64 {
		n := s.runs.Add(1)
		if k := idempotency.Key(c); k != "" {
			s.keys.Store(k, true)
		}
		if s.entered != nil {
			s.entered <- struct{}{}
		}
		if s.gate != nil {
			<-s.gate
		}
		return n
	}
	s.app.Post("/api/packs/:pack/purchases", mw.Handler(), func(c *fiber.Ctx) error {
		n := run(c)
		c.Cookie(&fiber.Cookie{Name: "camkit_session", Value: "must-not-be-replayed"})
		c.Cookie(&fiber.Cookie{Name: "camkit_flash", Value: fmt.Sprint("flash", n)})
		c.Location(fmt.Sprintf("/api/purchases/%d", n))
		return c.Status(http.StatusCreated).JSON(fiber.Map{"run": n, "pack": c.Params("pack"), "body": string(c.Body())})
	})
	s.app.Post("/api/flaky", mw.Handler(), func(c *fiber.Ctx) error {
		n := run(c)
		if s.failures.Add(-1) >= 0 {
			return errs.Retry(errs.Unavailable, "the processor is restarting")
		}
		return c.Status(http.StatusCreated).JSON(fiber.Map{"run": n})
	})
	s.app.Post("/api/declined", mw.Handler(), func(c *fiber.Ctx) error {
		run(c)
		return errs.E(errs.Declined, "do not honour")
	})
	s.app.Post("/wallet/packs", mw.Handler(), func(c *fiber.Ctx) error {
		n := run(c)
		c.Cookie(&fiber.Cookie{Name: "camkit_flash", Value: fmt.Sprint("bought-", c.FormValue("pack"), "-", n)})
		return c.Redirect("/wallet?run="+fmt.Sprint(n), http.StatusSeeOther)
	})
	s.app.Get("/return", mw.KeyedBy(func(c *fiber.Ctx) string { return c.Query("checkout") }), func(c *fiber.Ctx) error {
		n := run(c)
		return c.Redirect("/wallet?run="+fmt.Sprint(n), http.StatusSeeOther)
	})
	return s
}

type answer struct {
	code int
	body string
	hdr  http.Header
}

func (s *shop) do(t *testing.T, method, path, user string, body string, hdr ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if user != "" {
		req.Header.Set("X-User", user)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.app.Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, body: string(b), hdr: resp.Header}
}

func (s *shop) buy(t *testing.T, user, pack, key, body string) answer {
	t.Helper()
	h := []string{"Content-Type", "application/json"}
	if key != "" {
		h = append(h, idempotency.Header, key)
	}
	return s.do(t, http.MethodPost, "/api/packs/"+pack+"/purchases", user, body, h...)
}

func (s *shop) form(t *testing.T, user, path string, v url.Values) answer {
	t.Helper()
	return s.do(t, http.MethodPost, path, user, v.Encode(), "Content-Type", "application/x-www-form-urlencoded")
}

func errorCode(t *testing.T, a answer) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(a.body), &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not a JSON error: %d %s", a.code, a.body)
	}
	return e.Error.Code
}

func TestSameKeySameRequestReplaysTheFirstAnswer(t *testing.T) {
	s := newShop(t, idempotency.Options{})
	first := s.buy(t, "alice", "starter", `"key-0001-aaaa"`, `{"note":"x"}`)
	again := s.buy(t, "alice", "starter", `key-0001-aaaa`, `{"note":"x"}`) // the bare form names the same key
	if first.code != 201 || again.code != 201 || first.body != again.body || s.runs.Load() != 1 {
		t.Fatalf("first %d %s, again %d %s, %d runs: want one run answered twice the same", first.code, first.body, again.code, again.body, s.runs.Load())
	}
	if again.hdr.Get("Location") != first.hdr.Get("Location") || again.hdr.Get("Content-Type") != first.hdr.Get("Content-Type") {
		t.Fatalf("replayed headers %v, first %v", again.hdr, first.hdr)
	}
	if first.hdr.Get(idempotency.ReplayedHeader) != "" || again.hdr.Get(idempotency.ReplayedHeader) != "true" {
		t.Fatalf("Idempotent-Replayed: first %q, again %q", first.hdr.Get(idempotency.ReplayedHeader), again.hdr.Get(idempotency.ReplayedHeader))
	}
	cookies := strings.Join(again.hdr.Values("Set-Cookie"), "\n")
	if !strings.Contains(cookies, "camkit_flash=flash1") || strings.Contains(cookies, "must-not-be-replayed") {
		t.Fatalf("replayed cookies: %s (want the flash only)", cookies)
	}
	// A request without a key is not protected: it runs every time.
	s.buy(t, "alice", "starter", "", `{"note":"x"}`)
	s.buy(t, "alice", "starter", "", `{"note":"x"}`)
	if s.runs.Load() != 3 {
		t.Fatalf("%d runs, want 3 (requests without a key run each time)", s.runs.Load())
	}
}

func TestSameKeyOtherRequestIs422AndRunsNothing(t *testing.T) {
	s := newShop(t, idempotency.Options{})
	s.buy(t, "alice", "starter", "key-0002-bbbb", `{"n":1}`)
	for what, a := range map[string]answer{
		"other body":   s.buy(t, "alice", "starter", "key-0002-bbbb", `{"n":2}`),
		"other path":   s.buy(t, "alice", "popular", "key-0002-bbbb", `{"n":1}`),
		"other method": s.do(t, http.MethodPost, "/api/flaky", "alice", `{"n":1}`, idempotency.Header, "key-0002-bbbb", "Content-Type", "application/json"),
	} {
		if a.code != http.StatusUnprocessableEntity || errorCode(t, a) != string(errs.Conflict) || !strings.Contains(a.body, "Idempotency-Key") {
			t.Errorf("%s: %d %s, want 422 naming the key", what, a.code, a.body)
		}
	}
	if s.runs.Load() != 1 {
		t.Fatalf("%d runs: a reused key ran another request", s.runs.Load())
	}
}

func TestKeysBelongToTheirUser(t *testing.T) {
	s := newShop(t, idempotency.Options{})
	a := s.buy(t, "alice", "starter", "shared-key-0003", `{}`)
	b := s.buy(t, "bob", "starter", "shared-key-0003", `{}`)
	if a.code != 201 || b.code != 201 || a.body == b.body || b.hdr.Get(idempotency.ReplayedHeader) != "" || s.runs.Load() != 2 {
		t.Fatalf("bob got alice's answer with her key: alice %s, bob %s (%d runs)", a.body, b.body, s.runs.Load())
	}
	if r := s.buy(t, "", "starter", "shared-key-0003", `{}`); r.code != http.StatusUnauthorized {
		t.Fatalf("a key without a user: %d %s", r.code, r.body)
	}
}

func TestBadKeysAre400(t *testing.T) {
	s := newShop(t, idempotency.Options{})
	for _, k := range []string{"short", `"two" "strings"`, "bad key with spaces", strings.Repeat("x", 300)} {
		if r := s.buy(t, "alice", "starter", k, `{}`); r.code != 400 || errorCode(t, r) != string(errs.Invalid) {
			t.Errorf("key %q: %d %s, want 400", k, r.code, r.body)
		}
	}
	if s.runs.Load() != 0 {
		t.Fatalf("%d runs with bad keys", s.runs.Load())
	}
}

// Concurrent API requests under one key: one runs, the other is told 409
// with Retry-After, and its retry gets the first answer.
func TestConcurrentAPIRepeatIs409ThenReplays(t *testing.T) {
	s := newShop(t, idempotency.Options{})
	s.gate, s.entered = make(chan struct{}), make(chan struct{}, 1)
	done := make(chan answer, 1)
	go func() { done <- s.buy(t, "alice", "starter", "key-0004-dddd", `{}`) }()
	<-s.entered
	busy := s.buy(t, "alice", "starter", "key-0004-dddd", `{}`)
	if busy.code != http.StatusConflict || busy.hdr.Get("Retry-After") != "1" || errorCode(t, busy) != string(errs.Conflict) {
		t.Fatalf("repeat in flight: %d %v %s, want 409 with Retry-After: 1", busy.code, busy.hdr, busy.body)
	}
	close(s.gate)
	first := <-done
	s.entered = nil
	again := s.buy(t, "alice", "starter", "key-0004-dddd", `{}`)
	if first.code != 201 || again.body != first.body || s.runs.Load() != 1 {
		t.Fatalf("first %d %s, retry %d %s, %d runs", first.code, first.body, again.code, again.body, s.runs.Load())
	}
}

// A 503 is not the request's outcome: a retry runs again, and once it
// succeeds that answer is kept. A decline is final and replayed.
func TestServerFailuresAreNotKept(t *testing.T) {
	s := newShop(t, idempotency.Options{})
	s.failures.Store(2)
	h := []string{idempotency.Header, "key-0005-eeee", "Content-Type", "application/json"}
	for i := range 2 {
		if r := s.do(t, http.MethodPost, "/api/flaky", "alice", `{}`, h...); r.code != http.StatusServiceUnavailable {
			t.Fatalf("attempt %d: %d %s, want 503", i, r.code, r.body)
		}
	}
	ok := s.do(t, http.MethodPost, "/api/flaky", "alice", `{}`, h...)
	again := s.do(t, http.MethodPost, "/api/flaky", "alice", `{}`, h...)
	if ok.code != 201 || again.body != ok.body || again.hdr.Get(idempotency.ReplayedHeader) != "true" || s.runs.Load() != 3 {
		t.Fatalf("after two 503s: %d %s then %d %s, %d runs (want 3 runs, then a replay)", ok.code, ok.body, again.code, again.body, s.runs.Load())
	}
	h[1] = "key-0006-ffff"
	d1 := s.do(t, http.MethodPost, "/api/declined", "alice", `{}`, h...)
	d2 := s.do(t, http.MethodPost, "/api/declined", "alice", `{}`, h...)
	if d1.code != http.StatusPaymentRequired || d2.code != d1.code || d2.body != d1.body || s.runs.Load() != 4 {
		t.Fatalf("decline: %d %s then %d %s (%d runs)", d1.code, d1.body, d2.code, d2.body, s.runs.Load())
	}
}

// The site's forms: one key per rendered page. A double submit of one
// form runs once, the second waits for the first answer; another form of
// the same page (another pack) is another request; the CSRF token does not
// count.
func TestFormDoubleSubmitRunsOnceAndBothGetTheAnswer(t *testing.T) {
	s := newShop(t, idempotency.Options{})
	s.gate, s.entered = make(chan struct{}), make(chan struct{}, 2)
	form := url.Values{"pack": {"starter"}, "_csrf": {"tok-a"}, "idempotency_key": {"render-key-0001"}}
	answers := make(chan answer, 2)
	go func() { answers <- s.form(t, "alice", "/wallet/packs", form) }()
	<-s.entered
	second := url.Values{"pack": {"starter"}, "_csrf": {"tok-b"}, "idempotency_key": {"render-key-0001"}}
	go func() { answers <- s.form(t, "alice", "/wallet/packs", second) }()
	time.Sleep(100 * time.Millisecond) // the second is waiting for the first
	close(s.gate)
	a, b := <-answers, <-answers
	if a.code != http.StatusSeeOther || b.code != a.code || a.hdr.Get("Location") != "/wallet?run=1" || b.hdr.Get("Location") != a.hdr.Get("Location") {
		t.Fatalf("double submit: %d %s / %d %s", a.code, a.hdr.Get("Location"), b.code, b.hdr.Get("Location"))
	}
	if s.runs.Load() != 1 {
		t.Fatalf("a double submit ran %d times", s.runs.Load())
	}
	for _, r := range []answer{a, b} {
		if !strings.Contains(strings.Join(r.hdr.Values("Set-Cookie"), ";"), "camkit_flash=bought-starter-1") {
			t.Fatalf("an answer lacks the flash: %v", r.hdr)
		}
	}
	s.entered = make(chan struct{}, 4)
	other := url.Values{"pack": {"popular"}, "_csrf": {"tok-a"}, "idempotency_key": {"render-key-0001"}}
	if r := s.form(t, "alice", "/wallet/packs", other); r.hdr.Get("Location") != "/wallet?run=2" {
		t.Fatalf("another form of the page: %d %v", r.code, r.hdr)
	}
	// A form without the field (a theme that does not render it) runs each time.
	s.form(t, "alice", "/wallet/packs", url.Values{"pack": {"starter"}})
	s.form(t, "alice", "/wallet/packs", url.Values{"pack": {"starter"}})
	if s.runs.Load() != 4 {
		t.Fatalf("%d runs, want 4", s.runs.Load())
	}
	var formKeys int
	s.keys.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), "f:") {
			formKeys++
		}
		return true
	})
	if formKeys != 2 {
		t.Fatalf("handlers saw %d form keys, want 2", formKeys)
	}
}

// A form repeat that waits longer than FormWait is told to come back, and
// never runs the request a second time.
func TestFormRepeatGivesUpAfterFormWait(t *testing.T) {
	s := newShop(t, idempotency.Options{FormWait: 200 * time.Millisecond})
	s.gate, s.entered = make(chan struct{}), make(chan struct{}, 1)
	form := url.Values{"pack": {"starter"}, "idempotency_key": {"render-key-0002"}}
	done := make(chan answer, 1)
	go func() { done <- s.form(t, "alice", "/wallet/packs", form) }()
	<-s.entered
	if r := s.form(t, "alice", "/wallet/packs", form); r.code != http.StatusConflict || r.hdr.Get("Retry-After") == "" {
		t.Fatalf("repeat after FormWait: %d %v", r.code, r.hdr)
	}
	close(s.gate)
	<-done
	if s.runs.Load() != 1 {
		t.Fatalf("%d runs", s.runs.Load())
	}
}

// A route that names its own key (the processor's return link): the same
// link twice runs once.
func TestKeyedByRoute(t *testing.T) {
	s := newShop(t, idempotency.Options{})
	a := s.do(t, http.MethodGet, "/return?checkout=co123&token=t", "alice", "")
	b := s.do(t, http.MethodGet, "/return?checkout=co123&token=t", "alice", "")
	c := s.do(t, http.MethodGet, "/return?checkout=co456&token=t", "alice", "")
	if a.code != 303 || b.hdr.Get("Location") != a.hdr.Get("Location") || c.hdr.Get("Location") == a.hdr.Get("Location") || s.runs.Load() != 2 {
		t.Fatalf("return links: %v / %v / %v, %d runs", a.hdr.Get("Location"), b.hdr.Get("Location"), c.hdr.Get("Location"), s.runs.Load())
	}
	if r := s.do(t, http.MethodGet, "/return?checkout=co123&token=other", "alice", ""); r.code != http.StatusUnprocessableEntity {
		t.Fatalf("the same checkout with other parameters: %d", r.code)
	}
}
