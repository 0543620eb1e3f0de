// Package themekit is what every camkit theme needs besides its look: the
// operator's brand settings, strictly validated; assets with strong ETags;
// the Module, Manifest and Asset half of theme.Theme, reconfigured
// atomically; and text forms of the figures the host computes (money,
// durations, times). A theme brings its templates, its stylesheet and a
// function that builds its assets from the settings; two themes built on it
// differ only in how they look.
package themekit

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/theme"
)

// MaxBrandBytes bounds the brand so that it fits a logo and a title bar.
const MaxBrandBytes = 40

// Settings are the operator's [plugin.theme-<name>.settings]: the same keys
// for every theme built on this kit, so an operator can switch themes and
// keep the brand.
type Settings struct {
	Brand      string `json:"brand"`
	Primary    string `json:"primary"`
	Accent     string `json:"accent"`
	Background string `json:"background"`
	Text       string `json:"text"`
	// brandSet: the operator gave the brand, so it wins over the site's
	// name; a theme's default brand is used only when the site has none.
	brandSet bool
}

// Colors is the manifest form of the colour settings.
func (s Settings) Colors() theme.Colors {
	return theme.Colors{Primary: s.Primary, Accent: s.Accent, Background: s.Background, Text: s.Text}
}

// DecodeSettings reads settings JSON over the theme's defaults: a key left
// out keeps its default, an unknown key (a typo) or a bad value is
// errs.Invalid naming the key. Empty input means the defaults.
func DecodeSettings(settingsJSON []byte, defaults Settings) (Settings, error) {
	s := defaults
	if err := pluginkit.DecodeSettings(settingsJSON, &s); err != nil {
		return Settings{}, err
	}
	var given struct {
		Brand *string `json:"brand"`
	}
	if len(bytes.TrimSpace(settingsJSON)) > 0 && json.Unmarshal(settingsJSON, &given) == nil {
		s.brandSet = given.Brand != nil
	}
	s.Brand = strings.TrimSpace(s.Brand)
	return s, s.Validate()
}

// Validate checks what the stylesheet and the logo will be built from:
// colours reach CSS and SVG, so anything but a hex colour is refused rather
// than escaped.
func (s Settings) Validate() error {
	if s.Brand == "" {
		return errs.E(errs.Invalid, "settings: brand must not be empty")
	}
	if len(s.Brand) > MaxBrandBytes || !utf8.ValidString(s.Brand) {
		return errs.E(errs.Invalid, "settings: brand must be valid UTF-8 of at most %d bytes", MaxBrandBytes)
	}
	for _, c := range []struct{ key, val string }{
		{"primary", s.Primary}, {"accent", s.Accent}, {"background", s.Background}, {"text", s.Text},
	} {
		if !IsHexColor(c.val) {
			return errs.E(errs.Invalid, "settings: %s = %q is not a #rgb or #rrggbb colour", c.key, c.val)
		}
	}
	return nil
}

// IsHexColor reports whether c is #rgb or #rrggbb.
func IsHexColor(c string) bool {
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
