package web

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// Shared pages: the home page is the busiest page of a cam site, and for
// every visitor without a session it is the same document but for two
// values, the CSRF token bound to the visitor's anonymous cookie and the
// page's idempotency key (new for every page served; the theme puts both in
// every form of the chrome). Rendering it through the theme plugin for each
// of them costs most of a millisecond of CPU; serving a copy costs a few
// microseconds. So such a page is rendered once per sharedTTL, with random
// placeholders where the values go, and each visitor gets the copy with
// their own values written in.
//
// What keeps one visitor's data from another:
//   - Only requests whose layout has no user and no flash are shared; the
//     entry also keeps the layout it was rendered with (token blanked) and
//     a request whose layout differs in anything is rendered on its own.
//     A field added to theme.Layout later is compared without a change here.
//   - A placeholder is 256 random bits, new for every render, so nothing
//     in the page (a model's name, a search) can contain it by chance or on
//     purpose. The cache never holds a visitor's token, only placeholders.
//   - A fill renders the page twice with two different pairs of
//     placeholders; the copy is kept only if both split into the same parts
//     around them, the same value at each cut. A theme that transforms a
//     value (or puts anything that varies per render in the page) is
//     therefore never shared; it is rendered per request, as before.
//   - The values are written in raw only when they are URL-safe base64
//     (what accounts.HTTP.CSRFToken and newFormKey give), which no HTML or
//     script context needs to escape.
//
// Freshness: the caller passes a version that changes whenever what the
// page shows changes in a way a visitor must see at once (who is on air);
// a copy of another version is not served to the request that notices it.
// Viewer counts may be up to sharedTTL old. While one request refills an
// expired page, concurrent ones get the previous copy instead of rendering
// it too; concurrent first renders of a page wait for one render.
const (
	sharedTTL  = time.Second
	sharedKeys = 256 // distinct searches kept at once; the map starts over when full
)

// sharedCache holds the shared pages of a Pages.
type sharedCache struct {
	mu    sync.Mutex
	pages map[string]*sharedPage
	fills map[string]*sharedFill
	now   func() time.Time // time.Now; tests move it
}

// sharedPage is one rendered copy; immutable once stored.
type sharedPage struct {
	layout  theme.Layout // what every visitor served from it shares; CSRFToken and IdempotencyKey blank
	version uint64
	at      time.Time
	status  int
	// parts is the document cut where the visitor's values go, cuts[i] the
	// value between parts[i] and parts[i+1]; parts is nil when the theme's
	// output cannot be shared (the placeholder check failed) until it expires.
	parts [][]byte
	cuts  []cut
}

// cut names the per-visitor value written at a cut of a shared page.
type cut uint8

const (
	cutCSRF cut = iota // Layout.CSRFToken
	cutKey             // Layout.IdempotencyKey
)

type sharedFill struct {
	done chan struct{}
	page *sharedPage // nil when the render failed
}

func (s *sharedPage) fresh(now time.Time, version uint64) bool {
	return s.version == version && now.Sub(s.at) < sharedTTL
}

// RenderShared renders the page build makes from the request's layout,
// sharing the rendered document among visitors without a session as the
// comment above says. key names the page and everything build reads from
// the request besides the layout (the route and its query); version is what
// must invalidate a copy at once (0 if nothing). A signed-in request, one
// with a flash, or any that cannot share is rendered as Render would.
func (p *Pages) RenderShared(c *fiber.Ctx, key string, version uint64, build func(theme.Layout) (theme.Page, error)) error {
	l := p.Layout(c)
	if l.User != nil || len(l.Flashes) > 0 || !urlSafe(l.CSRFToken) || !urlSafe(l.IdempotencyKey) {
		return p.renderBuilt(c, l, build)
	}
	shared := l
	shared.CSRFToken, shared.IdempotencyKey = "", ""
	sc := &p.shared

	sc.mu.Lock()
	now := sc.clock()
	cur := sc.pages[key]
	if cur != nil {
		same, fresh := reflect.DeepEqual(cur.layout, shared), cur.fresh(now, version)
		switch {
		case same && fresh:
			sc.mu.Unlock()
			return p.serveShared(c, cur, l, build)
		case fresh:
			// Another layout under the same key (not expected from the
			// chrome of visitors without a session): this one renders on
			// its own and leaves the copy to those it fits.
			sc.mu.Unlock()
			return p.renderBuilt(c, l, build)
		case !same:
			cur = nil
		}
	}
	if f := sc.fills[key]; f != nil {
		sc.mu.Unlock()
		if cur != nil {
			// Someone is refilling it: the previous copy, not a render more.
			return p.serveShared(c, cur, l, build)
		}
		<-f.done
		if f.page != nil && reflect.DeepEqual(f.page.layout, shared) {
			return p.serveShared(c, f.page, l, build)
		}
		return p.renderBuilt(c, l, build)
	}
	f := &sharedFill{done: make(chan struct{})}
	if sc.fills == nil {
		sc.fills = map[string]*sharedFill{}
	}
	sc.fills[key] = f
	sc.mu.Unlock()

	page, err := p.fillShared(c, shared, version, now, build)
	sc.mu.Lock()
	delete(sc.fills, key)
	if err == nil {
		if sc.pages == nil || len(sc.pages) >= sharedKeys {
			sc.pages = map[string]*sharedPage{}
		}
		sc.pages[key] = page
		f.page = page
	}
	sc.mu.Unlock()
	close(f.done)
	if err != nil {
		return err
	}
	return p.serveShared(c, page, l, build)
}

func (sc *sharedCache) clock() time.Time {
	if sc.now != nil {
		return sc.now()
	}
	return time.Now()
}

// fillShared renders the shared layout twice, with two pairs of
// placeholders, and keeps the parts if the two agree.
func (p *Pages) fillShared(c *fiber.Ctx, shared theme.Layout, version uint64, at time.Time, build func(theme.Layout) (theme.Page, error)) (*sharedPage, error) {
	var (
		parts  [2][][]byte
		cuts   [2][]cut
		status int
	)
	for i := range parts {
		l := shared
		l.CSRFToken, l.IdempotencyKey = placeholder(), placeholder()
		page, err := build(l)
		if err != nil {
			return nil, err
		}
		r, err := p.Theme.Render(c.UserContext(), page)
		if err != nil {
			return nil, err
		}
		status = statusOf(r)
		parts[i], cuts[i] = cutAt(withSiteScript(r.HTML), []byte(l.CSRFToken), []byte(l.IdempotencyKey))
		if i == 0 && status != fiber.StatusOK {
			break // an error page is not shared
		}
	}
	out := &sharedPage{layout: shared, version: version, at: at, status: status}
	if status == fiber.StatusOK && sameParts(parts[0], parts[1]) && slices.Equal(cuts[0], cuts[1]) {
		out.parts, out.cuts = parts[0], cuts[0]
	}
	return out, nil
}

// cutAt splits doc around every occurrence of the CSRF and the key
// placeholder, and says which one was at each cut.
func cutAt(doc, csrf, key []byte) ([][]byte, []cut) {
	var (
		parts [][]byte
		cuts  []cut
	)
	for {
		i, j := bytes.Index(doc, csrf), bytes.Index(doc, key)
		switch {
		case i < 0 && j < 0:
			return append(parts, doc), cuts
		case j < 0 || i >= 0 && i < j:
			parts, cuts, doc = append(parts, doc[:i]), append(cuts, cutCSRF), doc[i+len(csrf):]
		default:
			parts, cuts, doc = append(parts, doc[:j]), append(cuts, cutKey), doc[j+len(key):]
		}
	}
}

func (p *Pages) serveShared(c *fiber.Ctx, s *sharedPage, l theme.Layout, build func(theme.Layout) (theme.Page, error)) error {
	if s.parts == nil {
		return p.renderBuilt(c, l, build)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Status(s.status)
	resp := c.Response()
	resp.ResetBody()
	for i, part := range s.parts {
		if i > 0 {
			if s.cuts[i-1] == cutKey {
				resp.AppendBodyString(l.IdempotencyKey)
			} else {
				resp.AppendBodyString(l.CSRFToken)
			}
		}
		resp.AppendBody(part)
	}
	return nil
}

func (p *Pages) renderBuilt(c *fiber.Ctx, l theme.Layout, build func(theme.Layout) (theme.Page, error)) error {
	page, err := build(l)
	if err != nil {
		return err
	}
	return p.Render(c, page)
}

// placeholder is 256 random bits in the alphabet of a real token.
func placeholder() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// urlSafe reports whether s is URL-safe base64 only (empty is fine: the
// page then carries no token).
func urlSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '-', ch == '_':
		default:
			return false
		}
	}
	return true
}

func sameParts(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
