package config

import (
	"slices"
	"strings"

	"github.com/camkit/camkit/core/routing"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

// Routing is the [routing] table: which active processor new funding (a
// card checkout, a credit pack) goes to, and where a soft decline cascades.
type Routing struct {
	// Rules are tried in order; the first that matches picks the processor.
	Rules []RoutingRule `toml:"rules"`
	// Cascade is the order soft declines fall through after the first
	// choice (empty: no cascade). Every name must be active.
	Cascade []string `toml:"cascade"`
}

// RoutingRule is one [[routing.rules]] entry. An empty match field matches
// anything.
type RoutingRule struct {
	Currency  string `toml:"currency"`   // ISO 4217, the amount's currency
	Brand     string `toml:"card_brand"` // visa, mastercard, amex, discover… as the processor reports it
	Country   string `toml:"country"`    // the card's BIN (issuing) country, ISO 3166-1 alpha-2, where the processor reports it
	Processor string `toml:"processor"`
}

// ActiveProcessors is plugins.processor then plugins.processors: those new
// funding may use.
func (c Config) ActiveProcessors() []string {
	out := []string{c.Plugins.Processor}
	for _, p := range c.Plugins.Processors {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// Router is the [routing] table over the active processors.
func (c Config) Router() (*routing.Router, error) {
	rules := make([]routing.Rule, 0, len(c.Routing.Rules))
	for _, r := range c.Routing.Rules {
		rules = append(rules, routing.Rule{Currency: r.Currency, Brand: r.Brand, Country: r.Country, Processor: r.Processor})
	}
	r, err := routing.New(c.Plugins.Processor, c.ActiveProcessors(), rules, c.Routing.Cascade)
	if err != nil {
		return nil, errs.E(errs.Invalid, "config: %v", err)
	}
	return r, nil
}

func validName(s string) bool {
	return s != "" && !strings.ContainsAny(s, `/\`) && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}

func (c Config) validateProcessors() error {
	for _, p := range c.Plugins.Processors {
		if !validName(p) {
			return errs.E(errs.Invalid, "config: plugins.processors: %q is not a plugin name (a-z, 0-9, - and _)", p)
		}
	}
	for _, p := range c.Plugins.RetiredProcessors {
		if !validName(p) {
			return errs.E(errs.Invalid, "config: plugins.retired_processors: %q is not a plugin name (a-z, 0-9, - and _)", p)
		}
		if slices.Contains(c.ActiveProcessors(), p) {
			return errs.E(errs.Invalid, "config: processor %q is both active and in plugins.retired_processors", p)
		}
	}
	for i, r := range c.Routing.Rules {
		if r.Processor == "" {
			return errs.E(errs.Invalid, "config: routing.rules[%d] names no processor", i)
		}
		if r.Currency != "" {
			if _, err := money.Lookup(strings.ToUpper(r.Currency)); err != nil {
				return errs.E(errs.UnknownCurrency, "config: routing.rules[%d].currency %q is not an ISO 4217 code", i, r.Currency)
			}
		}
		if r.Country != "" && (len(r.Country) != 2 || strings.Trim(strings.ToUpper(r.Country), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "") {
			return errs.E(errs.Invalid, "config: routing.rules[%d].country %q: want an ISO 3166-1 alpha-2 code", i, r.Country)
		}
	}
	_, err := c.Router()
	return err
}
