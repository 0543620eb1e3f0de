// Package currency is the contract of a currency converter plugin: it quotes a
// rate from one ISO 4217 currency to another and nothing more. The host does
// the conversion itself, with exact decimal arithmetic and one rounding, so
// that the price a viewer pays never depends on how a plugin rounds.
package currency

import (
	"context"
	"math/big"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
)

// Converter is what a currency plugin implements and what the host's billing
// depends on (through the gRPC client returned by Plugin, or in-process in tests).
type Converter interface {
	pluginkit.Module
	// Quote returns the rate from req.From to req.To. A currency the converter
	// does not know is an errs.UnknownCurrency error; From == To quotes "1".
	Quote(ctx context.Context, req QuoteRequest) (Quote, error)
}

// QuoteRequest asks for the rate of 1 unit of From in units of To.
type QuoteRequest struct {
	From string
	To   string
}

// Validate checks that both codes are ISO 4217 currencies camkit can hold
// money in; anything else is errs.UnknownCurrency naming the code.
func (r QuoteRequest) Validate() error {
	for _, c := range []string{r.From, r.To} {
		if _, err := money.Lookup(c); err != nil {
			return errs.E(errs.UnknownCurrency, "currency %q is not an ISO 4217 code", c)
		}
	}
	return nil
}

// Quote is a rate locked for a while: 1 major unit of From = Rate major units
// of To. Rate is text so that it crosses every boundary exactly.
type Quote struct {
	From      string
	To        string
	Rate      string // a positive decimal, e.g. "0.9213"
	QuoteID   string // unique; stored with whatever locked the quote
	Source    string // where the rate came from, e.g. "fixed"
	AsOf      time.Time
	ExpiresAt time.Time
}

// Validate checks that q answers req and is well formed: a positive decimal
// rate (exactly 1 when From == To), an id, a source, an as-of time and an
// expiry after it. It does not look at the clock; see Expired.
func (q Quote) Validate(req QuoteRequest) error {
	if q.From != req.From || q.To != req.To {
		return errs.E(errs.Invalid, "quote is for %s/%s, asked for %s/%s", q.From, q.To, req.From, req.To)
	}
	r, err := ParseRate(q.Rate)
	if err != nil {
		return err
	}
	if q.From == q.To && r.Cmp(big.NewRat(1, 1)) != 0 {
		return errs.E(errs.Invalid, "quote %s/%s: same-currency rate is %q, want 1", q.From, q.To, q.Rate)
	}
	switch {
	case q.QuoteID == "":
		return errs.E(errs.Invalid, "quote %s/%s has no quote id", q.From, q.To)
	case q.Source == "":
		return errs.E(errs.Invalid, "quote %s/%s has no source", q.From, q.To)
	case q.AsOf.IsZero():
		return errs.E(errs.Invalid, "quote %s/%s has no as-of time", q.From, q.To)
	case !q.ExpiresAt.After(q.AsOf):
		return errs.E(errs.Invalid, "quote %s/%s expires (%s) no later than it was taken (%s)",
			q.From, q.To, q.ExpiresAt.Format(time.RFC3339), q.AsOf.Format(time.RFC3339))
	}
	return nil
}

// Expired reports whether the quote may no longer be locked at now.
func (q Quote) Expired(now time.Time) bool { return !now.Before(q.ExpiresAt) }

// maxRateLen bounds a rate's text: a real rate has a dozen digits, and an
// unbounded one would let a broken plugin make the host do unbounded work.
const maxRateLen = 64

// ParseRate reads a rate exactly. Only plain positive decimals are accepted
// ("1", "0.9213", "151.20"): no sign, exponent, fraction bar, spaces or
// leading/trailing dot, because a rate that two parsers could read differently
// must not reach a price.
func ParseRate(s string) (*big.Rat, error) {
	if s == "" {
		return nil, errs.E(errs.Invalid, "rate is empty")
	}
	if len(s) > maxRateLen {
		return nil, errs.E(errs.Invalid, "rate %.20q... is longer than %d characters", s, maxRateLen)
	}
	dot := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && dot < 0 && i > 0 && i < len(s)-1:
			dot = i
		default:
			return nil, errs.E(errs.Invalid, "rate %q is not a plain decimal", s)
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, errs.E(errs.Invalid, "rate %q is not a plain decimal", s)
	}
	if r.Sign() <= 0 {
		return nil, errs.E(errs.Invalid, "rate %q is not positive", s)
	}
	return r, nil
}

// Serve runs impl as a currency plugin until the host goes away. A plugin's
// main is `currency.Serve(&myConverter{})`.
func Serve(impl Converter) {
	pluginkit.Serve(pluginkit.KindCurrency, &Plugin{Impl: impl})
}
