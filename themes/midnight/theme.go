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
	themeName    = "midnight"
	themeVersion = "0.1.0"

	cssPath     = "css/midnight.css"
	jsPath      = "js/midnight.js"
	logoPath    = "img/monogram.svg"
	faviconPath = "img/favicon.svg"
)

//go:embed static/midnight.css
var baseCSS string

//go:embed static/midnight.js
var themeJS string

// defaults: ink-navy ground, ivory type, a gold primary for what can be
// bought or pressed and a cold steel accent for secondary marks.
var defaults = themekit.Settings{
	Brand:      "camkit",
	Primary:    "#c9a45c",
	Accent:     "#8d9cc0",
	Background: "#070a12",
	Text:       "#ece6d9",
}

// midnight gets Info, Configure, Manifest and Asset from the kit.
type midnight struct {
	*themekit.Kit
}

var _ theme.Theme = (*midnight)(nil)

func newTheme() *midnight {
	return &midnight{Kit: themekit.New(themeName, themeVersion, logoPath, defaults, build)}
}

// view is one page's part of the document: its body, its title (the brand
// is added), the masthead's section name, and the frame it sits in.
type view struct {
	title  string
	kicker string
	status int
	layout string // body class suffix: "page" (readable column), "wide", "theatre", "bare"
	body   templ.Component
}

func (t *midnight) Render(ctx context.Context, page theme.Page) (theme.Rendered, error) {
	v, s, ok := t.compose(page)
	if !ok {
		return theme.Rendered{}, t.Unrenderable(page)
	}
	title := v.title + " — " + s.brand
	return t.Finish(ctx, page.PageKind(), document(s, title, v), title, v.status)
}

// compose picks the view of a page kind; ok is false for a nil page or a
// kind this theme does not know. Scripts a page needs are flagged on the
// site as it goes.
func (t *midnight) compose(page theme.Page) (view, *site, bool) {
	if page == nil {
		return view{}, nil, false
	}
	s := newSite(t.Settings(), page.PageLayout())
	v := view{status: 200, layout: "page"}
	switch p := page.(type) {
	case *theme.AgeGatePage:
		v.title, v.layout, v.body = "Adults only", "bare", ageGatePage(s, p)
	case *theme.LoginPage:
		v.title, v.layout, v.body = "Sign in", "bare", loginPage(s, p)
	case *theme.SignupPage:
		v.title, v.layout, v.body = "Membership", "bare", signupPage(s, p)
	case *theme.HomePage:
		v.title, v.kicker, v.layout, v.body = "On air tonight", "The salon", "wide", homePage(s, p)
	case *theme.ModelProfilePage:
		v.title, v.kicker, v.body = p.Model.DisplayName, "Profile", profilePage(s, p)
	case *theme.RoomPage:
		s.player, s.chat = true, true
		v.title, v.layout, v.body = p.Model.DisplayName+", on air", "theatre", roomPage(s, p)
	case *theme.PrivateShowPage:
		s.player, s.chat = true, true
		v.title, v.layout, v.body = "In private with "+p.Model.DisplayName, "theatre", privatePage(s, p)
		if p.Mode == theme.ModeGroup {
			v.title = "In the group show of " + p.Model.DisplayName
		}
	case *theme.WalletPage:
		v.title, v.kicker, v.body = "Wallet", "Wallet", walletPage(s, p)
	case *theme.ReceiptPage:
		v.title, v.kicker, v.body = "Receipt "+p.SeatID, "Receipt", receiptPage(s, p)
	case *theme.ModelDashboardPage:
		s.player = true
		s.chat = p.Group != nil && p.Group.ChatURL != "" // the group's room
		v.title, v.kicker, v.layout, v.body = "Studio", "Studio", "wide", dashboardPage(s, p)
	case *theme.StreamHelpPage:
		v.title, v.kicker, v.body = "Stream from OBS", "Studio", streamHelpPage(s, p)
	case *theme.AdminPage:
		v.title, v.kicker, v.layout, v.body = "Operator's office", "Operator's office", "wide", adminPage(s, p)
	case *theme.CheckoutPage:
		v.title, v.kicker, v.body = "Checkout", "Checkout", checkoutPage(s, p)
	case *theme.ErrorPage:
		v.status = themekit.ErrorStatus(p.Status)
		v.title, v.layout, v.body = fmt.Sprintf("Error %d", v.status), "bare", errorPage(s, p, v.status)
	default:
		return view{}, nil, false
	}
	return v, s, true
}

// site is what every template needs: the settings in force and the page's
// layout.
type site struct {
	themekit.Settings
	L            *theme.Layout
	brand        string // the layout's override, else the configured brand
	base         string
	player, chat bool
}

func newSite(cfg themekit.Settings, l *theme.Layout) *site {
	return &site{Settings: cfg, L: l, brand: themekit.Brand(cfg, l), base: themekit.AssetBase(l)}
}

func (s *site) asset(path string) string { return s.base + path }

// build derives the assets from settings: the stylesheet opens with the
// colours as custom properties (a new colour is a new body and ETag, and
// pages carry no inline style), and the monogram draws the brand's initial.
func build(cfg themekit.Settings) *themekit.Assets {
	css := fmt.Sprintf(":root{--gold:%s;--steel:%s;--ink:%s;--ivory:%s}\n", cfg.Primary, cfg.Accent, cfg.Background, cfg.Text) + baseCSS
	a := themekit.NewAssets()
	a.Add(cssPath, themekit.CSS, []byte(css))
	a.Add(jsPath, themekit.JS, []byte(themeJS))
	a.Add(logoPath, themekit.SVG, []byte(monogramSVG(cfg)))
	a.Add(faviconPath, themekit.SVG, []byte(faviconSVG(cfg)))
	return a
}

// monogram is the rail's mark, inline and drawn from the page's brand: the
// static asset knows only the configured brand, so a site named by
// site.name showed camkit's "c" in it. The brand's name is the text beside
// it, so the picture is hidden from assistive technology.
func (s *site) monogram() templ.Component {
	cfg := s.Settings
	cfg.Brand = s.brand
	return templ.Raw(strings.Replace(monogramSVG(cfg), `role="img"`, `class="monogram" aria-hidden="true" focusable="false"`, 1))
}

// monogramSVG is a gold ring around the brand's initial in a serif, with a
// diamond above it. Brand text is XML-escaped: it is operator input.
func monogramSVG(cfg themekit.Settings) string {
	name := html.EscapeString(cfg.Brand)
	letter := html.EscapeString(themekit.Initial(cfg.Brand))
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="44" height="44" viewBox="0 0 44 44" role="img" aria-label="%s">`+
		`<circle cx="22" cy="22" r="20.5" fill="%s" stroke="%s" stroke-width="1.2"/>`+
		`<circle cx="22" cy="22" r="17.5" fill="none" stroke="%s" stroke-width=".5" opacity=".6"/>`+
		`<path d="M22 5.5l1.6 1.6-1.6 1.6-1.6-1.6z" fill="%s"/>`+
		`<text x="22" y="29.5" text-anchor="middle" font-family="Didot,'Bodoni 72','Playfair Display',Georgia,'Times New Roman',serif" font-size="21" font-style="italic" fill="%s">%s</text>`+
		`</svg>`, name, cfg.Background, cfg.Primary, cfg.Primary, cfg.Primary, cfg.Primary, letter)
}

// faviconSVG is the monogram's ring and diamond without a letter: the icon
// is a static asset (the policy allows only the site's own images), built
// from the configured settings alone, so it must not spell a brand that a
// page may take from site.name instead.
func faviconSVG(cfg themekit.Settings) string {
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">`+
		`<circle cx="16" cy="16" r="15" fill="%s" stroke="%s" stroke-width="1.5"/>`+
		`<path d="M16 8.5l7.5 7.5-7.5 7.5-7.5-7.5z" fill="%s"/></svg>`,
		cfg.Background, cfg.Primary, cfg.Primary)
}
