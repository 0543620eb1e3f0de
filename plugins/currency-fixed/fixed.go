package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/currency"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/shopspring/decimal"
)

const (
	pluginName    = "fixed"
	pluginVersion = "1.0.0"
	source        = "fixed"
	// The pivot every cross rate goes through.
	pivot = "USD"
	// Derived rates keep this many significant digits: far more than any
	// price needs after the host's single rounding, whatever the magnitude
	// (0.00000625 keeps as many digits as 151.2).
	significantDigits = 12
	defaultTTL        = 300 * time.Second
	maxTTL            = 24 * time.Hour
)

// defaultRates are illustrative, not market data: they let a fresh deployment
// show prices in the common currencies before the operator sets real ones.
var defaultRates = map[string]string{
	"EUR/USD": "1.0850",
	"GBP/USD": "1.2700",
	"USD/JPY": "151.20",
	"USD/CAD": "1.3600",
	"AUD/USD": "0.6600",
}

type pair struct{ from, to string }

// table is one validated configuration; it is replaced whole on Configure.
type table struct {
	rates map[pair]decimal.Decimal // as configured, 1 from = rate to
	text  map[pair]string          // the configured text, quoted unchanged
	ttl   time.Duration
	asOf  time.Time
}

type converter struct {
	now func() time.Time
	mu  sync.RWMutex
	t   *table
}

var _ currency.Converter = (*converter)(nil)

func newConverter(now func() time.Time) *converter {
	c := &converter{now: now}
	t, err := parseSettings(nil, now())
	if err != nil {
		panic("currency-fixed: default rates are invalid: " + err.Error())
	}
	c.t = t
	return c
}

func (c *converter) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindCurrency, Name: pluginName, Version: pluginVersion}, nil
}

func (c *converter) Configure(_ context.Context, settingsJSON []byte) error {
	t, err := parseSettings(settingsJSON, c.now())
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
	return nil
}

type settings struct {
	Rates           map[string]json.RawMessage `json:"rates"`
	QuoteTTLSeconds *int64                     `json:"quote_ttl_seconds"`
}

// parseSettings validates everything before anything is used, naming the key
// at fault, so that a typo stops `camkit serve` instead of mispricing a show.
func parseSettings(settingsJSON []byte, now time.Time) (*table, error) {
	var s settings
	if err := pluginkit.DecodeSettings(settingsJSON, &s); err != nil {
		return nil, err
	}
	t := &table{rates: map[pair]decimal.Decimal{}, text: map[pair]string{}, ttl: defaultTTL, asOf: now}
	if s.QuoteTTLSeconds != nil {
		ttl := time.Duration(*s.QuoteTTLSeconds) * time.Second
		if *s.QuoteTTLSeconds <= 0 || ttl > maxTTL {
			return nil, errs.E(errs.Invalid, "settings: quote_ttl_seconds is %d, want 1 to %d",
				*s.QuoteTTLSeconds, int64(maxTTL/time.Second))
		}
		t.ttl = ttl
	}
	raw := s.Rates
	if raw == nil {
		raw = map[string]json.RawMessage{}
		for k, v := range defaultRates {
			raw[k], _ = json.Marshal(v)
		}
	}
	if len(raw) == 0 {
		return nil, errs.E(errs.Invalid, "settings: rates is empty; omit it for the default table or give at least one pair")
	}
	for key, v := range raw {
		p, err := parsePair(key)
		if err != nil {
			return nil, err
		}
		var text string
		if err := json.Unmarshal(v, &text); err != nil {
			return nil, errs.E(errs.Invalid, "settings: rates[%q] is %s; write the rate as a JSON string such as \"1.0850\", not a number", key, v)
		}
		if _, err := currency.ParseRate(text); err != nil {
			return nil, errs.E(errs.Invalid, "settings: rates[%q]: %s", key, messageOf(err))
		}
		if _, dup := t.rates[pair{p.to, p.from}]; dup {
			return nil, errs.E(errs.Invalid, "settings: rates[%q] and rates[%q] both given; keep one, the inverse is derived",
				key, p.to+"/"+p.from)
		}
		// ParseRate accepted it, so the decimal library reads the same value.
		t.rates[p] = decimal.RequireFromString(text)
		t.text[p] = text
	}
	return t, nil
}

func parsePair(key string) (pair, error) {
	from, to, ok := strings.Cut(key, "/")
	if !ok {
		return pair{}, errs.E(errs.Invalid, "settings: rates key %q is not FROM/TO (e.g. \"EUR/USD\")", key)
	}
	for _, c := range []string{from, to} {
		if _, err := money.Lookup(c); err != nil {
			return pair{}, errs.E(errs.Invalid, "settings: rates key %q: %q is not an ISO 4217 code", key, c)
		}
	}
	if from == to {
		return pair{}, errs.E(errs.Invalid, "settings: rates key %q quotes a currency against itself", key)
	}
	return pair{from, to}, nil
}

func (c *converter) Quote(_ context.Context, req currency.QuoteRequest) (currency.Quote, error) {
	c.mu.RLock()
	t := c.t
	c.mu.RUnlock()
	rate, err := t.rate(req.From, req.To)
	if err != nil {
		return currency.Quote{}, err
	}
	id, err := newQuoteID()
	if err != nil {
		return currency.Quote{}, err
	}
	return currency.Quote{
		From: req.From, To: req.To, Rate: rate, QuoteID: id, Source: source,
		AsOf: t.asOf, ExpiresAt: c.now().Add(t.ttl),
	}, nil
}

// rate returns 1 from in to, as decimal text.
func (t *table) rate(from, to string) (string, error) {
	if from == to {
		if !t.knows(from) {
			return "", errs.E(errs.UnknownCurrency, "no rate configured for %s", from)
		}
		return "1", nil
	}
	if text, ok := t.text[pair{from, to}]; ok {
		return text, nil
	}
	if r, ok := t.rates[pair{to, from}]; ok {
		return divide(decimal.NewFromInt(1), r), nil
	}
	// from -> USD -> to, as one fraction so that it is rounded once.
	fn, fd, ok := t.perPivot(from)
	if !ok {
		return "", errs.E(errs.UnknownCurrency, "no rate configured for %s (direct or against %s)", from, pivot)
	}
	tn, td, ok := t.perPivot(to)
	if !ok {
		return "", errs.E(errs.UnknownCurrency, "no rate configured for %s (direct or against %s)", to, pivot)
	}
	return divide(fn.Mul(td), fd.Mul(tn)), nil
}

// perPivot returns 1 c in USD as the fraction num/den, exactly.
func (t *table) perPivot(c string) (num, den decimal.Decimal, ok bool) {
	one := decimal.NewFromInt(1)
	if c == pivot {
		return one, one, true
	}
	if r, ok := t.rates[pair{c, pivot}]; ok {
		return r, one, true
	}
	if r, ok := t.rates[pair{pivot, c}]; ok {
		return one, r, true
	}
	return decimal.Decimal{}, decimal.Decimal{}, false
}

func (t *table) knows(c string) bool {
	for p := range t.rates {
		if p.from == c || p.to == c {
			return true
		}
	}
	return false
}

// divide returns num/den rounded once to significantDigits significant digits,
// without trailing zeros. Both are positive.
func divide(num, den decimal.Decimal) string {
	// The quotient's magnitude is that of num minus that of den, or one less.
	mag := magnitude(num) - magnitude(den)
	q := num.DivRound(den, int32(significantDigits-1-mag))
	if magnitude(q) < mag {
		// The estimate was one too high: one more place keeps the digit count.
		q = num.DivRound(den, int32(significantDigits-mag))
	}
	return q.String()
}

// magnitude is floor(log10(d)) for d > 0.
func magnitude(d decimal.Decimal) int {
	return d.NumDigits() + int(d.Exponent()) - 1
}

// messageOf drops the code prefix of an *errs.Error, to re-wrap its message.
func messageOf(err error) string {
	var e *errs.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

func newQuoteID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errs.Retry(errs.Unavailable, "quote id: %v", err)
	}
	return "fixed_" + hex.EncodeToString(b[:]), nil
}
