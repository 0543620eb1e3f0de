package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

const (
	pluginName    = "ccbill"
	pluginVersion = "0.1.0"
	routePrefix   = "/pay/" + pluginName
	checkoutTTL   = time.Hour
)

// defaultWidgetURL is the Advanced Widget release CCBill's RESTful API guide
// documents (CCBill/restful-api-guide README: "Pay special attention to the
// Widget version (v1.13.1)"); CCBill wants it loaded from js.ccbill.com.
const defaultWidgetURL = "https://js.ccbill.com/v1.13.1/ccbill-advanced-widget.js"

// CCBill's webhook sources as its documentation lists them.
var defaultAllowedIPs = []string{"64.38.212.0/24", "64.38.215.0/24", "64.38.240.0/24", "64.38.241.0/24"}

var defaultCurrencies = []string{"USD", "EUR", "GBP", "CAD", "AUD", "JPY"}

type settings struct {
	ClientAccnum      int      `json:"client_accnum"`
	ClientSubacc      *int     `json:"client_subacc"`
	AppID             string   `json:"app_id"`
	Secret            string   `json:"secret"`
	FrontendAppID     string   `json:"frontend_app_id"`
	FrontendSecret    string   `json:"frontend_secret"`
	DatalinkUsername  string   `json:"datalink_username"`
	DatalinkPassword  string   `json:"datalink_password"`
	APIBaseURL        string   `json:"api_base_url"`
	DatalinkURL       string   `json:"datalink_url"`
	WidgetURL         string   `json:"widget_url"`
	InitialPeriodDays int      `json:"initial_period_days"`
	Currencies        []string `json:"currencies"`
	AllowedIPs        []string `json:"allowed_ips"`
	StateFile         string   `json:"state_file"`
	RequestTimeoutSec int      `json:"request_timeout_seconds"`

	allowed processorkit.AllowList
}

func (s *settings) subacc() int {
	if s.ClientSubacc == nil {
		return 0
	}
	return *s.ClientSubacc
}

// state is what the plugin keeps across restarts in the state file.
type state struct {
	Ops       processorkit.Ops       `json:"ops"`       // by idempotency key
	Charges   map[string]*chargeRec  `json:"charges"`   // by CCBill subscriptionId
	Checkouts map[string]*checkout   `json:"checkouts"` // by checkout reference
	Refunds   map[string][]refundRec `json:"refunds"`   // Refund webhooks by subscriptionId, to settle unknown refund outcomes
}

type chargeRec struct {
	Token    string      `json:"token"`
	Amount   money.Money `json:"amount"`
	Refunded int64       `json:"refunded"`
	At       time.Time   `json:"at"`
}

type refundRec struct {
	EventID string      `json:"event_id"`
	Amount  money.Money `json:"amount"`
	At      time.Time   `json:"at"`
	Claimed string      `json:"claimed,omitempty"` // the idempotency key it settled
}

func newState() *state {
	return &state{Ops: processorkit.Ops{}, Charges: map[string]*chargeRec{}, Checkouts: map[string]*checkout{}, Refunds: map[string][]refundRec{}}
}

// warner is the part of the plugin's hclog logger it uses: what it
// acknowledges to CCBill without booking is logged for an operator.
type warner interface {
	Warn(msg string, args ...any)
}

// CCBill implements processor.Processor against CCBill's REST API and its
// DataLink subscription management (refunds, cancellations).
type CCBill struct {
	now   func() time.Time
	log   warner
	locks processorkit.KeyedLocks

	mu      sync.Mutex // guards everything below; never held across a network call
	cfg     *settings
	st      *state
	client  *http.Client
	backend oauthToken // the widget's front-end token is never cached: each card page gets a fresh one
}

var _ processor.Processor = (*CCBill)(nil)

func newCCBill(now func() time.Time, log warner) *CCBill { return &CCBill{now: now, log: log} }

func (c *CCBill) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindProcessor, Name: pluginName, Version: pluginVersion}, nil
}

func (c *CCBill) Configure(_ context.Context, settingsJSON []byte) error {
	cfg := settings{
		APIBaseURL:  "https://api.ccbill.com",
		DatalinkURL: "https://datalink.ccbill.com/utils/subscriptionManagement.cgi",
		WidgetURL:   defaultWidgetURL,
		// Copies: decoding JSON into a slice reuses its backing array, which must not be the package default's.
		Currencies: append([]string(nil), defaultCurrencies...), AllowedIPs: append([]string(nil), defaultAllowedIPs...),
		StateFile:         "./data/ccbill-processor.json",
		RequestTimeoutSec: 30,
	}
	if err := pluginkit.DecodeSettings(settingsJSON, &cfg); err != nil {
		return err
	}
	required := []struct{ key, val string }{
		{"app_id", cfg.AppID}, {"secret", cfg.Secret}, {"frontend_app_id", cfg.FrontendAppID},
		{"frontend_secret", cfg.FrontendSecret}, {"datalink_username", cfg.DatalinkUsername},
		{"datalink_password", cfg.DatalinkPassword}, {"state_file", cfg.StateFile},
	}
	for _, r := range required {
		if r.val == "" {
			return errs.E(errs.Invalid, "settings.%s is required", r.key)
		}
	}
	switch {
	case cfg.ClientAccnum < 900000 || cfg.ClientAccnum > 999999:
		return errs.E(errs.Invalid, "settings.client_accnum must be CCBill's six-digit account number 900000-999999, got %d", cfg.ClientAccnum)
	case cfg.ClientSubacc == nil:
		return errs.E(errs.Invalid, "settings.client_subacc is required (0-9999)")
	case *cfg.ClientSubacc < 0 || *cfg.ClientSubacc > 9999:
		return errs.E(errs.Invalid, "settings.client_subacc must be 0-9999, got %d", *cfg.ClientSubacc)
	case cfg.InitialPeriodDays < 0 || cfg.InitialPeriodDays > 365:
		return errs.E(errs.Invalid, "settings.initial_period_days must be 0-365, got %d", cfg.InitialPeriodDays)
	case cfg.RequestTimeoutSec < 1 || cfg.RequestTimeoutSec > 300:
		return errs.E(errs.Invalid, "settings.request_timeout_seconds must be 1-300, got %d", cfg.RequestTimeoutSec)
	case len(cfg.Currencies) == 0:
		return errs.E(errs.Invalid, "settings.currencies must list at least one currency")
	}
	for _, kv := range []struct{ key, val string }{{"api_base_url", cfg.APIBaseURL},
		{"datalink_url", cfg.DatalinkURL}, {"widget_url", cfg.WidgetURL}} {
		if err := processorkit.CheckEndpoint(kv.key, kv.val); err != nil {
			return err
		}
	}
	// A fresh slice: the decoded one may be the package default, which must not change.
	norm := make([]string, len(cfg.Currencies))
	for i, code := range cfg.Currencies {
		n, err := money.Normalize(code)
		if err != nil {
			return errs.E(errs.Invalid, "settings.currencies: %q is not an ISO 4217 code", code)
		}
		norm[i] = n
	}
	cfg.Currencies = norm
	allowed, err := processorkit.ParseAllowList("allowed_ips", cfg.AllowedIPs, true)
	if err != nil {
		return err
	}
	cfg.allowed = allowed
	st, err := processorkit.LoadState(cfg.StateFile, newState)
	if err != nil {
		return errs.E(errs.Invalid, "settings.state_file: %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg, c.st = &cfg, st
	c.client = &http.Client{Timeout: time.Duration(cfg.RequestTimeoutSec) * time.Second}
	c.backend = oauthToken{}
	return nil
}

// configured returns the settings, or a retryable error before Configure.
func (c *CCBill) configured() (*settings, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg == nil {
		return nil, errs.Retry(errs.Unavailable, "ccbill processor is not configured yet")
	}
	return c.cfg, nil
}

func (c *CCBill) Capabilities(context.Context) (processor.Capabilities, error) {
	cur := defaultCurrencies
	if cfg, err := c.configured(); err == nil {
		cur = cfg.Currencies
	}
	return processor.Capabilities{
		// No auth-only, capture or void in CCBill's REST API: prepaid blocks.
		ChargeStoredCredential: true,
		Refund:                 true, PartialRefund: true, // DataLink refundTransaction takes an amount
		HostedCheckoutRequired: true,
		NativeRecurring:        true, // recurringPrice/rebills; cancelled through DataLink
		WebhookAuth:            processor.WebhookIPAllowlist,
		Currencies:             append([]string(nil), cur...),
	}, nil
}

// saveLocked writes the state; on failure memory is rolled back to the file,
// so it never runs ahead of disk. Caller holds c.mu.
func (c *CCBill) saveLocked() error {
	var err error
	c.st, err = processorkit.SaveState(pluginName, c.cfg.StateFile, c.st, newState)
	return err
}

func (c *CCBill) Authorize(context.Context, processor.AuthorizeRequest) (processor.Authorization, error) {
	return processor.Authorization{}, errs.E(errs.Unsupported, "ccbill: the REST API has no authorise-only; use prepaid_blocks funding (Charge)")
}

func (c *CCBill) Capture(context.Context, processor.CaptureRequest) (processor.CaptureResult, error) {
	return processor.CaptureResult{}, errs.E(errs.Unsupported, "ccbill: the REST API has no capture")
}

func (c *CCBill) Void(context.Context, processor.VoidRequest) (processor.VoidResult, error) {
	return processor.VoidResult{}, errs.E(errs.Unsupported, "ccbill: there are no authorisations to void; refund a charge instead")
}
