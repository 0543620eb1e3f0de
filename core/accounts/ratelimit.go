package accounts

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/sdk/errs"
)

// Bucket is a token bucket: Burst attempts at once, then one more every Every.
type Bucket struct {
	Burst int
	Every time.Duration
}

// LoginLimits bound log-in attempts per email (against guessing one
// account's password) and per IP (against trying many accounts).
type LoginLimits struct {
	PerEmail Bucket
	PerIP    Bucket
}

// DefaultLoginLimits: 5 tries per account then one a minute; 20 per address
// then one every 15 s (generous, for households and offices behind one NAT).
var DefaultLoginLimits = LoginLimits{
	PerEmail: Bucket{Burst: 5, Every: time.Minute},
	PerIP:    Bucket{Burst: 20, Every: 15 * time.Second},
}

func (l LoginLimits) orDefault() LoginLimits {
	if l.PerEmail.Burst <= 0 || l.PerEmail.Every <= 0 {
		l.PerEmail = DefaultLoginLimits.PerEmail
	}
	if l.PerIP.Burst <= 0 || l.PerIP.Every <= 0 {
		l.PerIP = DefaultLoginLimits.PerIP
	}
	return l
}

// RateLimitError says too many attempts were made; the HTTP layer answers
// 429 Too Many Requests with a Retry-After header. It unwraps to an
// errs.Limit error, retryable, for callers that only know the vocabulary.
type RateLimitError struct {
	Err   *errs.Error
	After time.Duration
}

func (e *RateLimitError) Error() string { return e.Err.Error() }
func (e *RateLimitError) Unwrap() error { return e.Err }

// RetryAfter is how long to wait before the next attempt may succeed.
func (e *RateLimitError) RetryAfter() time.Duration { return e.After }

// HTTPStatus is 429 Too Many Requests.
func (e *RateLimitError) HTTPStatus() int { return 429 }

// limiter keeps buckets in memory, per host: a deployment with several hosts
// allows each host's budget, which still bounds guessing to a few tries a
// minute. Full buckets are forgotten so the map does not grow without limit.
type limiter struct {
	mu      sync.Mutex
	clk     clock.Clock
	limits  LoginLimits
	buckets map[string]*bucketState
	ops     int
}

type bucketState struct {
	tokens int
	at     time.Time // when tokens was last brought up to date
}

func newLimiter(clk clock.Clock, l LoginLimits) *limiter {
	return &limiter{clk: clk, limits: l, buckets: map[string]*bucketState{}}
}

// refill brings b up to now and reports whether it is full.
func refill(b *bucketState, spec Bucket, now time.Time) bool {
	if b.tokens < spec.Burst {
		if n := int(now.Sub(b.at) / spec.Every); n > 0 {
			b.tokens += n
			b.at = b.at.Add(time.Duration(n) * spec.Every)
		}
	}
	if b.tokens >= spec.Burst {
		b.tokens = spec.Burst
		b.at = now
		return true
	}
	return false
}

// ipKey is the per-address bucket of a client address (core/clientaddr):
// an IPv4 address as it is, an IPv6 address by its /64, the smallest block a
// subscriber is given (RFC 6177); otherwise one client rotating through its
// own 2^64 addresses would get a fresh bucket with each.
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// take spends one token from the email's bucket and one from the IP's, or
// neither when either is empty.
func (l *limiter) take(email, ip string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clk.Now()
	l.ops++
	if l.ops%1024 == 0 {
		l.sweep(now)
	}
	type want struct {
		key  string
		spec Bucket
		what string
	}
	wants := []want{{"e:" + email, l.limits.PerEmail, "for this account"}}
	if ip != "" {
		wants = append(wants, want{"i:" + ipKey(ip), l.limits.PerIP, "from your network"})
	}
	for _, w := range wants {
		b := l.buckets[w.key]
		if b == nil {
			continue
		}
		refill(b, w.spec, now)
		if b.tokens <= 0 {
			wait := b.at.Add(w.spec.Every).Sub(now)
			return &RateLimitError{
				Err: errs.Retry(errs.Limit, "too many log-in attempts %s: try again in %s",
					w.what, roundUp(wait)),
				After: wait,
			}
		}
	}
	for _, w := range wants {
		b := l.buckets[w.key]
		if b == nil {
			b = &bucketState{tokens: w.spec.Burst, at: now}
			l.buckets[w.key] = b
		}
		b.tokens--
	}
	return nil
}

// succeeded forgets an account's failed attempts: a typo followed by the
// right password does not count against the next session.
func (l *limiter) succeeded(email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.buckets, "e:"+email)
}

func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		spec := l.limits.PerEmail
		if k[0] == 'i' {
			spec = l.limits.PerIP
		}
		if refill(b, spec, now) {
			delete(l.buckets, k)
		}
	}
}

// roundUp renders a wait in whole seconds, never "0s".
func roundUp(d time.Duration) string {
	s := (d + time.Second - 1) / time.Second
	if s < 1 {
		s = 1
	}
	if s >= 60 {
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%ds", s)
}
