package themekit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/theme"
)

// BuildFunc makes a theme's assets from valid settings: typically the
// stylesheet with the colours as custom properties, a logo with the brand, a
// script. It must include the logo path given to New.
type BuildFunc func(Settings) *Assets

// Kit is the configuration half of a theme.Theme: Info, Configure, Manifest
// and Asset. A theme embeds *Kit and adds Render.
type Kit struct {
	name, version, logo string
	defaults            Settings
	build               BuildFunc
	// cur is swapped whole by Configure, so a render or an asset request
	// never sees half of a reconfiguration.
	cur atomic.Pointer[configured]
}

type configured struct {
	settings Settings
	assets   *Assets
}

// New returns a kit serving the assets build makes from defaults until the
// host configures it. Invalid defaults or a build without the logo are a bug
// in the theme, so New panics on them.
func New(name, version, logoPath string, defaults Settings, build BuildFunc) *Kit {
	if err := defaults.Validate(); err != nil {
		panic(fmt.Sprintf("themekit: theme %s defaults: %v", name, err))
	}
	k := &Kit{name: name, version: version, logo: logoPath, defaults: defaults, build: build}
	k.cur.Store(k.configure(defaults))
	return k
}

func (k *Kit) configure(s Settings) *configured {
	a := k.build(s)
	if _, err := a.Get(k.logo); err != nil {
		panic(fmt.Sprintf("themekit: theme %s builds no logo %q", k.name, k.logo))
	}
	return &configured{settings: s, assets: a}
}

// Name is the theme's name, "default".
func (k *Kit) Name() string { return k.name }

// Settings are the ones in force.
func (k *Kit) Settings() Settings { return k.cur.Load().settings }

func (k *Kit) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindTheme, Name: k.name, Version: k.version}, nil
}

// Configure applies the operator's settings over the theme's defaults. A
// refused configuration leaves the previous one in force.
func (k *Kit) Configure(_ context.Context, settingsJSON []byte) error {
	s, err := DecodeSettings(settingsJSON, k.defaults)
	if err != nil {
		return err
	}
	k.cur.Store(k.configure(s))
	return nil
}

func (k *Kit) Manifest(context.Context) (theme.Manifest, error) {
	c := k.cur.Load()
	return theme.Manifest{
		Name:      k.name,
		BrandName: c.settings.Brand,
		Colors:    c.settings.Colors(),
		LogoPath:  k.logo,
		Assets:    c.assets.Paths(),
	}, nil
}

func (k *Kit) Asset(_ context.Context, path string) (theme.Asset, error) {
	a, err := k.cur.Load().assets.Get(path)
	if err != nil {
		return theme.Asset{}, errs.E(errs.NotFound, "theme %s serves no asset %q", k.name, path)
	}
	return a, nil
}

// Template is what a compiled page template offers; templ.Component has
// this method, so themes pass their components as they are.
type Template interface {
	Render(ctx context.Context, w io.Writer) error
}

var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Finish renders a whole document into a theme.Rendered. The buffer is
// pooled: the home page of a busy site is rendered thousands of times a
// second and is tens of kilobytes.
func (k *Kit) Finish(ctx context.Context, kind theme.Kind, doc Template, title string, status int) (theme.Rendered, error) {
	buf := bufs.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); bufs.Put(buf) }()
	if err := doc.Render(ctx, buf); err != nil {
		return theme.Rendered{}, errs.E(errs.Internal, "theme %s: render %s: %v", k.name, kind, err)
	}
	return theme.Rendered{HTML: bytes.Clone(buf.Bytes()), Status: status, Title: title}, nil
}

// Unrenderable is the error for a page the theme has no template for: nil,
// or a kind from a newer SDK.
func (k *Kit) Unrenderable(page theme.Page) error {
	if page == nil {
		return errs.E(errs.Invalid, "nil page")
	}
	return errs.E(errs.Invalid, "theme %s cannot render page kind %q", k.name, page.PageKind())
}

// Brand is what the page calls the site: the layout's override, else the
// brand the operator configured for the theme, else the site's name
// (site.name), else the theme's default.
func Brand(s Settings, l *theme.Layout) string {
	switch {
	case l.Brand != "":
		return l.Brand
	case s.brandSet:
		return s.Brand
	case strings.TrimSpace(l.SiteName) != "":
		return strings.TrimSpace(l.SiteName)
	}
	return s.Brand
}

// AssetBase is the URL prefix of theme assets for the page.
func AssetBase(l *theme.Layout) string {
	if l.AssetBase != "" {
		return l.AssetBase
	}
	return theme.DefaultAssetBase
}

// ErrorStatus is the HTTP status an error page answers with: its own when it
// is an error status, else 500.
func ErrorStatus(status int) int {
	if status < 400 || status > 599 {
		return 500
	}
	return status
}
