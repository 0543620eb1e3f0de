package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"html"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/a-h/templ"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/theme"
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

// settings are the operator's [plugins.<name>.settings] for this theme.
type settings struct {
	Brand      string `json:"brand"`
	Primary    string `json:"primary"`
	Accent     string `json:"accent"`
	Background string `json:"background"`
	Text       string `json:"text"`
}

var defaults = settings{
	Brand:      "camkit",
	Primary:    "#e91e63",
	Accent:     "#7c4dff",
	Background: "#0f0f14",
	Text:       "#f2f2f7",
}

// state is everything Configure derives from settings. It is swapped whole,
// so a render never sees half of a reconfiguration.
type state struct {
	cfg    settings
	assets map[string]theme.Asset
	list   []string
}

type defaultTheme struct {
	st atomic.Pointer[state]
}

var _ theme.Theme = (*defaultTheme)(nil)

func newTheme() *defaultTheme {
	t := &defaultTheme{}
	t.st.Store(build(defaults))
	return t
}

func (t *defaultTheme) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindTheme, Name: themeName, Version: themeVersion}, nil
}

func (t *defaultTheme) Configure(_ context.Context, settingsJSON []byte) error {
	s := defaults
	if err := pluginkit.DecodeSettings(settingsJSON, &s); err != nil {
		return err
	}
	s.Brand = strings.TrimSpace(s.Brand)
	if s.Brand == "" {
		return errs.E(errs.Invalid, "settings: brand must not be empty")
	}
	if len(s.Brand) > 40 {
		return errs.E(errs.Invalid, "settings: brand is longer than 40 bytes")
	}
	for _, c := range []struct{ key, val string }{
		{"primary", s.Primary}, {"accent", s.Accent}, {"background", s.Background}, {"text", s.Text},
	} {
		if !isHexColor(c.val) {
			return errs.E(errs.Invalid, "settings: %s = %q is not a #rgb or #rrggbb colour", c.key, c.val)
		}
	}
	t.st.Store(build(s))
	return nil
}

func (t *defaultTheme) Manifest(context.Context) (theme.Manifest, error) {
	st := t.st.Load()
	return theme.Manifest{
		Name:      themeName,
		BrandName: st.cfg.Brand,
		Colors: theme.Colors{
			Primary: st.cfg.Primary, Accent: st.cfg.Accent, Background: st.cfg.Background, Text: st.cfg.Text,
		},
		LogoPath: logoPath,
		Assets:   append([]string(nil), st.list...),
	}, nil
}

func (t *defaultTheme) Asset(_ context.Context, path string) (theme.Asset, error) {
	a, ok := t.st.Load().assets[path]
	if !ok {
		return theme.Asset{}, errs.E(errs.NotFound, "theme %s serves no asset %q", themeName, path)
	}
	return a, nil
}

var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (t *defaultTheme) Render(ctx context.Context, page theme.Page) (theme.Rendered, error) {
	if page == nil {
		return theme.Rendered{}, errs.E(errs.Invalid, "nil page")
	}
	st := t.st.Load()
	s := newSite(st.cfg, page.PageLayout())
	title, status, body := s.view(page)
	if body == nil {
		return theme.Rendered{}, errs.E(errs.Invalid, "theme %s cannot render page kind %q", themeName, page.PageKind())
	}
	title = title + " · " + s.Brand
	buf := bufs.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); bufs.Put(buf) }()
	if err := document(s, title, body).Render(ctx, buf); err != nil {
		return theme.Rendered{}, errs.E(errs.Internal, "render %s: %v", page.PageKind(), err)
	}
	return theme.Rendered{HTML: bytes.Clone(buf.Bytes()), Status: status, Title: title}, nil
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
		return "Private show with " + p.Model.DisplayName, 200, privatePage(s, p)
	case *theme.WalletPage:
		return "Wallet", 200, walletPage(s, p)
	case *theme.ReceiptPage:
		return "Receipt " + p.SeatID, 200, receiptPage(s, p)
	case *theme.ModelDashboardPage:
		s.player = true
		return "Dashboard", 200, dashboardPage(s, p)
	case *theme.AdminPage:
		return "Operator console", 200, adminPage(s, p)
	case *theme.CheckoutPage:
		return "Checkout", 200, checkoutPage(s, p)
	case *theme.ErrorPage:
		st := p.Status
		if st < 400 || st > 599 {
			st = 500
		}
		return fmt.Sprintf("Error %d", st), st, errorPage(s, p, st)
	}
	return "", 0, nil
}

// site is what the chrome needs on every page: configuration and layout.
type site struct {
	settings
	L            *theme.Layout
	base         string
	player, chat bool
}

func newSite(cfg settings, l *theme.Layout) *site {
	s := &site{settings: cfg, L: l, base: l.AssetBase}
	if s.base == "" {
		s.base = theme.DefaultAssetBase
	}
	if l.Brand != "" {
		s.Brand = l.Brand
	}
	return s
}

func (s *site) asset(path string) string { return s.base + path }

// build derives the assets from settings. The stylesheet starts with the
// colours as custom properties, so a brand change is a new CSS body and a new
// ETag, and pages need no inline style.
func build(cfg settings) *state {
	css := fmt.Sprintf(":root{--primary:%s;--accent:%s;--bg:%s;--text:%s}\n", cfg.Primary, cfg.Accent, cfg.Background, cfg.Text) + baseCSS
	st := &state{cfg: cfg, assets: map[string]theme.Asset{}}
	add := func(path, ctype, body string) {
		sum := sha256.Sum256([]byte(body))
		st.assets[path] = theme.Asset{ContentType: ctype, Body: []byte(body), ETag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		st.list = append(st.list, path)
	}
	add(cssPath, "text/css; charset=utf-8", css)
	add(jsPath, "text/javascript; charset=utf-8", themeJS)
	add(logoPath, "image/svg+xml", logoSVG(cfg))
	add(faviconPath, "image/svg+xml", faviconSVG(cfg))
	return st
}

func isHexColor(c string) bool {
	if (len(c) != 4 && len(c) != 7) || c[0] != '#' {
		return false
	}
	for _, r := range c[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// logoSVG draws a play-button mark in the brand colours beside the brand
// name. Brand text is XML-escaped: it is operator input.
func logoSVG(cfg settings) string {
	name := html.EscapeString(cfg.Brand)
	w := 44 + 13*len([]rune(cfg.Brand))
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="32" viewBox="0 0 %d 32" role="img" aria-label="%s">`+
		`<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="%s"/><stop offset="1" stop-color="%s"/></linearGradient></defs>`+
		`<rect x="1" y="1" width="30" height="30" rx="9" fill="url(#g)"/>`+
		`<path d="M12.5 9.5v13l10.5-6.5z" fill="#fff"/>`+
		`<circle cx="25.5" cy="6.5" r="3.5" fill="#ff3b30" stroke="#fff" stroke-width="1.5"/>`+
		`<text x="40" y="22" font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif" font-size="19" font-weight="800" letter-spacing="-0.5" fill="%s">%s</text>`+
		`</svg>`, w, w, name, cfg.Primary, cfg.Accent, cfg.Text, name)
}

func faviconSVG(cfg settings) string {
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">`+
		`<rect x="1" y="1" width="30" height="30" rx="9" fill="%s"/><path d="M12.5 9.5v13l10.5-6.5z" fill="#fff"/></svg>`, cfg.Primary)
}
