package money

import (
	"errors"
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

// decimalGrammar is what ParseDecimal documents: an optional sign, digits,
// and an optional fraction of at least one digit (".5" but not "5.").
var decimalGrammar = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]+)?|\.[0-9]+)$`)

// referenceMinor is an independent reading of s in minor units of c, with
// big.Rat: ok is false when s is outside the grammar or is not a whole
// number of minor units; the int64 range is left to the caller.
func referenceMinor(s string, c Currency) (*big.Int, bool) {
	if !decimalGrammar.MatchString(s) {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, false
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.Exponent)), nil)))
	if !r.IsInt() {
		return nil, false
	}
	return new(big.Int).Set(r.Num()), true
}

// FuzzParseDecimal checks ParseDecimal against a big.Rat reading of the same
// text: it accepts exactly the documented grammar, never rounds, refuses what
// int64 minor units cannot hold (math.MinInt64 included, so every parsed
// amount can be negated), and what it accepts formats back to the same value.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"12.34", "12.3", "12", ".5", "-0.01", "+3", "1.005", "12.340000", "0", "-0",
		"92233720368547758.07", "92233720368547758.08", "-92233720368547758.07", "-92233720368547758.08",
		"9223372036854775807", "99999999999999999999999", "12.345", "1.5", "", ".", "1.", "1e3", "1,00", " 1",
		"--1", "+-1", "0x10", "١٢", "00000000000000000000000000001.00", "5000.00", "19.99"} {
		for _, cur := range []byte{0, 1, 2, 3} { // USD, JPY, BHD, CLF: exponents 2, 0, 3, 4
			f.Add(s, cur)
		}
	}
	codes := Codes()
	picks := []string{"USD", "JPY", "BHD", "CLF"}
	f.Fuzz(func(t *testing.T, s string, pick byte) {
		code := codes[int(pick)%len(codes)]
		if int(pick) < len(picks) {
			code = picks[pick]
		}
		c, _ := Lookup(code)
		m, err := ParseDecimal(s, code)
		want, ok := referenceMinor(s, c)
		inRange := ok && want.IsInt64() && want.Int64() != math.MinInt64
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrOverflow) {
				t.Fatalf("ParseDecimal(%q, %s): error %v is neither ErrMalformed nor ErrOverflow", s, code, err)
			}
			if inRange {
				t.Fatalf("ParseDecimal(%q, %s) refused a representable amount (%s minor units): %v", s, code, want, err)
			}
			return
		}
		if !inRange {
			t.Fatalf("ParseDecimal(%q, %s) = %v, but the text is not a representable %s amount", s, code, m, code)
		}
		if m.Currency != code || m.Amount != want.Int64() {
			t.Fatalf("ParseDecimal(%q, %s) = %v, want %s minor units", s, code, m, want)
		}
		d, err := FormatDecimal(m)
		if err != nil {
			t.Fatalf("FormatDecimal(%v): %v", m, err)
		}
		back, err := ParseDecimal(d, code)
		if err != nil || back != m {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, m, d, back, err)
		}
	})
}

// FuzzFormatDecimal checks the other direction: FormatDecimal writes exactly
// the currency's exponent of fraction digits, and ParseDecimal reads it back
// to the same Money, for every int64 but math.MinInt64 (refused as ErrOverflow).
func FuzzFormatDecimal(f *testing.F) {
	for _, a := range []int64{0, 1, -1, 5, 1234, -1234, 1005, 99, 100, math.MaxInt64, math.MinInt64, math.MinInt64 + 1} {
		for _, cur := range []byte{0, 1, 2, 3} {
			f.Add(a, cur)
		}
	}
	codes := Codes()
	picks := []string{"USD", "JPY", "BHD", "CLF"}
	f.Fuzz(func(t *testing.T, amount int64, pick byte) {
		code := codes[int(pick)%len(codes)]
		if int(pick) < len(picks) {
			code = picks[pick]
		}
		c, _ := Lookup(code)
		m := Money{Amount: amount, Currency: code}
		d, err := FormatDecimal(m)
		if err != nil {
			t.Fatalf("FormatDecimal(%v): %v", m, err)
		}
		shape := `^-?[0-9]+$`
		if c.Exponent > 0 {
			shape = `^-?[0-9]+\.[0-9]{` + string(rune('0'+c.Exponent)) + `}$`
		}
		if !regexp.MustCompile(shape).MatchString(d) || strings.HasPrefix(strings.TrimPrefix(d, "-"), "00") {
			t.Fatalf("FormatDecimal(%v) = %q, want the shape %s without leading zeros", m, d, shape)
		}
		back, err := ParseDecimal(d, code)
		if amount == math.MinInt64 {
			if !errors.Is(err, ErrOverflow) {
				t.Fatalf("ParseDecimal(%q) = %v, %v; want ErrOverflow (math.MinInt64 cannot be negated)", d, back, err)
			}
			return
		}
		if err != nil || back != m {
			t.Fatalf("%v -> %q -> %v, %v", m, d, back, err)
		}
	})
}
