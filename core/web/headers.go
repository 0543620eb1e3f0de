package web

import (
	"bytes"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Security headers: every answer the host gives (pages, the API, static
// scripts, theme assets, webhooks, WHIP/WHEP, processor pages, errors,
// 404s) carries them; see README "Security headers".
//
// The Content-Security-Policy allows nothing inline: no inline <script>,
// no event-handler attribute, no javascript: URL, no style attribute or
// <style> element. Neither theme nor the host's scripts use any (themes
// include the host's modules from /static/ and their own from their asset
// path), so no nonce is needed, and a page a script injection gets into
// still cannot run what it injects. What the pages do load, all from the
// site's own origin:
//
//	script-src 'self'         /static/camkit-*.js and the theme's module
//	style-src 'self'          the theme's stylesheet (scripts set styles
//	                          through the CSSOM only, which CSP allows)
//	img-src 'self'            theme assets (logo, favicon, thumbnails)
//	media-src 'self'          <video> plays the WebRTC stream by srcObject,
//	                          which no source list governs
//	connect-src 'self' ws(s)  fetch to /api and WHIP/WHEP, EventSource on
//	                          /stream/events, the chat WebSocket; the ws:
//	                          or wss: origin of http.public_url is named
//	                          for browsers that do not read 'self' as
//	                          covering WebSockets (CSP level 2)
//	form-action 'self'        every form posts to the site; a checkout page
//	                          whose form posts to the processor's hosted
//	                          page adds that origin (AllowFormAction)
//	frame-ancestors 'none'    never framed (clickjacking of Buy, Tip, End);
//	                          X-Frame-Options: DENY for older browsers
//	object-src 'none', base-uri 'none'
//	frame-src, by default-src 'self': the host renders no checkout in a frame
//	                          (theme.CheckoutEmbed is not used)
//
// A processor's own page under /pay/<name>/ (its hosted card form, which
// may load the processor's tokenisation script) may send its own
// Content-Security-Policy and Referrer-Policy: the host keeps a header the
// handler set and adds only what is missing. The theme cannot set headers,
// so every themed page gets the host's policy.
type securityHeaders struct {
	// headers are written as they are, in canonical form (fasthttp keeps
	// every header a handler sets in that form, so a bytewise compare
	// finds them): the set costs no allocation on the hot path.
	headers [][2][]byte // the first is the CSP with form-action 'self'
	cspBase string      // the CSP without form-action, for pages that add origins
}

const (
	localFormAction = "camkit.web.form-action"

	// hstsValue is a year, the figure browsers' preload rules ask for; not
	// includeSubDomains: an operator's other subdomains may not be on HTTPS.
	hstsValue = "max-age=31536000"
)

func newSecurityHeaders(publicURL string) *securityHeaders {
	connect := "'self'"
	if u, err := url.Parse(publicURL); err == nil && validSource(u.Host) {
		switch strings.ToLower(u.Scheme) {
		case "https":
			connect += " wss://" + u.Host
		case "http":
			connect += " ws://" + u.Host
		}
	}
	csp := strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self'",
		"media-src 'self'",
		"font-src 'self'",
		"connect-src " + connect,
		"object-src 'none'",
		"base-uri 'none'",
		"frame-ancestors 'none'",
	}, "; ")
	h := &securityHeaders{cspBase: csp}
	add := func(k, v string) { h.headers = append(h.headers, [2][]byte{[]byte(k), []byte(v)}) }
	add(fiber.HeaderContentSecurityPolicy, csp+"; form-action 'self'")
	add(fiber.HeaderXContentTypeOptions, "nosniff")
	add(fiber.HeaderXFrameOptions, "DENY")
	// A processor sees which site sent the viewer (some check it against
	// the site they approved), never a path: paths carry seat and checkout
	// ids, and return URLs' queries carry processor tokens.
	add(fiber.HeaderReferrerPolicy, "strict-origin-when-cross-origin")
	if len(publicURL) >= 8 && strings.EqualFold(publicURL[:8], "https://") { // as config.SecureCookies reads it
		add(fiber.HeaderStrictTransportSecurity, hstsValue)
	}
	return h
}

// handler sets the headers once the route has answered (so a processor
// page's own policy is seen and kept); the server's error handler calls
// apply too, for answers fiber gives before any route runs.
func (h *securityHeaders) handler(c *fiber.Ctx) error {
	err := c.Next()
	h.apply(c)
	return err
}

// apply sets each header the answer does not carry yet.
func (h *securityHeaders) apply(c *fiber.Ctx) {
	hd := &c.Response().Header
	var have [8]bool // len(h.headers) is at most 5
	hd.VisitAll(func(k, _ []byte) {
		for i, kv := range h.headers {
			if bytes.Equal(k, kv[0]) {
				have[i] = true
			}
		}
	})
	for i, kv := range h.headers {
		switch {
		case have[i]:
		case i == 0:
			if extra, _ := c.Locals(localFormAction).(string); extra != "" {
				hd.SetCanonical(kv[0], []byte(h.cspBase+"; form-action 'self' "+extra))
				continue
			}
			fallthrough
		default:
			hd.SetCanonical(kv[0], kv[1])
		}
	}
}

// AllowFormAction lets the page this request renders post a form to the
// origin of target (a processor's hosted payment page that takes a POST).
// A target that is not an absolute http(s) URL adds nothing: a relative
// one is the site's own, which 'self' allows.
func AllowFormAction(c *fiber.Ctx, target string) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || !validSource(u.Host) {
		return
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return
	}
	origin := scheme + "://" + u.Host
	prev, _ := c.Locals(localFormAction).(string)
	c.Locals(localFormAction, strings.TrimSpace(prev+" "+origin))
}

// validSource reports whether host may be written into a policy as it is:
// a host name or address with an optional port, nothing that would end a
// directive or add a source (";", ",", spaces, quotes).
func validSource(host string) bool {
	if host == "" {
		return false
	}
	for i := 0; i < len(host); i++ {
		switch ch := host[i]; {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '.', ch == '-', ch == ':', ch == '[', ch == ']':
		default:
			return false
		}
	}
	return true
}
