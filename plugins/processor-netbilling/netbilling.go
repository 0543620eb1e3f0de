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
	defaultFormURL   = "https://secure.netbilling.com/gw/native/interactive2.2"
)

// currencies: Direct Mode has no currency field; the account settles in USD.
var currencies = []string{"USD"}

type settings struct {
	AccountID            string   `json:"account_id"`
	SiteTag              string   `json:"site_tag"`
	IntegrityKey         string   `json:"integrity_key"`
	DirectURL            string   `json:"direct_url"`
	FormURL              string   `json:"form_url"`
	CardCheckAmount      int64    `json:"card_check_amount"`
	MaxHoldDays          int      `json:"max_hold_days"`
	StateFile            string   `json:"state_file"`
	PostbackAllowedCIDRs []string `json:"postback_allowed_cidrs"`
	RequestTimeout       string   `json:"request_timeout"`
}

// NETbilling implements processor.Processor over Direct Mode 3.1 and the
// hosted payment form. One mutex guards the state and its file; network
// calls run without it.
type NETbilling struct {
	now func() time.Time
	log warner

	mu      sync.Mutex
	cfg     settings
	allowed processorkit.AllowList // optional: postbacks carry an MD5 hash
	client  *nbClient
	st      *state
	journal processorkit.Journal
}

var _ processor.Processor = (*NETbilling)(nil)

// warner is the part of the plugin's hclog logger it uses: what it
// acknowledges to NETbilling without an event is logged for an operator.
type warner interface {
	Warn(msg string, args ...any)
}

func newNETbilling(now func() time.Time, log warner) *NETbilling {
	n := &NETbilling{now: now, log: log}
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
	cfg := settings{DirectURL: defaultDirectURL, FormURL: defaultFormURL,
		CardCheckAmount: 100, MaxHoldDays: 7, StateFile: "./data/netbilling-processor.json", RequestTimeout: "60s"}
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
	for key, raw := range map[string]string{"direct_url": cfg.DirectURL, "form_url": cfg.FormURL} {
		if err := processorkit.CheckEndpoint(key, raw); err != nil {
			return err
		}
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
	n.cfg, n.allowed, n.st = cfg, allowed, st
	n.client = &nbClient{http: processorkit.NewHTTPClient(timeout), directURL: cfg.DirectURL, accountID: cfg.AccountID, siteTag: cfg.SiteTag}
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
	form             func() (url.Values, error)        // the request, without account and site tag
	result           func(r directResponse) (T, error) // what an approved answer means
	apply            func(st *state, out T)            // its local effect, under the lock
	unknown          func(st *state)                   // marks what an unknown outcome leaves in doubt, under the lock; may be nil
}

// run executes c at most once per idempotency key (processorkit.AtMostOnce)
// and never sends it twice unless NETbilling proved it processed nothing.
// Direct Mode 3 documents no de-duplication of a resent request and no
// lookup of one by a merchant's reference (the getid/poll pair belongs to
// Direct Mode 2.1), so after a timeout, a dropped connection, an exception
// or an unreadable answer the outcome stays unknown: the first answer is a
// retryable error (a retry is safe: it sends nothing), and every retry of
// the key is a final errs.Conflict naming the attempt, for the operator to
// settle in NETbilling's transaction report. Only a 7xx "processing error"
// (or a request that never left) frees the attempt to be sent again.
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
	// sendable marks whether attempt ref may be sent (again); it is written
	// before the request goes, so a crash mid-request leaves it unsendable.
	sendable := func(ref string, ok bool) error {
		n.mu.Lock()
		defer n.mu.Unlock()
		if ok {
			n.st.Resendable[ref] = true
		} else {
			delete(n.st.Resendable, ref)
		}
		return n.saveLocked()
	}
	return processorkit.AtMostOnce(ctx, &n.journal, processorkit.Attempt[T]{
		Key: c.key, Fingerprint: c.fingerprint,
		Check:  func() error { return c.check(n.st) },
		NewRef: func(context.Context) (string, error) { return processorkit.NewRef("nb_try_"), nil },
		Lookup: func(context.Context, string) (T, bool, error) {
			var zero T
			n.mu.Lock()
			defer n.mu.Unlock()
			rec := n.st.Idempotency[c.key]
			if rec != nil && n.st.Resendable[rec.Ref] {
				return zero, false, nil
			}
			started := ""
			if rec != nil {
				started = rec.Started.Format(time.RFC3339)
			}
			return zero, false, errs.E(errs.Conflict, "netbilling: the outcome of the request under idempotency key %q (sent %s) is unknown and "+
				"NETbilling documents no way to look it up or to send it again safely; it is not resent: find it in NETbilling's "+
				"transaction report and settle it by hand", c.key, started)
		},
		Send: func(ctx context.Context, ref string) (T, error) {
			var zero T
			if err := sendable(ref, false); err != nil {
				return zero, err
			}
			f := url.Values{}
			for k, v := range form {
				f[k] = append([]string(nil), v...)
			}
			r, o, err := client().direct(ctx, f)
			if o == notMoved || o == notSentAtAll {
				if serr := sendable(ref, true); serr != nil {
					return zero, serr
				}
				return zero, err
			}
			if o == maybeMoved && c.unknown != nil {
				n.mu.Lock()
				c.unknown(n.st)
				serr := n.saveLocked()
				n.mu.Unlock()
				if serr != nil {
					return zero, serr
				}
			}
			if err != nil {
				return zero, err // a decline, or retryable and unknown: stays pending and unsendable
			}
			out, err := c.result(r)
			if err != nil && !errs.IsRetryable(err) {
				// An approval this plugin cannot read: the money may have moved.
				err = errs.Retry(errs.Unavailable, "netbilling: reading the approved transaction %s: %v", r.TransID, err)
			}
			if err == nil && r.StatusCode != "1" && r.StatusCode != "T" && n.log != nil {
				n.log.Warn("netbilling: status_code taken as a success, as documented for every code but 0 and F", "status_code", r.StatusCode,
					"trans_id", r.TransID, "auth_msg", r.AuthMsg, "idempotency_key", c.key)
			}
			return out, err
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
