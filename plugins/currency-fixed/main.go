// Command currency-fixed is a camkit currency plugin that quotes rates the
// operator writes in its settings, for deployments that reprice by hand or
// that need a deterministic converter (staging, tests).
//
// Settings (all optional):
//
//	{
//	  "rates": {"EUR/USD": "1.0850", "GBP/USD": "1.2700", "USD/JPY": "151.20"},
//	  "quote_ttl_seconds": 300
//	}
//
// "A/B": "r" means 1 A = r B. Rates are JSON strings, never numbers, so that no
// digit is lost to a float. A pair is quoted directly, its inverse as 1/r, and
// any other two currencies through USD (both need a pair with USD); derived
// rates are rounded once, to 12 significant digits. Without "rates" a small
// illustrative table for USD, EUR, GBP, JPY, CAD and AUD is used: it is not
// market data. Quotes are valid for quote_ttl_seconds (default 300) and their
// as-of is the moment the rates were configured.
package main

import (
	"time"

	"github.com/camkit/camkit/sdk/currency"
)

func main() {
	currency.Serve(newConverter(time.Now))
}
