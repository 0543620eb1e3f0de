package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
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

	mu       sync.Mutex
	cfg      settings
	maxAge   time.Duration
	cidrs    []*net.IPNet
	client   *nbClient
	st       *state
	inflight map[string]bool
}

var _ processor.Processor = (*NETbilling)(nil)

func newNETbilling(now func() time.Time) *NETbilling {
	return &NETbilling{now: now, inflight: map[string]bool{}}
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
		if err := checkEndpoint(key, raw); err != nil {
			return err
		}
	}
	maxAge, err := time.ParseDuration(cfg.PostbackMaxAge)
	if err != nil || maxAge < time.Minute {
		return errs.E(errs.Invalid, "settings.postback_max_age %q must be a duration of at least 1m", cfg.PostbackMaxAge)
	}
	timeout, err := time.ParseDuration(cfg.RequestTimeout)
	if err != nil || timeout < time.Second {
		return errs.E(errs.Invalid, "settings.request_timeout %q must be a duration of at least 1s", cfg.RequestTimeout)
	}
	var cidrs []*net.IPNet
	for i, c := range cfg.PostbackAllowedCIDRs {
		_, nw, err := net.ParseCIDR(c)
		if err != nil {
			return errs.E(errs.Invalid, "settings.postback_allowed_cidrs[%d]: %q is not a CIDR range", i, c)
		}
		cidrs = append(cidrs, nw)
	}
	st, err := loadState(cfg.StateFile)
	if err != nil {
		return errs.E(errs.Invalid, "settings.state_file: %v", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cfg, n.maxAge, n.cidrs, n.st = cfg, maxAge, cidrs, st
	n.client = &nbClient{http: &http.Client{Timeout: timeout}, directURL: cfg.DirectURL, getIDURL: cfg.GetIDURL, pollURL: cfg.PollURL,
		accountID: cfg.AccountID, siteTag: cfg.SiteTag}
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

// run executes c at most once per idempotency key. A transaction id is
// fetched from getid and written in a pending record before the request is
// sent with it; a retry of a pending key polls that id first, and sends the
// request again (with the same id) only if NETbilling never saw it.
func run[T any](ctx context.Context, n *NETbilling, c call[T]) (T, error) {
	var zero T
	n.mu.Lock()
	if n.st == nil {
		n.mu.Unlock()
		return zero, errs.Retry(errs.Unavailable, "netbilling processor is not configured yet")
	}
	rec := n.st.Idempotency[c.key]
	if rec != nil {
		if rec.Fingerprint != c.fingerprint {
			n.mu.Unlock()
			return zero, errs.E(errs.Conflict, "idempotency key %q was first used for another request", c.key)
		}
		if out, done, err := recorded[T](rec); done {
			n.mu.Unlock()
			return out, err
		}
	}
	if n.inflight[c.key] {
		n.mu.Unlock()
		return zero, errs.Retry(errs.Unavailable, "a request with idempotency key %q is still in flight", c.key)
	}
	pending := rec != nil
	if !pending {
		if err := c.check(n.st); err != nil {
			n.mu.Unlock()
			return zero, err
		}
	}
	n.inflight[c.key] = true
	client := n.client
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.inflight, c.key)
		n.mu.Unlock()
	}()

	form, err := c.form()
	if err != nil {
		return zero, err
	}
	var transID string
	if pending {
		transID = rec.TransID
		r, found, err := client.poll(ctx, transID)
		switch {
		case found && (err == nil || errs.IsDecline(err)):
			return finish(n, c, r, err)
		case err != nil:
			return zero, err // still unknown: stays pending
		}
	} else {
		if transID, err = client.getID(ctx); err != nil {
			return zero, err // nothing was sent
		}
		n.mu.Lock()
		n.st.Idempotency[c.key] = &idemRecord{Fingerprint: c.fingerprint, Status: statusPending, TransID: transID, At: n.now().UTC()}
		if err := n.saveLocked(); err != nil {
			delete(n.st.Idempotency, c.key)
			n.mu.Unlock()
			return zero, err
		}
		n.mu.Unlock()
	}
	form.Set("trans_id", transID)
	r, err := client.direct(ctx, form)
	if r.StatusCode == "D" { // the id was processed after all: its outcome is what counts
		var found bool
		r, found, err = client.poll(ctx, transID)
		if !found && err == nil {
			err = errs.Retry(errs.Unavailable, "netbilling: trans_id %s reported as duplicate but not found", transID)
		}
	}
	switch {
	case err == nil || errs.IsDecline(err):
		return finish(n, c, r, err)
	case errs.IsRetryable(err):
		return zero, err
	}
	n.mu.Lock()
	delete(n.st.Idempotency, c.key)
	serr := n.saveLocked()
	n.mu.Unlock()
	if serr != nil {
		return zero, serr
	}
	return zero, err
}

func finish[T any](n *NETbilling, c call[T], r directResponse, declined error) (T, error) {
	var zero T
	var out T
	if declined == nil {
		var err error
		if out, err = c.result(r); err != nil {
			return zero, err
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	rec := n.st.Idempotency[c.key]
	if declined != nil {
		rec.Status, rec.Err = statusDeclined, asErr(declined)
	} else {
		b, err := json.Marshal(out)
		if err != nil {
			return zero, errs.E(errs.Internal, "netbilling: %v", err)
		}
		rec.Status, rec.Result = statusDone, b
		c.apply(n.st, out)
	}
	if err := n.saveLocked(); err != nil {
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
			return out, true, errs.E(errs.Internal, "netbilling: recorded result: %v", err)
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

func (n *NETbilling) saveLocked() error {
	if err := saveState(n.cfg.StateFile, n.st); err != nil {
		if st, lerr := loadState(n.cfg.StateFile); lerr == nil {
			n.st = st
		}
		return errs.Retry(errs.Unavailable, "netbilling: writing state: %v", err)
	}
	return nil
}

// wireAmount renders m as Direct Mode's amount: dollars with two decimals.
func wireAmount(m money.Money) (string, error) {
	if m.Currency != "USD" {
		return "", errs.E(errs.UnknownCurrency, "netbilling: only USD is accepted, got %s", m.Currency)
	}
	return money.FormatDecimal(m)
}

func newRef(prefix string) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return prefix + hex.EncodeToString(b)
}

func fp(op string, parts ...any) string {
	b, err := json.Marshal(parts)
	if err != nil {
		panic(err)
	}
	return op + string(b)
}
