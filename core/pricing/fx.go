package pricing

import (
	"fmt"
	"math/big"

	"github.com/camkit/camkit/core/money"
	"github.com/camkit/camkit/sdk/currency"
	"github.com/camkit/camkit/sdk/errs"
)

// ParseRate reads an FX rate: a plain decimal string in major units of the
// target currency per one major unit of the source ("151.37", "0.0123"),
// strictly positive. It is the currency SDK's parser, so a rate a plugin's
// Quote.Validate accepts is exactly a rate the host prices with; the host only
// adds money.ErrMalformed to the chain for its callers.
func ParseRate(rate string) (*big.Rat, error) {
	r, err := currency.ParseRate(rate)
	if err != nil {
		return nil, fmt.Errorf("FX: %w: %w", err, money.ErrMalformed)
	}
	return r, nil
}

// Convert turns m into currency `to` at rate (see ParseRate), exactly: the
// amount in major units times the rate, scaled to to's exponent, rounded once
// by r. The result must fit in int64 minor units.
//
// Example: 1234 USD (12.34) at "151.37" to JPY = 1867.9058 -> 1868 JPY (half up).
func Convert(m money.Money, rate string, to string, r Rounding) (money.Money, error) {
	if !r.valid() {
		return money.Money{}, errs.E(errs.Invalid, "unknown rounding %d", int(r))
	}
	from, err := money.Lookup(m.Currency)
	if err != nil {
		return money.Money{}, err
	}
	target, err := money.Lookup(to)
	if err != nil {
		return money.Money{}, err
	}
	d, err := ParseRate(rate)
	if err != nil {
		return money.Money{}, err
	}
	// amount * 10^-e_from (major units) * rate * 10^e_to (target minor units),
	// as one fraction num/den rounded once on its magnitude.
	num := new(big.Int).Mul(big.NewInt(m.Amount), d.Num())
	den := new(big.Int).Set(d.Denom())
	if shift := target.Exponent - from.Exponent; shift >= 0 {
		num.Mul(num, pow10(shift))
	} else {
		den.Mul(den, pow10(-shift))
	}
	q := roundQuo(num, den, r)
	if !q.IsInt64() {
		return money.Money{}, fail(errs.Invalid, money.ErrOverflow, "%s at %s to %s", m, rate, to)
	}
	return money.Money{Amount: q.Int64(), Currency: target.Code}, nil
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// roundQuo is num/den (den > 0) rounded by r on the magnitude, so rounding
// -x gives -(rounding x).
func roundQuo(num, den *big.Int, r Rounding) *big.Int {
	n := new(big.Int).Abs(num)
	q, rem := new(big.Int).QuoRem(n, den, new(big.Int))
	switch r {
	case RoundHalfUp:
		if new(big.Int).Lsh(rem, 1).Cmp(den) >= 0 {
			q.Add(q, big.NewInt(1))
		}
	case RoundUp:
		if rem.Sign() != 0 {
			q.Add(q, big.NewInt(1))
		}
	}
	if num.Sign() < 0 {
		q.Neg(q)
	}
	return q
}
