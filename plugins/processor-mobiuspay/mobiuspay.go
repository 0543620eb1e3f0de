package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
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
	allowed  processorkit.AllowList // optional: NMI signs its webhooks
	client   *nmiClient
	st       *state // nil until Configure
	inflight map[string]bool
	journal  processorkit.Journal // idempotency keys with a request on the wire
	log      logger
}

// logger is the part of the plugin's hclog logger it uses: what it
// acknowledged without turning into events, for an operator to see.
type logger interface {
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

var _ processor.Processor = (*MobiusPay)(nil)

func newMobiusPay(now func() time.Time) *MobiusPay {
	m := &MobiusPay{now: now, inflight: map[string]bool{}, log: pluginkit.Logger("processor-mobiuspay")}
	m.journal = processorkit.Journal{Name: pluginName, Mu: &m.mu, Save: m.saveLocked, Now: now,
		Ops: func() processorkit.Ops {
			if m.st == nil {
				return nil
			}
			return m.st.Idempotency
		}}
	return m
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
		if err := processorkit.CheckEndpoint(key, raw); err != nil {
			return err
		}
	}
	for i, c := range cfg.Currencies {
		if _, err := money.Lookup(c); err != nil {
			return errs.E(errs.Invalid, "settings.currencies[%d]: %q is not an ISO 4217 code", i, c)
		}
	}
	maxAge, err := processorkit.ParseDuration("webhook_max_age", cfg.WebhookMaxAge, time.Minute)
	if err != nil {
		return err
	}
	timeout, err := processorkit.ParseDuration("request_timeout", cfg.RequestTimeout, time.Second)
	if err != nil {
		return err
	}
	allowed, err := processorkit.ParseAllowList("webhook_allowed_cidrs", cfg.WebhookAllowedCIDRs, false)
	if err != nil {
		return err
	}
	st, err := processorkit.LoadState(cfg.StateFile, newState)
	if err != nil {
		return errs.E(errs.Invalid, "settings.state_file: %v", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cfg, m.maxAge, m.allowed, m.st = cfg, maxAge, allowed, st
	m.client = &nmiClient{http: processorkit.NewHTTPClient(timeout), apiURL: cfg.APIURL, queryURL: cfg.QueryURL, securityKey: cfg.SecurityKey}
	return nil
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

// run executes c at most once per idempotency key (see
// processorkit.AtMostOnce). The request carries an orderid derived from the
// key, so a retry of an unknown outcome asks query.php whether NMI already
// acted before anything is sent again.
func run[T any](ctx context.Context, m *MobiusPay, c call[T]) (T, error) {
	return processorkit.AtMostOnce(ctx, &m.journal, processorkit.Attempt[T]{
		Key: c.key, Fingerprint: c.fingerprint,
		Check:  func() error { return c.check(m.st) },
		NewRef: func(context.Context) (string, error) { return orderIDFor(c.key), nil },
		Lookup: c.lookup, Send: c.send,
		Apply: func(out T) { c.apply(m.st, out) },
	})
}

// saveLocked writes the state file; on failure memory is reset to the file,
// so it never runs ahead of disk.
func (m *MobiusPay) saveLocked() error {
	var err error
	m.st, err = processorkit.SaveState(pluginName, m.cfg.StateFile, m.st, newState)
	return err
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
