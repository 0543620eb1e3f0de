package currency

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

func TestParseRateAcceptsPlainPositiveDecimals(t *testing.T) {
	for in, want := range map[string]string{
		"1":           "1/1",
		"0.9213":      "9213/10000",
		"151.20":      "756/5",
		"0.000000001": "1/1000000000",
		"007.50":      "15/2",
	} {
		r, err := ParseRate(in)
		if err != nil {
			t.Errorf("ParseRate(%q): %v", in, err)
			continue
		}
		w, _ := new(big.Rat).SetString(want)
		if r.Cmp(w) != 0 {
			t.Errorf("ParseRate(%q) = %s, want %s", in, r, want)
		}
	}
}

func TestParseRateRejectsAnythingElse(t *testing.T) {
	for _, in := range []string{
		"", "0", "0.000", "-1", "+1", "1e3", "1E-2", "1/3", ".5", "5.", "1.2.3", " 1", "1 ", "1,5",
		"NaN", "Inf", "0x10", "١", strings.Repeat("1", maxRateLen+1),
	} {
		if r, err := ParseRate(in); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("ParseRate(%q) = %v, %v; want an errs.Invalid error", in, r, err)
		}
	}
}

func validQuote() Quote {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return Quote{From: "EUR", To: "USD", Rate: "1.0850", QuoteID: "q1", Source: "fixed", AsOf: at, ExpiresAt: at.Add(5 * time.Minute)}
}

func TestQuoteValidate(t *testing.T) {
	req := QuoteRequest{From: "EUR", To: "USD"}
	if err := validQuote().Validate(req); err != nil {
		t.Fatalf("valid quote: %v", err)
	}
	same := validQuote()
	same.To, same.Rate = "EUR", "1.000"
	if err := same.Validate(QuoteRequest{From: "EUR", To: "EUR"}); err != nil {
		t.Errorf("same-currency quote of 1.000: %v", err)
	}
	for name, mutate := range map[string]func(*Quote){
		"wrong pair":       func(q *Quote) { q.From, q.To = "USD", "EUR" },
		"float rate":       func(q *Quote) { q.Rate = "1.085e0" },
		"zero rate":        func(q *Quote) { q.Rate = "0.0" },
		"no id":            func(q *Quote) { q.QuoteID = "" },
		"no source":        func(q *Quote) { q.Source = "" },
		"no as-of":         func(q *Quote) { q.AsOf = time.Time{} },
		"expires at as-of": func(q *Quote) { q.ExpiresAt = q.AsOf },
		"expires before":   func(q *Quote) { q.ExpiresAt = q.AsOf.Add(-time.Second) },
	} {
		q := validQuote()
		mutate(&q)
		if err := q.Validate(req); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%s: Validate = %v, want errs.Invalid", name, err)
		}
	}
	notOne := validQuote()
	notOne.To, notOne.Rate = "EUR", "1.0001"
	if err := notOne.Validate(QuoteRequest{From: "EUR", To: "EUR"}); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("same-currency rate 1.0001: Validate = %v, want errs.Invalid", err)
	}
}

func TestQuoteExpired(t *testing.T) {
	q := validQuote()
	if q.Expired(q.ExpiresAt.Add(-time.Nanosecond)) {
		t.Error("expired a nanosecond before expiry")
	}
	if !q.Expired(q.ExpiresAt) {
		t.Error("not expired at expiry")
	}
}

func TestQuoteRequestValidate(t *testing.T) {
	if err := (QuoteRequest{From: "JPY", To: "BHD"}).Validate(); err != nil {
		t.Errorf("JPY/BHD: %v", err)
	}
	for _, r := range []QuoteRequest{{From: "usd", To: "EUR"}, {From: "USD", To: "ZZZ"}, {From: "", To: "EUR"}} {
		if err := r.Validate(); errs.CodeOf(err) != errs.UnknownCurrency {
			t.Errorf("%+v: Validate = %v, want errs.UnknownCurrency", r, err)
		}
	}
}
