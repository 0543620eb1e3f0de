package pricing

import (
	"math"
	"time"

	"github.com/camkit/camkit/core/money"
	"github.com/camkit/camkit/sdk/errs"
)

// MaxBillableSeconds is the most billable time Price accepts: all a
// time.Duration can hold (about 292 years).
const MaxBillableSeconds = math.MaxInt64 / int64(time.Second)

// Price is what billableSeconds cost under p, in the rate currency, computed
// once from the total (never as a sum of rounded parts):
//
//   - second:           round_half_up(rate * seconds / 60), with a 128-bit product
//   - started_minute:   ceil(seconds / 60) * rate
//   - completed_minute: floor(seconds / 60) * rate
//
// Grace is a threshold, the common platform meaning of "the first N seconds
// are free if you leave": a seat with billableSeconds <= GraceSeconds costs
// nothing; one that goes past it pays for every second, grace included.
//
// The minimum charge applies only to a price that is not zero: a seat inside
// its grace, or with no completed minute, costs nothing; any other seat costs
// at least MinimumCharge.
//
// billableSeconds is the meter's BillableSeconds (floored, so a started second
// is never billed). Results beyond int64 are refused, never wrapped.
func Price(p Policy, billableSeconds int64) (money.Money, error) {
	if err := p.Validate(); err != nil {
		return money.Money{}, err
	}
	return price(p, billableSeconds)
}

// PriceInPaymentCurrency is Price converted once, half up, at the locked FX
// quote into the payment currency: what the viewer is charged. Without a
// quote it is Price.
func PriceInPaymentCurrency(p Policy, billableSeconds int64) (money.Money, error) {
	if err := p.Validate(); err != nil {
		return money.Money{}, err
	}
	return priceInPayment(p, billableSeconds)
}

// BlockAmount is what to hold (or charge) per funding block, in the rate
// currency: the price of BlockSeconds rounded up instead of half up (per
// second: ceil(rate * block / 60); per minute: every started minute of the
// block), and at least the minimum charge. Rounding up makes n blocks always
// cover the price of n*BlockSeconds, whatever n: a seat is never billable
// beyond its funding because of a rounding. The excess is released at
// settlement. Grace is ignored: a hold must cover the seat that goes past it.
func BlockAmount(p Policy) (money.Money, error) {
	if err := p.Validate(); err != nil {
		return money.Money{}, err
	}
	return blockAmount(p)
}

// BlockAmountInPaymentCurrency is BlockAmount converted at the locked quote,
// rounded up, so n blocks cover PriceInPaymentCurrency of n*BlockSeconds.
// Without a quote it is BlockAmount.
func BlockAmountInPaymentCurrency(p Policy) (money.Money, error) {
	b, err := BlockAmount(p)
	if err != nil || p.FX == nil {
		return b, err
	}
	return Convert(b, p.FX.Rate, p.FX.PaymentCurrency, RoundUp)
}

// FundedSeconds is the inverse of the price: the most billable seconds whose
// price fits in held. held is in the payment currency (compared with
// PriceInPaymentCurrency) or in the rate currency (compared with Price). It is
// exact, not estimated: Price(FundedSeconds(h)) <= h < Price(FundedSeconds(h)+1),
// so billing can end a seat exactly when its funding runs out. Seconds inside
// the grace cost nothing, so even a zero hold funds GraceSeconds.
func FundedSeconds(p Policy, held money.Money) (int64, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	var cost func(Policy, int64) (money.Money, error)
	switch held.Currency {
	case p.PaymentCurrency():
		cost = priceInPayment
	case p.RateCurrency():
		cost = price
	default:
		return 0, errs.E(errs.Invalid, "funded seconds: held %v is in neither the payment currency %s nor the rate currency %s",
			held, p.PaymentCurrency(), p.RateCurrency())
	}
	if held.Amount < 0 {
		return 0, errs.E(errs.Invalid, "funded seconds: held amount %v is negative", held)
	}
	fits := func(s int64) bool {
		c, err := cost(p, s)
		return err == nil && c.Amount <= held.Amount // an overflowing price never fits
	}
	// The price is monotone non-decreasing in seconds, so binary search finds
	// the largest s that fits; fits(0) always holds (0 <= grace).
	lo, hi := int64(0), int64(MaxBillableSeconds)
	if fits(hi) {
		return hi, nil
	}
	for hi-lo > 1 { // invariant: fits(lo), !fits(hi)
		mid := lo + (hi-lo)/2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

func price(p Policy, s int64) (money.Money, error) {
	if s < 0 || s > MaxBillableSeconds {
		return money.Money{}, errs.E(errs.Invalid, "price: billable seconds %d, want 0..%d", s, MaxBillableSeconds)
	}
	zero := money.Money{Currency: p.RateCurrency()}
	if s <= p.GraceSeconds {
		return zero, nil
	}
	amount, err := rawPrice(p, s, RoundHalfUp)
	if err != nil {
		return money.Money{}, err
	}
	if amount > 0 && amount < p.MinimumCharge.Amount {
		amount = p.MinimumCharge.Amount
	}
	return money.Money{Amount: amount, Currency: p.RateCurrency()}, nil
}

// MinimumApplied says whether the policy's minimum charge, not the rate,
// decided the price of billableSeconds: a receipt says so instead of letting
// the viewer wonder why a short show cost more than its minutes.
func MinimumApplied(p Policy, billableSeconds int64) (bool, error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	if billableSeconds <= p.GraceSeconds {
		return false, nil
	}
	amount, err := rawPrice(p, billableSeconds, RoundHalfUp)
	if err != nil {
		return false, err
	}
	return amount > 0 && amount < p.MinimumCharge.Amount, nil
}

func priceInPayment(p Policy, s int64) (money.Money, error) {
	pr, err := price(p, s)
	if err != nil || p.FX == nil {
		return pr, err
	}
	return Convert(pr, p.FX.Rate, p.FX.PaymentCurrency, RoundHalfUp)
}

func blockAmount(p Policy) (money.Money, error) {
	amount, err := rawPrice(p, p.BlockSeconds, RoundUp)
	if err != nil {
		return money.Money{}, err
	}
	return money.Money{Amount: max(amount, p.MinimumCharge.Amount), Currency: p.RateCurrency()}, nil
}

// rawPrice is the granularity's formula alone, without grace or minimum.
// perSecond rounds the per-second formula; RoundUp (used for holds) also
// counts a completed-minute policy's minutes as started, so a hold covers
// every granularity.
func rawPrice(p Policy, s int64, perSecond Rounding) (int64, error) {
	rate := p.RatePerMinute.Amount
	g := p.Granularity
	if perSecond == RoundUp && g == PerCompletedMinute {
		g = PerStartedMinute
	}
	switch g {
	case PerSecond:
		return MulDiv(rate, s, 60, perSecond)
	case PerStartedMinute:
		return Mul((s+59)/60, rate)
	case PerCompletedMinute:
		return Mul(s/60, rate)
	}
	return 0, errs.E(errs.Invalid, "price: granularity %q", p.Granularity)
}
