package pricing_test

import (
	"errors"
	"math/big"
	"regexp"
	"testing"

	"github.com/camkit/camkit/core/money"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/errs"
)

var rateSeeds = []string{"151.37", "0.0123", "1", "0.9213", "151.20", "0.00665", "400", "0", "0.0", "00.10",
	"-1", "+1", "1e3", "1.", ".5", "1..2", "1/3", " 1", "1 ", "", "0x1F", "١", "NaN", "Inf",
	"0000000000000000000000000000000000000000000000000000000000000001",
	"00000000000000000000000000000000000000000000000000000000000000001",
	"99999999999999999999999999999999.99999999999999999999999999999999"}

// FuzzParseRate holds ParseRate to the rate format: it accepts exactly the
// positive plain decimals of at most 64 characters (digits, at most one inner
// dot) and reads them exactly; anything else is an Invalid ErrMalformed.
func FuzzParseRate(f *testing.F) {
	for _, s := range rateSeeds {
		f.Add(s)
	}
	plain := regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := pricing.ParseRate(s)
		exact, ok := new(big.Rat).SetString(s)
		valid := plain.MatchString(s) && len(s) <= 64 && ok && exact.Sign() > 0
		if err != nil {
			if valid {
				t.Fatalf("ParseRate(%q) refused a plain positive decimal: %v", s, err)
			}
			if errs.CodeOf(err) != errs.Invalid || !errors.Is(err, money.ErrMalformed) {
				t.Fatalf("ParseRate(%q): error %v, want Invalid / ErrMalformed", s, err)
			}
			return
		}
		if !valid {
			t.Fatalf("ParseRate(%q) = %s: accepted text that is not a positive plain decimal of at most 64 characters", s, got)
		}
		if got.Cmp(exact) != 0 {
			t.Fatalf("ParseRate(%q) reads %s, want %s", s, got.RatString(), exact.RatString())
		}
	})
}

// FuzzConvert converts an amount at a rate text as a currency plugin might
// send it: either the rate is refused, or the result is the exact rational
// product rounded once the documented way, or ErrOverflow.
func FuzzConvert(f *testing.F) {
	for i, s := range rateSeeds {
		f.Add(int64(1234)*int64(i+1), s, byte(i), byte(i+1), byte(i%3))
	}
	f.Add(int64(1), "150.5", byte(0), byte(1), byte(0))
	f.Add(int64(-1), "0.0025", byte(1), byte(2), byte(2))
	f.Add(int64(9223372036854775807), "1.5", byte(1), byte(0), byte(0))
	codes := []string{"USD", "JPY", "BHD", "CLF", "KRW", "KWD", "EUR"}
	f.Fuzz(func(t *testing.T, amount int64, rate string, from, to, rounding byte) {
		src, dst := codes[int(from)%len(codes)], codes[int(to)%len(codes)]
		r := pricing.Rounding(int(rounding) % 3)
		got, err := pricing.Convert(money.Money{Amount: amount, Currency: src}, rate, dst, r)
		d, perr := pricing.ParseRate(rate)
		if perr != nil {
			if err == nil {
				t.Fatalf("Convert accepted rate %q that ParseRate refuses (%v): %v", rate, perr, got)
			}
			return
		}
		ef, _ := money.Exponent(src)
		et, _ := money.Exponent(dst)
		q := new(big.Rat).Mul(new(big.Rat).SetInt64(amount), d)
		scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(et-ef))), nil))
		if et >= ef {
			q.Mul(q, scale)
		} else {
			q.Quo(q, scale)
		}
		want := refRound(q.Num(), q.Denom(), r)
		if !want.IsInt64() {
			if !errors.Is(err, money.ErrOverflow) {
				t.Fatalf("Convert(%d %s @%s -> %s, %v) = %v, %v; want ErrOverflow", amount, src, rate, dst, r, got, err)
			}
			return
		}
		if err != nil || got != (money.Money{Amount: want.Int64(), Currency: dst}) {
			t.Fatalf("Convert(%d %s @%s -> %s, %v) = %v, %v; want %s", amount, src, rate, dst, r, got, err, want)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
