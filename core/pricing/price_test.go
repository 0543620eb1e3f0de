package pricing_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/camkit/camkit/core/money"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/errs"
)

func usd(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }

func policy(rate money.Money, g pricing.Granularity, minimum money.Money, grace int64) pricing.Policy {
	p := pricing.DefaultPolicy(rate)
	p.Granularity, p.MinimumCharge, p.GraceSeconds = g, minimum, grace
	return p
}

func fx(rate, to string) *pricing.FXQuote {
	return &pricing.FXQuote{Rate: rate, QuoteID: "q-1", Source: "test", PaymentCurrency: to,
		ExpiresAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func TestPriceAllGranularitiesWithMinimumAndGrace(t *testing.T) {
	none := money.Money{}
	for _, c := range []struct {
		name    string
		g       pricing.Granularity
		minimum money.Money
		grace   int64
		secs    int64
		want    int64
	}{
		// $1.99 a minute, per second: round_half_up(199 * s / 60)
		{"second 0s", pricing.PerSecond, none, 0, 0, 0},
		{"second 1s", pricing.PerSecond, none, 0, 1, 3},             // 3.3167
		{"second 30s half up", pricing.PerSecond, none, 0, 30, 100}, // 99.5
		{"second 59s", pricing.PerSecond, none, 0, 59, 196},         // 195.68
		{"second 60s", pricing.PerSecond, none, 0, 60, 199},
		{"second 61s", pricing.PerSecond, none, 0, 61, 202},         // 202.32
		{"second 90s half up", pricing.PerSecond, none, 0, 90, 299}, // 298.5
		{"second 1h", pricing.PerSecond, none, 0, 3600, 11940},
		// every started minute
		{"started 0s", pricing.PerStartedMinute, none, 0, 0, 0},
		{"started 1s", pricing.PerStartedMinute, none, 0, 1, 199},
		{"started 60s", pricing.PerStartedMinute, none, 0, 60, 199},
		{"started 61s", pricing.PerStartedMinute, none, 0, 61, 398},
		// completed minutes only
		{"completed 59s", pricing.PerCompletedMinute, none, 0, 59, 0},
		{"completed 60s", pricing.PerCompletedMinute, none, 0, 60, 199},
		{"completed 119s", pricing.PerCompletedMinute, none, 0, 119, 199},
		{"completed 120s", pricing.PerCompletedMinute, none, 0, 120, 398},
		// grace is a threshold: inside it free, past it every second counts
		{"second grace 10 at 10s", pricing.PerSecond, none, 10, 10, 0},
		{"second grace 10 at 11s", pricing.PerSecond, none, 10, 11, 36}, // 36.48: grace not deducted
		{"started grace 10 at 10s", pricing.PerStartedMinute, none, 10, 10, 0},
		{"started grace 10 at 11s", pricing.PerStartedMinute, none, 10, 11, 199},
		{"completed grace 70 at 70s", pricing.PerCompletedMinute, none, 70, 70, 0},
		{"completed grace 70 at 71s", pricing.PerCompletedMinute, none, 70, 71, 199},
		// the minimum lifts a non-zero price and leaves zero alone
		{"second min 5.00 at 0s", pricing.PerSecond, usd(500), 0, 0, 0},
		{"second min 5.00 at 1s", pricing.PerSecond, usd(500), 0, 1, 500},
		{"second min 5.00 at 151s", pricing.PerSecond, usd(500), 0, 151, 501},
		{"started min 5.00 at 1s", pricing.PerStartedMinute, usd(500), 0, 1, 500},
		{"started min 5.00 at 181s", pricing.PerStartedMinute, usd(500), 0, 181, 796},
		{"completed min 5.00 at 59s", pricing.PerCompletedMinute, usd(500), 0, 59, 0},
		{"completed min 5.00 at 60s", pricing.PerCompletedMinute, usd(500), 0, 60, 500},
		{"completed min 5.00 at 180s", pricing.PerCompletedMinute, usd(500), 0, 180, 597},
		// both
		{"second grace 30 min 1.00 at 30s", pricing.PerSecond, usd(100), 30, 30, 0},
		{"second grace 30 min 1.00 at 31s", pricing.PerSecond, usd(100), 30, 31, 103}, // 102.8
		{"second grace 30 min 2.00 at 31s", pricing.PerSecond, usd(200), 30, 31, 200},
		{"zero minimum in currency", pricing.PerSecond, usd(0), 0, 1, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := policy(usd(199), c.g, c.minimum, c.grace)
			got, err := pricing.Price(p, c.secs)
			if err != nil || got != usd(c.want) {
				t.Fatalf("Price(%d s) = %v, %v; want %v", c.secs, got, err, usd(c.want))
			}
			// Without a quote the payment price is the same.
			pp, err := pricing.PriceInPaymentCurrency(p, c.secs)
			if err != nil || pp != got {
				t.Fatalf("PriceInPaymentCurrency = %v, %v; want %v", pp, err, got)
			}
		})
	}
}

func TestPriceIsComputedOnceFromTheTotal(t *testing.T) {
	p := policy(usd(1), pricing.PerSecond, money.Money{}, 0) // one cent a minute
	whole, err := pricing.Price(p, 90)
	if err != nil {
		t.Fatal(err)
	}
	var parts int64
	for range 3 {
		part, _ := pricing.Price(p, 30) // 0.5 -> 1 each
		parts += part.Amount
	}
	if whole.Amount != 2 || parts != 3 {
		t.Fatalf("Price(90 s) = %v (want 2), sum of three 30 s prices = %d (3): a sum of rounded parts is wrong", whole, parts)
	}
}

func TestPriceInCurrencyWithoutMinorUnits(t *testing.T) {
	p := policy(money.Money{Amount: 300, Currency: "JPY"}, pricing.PerSecond, money.Money{}, 0)
	for secs, want := range map[int64]int64{1: 5, 3: 15, 7: 35, 61: 305} {
		got, err := pricing.Price(p, secs)
		if err != nil || got.Amount != want || got.Currency != "JPY" {
			t.Errorf("Price(%d s) = %v, %v; want %d JPY", secs, got, err, want)
		}
	}
	p.RatePerMinute.Amount = 7                                   // 0.1167 yen a second
	for secs, want := range map[int64]int64{4: 0, 5: 1, 13: 2} { // 0.4667, 0.5833, 1.5167
		got, _ := pricing.Price(p, secs)
		if got.Amount != want {
			t.Errorf("7 JPY/min, %d s = %v, want %d", secs, got, want)
		}
	}
}

func TestPriceInPaymentCurrencyAppliesTheLockedQuoteOnce(t *testing.T) {
	for _, c := range []struct {
		name  string
		rate  money.Money
		quote *pricing.FXQuote
		secs  int64
		want  money.Money
	}{
		// 1.99 USD * 151.37 = 301.2263 JPY
		{"USD to JPY", usd(199), fx("151.37", "JPY"), 60, money.Money{Amount: 301, Currency: "JPY"}},
		// 1.99 USD * 0.376 = 0.74824 BHD
		{"USD to BHD", usd(199), fx("0.376", "BHD"), 60, money.Money{Amount: 748, Currency: "BHD"}},
		// 300 JPY * 0.0025 = 0.750 BHD
		{"JPY to BHD", money.Money{Amount: 300, Currency: "JPY"}, fx("0.0025", "BHD"), 60, money.Money{Amount: 750, Currency: "BHD"}},
		// 35 JPY * 0.0025 = 0.0875 BHD = 87.5 fils, half up
		{"JPY to BHD half fils", money.Money{Amount: 300, Currency: "JPY"}, fx("0.0025", "BHD"), 7, money.Money{Amount: 88, Currency: "BHD"}},
		// 0.748 BHD -> JPY at 402.5: 301.07 JPY
		{"BHD to JPY", money.Money{Amount: 748, Currency: "BHD"}, fx("402.5", "JPY"), 60, money.Money{Amount: 301, Currency: "JPY"}},
		// one second of 7 fils/min = 0.117 fils -> 0 fils: nothing to convert
		{"zero converts to zero", money.Money{Amount: 7, Currency: "BHD"}, fx("402.5", "JPY"), 0, money.Money{Amount: 0, Currency: "JPY"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := policy(c.rate, pricing.PerSecond, money.Money{}, 0)
			p.FX = c.quote
			got, err := pricing.PriceInPaymentCurrency(p, c.secs)
			if err != nil || got != c.want {
				t.Fatalf("got %v, %v; want %v", got, err, c.want)
			}
			if p.PaymentCurrency() != c.quote.PaymentCurrency || p.RateCurrency() != c.rate.Currency {
				t.Fatalf("currencies %s/%s", p.RateCurrency(), p.PaymentCurrency())
			}
			// The rate-currency price is untouched by the quote.
			inRate, _ := pricing.Price(p, c.secs)
			if inRate.Currency != c.rate.Currency {
				t.Fatalf("Price answered in %s", inRate.Currency)
			}
		})
	}
}

func TestPriceRefusesOverflowAndOutOfRangeSeconds(t *testing.T) {
	huge := money.Money{Amount: math.MaxInt64, Currency: "USD"}
	p := pricing.DefaultPolicy(usd(199))
	for _, secs := range []int64{-1, pricing.MaxBillableSeconds + 1, math.MaxInt64} {
		if _, err := pricing.Price(p, secs); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("Price(%d s) = %v, want invalid", secs, err)
		}
	}
	if got, err := pricing.Price(p, pricing.MaxBillableSeconds); err != nil || got.Amount <= 0 {
		t.Errorf("Price(max seconds) = %v, %v", got, err)
	}
	// A rate so high that a block does not fit is refused by Validate.
	bad := pricing.DefaultPolicy(huge)
	if _, err := pricing.Price(bad, 1); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("MaxInt64 a minute with 5-minute blocks: %v, want invalid", err)
	}
	// A rate that fits for one block but not for a long seat: the long seat is refused.
	big := pricing.DefaultPolicy(usd(math.MaxInt64 / 10))
	if _, err := pricing.Price(big, 300); err != nil {
		t.Fatalf("one block: %v", err)
	}
	for _, g := range []pricing.Granularity{pricing.PerSecond, pricing.PerStartedMinute, pricing.PerCompletedMinute} {
		big.Granularity = g
		_, err := pricing.Price(big, 3600)
		if !errors.Is(err, money.ErrOverflow) || errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%s: an hour at MaxInt64/10 a minute = %v, want an invalid overflow", g, err)
		}
	}
	// An FX conversion that overflows is refused too.
	p = pricing.DefaultPolicy(usd(math.MaxInt64 / 1000))
	p.FX = fx("10000", "JPY") // 4.6e15 USD for 50 minutes is 4.6e19 JPY
	if _, err := pricing.PriceInPaymentCurrency(p, 3000); !errors.Is(err, money.ErrOverflow) {
		t.Errorf("overflowing conversion: %v", err)
	}
}

func TestValidate(t *testing.T) {
	good := pricing.DefaultPolicy(usd(199))
	good.FX = fx("151.37", "JPY")
	if err := good.Validate(); err != nil {
		t.Fatalf("good policy refused: %v", err)
	}
	for _, c := range []struct {
		name   string
		mutate func(*pricing.Policy)
		code   errs.Code
		says   string
	}{
		{"zero rate", func(p *pricing.Policy) { p.RatePerMinute.Amount = 0 }, errs.Invalid, "positive"},
		{"negative rate", func(p *pricing.Policy) { p.RatePerMinute.Amount = -1 }, errs.Invalid, "positive"},
		{"unknown currency", func(p *pricing.Policy) { p.RatePerMinute.Currency = "XXX" }, errs.UnknownCurrency, "rate_per_minute"},
		{"empty currency", func(p *pricing.Policy) { p.RatePerMinute.Currency = "" }, errs.UnknownCurrency, "rate_per_minute"},
		{"unknown granularity", func(p *pricing.Policy) { p.Granularity = "hour" }, errs.Invalid, "granularity"},
		{"empty granularity", func(p *pricing.Policy) { p.Granularity = "" }, errs.Invalid, "granularity"},
		{"minimum in another currency", func(p *pricing.Policy) { p.MinimumCharge = money.Money{Amount: 1, Currency: "EUR"} }, errs.Invalid, "minimum_charge"},
		{"minimum without currency", func(p *pricing.Policy) { p.MinimumCharge = money.Money{Amount: 1} }, errs.Invalid, "minimum_charge"},
		{"negative minimum", func(p *pricing.Policy) { p.MinimumCharge = usd(-1) }, errs.Invalid, "negative"},
		{"negative grace", func(p *pricing.Policy) { p.GraceSeconds = -1 }, errs.Invalid, "grace_seconds"},
		{"grace over a year", func(p *pricing.Policy) { p.GraceSeconds = pricing.MaxPolicySeconds + 1 }, errs.Invalid, "grace_seconds"},
		{"zero block", func(p *pricing.Policy) { p.BlockSeconds = 0 }, errs.Invalid, "block_seconds"},
		{"negative lead", func(p *pricing.Policy) { p.ExtensionLeadSeconds = -1 }, errs.Invalid, "extension_lead_seconds"},
		{"zero max pause", func(p *pricing.Policy) { p.MaxPauseSeconds = 0 }, errs.Invalid, "max_pause_seconds"},
		{"block shorter than lead", func(p *pricing.Policy) { p.BlockSeconds, p.ExtensionLeadSeconds = 30, 60 }, errs.Invalid, "shorter than extension_lead"},
		{"fx unknown currency", func(p *pricing.Policy) { p.FX.PaymentCurrency = "ZZZ" }, errs.UnknownCurrency, "payment_currency"},
		{"fx same currency", func(p *pricing.Policy) { p.FX.PaymentCurrency = "USD" }, errs.Invalid, "leave fx out"},
		{"fx zero rate", func(p *pricing.Policy) { p.FX.Rate = "0" }, errs.Invalid, "rate"},
		{"fx exponent rate", func(p *pricing.Policy) { p.FX.Rate = "1.5e2" }, errs.Invalid, "rate"},
		{"fx no quote id", func(p *pricing.Policy) { p.FX.QuoteID = "" }, errs.Invalid, "quote_id"},
		{"fx no source", func(p *pricing.Policy) { p.FX.Source = "" }, errs.Invalid, "source"},
		{"fx no expiry", func(p *pricing.Policy) { p.FX.ExpiresAt = time.Time{} }, errs.Invalid, "expires_at"},
		{"block price overflows", func(p *pricing.Policy) { p.RatePerMinute.Amount = math.MaxInt64 / 4 }, errs.Invalid, "block"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := good
			q := *good.FX
			p.FX = &q
			c.mutate(&p)
			err := p.Validate()
			if errs.CodeOf(err) != c.code || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("Validate = %v; want code %s mentioning %q", err, c.code, c.says)
			}
			// Every entry point refuses the bad policy.
			if _, err := pricing.Price(p, 60); errs.CodeOf(err) != c.code {
				t.Errorf("Price = %v", err)
			}
			if _, err := pricing.BlockAmount(p); errs.CodeOf(err) != c.code {
				t.Errorf("BlockAmount = %v", err)
			}
			if _, err := pricing.FundedSeconds(p, usd(100)); errs.CodeOf(err) != c.code {
				t.Errorf("FundedSeconds = %v", err)
			}
		})
	}
	// Lead equal to the block is allowed; no lead at all too.
	p := pricing.DefaultPolicy(usd(199))
	p.BlockSeconds, p.ExtensionLeadSeconds = 60, 60
	if err := p.Validate(); err != nil {
		t.Errorf("lead == block refused: %v", err)
	}
	p.ExtensionLeadSeconds = 0
	if err := p.Validate(); err != nil {
		t.Errorf("zero lead refused: %v", err)
	}
}

func TestPolicyDurationsDefaultsAndJSON(t *testing.T) {
	p := pricing.DefaultPolicy(usd(199))
	if p.Block() != 5*time.Minute || p.ExtensionLead() != time.Minute || p.MaxPause() != 2*time.Minute || p.Grace() != 0 || p.Granularity != pricing.PerSecond {
		t.Fatalf("defaults: %+v", p)
	}
	p.FX = fx("151.37", "JPY")
	p.MinimumCharge = usd(50)
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back pricing.Policy
	if err := json.Unmarshal(raw, &back); err != nil || !reflect.DeepEqual(back, p) {
		t.Fatalf("JSON round trip: %s -> %+v, %v", raw, back, err)
	}
	for _, key := range []string{`"rate_per_minute"`, `"granularity":"second"`, `"block_seconds":300`, `"quote_id":"q-1"`, `"payment_currency":"JPY"`} {
		if !strings.Contains(string(raw), key) {
			t.Errorf("JSON lacks %s: %s", key, raw)
		}
	}
	q := p.FX
	if q.ExpiredAt(q.ExpiresAt.Add(-time.Second)) || !q.ExpiredAt(q.ExpiresAt) {
		t.Error("ExpiredAt")
	}
}

func TestBlockAmount(t *testing.T) {
	for _, c := range []struct {
		name  string
		p     pricing.Policy
		block int64
		want  money.Money
	}{
		{"second, exact", policy(usd(199), pricing.PerSecond, money.Money{}, 0), 300, usd(995)},
		{"second, rounds up", policy(usd(199), pricing.PerSecond, money.Money{}, 0), 1, usd(4)}, // 3.3167
		{"started", policy(usd(199), pricing.PerStartedMinute, money.Money{}, 0), 90, usd(398)},
		{"completed counts started minutes", policy(usd(199), pricing.PerCompletedMinute, money.Money{}, 0), 90, usd(398)},
		{"minimum", policy(usd(199), pricing.PerSecond, usd(2000), 0), 300, usd(2000)},
		{"grace ignored", policy(usd(199), pricing.PerSecond, money.Money{}, 600), 300, usd(995)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := c.p
			p.BlockSeconds, p.ExtensionLeadSeconds = c.block, 0
			got, err := pricing.BlockAmount(p)
			if err != nil || got != c.want {
				t.Fatalf("BlockAmount = %v, %v; want %v", got, err, c.want)
			}
			same, _ := pricing.BlockAmountInPaymentCurrency(p)
			if same != got {
				t.Fatalf("without a quote the payment block differs: %v", same)
			}
		})
	}
	p := pricing.DefaultPolicy(usd(199)) // 9.95 USD a block
	p.FX = fx("0.3765", "BHD")           // 3.746175 BHD: rounded up to 3.747
	got, err := pricing.BlockAmountInPaymentCurrency(p)
	if err != nil || got != (money.Money{Amount: 3747, Currency: "BHD"}) {
		t.Fatalf("BlockAmountInPaymentCurrency = %v, %v; want 3.747 BHD", got, err)
	}
}

func TestFundedSeconds(t *testing.T) {
	for _, c := range []struct {
		name string
		p    pricing.Policy
		held money.Money
		want int64
	}{
		{"exactly one minute", policy(usd(199), pricing.PerSecond, money.Money{}, 0), usd(199), 60}, // 61 s costs 202
		{"a cent more buys nothing", policy(usd(199), pricing.PerSecond, money.Money{}, 0), usd(200), 60},
		{"nothing held", policy(usd(199), pricing.PerSecond, money.Money{}, 0), usd(0), 0},
		{"nothing held, grace", policy(usd(199), pricing.PerSecond, money.Money{}, 10), usd(0), 10},
		{"under the minimum", policy(usd(199), pricing.PerSecond, usd(500), 10), usd(499), 10},
		{"the minimum", policy(usd(199), pricing.PerSecond, usd(500), 0), usd(500), 150}, // 151 s costs 501
		{"started minutes", policy(usd(199), pricing.PerStartedMinute, money.Money{}, 0), usd(400), 120},
		{"completed minutes", policy(usd(199), pricing.PerCompletedMinute, money.Money{}, 0), usd(400), 179},
		{"a block", policy(usd(199), pricing.PerSecond, money.Money{}, 0), usd(995), 300},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := pricing.FundedSeconds(c.p, c.held)
			if err != nil || got != c.want {
				t.Fatalf("FundedSeconds(%v) = %d, %v; want %d", c.held, got, err, c.want)
			}
		})
	}
	p := pricing.DefaultPolicy(money.Money{Amount: 300, Currency: "JPY"})
	p.FX = fx("0.0025", "BHD") // 0.75 BHD a minute
	// 750 fils pays 60 s; 61 s is 305 JPY = 0.7625 -> 763 fils.
	if got, err := pricing.FundedSeconds(p, money.Money{Amount: 762, Currency: "BHD"}); err != nil || got != 60 {
		t.Fatalf("FundedSeconds(0.762 BHD) = %d, %v; want 60", got, err)
	}
	if got, err := pricing.FundedSeconds(p, money.Money{Amount: 305, Currency: "JPY"}); err != nil || got != 61 {
		t.Fatalf("FundedSeconds(305 JPY) in the rate currency = %d, %v; want 61", got, err)
	}
	if _, err := pricing.FundedSeconds(p, usd(1)); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("held in a third currency: %v", err)
	}
	if _, err := pricing.FundedSeconds(p, money.Money{Amount: -1, Currency: "BHD"}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("negative held: %v", err)
	}
	all, err := pricing.FundedSeconds(pricing.DefaultPolicy(usd(1)), usd(math.MaxInt64))
	if err != nil || all != pricing.MaxBillableSeconds {
		t.Fatalf("an unbounded hold funds %d, %v; want MaxBillableSeconds", all, err)
	}
}

// policies draw valid policies in JPY, USD or BHD, sometimes FX-quoted; the
// filter discards the few draws that do not validate (only enormous rates).
var policies = rapid.Custom(drawPolicy).Filter(func(p pricing.Policy) bool { return p.Validate() == nil })

// blockPolicies are policies whose block, converted, fits in an int64.
var blockPolicies = policies.Filter(func(p pricing.Policy) bool {
	_, err := pricing.BlockAmountInPaymentCurrency(p)
	return err == nil
})

func genPolicy(t *rapid.T) pricing.Policy { return policies.Draw(t, "policy") }

func drawPolicy(t *rapid.T) pricing.Policy {
	cur := rapid.SampledFrom([]string{"JPY", "USD", "BHD"}).Draw(t, "currency")
	rate := rapid.OneOf(rapid.Int64Range(1, 10_000), rapid.Int64Range(1, 1e12)).Draw(t, "rate")
	p := pricing.DefaultPolicy(money.Money{Amount: rate, Currency: cur})
	p.Granularity = rapid.SampledFrom(pricing.Granularities()).Draw(t, "granularity")
	if rapid.Bool().Draw(t, "hasMinimum") {
		p.MinimumCharge = money.Money{Amount: rapid.Int64Range(0, 100_000).Draw(t, "minimum"), Currency: cur}
	}
	p.GraceSeconds = rapid.Int64Range(0, 300).Draw(t, "grace")
	p.BlockSeconds = rapid.Int64Range(1, 3600).Draw(t, "block")
	p.ExtensionLeadSeconds = rapid.Int64Range(0, p.BlockSeconds).Draw(t, "lead")
	if rapid.Bool().Draw(t, "hasFX") {
		to := rapid.SampledFrom([]string{"JPY", "USD", "BHD", "EUR", "KWD"}).Filter(func(c string) bool { return c != cur }).Draw(t, "payIn")
		whole := rapid.Int64Range(0, 500).Draw(t, "fxWhole")
		frac := rapid.Int64Range(1, 999_999).Draw(t, "fxFrac") // never a zero rate
		r := new(big.Int).SetInt64(whole).String() + "." + leftPad(frac, 6)
		p.FX = fx(r, to)
	}
	return p
}

func leftPad(n int64, w int) string {
	s := big.NewInt(n).String()
	return strings.Repeat("0", w-len(s)) + s
}

func TestPriceIsMonotoneProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPolicy(t)
		a := rapid.Int64Range(0, 1e7).Draw(t, "a")
		b := a + rapid.Int64Range(0, 1e5).Draw(t, "more")
		for _, f := range []func(pricing.Policy, int64) (money.Money, error){pricing.Price, pricing.PriceInPaymentCurrency} {
			pa, errA := f(p, a)
			pb, errB := f(p, b)
			if errA != nil {
				if errB == nil {
					t.Fatalf("price(%d) fails (%v) but price(%d) does not", a, errA, b)
				}
				continue
			}
			if errB == nil && pb.Amount < pa.Amount {
				t.Fatalf("price(%d) = %v > price(%d) = %v", a, pa, b, pb)
			}
		}
	})
}

func TestPriceMatchesTheFormulaProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPolicy(t)
		s := rapid.Int64Range(0, 1e8).Draw(t, "seconds")
		rate := big.NewInt(p.RatePerMinute.Amount)
		var want *big.Int
		switch p.Granularity {
		case pricing.PerSecond: // floor((2*rate*s + 60) / 120) is half up
			num := new(big.Int).Mul(rate, big.NewInt(2*s))
			want = num.Add(num, big.NewInt(60)).Div(num, big.NewInt(120))
		case pricing.PerStartedMinute:
			want = new(big.Int).Mul(rate, big.NewInt((s+59)/60))
		case pricing.PerCompletedMinute:
			want = new(big.Int).Mul(rate, big.NewInt(s/60))
		}
		if s <= p.GraceSeconds {
			want.SetInt64(0)
		} else if want.Sign() > 0 && want.Cmp(big.NewInt(p.MinimumCharge.Amount)) < 0 {
			want.SetInt64(p.MinimumCharge.Amount)
		}
		got, err := pricing.Price(p, s)
		if !want.IsInt64() {
			if !errors.Is(err, money.ErrOverflow) {
				t.Fatalf("want an overflow, got %v, %v", got, err)
			}
			return
		}
		if err != nil || got.Amount != want.Int64() || got.Currency != p.RateCurrency() {
			t.Fatalf("Price(%d s) = %v, %v; want %s", s, got, err, want)
		}
	})
}

func TestFundedSecondsIsTheExactInverseProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPolicy(t)
		cur := p.PaymentCurrency()
		cost := pricing.PriceInPaymentCurrency
		if rapid.Bool().Draw(t, "inRateCurrency") {
			cur, cost = p.RateCurrency(), pricing.Price
		}
		held := money.Money{Amount: rapid.Int64Range(0, 1e9).Draw(t, "held"), Currency: cur}
		s, err := pricing.FundedSeconds(p, held)
		if err != nil {
			t.Fatalf("FundedSeconds(%v): %v", held, err)
		}
		at, err := cost(p, s)
		if err != nil || at.Amount > held.Amount {
			t.Fatalf("price(FundedSeconds(%v) = %d) = %v, %v: more than held", held, s, at, err)
		}
		if s < pricing.MaxBillableSeconds {
			next, err := cost(p, s+1)
			if err == nil && next.Amount <= held.Amount {
				t.Fatalf("%d s is also funded by %v (costs %v): FundedSeconds is not the largest", s+1, held, next)
			}
		}
	})
}

func TestBlocksAlwaysCoverTheirSecondsProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := blockPolicies.Draw(t, "policy")
		block, err := pricing.BlockAmount(p)
		if err != nil {
			t.Fatalf("BlockAmount: %v", err)
		}
		blockPay, err := pricing.BlockAmountInPaymentCurrency(p)
		if err != nil {
			t.Fatalf("BlockAmountInPaymentCurrency: %v", err)
		}
		if block.Amount <= 0 || blockPay.Amount <= 0 || blockPay.Currency != p.PaymentCurrency() {
			t.Fatalf("block %v / %v", block, blockPay)
		}
		// Up to 50 blocks, as many as an int64 ceiling of either block holds.
		most := int64(50)
		for _, per := range []int64{block.Amount, blockPay.Amount} {
			most = min(most, math.MaxInt64/per)
		}
		n := rapid.Int64Range(1, most).Draw(t, "blocks")
		secs := n * p.BlockSeconds
		for _, c := range []struct {
			cost func(pricing.Policy, int64) (money.Money, error)
			per  money.Money
		}{{pricing.Price, block}, {pricing.PriceInPaymentCurrency, blockPay}} {
			ceiling, err := pricing.Mul(n, c.per.Amount)
			if err != nil {
				t.Fatalf("%d blocks of %v: %v", n, c.per, err)
			}
			pr, err := c.cost(p, secs)
			if err != nil || pr.Amount > ceiling {
				t.Fatalf("%d blocks hold %d %s but %d s cost %v, %v", n, ceiling, c.per.Currency, secs, pr, err)
			}
			funded, err := pricing.FundedSeconds(p, money.Money{Amount: ceiling, Currency: c.per.Currency})
			if err != nil || funded < secs {
				t.Fatalf("%d blocks (%d %s) fund only %d s of %d, %v", n, ceiling, c.per.Currency, funded, secs, err)
			}
		}
	})
}

// BenchmarkFundedSeconds is the cost of the exact inverse (a binary search
// over Price) that billing runs on every funding change.
func BenchmarkFundedSeconds(b *testing.B) {
	plain := pricing.DefaultPolicy(usd(199))
	quoted := plain
	quoted.FX = fx("151.37", "JPY")
	for name, c := range map[string]struct {
		p    pricing.Policy
		held money.Money
	}{
		"USD":        {plain, usd(995)},
		"USD_to_JPY": {quoted, money.Money{Amount: 1507, Currency: "JPY"}},
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := pricing.FundedSeconds(c.p, c.held); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
