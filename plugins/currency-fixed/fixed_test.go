package main

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/currency"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/shopspring/decimal"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable now for the converter.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func configured(t *testing.T, settings string) (*converter, *clock) {
	t.Helper()
	clk := &clock{t: t0}
	c := newConverter(clk.now)
	if err := c.Configure(context.Background(), []byte(settings)); err != nil {
		t.Fatalf("Configure(%s): %v", settings, err)
	}
	return c, clk
}

func quote(t *testing.T, c *converter, from, to string) currency.Quote {
	t.Helper()
	req := currency.QuoteRequest{From: from, To: to}
	q, err := c.Quote(context.Background(), req)
	if err != nil {
		t.Fatalf("Quote(%s/%s): %v", from, to, err)
	}
	if err := q.Validate(req); err != nil {
		t.Fatalf("Quote(%s/%s) = %+v: %v", from, to, q, err)
	}
	return q
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

func TestDirectPairsAreQuotedAsConfigured(t *testing.T) {
	c, _ := configured(t, `{"rates": {"EUR/USD": "1.0850", "USD/JPY": "151.20"}}`)
	if q := quote(t, c, "EUR", "USD"); q.Rate != "1.0850" {
		t.Errorf("EUR/USD = %s, want 1.0850", q.Rate)
	}
	if q := quote(t, c, "USD", "JPY"); q.Rate != "151.20" {
		t.Errorf("USD/JPY = %s, want 151.20", q.Rate)
	}
}

func TestDerivedRates(t *testing.T) {
	c, _ := configured(t, `{"rates": {"EUR/USD": "1.0850", "GBP/USD": "1.2700", "USD/JPY": "151.20", "USD/IDR": "16000"}}`)
	for _, tc := range []struct {
		from, to string
		want     string // exact decimal, when the rate is a terminating one
		exact    *big.Rat
	}{
		{"EUR", "JPY", "164.052", nil},                      // 1.085 * 151.2, exact
		{"USD", "EUR", "0.921658986175", rat("1000/1085")},  // 1/1.085 = 0.92165898617511...
		{"JPY", "USD", "0.00661375661376", rat("10/1512")},  // 0.0066137566137566...
		{"IDR", "USD", "0.0000625", rat("1/16000")},         // exact and tiny
		{"EUR", "GBP", "0.854330708661", rat("1085/1270")},  // 0.85433070866141...
		{"JPY", "IDR", "105.820105820", rat("160000/1512")}, // 105.82010582010...
		{"IDR", "JPY", "0.00945", rat("1512/160000")},       // exact
		{"GBP", "EUR", "1.17050691244", rat("1270/1085")},   // 1.1705069124423...
	} {
		got := quote(t, c, tc.from, tc.to).Rate
		if tc.want != "" && rat(got).Cmp(rat(tc.want)) != 0 {
			t.Errorf("%s/%s = %s, want %s", tc.from, tc.to, got, tc.want)
		}
		if tc.exact != nil {
			// 12 significant digits: relative error at most 5e-12.
			diff := new(big.Rat).Sub(rat(got), tc.exact)
			rel := new(big.Rat).Quo(diff.Abs(diff), tc.exact)
			if rel.Cmp(rat("5/1000000000000")) > 0 {
				f, _ := rel.Float64()
				t.Errorf("%s/%s = %s, relative error %.3g", tc.from, tc.to, got, f)
			}
		}
	}
}

func TestDefaultsQuoteEveryPair(t *testing.T) {
	c := newConverter((&clock{t: t0}).now)
	codes := []string{"USD", "EUR", "GBP", "JPY", "CAD", "AUD"}
	for _, a := range codes {
		for _, b := range codes {
			q := quote(t, c, a, b)
			back := quote(t, c, b, a)
			// A rate times its inverse is 1 within the rounding of both.
			prod := new(big.Rat).Mul(rat(q.Rate), rat(back.Rate))
			diff := new(big.Rat).Sub(prod, big.NewRat(1, 1))
			if diff.Abs(diff).Cmp(rat("1/10000000000")) > 0 {
				t.Errorf("%s/%s = %s and %s/%s = %s do not invert", a, b, q.Rate, b, a, back.Rate)
			}
		}
	}
}

func TestUnknownCurrencies(t *testing.T) {
	c, _ := configured(t, `{"rates": {"EUR/GBP": "0.8500"}}`)
	for _, p := range [][2]string{{"CHF", "USD"}, {"USD", "CHF"}, {"CHF", "CHF"}, {"EUR", "USD"}, {"EUR", "JPY"}} {
		_, err := c.Quote(context.Background(), currency.QuoteRequest{From: p[0], To: p[1]})
		if errs.CodeOf(err) != errs.UnknownCurrency {
			t.Errorf("%s/%s: %v, want errs.UnknownCurrency", p[0], p[1], err)
		}
	}
	// A non-USD pair still works directly and inverted.
	if q := quote(t, c, "GBP", "EUR"); q.Rate != "1.17647058824" {
		t.Errorf("GBP/EUR = %s, want 1.17647058824", q.Rate)
	}
}

func TestQuoteTimesAndIDs(t *testing.T) {
	c, clk := configured(t, `{"quote_ttl_seconds": 90}`)
	clk.t = t0.Add(time.Hour)
	ids := map[string]bool{}
	for i := 0; i < 1000; i++ {
		q := quote(t, c, "EUR", "USD")
		if !q.AsOf.Equal(t0) {
			t.Fatalf("as-of %s, want the configure time %s", q.AsOf, t0)
		}
		if want := clk.t.Add(90 * time.Second); !q.ExpiresAt.Equal(want) {
			t.Fatalf("expires %s, want %s", q.ExpiresAt, want)
		}
		if ids[q.QuoteID] {
			t.Fatalf("quote id %s repeated after %d quotes", q.QuoteID, i)
		}
		ids[q.QuoteID] = true
	}
}

func TestConfigureRejects(t *testing.T) {
	for settings, mention := range map[string]string{
		`{"rates": {"EUR/USD": "abc"}}`:                     `"EUR/USD"`,
		`{"rates": {"EUR/USD": "-1.08"}}`:                   `"EUR/USD"`,
		`{"rates": {"EUR/USD": "0"}}`:                       `"EUR/USD"`,
		`{"rates": {"EUR/USD": "1.08e0"}}`:                  `"EUR/USD"`,
		`{"rates": {"EUR/USD": 1.085}}`:                     `"EUR/USD"`,
		`{"rates": {"EUR/USD": "1.08", "GBP/USD": "x"}}`:    `"GBP/USD"`,
		`{"rates": {"EURUSD": "1.08"}}`:                     `"EURUSD"`,
		`{"rates": {"EUR/XYZ": "1.08"}}`:                    `"XYZ"`,
		`{"rates": {"EUR/EUR": "1"}}`:                       `"EUR/EUR"`,
		`{"rates": {"EUR/USD": "1.08", "USD/EUR": "0.92"}}`: "both given",
		`{"rates": {}}`:                                     "rates is empty",
		`{"quote_ttl_seconds": 0}`:                          "quote_ttl_seconds",
		`{"quote_ttl_seconds": -5}`:                         "quote_ttl_seconds",
		`{"quote_ttl_seconds": 86401}`:                      "quote_ttl_seconds",
		`{"rate": {"EUR/USD": "1.08"}}`:                     `"rate"`,
		`[1]`:                                               "settings",
	} {
		c, _ := configured(t, `{"rates": {"EUR/USD": "2.0000"}}`)
		err := c.Configure(context.Background(), []byte(settings))
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), mention) {
			t.Errorf("Configure(%s) = %v, want errs.Invalid mentioning %s", settings, err, mention)
			continue
		}
		// A refused configuration leaves the previous one in force.
		if q := quote(t, c, "EUR", "USD"); q.Rate != "2.0000" {
			t.Errorf("after refusing %s, EUR/USD = %s, want the previous 2.0000", settings, q.Rate)
		}
	}
}

func TestDivideKeepsSignificantDigits(t *testing.T) {
	for _, tc := range []struct{ num, den, want string }{
		{"1", "3", "0.333333333333"},
		{"2", "3", "0.666666666667"},
		{"10", "3", "3.33333333333"},
		{"1", "7", "0.142857142857"},
		{"1000000", "3", "333333.333333"},
		{"1", "3000000", "0.000000333333333333"},
		{"1", "1", "1"},
		{"99999999999999", "100000000000000", "1"},
		{"123456789012345", "1000", "123456789012"},
		{"123456789012567", "1000", "123456789013"},
		{"999999999999999", "1000000000000000", "1"},
	} {
		got := divide(decimal.RequireFromString(tc.num), decimal.RequireFromString(tc.den))
		if got != tc.want {
			t.Errorf("divide(%s, %s) = %s, want %s", tc.num, tc.den, got, tc.want)
		}
	}
}

func TestDefaultTableIsValid(t *testing.T) {
	// newConverter panics if a default rate stops passing its own validation.
	defer func() {
		if r := recover(); r != nil {
			t.Fatal(fmt.Sprint(r))
		}
	}()
	newConverter(time.Now)
}
