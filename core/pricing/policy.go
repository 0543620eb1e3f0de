// Package pricing is the one place a price is made: the policy a seat locks
// when it opens, the price of its billable time, the funding block, the
// inverse (seconds a hold funds), exact integer rounding and FX conversion at
// a locked quote. It is pure: no I/O, no clock, no floats. Billing, shows,
// the web layer and the tools price through it and nothing else.
package pricing

import (
	"time"

	"github.com/camkit/camkit/core/money"
	"github.com/camkit/camkit/sdk/errs"
	sdkpricing "github.com/camkit/camkit/sdk/pricing"
)

// Granularity is the SDK's (sdk/pricing), the one list of granularities.
type Granularity = sdkpricing.Granularity

// The granularities, re-exported so the host's callers need one import.
const (
	PerSecond          = sdkpricing.PerSecond
	PerStartedMinute   = sdkpricing.PerStartedMinute
	PerCompletedMinute = sdkpricing.PerCompletedMinute
)

// Granularities lists every granularity (sdk/pricing.Granularities).
func Granularities() []Granularity { return sdkpricing.Granularities() }

// ParseGranularity reads a configured granularity (sdk/pricing.ParseGranularity).
func ParseGranularity(s string) (Granularity, error) { return sdkpricing.ParseGranularity(s) }

// MaxPolicySeconds bounds every duration in a policy (one year). Nothing
// sensible is longer, and the bound keeps every product of seconds and rates
// inside the overflow checks' comfortable range.
const MaxPolicySeconds = 365 * 24 * 3600

// Policy is the snapshot a seat takes when it opens and keeps until it is
// settled: a model's later rate change or an operator's policy change never
// touches an open seat. It round-trips through encoding/json for storage with
// the seat and on its receipt.
type Policy struct {
	// RatePerMinute is the model's rate in minor units per minute; its
	// currency is the rate currency, in which Price answers.
	RatePerMinute money.Money `json:"rate_per_minute"`
	Granularity   Granularity `json:"granularity"`
	// MinimumCharge, in the rate currency, is the least a seat that costs
	// anything at all costs (see Price). The zero Money means none.
	MinimumCharge money.Money `json:"minimum_charge"`
	// GraceSeconds: a seat whose billable time is at most this costs nothing.
	// It is a threshold, not a deduction (see Price).
	GraceSeconds int64 `json:"grace_seconds"`
	// BlockSeconds is the funding block: how much billable time each hold
	// or block charge secures.
	BlockSeconds int64 `json:"block_seconds"`
	// ExtensionLeadSeconds: funding is extended by one block when funded
	// time left falls below this.
	ExtensionLeadSeconds int64 `json:"extension_lead_seconds"`
	// MaxPauseSeconds: a seat paused (not billable while open) longer than
	// this is ended.
	MaxPauseSeconds int64 `json:"max_pause_seconds"`
	// FX is the quote locked when the seat opened, present when the viewer
	// pays in a currency other than the rate currency.
	FX *FXQuote `json:"fx,omitempty"`
	// Cam2camSurchargePerMinute is set (in the rate currency, possibly zero)
	// on a seat whose viewer was granted cam2cam: it is the part of
	// RatePerMinute that pays for it. It is a label, never a second rate:
	// RatePerMinute already includes it and Price reads only RatePerMinute,
	// so the seat has one meter and one price, locked once at the seat.
	Cam2camSurchargePerMinute money.Money `json:"cam2cam_surcharge_per_minute,omitzero"`
}

// HasCam2cam reports whether the seat was granted cam2cam.
func (p Policy) HasCam2cam() bool { return p.Cam2camSurchargePerMinute != (money.Money{}) }

// WithoutCam2cam is the policy the seat would have locked without cam2cam:
// the rate less the surcharge.
func (p Policy) WithoutCam2cam() Policy {
	if p.HasCam2cam() {
		p.RatePerMinute.Amount -= p.Cam2camSurchargePerMinute.Amount
		p.Cam2camSurchargePerMinute = money.Money{}
	}
	return p
}

// Cam2camShare is the part of Price(p, billable) that cam2cam's surcharge
// accounts for: the price less the price of the same seconds without it, so
// the two parts always add up to the one price (rounding and a minimum
// charge fall on the base part). Zero without cam2cam.
func Cam2camShare(p Policy, billable int64) (money.Money, error) {
	total, err := Price(p, billable)
	if err != nil || !p.HasCam2cam() {
		return money.Money{Amount: 0, Currency: total.Currency}, err
	}
	base, err := Price(p.WithoutCam2cam(), billable)
	if err != nil {
		return money.Money{}, err
	}
	return money.Money{Amount: total.Amount - base.Amount, Currency: total.Currency}, nil
}

// FXQuote is a currency plugin's quote, locked on the seat.
type FXQuote struct {
	// Rate is a plain decimal string: payment-currency major units per one
	// rate-currency major unit ("151.37" for USD -> JPY).
	Rate            string    `json:"rate"`
	QuoteID         string    `json:"quote_id"`
	Source          string    `json:"source"`
	PaymentCurrency string    `json:"payment_currency"`
	ExpiresAt       time.Time `json:"expires_at"`
}

// The defaults of DESIGN.md: five-minute blocks, a minute of lead, two
// minutes of maximum pause, per-second pricing, no grace, no minimum.
const (
	DefaultBlockSeconds         = 300
	DefaultExtensionLeadSeconds = 60
	DefaultMaxPauseSeconds      = 120
)

// DefaultPolicy returns a policy at rate with DESIGN.md's defaults.
func DefaultPolicy(rate money.Money) Policy {
	return Policy{
		RatePerMinute:        rate,
		Granularity:          PerSecond,
		BlockSeconds:         DefaultBlockSeconds,
		ExtensionLeadSeconds: DefaultExtensionLeadSeconds,
		MaxPauseSeconds:      DefaultMaxPauseSeconds,
	}
}

// RateCurrency is the currency Price answers in.
func (p Policy) RateCurrency() string { return p.RatePerMinute.Currency }

// PaymentCurrency is the currency the viewer is charged in: the FX quote's
// when there is one, else the rate currency.
func (p Policy) PaymentCurrency() string {
	if p.FX != nil {
		return p.FX.PaymentCurrency
	}
	return p.RatePerMinute.Currency
}

// Block, ExtensionLead, MaxPause and Grace return the policy's durations.
func (p Policy) Block() time.Duration         { return seconds(p.BlockSeconds) }
func (p Policy) ExtensionLead() time.Duration { return seconds(p.ExtensionLeadSeconds) }
func (p Policy) MaxPause() time.Duration      { return seconds(p.MaxPauseSeconds) }
func (p Policy) Grace() time.Duration         { return seconds(p.GraceSeconds) }

func seconds(n int64) time.Duration { return time.Duration(n) * time.Second }

// Validate reports the first thing wrong with the policy as an errs.Invalid
// (or errs.UnknownCurrency) error naming the field. Price and the functions
// beside it validate the policy first, so none of them works on a bad one.
func (p Policy) Validate() error {
	bad := func(format string, args ...any) error {
		return errs.E(errs.Invalid, "price policy: "+format, args...)
	}
	rate := p.RatePerMinute
	if _, err := money.Lookup(rate.Currency); err != nil {
		return errs.E(errs.UnknownCurrency, "price policy: rate_per_minute currency %q is not an ISO 4217 code", rate.Currency)
	}
	if rate.Amount <= 0 {
		return bad("rate_per_minute must be positive, got %v", rate)
	}
	if !p.Granularity.Valid() {
		return bad("granularity %q: want %s", p.Granularity, sdkpricing.OneOf())
	}
	if minimum := p.MinimumCharge; minimum != (money.Money{}) {
		if minimum.Currency != rate.Currency {
			return bad("minimum_charge %v must be in the rate currency %s", minimum, rate.Currency)
		}
		if minimum.Amount < 0 {
			return bad("minimum_charge %v is negative", minimum)
		}
	}
	for _, f := range []struct {
		name string
		v    int64
		min  int64
	}{
		{"grace_seconds", p.GraceSeconds, 0},
		{"block_seconds", p.BlockSeconds, 1},
		{"extension_lead_seconds", p.ExtensionLeadSeconds, 0},
		{"max_pause_seconds", p.MaxPauseSeconds, 1},
	} {
		if f.v < f.min || f.v > MaxPolicySeconds {
			return bad("%s = %d, want %d..%d", f.name, f.v, f.min, MaxPolicySeconds)
		}
	}
	if p.BlockSeconds < p.ExtensionLeadSeconds {
		return bad("block_seconds %d is shorter than extension_lead_seconds %d: every extension would be due at once",
			p.BlockSeconds, p.ExtensionLeadSeconds)
	}
	if c := p.Cam2camSurchargePerMinute; c != (money.Money{}) {
		if c.Currency != rate.Currency {
			return bad("cam2cam_surcharge_per_minute %v must be in the rate currency %s", c, rate.Currency)
		}
		// The rate includes the surcharge and the model's own rate is positive.
		if c.Amount < 0 || c.Amount >= rate.Amount {
			return bad("cam2cam_surcharge_per_minute %v must be at least zero and below rate_per_minute %v, which includes it", c, rate)
		}
	}
	if p.FX != nil {
		if err := p.FX.validate(rate.Currency); err != nil {
			return err
		}
	}
	// A block must have a price that fits: it is what funding holds.
	if _, err := blockAmount(p); err != nil {
		return bad("block of %d s at %v: %v", p.BlockSeconds, rate, err)
	}
	return nil
}

func (q *FXQuote) validate(rateCurrency string) error {
	bad := func(format string, args ...any) error {
		return errs.E(errs.Invalid, "price policy: fx: "+format, args...)
	}
	if _, err := money.Lookup(q.PaymentCurrency); err != nil {
		return errs.E(errs.UnknownCurrency, "price policy: fx payment_currency %q is not an ISO 4217 code", q.PaymentCurrency)
	}
	if q.PaymentCurrency == rateCurrency {
		return bad("payment_currency equals the rate currency %s: leave fx out", rateCurrency)
	}
	if _, err := ParseRate(q.Rate); err != nil {
		return bad("rate: %v", err)
	}
	if q.QuoteID == "" {
		return bad("quote_id is empty: a locked quote must be traceable")
	}
	if q.Source == "" {
		return bad("source is empty")
	}
	if q.ExpiresAt.IsZero() {
		return bad("expires_at is missing")
	}
	return nil
}

// ExpiredAt reports whether the quote had expired at t. A quote is checked
// when it is locked on a seat, not afterwards: a locked quote holds for the
// seat's whole life.
func (q *FXQuote) ExpiredAt(t time.Time) bool { return !t.Before(q.ExpiresAt) }
