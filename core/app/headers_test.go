package app_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/config"
)

// TestEveryRouteKindCarriesTheSecurityHeaders asks the assembled site for
// one answer of each kind (page, API, static script, theme asset, webhook,
// processor page, WHIP/WHEP, server-sent events, the chat socket without an
// upgrade, operational endpoints, 404s, errors raised by a route, by the API
// guard and by fiber before any route) and checks each carries the headers.
func TestEveryRouteKindCarriesTheSecurityHeaders(t *testing.T) {
	w := newWorld(t)
	anon := w.site.browser("visitor")
	anon.passAge()
	type ask struct {
		what, method, path, ctype, body string
		who                             *browser
		code                            int
		ownCSP                          string // a processor page's own policy, kept
	}
	asks := []ask{
		{what: "home page", method: "GET", path: "/", who: anon, code: 200},
		{what: "home page, HEAD", method: "HEAD", path: "/", who: anon, code: 200},
		{what: "room page", method: "GET", path: "/shows/" + w.showID, who: w.alice, code: 200},
		{what: "wallet page", method: "GET", path: "/wallet", who: w.alice, code: 200},
		{what: "age gate redirect", method: "GET", path: "/wallet", who: w.site.browser("new"), code: 303},
		{what: "form post redirect", method: "POST", path: "/dashboard/rate", ctype: "application/x-www-form-urlencoded", body: "rate=2.00&_csrf=" + w.model.csrf(), who: w.model, code: 303},
		{what: "page 404", method: "GET", path: "/no/such/page", who: anon, code: 404},
		{what: "page 403", method: "GET", path: "/admin", who: w.alice, code: 403},
		{what: "page refused, no CSRF", method: "POST", path: "/dashboard/rate", ctype: "application/x-www-form-urlencoded", body: "rate=9", who: w.model, code: 403},
		{what: "API", method: "GET", path: "/api/v1/shows", who: anon, code: 200},
		{what: "API 404", method: "DELETE", path: "/api/v1/nothing", who: anon, code: 404},
		{what: "API 401", method: "GET", path: "/api/v1/me", who: anon, code: 401},
		{what: "API 415 (guard)", method: "POST", path: "/api/v1/session", ctype: "text/plain", body: "x", who: anon, code: 415},
		{what: "static script", method: "GET", path: "/static/camkit-chat.js", who: anon, code: 200},
		{what: "static 404", method: "GET", path: "/static/nope.js", who: anon, code: 404},
		{what: "theme asset", method: "GET", path: "/theme/css/site.css", who: anon, code: 200},
		{what: "webhook refused", method: "POST", path: "/webhooks/sandbox", ctype: "application/json", body: `{"id":"x"}`, who: anon},
		{what: "processor page", method: "GET", path: "/pay/sandbox/checkout?ref=nope", who: anon, code: 404,
			ownCSP: "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"},
		{what: "WHIP preflight", method: "OPTIONS", path: "/whip", who: anon, code: 204},
		{what: "WHEP preflight", method: "OPTIONS", path: "/whep/" + w.showID, who: anon, code: 204},
		{what: "WHEP without a token", method: "POST", path: "/whep/" + w.showID, ctype: "application/sdp", body: "v=0\r\n", who: anon},
		{what: "stream session DELETE", method: "DELETE", path: "/stream/sessions/nope", who: anon},
		{what: "chat without an upgrade", method: "GET", path: "/ws/chat/" + w.showID, who: anon, code: 426},
		{what: "healthz", method: "GET", path: "/healthz", who: anon, code: 200},
		{what: "metrics", method: "GET", path: "/metrics", who: anon, code: 200},
	}
	for _, a := range asks {
		var body io.Reader
		if a.body != "" {
			body = strings.NewReader(a.body)
		}
		req, _ := http.NewRequest(a.method, w.url+a.path, body)
		if a.ctype != "" {
			req.Header.Set("Content-Type", a.ctype)
		}
		if a.method != "GET" && a.method != "HEAD" && a.method != "OPTIONS" && strings.HasPrefix(a.path, "/api/") {
			req.Header.Set("X-CSRF-Token", a.who.csrf())
		}
		r := a.who.do(req)
		if a.code != 0 && r.code != a.code {
			t.Errorf("%s: status %d, want %d (%s)", a.what, r.code, a.code, trim(r.body))
		}
		checkSecurityHeaders(t, a.what, r.hdr, a.ownCSP)
	}

	// Server-sent events: the headers come before the stream does.
	req, _ := http.NewRequest("GET", w.url+"/stream/events/"+w.showID, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/event-stream") {
		t.Errorf("events: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	checkSecurityHeaders(t, "server-sent events", r.Header, "")
	r.Body.Close()

	// Requests fiber refuses before any route — one it cannot parse, one
	// whose declared body is over the server's limit — are answered with
	// the headers all the same. Both go over a raw connection that sends
	// only the head: a client still writing a 2 MiB body when the server
	// answers and closes gets a reset instead of the answer (CI saw it).
	for _, raw := range []struct {
		what, head string
		code       int
	}{
		{"malformed request", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", 400},
		{"body over the server's limit", "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4194304\r\n\r\n", 413},
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(w.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(conn, raw.head)
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		r, err := http.ReadResponse(bufio.NewReader(conn), nil)
		conn.Close()
		if err != nil {
			t.Fatalf("%s: %v", raw.what, err)
		}
		if r.StatusCode != raw.code {
			t.Errorf("%s: %d, want %d", raw.what, r.StatusCode, raw.code)
		}
		checkSecurityHeaders(t, raw.what, r.Header, "")
	}
}

// checkSecurityHeaders: one of each header, with the host's values, or the
// processor page's own policy when it set one.
func checkSecurityHeaders(t *testing.T, what string, h http.Header, ownCSP string) {
	t.Helper()
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "strict-origin-when-cross-origin",
	}
	if ownCSP != "" {
		want["Referrer-Policy"] = "no-referrer" // the sandbox's own
	}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s: %s %q, want %q", what, k, got, v)
		}
	}
	csp := h.Values("Content-Security-Policy")
	if len(csp) != 1 {
		t.Errorf("%s: %d Content-Security-Policy headers, want 1: %q", what, len(csp), csp)
		return
	}
	if ownCSP != "" {
		if csp[0] != ownCSP {
			t.Errorf("%s: CSP %q, want the processor's own %q", what, csp[0], ownCSP)
		}
	} else {
		for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
			"base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'", "connect-src 'self' ws://127.0.0.1:"} {
			if !strings.Contains(csp[0], d) {
				t.Errorf("%s: CSP %q lacks %q", what, csp[0], d)
			}
		}
		if strings.Contains(csp[0], "unsafe") {
			t.Errorf("%s: CSP %q allows something unsafe", what, csp[0])
		}
	}
	if v := h.Values("Strict-Transport-Security"); len(v) != 0 {
		t.Errorf("%s: HSTS %q on a site whose public URL is http", what, v)
	}
}

// TestErrorPagesAreThemedAndAPIErrorsAreJSON: a page that fails answers the
// theme's error page (the site's layout, in HTML, under its brand), while an
// API route that fails answers JSON, so a browser never lands on a bare
// "Not Found" and a client never has to parse HTML.
func TestErrorPagesAreThemedAndAPIErrorsAreJSON(t *testing.T) {
	s := newSite(t, func(c *config.Config) { c.Site.Name = "Errand Cams" })
	anon := s.browser("visitor")
	anon.passAge()
	page := anon.get("/no/such/page")
	if page.code != 404 || !strings.HasPrefix(page.hdr.Get("Content-Type"), "text/html") ||
		!strings.Contains(page.body, "<html") || !strings.Contains(page.body, "Errand Cams") {
		t.Fatalf("page 404: %d %q, want the themed HTML error page under the site's name:\n%.400s", page.code, page.hdr.Get("Content-Type"), page.body)
	}
	api := anon.api("GET", "/api/v1/shows/no-such-show", nil, "")
	if api.code != 404 || !strings.HasPrefix(api.hdr.Get("Content-Type"), "application/json") || !strings.Contains(api.body, `"error"`) {
		t.Fatalf("API 404: %d %q %s, want a JSON error", api.code, api.hdr.Get("Content-Type"), api.body)
	}
}
