// Package money is the host's side of money: the one Money type (an alias of
// the SDK's, so host and plugins share it) and currency lookups with errs
// codes. Prices, rounding and FX are core/pricing's.
//
// Errors carry an sdk/errs code (errs.CodeOf) and still match the SDK's
// sentinels (errors.Is(err, money.ErrOverflow)).
package money

import (
	"errors"
	"fmt"

	"github.com/camkit/camkit/sdk/errs"
	sdkmoney "github.com/camkit/camkit/sdk/money"
)

// Money is sdk/money.Money: int64 minor units and an ISO 4217 code. An alias,
// not a new type, so there is exactly one Money in the whole system.
type Money = sdkmoney.Money

// Currency is sdk/money.Currency (code, numeric code, exponent).
type Currency = sdkmoney.Currency

// Sentinels re-exported so callers of the host need not import the SDK too.
var (
	ErrUnknownCurrency  = sdkmoney.ErrUnknownCurrency
	ErrCurrencyMismatch = sdkmoney.ErrCurrencyMismatch
	ErrOverflow         = sdkmoney.ErrOverflow
	ErrNegative         = sdkmoney.ErrNegative
	ErrMalformed        = sdkmoney.ErrMalformed
)

// New returns Money after checking the currency is a known ISO 4217 code.
func New(amount int64, currency string) (Money, error) {
	m, err := sdkmoney.New(amount, currency)
	if err != nil {
		return Money{}, coded(err)
	}
	return m, nil
}

// Lookup returns the ISO 4217 currency for code.
func Lookup(code string) (Currency, error) {
	c, err := sdkmoney.Lookup(code)
	if err != nil {
		return Currency{}, coded(err)
	}
	return c, nil
}

// Exponent returns the number of minor-unit digits of code (JPY 0, USD 2, BHD 3).
func Exponent(code string) (int, error) {
	c, err := Lookup(code)
	if err != nil {
		return 0, err
	}
	return c.Exponent, nil
}

// coded gives an SDK money error its errs code, keeping the sentinel.
func coded(err error) error {
	switch {
	case errors.Is(err, sdkmoney.ErrUnknownCurrency):
		return fmt.Errorf("%w: %w", errs.E(errs.UnknownCurrency, "%s", err.Error()), sdkmoney.ErrUnknownCurrency)
	default:
		return fmt.Errorf("%w: %w", errs.E(errs.Invalid, "%s", err.Error()), err)
	}
}
