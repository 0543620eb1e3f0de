package processorkit

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

func TestCheckEndpoint(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://api.ccbill.com": true, "http://127.0.0.1:8080/x": true, "http://localhost:1/": true, "http://[::1]:9/": true,
		"http://api.ccbill.com": false, "ftp://x/": false, "/relative": false, "": false,
	} {
		if err := CheckEndpoint("api_base_url", raw); (err == nil) != ok {
			t.Errorf("CheckEndpoint(%q) = %v, want ok=%v", raw, err, ok)
		} else if err != nil && errs.CodeOf(err) != errs.Invalid {
			t.Errorf("CheckEndpoint(%q) code %s", raw, errs.CodeOf(err))
		}
	}
}

func TestCheckReturnURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://site.example/back": true, "/account/cards": true, "//evil.example/": false, "javascript:alert(1)": false, "": false,
	} {
		if err := CheckReturnURL("return URL", raw, true); (err == nil) != ok {
			t.Errorf("CheckReturnURL(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
	if err := CheckReturnURL("cancel URL", "", false); err != nil {
		t.Fatalf("an optional empty URL: %v", err)
	}
}

func TestWithQueryHeaderValueNewRef(t *testing.T) {
	if got := WithQuery("/back?a=1&checkout=old", url.Values{"checkout": {"co_1"}}); got != "/back?a=1&checkout=co_1" {
		t.Fatalf("WithQuery = %q", got)
	}
	h := http.Header{"webhook-signature": {"t=1,s=2"}} // not canonical, as a proxy may pass it
	if got := HeaderValue(h, "Webhook-Signature"); got != "t=1,s=2" {
		t.Fatalf("HeaderValue = %q", got)
	}
	a, b := NewRef("co_"), NewRef("co_")
	if a == b || len(a) != 3+24 {
		t.Fatalf("NewRef = %q, %q", a, b)
	}
	r := PlainResponse(200, "OK")
	if string(r.Body) != "OK" || r.Headers.Get("Cache-Control") != "no-store" {
		t.Fatalf("PlainResponse = %+v", r)
	}
	if PageHeaders("text/html", "default-src 'none'").Get("Content-Security-Policy") != "default-src 'none'" {
		t.Fatal("PageHeaders lost the CSP")
	}
}

func TestParseDuration(t *testing.T) {
	if d, err := ParseDuration("webhook_max_age", "72h", time.Minute); err != nil || d != 72*time.Hour {
		t.Fatalf("72h = %v, %v", d, err)
	}
	for _, raw := range []string{"30s", "soon", "", "-1h"} {
		if _, err := ParseDuration("webhook_max_age", raw, time.Minute); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%q: %v, want invalid", raw, err)
		}
	}
}
