package web

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/audit"
	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// Product is everything the pages and the API call. Handlers only parse,
// call one of these and render.
type Product struct {
	Pages    *Pages
	Accounts *accounts.Service
	HTTP     *accounts.HTTP
	Cards    *accounts.PaymentMethods
	Packs    *accounts.CreditPacks
	Wallets  *accounts.Wallets
	Chat     *chat.Service
	Shows    Shows
	// Tickets sells ticket shows; nil: the site has none (no routes).
	Tickets Tickets
	Ledger  LedgerVerifier
	Plugins PluginStatuses
	// Audit records admin actions; nil records nothing.
	Audit *audit.Log
	// Keys keeps the Idempotency-Key records of the money-moving routes
	// (core/idempotency; see moneyRoute).
	Keys idempotency.Store

	// PublicURL is where browsers reach the site ("https://cams.example");
	// processors' return URLs are built from it.
	PublicURL string
	// Processor is the active processor's name (the /pay/<name>/ prefix).
	Processor   string
	TipPresets  []money.Money
	ModelSignup bool

	// Audience, when set, gives viewer counts (WHEP and chat) and the grid's
	// presence; without it the counts are Shows' and every show is listed.
	Audience Audience
	// Thumbnails, when set, serves /shows/<id>/thumbnail for the grid and
	// the room's poster.
	Thumbnails Thumbnails
	// Tipping, when set, gives rooms a tip goal and a tip menu and models
	// their editors.
	Tipping Tipping

	csrfCheck  fiber.Handler
	idem       *idempotency.Middleware
	directory  directory
	verifyMu   sync.Mutex
	lastVerify *theme.LedgerVerify
}

// Mount adds the middleware (session, bearer, CSRF, age gate) and every page
// and API route. The operational routes and /pay, /webhooks come from their
// own Mount functions; the stream adapter mounts WHIP/WHEP itself.
func (p *Product) Mount(app *fiber.App) {
	p.Pages.Chrome = p.Chrome
	p.csrfCheck = p.HTTP.CSRF()
	p.idem = idempotency.New(p.Keys, idempotency.Options{
		Scope: func(c *fiber.Ctx) (string, bool) {
			u, ok := accounts.CurrentUser(c)
			return u.ID, ok
		},
		FormField:  theme.IdempotencyField,
		SkipFields: []string{theme.CSRFField},
		Cookies:    []string{flashCookie}, // a form's answer is a redirect with its flash
	})
	app.Use(p.bearer, p.HTTP.Session(), p.csrf, p.HTTP.AgeGate())
	mountStatic(app)
	p.Pages.Mount(app)
	p.mountPages(app)
	p.mountAPI(app)
	app.Get("/ws/chat/:show", p.Chat.Handler(chat.HandlerOptions{
		Identify: func(c *fiber.Ctx) (chat.Member, bool) {
			u, ok := accounts.CurrentUser(c)
			if !ok {
				return chat.Member{}, false
			}
			return chat.Member{UserID: u.ID, Name: u.DisplayName, Role: theme.Role(u.Role)}, true
		},
		CanJoin: p.canJoinChat,
	}))
}

const localBearer = "camkit.web.bearer"

// bearer turns "Authorization: Bearer <session token>" on an API request
// into the session the accounts middleware reads. A bearer request is not
// exposed to CSRF (a browser never adds the header on its own), so the CSRF
// check is skipped for it.
func (p *Product) bearer(c *fiber.Ctx) error {
	if !strings.HasPrefix(c.Path(), "/api/") {
		return c.Next()
	}
	a := c.Get(fiber.HeaderAuthorization)
	if len(a) < 8 || !strings.EqualFold(a[:7], "bearer ") {
		return c.Next()
	}
	tok := strings.TrimSpace(a[7:])
	c.Request().Header.DelAllCookies()
	c.Request().Header.SetCookie(accounts.SessionCookie, tok)
	c.Locals(localBearer, true)
	return c.Next()
}

func isBearer(c *fiber.Ctx) bool { b, _ := c.Locals(localBearer).(bool); return b }

// csrf skips bearer requests and the two API calls that hand out a bearer
// token without setting any cookie (log-in CSRF needs a cookie to plant).
func (p *Product) csrf(c *fiber.Ctx) error {
	if isBearer(c) {
		return c.Next()
	}
	if c.Method() == fiber.MethodPost && (c.Path() == APIBase+"/session" || c.Path() == APIBase+"/signup") {
		return c.Next()
	}
	return p.csrfCheck(c)
}

// moneyRoute is the idempotency middleware of the routes that can move
// money: put after the route's sign-in check (keys belong to the user), it
// replays a repeated request's answer instead of running it again (see
// core/idempotency), and handlers pass idempotency.Key(c) to the service.
func (p *Product) moneyRoute() fiber.Handler { return p.idem.Handler() }

// newFormKey is a page's idempotency key (theme.Layout.IdempotencyKey):
// 128 random bits, URL-safe base64 like the CSRF token.
func newFormKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// now is for display only (the admin page's "verified at").
var now = time.Now
