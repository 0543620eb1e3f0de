package web_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/web"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
)

func headersOf(t *testing.T, publicURL, path string, routes func(*fiber.App)) map[string][]string {
	t.Helper()
	s := web.New(web.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(), PublicURL: publicURL})
	if routes != nil {
		routes(s.App())
	}
	r, err := s.App().Test(httptest.NewRequest("GET", path, nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r.Header
}

func directive(csp, name string) string {
	for _, d := range strings.Split(csp, ";") {
		d = strings.TrimSpace(d)
		if d == name || strings.HasPrefix(d, name+" ") {
			return d
		}
	}
	return ""
}

// HSTS only when the public URL is https (a browser that saw it would
// refuse the plain-HTTP site for a year); the chat socket's origin follows
// the scheme.
func TestHSTSOnlyWhenThePublicURLIsHTTPS(t *testing.T) {
	for _, c := range []struct {
		url, hsts, connect string
	}{
		{"https://cams.example", "max-age=31536000", "connect-src 'self' wss://cams.example"},
		{"HTTPS://cams.example:8443/", "max-age=31536000", "connect-src 'self' wss://cams.example:8443"},
		{"http://127.0.0.1:8080", "", "connect-src 'self' ws://127.0.0.1:8080"},
		{"", "", "connect-src 'self'"},
		// Not a host a policy can name: nothing is written into it.
		{"https://cams.example;script-src%20*", "max-age=31536000", "connect-src 'self'"},
	} {
		h := headersOf(t, c.url, "/healthz", nil)
		if got := strings.Join(h["Strict-Transport-Security"], ","); got != c.hsts {
			t.Errorf("public URL %q: HSTS %q, want %q", c.url, got, c.hsts)
		}
		csp := strings.Join(h["Content-Security-Policy"], ",")
		if got := directive(csp, "connect-src"); got != c.connect {
			t.Errorf("public URL %q: %q, want %q (policy %q)", c.url, got, c.connect, csp)
		}
		if strings.Count(csp, "script-src") != 1 {
			t.Errorf("public URL %q changed the policy's sources: %q", c.url, csp)
		}
	}
}

// A checkout page that posts to the processor's hosted page names that
// origin in form-action, and only that: the rest of the policy, and every
// other response's form-action, stay 'self'.
func TestAllowFormActionAddsOnlyTheTargetsOrigin(t *testing.T) {
	routes := func(app *fiber.App) {
		app.Get("/checkout", func(c *fiber.Ctx) error {
			web.AllowFormAction(c, "https://wnu.com/secure/fpost.cgi?x=1")
			web.AllowFormAction(c, "javascript:alert(1)")
			web.AllowFormAction(c, "/relative")
			web.AllowFormAction(c, "https://evil.example;script-src%20*/")
			web.AllowFormAction(c, "data:text/html,hi")
			return c.SendString("form")
		})
		app.Get("/other", func(c *fiber.Ctx) error { return c.SendString("other") })
	}
	csp := strings.Join(headersOf(t, "", "/checkout", routes)["Content-Security-Policy"], ",")
	if got := directive(csp, "form-action"); got != "form-action 'self' https://wnu.com" {
		t.Errorf("checkout: %q (policy %q)", got, csp)
	}
	csp = strings.Join(headersOf(t, "", "/other", routes)["Content-Security-Policy"], ",")
	if got := directive(csp, "form-action"); got != "form-action 'self'" {
		t.Errorf("another page: %q", got)
	}
}

// A handler's own header (a processor page's policy) is kept, not doubled;
// what it did not set is added.
func TestAHandlersOwnPolicyIsKept(t *testing.T) {
	own := "default-src 'none'; script-src https://secure.nmi.com; frame-ancestors 'none'"
	h := headersOf(t, "https://cams.example", "/pay/x", func(app *fiber.App) {
		app.Get("/pay/x", func(c *fiber.Ctx) error {
			c.Response().Header.Add("Content-Security-Policy", own)
			c.Response().Header.Add("Referrer-Policy", "no-referrer")
			return c.SendString("card form")
		})
	})
	if got := h["Content-Security-Policy"]; len(got) != 1 || got[0] != own {
		t.Errorf("CSP %q, want only the handler's %q", got, own)
	}
	if got := h["Referrer-Policy"]; len(got) != 1 || got[0] != "no-referrer" {
		t.Errorf("Referrer-Policy %q", got)
	}
	for k, v := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Strict-Transport-Security": "max-age=31536000"} {
		if got := h[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s %q, want %q", k, got, v)
		}
	}
}
