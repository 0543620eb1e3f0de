package idempotency

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/camkit/camkit/sdk/errs"
)

// Key limits: a client's key (the header, or a form's field) is 8 to 255
// characters of keyChars. Short keys are refused because they are the shape
// of counters, which collide; 255 is what common APIs allow.
const (
	MinKeyLen = 8
	MaxKeyLen = 255
	keyChars  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:~+/="
)

// Prefixes of effective keys, so a client's header never meets a key the
// host derived.
const (
	prefixHeader = "h:"
	prefixForm   = "f:"
	prefixRoute  = "k:"
)

// ValidKey reports whether k is a key a client may send.
func ValidKey(k string) bool {
	return len(k) >= MinKeyLen && len(k) <= MaxKeyLen && strings.Trim(k, keyChars) == ""
}

// ParseHeader reads an Idempotency-Key header value: a Structured Field
// string (RFC 8941: "…" with \" and \\ escapes), as the draft defines it,
// or the bare key, as many clients send it. The key must be ValidKey.
func ParseHeader(v string) (string, error) {
	v = strings.Trim(v, " \t")
	if strings.HasPrefix(v, `"`) {
		var b strings.Builder
		i := 1
		for ; i < len(v); i++ {
			ch := v[i]
			if ch == '\\' && i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\') {
				b.WriteByte(v[i+1])
				i++
				continue
			}
			if ch == '"' {
				break
			}
			b.WriteByte(ch)
		}
		if i != len(v)-1 {
			return "", errBadKey("is not one quoted string")
		}
		v = b.String()
	}
	if !ValidKey(v) {
		return "", errBadKey("must be %d to %d of A-Z a-z 0-9 - _ . : ~ + / =", MinKeyLen, MaxKeyLen)
	}
	return v, nil
}

func errBadKey(format string, args ...any) error {
	return &Error{status: http.StatusBadRequest, err: errs.E(errs.Invalid, "Idempotency-Key "+format, args...)}
}

// HeaderKey is the effective key of a client's Idempotency-Key k.
func HeaderKey(k string) string { return prefixHeader + k }

// FormKey is the effective key of a form post: the form's rendered key
// (its hidden field), the method, the action's path and the other fields,
// in a canonical order (so it does not depend on how a browser orders
// them). skip names fields left out (the CSRF token and the key's own field).
func FormKey(rendered, method, path string, fields map[string][]string, skip ...string) string {
	h := sha256.New()
	part(h, "form", rendered, method, path)
	names := make([]string, 0, len(fields))
	for n := range fields {
		if !contains(skip, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		part(h, n, strconv.Itoa(len(fields[n])))
		part(h, fields[n]...)
	}
	return prefixForm + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// RouteKey is the effective key of a request that names its own key (a
// processor's return link carries its checkout id): route and value.
func RouteKey(route, value string) string {
	h := sha256.New()
	part(h, "route", route, value)
	return prefixRoute + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Fingerprint is what "the same request" means: method, path, query and
// body. It is SHA-256 hex.
func Fingerprint(method, path, query string, body []byte) string {
	h := sha256.New()
	part(h, "request", method, path, query)
	part(h, string(body))
	return hex.EncodeToString(h.Sum(nil))
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// ID derives a stable identifier from parts, so a service finds again what
// it created under a key: ID("creditpack", userID, key). It is 16 lower-case
// base32 characters (80 bits of SHA-256), the shape of the host's random ids.
func ID(parts ...string) string {
	h := sha256.New()
	part(h, parts...)
	return strings.ToLower(idEncoding.EncodeToString(h.Sum(nil)[:10]))
}

// part writes each string length-prefixed, so no two lists of parts hash
// alike ("ab","c" vs "a","bc").
func part(h hash.Hash, ss ...string) {
	var n [8]byte
	for _, s := range ss {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
