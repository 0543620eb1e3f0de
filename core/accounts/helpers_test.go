package accounts_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/clock/clocktest"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/core/web"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	db  *store.DB
	clk *clocktest.Fake
	svc *accounts.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := storetest.Postgres(t)
	clk := clocktest.NewFake(t0)
	svc, err := accounts.New(context.Background(), db, accounts.Options{
		Currency: "USD", Clock: clk, PasswordParams: accounts.TestPasswordParams,
		SessionTTL: 24 * time.Hour, SessionIdle: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{db: db, clk: clk, svc: svc}
}

func (e *env) user(t *testing.T, email string, role accounts.Role) accounts.User {
	t.Helper()
	u, err := e.svc.CreateUser(context.Background(), accounts.NewUser{Email: email, DisplayName: strings.Split(email, "@")[0], Password: "correct horse battery", Role: role})
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	return u
}

// browser is a cookie-keeping client over app.Test.
type browser struct {
	t       *testing.T
	app     *fiber.App
	cookies map[string]string
	ip      string
}

func newBrowser(t *testing.T, app *fiber.App) *browser {
	return &browser{t: t, app: app, cookies: map[string]string{}, ip: "203.0.113.7"}
}

func (b *browser) do(method, path string, form url.Values, hdr map[string]string) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-Forwarded-For", b.ip)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := b.app.Test(req, 60_000) // generous: the host may be busy with other test packages
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range resp.Cookies() {
		// The fake clock is not the wall clock: only a 1970 expiry means "delete".
		if c.Value == "" || (!c.Expires.IsZero() && c.Expires.Year() < 2000) {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), resp.Header
}

// testApp is the web server with accounts' middleware and small handlers that
// stand in for the pages: they call the service exactly as the web layer will.
func testApp(t *testing.T, e *env) (*fiber.App, *accounts.HTTP) {
	t.Helper()
	srv := web.New(web.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry()})
	app := srv.App()
	h := accounts.NewHTTP(e.svc, accounts.HTTPOptions{InsecureCookies: true})
	app.Use(h.Session(), h.CSRF(), h.AgeGate())
	app.Get("/age", func(c *fiber.Ctx) error { return c.SendString("gate csrf=" + h.CSRFToken(c)) })
	app.Post("/age", func(c *fiber.Ctx) error {
		if _, err := h.ConfirmAge(c); err != nil {
			return err
		}
		return c.Redirect(accounts.SafeReturnTo(c.FormValue("return_to")), fiber.StatusSeeOther)
	})
	app.Get("/", func(c *fiber.Ctx) error {
		u, ok := accounts.CurrentUser(c)
		name := "anonymous"
		if ok {
			name = u.DisplayName + "/" + string(u.Role)
		}
		return c.SendString(name + " csrf=" + h.CSRFToken(c))
	})
	app.Post("/login", func(c *fiber.Ctx) error {
		r, err := e.svc.Login(c.UserContext(), accounts.LoginRequest{Email: c.FormValue("email"), Password: c.FormValue("password"), IP: c.IP()})
		if err != nil {
			return err
		}
		h.SetSession(c, r)
		return c.SendString("welcome " + r.User.DisplayName)
	})
	app.Post("/logout", func(c *fiber.Ctx) error {
		if err := h.Logout(c); err != nil {
			return err
		}
		return c.SendString("bye")
	})
	app.Get("/admin", h.RequireRole(accounts.RoleAdmin), func(c *fiber.Ctx) error { return c.SendString("admin area") })
	app.Get("/me", h.RequireUser(), func(c *fiber.Ctx) error { u, _ := accounts.CurrentUser(c); return c.SendString(u.ID) })
	return app, h
}

// csrfFrom pulls the token out of "... csrf=<token>".
func csrfFrom(body string) string {
	_, tok, _ := strings.Cut(body, "csrf=")
	return tok
}

type fiberCtx = fiber.Ctx

func newFiber() *fiber.App { return fiber.New(fiber.Config{DisableStartupMessage: true}) }

func mustAge(t *testing.T, e *env) string {
	t.Helper()
	rec, err := e.svc.ConfirmAge(context.Background(), accounts.AgeConfirmation{IP: "203.0.113.7"})
	if err != nil {
		t.Fatal(err)
	}
	return rec.Cookie
}

func asRateLimit(err error, target **accounts.RateLimitError) bool { return errors.As(err, target) }
