package plugintest

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/split"
	"pgregory.net/rapid"
)

// SplitOptions tune the split conformance suite to a plugin's settings.
type SplitOptions struct {
	// Settings are passed to Configure; nil means "{}".
	Settings []byte
	// Kinds the plugin must allocate under Settings; nil means every split.Kinds.
	Kinds []split.Kind
	// Currencies amounts are drawn in; nil means USD, JPY and BHD (exponents 2, 0, 3).
	Currencies []string
	// MaxAmount is the largest amount tried; 0 means math.MaxInt64, which a
	// plugin must handle without overflow.
	MaxAmount int64
	// InvalidSettings must each make Configure fail with errs.Invalid naming Key.
	InvalidSettings []InvalidSetting
}

// Split runs the split conformance suite against the plugin binary at
// binaryPath. For every kind, for amounts of 0, 1 minor unit, ordinary sizes
// and values up to MaxAmount, and for parties with and without a studio and an
// affiliate, every allocation must pass split.Check and be the same when asked
// twice (a retried settlement posts the same shares). Amounts and parties are
// drawn with rapid; -rapid.checks sets how many, -rapid.seed replays a failure.
//
// An amount of 0 is part of the contract: a seat that ended inside its free
// grace still settles, and its allocation must be valid (all shares zero, or none).
func Split(t *testing.T, binaryPath string, opts SplitOptions) {
	t.Helper()
	if opts.Settings == nil {
		opts.Settings = []byte("{}")
	}
	if opts.Kinds == nil {
		opts.Kinds = split.Kinds
	}
	if opts.Currencies == nil {
		opts.Currencies = []string{"USD", "JPY", "BHD"}
	}
	if opts.MaxAmount == 0 {
		opts.MaxAmount = math.MaxInt64
	}
	raw, _ := Launch(t, binaryPath, pluginkit.KindSplit, &split.Plugin{})
	sp, ok := raw.(split.Splitter)
	if !ok {
		t.Fatalf("dispensed %T, not a split.Splitter", raw)
	}
	ctx := context.Background()

	t.Run("info", func(t *testing.T) { suiteCheckInfo(t, sp, pluginkit.KindSplit) })
	t.Run("invalid settings", func(t *testing.T) { suiteCheckInvalidSettings(t, sp, opts.InvalidSettings) })
	if err := sp.Configure(ctx, opts.Settings); err != nil {
		t.Fatalf("Configure(%s): %v", opts.Settings, err)
	}

	// allocate asks twice and returns a description of what is wrong, or "".
	allocate := func(req split.AllocateRequest) string {
		a, err := sp.Allocate(ctx, req)
		if err != nil {
			return fmt.Sprintf("Allocate(%+v): %v", req, err)
		}
		if err := split.Check(req, a); err != nil {
			return fmt.Sprintf("Allocate(%+v) = %+v fails split.Check: %v", req, a.Shares, err)
		}
		again, err := sp.Allocate(ctx, req)
		if err != nil {
			return fmt.Sprintf("Allocate(%+v), asked again: %v", req, err)
		}
		if !reflect.DeepEqual(a, again) {
			return fmt.Sprintf("Allocate(%+v) is not deterministic: %+v, then %+v", req, a.Shares, again.Shares)
		}
		return ""
	}

	edges := []int64{0, 1, 2, 3, 99, 10000, math.MaxInt64 / 10000, math.MaxInt64 / 100, math.MaxInt64 - 1, math.MaxInt64}
	t.Run("edges", func(t *testing.T) {
		failures := 0
		for _, kind := range opts.Kinds {
			for _, amount := range edges {
				if amount > opts.MaxAmount {
					continue
				}
				for _, parties := range []split.Parties{
					{ModelID: "model-1"},
					{ModelID: "model-1", StudioID: "studio-1"},
					{ModelID: "model-1", AffiliateID: "aff-1"},
					{ModelID: "model-1", StudioID: "studio-1", AffiliateID: "aff-1"},
				} {
					req := split.AllocateRequest{
						Kind: kind, Amount: money.Money{Amount: amount, Currency: opts.Currencies[0]},
						Parties: parties, Reference: "seat/edge",
					}
					if msg := allocate(req); msg != "" {
						t.Error(msg)
						// A broken rule usually breaks every edge alike; a few say enough.
						if failures++; failures == 8 {
							t.Fatal("stopping after 8 failures")
						}
					}
				}
			}
		}
	})

	t.Run("random", func(t *testing.T) {
		max := opts.MaxAmount
		amounts := rapid.OneOf(
			rapid.Int64Range(0, min(max, 2)),
			rapid.Int64Range(0, min(max, 1_000_000)),
			rapid.Int64Range(0, max),
			rapid.Int64Range(max/100-min(max/100, 1_000_000), max/100),
			rapid.Int64Range(max-min(max, 1_000_000), max),
		)
		id := rapid.StringMatching(`[a-z0-9][a-z0-9-]{0,15}`)
		rapid.Check(t, func(rt *rapid.T) {
			p := split.Parties{ModelID: id.Draw(rt, "model")}
			if rapid.Bool().Draw(rt, "has studio") {
				p.StudioID = id.Draw(rt, "studio")
			}
			if rapid.Bool().Draw(rt, "has affiliate") {
				p.AffiliateID = id.Draw(rt, "affiliate")
			}
			req := split.AllocateRequest{
				Kind: rapid.SampledFrom(opts.Kinds).Draw(rt, "kind"),
				Amount: money.Money{
					Amount:   amounts.Draw(rt, "amount"),
					Currency: rapid.SampledFrom(opts.Currencies).Draw(rt, "currency"),
				},
				Parties:   p,
				Reference: "seat/" + id.Draw(rt, "reference"),
			}
			if msg := allocate(req); msg != "" {
				rt.Fatal(msg)
			}
		})
	})

	t.Run("bad requests are refused", func(t *testing.T) {
		good := split.AllocateRequest{
			Kind: opts.Kinds[0], Amount: money.Money{Amount: 100, Currency: opts.Currencies[0]},
			Parties: split.Parties{ModelID: "model-1"}, Reference: "seat/bad",
		}
		for name, mutate := range map[string]func(*split.AllocateRequest){
			"negative amount": func(r *split.AllocateRequest) { r.Amount.Amount = -1 },
			"unknown kind":    func(r *split.AllocateRequest) { r.Kind = "bonus" },
			"no model":        func(r *split.AllocateRequest) { r.Parties.ModelID = "" },
		} {
			req := good
			mutate(&req)
			if a, err := sp.Allocate(ctx, req); errs.CodeOf(err) != errs.Invalid {
				t.Errorf("%s: Allocate = %+v, %v; want errs.Invalid", name, a, err)
			}
		}
	})
}
