package processorkit

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// CheckEndpoint accepts a processor endpoint of settings key: an absolute
// https URL, or plain http on the loopback interface only (a local fake in
// tests), so credentials never cross a network in clear text.
func CheckEndpoint(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errs.E(errs.Invalid, "settings.%s %q is not an absolute URL", key, raw)
	}
	if u.Scheme == "https" {
		return nil
	}
	if ip := net.ParseIP(u.Hostname()); u.Scheme == "http" && (u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()) {
		return nil
	}
	return errs.E(errs.Invalid, "settings.%s %q must use https", key, raw)
}

// CheckReturnURL accepts an absolute http(s) URL or a host-relative path for
// what (e.g. "return URL"); empty is accepted when not required.
func CheckReturnURL(what, raw string, required bool) error {
	if raw == "" && !required {
		return nil
	}
	u, err := url.Parse(raw)
	ok := err == nil && ((u.Scheme == "https" || u.Scheme == "http") && u.Host != "" ||
		u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(raw, "//"))
	if !ok {
		return errs.E(errs.Invalid, "%s %q must be an absolute http(s) URL or a path starting with /", what, raw)
	}
	return nil
}

// WithQuery returns raw with add set in its query (replacing values of the
// same names). raw is returned as it is when it does not parse; check it with
// CheckReturnURL first.
func WithQuery(raw string, add url.Values) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for k, v := range add {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// HeaderValue looks a header up whatever the case of its name: the host
// passes headers on as it got them, not always canonicalised.
func HeaderValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// PlainResponse is a short text answer kept out of caches: what most
// processors expect back from a postback ("OK").
func PlainResponse(status int, msg string) processor.HTTPResponse {
	return processor.HTTPResponse{Status: status, Body: []byte(msg),
		Headers: http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "Cache-Control": {"no-store"}}}
}

// PageHeaders are the headers of a page a plugin serves under /pay/<name>/
// (a card form, a return page): never cached, never framed, no referrer, and
// the given Content-Security-Policy.
func PageHeaders(contentType, csp string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	return h
}

// NewRef returns prefix followed by 24 random hex digits: a reference no one
// can guess (checkout references travel in URLs).
func NewRef(prefix string) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return prefix + hex.EncodeToString(b)
}

// ParseDuration reads a duration setting such as "72h" of at least min.
func ParseDuration(key, raw string, min time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(raw)
	if err != nil || d < min {
		return 0, errs.E(errs.Invalid, "settings.%s %q must be a duration of at least %s", key, raw, min)
	}
	return d, nil
}
