// Package web is camkit's HTTP face on fiber: pages rendered by the theme
// plugin, the JSON API, processor webhooks and routes, WebRTC signalling, and
// the operational endpoints (/healthz, /readyz, /metrics). Handlers are thin:
// they parse, call a core service and render; no business rule lives here.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/camkit/camkit/core/clientaddr"
	"github.com/camkit/camkit/core/httperror"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReadinessCheck reports whether a dependency (database, a plugin) is usable.
type ReadinessCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Server is the fiber app and what it serves.
type Server struct {
	app     *fiber.App
	log     *slog.Logger
	checks  []ReadinessCheck
	reqs    *prometheus.CounterVec
	latency *prometheus.HistogramVec
	// pageError renders an error for a page route through the theme; nil
	// answers plain text.
	pageError func(c *fiber.Ctx, status int, err error) error
}

// Options configure New.
type Options struct {
	Log      *slog.Logger
	Registry *prometheus.Registry // also served at /metrics
	Checks   []ReadinessCheck
	// BodyLimit caps every request body; routes that take less check on their own.
	BodyLimit int
	// ClientAddr finds each request's client (see config.HTTP); nil trusts no
	// proxy.
	ClientAddr *clientaddr.Resolver
	// PublicURL is http.public_url: HSTS is sent when it is https, and its
	// WebSocket origin is named in the Content-Security-Policy.
	PublicURL string
	// PageError renders an error for a page route (the product's themed
	// Product.PageError); nil answers plain text.
	PageError func(c *fiber.Ctx, status int, err error) error
}

// New builds the app with the operational routes. Feature routes are added by
// the Mount functions of the packages that own them.
func New(o Options) *Server {
	if o.BodyLimit == 0 {
		o.BodyLimit = 1 << 20
	}
	s := &Server{log: o.Log, checks: o.Checks, pageError: o.PageError}
	secure := newSecurityHeaders(o.PublicURL)
	s.app = fiber.New(fiber.Config{
		AppName: "camkit",
		// Immutable: every string and byte slice fiber hands out (Method,
		// Path, Params, Query, Get, Cookies, FormValue, Body, BodyParser's
		// fields) is a copy, not a view of fasthttp's request buffer, which
		// the next request on the connection overwrites. Without it a value
		// kept past the handler changes under whoever kept it: metric labels
		// read "GETT" and /metrics failed with duplicate series; a show id
		// became a map key in the SFU, a seat id a goroutine's argument, a
		// stream session id a closure's. Copying at each such place is an
		// audit every new handler would have to repeat; this is one rule.
		// Its cost, measured with BenchmarkRequestOverhead (core/web; CPU
		// time of 300,000 requests, which load disturbs least): a page
		// request 1.5 -> 2.2 us and 4 -> 14 allocations (118 -> 437 B), an
		// API POST with a JSON body 5.7 -> 6.6 us and 21 -> 70 allocations
		// (fiber's Body copies each header name it scans for
		// Content-Encoding). That is against 28-57 us of CPU for the
		// cheapest page (the shared anonymous home page) and about 1 ms for
		// a signed-in one; BenchmarkHomePage100Live (core/app) cannot
		// resolve it on the shared 2-core machine (before: 7,000-23,100
		// pages/s, after: 4,400-12,500, at load averages 1 to 27).
		Immutable:             true,
		DisableStartupMessage: true,
		BodyLimit:             o.BodyLimit,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		// Answers fiber gives before any route runs (a body over the limit,
		// a malformed request) carry the security headers too.
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			secure.apply(c)
			return s.errorHandler(c, err)
		},
		// No proxy settings here: the client's address is clientaddr.Of, the
		// host's one answer (fiber's takes the leftmost forwarded entry).
	})
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "camkit_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"route", "method", "status"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "camkit_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 10),
	}, []string{"route"})
	o.Registry.MustRegister(s.reqs, s.latency)
	if o.ClientAddr == nil {
		o.ClientAddr = &clientaddr.Resolver{}
	}
	// A panic in a handler (a parser, pion on a hostile offer) answers 500
	// and is logged with its stack; without this it ends the whole host, and
	// every open seat's metering with it.
	panicked := recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		s.log.Error("handler panicked", "route", c.Route().Path, "panic", fmt.Sprint(e), "stack", string(debug.Stack()))
	}})
	s.app.Use(o.ClientAddr.Middleware(), secure.handler, s.observe, panicked)

	s.app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	s.app.Get("/readyz", s.ready)
	s.app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{Registry: o.Registry})))
	return s
}

// App exposes the fiber app for Mount functions and tests (app.Test).
func (s *Server) App() *fiber.App { return s.app }

// Shutdown stops accepting and waits for in-flight requests up to ctx.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }

func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			status = fe.Code
		} else {
			status = StatusOf(err)
		}
	}
	route := c.Route().Path
	if route == "" || route == "/" && c.Path() != "/" {
		route = "unmatched"
	}
	// route is the registered pattern (a string fiber keeps for the app's
	// life) and method one of the constants below: a label is kept by the
	// registry for good, so it never holds a request's own bytes.
	s.reqs.WithLabelValues(route, methodLabel(c.Method()), strconv.Itoa(status)).Inc()
	s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	return err
}

// methodLabel is the method as a constant string; fiber answers any other
// method itself (400) before a middleware runs, so "other" is not expected.
func methodLabel(m string) string {
	switch m {
	case fiber.MethodGet:
		return fiber.MethodGet
	case fiber.MethodHead:
		return fiber.MethodHead
	case fiber.MethodPost:
		return fiber.MethodPost
	case fiber.MethodPut:
		return fiber.MethodPut
	case fiber.MethodPatch:
		return fiber.MethodPatch
	case fiber.MethodDelete:
		return fiber.MethodDelete
	case fiber.MethodOptions:
		return fiber.MethodOptions
	case fiber.MethodConnect:
		return fiber.MethodConnect
	case fiber.MethodTrace:
		return fiber.MethodTrace
	}
	return "other"
}

func (s *Server) ready(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	type result struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	}
	out := struct {
		Ready  bool     `json:"ready"`
		Checks []result `json:"checks"`
	}{Ready: true}
	for _, ch := range s.checks {
		r := result{Name: ch.Name, OK: true}
		if err := ch.Check(ctx); err != nil {
			// Public endpoint: the detail (socket paths, addresses) goes to the log.
			s.log.Warn("readiness check failed", "check", ch.Name, "err", err)
			r.OK, r.Error, out.Ready = false, httperror.Message(err), false
		}
		out.Checks = append(out.Checks, r)
	}
	if !out.Ready {
		c.Status(fiber.StatusServiceUnavailable)
	}
	return c.JSON(out)
}

// StatusOf is httperror.Status, the host's one error -> HTTP status table.
func StatusOf(err error) int { return httperror.Status(err) }

// errorHandler answers JSON for the API and plain text elsewhere; the page
// routes render their own error pages through the theme before reaching it.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	code := StatusOf(err)
	msg := httperror.Message(err)
	if h := httperror.RetryAfterHeader(err); h != "" {
		c.Set(fiber.HeaderRetryAfter, h)
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code, msg = fe.Code, fe.Message
	}
	if code >= 500 {
		s.log.Error("request failed", "path", c.Path(), "err", err)
	}
	if len(c.Path()) >= 5 && c.Path()[:5] == "/api/" {
		e := fiber.Map{"code": apiCode(err, code), "message": msg}
		var fld *FieldError
		if errors.As(err, &fld) {
			e["field"] = fld.Field
			e["message"] = fld.Err.Message
		}
		return c.Status(code).JSON(fiber.Map{"error": e})
	}
	if s.pageError != nil && code != fiber.StatusMethodNotAllowed {
		if perr := s.pageError(c, code, err); perr == nil {
			return nil
		}
	}
	return c.Status(code).SendString(msg)
}

// apiCode is the machine-readable code of an API error: the errs code, or
// for errors fiber raises itself (unknown route, body too large) one named
// after the status.
func apiCode(err error, status int) string {
	if c := errs.CodeOf(err); c != "" && c != errs.Internal {
		return string(c)
	}
	switch status {
	case fiber.StatusNotFound:
		return string(errs.NotFound)
	case fiber.StatusRequestEntityTooLarge:
		return "too_large"
	case fiber.StatusMethodNotAllowed:
		return "method_not_allowed"
	case fiber.StatusBadRequest, fiber.StatusUnsupportedMediaType:
		return string(errs.Invalid)
	}
	return string(errs.Internal)
}
