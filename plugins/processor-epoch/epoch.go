package main

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
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
	pluginName    = "epoch"
	pluginVersion = "0.1.0"
	checkoutTTL   = 2 * time.Hour
)

// Epoch's postback and DataPlus sources: 208.236.105.0/24 and
// 65.17.248.0/24 as PROCESSORS.md records them, 68.71.103.0/24 from the
// class Cs Magic Members' mgm_epoch falls back to when Epoch's own list
// (https://epoch.com/ip_list.php, to compare before going live) cannot be
// read. Its single AWS addresses are left out: addresses that can change
// hands must not authenticate DataPlus.
var defaultAllowedIPs = []string{"208.236.105.0/24", "65.17.248.0/24", "68.71.103.0/24"}

type pricePoint struct {
	PiCode          string `json:"pi_code"`
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
	RecurringDays   int    `json:"recurring_days"`
	RecurringAmount int64  `json:"recurring_amount"`
}

type settings struct {
	CoCode       string       `json:"co_code"`
	DigestKey    string       `json:"digest_key"`
	PricePoints  []pricePoint `json:"price_points"`
	FpostURL     string       `json:"fpost_url"`
	AllowedIPs   []string     `json:"allowed_ips"`
	DataPlusAuth string       `json:"dataplus_auth"`
	// MaxEventAgeH is no longer used: an authentic redelivery is never
	// refused for its age. It is still accepted so that existing
	// configurations keep loading; Configure warns.
	MaxEventAgeH   *int   `json:"max_event_age_hours"`
	StateFile      string `json:"state_file"`
	allowed        processorkit.AllowList
	byPiCode       map[string]pricePoint
	currencies     []string
	recurringOffer bool
}

type checkout struct {
	Key         string      `json:"key"`
	CustomerRef string      `json:"customer_ref"`
	PiCode      string      `json:"pi_code"`
	Purchase    money.Money `json:"purchase"`
	ExpiresAt   time.Time   `json:"expires_at"`
	Paid        money.Money `json:"paid"` // the price point the approved postback sold
	MemberID    string      `json:"member_id,omitempty"`
	OrderID     string      `json:"order_id,omitempty"`
	TransID     string      `json:"transaction_id,omitempty"`
	Recurring   bool        `json:"recurring,omitempty"`
	Decline     *errs.Error `json:"decline,omitempty"`
}

type state struct {
	Ops       processorkit.Ops     `json:"ops"`
	Checkouts map[string]*checkout `json:"checkouts"`
}

func newState() *state {
	return &state{Ops: processorkit.Ops{}, Checkouts: map[string]*checkout{}}
}

// warner is the part of the plugin's hclog logger it uses: what it
// acknowledges to Epoch without booking is logged for an operator.
type warner interface {
	Warn(msg string, args ...any)
}

// Epoch implements processor.Processor for hosted FlexPost sales.
type Epoch struct {
	now func() time.Time
	log warner
	mu  sync.Mutex
	cfg *settings
	st  *state
}

var _ processor.Processor = (*Epoch)(nil)

func newEpoch(now func() time.Time, log warner) *Epoch { return &Epoch{now: now, log: log} }

func (e *Epoch) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindProcessor, Name: pluginName, Version: pluginVersion}, nil
}

func (e *Epoch) Configure(_ context.Context, settingsJSON []byte) error {
	cfg := settings{FpostURL: "https://wnu.com/secure/fpost.cgi", AllowedIPs: append([]string(nil), defaultAllowedIPs...),
		DataPlusAuth: dataPlusBySourceIP, StateFile: "./data/epoch-processor.json"}
	if err := pluginkit.DecodeSettings(settingsJSON, &cfg); err != nil {
		return err
	}
	switch {
	case cfg.CoCode == "":
		return errs.E(errs.Invalid, "settings.co_code is required (Epoch company code)")
	case len(cfg.DigestKey) < minDigestKeyBytes:
		return errs.E(errs.Invalid, "settings.digest_key is required: the key Epoch signs postbacks with (epoch_digest), at least %d bytes", minDigestKeyBytes)
	case cfg.StateFile == "":
		return errs.E(errs.Invalid, "settings.state_file must not be empty")
	case len(cfg.PricePoints) == 0:
		return errs.E(errs.Invalid, "settings.price_points must list the products set up at Epoch")
	case cfg.DataPlusAuth != dataPlusBySourceIP && cfg.DataPlusAuth != dataPlusByDigest:
		return errs.E(errs.Invalid, "settings.dataplus_auth must be %q or %q", dataPlusBySourceIP, dataPlusByDigest)
	}
	if cfg.MaxEventAgeH != nil {
		e.log.Warn("epoch: settings.max_event_age_hours is no longer used and can be removed: authentic redeliveries are accepted whatever their age")
	}
	if err := processorkit.CheckEndpoint("fpost_url", cfg.FpostURL); err != nil {
		return err
	}
	cfg.byPiCode = map[string]pricePoint{}
	curs := map[string]bool{}
	for i, pp := range cfg.PricePoints {
		cur, err := money.Normalize(pp.Currency)
		switch {
		case pp.PiCode == "":
			return errs.E(errs.Invalid, "settings.price_points[%d].pi_code is required", i)
		case cfg.byPiCode[pp.PiCode].PiCode != "":
			return errs.E(errs.Invalid, "settings.price_points[%d].pi_code %q is listed twice", i, pp.PiCode)
		case err != nil:
			return errs.E(errs.Invalid, "settings.price_points[%d].currency %q is not ISO 4217", i, pp.Currency)
		case pp.Amount <= 0:
			return errs.E(errs.Invalid, "settings.price_points[%d].amount must be positive minor units", i)
		case pp.RecurringDays < 0 || (pp.RecurringDays > 0) != (pp.RecurringAmount > 0):
			return errs.E(errs.Invalid, "settings.price_points[%d].recurring_days and recurring_amount go together", i)
		}
		pp.Currency = cur
		cfg.byPiCode[pp.PiCode] = pp
		curs[cur] = true
		cfg.recurringOffer = cfg.recurringOffer || pp.RecurringDays > 0
	}
	for c := range curs {
		cfg.currencies = append(cfg.currencies, c)
	}
	sort.Strings(cfg.currencies)
	var err error
	if cfg.allowed, err = processorkit.ParseAllowList("allowed_ips", cfg.AllowedIPs, true); err != nil {
		return err
	}
	st, err := processorkit.LoadState(cfg.StateFile, newState)
	if err != nil {
		return errs.E(errs.Invalid, "settings.state_file: %v", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cfg, e.st = &cfg, st
	return nil
}

func (e *Epoch) configured() (*settings, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cfg == nil {
		return nil, errs.Retry(errs.Unavailable, "epoch processor is not configured yet")
	}
	return e.cfg, nil
}

func (e *Epoch) Capabilities(context.Context) (processor.Capabilities, error) {
	c := processor.Capabilities{HostedCheckoutRequired: true, WebhookAuth: processor.WebhookHash, Currencies: []string{"USD"}}
	if cfg, err := e.configured(); err == nil {
		c.Currencies = append([]string(nil), cfg.currencies...)
	}
	// Memberships do rebill at Epoch, but without a documented cancel API the
	// plugin cannot honour CancelRecurring, so it does not claim native recurring.
	return c, nil
}

const errNoServerAPI = "epoch: no server-to-server payment API; Epoch sells on its hosted page only (wallet credits)"

func (e *Epoch) Authorize(context.Context, processor.AuthorizeRequest) (processor.Authorization, error) {
	return processor.Authorization{}, errs.E(errs.Unsupported, "%s", errNoServerAPI)
}
func (e *Epoch) Capture(context.Context, processor.CaptureRequest) (processor.CaptureResult, error) {
	return processor.CaptureResult{}, errs.E(errs.Unsupported, "%s", errNoServerAPI)
}
func (e *Epoch) Void(context.Context, processor.VoidRequest) (processor.VoidResult, error) {
	return processor.VoidResult{}, errs.E(errs.Unsupported, "%s", errNoServerAPI)
}
func (e *Epoch) Charge(context.Context, processor.ChargeRequest) (processor.ChargeResult, error) {
	return processor.ChargeResult{}, errs.E(errs.Unsupported, "%s", errNoServerAPI)
}
func (e *Epoch) Refund(context.Context, processor.RefundRequest) (processor.RefundResult, error) {
	return processor.RefundResult{}, errs.E(errs.Unsupported, "epoch: refunds are issued in Epoch's merchant admin; they reach camkit as DataPlus credits")
}
func (e *Epoch) CancelRecurring(context.Context, processor.CancelRecurringRequest) error {
	return errs.E(errs.Unsupported, "epoch: memberships are cancelled by the member at epoch.com or in Epoch's merchant admin; the cancellation reaches camkit by DataPlus")
}

// StartCheckout returns Epoch's FlexPost form for the price point matching
// the purchase, to be auto-posted by the viewer's browser.
func (e *Epoch) StartCheckout(_ context.Context, req processor.StartCheckoutRequest) (processor.Checkout, error) {
	cfg, err := e.configured()
	if err != nil {
		return processor.Checkout{}, err
	}
	if err := processor.ValidateIdempotencyKey(req.IdempotencyKey); err != nil {
		return processor.Checkout{}, err
	}
	if err := processorkit.CheckReturnURL("return URL", req.ReturnURL, true); err != nil {
		return processor.Checkout{}, err
	}
	if req.Purchase == nil {
		return processor.Checkout{}, errs.E(errs.Invalid, "epoch: a checkout sells a configured price point; Purchase is required")
	}
	if err := processor.ValidateAmount(*req.Purchase, cfg.currencies); err != nil {
		return processor.Checkout{}, err
	}
	var pp pricePoint
	for _, p := range cfg.PricePoints {
		same := p.Amount == req.Purchase.Amount && strings.EqualFold(p.Currency, req.Purchase.Currency)
		if req.Recurring == nil {
			same = same && p.RecurringDays == 0
		} else {
			same = same && p.RecurringDays == req.Recurring.PeriodDays && p.RecurringAmount == req.Recurring.Amount.Amount &&
				strings.EqualFold(p.Currency, req.Recurring.Amount.Currency)
		}
		if same {
			pp = cfg.byPiCode[p.PiCode]
			break
		}
	}
	if pp.PiCode == "" {
		return processor.Checkout{}, errs.E(errs.Invalid, "epoch: no price point in settings.price_points sells %s%s", req.Purchase, recurringText(req.Recurring))
	}
	key := req.IdempotencyKey
	fp := processorkit.Fingerprint("checkout", req.CustomerRef, req.ReturnURL, req.Purchase, req.Recurring)
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, out, done, err := processorkit.Lookup[processor.Checkout](e.st.Ops, key, fp); done {
		return out, err
	}
	now := e.now().UTC()
	ref := processorkit.NewRef("ep_co_")
	co := &checkout{Key: key, CustomerRef: req.CustomerRef, PiCode: pp.PiCode, Purchase: *req.Purchase, ExpiresAt: now.Add(checkoutTTL), Recurring: req.Recurring != nil}
	res := processor.Checkout{Reference: ref, URL: cfg.FpostURL, Method: http.MethodPost, ExpiresAt: co.ExpiresAt, Fields: map[string]string{
		"co_code": cfg.CoCode, "pi_code": pp.PiCode, "reseller": "a", "response_post": "Y",
		"pi_returnurl": processorkit.WithQuery(req.ReturnURL, url.Values{"checkout": {ref}}),
		"x_camkit_ref": ref, "x_camkit_customer": req.CustomerRef,
	}}
	rec, err := processorkit.DoneRecord(fp, res, now, now)
	if err != nil {
		return processor.Checkout{}, err
	}
	e.st.Checkouts[ref] = co
	e.st.Ops[key] = rec
	if err := e.saveLocked(); err != nil {
		return processor.Checkout{}, err
	}
	return res, nil
}

func recurringText(r *processor.RecurringTerms) string {
	if r == nil {
		return ""
	}
	return " then " + r.Amount.String() + " every " + strconv.Itoa(r.PeriodDays) + " days"
}

// CompleteCheckout reports what Epoch's postback said. The viewer's return
// (response_post) is not trusted: until the server-to-server postback from
// Epoch's addresses has arrived, the result is Pending.
func (e *Epoch) CompleteCheckout(_ context.Context, req processor.CompleteCheckoutRequest) (processor.CheckoutResult, error) {
	if _, err := e.configured(); err != nil {
		return processor.CheckoutResult{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	co := e.st.Checkouts[req.CheckoutReference]
	switch {
	case co == nil:
		return processor.CheckoutResult{}, errs.E(errs.NotFound, "epoch: no checkout %q", req.CheckoutReference)
	case req.CustomerRef != "" && req.CustomerRef != co.CustomerRef:
		return processor.CheckoutResult{}, errs.E(errs.Forbidden, "epoch: checkout %s belongs to another customer", req.CheckoutReference)
	case co.Decline != nil:
		d := *co.Decline
		return processor.CheckoutResult{}, &d
	case co.TransID == "":
		return processor.CheckoutResult{Pending: true}, nil
	}
	token := co.MemberID
	if token == "" {
		token = co.OrderID
	}
	res := processor.CheckoutResult{Credential: &processor.StoredCredential{Token: token, CustomerRef: co.CustomerRef},
		Charge: &processor.ChargeResult{Reference: co.TransID, Amount: co.Purchase}}
	if co.Paid.Amount > 0 {
		res.Charge.Amount = co.Paid
	}
	if co.Recurring {
		res.SubscriptionReference = token
	}
	return res, nil
}

// ServeHTTP: the card page is Epoch's; the plugin serves no routes of its own.
func (e *Epoch) ServeHTTP(context.Context, processor.HTTPRequest) (processor.HTTPResponse, error) {
	return processorkit.PlainResponse(http.StatusNotFound, "not found"), nil
}

func (e *Epoch) saveLocked() error {
	var err error
	e.st, err = processorkit.SaveState(pluginName, e.cfg.StateFile, e.st, newState)
	return err
}
