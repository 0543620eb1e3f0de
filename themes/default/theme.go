package main

import (
	"context"
	_ "embed"
	"fmt"
	"html"
	"strings"

	"github.com/a-h/templ"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/camkit/camkit/sdk/theme/themekit"
)

const (
	themeName    = "default"
	themeVersion = "0.1.0"

	cssPath     = "css/site.css"
	jsPath      = "js/theme.js"
	logoPath    = "img/logo.svg"
	faviconPath = "img/favicon.svg"
)

//go:embed static/site.css
var baseCSS string

//go:embed static/theme.js
var themeJS string

// settings are the operator's [plugin.theme-default.settings] for this theme.
type settings = themekit.Settings

var defaults = settings{
	Brand:      "camkit",
	Primary:    "#e91e63",
	Accent:     "#7c4dff",
	Background: "#0f0f14",
	Text:       "#f2f2f7",
}

// defaultTheme gets Info, Configure, Manifest and Asset from the kit.
type defaultTheme struct {
	*themekit.Kit
}

var _ theme.Theme = (*defaultTheme)(nil)

func newTheme() *defaultTheme {
	return &defaultTheme{Kit: themekit.New(themeName, themeVersion, logoPath, defaults, build)}
}

func (t *defaultTheme) Render(ctx context.Context, page theme.Page) (theme.Rendered, error) {
	if page == nil {
		return theme.Rendered{}, t.Unrenderable(page)
	}
	s := newSite(t.Settings(), page.PageLayout())
	title, status, body := s.view(page)
	if body == nil {
		return theme.Rendered{}, t.Unrenderable(page)
	}
	title = title + " · " + s.Brand
	return t.Finish(ctx, page.PageKind(), document(s, title, body), title, status)
}

// view picks the page's body, its title (without the brand) and HTTP status.
// Scripts the page needs are registered on s as it goes.
func (s *site) view(page theme.Page) (string, int, templ.Component) {
	switch p := page.(type) {
	case *theme.AgeGatePage:
		return "Adults only", 200, ageGatePage(s, p)
	case *theme.LoginPage:
		return "Sign in", 200, loginPage(s, p)
	case *theme.SignupPage:
		return "Create your account", 200, signupPage(s, p)
	case *theme.HomePage:
		return "Live cams", 200, homePage(s, p)
	case *theme.ModelProfilePage:
		return p.Model.DisplayName, 200, profilePage(s, p)
	case *theme.RoomPage:
		s.player, s.chat = true, true
		return p.Model.DisplayName + " live", 200, roomPage(s, p)
	case *theme.PrivateShowPage:
		s.player, s.chat = true, true
		if p.Mode == theme.ModeGroup {
			return "Group show with " + p.Model.DisplayName, 200, privatePage(s, p)
		}
		return "Private show with " + p.Model.DisplayName, 200, privatePage(s, p)
	case *theme.WalletPage:
		return "Wallet", 200, walletPage(s, p)
	case *theme.ReceiptPage:
		return "Receipt " + p.SeatID, 200, receiptPage(s, p)
	case *theme.ModelDashboardPage:
		s.player = true
		s.chat = p.Group != nil && p.Group.ChatURL != "" // the group's room
		return "Dashboard", 200, dashboardPage(s, p)
	case *theme.StreamHelpPage:
		return "Stream from OBS", 200, streamHelpPage(s, p)
	case *theme.AdminPage:
		return "Operator console", 200, adminPage(s, p)
	case *theme.CheckoutPage:
		return "Checkout", 200, checkoutPage(s, p)
	case *theme.ErrorPage:
		st := themekit.ErrorStatus(p.Status)
		return fmt.Sprintf("Error %d", st), st, errorPage(s, p, st)
	}
	return "", 0, nil
}

// site is what the chrome needs on every page: configuration and layout.
type site struct {
	themekit.Settings
	L            *theme.Layout
	base         string
	player, chat bool
}

func newSite(cfg settings, l *theme.Layout) *site {
	s := &site{Settings: cfg, L: l, base: themekit.AssetBase(l)}
	s.Brand = themekit.Brand(cfg, l)
	return s
}

func (s *site) asset(path string) string { return s.base + path }

// build derives the assets from settings. The stylesheet starts with the
// colours as custom properties, so a brand change is a new CSS body and a new
// ETag, and pages need no inline style.
func build(cfg settings) *themekit.Assets {
	css := fmt.Sprintf(":root{--primary:%s;--accent:%s;--bg:%s;--text:%s}\n", cfg.Primary, cfg.Accent, cfg.Background, cfg.Text) + baseCSS
	a := themekit.NewAssets()
	a.Add(cssPath, themekit.CSS, []byte(css))
	a.Add(jsPath, themekit.JS, []byte(themeJS))
	a.Add(logoPath, themekit.SVG, []byte(logoSVG(cfg)))
	a.Add(faviconPath, themekit.SVG, []byte(faviconSVG(cfg)))
	return a
}

// logo is the header's mark, inline: the old <img> of the static logo asset
// showed a picture built from the configured brand only, so a site named by
// site.name still carried "camkit" in it. The mark has no text; the brand is
// the text beside it.
func (s *site) logo() templ.Component { return templ.Raw(markSVG(s.Settings)) }

// wordmark is the whole logo (the mark beside the page's brand name),
// inline for the same reason as logo.
func (s *site) wordmark() templ.Component {
	return templ.Raw(strings.Replace(logoSVG(s.Settings), "<svg ", `<svg class="gate-logo" `, 1))
}

const markBody = `<rect x="1" y="1" width="30" height="30" rx="9" fill="url(#brand-g)"/>` +
	`<path d="M12.5 9.5v13l10.5-6.5z" fill="#fff"/>` +
	`<circle cx="25.5" cy="6.5" r="3.5" fill="#ff3b30" stroke="#fff" stroke-width="1.5"/>`

func markGradient(cfg settings) string {
	return fmt.Sprintf(`<defs><linearGradient id="brand-g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="%s"/><stop offset="1" stop-color="%s"/></linearGradient></defs>`,
		cfg.Primary, cfg.Accent)
}

// markSVG is the play-button mark alone, for the page header.
func markSVG(cfg settings) string {
	return `<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32" class="brand-mark" aria-hidden="true" focusable="false">` +
		markGradient(cfg) + markBody + `</svg>`
}

// logoSVG is the mark beside the brand name, the manifest's logo for the
// host's own uses. Brand text is XML-escaped: it is operator input.
func logoSVG(cfg settings) string {
	name := html.EscapeString(cfg.Brand)
	w := 44 + 13*len([]rune(cfg.Brand))
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="32" viewBox="0 0 %d 32" role="img" aria-label="%s">`, w, w, name) +
		markGradient(cfg) + markBody +
		fmt.Sprintf(`<text x="40" y="22" font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif" font-size="19" font-weight="800" letter-spacing="-0.5" fill="%s">%s</text>`, cfg.Text, name) +
		`</svg>`
}

func faviconSVG(cfg settings) string {
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">`+
		`<rect x="1" y="1" width="30" height="30" rx="9" fill="%s"/><path d="M12.5 9.5v13l10.5-6.5z" fill="#fff"/></svg>`, cfg.Primary)
}
