package pricing_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/money"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/errs"
)

func TestCam2camSurchargeIsALabelOfTheOneRate(t *testing.T) {
	p := pricing.DefaultPolicy(usd(350))
	p.Cam2camSurchargePerMinute = usd(150)
	p.MinimumCharge = usd(100)
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, secs := range []int64{0, 1, 7, 17, 60, 61, 3599} {
		total, err := pricing.Price(p, secs)
		if err != nil {
			t.Fatal(err)
		}
		base, _ := pricing.Price(p.WithoutCam2cam(), secs)
		share, err := pricing.Cam2camShare(p, secs)
		if err != nil {
			t.Fatal(err)
		}
		if base.Amount+share.Amount != total.Amount || share.Amount < 0 || share.Currency != "USD" {
			t.Fatalf("%d s: base %v + cam2cam %v != price %v", secs, base, share, total)
		}
	}
	if got, _ := pricing.Price(p, 60); got != usd(350) {
		t.Fatalf("a minute costs %v: the price must read the one locked rate", got)
	}
	// It survives the JSON the seat and its receipt are stored in; a policy
	// without cam2cam writes nothing new.
	b, _ := json.Marshal(p)
	var back pricing.Policy
	if err := json.Unmarshal(b, &back); err != nil || back != p {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if b, _ := json.Marshal(pricing.DefaultPolicy(usd(1))); strings.Contains(string(b), "cam2cam") {
		t.Fatalf("a policy without cam2cam carries it: %s", b)
	}
	for name, c := range map[string]money.Money{"other currency": {Amount: 1, Currency: "EUR"}, "negative": usd(-1), "the whole rate": usd(350)} {
		q := p
		q.Cam2camSurchargePerMinute = c
		if err := q.Validate(); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}
