package main

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
	"unicode"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// digestField is the field Epoch signs a postback with.
const digestField = "epoch_digest"

// minDigestKeyBytes bounds settings.digest_key from below. Epoch's keys in
// public integration code are 32 hex characters; a key anyone can guess
// authenticates nothing.
const minDigestKeyBytes = 16

// field is one posted name/value pair as it arrived (name not lowercased:
// the digest is over the names Epoch sent).
type field struct{ name, value string }

// postedFields are the pairs of the query string and the form body together
// (Epoch may post either way, and PHP integrations read both as one
// $_REQUEST). A name given twice is refused: which of its values Epoch
// signed cannot be known, and an attacker must not choose.
func postedFields(req processor.WebhookRequest) ([]field, error) {
	seen := map[string]bool{}
	var out []field
	add := func(vs url.Values) error {
		for name, values := range vs {
			if len(values) != 1 || seen[name] {
				return errs.E(errs.Invalid, "epoch postback: field %q is given more than once", name)
			}
			seen[name] = true
			out = append(out, field{name, values[0]})
		}
		return nil
	}
	if err := add(req.Query); err != nil {
		return nil, err
	}
	if len(req.Body) > 0 {
		body, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return nil, errs.E(errs.Invalid, "epoch postback: malformed body")
		}
		if err := add(body); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkDigest verifies epoch_digest over fields with key, in constant time.
// A missing or wrong digest is errs.Unauthenticated; nothing of the posted
// data is read before it passes.
func checkDigest(key []byte, fields []field) error {
	var got string
	var signed []field
	for _, f := range fields {
		if f.name == digestField {
			got = f.value
			continue
		}
		signed = append(signed, f)
	}
	if got == "" {
		return errs.E(errs.Unauthenticated, "epoch postback without %s", digestField)
	}
	sum, err := hex.DecodeString(got)
	if err != nil || !hmac.Equal(sum, epochDigest(key, signed)) {
		return errs.E(errs.Unauthenticated, "epoch postback: %s does not match (not signed with settings.digest_key)", digestField)
	}
	return nil
}

// epochDigest is Epoch's epoch_digest: HMAC-MD5 keyed with the merchant's
// key over the posted pairs (epoch_digest itself left out) in byte order of
// their names, each name immediately followed by its value, with no
// separator; every name and value first loses its leading and trailing
// white space and every '&' and '='. The wire form is the lowercase hex of
// the 16 bytes (PHP's hash_hmac('md5', ...)); it is compared as bytes.
//
// The format is not published by Epoch in a form found; it is taken from
// public integration code, which agrees on it:
//   - Shelby_Payment_Epoch_FlexPost::generateHMAC and ::validateResponse
//     (PHP): unset epoch_digest, ksort, concatenate key.value after
//     mb_eregi_replace of (^\s+)|(\s+$)|(&+)|(=+) by nothing, then
//     hash_hmac of md5 with hmac_key; validateResponse runs it over every
//     field of the postback.
//   - ProBillerNG purchase-gateway tests, postbackPayloadForEpoch (PHP):
//     ksort, concatenate key.trim(value), hash_hmac('md5', ...) — the same
//     string for postbacks without empty values. (It leaves out empty values;
//     Shelby keeps them as the bare name. Shelby's form is used: it is the
//     verifying side, and a signature that ignores some fields would let
//     them be added to a captured postback.)
//
// Names sort as PHP's ksort sorts non-numeric string keys (byte order).
// White space is Unicode white space (Oniguruma's \s in UTF-8 mode).
// Because pairs are concatenated without a separator, a name/value boundary
// is not signed: a captured postback could be replayed with characters
// moved between neighbouring pairs. That cannot change what moves money:
// amounts come from the configured price points, ids must be numeric, a
// known checkout's customer comes from the plugin's own record, and a sale
// is booked once per transaction id; at most a field is dropped or a
// free-form one garbled into a value no account has.
func epochDigest(key []byte, fields []field) []byte {
	sorted := append([]field(nil), fields...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	m := hmac.New(md5.New, key)
	for _, f := range sorted {
		m.Write([]byte(digestClean(f.name)))
		m.Write([]byte(digestClean(f.value)))
	}
	return m.Sum(nil)
}

var digestStrip = strings.NewReplacer("&", "", "=", "")

// digestClean is the mb_eregi_replace above: white space trimmed at both
// ends, '&' and '=' removed wherever they are. (One regex pass over the
// original string equals trimming first and then removing the two
// characters: removing them never makes new white space leading or
// trailing in the regex's pass, and trimming first cannot either.) One
// difference is left: Oniguruma's ^ and $ also match at line breaks inside a
// value; Epoch's fields are single-line, and a multi-line one fails closed
// (refused as unsigned, visible in the host's log).
func digestClean(s string) string {
	return digestStrip.Replace(strings.TrimFunc(s, unicode.IsSpace))
}

// hasDigest reports whether the notice carries an epoch_digest at all
// (even an empty one, which checkDigest then refuses).
func hasDigest(fields []field) bool {
	for _, f := range fields {
		if f.name == digestField {
			return true
		}
	}
	return false
}
