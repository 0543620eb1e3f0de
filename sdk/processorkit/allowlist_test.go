package processorkit

import (
	"testing"

	"github.com/camkit/camkit/sdk/errs"
)

func TestParseAllowList(t *testing.T) {
	l, err := ParseAllowList("allowed_ips", []string{"64.38.212.0/24", " 10.0.0.7 ", "2001:db8::/32", "192.168.1.77/24"}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		addr string
		ok   bool
	}{
		{"64.38.212.9:4431", true}, {"64.38.212.9", true}, {"64.38.213.9:1", false},
		{"10.0.0.7:80", true}, {"10.0.0.8:80", false},
		{"[::ffff:64.38.212.1]:443", true},                   // IPv4-mapped, as a dual-stack listener reports it
		{"[2001:db8::1]:443", true}, {"192.168.1.1:1", true}, // ranges are masked
		{"not-an-address", false}, {"", false},
	} {
		if _, ok := l.Allows(c.addr); ok != c.ok {
			t.Errorf("Allows(%q) = %v, want %v", c.addr, ok, c.ok)
		}
	}
	if err := l.Check("ccbill webhook", "allowed_ips", "1.2.3.4:5"); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("Check off the list = %v, want unauthenticated", err)
	}
	if err := l.Check("ccbill webhook", "allowed_ips", "64.38.212.1:5"); err != nil {
		t.Fatalf("Check on the list = %v", err)
	}

	if _, err := ParseAllowList("allowed_ips", nil, true); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("required and empty: %v, want invalid", err)
	}
	none, err := ParseAllowList("webhook_allowed_cidrs", nil, false)
	if err != nil || none != nil {
		t.Fatalf("optional and empty = %v, %v", none, err)
	}
	if err := none.Check("x", "webhook_allowed_cidrs", "1.2.3.4:5"); err != nil {
		t.Fatalf("an empty optional list restricts nothing, got %v", err)
	}
	if _, ok := none.Allows("1.2.3.4"); ok {
		t.Fatal("Allows on an empty list must say no")
	}
	if _, err := ParseAllowList("allowed_ips", []string{"64.38.212.0/33"}, true); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("bad range: %v, want invalid", err)
	}
}
