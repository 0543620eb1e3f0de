package pricing_test

import (
	"errors"
	"math"
	"math/big"
	"testing"

	"pgregory.net/rapid"

	"github.com/camkit/camkit/core/money"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/errs"
)

func TestMulDiv(t *testing.T) {
	const max = math.MaxInt64
	for _, c := range []struct {
		a, b, c        int64
		half, down, up int64
	}{
		{0, 0, 60, 0, 0, 0},
		{100, 1, 60, 2, 1, 2}, // 1.666..
		{100, 30, 60, 50, 50, 50},
		{1, 30, 60, 1, 0, 1},         // 0.5 exactly: half goes up
		{1, 29, 60, 0, 0, 1},         // 0.4833
		{1, 31, 60, 1, 0, 1},         // 0.5166
		{3, 1, 2, 2, 1, 2},           // 1.5
		{5, 1, 3, 2, 1, 2},           // 1.666 with an odd divisor
		{4, 1, 3, 1, 1, 2},           // 1.333
		{max, 60, 60, max, max, max}, // the 128-bit product divides back exactly
		{max, max, max, max, max, max},
		{max, 2, 3, 6148914691236517205, 6148914691236517204, 6148914691236517205}, // 2^64-2 / 3
	} {
		for r, want := range map[pricing.Rounding]int64{pricing.RoundHalfUp: c.half, pricing.RoundDown: c.down, pricing.RoundUp: c.up} {
			got, err := pricing.MulDiv(c.a, c.b, c.c, r)
			if err != nil || got != want {
				t.Errorf("MulDiv(%d,%d,%d,%v) = %d, %v; want %d", c.a, c.b, c.c, r, got, err, want)
			}
		}
	}
}

func TestMulDivRejectsOverflowAndBadOperands(t *testing.T) {
	for _, c := range []struct{ a, b, c int64 }{
		{math.MaxInt64, 61, 60},
		{math.MaxInt64, math.MaxInt64, 1},
		{math.MaxInt64, 2, 1},
	} {
		_, err := pricing.MulDiv(c.a, c.b, c.c, pricing.RoundHalfUp)
		if !errors.Is(err, money.ErrOverflow) || errs.CodeOf(err) != errs.Invalid {
			t.Errorf("MulDiv(%d,%d,%d) = %v, want an invalid overflow", c.a, c.b, c.c, err)
		}
	}
	// (2^64-1)/2 = MaxInt64 remainder 1: down fits, half up and up do not.
	const a, b = 65535, 281479271743489 // a*b = 2^64-1
	if got, err := pricing.MulDiv(a, b, 2, pricing.RoundDown); err != nil || got != math.MaxInt64 {
		t.Errorf("down = %d, %v; want MaxInt64", got, err)
	}
	for _, r := range []pricing.Rounding{pricing.RoundHalfUp, pricing.RoundUp} {
		if _, err := pricing.MulDiv(a, b, 2, r); !errors.Is(err, money.ErrOverflow) {
			t.Errorf("%v rounding past MaxInt64 = %v, want overflow", r, err)
		}
	}
	for _, c := range []struct{ a, b, c int64 }{{-1, 1, 1}, {1, -1, 1}, {1, 1, 0}, {1, 1, -60}} {
		if _, err := pricing.MulDiv(c.a, c.b, c.c, pricing.RoundHalfUp); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("MulDiv(%d,%d,%d) = %v, want invalid", c.a, c.b, c.c, err)
		}
	}
	if _, err := pricing.MulDiv(1, 1, 1, pricing.Rounding(9)); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("unknown rounding accepted: %v", err)
	}
	if _, err := pricing.Mul(math.MaxInt64, 2); !errors.Is(err, money.ErrOverflow) {
		t.Errorf("Mul overflow = %v", err)
	}
	if p, err := pricing.Mul(-3, 4); p != -12 || err != nil {
		t.Errorf("Mul(-3,4) = %d, %v", p, err)
	}
}

// refRound is the reference: exact rational arithmetic, rounded by the book.
func refRound(num, den *big.Int, r pricing.Rounding) *big.Int {
	neg := (num.Sign() < 0) != (den.Sign() < 0)
	n, d := new(big.Int).Abs(num), new(big.Int).Abs(den)
	q, rem := new(big.Int).QuoRem(n, d, new(big.Int))
	switch r {
	case pricing.RoundHalfUp:
		if new(big.Int).Lsh(rem, 1).Cmp(d) >= 0 {
			q.Add(q, big.NewInt(1))
		}
	case pricing.RoundUp:
		if rem.Sign() != 0 {
			q.Add(q, big.NewInt(1))
		}
	}
	if neg {
		q.Neg(q)
	}
	return q
}

func TestMulDivMatchesBigIntProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := rapid.Int64Min(0).Draw(t, "a")
		b := rapid.Int64Min(0).Draw(t, "b")
		c := rapid.Int64Min(1).Draw(t, "c")
		r := pricing.Rounding(rapid.IntRange(0, 2).Draw(t, "r"))
		want := refRound(new(big.Int).Mul(big.NewInt(a), big.NewInt(b)), big.NewInt(c), r)
		got, err := pricing.MulDiv(a, b, c, r)
		if !want.IsInt64() {
			if !errors.Is(err, money.ErrOverflow) {
				t.Fatalf("want overflow, got %d, %v", got, err)
			}
			return
		}
		if err != nil || got != want.Int64() {
			t.Fatalf("MulDiv(%d,%d,%d,%v) = %d, %v; want %s", a, b, c, r, got, err, want)
		}
	})
}
