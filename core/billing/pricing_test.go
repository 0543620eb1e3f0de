package billing_test

import (
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/currency"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/split"
)

// DESIGN.md: "Foreign currency: the FX rate is locked when the seat opens,
// and the processor is asked in a currency it accepts." The model's rate is
// in USD, the viewer pays in JPY at a quote from the real currency-fixed
// plugin; holds, capture and ledger are in JPY, and the price is converted
// once, from the total.
func TestForeignCurrency_FXLockedAtOpen_ProcessorAskedInAcceptedCurrency(t *testing.T) {
	v := newEnv(t)
	conv := v.fxConverter(`{"rates":{"USD/JPY":"151.37"}}`)
	q, err := conv.Quote(v.ctx, currency.QuoteRequest{From: "USD", To: "JPY"})
	must(t, err)
	must(t, q.Validate(currency.QuoteRequest{From: "USD", To: "JPY"}))
	pol := stdPolicy()
	pol.FX = &pricing.FXQuote{Rate: q.Rate, QuoteID: q.QuoteID, Source: q.Source, PaymentCurrency: q.To, ExpiresAt: q.ExpiresAt}
	info := v.openCard("seat1", cardOK, pol)
	// One block: 600 USD cents = 6.00 USD * 151.37 = 908.22 JPY, held rounded up.
	if info.Currency != "JPY" || info.Funded != (money.Money{Amount: 909, Currency: "JPY"}) || info.FundedSeconds != 300 {
		t.Fatalf("opened %+v", info)
	}
	v.bothLive("seat1")
	// The quote the plugin would give now no longer matters to this seat.
	v.clk.Advance(100 * time.Second)
	r := v.end("seat1")
	// 100 s = 200 USD cents = 302.74 JPY -> 303, rounded once.
	if r.Price != (money.Money{Amount: 303, Currency: "JPY"}) || r.RatePrice != cents(200) || r.BillableSeconds != 100 {
		t.Fatalf("receipt price %v (rate price %v) for %d s", r.Price, r.RatePrice, r.BillableSeconds)
	}
	if r.Policy.FX == nil || r.Policy.FX.QuoteID != q.QuoteID || r.Policy.FX.Rate != "151.37" {
		t.Fatalf("receipt FX %+v", r.Policy.FX)
	}
	for _, c := range r.ProcessorCalls {
		if c.Amount.Currency != "" && c.Amount.Currency != "JPY" {
			t.Fatalf("processor asked in %s: %+v", c.Amount.Currency, c)
		}
	}
	if got := v.posted("platform:revenue", "JPY") + v.posted("model:m1:earnings", "JPY"); got != 303 {
		t.Fatalf("booked %d JPY", got)
	}
	v.assertHoldsClosed(r)
	v.verifyLedger()

	// A payment currency the processor does not take is refused before
	// anything is held.
	pol.FX = &pricing.FXQuote{Rate: "0.88", QuoteID: "q-chf", Source: "fixed", PaymentCurrency: "CHF", ExpiresAt: v.clk.Now().Add(time.Hour)}
	_, err = v.eng.OpenSeat(v.ctx, billing.OpenRequest{SeatID: "seat2", ShowID: "show1", Kind: split.KindPrivate, ViewerID: "v1",
		ModelID: "m1", Policy: pol, Funding: billing.Funding{Processor: "sandbox", Credential: v.card(cardOK)}})
	wantCode(t, err, errs.UnknownCurrency, "CHF")
	// An expired quote cannot be locked.
	pol.FX = &pricing.FXQuote{Rate: q.Rate, QuoteID: q.QuoteID, Source: q.Source, PaymentCurrency: "JPY", ExpiresAt: v.clk.Now().Add(-time.Second)}
	_, err = v.eng.OpenSeat(v.ctx, billing.OpenRequest{SeatID: "seat3", ShowID: "show1", Kind: split.KindPrivate, ViewerID: "v1",
		ModelID: "m1", Policy: pol, Funding: billing.Funding{Processor: "sandbox", Credential: v.card(cardOK)}})
	wantCode(t, err, errs.Invalid, "expired")
}

// DESIGN.md: "Fractional minutes: one documented policy per seat, applied
// once to the total." Every granularity, with a minimum charge of 150 and 10
// free grace seconds, through whole seats: the total billable time is priced
// once at settlement.
func TestFractionalMinutes_AllGranularitiesWithMinimumAndGrace_PricedOnceFromTheTotal(t *testing.T) {
	v := newEnv(t)
	cred := v.card(cardOK)
	cases := []struct {
		g       pricing.Granularity
		seconds int64
		want    int64
	}{
		{pricing.PerSecond, 10, 0},           // inside the grace
		{pricing.PerSecond, 61, 150},         // 122, raised to the minimum
		{pricing.PerSecond, 101, 202},        // 2 cents a second
		{pricing.PerStartedMinute, 10, 0},    // inside the grace
		{pricing.PerStartedMinute, 61, 240},  // two started minutes
		{pricing.PerStartedMinute, 120, 240}, // exactly two
		{pricing.PerCompletedMinute, 30, 0},  // past the grace, but no completed minute: nothing, not the minimum
		{pricing.PerCompletedMinute, 61, 150},
		{pricing.PerCompletedMinute, 179, 240}, // two completed minutes
		{pricing.PerCompletedMinute, 180, 360},
	}
	for i, c := range cases {
		pol := stdPolicy()
		pol.Granularity, pol.MinimumCharge, pol.GraceSeconds = c.g, cents(150), 10
		seat := "g" + string(rune('a'+i))
		_, err := v.eng.OpenSeat(v.ctx, billing.OpenRequest{SeatID: seat, ShowID: "show1", Kind: split.KindGroup, ViewerID: "v" + seat,
			ModelID: "m1", Policy: pol, Funding: billing.Funding{Processor: "sandbox", Credential: cred}})
		must(t, err)
		// Two pieces of half+0.4 s and the rest-0.4 s: a per-piece
		// rounding would lose a second; priced from the total it cannot.
		half := time.Duration(c.seconds/2)*time.Second + 400*time.Millisecond
		v.bothLive(seat)
		v.clk.Advance(half)
		v.live(seat, meter.ViewerDisconnected, v.clk.Now())
		v.clk.Advance(5 * time.Second)
		v.live(seat, meter.ViewerConnected, v.clk.Now())
		v.clk.Advance(time.Duration(c.seconds)*time.Second - half)
		r := v.end(seat)
		if r.BillableSeconds != c.seconds || r.Price != cents(c.want) {
			t.Errorf("%s, %d s: billed %d s for %v, want %v", c.g, c.seconds, r.BillableSeconds, r.Price, cents(c.want))
		}
		if c.want == 0 {
			for _, pc := range r.ProcessorCalls {
				if pc.Op == "capture" {
					t.Errorf("%s, %d s: a free seat was captured", c.g, c.seconds)
				}
			}
		}
	}
	v.verifyLedger()
}
