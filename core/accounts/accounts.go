package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/camkit/camkit/core/audit"
	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"gorm.io/gorm"
)

// Options tune a Service. The zero value (with Currency set) is production-ready.
type Options struct {
	// Currency is the site currency: model rates, wallets and credit packs are in it.
	Currency string
	// Clock stamps rows and decides expiries and rate limits. Default: clock.Real().
	Clock clock.Clock
	// Secret keys the CSRF tokens, the age-gate cookie and the IP hashes. When
	// empty, a random secret is created once in the settings table and shared
	// by every host on the database, so tokens survive restarts.
	Secret []byte
	// PasswordParams are the argon2id parameters for new hashes. Default
	// DefaultPasswordParams; tests use TestPasswordParams. A hash made with
	// other parameters is re-hashed on the next successful log-in.
	PasswordParams *argon2id.Params
	// SessionTTL is a session's absolute lifetime (default 30 days) and
	// SessionIdle how long it survives without a request (default 7 days).
	SessionTTL, SessionIdle time.Duration
	// MinimumAge for the age gate: 18 unless a jurisdiction says 21.
	MinimumAge int
	// LoginLimits bound log-in attempts; the zero value is DefaultLoginLimits.
	LoginLimits LoginLimits
	// MaxRatePerMinute caps a model's per-minute rate, in minor units of
	// Currency (default 100,000: 1,000.00 in a two-decimal currency).
	MaxRatePerMinute int64
	// Audit records refused log-ins (reason, client address); nil records nothing.
	Audit *audit.Log
}

// Service is the accounts domain. It is safe for concurrent use.
type Service struct {
	db        *store.DB
	clock     clock.Clock
	currency  string
	params    *argon2id.Params
	ttl, idle time.Duration
	minAge    int
	maxRate   int64
	limiter   *limiter
	audit     *audit.Log
	csrfKey   []byte
	ageKey    []byte
	ipKey     []byte
	// dummyHash is verified when an email is unknown, so a log-in takes as
	// long whether or not the account exists.
	dummyHash string
}

// New returns a Service on db, which must be migrated.
func New(ctx context.Context, db *store.DB, o Options) (*Service, error) {
	if _, err := money.Lookup(o.Currency); err != nil {
		return nil, errs.E(errs.UnknownCurrency, "accounts: site currency %q is not an ISO 4217 code", o.Currency)
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.PasswordParams == nil {
		o.PasswordParams = DefaultPasswordParams
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 30 * 24 * time.Hour
	}
	if o.SessionIdle <= 0 {
		o.SessionIdle = 7 * 24 * time.Hour
	}
	if o.MinimumAge == 0 {
		o.MinimumAge = 18
	}
	if o.MinimumAge < 18 {
		return nil, errs.E(errs.Invalid, "accounts: minimum age %d is below 18", o.MinimumAge)
	}
	if o.MaxRatePerMinute <= 0 {
		o.MaxRatePerMinute = 100_000
	}
	s := &Service{db: db, clock: o.Clock, currency: o.Currency, params: o.PasswordParams,
		ttl: o.SessionTTL, idle: o.SessionIdle, minAge: o.MinimumAge, maxRate: o.MaxRatePerMinute, audit: o.Audit}
	s.limiter = newLimiter(o.Clock, o.LoginLimits.orDefault())
	secret := o.Secret
	if len(secret) == 0 {
		var err error
		if secret, err = loadSecret(ctx, db, o.Clock.Now().UTC()); err != nil {
			return nil, err
		}
	}
	if len(secret) < 16 {
		return nil, errs.E(errs.Invalid, "accounts: secret must be at least 16 bytes, got %d", len(secret))
	}
	s.csrfKey = derive(secret, "csrf")
	s.ageKey = derive(secret, "age-gate")
	s.ipKey = derive(secret, "ip-hash")
	h, err := argon2id.CreateHash("not a password anyone has: "+newID(), s.params)
	if err != nil {
		return nil, errs.E(errs.Internal, "accounts: password parameters: %v", err)
	}
	s.dummyHash = h
	return s, nil
}

// Currency is the site currency.
func (s *Service) Currency() string { return s.currency }

// MinimumAge is the age the gate asks visitors to confirm.
func (s *Service) MinimumAge() int { return s.minAge }

// secretSetting is the settings row of the site secret (store.Secret).
const secretSetting = "accounts.secret"

// loadSecret reads the site secret, creating it on first use.
func loadSecret(ctx context.Context, db *store.DB, now time.Time) ([]byte, error) {
	b, err := db.Secret(ctx, secretSetting, now)
	return b, dbErr("the site secret", err)
}

func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("camkit/accounts/" + purpose))
	return m.Sum(nil)
}

// now is the one timestamp form rows get: UTC, microseconds (what PostgreSQL
// keeps), so values read back compare equal on both dialects.
func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID is 80 random bits as 16 lower-case base32 characters: URL-safe and
// valid inside ledger account codes (viewer:<id>:wallet).
func newID() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// newToken is 32 random bytes, base64url: a session cookie's value.
func newToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// HashIP is the keyed hash stored instead of an IP address: it links rows from
// one address without revealing it (an unkeyed hash of an IPv4 address is
// reversed by trying all 2^32).
func (s *Service) HashIP(ip string) string {
	if ip == "" {
		return ""
	}
	m := hmac.New(sha256.New, s.ipKey)
	m.Write([]byte(ip))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// dbErr keeps *errs.Error as is and wraps anything else, naming what failed.
func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errs.Retry(errs.Timeout, "accounts: %s: %v", what, err)
	case errors.Is(err, context.Canceled):
		return errs.Retry(errs.Unavailable, "accounts: %s: %v", what, err)
	case errors.Is(err, sql.ErrNoRows), errors.Is(err, gorm.ErrRecordNotFound):
		return errs.E(errs.NotFound, "accounts: %s: not found", what)
	}
	return errs.E(errs.Internal, "accounts: %s: %v", what, err)
}

func (s *Service) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.db.Gorm().WithContext(ctx).Transaction(fn)
}

func nullTime(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}
