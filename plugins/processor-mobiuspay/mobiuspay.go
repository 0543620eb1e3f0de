package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
)

const (
	pluginName    = "mobiuspay"
	pluginVersion = "0.1.0"
	routePrefix   = "/pay/" + pluginName
	checkoutTTL   = time.Hour
	minSecret     = 16

	defaultAPIURL       = "https://secure.mobiusgateway.com/api/transact.php"
	defaultQueryURL     = "https://secure.mobiusgateway.com/api/query.php"
	defaultCollectJSURL = "https://secure.mobiusgateway.com/token/Collect.js"
)

type settings struct {
	SecurityKey         string   `json:"security_key"`
	TokenizationKey     string   `json:"tokenization_key"`
	WebhookSigningKey   string   `json:"webhook_signing_key"`
	APIURL              string   `json:"api_url"`
	QueryURL            string   `json:"query_url"`
	CollectJSURL        string   `json:"collectjs_url"`
	Currencies          []string `json:"currencies"`
	MaxHoldDays         int      `json:"max_hold_days"`
	StateFile           string   `json:"state_file"`
	WebhookMaxAge       string   `json:"webhook_max_age"`
	WebhookAllowedCIDRs []string `json:"webhook_allowed_cidrs"`
	RequestTimeout      string   `json:"request_timeout"`
}

// MobiusPay implements processor.Processor over NMI's Direct Post API. One
// mutex guards the state and its file; network calls run without it.
type MobiusPay struct {
	now func() time.Time

	mu       sync.Mutex
	cfg      settings
	maxAge   time.Duration
	cidrs    []*net.IPNet
	client   *nmiClient
	st       *state          // nil until Configure
	inflight map[string]bool // idempotency keys with a request on the wire
}

var _ processor.Processor = (*MobiusPay)(nil)

func newMobiusPay(now func() time.Time) *MobiusPay {
	return &MobiusPay{now: now, inflight: map[string]bool{}}
}

func (m *MobiusPay) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindProcessor, Name: pluginName, Version: pluginVersion}, nil
}

func (m *MobiusPay) Configure(_ context.Context, settingsJSON []byte) error {
	cfg := settings{
		APIURL: defaultAPIURL, QueryURL: defaultQueryURL, CollectJSURL: defaultCollectJSURL,
		Currencies: []string{"USD"}, MaxHoldDays: 7, StateFile: "./data/mobiuspay-processor.json",
		WebhookMaxAge: "72h", RequestTimeout: "60s",
	}
	if err := pluginkit.DecodeSettings(settingsJSON, &cfg); err != nil {
		return err
	}
	switch {
	case cfg.SecurityKey == "":
		return errs.E(errs.Invalid, "settings.security_key is required (the private API key from the MobiusPay merchant portal)")
	case cfg.TokenizationKey == "":
		return errs.E(errs.Invalid, "settings.tokenization_key is required (the public Collect.js key)")
	case len(cfg.WebhookSigningKey) < minSecret:
		return errs.E(errs.Invalid, "settings.webhook_signing_key must be at least %d bytes", minSecret)
	case cfg.StateFile == "":
		return errs.E(errs.Invalid, "settings.state_file must not be empty")
	case cfg.MaxHoldDays < 1 || cfg.MaxHoldDays > 30:
		return errs.E(errs.Invalid, "settings.max_hold_days must be between 1 and 30, got %d", cfg.MaxHoldDays)
	case len(cfg.Currencies) == 0:
		return errs.E(errs.Invalid, "settings.currencies must list at least one ISO 4217 code")
	}
	for key, raw := range map[string]string{"api_url": cfg.APIURL, "query_url": cfg.QueryURL, "collectjs_url": cfg.CollectJSURL} {
		if err := checkEndpoint(key, raw); err != nil {
			return err
		}
	}
	for i, c := range cfg.Currencies {
		if _, err := money.Lookup(c); err != nil {
			return errs.E(errs.Invalid, "settings.currencies[%d]: %q is not an ISO 4217 code", i, c)
		}
	}
	maxAge, err := time.ParseDuration(cfg.WebhookMaxAge)
	if err != nil || maxAge < time.Minute {
		return errs.E(errs.Invalid, "settings.webhook_max_age %q must be a duration of at least 1m", cfg.WebhookMaxAge)
	}
	timeout, err := time.ParseDuration(cfg.RequestTimeout)
	if err != nil || timeout < time.Second {
		return errs.E(errs.Invalid, "settings.request_timeout %q must be a duration of at least 1s", cfg.RequestTimeout)
	}
	cidrs, err := parseCIDRs("webhook_allowed_cidrs", cfg.WebhookAllowedCIDRs)
	if err != nil {
		return err
	}
	st, err := loadState(cfg.StateFile)
	if err != nil {
		return errs.E(errs.Invalid, "settings.state_file: %v", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cfg, m.maxAge, m.cidrs, m.st = cfg, maxAge, cidrs, st
	m.client = &nmiClient{http: &http.Client{Timeout: timeout}, apiURL: cfg.APIURL, queryURL: cfg.QueryURL, securityKey: cfg.SecurityKey}
	return nil
}

// checkEndpoint accepts https URLs, and plain http only on the loopback
// interface, where the tests' fake gateway listens.
func checkEndpoint(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errs.E(errs.Invalid, "settings.%s %q is not an absolute URL", key, raw)
	}
	if u.Scheme == "https" {
		return nil
	}
	if ip := net.ParseIP(u.Hostname()); u.Scheme == "http" && (u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()) {
		return nil
	}
	return errs.E(errs.Invalid, "settings.%s %q must use https", key, raw)
}

func parseCIDRs(key string, raw []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for i, c := range raw {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			return nil, errs.E(errs.Invalid, "settings.%s[%d]: %q is not a CIDR range", key, i, c)
		}
		out = append(out, n)
	}
	return out, nil
}

func (m *MobiusPay) Capabilities(context.Context) (processor.Capabilities, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	days, cur := m.cfg.MaxHoldDays, m.cfg.Currencies
	if days == 0 {
		days, cur = 7, []string{"USD"}
	}
	return processor.Capabilities{
		AuthCapture: true, PartialCapture: true, Void: true, Refund: true, PartialRefund: true,
		ChargeStoredCredential: true, HostedCheckoutRequired: true, NativeRecurring: false,
		WebhookAuth: processor.WebhookHMAC, Currencies: append([]string(nil), cur...), MaxHoldDays: days,
	}, nil
}

// orderIDFor derives NMI's orderid from the host's idempotency key, so the
// same request always carries the same orderid and can be found by it with
// query.php even if the plugin lost its state file.
func orderIDFor(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "ck" + hex.EncodeToString(sum[:11])
}

// call is one money-moving request to NMI under an idempotency key.
type call[T any] struct {
	key, fingerprint string
	// check tests local preconditions (the hold is open, the refund fits)
	// before a first attempt; it runs under the lock.
	check func(st *state) error
	// send makes the request; lookup finds its outcome after an unknown one
	// (found false: NMI never saw it, so it may be sent).
	send   func(ctx context.Context, orderID string) (T, error)
	lookup func(ctx context.Context, orderID string) (out T, found bool, err error)
	// apply records the effect locally; it runs under the lock.
	apply func(st *state, out T)
}

// run executes c at most once per idempotency key. Before anything is sent a
// pending record is written, so a crash or a timeout leaves a trace; a retry
// of a pending key first asks query.php whether NMI already acted. A repeat
// of a finished key returns the recorded result or decline; the same key with
// another request is errs.Conflict.
func run[T any](ctx context.Context, m *MobiusPay, c call[T]) (T, error) {
	var zero T
	m.mu.Lock()
	if m.st == nil {
		m.mu.Unlock()
		return zero, errs.Retry(errs.Unavailable, "mobiuspay processor is not configured yet")
	}
	rec := m.st.Idempotency[c.key]
	if rec != nil {
		if rec.Fingerprint != c.fingerprint {
			m.mu.Unlock()
			return zero, errs.E(errs.Conflict, "idempotency key %q was first used for another request", c.key)
		}
		if out, done, err := recorded[T](rec); done {
			m.mu.Unlock()
			return out, err
		}
	}
	if m.inflight[c.key] {
		m.mu.Unlock()
		return zero, errs.Retry(errs.Unavailable, "a request with idempotency key %q is still in flight", c.key)
	}
	pending := rec != nil
	if !pending {
		if err := c.check(m.st); err != nil {
			m.mu.Unlock()
			return zero, err
		}
		rec = &idemRecord{Fingerprint: c.fingerprint, Status: statusPending, OrderID: orderIDFor(c.key), At: m.now().UTC()}
		m.st.Idempotency[c.key] = rec
		if err := m.saveLocked(); err != nil {
			delete(m.st.Idempotency, c.key)
			m.mu.Unlock()
			return zero, err
		}
	}
	m.inflight[c.key] = true
	orderID := rec.OrderID
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.inflight, c.key)
		m.mu.Unlock()
	}()

	if pending {
		out, found, err := c.lookup(ctx, orderID)
		switch {
		case found && (err == nil || errs.IsDecline(err)):
			return finish(m, c, out, err)
		case err != nil:
			return zero, err // still unknown: stays pending
		}
	}
	out, err := c.send(ctx, orderID)
	switch {
	case err == nil || errs.IsDecline(err):
		return finish(m, c, out, err)
	case errs.IsRetryable(err):
		return zero, err // unknown outcome: stays pending
	}
	// A final refusal that moved nothing: forget the key, so the host may
	// correct the cause and retry under it.
	m.mu.Lock()
	delete(m.st.Idempotency, c.key)
	serr := m.saveLocked()
	m.mu.Unlock()
	if serr != nil {
		return zero, serr
	}
	return zero, err
}

// finish records a result (or a decline) under the key.
func finish[T any](m *MobiusPay, c call[T], out T, declined error) (T, error) {
	var zero T
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.st.Idempotency[c.key]
	if declined != nil {
		rec.Status, rec.Err = statusDeclined, asErr(declined)
	} else {
		b, err := json.Marshal(out)
		if err != nil {
			return zero, errs.E(errs.Internal, "mobiuspay: %v", err)
		}
		rec.Status, rec.Result = statusDone, b
		c.apply(m.st, out)
	}
	if err := m.saveLocked(); err != nil {
		return zero, err
	}
	if declined != nil {
		return zero, declined
	}
	return out, nil
}

func recorded[T any](rec *idemRecord) (out T, done bool, err error) {
	switch rec.Status {
	case statusDone:
		if err := json.Unmarshal(rec.Result, &out); err != nil {
			return out, true, errs.E(errs.Internal, "mobiuspay: recorded result: %v", err)
		}
		return out, true, nil
	case statusDeclined:
		e := *rec.Err
		return out, true, &e
	}
	return out, false, nil
}

func asErr(err error) *errs.Error {
	if e, ok := err.(*errs.Error); ok {
		return e
	}
	return &errs.Error{Code: errs.CodeOf(err), Message: err.Error()}
}

// saveLocked writes the state file; on failure memory is reset to the file,
// so it never runs ahead of disk.
func (m *MobiusPay) saveLocked() error {
	if err := saveState(m.cfg.StateFile, m.st); err != nil {
		if st, lerr := loadState(m.cfg.StateFile); lerr == nil {
			m.st = st
		}
		return errs.Retry(errs.Unavailable, "mobiuspay: writing state: %v", err)
	}
	return nil
}

func (m *MobiusPay) nmi() *nmiClient {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.client
}

func (m *MobiusPay) currencies() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cfg.Currencies) == 0 {
		return []string{"USD"}
	}
	return m.cfg.Currencies
}

func newRef(prefix string) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return prefix + hex.EncodeToString(b)
}

// fp fingerprints a request for its idempotency record.
func fp(op string, parts ...any) string {
	b, err := json.Marshal(parts)
	if err != nil {
		panic(err) // only plain data is passed in
	}
	return op + string(b)
}
