package plugintest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/currency"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
)

// CurrencyOptions tune the currency conformance suite to a plugin's settings.
type CurrencyOptions struct {
	// Settings are passed to Configure; nil means "{}".
	Settings []byte
	// Pairs the plugin must quote under Settings. At least one is required.
	Pairs []currency.QuoteRequest
	// Unsupported lists ISO 4217 codes the plugin must refuse under Settings
	// with errs.UnknownCurrency (tried against every currency of Pairs).
	Unsupported []string
	// InvalidSettings must each make Configure fail with errs.Invalid naming Key.
	InvalidSettings []InvalidSetting
	// Skew is how far ahead of this machine's clock a quote's as-of may be
	// (a remote source's clock); default one minute.
	Skew time.Duration
}

// InvalidSetting is settings JSON that Configure must refuse, and the key its
// error must name so an operator knows what to fix.
type InvalidSetting struct {
	JSON []byte
	Key  string
}

// Currency runs the currency conformance suite against the plugin binary at
// binaryPath: every quote is a positive decimal that parses exactly, answers
// the pair asked, has a unique id, an as-of and an expiry in the future; a
// same-currency quote is exactly 1; an unknown or unsupported currency is a
// final errs.UnknownCurrency.
func Currency(t *testing.T, binaryPath string, opts CurrencyOptions) {
	t.Helper()
	if len(opts.Pairs) == 0 {
		t.Fatal("plugintest.Currency: opts.Pairs is empty; name the pairs the plugin must quote")
	}
	if opts.Settings == nil {
		opts.Settings = []byte("{}")
	}
	if opts.Skew == 0 {
		opts.Skew = time.Minute
	}
	raw, _ := Launch(t, binaryPath, pluginkit.KindCurrency, &currency.Plugin{})
	conv, ok := raw.(currency.Converter)
	if !ok {
		t.Fatalf("dispensed %T, not a currency.Converter", raw)
	}
	ctx := context.Background()

	t.Run("info", func(t *testing.T) { suiteCheckInfo(t, conv, pluginkit.KindCurrency) })
	t.Run("invalid settings", func(t *testing.T) { suiteCheckInvalidSettings(t, conv, opts.InvalidSettings) })
	if err := conv.Configure(ctx, opts.Settings); err != nil {
		t.Fatalf("Configure(%s): %v", opts.Settings, err)
	}

	var mu sync.Mutex
	ids := map[string]currency.QuoteRequest{}
	// quote asks, checks the quote and that its id was never seen before.
	quote := func(t *testing.T, req currency.QuoteRequest) (currency.Quote, bool) {
		t.Helper()
		q, err := conv.Quote(ctx, req)
		if err != nil {
			t.Errorf("Quote(%s/%s): %v", req.From, req.To, err)
			return q, false
		}
		now := time.Now()
		if err := q.Validate(req); err != nil {
			t.Errorf("Quote(%s/%s) = %+v: %v", req.From, req.To, q, err)
			return q, false
		}
		if q.Expired(now) {
			t.Errorf("Quote(%s/%s) expired on arrival: expires %s, now %s", req.From, req.To, q.ExpiresAt, now)
		}
		if q.AsOf.After(now.Add(opts.Skew)) {
			t.Errorf("Quote(%s/%s) as-of %s is in the future (now %s)", req.From, req.To, q.AsOf, now)
		}
		mu.Lock()
		defer mu.Unlock()
		if prev, dup := ids[q.QuoteID]; dup {
			t.Errorf("quote id %q reused: %s/%s and %s/%s", q.QuoteID, prev.From, prev.To, req.From, req.To)
		}
		ids[q.QuoteID] = req
		return q, true
	}

	t.Run("pairs", func(t *testing.T) {
		for _, p := range opts.Pairs {
			quote(t, p)
		}
	})
	t.Run("ids unique under concurrency", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, p := range opts.Pairs {
					quote(t, p)
				}
			}()
		}
		wg.Wait()
	})
	t.Run("same currency is 1", func(t *testing.T) {
		for _, c := range pairCurrencies(opts.Pairs) {
			// Validate already demands exactly 1 when From == To.
			quote(t, currency.QuoteRequest{From: c, To: c})
		}
	})
	t.Run("unknown currency", func(t *testing.T) {
		some := opts.Pairs[0].From
		for _, req := range []currency.QuoteRequest{
			{From: "ZZZ", To: some}, {From: some, To: "ZZZ"},
			{From: strings.ToLower(some), To: some}, {From: "", To: some},
		} {
			expectUnknownCurrency(t, conv, req)
		}
		for _, u := range opts.Unsupported {
			for _, c := range pairCurrencies(opts.Pairs) {
				expectUnknownCurrency(t, conv, currency.QuoteRequest{From: u, To: c})
				expectUnknownCurrency(t, conv, currency.QuoteRequest{From: c, To: u})
			}
		}
	})
	t.Run("configure again", func(t *testing.T) {
		// The host configures after every (re)start; doing it twice must be harmless.
		if err := conv.Configure(ctx, opts.Settings); err != nil {
			t.Fatalf("second Configure: %v", err)
		}
		quote(t, opts.Pairs[0])
	})
}

func expectUnknownCurrency(t *testing.T, conv currency.Converter, req currency.QuoteRequest) {
	t.Helper()
	q, err := conv.Quote(context.Background(), req)
	var e *errs.Error
	switch {
	case err == nil:
		t.Errorf("Quote(%q/%q) = %+v, want errs.UnknownCurrency", req.From, req.To, q)
	case !errors.As(err, &e) || e.Code != errs.UnknownCurrency:
		t.Errorf("Quote(%q/%q): %v, want errs.UnknownCurrency", req.From, req.To, err)
	case e.Retryable:
		t.Errorf("Quote(%q/%q): unknown currency marked retryable; it will stay unknown", req.From, req.To)
	case e.Message == "":
		t.Errorf("Quote(%q/%q): unknown currency without a message", req.From, req.To)
	}
}

func pairCurrencies(pairs []currency.QuoteRequest) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range pairs {
		for _, c := range []string{p.From, p.To} {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// suiteCheckInfo and suiteCheckInvalidSettings are the Module part every kind's suite shares.
func suiteCheckInfo(t *testing.T, m pluginkit.Module, kind pluginkit.Kind) {
	t.Helper()
	info, err := m.Info(context.Background())
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Kind != kind || info.Name == "" || info.Version == "" {
		t.Errorf("Info = %+v, want kind %q and a name and a version", info, kind)
	}
}

func suiteCheckInvalidSettings(t *testing.T, m pluginkit.Module, bad []InvalidSetting) {
	t.Helper()
	for _, b := range bad {
		err := m.Configure(context.Background(), b.JSON)
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), b.Key) {
			t.Errorf("Configure(%s) = %v, want errs.Invalid naming %q", b.JSON, err, b.Key)
		}
	}
}
