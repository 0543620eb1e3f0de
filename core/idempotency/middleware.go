package idempotency

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/camkit/camkit/core/clock"
	"github.com/gofiber/fiber/v2"
)

// Header is the request header of the draft; ReplayedHeader marks a replayed
// answer (the name Stripe and others use).
const (
	Header         = "Idempotency-Key"
	ReplayedHeader = "Idempotent-Replayed"
)

// Defaults of Options.
const (
	DefaultTTL      = 24 * time.Hour
	DefaultLease    = time.Minute
	DefaultFormWait = 15 * time.Second
	DefaultMaxBody  = 1 << 20
	// DefaultFormField is the hidden input of the site's forms
	// (sdk/theme.IdempotencyField).
	DefaultFormField = "idempotency_key"
)

// Options configure a Middleware.
type Options struct {
	// Scope is whose key it is: the authenticated user's id. A request
	// without one is refused (the middleware runs after the route's
	// sign-in check, so that only happens if it is misplaced).
	Scope func(c *fiber.Ctx) (userID string, ok bool)
	// FormField is the hidden input of a form post's key; DefaultFormField
	// when empty. SkipFields are form fields left out of a form's key and
	// fingerprint besides it (the CSRF token: it is about the session, not
	// about what the form does).
	FormField  string
	SkipFields []string
	// Headers are response headers replayed besides Content-Type and
	// Location; Cookies names the cookies whose Set-Cookie is replayed (a
	// form's flash message). No other cookie is ever kept.
	Headers []string
	Cookies []string
	// TTL is how long an answer is replayed (DefaultTTL); Lease how long a
	// claim holds without an answer before a repeat may take it over
	// (DefaultLease); FormWait how long a repeated form post waits for the
	// first one's answer (DefaultFormWait). MaxBody caps a kept answer's
	// body: a larger answer is not kept (a retry runs again).
	TTL, Lease, FormWait time.Duration
	MaxBody              int
	Clock                clock.Clock
	Log                  *slog.Logger
}

// Middleware applies the scheme to the routes it is put on.
type Middleware struct {
	st      Store
	o       Options
	headers []string
	cookies map[string]bool
}

// New builds the middleware on st.
func New(st Store, o Options) *Middleware {
	if o.FormField == "" {
		o.FormField = DefaultFormField
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.FormWait <= 0 {
		o.FormWait = DefaultFormWait
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	m := &Middleware{st: st, o: o, cookies: map[string]bool{},
		headers: append([]string{fiber.HeaderContentType, fiber.HeaderLocation}, o.Headers...)}
	for _, c := range o.Cookies {
		m.cookies[c] = true
	}
	return m
}

// localKey is where the effective key waits for the handler (Key).
const localKey = "camkit.idempotency.key"

// Key is the effective key of the request the middleware let through, for
// the handler to pass to the service it calls; "" when the request has none
// (or the route has no middleware).
func Key(c *fiber.Ctx) string {
	k, _ := c.Locals(localKey).(string)
	return k
}

// Handler honours the Idempotency-Key header (409 while the first request
// runs) and, on a form post without one, the form's hidden FormField (a
// repeat waits for the first answer).
func (m *Middleware) Handler() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if h := c.Get(Header); h != "" {
			k, err := ParseHeader(h)
			if err != nil {
				return err
			}
			return m.serve(c, HeaderKey(k), false)
		}
		if rendered := m.formKey(c); rendered != "" {
			return m.serve(c, rendered, true)
		}
		return c.Next()
	}
}

// KeyedBy is Handler for a route whose requests name their own key (the
// processor's return link carries the checkout's id): key gives it, "" for
// none. A repeat waits for the first answer, as a browser's would.
func (m *Middleware) KeyedBy(key func(c *fiber.Ctx) string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if h := c.Get(Header); h != "" {
			k, err := ParseHeader(h)
			if err != nil {
				return err
			}
			return m.serve(c, HeaderKey(k), false)
		}
		v := key(c)
		if v == "" {
			return c.Next()
		}
		if len(v) > MaxKeyLen {
			return errBadKey("is longer than %d characters", MaxKeyLen)
		}
		return m.serve(c, RouteKey(c.Route().Path, v), true)
	}
}

// formKey is the effective key of a urlencoded form post that carries
// FormField, "" for any other request. A malformed field counts as none: it
// is the site's own page that failed to render it, not a client's choice.
func (m *Middleware) formKey(c *fiber.Ctx) string {
	if c.Method() != fiber.MethodPost || !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationForm) {
		return ""
	}
	fields, err := url.ParseQuery(string(c.Body()))
	if err != nil {
		return ""
	}
	rendered := fields.Get(m.o.FormField)
	if !ValidKey(rendered) {
		return ""
	}
	return FormKey(rendered, c.Method(), c.Path(), fields, append([]string{m.o.FormField}, m.o.SkipFields...)...)
}

// serve runs the request under key, or answers for it.
func (m *Middleware) serve(c *fiber.Ctx, key string, wait bool) error {
	userID, ok := m.o.Scope(c)
	if !ok || userID == "" {
		return errNoUser()
	}
	userID = strings.Clone(userID)
	method, path := strings.Clone(c.Method()), strings.Clone(c.Path())
	claim := Claim{UserID: userID, Key: key, Method: method, Path: path, Lease: m.o.Lease, TTL: m.o.TTL,
		Fingerprint: Fingerprint(method, path, string(c.Request().URI().QueryString()), m.fingerprintBody(c))}
	ctx := c.UserContext()
	var deadline time.Time
	pause := 25 * time.Millisecond
	for {
		claim.Now = m.o.Clock.Now()
		out, err := m.st.Begin(ctx, claim)
		if err != nil {
			return err // fail closed: a request the store cannot guard does not run
		}
		switch out.State {
		case Acquired:
			return m.run(c, claim, out.Token)
		case Done:
			return m.replay(c, out.Response)
		case Mismatch:
			return errMismatch()
		}
		// In flight. The API says so; a form waits for the first answer.
		if !wait {
			return errInFlight(time.Second)
		}
		if deadline.IsZero() {
			deadline = claim.Now.Add(m.o.FormWait)
		}
		if !claim.Now.Before(deadline) {
			return errFormInFlight(time.Second)
		}
		t := m.o.Clock.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return errFormInFlight(time.Second)
		case <-t.C():
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

// fingerprintBody is the body as the fingerprint sees it: a form's without
// the skipped fields (the key's own field, the CSRF token), anything else's
// as sent.
func (m *Middleware) fingerprintBody(c *fiber.Ctx) []byte {
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationForm) {
		return c.Body()
	}
	fields, err := url.ParseQuery(string(c.Body()))
	if err != nil {
		return c.Body()
	}
	fields.Del(m.o.FormField)
	for _, f := range m.o.SkipFields {
		fields.Del(f)
	}
	return []byte(fields.Encode()) // sorted by name
}

// run lets the request through, then keeps its answer if it is final.
func (m *Middleware) run(c *fiber.Ctx, cl Claim, token string) error {
	c.Locals(localKey, cl.Key)
	err := c.Next()
	if err != nil {
		// Answer the error now, so the answer is what gets kept.
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			m.release(cl, token)
			return herr
		}
	}
	resp := c.Response()
	status := resp.StatusCode()
	if !final(status) || len(resp.Body()) > m.o.MaxBody {
		m.release(cl, token)
		return nil
	}
	r := Response{Status: status, Header: map[string]string{}, Body: append([]byte(nil), resp.Body()...)}
	for _, h := range m.headers {
		if v := resp.Header.Peek(h); len(v) > 0 {
			r.Header[h] = string(v)
		}
	}
	resp.Header.VisitAllCookie(func(name, value []byte) {
		if m.cookies[string(name)] {
			r.Cookies = append(r.Cookies, string(value))
		}
	})
	ctx, cancel := m.detached()
	defer cancel()
	if err := m.st.Complete(ctx, cl.UserID, cl.Key, token, r, m.o.Clock.Now(), m.o.TTL); err != nil {
		// The client has its answer; a retry will run again (safely: the
		// service is idempotent on the key) once the claim is gone.
		m.o.Log.Warn("idempotency: keeping an answer failed", "path", cl.Path, "err", err)
		m.release(cl, token)
	}
	return nil
}

func (m *Middleware) release(cl Claim, token string) {
	ctx, cancel := m.detached()
	defer cancel()
	if err := m.st.Release(ctx, cl.UserID, cl.Key, token); err != nil {
		// The claim stays until its lease ends; repeats get 409 until then.
		m.o.Log.Warn("idempotency: releasing a claim failed", "path", cl.Path, "err", err)
	}
}

// detached is the context of the bookkeeping after the handler: it must
// happen even if the request's own context ended.
func (m *Middleware) detached() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// replay sends a kept answer.
func (m *Middleware) replay(c *fiber.Ctx, r *Response) error {
	c.Status(r.Status)
	for k, v := range r.Header {
		c.Set(k, v)
	}
	for _, ck := range r.Cookies {
		c.Response().Header.Add(fiber.HeaderSetCookie, ck)
	}
	c.Set(ReplayedHeader, "true")
	return c.Send(r.Body)
}

// final reports whether an answer is the request's outcome, to be replayed:
// not a server failure (5xx), not "accepted, not done yet" (202), and not a
// "try again later" (408 timeout, 409 a conflict with the current state,
// 425, 429).
func final(status int) bool {
	switch {
	case status >= 500, status < 200:
		return false
	}
	switch status {
	case http.StatusAccepted, http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return true
}
