package processorkit

import (
	"net"
	"net/netip"
	"strings"

	"github.com/camkit/camkit/sdk/errs"
)

// AllowList is a set of address ranges postbacks must come from: the only
// authentication CCBill, Segpay and Epoch offer, and a second one for others.
type AllowList []netip.Prefix

// ParseAllowList reads the CIDR ranges (or single addresses) of settings key.
// An empty list is an error when required (the processor authenticates by
// source address alone) and a nil AllowList otherwise.
func ParseAllowList(key string, cidrs []string, required bool) (AllowList, error) {
	if len(cidrs) == 0 {
		if required {
			return nil, errs.E(errs.Invalid, "settings.%s must list at least one CIDR range", key)
		}
		return nil, nil
	}
	out := make(AllowList, 0, len(cidrs))
	for i, c := range cidrs {
		c = strings.TrimSpace(c)
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, errs.E(errs.Invalid, "settings.%s[%d]: %q is not a CIDR range or an address", key, i, c)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Allows reports whether remoteAddr ("ip:port" or "ip", IPv4-mapped IPv6
// included) is in the list, and the address it read. An empty list allows
// nothing: use Check for lists that may be empty.
func (l AllowList) Allows(remoteAddr string) (netip.Addr, bool) {
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

// Check is the postback gate: nil when remoteAddr is allowed or the list is
// empty (no restriction configured), otherwise errs.Unauthenticated naming
// what (e.g. "ccbill webhook") and the settings key.
func (l AllowList) Check(what, key, remoteAddr string) error {
	if len(l) == 0 {
		return nil
	}
	if _, ok := l.Allows(remoteAddr); !ok {
		return errs.E(errs.Unauthenticated, "%s from %q: the source address is not among settings.%s", what, remoteAddr, key)
	}
	return nil
}
