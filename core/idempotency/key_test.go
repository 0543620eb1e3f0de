package idempotency_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/idempotency"
)

func TestParseHeader(t *testing.T) {
	for in, want := range map[string]string{
		`"8e03978e-40d5-43e8-bc93-6894a57f9324"`: "8e03978e-40d5-43e8-bc93-6894a57f9324", // the draft's form
		`8e03978e-40d5-43e8-bc93-6894a57f9324`:   "8e03978e-40d5-43e8-bc93-6894a57f9324", // bare, as many clients send it
		`  "abc:def/ghi+=" `:                     "abc:def/ghi+=",
		"order-2026-03-01.17~a_b":                "order-2026-03-01.17~a_b",
		strings.Repeat("k", 255):                 strings.Repeat("k", 255),
	} {
		got, err := idempotency.ParseHeader(in)
		if err != nil || got != want {
			t.Errorf("ParseHeader(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", `""`, "short", `"1234567"`, strings.Repeat("k", 256), // length
		`"unterminated`, `"a-valid-key" trailing`, `"a-valid-key";param=1`, // not one sf-string
		"has space inside", "semi;colon-key", `"quote\"inside"`, "ünïcode-key", "tab\tinside-key", "<script>alert(1)</script>", // charset
	} {
		_, err := idempotency.ParseHeader(in)
		var ie *idempotency.Error
		if err == nil || !errors.As(err, &ie) || ie.HTTPStatus() != 400 {
			t.Errorf("ParseHeader(%q) = %v, want a 400", in, err)
		}
	}
}

func TestFormKeyNamesOneFormOfOnePage(t *testing.T) {
	fields := func(s string) url.Values { v, _ := url.ParseQuery(s); return v }
	base := idempotency.FormKey("render-key-1", "POST", "/wallet/packs", fields("pack=starter&_csrf=a&idempotency_key=render-key-1"), "_csrf", "idempotency_key")
	same := []string{
		idempotency.FormKey("render-key-1", "POST", "/wallet/packs", fields("_csrf=b&pack=starter"), "_csrf", "idempotency_key"),
	}
	other := []string{
		idempotency.FormKey("render-key-2", "POST", "/wallet/packs", fields("pack=starter"), "_csrf", "idempotency_key"), // another render
		idempotency.FormKey("render-key-1", "POST", "/wallet/packs", fields("pack=popular"), "_csrf", "idempotency_key"), // another form of the page
		idempotency.FormKey("render-key-1", "POST", "/logout", fields("pack=starter"), "_csrf", "idempotency_key"),       // another action
		idempotency.FormKey("render-key-1", "POST", "/wallet/packs", fields("pack=starter&pack=popular"), "_csrf"),
		idempotency.FormKey("render-key-1", "POST", "/wallet/packs", fields("pack=starter&popular"), "_csrf"),
	}
	for _, s := range same {
		if s != base {
			t.Errorf("the same form's key differs: %s vs %s", s, base)
		}
	}
	seen := map[string]bool{base: true}
	for _, o := range other {
		if seen[o] {
			t.Errorf("two different forms share key %s", o)
		}
		seen[o] = true
	}
	if !strings.HasPrefix(base, "f:") || idempotency.HeaderKey("x") != "h:x" || !strings.HasPrefix(idempotency.RouteKey("/r", "v"), "k:") {
		t.Errorf("effective keys are not kept apart by their prefixes: %s", base)
	}
}

func TestIDIsStableAndUnambiguous(t *testing.T) {
	a := idempotency.ID("creditpack", "user1", "h:key")
	if a != idempotency.ID("creditpack", "user1", "h:key") || len(a) != 16 || strings.Trim(a, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		t.Fatalf("ID %q is not a stable 16-character base32 id", a)
	}
	for _, o := range []string{idempotency.ID("creditpack", "user2", "h:key"), idempotency.ID("creditpack", "user1h", ":key"),
		idempotency.ID("creditpack", "user1", "h:key2"), idempotency.ID("card", "user1", "h:key")} {
		if o == a {
			t.Errorf("ID collides: %s", o)
		}
	}
	if idempotency.Fingerprint("POST", "/a", "", []byte("b")) == idempotency.Fingerprint("POST", "/ab", "", nil) {
		t.Error("fingerprints of different requests collide")
	}
}
