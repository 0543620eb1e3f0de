package money

import (
	"github.com/shopspring/decimal"

	"github.com/camkit/camkit/sdk/errs"
)

// MaxRateLen bounds an FX rate string. A currency plugin's rate is a plain
// decimal of a few dozen digits at most; the bound keeps arithmetic on a
// hostile rate small.
const MaxRateLen = 64

// ParseRate reads an FX rate: a plain decimal string in major units of the
// target currency per one major unit of the source ("151.37", "0.0123"),
// strictly positive. Signs, exponents, spaces and empty parts are refused so
// the rate stored on a seat reads the same to people and to machines.
func ParseRate(rate string) (decimal.Decimal, error) {
	if rate == "" || len(rate) > MaxRateLen {
		return decimal.Decimal{}, fail(errs.Invalid, ErrMalformed, "FX rate %q: want 1 to %d characters", rate, MaxRateLen)
	}
	dot := -1
	for i, r := range rate {
		switch {
		case r >= '0' && r <= '9':
		case r == '.' && dot < 0 && i > 0 && i < len(rate)-1:
			dot = i
		default:
			return decimal.Decimal{}, fail(errs.Invalid, ErrMalformed, "FX rate %q: want a plain decimal like \"151.37\"", rate)
		}
	}
	d, err := decimal.NewFromString(rate)
	if err != nil {
		return decimal.Decimal{}, fail(errs.Invalid, ErrMalformed, "FX rate %q: %v", rate, err)
	}
	if d.Sign() <= 0 {
		return decimal.Decimal{}, fail(errs.Invalid, ErrMalformed, "FX rate %q must be positive", rate)
	}
	return d, nil
}

// Convert turns m into currency `to` at rate (see ParseRate), exactly: the
// amount in major units times the rate, scaled to to's exponent, rounded once
// by r. The result must fit in int64 minor units.
//
// Example: 1234 USD (12.34) at "151.37" to JPY = 1867.9058 -> 1868 JPY (half up).
func Convert(m Money, rate string, to string, r Rounding) (Money, error) {
	if !r.valid() {
		return Money{}, errs.E(errs.Invalid, "unknown rounding %d", int(r))
	}
	from, err := Lookup(m.Currency)
	if err != nil {
		return Money{}, err
	}
	target, err := Lookup(to)
	if err != nil {
		return Money{}, err
	}
	d, err := ParseRate(rate)
	if err != nil {
		return Money{}, err
	}
	// amount * 10^-e_from (major units) * rate * 10^e_to (target minor units)
	x := decimal.New(m.Amount, 0).Mul(d).Shift(int32(target.Exponent - from.Exponent))
	switch r {
	case RoundHalfUp:
		x = x.Round(0) // half away from zero
	case RoundDown:
		x = x.RoundDown(0) // towards zero
	case RoundUp:
		x = x.RoundUp(0) // away from zero
	}
	b := x.BigInt()
	if !b.IsInt64() {
		return Money{}, fail(errs.Invalid, ErrOverflow, "%s at %s to %s", m, rate, to)
	}
	return Money{Amount: b.Int64(), Currency: target.Code}, nil
}
