package money_test

import (
	"errors"
	"math/big"
	"testing"

	"github.com/camkit/camkit/core/money"
	"github.com/camkit/camkit/sdk/currency"
	"github.com/camkit/camkit/sdk/errs"
)

var rateSeeds = []string{"151.37", "0.0123", "1", "0.9213", "151.20", "0.00665", "400", "0", "0.0", "00.10",
	"-1", "+1", "1e3", "1.", ".5", "1..2", "1/3", " 1", "1 ", "", "0x1F", "١", "NaN", "Inf",
	"0000000000000000000000000000000000000000000000000000000000000001",
	"00000000000000000000000000000000000000000000000000000000000000001",
	"99999999999999999999999999999999.99999999999999999999999999999999"}

// FuzzParseRate reads the same text with the host's ParseRate and the SDK's
// (a currency plugin's own check): both must accept exactly the same rates
// and read the same value, or a rate one side checked would price
// differently on the other. An accepted rate is a positive plain decimal of
// at most MaxRateLen characters.
func FuzzParseRate(f *testing.F) {
	for _, s := range rateSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, herr := money.ParseRate(s)
		sdk, serr := currency.ParseRate(s)
		if (herr == nil) != (serr == nil) {
			t.Fatalf("ParseRate(%q): host %v, %v; sdk %v, %v", s, host, herr, sdk, serr)
		}
		if herr != nil {
			if errs.CodeOf(herr) != errs.Invalid || !errors.Is(herr, money.ErrMalformed) || errs.CodeOf(serr) != errs.Invalid {
				t.Fatalf("ParseRate(%q): host error %v, sdk error %v; want Invalid / ErrMalformed", s, herr, serr)
			}
			return
		}
		if len(s) > money.MaxRateLen || host.Sign() <= 0 {
			t.Fatalf("ParseRate(%q) = %s: want a positive rate of at most %d characters", s, host, money.MaxRateLen)
		}
		if host.Rat().Cmp(sdk) != 0 {
			t.Fatalf("ParseRate(%q): host reads %s, sdk reads %s", s, host.Rat().RatString(), sdk.RatString())
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
		r := money.Rounding(int(rounding) % 3)
		got, err := money.Convert(money.Money{Amount: amount, Currency: src}, rate, dst, r)
		d, perr := money.ParseRate(rate)
		if perr != nil {
			if err == nil {
				t.Fatalf("Convert accepted rate %q that ParseRate refuses (%v): %v", rate, perr, got)
			}
			return
		}
		ef, _ := money.Exponent(src)
		et, _ := money.Exponent(dst)
		q := new(big.Rat).Mul(new(big.Rat).SetInt64(amount), d.Rat())
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
