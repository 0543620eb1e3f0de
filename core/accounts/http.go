package accounts

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"github.com/camkit/camkit/core/clientaddr"
	"net/url"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/gofiber/fiber/v2"
)

// HTTPOptions configure the protocol-level middleware.
type HTTPOptions struct {
	// InsecureCookies drops the Secure flag, for plain-http development on
	// http://127.0.0.1 only. Production cookies are Secure, HttpOnly and
	// SameSite=Lax.
	InsecureCookies bool
	// AgeGatePath is where the gate sends visitors who have not confirmed
	// their age (default "/age"), with ?return_to=<the page they wanted>.
	AgeGatePath string
	// AgeGateExempt are path prefixes served without the gate: the gate
	// itself, assets, health, processor routes and webhooks by default.
	AgeGateExempt []string
	// CSRFExempt are path prefixes whose unsafe requests carry no CSRF token
	// because they do not come from our pages: processor routes (the hosted
	// card page posts to itself) and webhooks, which authenticate otherwise.
	CSRFExempt []string
}

// Cookie names.
const (
	SessionCookie = "camkit_session"
	CSRFCookie    = "camkit_csrf" // binds the CSRF token of a visitor without a session
	AgeCookie     = "camkit_age"

	// CSRFHeader carries the CSRF token on JSON requests; forms use the
	// hidden field CSRFField (theme.CSRFField).
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "_csrf"
)

const (
	localUser    = "camkit.accounts.user"
	localSession = "camkit.accounts.session"
	localToken   = "camkit.accounts.token"
	localAnon    = "camkit.accounts.anon"
)

// HTTP is the fiber face of accounts: session, CSRF and age-gate middleware
// and the cookie side of logging in and out. Mount order: Session, then
// CSRF, then AgeGate, then the routes.
type HTTP struct {
	svc *Service
	o   HTTPOptions
}

// NewHTTP returns the middleware set for svc.
func NewHTTP(svc *Service, o HTTPOptions) *HTTP {
	if o.AgeGatePath == "" {
		o.AgeGatePath = "/age"
	}
	if o.AgeGateExempt == nil {
		o.AgeGateExempt = []string{"/static/", "/theme/", "/healthz", "/readyz", "/metrics", "/pay/", "/webhooks/", "/api/", "/favicon"}
	}
	if o.CSRFExempt == nil {
		o.CSRFExempt = []string{"/pay/", "/webhooks/"}
	}
	return &HTTP{svc: svc, o: o}
}

func (h *HTTP) cookie(name, value string, expires time.Time) *fiber.Cookie {
	return &fiber.Cookie{Name: name, Value: value, Path: "/", Expires: expires,
		Secure: !h.o.InsecureCookies, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode}
}

// Session resolves the session cookie. A valid one puts the user and session
// in the request (CurrentUser); an invalid one is cleared and the request
// goes on anonymous. It never refuses a request: RequireUser does.
func (h *HTTP) Session() fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok := c.Cookies(SessionCookie)
		if tok == "" {
			return c.Next()
		}
		u, sess, err := h.svc.Authenticate(c.UserContext(), tok)
		switch {
		case err == nil:
			c.Locals(localUser, u)
			c.Locals(localSession, sess)
			c.Locals(localToken, tok)
		case errs.CodeOf(err) == errs.Unauthenticated:
			h.clearSessionCookie(c)
		default:
			return err
		}
		return c.Next()
	}
}

// CurrentUser is the signed-in user of the request, if any.
func CurrentUser(c *fiber.Ctx) (User, bool) {
	u, ok := c.Locals(localUser).(User)
	return u, ok
}

// CurrentSession is the request's session, if any.
func CurrentSession(c *fiber.Ctx) (Session, bool) {
	s, ok := c.Locals(localSession).(Session)
	return s, ok
}

// RequireUser refuses a request without a session: 401 (errs.Unauthenticated).
func (h *HTTP) RequireUser() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if _, ok := CurrentUser(c); !ok {
			return ErrNoSession
		}
		return c.Next()
	}
}

// RequireRole refuses a request unless the user has one of roles: 401
// without a session, 403 (errs.Forbidden) with the wrong role.
func (h *HTTP) RequireRole(roles ...Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		u, ok := CurrentUser(c)
		if !ok {
			return ErrNoSession
		}
		for _, r := range roles {
			if u.Role == r {
				return c.Next()
			}
		}
		return errs.E(errs.Forbidden, "this page is for %s accounts", joinRoles(roles))
	}
}

func joinRoles(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

// SetSession puts a new session's cookie on the response (after Login,
// Signup + StartSession) and makes it current for the rest of the request,
// so the page rendered next carries the new session's CSRF token.
func (h *HTTP) SetSession(c *fiber.Ctx, r LoginResult) {
	c.Cookie(h.cookie(SessionCookie, r.Token, r.Session.ExpiresAt))
	c.Locals(localUser, r.User)
	c.Locals(localSession, r.Session)
	c.Locals(localToken, r.Token)
}

// Logout revokes the request's session and clears its cookie.
func (h *HTTP) Logout(c *fiber.Ctx) error {
	tok, _ := c.Locals(localToken).(string)
	if tok == "" {
		tok = c.Cookies(SessionCookie)
	}
	h.clearSessionCookie(c)
	c.Locals(localUser, nil)
	c.Locals(localSession, nil)
	c.Locals(localToken, nil)
	return h.svc.Logout(c.UserContext(), tok)
}

func (h *HTTP) clearSessionCookie(c *fiber.Ctx) {
	c.Cookie(h.cookie(SessionCookie, "", time.Unix(0, 0)))
}

// CSRFToken is the token the request's pages put in every form (the
// CSRFField input, or the CSRFHeader for JSON). It is an HMAC of the session
// id, or for a visitor without a session, of the CSRF cookie, which the CSRF
// middleware sets.
func (h *HTTP) CSRFToken(c *fiber.Ctx) string {
	if s, ok := CurrentSession(c); ok {
		return h.csrfFor("s:" + s.ID)
	}
	anon, _ := c.Locals(localAnon).(string)
	if anon == "" {
		anon = c.Cookies(CSRFCookie)
	}
	if anon == "" {
		return ""
	}
	return h.csrfFor("a:" + anon)
}

func (h *HTTP) csrfFor(binding string) string {
	m := hmac.New(sha256.New, h.svc.csrfKey)
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ErrCSRF is the answer to an unsafe request without the right token.
var ErrCSRF = errs.E(errs.Forbidden, "this form has expired or did not come from this site (CSRF check failed): reload the page and try again")

// CSRF checks every POST, PUT, PATCH and DELETE outside CSRFExempt: the
// token from CSRFField or CSRFHeader must equal CSRFToken (compared in
// constant time), else 403. Safe requests pass, and a visitor without a
// session gets the CSRF cookie their token is bound to. Mount after Session.
func (h *HTTP) CSRF() fiber.Handler {
	return func(c *fiber.Ctx) error {
		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions, fiber.MethodTrace:
			if _, ok := CurrentSession(c); !ok && c.Cookies(CSRFCookie) == "" {
				anon := newToken()
				c.Locals(localAnon, anon)
				c.Cookie(h.cookie(CSRFCookie, anon, time.Time{}))
			}
			return c.Next()
		}
		for _, p := range h.o.CSRFExempt {
			if strings.HasPrefix(c.Path(), p) {
				return c.Next()
			}
		}
		got := c.Get(CSRFHeader)
		if got == "" {
			got = c.FormValue(CSRFField)
		}
		want := h.CSRFToken(c)
		if got == "" || want == "" || !hmac.Equal([]byte(got), []byte(want)) {
			return ErrCSRF
		}
		return c.Next()
	}
}

// AgeGate sends a visitor who has not confirmed their age to AgeGatePath
// (303, with return_to) before any page. It gates GET and HEAD page loads;
// paths under AgeGateExempt pass.
func (h *HTTP) AgeGate() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			return c.Next()
		}
		p := c.Path()
		if p == h.o.AgeGatePath {
			return c.Next()
		}
		for _, e := range h.o.AgeGateExempt {
			if strings.HasPrefix(p, e) {
				return c.Next()
			}
		}
		if h.svc.AgeCookieValid(c.Cookies(AgeCookie)) {
			return c.Next()
		}
		return c.Redirect(h.o.AgeGatePath+"?return_to="+url.QueryEscape(string(c.Request().URI().RequestURI())), fiber.StatusSeeOther)
	}
}

// ConfirmAge records the request's confirmation (with the signed-in user,
// if any) and sets the age cookie for a year.
func (h *HTTP) ConfirmAge(c *fiber.Ctx) (AgeRecord, error) {
	u, _ := CurrentUser(c)
	rec, err := h.svc.ConfirmAge(c.UserContext(), AgeConfirmation{UserID: u.ID, IP: clientaddr.String(c), UserAgent: c.Get(fiber.HeaderUserAgent)})
	if err != nil {
		return AgeRecord{}, err
	}
	c.Cookie(h.cookie(AgeCookie, rec.Cookie, rec.ConfirmedAt.Add(365*24*time.Hour)))
	return rec, nil
}

// SafeReturnTo keeps a return_to parameter on this site: a path starting
// with a single "/", else "/". It stops the log-in and age-gate redirects
// from sending people to another site.
func SafeReturnTo(s string) string {
	if s == "" || s[0] != '/' || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") || strings.ContainsAny(s, "\r\n") {
		return "/"
	}
	return s
}
