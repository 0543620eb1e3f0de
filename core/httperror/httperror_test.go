package httperror

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

type throttled struct{ after time.Duration }

func (throttled) Error() string               { return "slow down" }
func (throttled) HTTPStatus() int             { return 429 }
func (t throttled) RetryAfter() time.Duration { return t.after }
func (throttled) PublicMessage() string       { return "slow down" }

func TestOneTable(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, 200},
		{errs.E(errs.Invalid, "x"), 400},
		{errs.E(errs.UnknownCurrency, "x"), 400},
		{errs.E(errs.Unauthenticated, "x"), 401},
		{errs.E(errs.Forbidden, "x"), 403},
		{errs.E(errs.NotFound, "x"), 404},
		{errs.E(errs.Conflict, "x"), 409},
		{errs.E(errs.Unsupported, "x"), 501},
		{errs.E(errs.Limit, "x"), 402},
		{errs.E(errs.Declined, "x"), 402},
		{errs.E(errs.InsufficientFunds, "x"), 402},
		{errs.Retry(errs.Unavailable, "x"), 503},
		{errs.Retry(errs.Timeout, "x"), 504},
		{errors.New("boom"), 500},
		{fmt.Errorf("wrapped: %w", errs.E(errs.NotFound, "x")), 404},
		{fmt.Errorf("wrapped: %w", throttled{time.Second}), 429},
	}
	for _, c := range cases {
		if got := Status(c.err); got != c.want {
			t.Errorf("Status(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// Messages meant for the log never reach a client: a plugin's socket path,
// a database URL, SQL.
func TestMessageHidesTheMachinery(t *testing.T) {
	leaky := []error{
		errs.Retry(errs.Unavailable, "plugin processor-sandbox: rpc error: dial unix /tmp/plugin3171822/plugin.sock: connect: no such file"),
		errs.Retry(errs.Timeout, "ledger: context deadline exceeded on postgres://camkit:pw@db:5432/camkit"),
		errs.E(errs.Internal, "pq: syntax error at or near SELECT"),
		errors.New("open /var/lib/camkit/data: permission denied"),
	}
	for _, err := range leaky {
		m := Message(err)
		for _, bad := range []string{"/tmp", "unix", "postgres://", "SELECT", "/var/lib", "pw@"} {
			if strings.Contains(m, bad) {
				t.Errorf("Message(%q) = %q leaks %q", err, m, bad)
			}
		}
		if m == "" {
			t.Errorf("Message(%q) is empty", err)
		}
	}
	if got := Message(errs.E(errs.Declined, "do not honour")); got != "do not honour" {
		t.Errorf("a decline's words were lost: %q", got)
	}
	if got := Message(errs.E(errs.NotFound, "no such seat")); got != "no such seat" {
		t.Errorf("a not-found's words were lost: %q", got)
	}
}

func TestRetryAfter(t *testing.T) {
	if h := RetryAfterHeader(throttled{1500 * time.Millisecond}); h != "2" {
		t.Errorf("1.5 s rounds up to 2, got %q", h)
	}
	if h := RetryAfterHeader(errs.Retry(errs.Unavailable, "x")); h != "1" {
		t.Errorf("a retryable unavailability says 1 s, got %q", h)
	}
	if h := RetryAfterHeader(errs.E(errs.NotFound, "x")); h != "" {
		t.Errorf("a not-found says nothing, got %q", h)
	}
}
