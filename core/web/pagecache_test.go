package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// countingTheme renders a page that shows the layout's token the way a
// theme may: in a form field and in a script string. transform, when set,
// is what it does to the token first (a theme that does not print it as
// given). gate, when set, holds every render until closed.
type countingTheme struct {
	renders   atomic.Int64
	transform func(string) string
	stamp     bool // adds a per-render counter to the page
	gate      chan struct{}
}

var _ theme.Theme = (*countingTheme)(nil)

func (f *countingTheme) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindTheme, Name: "counting", Version: "0"}, nil
}
func (f *countingTheme) Configure(context.Context, []byte) error { return nil }
func (f *countingTheme) Manifest(context.Context) (theme.Manifest, error) {
	return theme.Manifest{Name: "counting"}, nil
}
func (f *countingTheme) Asset(context.Context, string) (theme.Asset, error) {
	return theme.Asset{}, errs.E(errs.NotFound, "none")
}

func (f *countingTheme) Render(_ context.Context, p theme.Page) (theme.Rendered, error) {
	if f.gate != nil {
		<-f.gate
	}
	n := f.renders.Add(1)
	l := p.PageLayout()
	tok := l.CSRFToken
	if f.transform != nil {
		tok = f.transform(tok)
	}
	var nav []string
	for _, it := range l.Nav {
		nav = append(nav, it.Label)
	}
	user := "nobody"
	if l.User != nil {
		user = l.User.Name
	}
	var flashes []string
	for _, fl := range l.Flashes {
		flashes = append(flashes, fl.Message)
	}
	stamp := ""
	if f.stamp {
		stamp = fmt.Sprintf("<!-- render %d -->", n)
	}
	html := fmt.Sprintf(`<!doctype html><html><head><title>t</title></head><body>%s<p>user %s</p><p>nav %s</p><p>flash %s</p>`+
		`<p>query %s</p><form method="post"><input type="hidden" name="_csrf" value="%s"><input type="hidden" name="idempotency_key" value="%s"></form>`+
		`<script>const csrf = "%s";</script></body></html>`,
		stamp, user, strings.Join(nav, ","), strings.Join(flashes, ","), p.(*theme.HomePage).Query, tok, l.IdempotencyKey, tok)
	return theme.Rendered{HTML: []byte(html), Status: 200, Title: "t"}, nil
}

// sharedSite serves "/" through RenderShared. The request's headers stand
// for what the real chrome reads from cookies and the session: X-Token is
// the visitor's CSRF token, X-User a signed-in user's name, X-Nav an extra
// navigation item.
type sharedSite struct {
	th      *countingTheme
	pages   *Pages
	app     *fiber.App
	version atomic.Uint64
	now     time.Time
	mu      sync.Mutex
}

func newSharedSite(t *testing.T, th *countingTheme) *sharedSite {
	t.Helper()
	s := &sharedSite{th: th, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s.pages = &Pages{Theme: th, Site: Site{Name: "test"}, Chrome: func(c *fiber.Ctx, l *theme.Layout) {
		l.CSRFToken = c.Get("X-Token")
		l.IdempotencyKey = c.Get("X-Key")
		l.Nav = []theme.NavItem{{Label: "Live now", Href: "/"}}
		if extra := c.Get("X-Nav"); extra != "" {
			l.Nav = append(l.Nav, theme.NavItem{Label: extra, Href: "/" + extra})
		}
		if u := c.Get("X-User"); u != "" {
			l.User = &theme.User{ID: "u-" + u, Name: u, Role: theme.RoleViewer}
		}
	}}
	s.pages.shared.now = func() time.Time { s.mu.Lock(); defer s.mu.Unlock(); return s.now }
	s.app = fiber.New()
	s.app.Get("/", func(c *fiber.Ctx) error {
		q := c.Query("q")
		return s.pages.RenderShared(c, "home/"+q, s.version.Load(), func(l theme.Layout) (theme.Page, error) {
			return &theme.HomePage{Layout: l, Query: q}, nil
		})
	})
	return s
}

func (s *sharedSite) advance(d time.Duration) { s.mu.Lock(); s.now = s.now.Add(d); s.mu.Unlock() }

func (s *sharedSite) get(t *testing.T, target string, header ...string) string {
	t.Helper()
	page, err := s.fetch(target, header...)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

func (s *sharedSite) fetch(target string, header ...string) (string, error) {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.app.Test(req, -1)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("GET %s: %d %s", target, resp.StatusCode, b)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		return "", fmt.Errorf("GET %s: Cache-Control %q, want no-store (the page carries the visitor's token)", target, cc)
	}
	return string(b), nil
}

// token is what accounts.HTTP.CSRFToken gives: URL-safe base64 of 32 bytes.
func token(seed string) string {
	b := make([]byte, 32)
	copy(b, seed)
	return base64.RawURLEncoding.EncodeToString(b)
}

// mustCarryOnly checks that page carries tok in both places and no other
// visitor's token.
func mustCarryOnly(t *testing.T, page, tok string, others ...string) {
	t.Helper()
	if strings.Count(page, tok) != 2 {
		t.Fatalf("page carries its visitor's token %d times, want 2:\n%s", strings.Count(page, tok), page)
	}
	for _, o := range others {
		if strings.Contains(page, o) {
			t.Fatalf("page carries another visitor's token %s:\n%s", o, page)
		}
	}
	if !strings.Contains(page, `<script type="module" src="`+SiteScript+`"></script></head>`) {
		t.Fatalf("page lacks the site script:\n%s", page)
	}
}

func TestSharedPageCarriesEachVisitorsOwnToken(t *testing.T) {
	s := newSharedSite(t, &countingTheme{})
	a, b := token("alice"), token("bob")
	pa := s.get(t, "/", "X-Token", a)
	pb := s.get(t, "/", "X-Token", b)
	mustCarryOnly(t, pa, a, b)
	mustCarryOnly(t, pb, b, a)
	if got := s.th.renders.Load(); got != 2 {
		t.Fatalf("%d theme renders for two visitors, want 2 (one shared fill checked with two placeholders)", got)
	}
	// Apart from the token, the two documents are the same.
	if strings.ReplaceAll(pa, a, "T") != strings.ReplaceAll(pb, b, "T") {
		t.Fatalf("shared copies differ beyond the token:\n%s\n%s", pa, pb)
	}
	// A visitor without a token gets none, and not a placeholder either.
	p0 := s.get(t, "/")
	if !strings.Contains(p0, `value=""`) || !strings.Contains(p0, `const csrf = "";`) {
		t.Fatalf("tokenless visitor's page:\n%s", p0)
	}
	// Another search is another page.
	pq := s.get(t, "/?q=mia", "X-Token", a)
	mustCarryOnly(t, pq, a, b)
	if !strings.Contains(pq, "query mia") || s.th.renders.Load() != 4 {
		t.Fatalf("search page (after %d renders):\n%s", s.th.renders.Load(), pq)
	}
}

// Every page served carries its own idempotency key (the real chrome makes
// a new one per page), in the one shared copy.
func TestSharedPageCarriesEachPagesOwnIdempotencyKey(t *testing.T) {
	s := newSharedSite(t, &countingTheme{})
	a := token("alice")
	k1, k2 := token("key-one"), token("key-two")
	p1 := s.get(t, "/", "X-Token", a, "X-Key", k1)
	p2 := s.get(t, "/", "X-Token", a, "X-Key", k2)
	for _, c := range []struct{ page, own, other string }{{p1, k1, k2}, {p2, k2, k1}} {
		if !strings.Contains(c.page, `name="idempotency_key" value="`+c.own+`"`) || strings.Contains(c.page, c.other) {
			t.Fatalf("page does not carry its own key %s only:\n%s", c.own, c.page)
		}
		mustCarryOnly(t, c.page, a)
	}
	if got := s.th.renders.Load(); got != 2 {
		t.Fatalf("%d renders for two pages, want 2 (one shared fill)", got)
	}
	if strings.ReplaceAll(p1, k1, "K") != strings.ReplaceAll(p2, k2, "K") {
		t.Fatalf("shared copies differ beyond the key:\n%s\n%s", p1, p2)
	}
}

func TestSharedPageIsNotForSignedInOrFlashedOrOtherLayouts(t *testing.T) {
	s := newSharedSite(t, &countingTheme{})
	a, b := token("alice"), token("bob")
	s.get(t, "/", "X-Token", a) // fills: 2 renders
	base := s.th.renders.Load()

	pu := s.get(t, "/", "X-Token", b, "X-User", "Vic")
	mustCarryOnly(t, pu, b, a)
	if !strings.Contains(pu, "user Vic") {
		t.Fatalf("signed-in page lacks the user:\n%s", pu)
	}
	flash, _ := json.Marshal(theme.Flash{Level: theme.FlashInfo, Message: "Welcome back"})
	pf := s.get(t, "/", "X-Token", b, "Cookie", flashCookie+"="+base64.RawURLEncoding.EncodeToString(flash))
	mustCarryOnly(t, pf, b, a)
	if !strings.Contains(pf, "flash Welcome back") {
		t.Fatalf("flashed page lacks its flash:\n%s", pf)
	}
	pn := s.get(t, "/", "X-Token", b, "X-Nav", "Extra")
	if !strings.Contains(pn, "nav Live now,Extra") {
		t.Fatalf("a request with another layout got a shared copy:\n%s", pn)
	}
	if got := s.th.renders.Load() - base; got != 3 {
		t.Fatalf("%d renders for three unshareable requests, want 3", got)
	}
	// None of them replaced the shared copy.
	s.get(t, "/", "X-Token", a)
	if got := s.th.renders.Load() - base; got != 3 {
		t.Fatalf("the shared copy was rendered again (%d renders)", got)
	}
}

func TestSharedPageRefreshesOnVersionAndAfterTTL(t *testing.T) {
	s := newSharedSite(t, &countingTheme{})
	a := token("alice")
	s.get(t, "/", "X-Token", a)
	s.get(t, "/", "X-Token", a)
	if got := s.th.renders.Load(); got != 2 {
		t.Fatalf("%d renders, want 2", got)
	}
	s.version.Add(1) // someone went live
	s.get(t, "/", "X-Token", a)
	if got := s.th.renders.Load(); got != 4 {
		t.Fatalf("a new version was served from the old copy (%d renders, want 4)", got)
	}
	s.advance(sharedTTL - time.Millisecond)
	s.get(t, "/", "X-Token", a)
	if got := s.th.renders.Load(); got != 4 {
		t.Fatalf("refilled before the TTL (%d renders)", got)
	}
	s.advance(2 * time.Millisecond)
	s.get(t, "/", "X-Token", a)
	if got := s.th.renders.Load(); got != 6 {
		t.Fatalf("served past the TTL (%d renders, want 6)", got)
	}
}

func TestSharedPageFallsBackWhenTheThemeChangesTheToken(t *testing.T) {
	for name, th := range map[string]*countingTheme{
		"transformed token": {transform: func(s string) string { return "x" + strings.ToUpper(s) }},
		"varying output":    {stamp: true},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSharedSite(t, th)
			a, b := token("alice"), token("bob")
			for i := 0; i < 2; i++ {
				pa := s.get(t, "/", "X-Token", a)
				pb := s.get(t, "/", "X-Token", b)
				if th.transform != nil {
					ta, tb := th.transform(a), th.transform(b)
					if !strings.Contains(pa, ta) || strings.Contains(pa, tb) || !strings.Contains(pb, tb) || strings.Contains(pb, ta) {
						t.Fatalf("pages do not carry their own transformed token:\n%s\n%s", pa, pb)
					}
				} else {
					mustCarryOnly(t, pa, a, b)
					mustCarryOnly(t, pb, b, a)
				}
			}
			// One fill (two renders) found the copy unshareable; every
			// request after it rendered its own page.
			if got := th.renders.Load(); got != 2+4 {
				t.Fatalf("%d renders, want 6", got)
			}
		})
	}
}

func TestSharedPageConcurrentFirstVisitorsShareOneFill(t *testing.T) {
	th := &countingTheme{gate: make(chan struct{})}
	s := newSharedSite(t, th)
	const n = 8
	pages := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if pages[i], err = s.fetch("/", "X-Token", token(fmt.Sprint("visitor", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let them all arrive while the first fill is held
	close(th.gate)
	wg.Wait()
	for i, p := range pages {
		var others []string
		for j := range n {
			if j != i {
				others = append(others, token(fmt.Sprint("visitor", j)))
			}
		}
		mustCarryOnly(t, p, token(fmt.Sprint("visitor", i)), others...)
	}
	if got := th.renders.Load(); got != 2 {
		t.Fatalf("%d renders for %d concurrent first visitors, want 2", got, n)
	}
}
