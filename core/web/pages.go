package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// Site is what every page's chrome shows.
type Site struct {
	Name string
}

// Pages renders through the active theme plugin.
type Pages struct {
	Theme theme.Theme
	Site  Site
	// Chrome fills the per-request parts of the layout: the signed-in user,
	// the CSRF token, the navigation. Nil leaves them empty.
	Chrome func(c *fiber.Ctx, l *theme.Layout)

	shared sharedCache // RenderShared's copies
}

// Mount adds the theme's assets.
func (p *Pages) Mount(app *fiber.App) {
	app.Get(strings.TrimSuffix(theme.DefaultAssetBase, "/")+"/*", p.asset)
}

// Layout is the chrome of a page for this request.
func (p *Pages) Layout(c *fiber.Ctx) theme.Layout {
	l := theme.Layout{
		SiteName: p.Site.Name,
		Path:     c.Path(),
		Links:    theme.Links{Home: "/", Login: "/login", Logout: "/logout", Signup: "/signup", Wallet: "/wallet"},
	}
	if f, ok := takeFlash(c); ok {
		l.Flashes = append(l.Flashes, f)
	}
	if p.Chrome != nil {
		p.Chrome(c, &l)
	}
	return l
}

// SiteScript is the host's page script: it follows a pending private
// request, ticks a private show's clock and cost, and nothing else. The host
// adds it to every page so it works whatever theme is installed.
const SiteScript = "/static/camkit-site.js"

var siteScriptTag = []byte(`<script type="module" src="` + SiteScript + `"></script>`)

// Render sends a page rendered by the theme; a theme failure is returned as
// the error it is (the error handler falls back to plain text).
func (p *Pages) Render(c *fiber.Ctx, page theme.Page) error {
	r, err := p.Theme.Render(c.UserContext(), page)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Status(statusOf(r))
	// Written in pieces into fasthttp's pooled body: a joined copy would be
	// one more page-sized allocation per request.
	resp := c.Response()
	resp.ResetBody()
	if i := bytes.Index(r.HTML, headEnd); i >= 0 {
		resp.AppendBody(r.HTML[:i])
		resp.AppendBody(siteScriptTag)
		resp.AppendBody(r.HTML[i:])
	} else {
		resp.AppendBody(r.HTML)
	}
	return nil
}

var headEnd = []byte("</head>")

// statusOf is the status a rendered page answers with (a theme may leave
// it 0 for 200).
func statusOf(r theme.Rendered) int {
	if r.Status == 0 {
		return fiber.StatusOK
	}
	return r.Status
}

// withSiteScript adds SiteScript at the end of the document's head.
func withSiteScript(html []byte) []byte {
	i := bytes.Index(html, headEnd)
	if i < 0 {
		return html
	}
	out := make([]byte, 0, len(html)+len(siteScriptTag))
	out = append(out, html[:i]...)
	out = append(out, siteScriptTag...)
	return append(out, html[i:]...)
}

// RenderError renders the theme's error page for err; a theme that cannot
// render it gets the plain-text answer of the server's error handler.
func (p *Pages) RenderError(c *fiber.Ctx, status int, msg string) error {
	page := &theme.ErrorPage{Layout: p.Layout(c), Status: status, Message: msg,
		RequestID: c.GetRespHeader(fiber.HeaderXRequestID)}
	r, err := p.Theme.Render(c.UserContext(), page)
	if err != nil {
		return c.Status(status).SendString(msg)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).Send(r.HTML)
}

func (p *Pages) asset(c *fiber.Ctx) error {
	a, err := p.Theme.Asset(c.UserContext(), c.Params("*"))
	if err != nil {
		if errs.CodeOf(err) == errs.NotFound || errs.CodeOf(err) == errs.Invalid {
			return fiber.ErrNotFound
		}
		return err
	}
	if a.ETag != "" {
		c.Set(fiber.HeaderETag, a.ETag)
		if c.Get(fiber.HeaderIfNoneMatch) == a.ETag {
			return c.SendStatus(fiber.StatusNotModified)
		}
	}
	c.Set(fiber.HeaderContentType, a.ContentType)
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.Send(a.Body)
}

const flashCookie = "camkit_flash"

// flash is shown once, on the next page: what a redirect after a form says.
func flash(c *fiber.Ctx, level theme.FlashLevel, msg string) {
	b, _ := json.Marshal(theme.Flash{Level: level, Message: msg})
	c.Cookie(&fiber.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/",
		HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Expires: time.Now().Add(time.Minute)})
}

func takeFlash(c *fiber.Ctx) (theme.Flash, bool) {
	v := c.Cookies(flashCookie)
	if v == "" {
		return theme.Flash{}, false
	}
	c.Cookie(&fiber.Cookie{Name: flashCookie, Value: "", Path: "/", Expires: time.Unix(0, 0), HTTPOnly: true})
	var f theme.Flash
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) > 2048 || json.Unmarshal(b, &f) != nil || f.Message == "" {
		return theme.Flash{}, false
	}
	switch f.Level {
	case theme.FlashInfo, theme.FlashSuccess, theme.FlashWarning, theme.FlashError:
	default:
		f.Level = theme.FlashInfo
	}
	return f, true
}
