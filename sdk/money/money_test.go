package money

import (
	"errors"
	"math"
	"testing"

	"pgregory.net/rapid"
)

func TestFormatDecimalUsesTheCurrencyExponent(t *testing.T) {
	for _, tc := range []struct {
		m    Money
		want string
	}{
		{Money{1234, "USD"}, "12.34"},
		{Money{5, "USD"}, "0.05"},
		{Money{-5, "USD"}, "-0.05"},
		{Money{0, "EUR"}, "0.00"},
		{Money{5, "JPY"}, "5"},
		{Money{1005, "BHD"}, "1.005"},
		{Money{7, "BHD"}, "0.007"},
		{Money{12345, "CLF"}, "1.2345"},
		{Money{math.MaxInt64, "USD"}, "92233720368547758.07"},
		{Money{math.MinInt64, "USD"}, "-92233720368547758.08"},
	} {
		got, err := FormatDecimal(tc.m)
		if err != nil || got != tc.want {
			t.Errorf("FormatDecimal(%v) = %q, %v; want %q", tc.m, got, err, tc.want)
		}
	}
	if _, err := FormatDecimal(Money{1, "XXX"}); !errors.Is(err, ErrUnknownCurrency) {
		t.Errorf("unknown currency: %v", err)
	}
}

func TestParseDecimalIsExactAndRefusesWhatItCannotRepresent(t *testing.T) {
	ok := []struct {
		in, cur string
		want    int64
	}{
		{"12.34", "USD", 1234}, {"12.3", "USD", 1230}, {"12", "USD", 1200}, {".5", "USD", 50},
		{"-0.01", "USD", -1}, {"+3", "JPY", 3}, {"1.005", "BHD", 1005}, {"12.340000", "USD", 1234},
		{"0", "USD", 0}, {"92233720368547758.07", "USD", math.MaxInt64},
	}
	for _, tc := range ok {
		got, err := ParseDecimal(tc.in, tc.cur)
		if err != nil || got.Amount != tc.want || got.Currency != tc.cur {
			t.Errorf("ParseDecimal(%q, %s) = %v, %v; want %d", tc.in, tc.cur, got, err, tc.want)
		}
	}
	bad := []struct {
		in, cur string
		want    error
	}{
		{"12.345", "USD", ErrMalformed}, {"1.5", "JPY", ErrMalformed}, {"", "USD", ErrMalformed},
		{".", "USD", ErrMalformed}, {"1.", "USD", ErrMalformed}, {"1e3", "USD", ErrMalformed},
		{"1,00", "USD", ErrMalformed}, {" 1", "USD", ErrMalformed}, {"--1", "USD", ErrMalformed},
		{"92233720368547758.08", "USD", ErrOverflow}, {"99999999999999999999999", "USD", ErrOverflow},
		{"1", "usd", ErrUnknownCurrency}, {"1", "ABC", ErrUnknownCurrency},
	}
	for _, tc := range bad {
		if _, err := ParseDecimal(tc.in, tc.cur); !errors.Is(err, tc.want) {
			t.Errorf("ParseDecimal(%q, %s) = %v; want %v", tc.in, tc.cur, err, tc.want)
		}
	}
}

func TestFormatThenParseRoundTrips(t *testing.T) {
	codes := Codes()
	rapid.Check(t, func(t *rapid.T) {
		m := Money{
			Amount:   rapid.Int64Range(math.MinInt64+1, math.MaxInt64).Draw(t, "amount"),
			Currency: rapid.SampledFrom(codes).Draw(t, "currency"),
		}
		s, err := FormatDecimal(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseDecimal(s, m.Currency)
		if err != nil || back != m {
			t.Fatalf("%v -> %q -> %v, %v", m, s, back, err)
		}
	})
}

func TestArithmeticChecksCurrencyAndOverflow(t *testing.T) {
	a := Money{math.MaxInt64, "USD"}
	if _, err := a.Add(Money{1, "USD"}); !errors.Is(err, ErrOverflow) {
		t.Errorf("overflowing add: %v", err)
	}
	if _, err := (Money{math.MinInt64, "USD"}).Sub(Money{1, "USD"}); !errors.Is(err, ErrOverflow) {
		t.Errorf("overflowing sub: %v", err)
	}
	if _, err := (Money{1, "USD"}).Sub(Money{math.MinInt64, "USD"}); !errors.Is(err, ErrOverflow) {
		t.Errorf("sub of MinInt64: %v", err)
	}
	if _, err := (Money{1, "USD"}).Add(Money{1, "EUR"}); !errors.Is(err, ErrCurrencyMismatch) {
		t.Errorf("mixed currencies: %v", err)
	}
	if s, err := (Money{250, "USD"}).Add(Money{-50, "USD"}); err != nil || s != (Money{200, "USD"}) {
		t.Errorf("add = %v, %v", s, err)
	}
	if _, ok := MulInt64(math.MaxInt64, 2); ok {
		t.Error("MulInt64 overflow not detected")
	}
	if _, ok := MulInt64(math.MinInt64, -1); ok {
		t.Error("MulInt64(MinInt64, -1) overflow not detected")
	}
	if p, ok := MulInt64(-3, 7); !ok || p != -21 {
		t.Errorf("MulInt64(-3,7) = %d, %v", p, ok)
	}
	if err := (Money{0, "USD"}).Validate(true); !errors.Is(err, ErrNotPositive) {
		t.Errorf("zero must not be positive: %v", err)
	}
}

func TestCurrencyTable(t *testing.T) {
	for code, want := range map[string]Currency{"USD": {"USD", 840, 2}, "JPY": {"JPY", 392, 0}, "BHD": {"BHD", 48, 3}, "EUR": {"EUR", 978, 2}} {
		got, err := Lookup(code)
		if err != nil || got != want {
			t.Errorf("Lookup(%s) = %v, %v", code, got, err)
		}
		byNum, err := LookupNumeric(want.Numeric)
		if err != nil || byNum != want {
			t.Errorf("LookupNumeric(%d) = %v, %v", want.Numeric, byNum, err)
		}
	}
	if c, err := Normalize(" eur "); err != nil || c != "EUR" {
		t.Errorf("Normalize = %q, %v", c, err)
	}
	seen := map[int]string{}
	for _, c := range Codes() {
		cur, _ := Lookup(c)
		if prev, dup := seen[cur.Numeric]; dup {
			t.Errorf("numeric %d used by %s and %s", cur.Numeric, prev, c)
		}
		seen[cur.Numeric] = c
	}
}
