package pricing_test

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/camkit/camkit/core/money"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/errs"
)

func TestConvertExact(t *testing.T) {
	for _, c := range []struct {
		amount   int64
		from     string
		rate, to string
		r        pricing.Rounding
		want     int64
	}{
		// USD -> JPY (exponent 0): 12.34 * 151.37 = 1867.9058
		{1234, "USD", "151.37", "JPY", pricing.RoundHalfUp, 1868},
		{1234, "USD", "151.37", "JPY", pricing.RoundDown, 1867},
		{1234, "USD", "151.37", "JPY", pricing.RoundUp, 1868},
		// exactly half a yen: 0.01 USD * 150.5 = 1.505 JPY -> 2 half up
		{1, "USD", "150.5", "JPY", pricing.RoundHalfUp, 2},
		{1, "USD", "149.5", "JPY", pricing.RoundHalfUp, 1}, // 1.495
		// JPY -> USD: 1000 yen * 0.0066 = 6.60 USD
		{1000, "JPY", "0.0066", "USD", pricing.RoundHalfUp, 660},
		{1, "JPY", "0.00665", "USD", pricing.RoundHalfUp, 1}, // 0.665 cents
		{1, "JPY", "0.00649", "USD", pricing.RoundHalfUp, 1}, // 0.649 cents
		{1, "JPY", "0.00449", "USD", pricing.RoundHalfUp, 0}, // 0.449 cents
		{1, "JPY", "0.00001", "USD", pricing.RoundUp, 1},     // a hold covers a sliver
		// USD -> BHD (exponent 3): 10.00 * 0.376 = 3.760 BHD
		{1000, "USD", "0.376", "BHD", pricing.RoundHalfUp, 3760},
		// 0.01 USD * 0.3765 = 0.003765 BHD -> 4 fils half up, 3 down
		{1, "USD", "0.3765", "BHD", pricing.RoundHalfUp, 4},
		{1, "USD", "0.3765", "BHD", pricing.RoundDown, 3},
		// BHD -> USD: 1 fils * 2.65 = 0.265 cents -> 0; 2 fils = 0.53 cents -> 1
		{1, "BHD", "2.65", "USD", pricing.RoundHalfUp, 0},
		{2, "BHD", "2.65", "USD", pricing.RoundHalfUp, 1}, // 0.53 cents
		// BHD -> JPY: 1.005 BHD * 400 = 402 JPY
		{1005, "BHD", "400", "JPY", pricing.RoundHalfUp, 402},
		// JPY -> BHD: 1 yen * 0.0025 = 0.0025 BHD = 2.5 fils -> 3 (half away from zero)
		{1, "JPY", "0.0025", "BHD", pricing.RoundHalfUp, 3},
		// negatives round on the magnitude
		{-1, "USD", "150.5", "JPY", pricing.RoundHalfUp, -2},
		{-1, "JPY", "0.0025", "BHD", pricing.RoundDown, -2},
		{-1, "JPY", "0.0025", "BHD", pricing.RoundUp, -3},
		{0, "USD", "151.37", "JPY", pricing.RoundUp, 0},
	} {
		got, err := pricing.Convert(money.Money{Amount: c.amount, Currency: c.from}, c.rate, c.to, c.r)
		if err != nil || got != (money.Money{Amount: c.want, Currency: c.to}) {
			t.Errorf("Convert(%d %s @%s -> %s, %v) = %v, %v; want %d", c.amount, c.from, c.rate, c.to, c.r, got, err, c.want)
		}
	}
}

func TestConvertRejectsBadInput(t *testing.T) {
	usd := money.Money{Amount: 100, Currency: "USD"}
	for _, rate := range []string{"", "0", "0.000", "-1.2", "+1.2", "1e3", "1.", ".5", "1..2", "1.2.3", " 1.2", "1,2", "NaN", "Inf", strings.Repeat("1", 65)} {
		_, err := pricing.Convert(usd, rate, "JPY", pricing.RoundHalfUp)
		if errs.CodeOf(err) != errs.Invalid || !errors.Is(err, money.ErrMalformed) {
			t.Errorf("rate %q: err = %v, want invalid/malformed", rate, err)
		}
	}
	if _, err := pricing.Convert(usd, "1", "XYZ", pricing.RoundHalfUp); errs.CodeOf(err) != errs.UnknownCurrency {
		t.Errorf("unknown target: %v", err)
	}
	if _, err := pricing.Convert(money.Money{Amount: 1, Currency: "ABC"}, "1", "USD", pricing.RoundHalfUp); errs.CodeOf(err) != errs.UnknownCurrency {
		t.Errorf("unknown source: %v", err)
	}
	if _, err := pricing.Convert(usd, "1", "JPY", pricing.Rounding(7)); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("unknown rounding: %v", err)
	}
	// Overflow: MaxInt64 cents to yen at 151 needs more than 63 bits.
	_, err := pricing.Convert(money.Money{Amount: math.MaxInt64, Currency: "USD"}, "151", "JPY", pricing.RoundHalfUp)
	if !errors.Is(err, money.ErrOverflow) || errs.CodeOf(err) != errs.Invalid {
		t.Errorf("overflow: %v", err)
	}
	// The largest amount that still fits is accepted: MaxInt64 yen -> yen at 1.
	got, err := pricing.Convert(money.Money{Amount: math.MaxInt64, Currency: "JPY"}, "1", "KRW", pricing.RoundHalfUp)
	if err != nil || got.Amount != math.MaxInt64 {
		t.Errorf("MaxInt64 at rate 1 = %v, %v", got, err)
	}
}

// Reference: amount * rate * 10^(eTo-eFrom) as an exact fraction of big ints.
func TestConvertMatchesRationalArithmeticProperty(t *testing.T) {
	codes := []string{"JPY", "USD", "BHD", "CLF", "KRW", "KWD", "EUR"}
	rapid.Check(t, func(t *rapid.T) {
		from := rapid.SampledFrom(codes).Draw(t, "from")
		to := rapid.SampledFrom(codes).Draw(t, "to")
		amount := rapid.Int64Range(-1e15, 1e15).Draw(t, "amount")
		intPart := rapid.Int64Range(0, 100000).Draw(t, "int")
		fracDigits := rapid.IntRange(0, 12).Draw(t, "fracDigits")
		frac := rapid.Int64Range(0, 999999999999).Draw(t, "frac")
		rate := big.NewInt(intPart).String()
		fs := ""
		if fracDigits > 0 {
			fs = big.NewInt(frac).String()
			for len(fs) < 12 {
				fs = "0" + fs
			}
			fs = fs[:fracDigits]
			rate += "." + fs
		}
		r := pricing.Rounding(rapid.IntRange(0, 2).Draw(t, "r"))

		rateNum, _ := new(big.Int).SetString(big.NewInt(intPart).String()+fs, 10)
		rateDen := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(fs))), nil)
		ef, _ := money.Exponent(from)
		et, _ := money.Exponent(to)
		num := new(big.Int).Mul(big.NewInt(amount), rateNum)
		den := new(big.Int).Set(rateDen)
		if et >= ef {
			num.Mul(num, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(et-ef)), nil))
		} else {
			den.Mul(den, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(ef-et)), nil))
		}
		got, err := pricing.Convert(money.Money{Amount: amount, Currency: from}, rate, to, r)
		if rateNum.Sign() == 0 {
			if err == nil {
				t.Fatalf("zero rate %q accepted", rate)
			}
			return
		}
		want := refRound(num, den, r)
		if !want.IsInt64() {
			if !errors.Is(err, money.ErrOverflow) {
				t.Fatalf("want overflow, got %v, %v", got, err)
			}
			return
		}
		if err != nil || got.Amount != want.Int64() || got.Currency != to {
			t.Fatalf("Convert(%d %s @%s -> %s, %v) = %v, %v; want %s", amount, from, rate, to, r, got, err, want)
		}
	})
}
