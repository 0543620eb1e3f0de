package themekit

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/theme"
)

// Content types of the assets themes serve.
const (
	CSS = "text/css; charset=utf-8"
	JS  = "text/javascript; charset=utf-8"
	SVG = "image/svg+xml"
)

// Assets are a theme's static files as one configuration builds them. They
// are never changed after a Kit publishes them, so lookups need no lock.
type Assets struct {
	byPath map[string]theme.Asset
	paths  []string
}

// NewAssets returns an empty set.
func NewAssets() *Assets { return &Assets{byPath: map[string]theme.Asset{}} }

// Add serves body at path (relative, no leading "/"), with its ETag. A path
// added twice keeps the last body and its first place in the list.
func (a *Assets) Add(path, contentType string, body []byte) {
	if _, seen := a.byPath[path]; !seen {
		a.paths = append(a.paths, path)
	}
	a.byPath[path] = theme.Asset{ContentType: contentType, Body: body, ETag: ETag(body)}
}

// Get returns the asset at path, or errs.NotFound.
func (a *Assets) Get(path string) (theme.Asset, error) {
	as, ok := a.byPath[path]
	if !ok {
		return theme.Asset{}, errs.E(errs.NotFound, "no theme asset %q", path)
	}
	return as, nil
}

// Paths lists every asset in the order added: the manifest's Assets.
func (a *Assets) Paths() []string { return append([]string(nil), a.paths...) }

// ETag is a strong, quoted validator of body: the first 96 bits of its
// SHA-256, so it changes whenever the body does (a new brand colour is a new
// stylesheet and a new ETag).
func ETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}
