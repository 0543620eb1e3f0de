package pricing

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/camkit/camkit/core/money"
	"github.com/camkit/camkit/sdk/errs"
	sdkmoney "github.com/camkit/camkit/sdk/money"
)

// Rounding says which way a result that is not a whole number of minor units
// goes. Every mode works on the magnitude, so rounding -x gives -(rounding x):
// converting a refund gives exactly the negation of converting the charge.
type Rounding int

const (
	// RoundHalfUp: to the nearest, halves away from zero (commercial rounding).
	// The rounding of every price.
	RoundHalfUp Rounding = iota
	// RoundDown: towards zero (truncate).
	RoundDown
	// RoundUp: away from zero. For amounts that must cover something, such
	// as a hold.
	RoundUp
)

func (r Rounding) String() string {
	switch r {
	case RoundHalfUp:
		return "half_up"
	case RoundDown:
		return "down"
	case RoundUp:
		return "up"
	}
	return "Rounding(?)"
}

func (r Rounding) valid() bool { return r == RoundHalfUp || r == RoundDown || r == RoundUp }

// MulDiv returns a*b/c rounded once by r. a and b must be >= 0 and c > 0; the
// product is formed in 128 bits, so only a result beyond int64 overflows.
func MulDiv(a, b, c int64, r Rounding) (int64, error) {
	if a < 0 || b < 0 || c <= 0 {
		return 0, errs.E(errs.Invalid, "MulDiv(%d, %d, %d): operands must be a, b >= 0 and c > 0", a, b, c)
	}
	if !r.valid() {
		return 0, errs.E(errs.Invalid, "unknown rounding %d", int(r))
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) { // the quotient would not fit in 64 bits
		return 0, fail(errs.Invalid, money.ErrOverflow, "%d * %d / %d", a, b, c)
	}
	q, rem := bits.Div64(hi, lo, uint64(c))
	switch r {
	case RoundHalfUp:
		if rem >= uint64(c)-rem { // rem >= c/2 without overflow or halving
			q++
		}
	case RoundUp:
		if rem != 0 {
			q++
		}
	}
	if q > math.MaxInt64 {
		return 0, fail(errs.Invalid, money.ErrOverflow, "%d * %d / %d", a, b, c)
	}
	return int64(q), nil
}

// Mul returns a*b, or an overflow error.
func Mul(a, b int64) (int64, error) {
	p, ok := sdkmoney.MulInt64(a, b)
	if !ok {
		return 0, fail(errs.Invalid, money.ErrOverflow, "%d * %d", a, b)
	}
	return p, nil
}

// fail builds an error that has both an errs code and a money sentinel in its
// chain, so callers may test either.
func fail(code errs.Code, sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %w", errs.E(code, format, args...), sentinel)
}
