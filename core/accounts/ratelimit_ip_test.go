package accounts_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/sdk/errs"
)

// A client that rotates through the addresses of its own IPv6 /64 is one
// client to the per-address limit; another /64 is another client.
func TestLoginRateLimitTakesAnIPv6ClientByItsSlash64(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	limit := accounts.DefaultLoginLimits.PerIP.Burst
	for i := 0; i < limit; i++ {
		ip := fmt.Sprintf("2001:db8:1:2::%x", i+1)
		_, err := e.svc.Login(ctx, accounts.LoginRequest{Email: fmt.Sprintf("user%d@example.com", i), Password: "guess guess", IP: ip})
		if errs.CodeOf(err) != errs.Unauthenticated {
			t.Fatalf("attempt %d from %s: %v", i+1, ip, err)
		}
	}
	var rl *accounts.RateLimitError
	_, err := e.svc.Login(ctx, accounts.LoginRequest{Email: "fresh@example.com", Password: "guess guess", IP: "2001:db8:1:2:ffff:ffff:ffff:ffff"})
	if !asRateLimit(err, &rl) {
		t.Fatalf("another address of the same /64 past the burst: %v, want a rate limit", err)
	}
	if _, err := e.svc.Login(ctx, accounts.LoginRequest{Email: "fresh@example.com", Password: "guess guess", IP: "2001:db8:1:3::1"}); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("another /64: %v", err)
	}
}
