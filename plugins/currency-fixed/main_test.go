package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/camkit/camkit/sdk/currency"
	"github.com/camkit/camkit/sdk/plugintest"
)

// buildPlugin compiles this package into a fresh binary, so the suite runs
// against exactly what an operator would install.
func buildPlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "currency-fixed")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

func allPairs(codes ...string) []currency.QuoteRequest {
	var out []currency.QuoteRequest
	for _, a := range codes {
		for _, b := range codes {
			if a != b {
				out = append(out, currency.QuoteRequest{From: a, To: b})
			}
		}
	}
	return out
}

func TestConformance(t *testing.T) {
	bin := buildPlugin(t)
	t.Run("defaults", func(t *testing.T) {
		plugintest.Currency(t, bin, plugintest.CurrencyOptions{
			Pairs:       allPairs("USD", "EUR", "GBP", "JPY", "CAD", "AUD"),
			Unsupported: []string{"CHF", "BHD"},
		})
	})
	t.Run("configured", func(t *testing.T) {
		plugintest.Currency(t, bin, plugintest.CurrencyOptions{
			Settings: []byte(`{"rates": {"EUR/USD": "1.0850", "USD/JPY": "151.20", "USD/BHD": "0.376",
				"EUR/CHF": "0.9400"}, "quote_ttl_seconds": 60}`),
			Pairs: append(allPairs("USD", "EUR", "JPY", "BHD"),
				currency.QuoteRequest{From: "EUR", To: "CHF"}, currency.QuoteRequest{From: "CHF", To: "EUR"}),
			Unsupported: []string{"GBP", "CAD"},
			InvalidSettings: []plugintest.InvalidSetting{
				{JSON: []byte(`{"rates": {"EUR/USD": "1,0850"}}`), Key: "EUR/USD"},
				{JSON: []byte(`{"rates": {"GBP/USD": 1.27}}`), Key: "GBP/USD"},
				{JSON: []byte(`{"quote_ttl_seconds": 0}`), Key: "quote_ttl_seconds"},
			},
		})
	})
}
