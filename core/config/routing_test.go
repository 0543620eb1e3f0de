package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/routing"
)

func TestRoutingTableAndProcessorLists(t *testing.T) {
	c, err := Load(writeTOML(t, `
[plugins]
processor = "sandbox"
processors = ["segpay", "mobiuspay"]
retired_processors = ["ccbill"]
[routing]
cascade = ["sandbox", "mobiuspay"]
[[routing.rules]]
currency = "EUR"
processor = "segpay"
[[routing.rules]]
card_brand = "mastercard"
country = "gb"
processor = "mobiuspay"
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ActiveProcessors(); !slices.Equal(got, []string{"sandbox", "segpay", "mobiuspay"}) {
		t.Errorf("active %v", got)
	}
	r, err := c.Router()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Order(routing.Input{Currency: "EUR"}); !slices.Equal(got, []string{"segpay", "sandbox", "mobiuspay"}) {
		t.Errorf("EUR order %v", got)
	}
	if got := r.First(routing.Input{Currency: "USD", Brand: "MasterCard", Country: "GB"}); got != "mobiuspay" {
		t.Errorf("GB mastercard goes to %s", got)
	}
}

func TestRoutingMistakesAreOneClearError(t *testing.T) {
	for name, c := range map[string]struct{ body, want string }{
		"rule to inactive": {"[[routing.rules]]\ncurrency = \"EUR\"\nprocessor = \"segpay\"\n", `processor "segpay", which is not active`},
		"cascade inactive": {"[routing]\ncascade = [\"sandbox\", \"ccbill\"]\n", `cascade names processor "ccbill"`},
		"retired active":   {"[plugins]\nprocessors = [\"segpay\"]\nretired_processors = [\"segpay\"]\n", `"segpay" is both active and in plugins.retired_processors`},
		"bad currency":     {"[[routing.rules]]\ncurrency = \"EURO\"\nprocessor = \"sandbox\"\n", `routing.rules[0].currency`},
		"bad country":      {"[[routing.rules]]\ncountry = \"GBR\"\nprocessor = \"sandbox\"\n", `routing.rules[0].country`},
		"no processor":     {"[[routing.rules]]\ncurrency = \"EUR\"\n", `routing.rules[0] names no processor`},
		"path in list":     {"[plugins]\nprocessors = [\"../x\"]\n", `plugins.processors`},
		"unknown key":      {"[routing]\norder = [\"sandbox\"]\n", `unknown key "routing.order"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeTOML(t, c.body), nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}
