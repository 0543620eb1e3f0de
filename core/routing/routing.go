package routing

import (
	"fmt"
	"slices"
	"strings"

	"github.com/camkit/camkit/sdk/errs"
)

// Router orders the active processors for one piece of new funding.
type Router struct {
	def     string
	active  []string
	rules   []Rule
	cascade []string
}

// New checks the configuration and returns its router. def is the default
// processor (plugins.processor); active lists every processor new funding
// may use, def included (plugins.processor + plugins.processors); rules are
// tried in order, the first match wins; cascade is the order soft declines
// fall through after the first choice (empty: no cascade).
func New(def string, active []string, rules []Rule, cascade []string) (*Router, error) {
	r := &Router{def: def}
	if def == "" {
		return nil, fmt.Errorf("routing: no default processor")
	}
	for _, a := range append([]string{def}, active...) {
		if !slices.Contains(r.active, a) {
			r.active = append(r.active, a)
		}
	}
	for i, ru := range rules {
		if !slices.Contains(r.active, ru.Processor) {
			return nil, fmt.Errorf("routing: rule %d names processor %q, which is not active (plugins.processor or plugins.processors)", i+1, ru.Processor)
		}
		ru.Currency, ru.Country, ru.Brand = strings.ToUpper(ru.Currency), strings.ToUpper(ru.Country), strings.ToLower(ru.Brand)
		r.rules = append(r.rules, ru)
	}
	for _, c := range cascade {
		if !slices.Contains(r.active, c) {
			return nil, fmt.Errorf("routing: cascade names processor %q, which is not active (plugins.processor or plugins.processors)", c)
		}
		if slices.Contains(r.cascade, c) {
			return nil, fmt.Errorf("routing: cascade names processor %q twice", c)
		}
		r.cascade = append(r.cascade, c)
	}
	return r, nil
}

// Default is the default processor.
func (r *Router) Default() string { return r.def }

// Active lists the processors new funding may use, the default first.
func (r *Router) Active() []string { return slices.Clone(r.active) }

// IsActive reports whether new funding may use processor name.
func (r *Router) IsActive(name string) bool { return slices.Contains(r.active, name) }

// First is the processor the rules pick for in: the first matching rule's,
// else the default.
func (r *Router) First(in Input) string {
	cur, country, brand := strings.ToUpper(in.Currency), strings.ToUpper(in.Country), strings.ToLower(in.Brand)
	for _, ru := range r.rules {
		if (ru.Currency == "" || ru.Currency == cur) && (ru.Brand == "" || ru.Brand == brand) && (ru.Country == "" || ru.Country == country) {
			return ru.Processor
		}
	}
	return r.def
}

// Order is every processor to try for in, in order: the first choice, then
// the cascade's processors not tried yet. Without a cascade it is the first
// choice alone.
func (r *Router) Order(in Input) []string {
	out := []string{r.First(in)}
	for _, c := range r.cascade {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// Classify says what err, the answer of a charge at one processor, means
// for the cascade. Soft declines — errs.Declined (do not honour, the
// generic refusal), errs.InsufficientFunds, and errs.Unavailable when final
// (the processor answered that it cannot take the charge: nothing moved) —
// move on to the next processor. Hard declines (errs.InvalidCard,
// errs.ExpiredCard, errs.FraudSuspected, errs.AuthExpired) and every other
// final error stop. A retryable error is Unknown: the request may have
// reached the processor and charged, so another processor is never tried
// (that could charge the viewer twice); the same processor is asked again
// under the same key.
func Classify(err error) Outcome {
	if err == nil {
		return Done
	}
	if errs.IsRetryable(err) {
		return Unknown
	}
	switch errs.CodeOf(err) {
	case errs.Declined, errs.InsufficientFunds, errs.Unavailable:
		return Next
	}
	return Stop
}

// ClassifyStart is Classify for a call that moves no money (starting a
// checkout that stores a card): an unavailable or timed-out processor cannot
// have charged anything, so it moves on too.
func ClassifyStart(err error) Outcome {
	switch errs.CodeOf(err) {
	case "":
		return Done
	case errs.Unavailable, errs.Timeout:
		return Next
	}
	return Classify(err)
}

// AttemptKey is the processor idempotency key of one cascade attempt: the
// request's own key with the processor appended, so each processor sees its
// own key, and a retry of the whole request asks each one again under the
// key it saw before (and is answered its first outcome) instead of charging
// again.
func AttemptKey(key, processor string) string { return key + "/via/" + processor }
