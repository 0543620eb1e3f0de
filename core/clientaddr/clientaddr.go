// Package clientaddr is the host's one answer to "who is the client?". Every
// IP allow-list, rate limit, session cap and audit log line reads it.
//
// Without a trusted proxy the client is the socket's peer. Behind trusted
// proxies the configured header (X-Forwarded-For, or RFC 7239 Forwarded) is
// walked from the right: each hop that is a trusted proxy appended the address
// it saw, so the first address that is not a trusted proxy is the client. The
// leftmost entries are whatever the client itself sent and are never believed
// (taking the first entry let anyone claim a processor's address).
package clientaddr

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Header names which header trusted proxies write.
type Header string

const (
	XForwardedFor Header = "X-Forwarded-For"
	Forwarded     Header = "Forwarded" // RFC 7239
)

// Resolver finds a request's client from its peer and forwarding header.
// The zero value trusts no proxy.
type Resolver struct {
	trusted []netip.Prefix
	header  Header
}

// New parses trusted proxies (addresses or CIDRs). header is the one header
// the proxies set; only it is read, so a client cannot pick the other one.
func New(trusted []string, header Header) (*Resolver, error) {
	h, err := ParseHeader(string(header))
	if err != nil {
		return nil, err
	}
	prefixes, err := ParseTrusted(trusted)
	if err != nil {
		return nil, err
	}
	return &Resolver{trusted: prefixes, header: h}, nil
}

// IsForwarding reports whether a request header names a client address a
// proxy may have written (either forwarding header, whichever is
// configured): what a client wrote there must not reach anyone who would
// believe it, such as a plugin (which gets the resolved address instead).
func IsForwarding(name string) bool {
	return strings.EqualFold(name, string(XForwardedFor)) || strings.EqualFold(name, string(Forwarded))
}

// ParseHeader reads a configured forwarding header; "" is X-Forwarded-For.
func ParseHeader(s string) (Header, error) {
	switch h := Header(s); h {
	case "":
		return XForwardedFor, nil
	case XForwardedFor, Forwarded:
		return h, nil
	}
	return "", fmt.Errorf("forwarding header %q is neither %s nor %s", s, XForwardedFor, Forwarded)
}

// ParseTrusted reads trusted proxies: IP addresses or CIDRs.
func ParseTrusted(trusted []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range trusted {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an IP address nor a CIDR", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Trusts reports whether a is a trusted proxy.
func (r *Resolver) Trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Resolve returns the client of a request from peer with the given values of
// the forwarding header (every instance, in order).
func (r *Resolver) Resolve(peer netip.Addr, values []string) netip.Addr {
	peer = peer.Unmap()
	if !r.Trusts(peer) || len(values) == 0 {
		return peer
	}
	hops := r.hops(values)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		h := hops[i]
		if !h.ok {
			// A hop a trusted proxy could not name (obfuscated, "unknown",
			// garbage): nothing to its left can be believed, and the last
			// address we could vouch for is the one that forwarded it.
			return client
		}
		client = h.addr
		if !r.Trusts(h.addr) {
			return h.addr
		}
	}
	return client // every hop is a trusted proxy
}

// hops lists the addresses of the header, left to right; an entry that is not
// an address is a hop with ok=false.
func (r *Resolver) hops(values []string) []hopAddr {
	var out []hopAddr
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if r.header == Forwarded {
				part = forwardedFor(part)
			}
			a, ok := parseNode(part)
			out = append(out, hopAddr{a, ok})
		}
	}
	return out
}

type hopAddr struct {
	addr netip.Addr
	ok   bool
}

// forwardedFor returns the for= node of one RFC 7239 forwarded-element
// ("for=192.0.2.60;proto=http;by=203.0.113.43"), or "" when it has none.
func forwardedFor(element string) string {
	for _, pair := range strings.Split(element, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// parseNode reads "192.0.2.1", "192.0.2.1:443", "2001:db8::1",
// "[2001:db8::1]:443" or "[2001:db8::1]".
func parseNode(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap(), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	} else {
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

const localsKey = "camkit.clientaddr"

// Middleware resolves the client once per request; Of reads it.
func (r *Resolver) Middleware() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Locals(localsKey, r.resolveCtx(c))
		return c.Next()
	}
}

func (r *Resolver) resolveCtx(c *fiber.Ctx) netip.Addr {
	peer := peerOf(c)
	if !r.Trusts(peer) {
		return peer
	}
	var values []string
	c.Request().Header.VisitAll(func(k, v []byte) {
		if strings.EqualFold(string(k), string(r.header)) {
			values = append(values, string(v))
		}
	})
	return r.Resolve(peer, values)
}

func peerOf(c *fiber.Ctx) netip.Addr {
	if ta, ok := c.Context().RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	a, _ := parseNode(c.Context().RemoteAddr().String())
	return a
}

// Of is the request's client address. Without the middleware (a handler
// mounted on a bare app in a unit test) it is the socket's peer.
func Of(c *fiber.Ctx) netip.Addr {
	if a, ok := c.Locals(localsKey).(netip.Addr); ok {
		return a
	}
	return peerOf(c)
}

// String is Of as text ("203.0.113.7", "2001:db8::1"), for logs, rate-limit
// keys and the session records.
func String(c *fiber.Ctx) string { return Of(c).String() }
