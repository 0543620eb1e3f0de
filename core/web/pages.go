package web

import (
	"strings"

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
	// Live lists the models on air for the home page; nil means none yet.
	Live func(c *fiber.Ctx) ([]theme.LiveModel, error)
}

// Mount adds the page routes and the theme's assets.
func (p *Pages) Mount(app *fiber.App) {
	app.Get("/", p.home)
	app.Get(strings.TrimSuffix(theme.DefaultAssetBase, "/")+"/*", p.asset)
}

// Layout is the chrome of a page for this request.
func (p *Pages) Layout(c *fiber.Ctx) theme.Layout {
	return theme.Layout{
		SiteName: p.Site.Name,
		Path:     c.Path(),
		Links:    theme.Links{Home: "/", Login: "/login", Logout: "/logout", Signup: "/signup", Wallet: "/wallet"},
	}
}

// Render sends a page rendered by the theme; a theme failure falls back to
// plain text so an outage of the theme plugin never hides the error itself.
func (p *Pages) Render(c *fiber.Ctx, page theme.Page) error {
	r, err := p.Theme.Render(c.UserContext(), page)
	if err != nil {
		return err
	}
	status := r.Status
	if status == 0 {
		status = fiber.StatusOK
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(r.HTML)
}

func (p *Pages) home(c *fiber.Ctx) error {
	page := &theme.HomePage{Layout: p.Layout(c)}
	if p.Live != nil {
		live, err := p.Live(c)
		if err != nil {
			return err
		}
		page.Live = live
	}
	return p.Render(c, page)
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
