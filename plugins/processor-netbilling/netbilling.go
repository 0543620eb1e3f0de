package main

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

const (
	pluginName    = "netbilling"
	pluginVersion = "0.1.0"
	routePrefix   = "/pay/" + pluginName
	checkoutTTL   = time.Hour
	minSecret     = 8

	defaultDirectURL = "https://secure.netbilling.com:1402/gw/sas/direct3.1"
	defaultGetIDURL  = "https://secure.netbilling.com/gw/native/getid1.0"
	defaultPollURL   = "https://secure.netbilling.com/gw/native/poll1.0"
	defaultFormURL   = "https://secure.netbilling.com/gw/native/interactive2.2"
)

// currencies: Direct Mode has no currency field; the account settles in USD.
var currencies = []string{"USD"}

type settings struct {
	AccountID            string   `json:"account_id"`
	SiteTag              string   `json:"site_tag"`
	IntegrityKey         string   `json:"integrity_key"`
	DirectURL            string   `json:"direct_url"`
	GetIDURL             string   `json:"getid_url"`
	PollURL              string   `json:"poll_url"`
	FormURL              string   `json:"form_url"`
	CardCheckAmount      int64    `json:"card_check_amount"`
	MaxHoldDays          int      `json:"max_hold_days"`
	StateFile            string   `json:"state_file"`
	PostbackMaxAge       string   `json:"postback_max_age"`
	PostbackAllowedCIDRs []string `json:"postback_allowed_cidrs"`
	RequestTimeout       string   `json:"request_timeout"`
}

// NETbilling implements processor.Processor over Direct Mode 3.1 and the
// hosted payment form. One mutex guards the state and its file; network
// calls run without it.
type NETbilling struct {
	now func() time.Time

	mu      sync.Mutex
	cfg     settings
	maxAge  time.Duration
	allowed processorkit.AllowList // optional: postbacks carry an MD5 hash
	client  *nbClient
	st      *state
	journal processorkit.Journal
}

var _ processor.Processor = (*NETbilling)(nil)

func newNETbilling(now func() time.Time) *NETbilling {
	n := &NETbilling{now: now}
	n.journal = processorkit.Journal{Name: pluginName, Mu: &n.mu, Save: n.saveLocked, Now: now,
		Ops: func() processorkit.Ops {
			if n.st == nil {
				return nil
			}
			return n.st.Idempotency
		}}
	return n
}

func (n *NETbilling) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindProcessor, Name: pluginName, Version: pluginVersion}, nil
}

func (n *NETbilling) Configure(_ context.Context, settingsJSON []byte) error {
	cfg := settings{DirectURL: defaultDirectURL, GetIDURL: defaultGetIDURL, PollURL: defaultPollURL, FormURL: defaultFormURL,
		CardCheckAmount: 100, MaxHoldDays: 7, StateFile: "./data/netbilling-processor.json", PostbackMaxAge: "24h", RequestTimeout: "60s"}
	if err := pluginkit.DecodeSettings(settingsJSON, &cfg); err != nil {
		return err
	}
	switch {
	case cfg.AccountID == "" || strings.Trim(cfg.AccountID, "0123456789") != "":
		return errs.E(errs.Invalid, "settings.account_id must be the numeric NETbilling account id, got %q", cfg.AccountID)
	case cfg.SiteTag == "" || strings.ContainsAny(cfg.SiteTag, ": &="):
		return errs.E(errs.Invalid, "settings.site_tag is required and may not contain ':', '&', '=' or spaces")
	case len(cfg.IntegrityKey) < minSecret:
		return errs.E(errs.Invalid, "settings.integrity_key must be at least %d bytes (Fraud Defense settings page)", minSecret)
	case cfg.StateFile == "":
		return errs.E(errs.Invalid, "settings.state_file must not be empty")
	case cfg.MaxHoldDays < 1 || cfg.MaxHoldDays > 30:
		return errs.E(errs.Invalid, "settings.max_hold_days must be between 1 and 30, got %d", cfg.MaxHoldDays)
	case cfg.CardCheckAmount < 0 || cfg.CardCheckAmount > 10000:
		return errs.E(errs.Invalid, "settings.card_check_amount must be between 0 and 10000 cents, got %d", cfg.CardCheckAmount)
	}
	for key, raw := range map[string]string{"direct_url": cfg.DirectURL, "getid_url": cfg.GetIDURL, "poll_url": cfg.PollURL, "form_url": cfg.FormURL} {
		if err := processorkit.CheckEndpoint(key, raw); err != nil {
			return err
		}
	}
	maxAge, err := processorkit.ParseDuration("postback_max_age", cfg.PostbackMaxAge, time.Minute)
	if err != nil {
		return err
	}
	timeout, err := processorkit.ParseDuration("request_timeout", cfg.RequestTimeout, time.Second)
	if err != nil {
		return err
	}
	allowed, err := processorkit.ParseAllowList("postback_allowed_cidrs", cfg.PostbackAllowedCIDRs, false)
	if err != nil {
		return err
	}
	st, err := processorkit.LoadState(cfg.StateFile, newState)
	if err != nil {
		return errs.E(errs.Invalid, "settings.state_file: %v", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cfg, n.maxAge, n.allowed, n.st = cfg, maxAge, allowed, st
	n.client = &nbClient{http: processorkit.NewHTTPClient(timeout), directURL: cfg.DirectURL, getIDURL: cfg.GetIDURL, pollURL: cfg.PollURL,
		accountID: cfg.AccountID, siteTag: cfg.SiteTag}
	return nil
}

func (n *NETbilling) Capabilities(context.Context) (processor.Capabilities, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	days := n.cfg.MaxHoldDays
	if days == 0 {
		days = 7
	}
	return processor.Capabilities{
		AuthCapture: true, PartialCapture: true, Void: true, Refund: true, PartialRefund: true,
		ChargeStoredCredential: true, HostedCheckoutRequired: true, NativeRecurring: false,
		WebhookAuth: processor.WebhookHash, Currencies: append([]string(nil), currencies...), MaxHoldDays: days,
	}, nil
}

// call is one money-moving Direct Mode request under an idempotency key.
type call[T any] struct {
	key, fingerprint string
	check            func(st *state) error             // local preconditions, under the lock
	form             func() (url.Values, error)        // the request, without account, site tag and trans_id
	result           func(r directResponse) (T, error) // what an approved answer means
	apply            func(st *state, out T)            // its local effect, under the lock
}

// run executes c at most once per idempotency key (see
// processorkit.AtMostOnce). A transaction id is fetched from getid and
// recorded before the request is sent with it; a retry of an unknown outcome
// polls that id first, and sends the request again (with the same id) only
// if NETbilling never saw it.
func run[T any](ctx context.Context, n *NETbilling, c call[T]) (T, error) {
	form, err := c.form()
	if err != nil {
		var zero T
		return zero, err
	}
	client := func() *nbClient {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.client
	}
	// result reads an approved answer; when it cannot, the money may have
	// moved, so the key stays pending (retryable) rather than forgotten.
	result := func(r directResponse, err error) (T, error) {
		var zero T
		if err != nil {
			return zero, err
		}
		out, err := c.result(r)
		if err != nil && !errs.IsRetryable(err) {
			err = errs.Retry(errs.Unavailable, "netbilling: reading the approved transaction %s: %v", r.TransID, err)
		}
		return out, err
	}
	return processorkit.AtMostOnce(ctx, &n.journal, processorkit.Attempt[T]{
		Key: c.key, Fingerprint: c.fingerprint,
		Check:  func() error { return c.check(n.st) },
		NewRef: func(ctx context.Context) (string, error) { return client().getID(ctx) },
		Lookup: func(ctx context.Context, transID string) (T, bool, error) {
			r, found, err := client().poll(ctx, transID)
			if !found {
				var zero T
				return zero, false, err
			}
			out, err := result(r, err)
			return out, true, err
		},
		Send: func(ctx context.Context, transID string) (T, error) {
			f := url.Values{}
			for k, v := range form {
				f[k] = append([]string(nil), v...)
			}
			f.Set("trans_id", transID)
			r, err := client().direct(ctx, f)
			if r.StatusCode == "D" { // the id was processed after all: its outcome is what counts
				var found bool
				r, found, err = client().poll(ctx, transID)
				if !found && err == nil {
					err = errs.Retry(errs.Unavailable, "netbilling: trans_id %s reported as duplicate but not found", transID)
				}
			}
			return result(r, err)
		},
		Apply: func(out T) { c.apply(n.st, out) },
	})
}

func (n *NETbilling) saveLocked() error {
	var err error
	n.st, err = processorkit.SaveState(pluginName, n.cfg.StateFile, n.st, newState)
	return err
}

// wireAmount renders m as Direct Mode's amount: dollars with two decimals.
func wireAmount(m money.Money) (string, error) {
	if m.Currency != "USD" {
		return "", errs.E(errs.UnknownCurrency, "netbilling: only USD is accepted, got %s", m.Currency)
	}
	return money.FormatDecimal(m)
}
