package main

import (
	"context"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

const (
	pluginName    = "segpay"
	pluginVersion = "0.1.0"
	routePrefix   = "/pay/" + pluginName
	checkoutTTL   = 2 * time.Hour
)

var eticketRE = regexp.MustCompile(`^[0-9]+:[0-9]+$`)

// Segpay settles in USD, EUR and GBP; Post Pay price points have no Dynamic
// Multi-Currency, so one deployment's price points share one currency.
var segpayCurrencies = []string{"USD", "EUR", "GBP"}

type settings struct {
	EticketID         string   `json:"eticket_id"`
	PostPayEticketID  string   `json:"postpay_eticket_id"`
	OneClickEticketID string   `json:"oneclick_eticket_id"`
	SRSUserID         string   `json:"srs_user_id"`
	SRSAccessKey      string   `json:"srs_access_key"`
	AllowedIPs        []string `json:"allowed_ips"`
	HostedURL         string   `json:"hosted_url"`
	PostPayURL        string   `json:"postpay_url"`
	OneClickURL       string   `json:"oneclick_url"`
	PricingHashURL    string   `json:"pricing_hash_url"`
	SRSURL            string   `json:"srs_url"`
	Currency          string   `json:"currency"`
	MaxHoldDays       int      `json:"max_hold_days"`
	VoidByZeroCapture *bool    `json:"void_by_zero_capture"`
	StateFile         string   `json:"state_file"`
	RequestTimeoutSec int      `json:"request_timeout_seconds"`

	allowed processorkit.AllowList
}

// holds reports whether the plugin offers Post Pay holds. Segpay documents
// no release of an authorisation: void_by_zero_capture (default false) is
// the operator's word that a 0.00 PostPayCapture releases one on their
// account. Without it no releasable hold is promised, and the host funds
// seats with prepaid one-click blocks instead.
func (s *settings) holds() bool { return s.VoidByZeroCapture != nil && *s.VoidByZeroCapture }

type state struct {
	Ops       processorkit.Ops     `json:"ops"`       // by idempotency key
	Holds     map[string]*hold     `json:"holds"`     // Post Pay authorisations by TransactionId
	Payments  map[string]*payment  `json:"payments"`  // captures and one-click sales by transaction id
	Checkouts map[string]*checkout `json:"checkouts"` // by checkout reference
	// OneClick are TransPosts of sales on a stored card, by purchaseid, and
	// the one-click answers awaiting theirs: they settle a one-click charge
	// whose answer was lost.
	OneClick map[string][]saleNote `json:"oneclick_sales"`
}

// saleNote is one TransPost sale of a purchase id (TranID set), or a
// one-click declined without a tranid still expecting its TransPost
// (TranID empty). Claimed names the idempotency key it settled.
type saleNote struct {
	TranID   string      `json:"tran_id,omitempty"`
	Amount   money.Money `json:"amount"`
	Approved bool        `json:"approved"`
	Reason   string      `json:"reason,omitempty"`
	At       time.Time   `json:"at"`
	Claimed  string      `json:"claimed,omitempty"`
}

type hold struct {
	PurchaseID string      `json:"purchase_id"`
	Amount     money.Money `json:"amount"`
	ExpiresAt  time.Time   `json:"expires_at"`
	Status     string      `json:"status"` // open, captured, voided
	CaptureRef string      `json:"capture_ref,omitempty"`
}

type payment struct {
	Amount   money.Money `json:"amount"`
	Refunded bool        `json:"refunded"`
}

func newState() *state {
	return &state{Ops: processorkit.Ops{}, Holds: map[string]*hold{}, Payments: map[string]*payment{},
		Checkouts: map[string]*checkout{}, OneClick: map[string][]saleNote{}}
}

// warner is the part of the plugin's hclog logger it uses: postbacks
// acknowledged without booking, and charges whose outcome stayed unknown,
// are logged for an operator.
type warner interface {
	Warn(msg string, args ...any)
}

// Segpay implements processor.Processor with Post Pay, one-click and SRS.
type Segpay struct {
	now   func() time.Time
	log   warner
	locks processorkit.KeyedLocks

	mu     sync.Mutex // guards cfg and st; never held across a network call
	cfg    *settings
	st     *state
	client *http.Client
}

var _ processor.Processor = (*Segpay)(nil)

func newSegpay(now func() time.Time, log warner) *Segpay { return &Segpay{now: now, log: log} }

func (s *Segpay) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindProcessor, Name: pluginName, Version: pluginVersion}, nil
}

func (s *Segpay) Configure(_ context.Context, settingsJSON []byte) error {
	cfg := settings{
		HostedURL: "https://secure2.segpay.com/billing/poset.cgi", PostPayURL: "https://transactions.segpay.com/PostPay",
		OneClickURL:    "https://service.segpay.com/OneClickSales.asmx/SalesServiceDynamic",
		PricingHashURL: "https://srs.segpay.com/PricingHash/PricingHash.svc/GetDynamicTrans",
		SRSURL:         "https://srs.segpay.com/ADM.asmx", Currency: "USD", MaxHoldDays: 7,
		StateFile: "./data/segpay-processor.json", RequestTimeoutSec: 30,
	}
	if err := pluginkit.DecodeSettings(settingsJSON, &cfg); err != nil {
		return err
	}
	if cfg.OneClickEticketID == "" {
		cfg.OneClickEticketID = cfg.PostPayEticketID
	}
	for _, kv := range []struct{ key, val string }{{"eticket_id", cfg.EticketID}, {"postpay_eticket_id", cfg.PostPayEticketID},
		{"oneclick_eticket_id", cfg.OneClickEticketID}} {
		if !eticketRE.MatchString(kv.val) {
			return errs.E(errs.Invalid, "settings.%s must be Segpay's \"package:pricepoint\" (digits:digits), got %q", kv.key, kv.val)
		}
	}
	for _, kv := range []struct{ key, val string }{{"srs_user_id", cfg.SRSUserID}, {"srs_access_key", cfg.SRSAccessKey}, {"state_file", cfg.StateFile}} {
		if kv.val == "" {
			return errs.E(errs.Invalid, "settings.%s is required", kv.key)
		}
	}
	for _, kv := range []struct{ key, val string }{{"hosted_url", cfg.HostedURL}, {"postpay_url", cfg.PostPayURL},
		{"oneclick_url", cfg.OneClickURL}, {"pricing_hash_url", cfg.PricingHashURL}, {"srs_url", cfg.SRSURL}} {
		if err := processorkit.CheckEndpoint(kv.key, kv.val); err != nil {
			return err
		}
	}
	cur, err := money.Normalize(cfg.Currency)
	if err != nil || !(processor.Capabilities{Currencies: segpayCurrencies}).Accepts(cur) {
		return errs.E(errs.Invalid, "settings.currency must be one of %v (Segpay's settlement currencies), got %q", segpayCurrencies, cfg.Currency)
	}
	cfg.Currency = cur
	switch {
	case cfg.MaxHoldDays < 1 || cfg.MaxHoldDays > 30:
		return errs.E(errs.Invalid, "settings.max_hold_days must be 1-30, got %d", cfg.MaxHoldDays)
	case cfg.RequestTimeoutSec < 1 || cfg.RequestTimeoutSec > 300:
		return errs.E(errs.Invalid, "settings.request_timeout_seconds must be 1-300, got %d", cfg.RequestTimeoutSec)
	}
	if cfg.allowed, err = processorkit.ParseAllowList("allowed_ips", cfg.AllowedIPs, true); err != nil {
		return err
	}
	st, err := processorkit.LoadState(cfg.StateFile, newState)
	if err != nil {
		return errs.E(errs.Invalid, "settings.state_file: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg, s.st = &cfg, st
	s.client = &http.Client{Timeout: time.Duration(cfg.RequestTimeoutSec) * time.Second}
	return nil
}

func (s *Segpay) configured() (*settings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg == nil {
		return nil, errs.Retry(errs.Unavailable, "segpay processor is not configured yet")
	}
	return s.cfg, nil
}

func (s *Segpay) Capabilities(context.Context) (processor.Capabilities, error) {
	cur, days, holds := "USD", 7, false
	if cfg, err := s.configured(); err == nil {
		cur, days, holds = cfg.Currency, cfg.MaxHoldDays, cfg.holds()
	}
	if !holds {
		days = 0
	}
	return processor.Capabilities{
		// A hold is offered only with a release the operator confirmed
		// (settings.holds); card_hold needs all three.
		AuthCapture: holds, PartialCapture: holds, Void: holds,
		Refund:                 true, // SRS RefundTransaction refunds a whole transaction
		ChargeStoredCredential: true, // one-click with the OCToken
		HostedCheckoutRequired: true,
		WebhookAuth:            processor.WebhookIPAllowlist,
		Currencies:             []string{cur},
		MaxHoldDays:            days,
	}, nil
}

// saveLocked writes the state; on failure memory is rolled back to the file.
func (s *Segpay) saveLocked() error {
	var err error
	s.st, err = processorkit.SaveState(pluginName, s.cfg.StateFile, s.st, newState)
	return err
}

// beginOp looks key up: a finished record is replayed (done), another
// request under the key is a Conflict, a pending one is returned to resolve.
func beginOp[T any](s *Segpay, key, fp string) (rec *processorkit.OpRecord, out T, done bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == nil {
		return nil, out, true, errs.Retry(errs.Unavailable, "segpay processor is not configured yet")
	}
	return processorkit.Lookup[T](s.st.Ops, key, fp)
}

func (s *Segpay) putOp(key string, rec *processorkit.OpRecord, also func(st *state)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Ops[key] = rec
	if also != nil {
		also(s.st)
	}
	return s.saveLocked()
}

func (s *Segpay) dropOp(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.st.Ops[key]; rec != nil && rec.Status == processorkit.OpPending {
		delete(s.st.Ops, key)
		_ = s.saveLocked()
	}
}

func (s *Segpay) pend(key, fp string, started time.Time, data any) error {
	rec, err := processorkit.PendingRecord(fp, data, started)
	if err != nil {
		return err
	}
	return s.putOp(key, rec, nil)
}

func (s *Segpay) finish(key, fp string, started time.Time, result any, also func(st *state)) error {
	rec, err := processorkit.DoneRecord(fp, result, started, s.now().UTC())
	if err != nil {
		return err
	}
	return s.putOp(key, rec, also)
}

// decline records a final decline under key and returns it.
func (s *Segpay) decline(key, fp string, started time.Time, derr error) error {
	if err := s.putOp(key, processorkit.DeclinedRecord(fp, derr, started, s.now().UTC()), nil); err != nil {
		return err
	}
	return derr
}

func checkMoney(cfg *settings, key string, m money.Money) error {
	if err := processor.ValidateIdempotencyKey(key); err != nil {
		return err
	}
	return processor.ValidateAmount(m, []string{cfg.Currency})
}
