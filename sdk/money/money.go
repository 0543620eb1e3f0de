// Package money is the one Money type shared by the camkit host and its plugins:
// an int64 count of minor units and an ISO 4217 code. There are no floats here.
//
// It lives in the SDK, not in the host, because a processor plugin must turn the
// same value into its processor's wire format (a decimal string, a numeric
// currency code) exactly as the host understands it.
package money

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Money is an amount in the minor units of Currency (cents for USD, yen for JPY,
// fils for BHD).
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Errors of this package. Callers match them with errors.Is.
var (
	ErrUnknownCurrency  = errors.New("unknown currency")
	ErrCurrencyMismatch = errors.New("currency mismatch")
	ErrOverflow         = errors.New("amount overflows int64 minor units")
	ErrNegative         = errors.New("amount is negative")
	ErrNotPositive      = errors.New("amount must be positive")
	ErrMalformed        = errors.New("malformed decimal amount")
)

// New returns Money after checking that the currency is known.
func New(amount int64, currency string) (Money, error) {
	if _, err := Lookup(currency); err != nil {
		return Money{}, err
	}
	return Money{Amount: amount, Currency: currency}, nil
}

// Validate checks the currency and, when positive is true, that the amount is > 0.
func (m Money) Validate(positive bool) error {
	if _, err := Lookup(m.Currency); err != nil {
		return err
	}
	if positive && m.Amount <= 0 {
		return fmt.Errorf("%w: %d %s", ErrNotPositive, m.Amount, m.Currency)
	}
	return nil
}

// IsZero reports whether the amount is zero.
func (m Money) IsZero() bool { return m.Amount == 0 }

// Add returns m+o; both must share a currency and the sum must fit in int64.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("%w: %s + %s", ErrCurrencyMismatch, m.Currency, o.Currency)
	}
	s, ok := AddInt64(m.Amount, o.Amount)
	if !ok {
		return Money{}, ErrOverflow
	}
	return Money{Amount: s, Currency: m.Currency}, nil
}

// Sub returns m-o; both must share a currency and the difference must fit in int64.
func (m Money) Sub(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("%w: %s - %s", ErrCurrencyMismatch, m.Currency, o.Currency)
	}
	if o.Amount == math.MinInt64 {
		return Money{}, ErrOverflow
	}
	s, ok := AddInt64(m.Amount, -o.Amount)
	if !ok {
		return Money{}, ErrOverflow
	}
	return Money{Amount: s, Currency: m.Currency}, nil
}

// AddInt64 adds with an overflow check.
func AddInt64(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// MulInt64 multiplies with an overflow check.
func MulInt64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return p, true
}

// String renders "12.34 USD".
func (m Money) String() string {
	d, err := FormatDecimal(m)
	if err != nil {
		return fmt.Sprintf("%d %s(minor)", m.Amount, m.Currency)
	}
	return d + " " + m.Currency
}

// FormatDecimal renders the amount in major units with exactly the currency's
// exponent of fraction digits: 1234 USD -> "12.34", 5 JPY -> "5", 1005 BHD -> "1.005".
func FormatDecimal(m Money) (string, error) {
	c, err := Lookup(m.Currency)
	if err != nil {
		return "", err
	}
	neg := m.Amount < 0
	var digits string
	if m.Amount == math.MinInt64 {
		digits = "9223372036854775808"
	} else {
		a := m.Amount
		if neg {
			a = -a
		}
		digits = strconv.FormatInt(a, 10)
	}
	if c.Exponent > 0 {
		if len(digits) <= c.Exponent {
			digits = strings.Repeat("0", c.Exponent-len(digits)+1) + digits
		}
		cut := len(digits) - c.Exponent
		digits = digits[:cut] + "." + digits[cut:]
	}
	if neg {
		digits = "-" + digits
	}
	return digits, nil
}

// ParseDecimal reads a decimal string in major units ("12.34", "-0.5", "7") into
// Money exactly. More fraction digits than the currency allows is an error unless
// the extra digits are zeros: nothing is rounded here.
func ParseDecimal(s, currency string) (Money, error) {
	c, err := Lookup(currency)
	if err != nil {
		return Money{}, err
	}
	orig := s
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	} else if strings.HasPrefix(s, "+") {
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" && (!hasDot || frac == "") {
		return Money{}, fmt.Errorf("%w: %q", ErrMalformed, orig)
	}
	if intPart == "" {
		intPart = "0"
	}
	if hasDot && frac == "" {
		return Money{}, fmt.Errorf("%w: %q", ErrMalformed, orig)
	}
	for _, r := range intPart + frac {
		if r < '0' || r > '9' {
			return Money{}, fmt.Errorf("%w: %q", ErrMalformed, orig)
		}
	}
	if len(frac) > c.Exponent {
		if strings.Trim(frac[c.Exponent:], "0") != "" {
			return Money{}, fmt.Errorf("%w: %q has more than %d fraction digits for %s", ErrMalformed, orig, c.Exponent, currency)
		}
		frac = frac[:c.Exponent]
	}
	frac += strings.Repeat("0", c.Exponent-len(frac))
	var u uint64
	for _, r := range intPart + frac {
		if u > (math.MaxUint64-9)/10 {
			return Money{}, fmt.Errorf("%w: %q", ErrOverflow, orig)
		}
		u = u*10 + uint64(r-'0')
	}
	if u > math.MaxInt64 {
		return Money{}, fmt.Errorf("%w: %q", ErrOverflow, orig)
	}
	a := int64(u)
	if neg {
		a = -a
	}
	return Money{Amount: a, Currency: currency}, nil
}
