package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

const maxResponseBytes = 1 << 20

// roundTrip sends req and reads the whole answer. Failures where the request
// may or may not have been acted on come back retryable: a passed deadline as
// errs.Timeout, anything else on the way as errs.Unavailable. The status code
// is the caller's to judge.
func roundTrip(ctx context.Context, c *http.Client, req *http.Request) (int, http.Header, []byte, error) {
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		return 0, nil, nil, transportErr(ctx, req, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, nil, transportErr(ctx, req, err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

func transportErr(ctx context.Context, req *http.Request, err error) error {
	what := req.Method + " " + redactURL(req.URL)
	var ne net.Error
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return errs.Retry(errs.Timeout, "%s: no answer in time, the outcome is unknown: %v", what, errors.Unwrap(err))
	}
	return errs.Retry(errs.Unavailable, "%s: %v", what, errors.Unwrap(err))
}

// redactURL drops the query string, which may hold credentials (billingApi.cgi).
func redactURL(u *url.URL) string {
	c := *u
	c.RawQuery = ""
	c.User = nil
	return c.String()
}

// serverErr is the error of an HTTP 5xx answer: the processor failed and
// the outcome is unknown until looked up.
func serverErr(what string, status int, body []byte) error {
	return errs.Retry(errs.Unavailable, "%s: HTTP %d: %s", what, status, snippet(body))
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// allowList is a set of CIDR ranges webhook sources must come from.
type allowList []netip.Prefix

func parseAllowList(key string, cidrs []string) (allowList, error) {
	if len(cidrs) == 0 {
		return nil, errs.E(errs.Invalid, "settings.%s must list at least one CIDR range", key)
	}
	out := make(allowList, 0, len(cidrs))
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			if a, aerr := netip.ParseAddr(strings.TrimSpace(c)); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				return nil, errs.E(errs.Invalid, "settings.%s: %q is not a CIDR range or an address", key, c)
			}
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// allows reports whether remoteAddr ("ip:port" or "ip") is in the list.
func (l allowList) allows(remoteAddr string) (netip.Addr, bool) {
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	a = a.Unmap()
	for _, p := range l {
		if p.Contains(a) {
			return a, true
		}
	}
	return a, false
}

// checkBaseURL accepts an absolute http(s) URL for a processor endpoint.
func checkBaseURL(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errs.E(errs.Invalid, "settings.%s %q must be an absolute http(s) URL", key, raw)
	}
	return nil
}

// checkReturnURL accepts an absolute http(s) URL or a host-relative path.
func checkReturnURL(what, raw string, required bool) error {
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

func withQuery(raw string, add url.Values) string {
	u, err := url.Parse(raw)
	if err != nil { // checked when the checkout started
		return raw
	}
	q := u.Query()
	for k, v := range add {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// headerValue looks a header up whatever the case of its name.
func headerValue(h http.Header, name string) string {
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

// plainResponse is a short text answer, kept out of caches.
func plainResponse(status int, msg string) processor.HTTPResponse {
	return processor.HTTPResponse{Status: status, Body: []byte(msg),
		Headers: http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "Cache-Control": {"no-store"}}}
}
