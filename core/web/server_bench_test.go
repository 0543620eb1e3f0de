package web_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/web"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// BenchmarkRequestOverhead is the host's own cost of one request, without a
// theme, plugin or database behind it: fiber's routing and context, the
// metrics middleware, the security headers, and the request accessors the
// site's middleware and handlers call: the cookies and headers
// accounts.HTTP's session, CSRF and age-gate middleware read, a route
// parameter and a query; for the API call a JSON body read three times as
// apiGuard and decode do. It is what Immutable (fiber copying every request
// string it hands out) and the headers cost per request, measured on their
// own; compare it with a page (BenchmarkHomePage100Live in core/app).
//
//	go test -run '^$' -bench RequestOverhead -benchmem ./core/web
func BenchmarkRequestOverhead(b *testing.B) {
	srv := web.New(web.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry()})
	app := srv.App()
	app.Use(func(c *fiber.Ctx) error { // what the session, CSRF and age-gate middleware read
		if c.Cookies("camkit_session") == "" || c.Cookies("camkit_age") == "" || c.Cookies("camkit_flash") != "" {
			return fiber.ErrUnauthorized
		}
		if c.Method() != fiber.MethodGet && c.Get("X-CSRF-Token") == "" {
			return fiber.ErrForbidden
		}
		return c.Next()
	})
	app.Get("/shows/:show", func(c *fiber.Ctx) error {
		_ = c.Get(fiber.HeaderUserAgent)
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.SendString("<!doctype html><title>" + c.Params("show") + c.Query("tab") + "</title>")
	})
	app.Post("/api/v1/shows/:show/chat", func(c *fiber.Ctx) error {
		if len(c.Body()) > 16<<10 || !strings.HasPrefix(c.Get(fiber.HeaderContentType), "application/json") || len(c.Body()) == 0 {
			return fiber.ErrBadRequest
		}
		var in struct{ Text string }
		if err := json.Unmarshal(c.Body(), &in); err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(fiber.Map{"show": c.Params("show"), "text": in.Text, "page": c.Query("page")})
	})
	h := app.Handler()
	browserHeaders := func(r *fasthttp.Request) {
		r.Header.SetHost("cams.example")
		for k, v := range map[string]string{
			"User-Agent":      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36",
			"Accept-Language": "en-GB,en;q=0.9",
			"Accept-Encoding": "gzip, deflate, br",
			"Referer":         "https://cams.example/",
			"Sec-Fetch-Site":  "same-origin",
			"Sec-Fetch-Dest":  "empty",
			"Cookie":          "camkit_age=1.abc; camkit_csrf=def; camkit_session=sess_0123456789abcdef0123456789abcdef",
		} {
			r.Header.Set(k, v)
		}
	}
	var page, call fasthttp.Request
	page.SetRequestURI("/shows/sh_0123456789abcdef?tab=chat")
	browserHeaders(&page)
	page.Header.Set("Accept", "text/html")
	call.Header.SetMethod(fiber.MethodPost)
	call.SetRequestURI("/api/v1/shows/sh_0123456789abcdef/chat?page=2")
	browserHeaders(&call)
	call.Header.Set("Accept", "application/json")
	call.Header.Set("Content-Type", "application/json")
	call.Header.Set("Origin", "https://cams.example")
	call.Header.Set("X-CSRF-Token", "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5")
	call.SetBodyString(`{"text":"hello there, nice show"}`)
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}

	for _, bc := range []struct {
		name string
		req  *fasthttp.Request
		code int
	}{{"page", &page, fiber.StatusOK}, {"api-post", &call, fiber.StatusCreated}} {
		b.Run(bc.name, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			ctx.Init(bc.req, addr, nil)
			h(&ctx)
			if ctx.Response.StatusCode() != bc.code {
				b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ctx.Init(bc.req, addr, nil)
				h(&ctx)
				ctx.Response.Reset()
			}
		})
	}
}
