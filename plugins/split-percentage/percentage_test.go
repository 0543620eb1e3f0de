package main

import (
	"context"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/split"
	"pgregory.net/rapid"
)

func configured(t *testing.T, settings string) *splitter {
	t.Helper()
	s := newSplitter()
	if err := s.Configure(context.Background(), []byte(settings)); err != nil {
		t.Fatalf("Configure(%s): %v", settings, err)
	}
	return s
}

func usd(a int64) money.Money { return money.Money{Amount: a, Currency: "USD"} }

func alloc(t *testing.T, s *splitter, req split.AllocateRequest) []split.Share {
	t.Helper()
	a, err := s.Allocate(context.Background(), req)
	if err != nil {
		t.Fatalf("Allocate(%+v): %v", req, err)
	}
	if err := split.Check(req, a); err != nil {
		t.Fatalf("Allocate(%+v) = %+v: %v", req, a.Shares, err)
	}
	return a.Shares
}

func req(kind split.Kind, amount int64, p split.Parties) split.AllocateRequest {
	return split.AllocateRequest{Kind: kind, Amount: usd(amount), Parties: p, Reference: "seat/1"}
}

var everyone = split.Parties{ModelID: "m", StudioID: "s", AffiliateID: "a"}

func TestDefaultRule(t *testing.T) {
	s := newSplitter()
	got := alloc(t, s, req(split.KindPrivate, 10000, everyone))
	want := []split.Share{
		{Role: split.RoleModel, PartyID: "m", Amount: usd(6000)},
		{Role: split.RoleStudio, PartyID: "s", Amount: usd(1000)},
		{Role: split.RoleAffiliate, PartyID: "a", Amount: usd(500)},
		{Role: split.RolePlatform, Amount: usd(2500)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestAbsentPartiesShareGoesToPlatform(t *testing.T) {
	s := newSplitter()
	got := alloc(t, s, req(split.KindGroup, 10000, split.Parties{ModelID: "m"}))
	want := []split.Share{
		{Role: split.RoleModel, PartyID: "m", Amount: usd(6000)},
		{Role: split.RolePlatform, Amount: usd(4000)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestRemainderGoesToPlatformAndZeroSharesAreLeftOut(t *testing.T) {
	s := newSplitter()
	// 6000/1000/500 bps of 7 cents: 4.2, 0.7, 0.35 -> 4, 0, 0; the platform gets 3.
	got := alloc(t, s, req(split.KindTip, 7, everyone))
	want := []split.Share{
		{Role: split.RoleModel, PartyID: "m", Amount: usd(4)},
		{Role: split.RolePlatform, Amount: usd(3)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := alloc(t, s, req(split.KindTip, 0, everyone)); len(got) != 0 {
		t.Errorf("amount 0: got %+v, want no shares", got)
	}
}

func TestPerKindRules(t *testing.T) {
	s := configured(t, `{
		"default": {"model": 5000, "studio": 2000, "affiliate": 1000, "platform": 2000},
		"tip": {"model": 9000, "platform": 1000}
	}`)
	tip := alloc(t, s, req(split.KindTip, 1000, everyone))
	if !reflect.DeepEqual(tip, []split.Share{
		{Role: split.RoleModel, PartyID: "m", Amount: usd(900)},
		{Role: split.RolePlatform, Amount: usd(100)},
	}) {
		t.Errorf("tip: %+v", tip)
	}
	sub := alloc(t, s, req(split.KindSubscription, 1000, everyone))
	if !reflect.DeepEqual(sub, []split.Share{
		{Role: split.RoleModel, PartyID: "m", Amount: usd(500)},
		{Role: split.RoleStudio, PartyID: "s", Amount: usd(200)},
		{Role: split.RoleAffiliate, PartyID: "a", Amount: usd(100)},
		{Role: split.RolePlatform, Amount: usd(200)},
	}) {
		t.Errorf("subscription (default rule): %+v", sub)
	}
}

func TestHugeAmountsDoNotOverflow(t *testing.T) {
	s := newSplitter()
	got := alloc(t, s, req(split.KindPrivate, math.MaxInt64, everyone))
	// floor(9223372036854775807 * 6000 / 10000) = 5534023222112865484
	if got[0].Amount.Amount != 5534023222112865484 {
		t.Errorf("model share of max int64 = %d, want 5534023222112865484", got[0].Amount.Amount)
	}
}

// bpsOf must equal the exact floor for every amount and bps; big.Int is the oracle.
func TestBpsOfMatchesBigInt(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		amount := rapid.OneOf(rapid.Int64Range(0, 100000), rapid.Int64Range(0, math.MaxInt64),
			rapid.Int64Range(math.MaxInt64-100000, math.MaxInt64)).Draw(rt, "amount")
		bps := rapid.Int64Range(0, wholeBps).Draw(rt, "bps")
		want := new(big.Int).Mul(big.NewInt(amount), big.NewInt(bps))
		want.Quo(want, big.NewInt(wholeBps))
		if got := bpsOf(amount, bps); got != want.Int64() {
			rt.Fatalf("bpsOf(%d, %d) = %d, want %s", amount, bps, got, want)
		}
	})
}

// Every non-platform share is its exact floor, and the platform gets the rest.
func TestAllocateIsFloorPlusRemainder(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		model := rapid.Int64Range(0, wholeBps).Draw(rt, "model")
		studio := rapid.Int64Range(0, wholeBps-model).Draw(rt, "studio")
		aff := rapid.Int64Range(0, wholeBps-model-studio).Draw(rt, "affiliate")
		r := rule{Model: model, Studio: studio, Affiliate: aff, Platform: wholeBps - model - studio - aff}
		p := split.Parties{ModelID: "m"}
		if rapid.Bool().Draw(rt, "studio?") {
			p.StudioID = "s"
		}
		if rapid.Bool().Draw(rt, "affiliate?") {
			p.AffiliateID = "a"
		}
		amount := rapid.Int64Range(0, math.MaxInt64).Draw(rt, "amount")
		rq := req(split.KindPrivate, amount, p)
		a := allocate(rq, r)
		if err := split.Check(rq, a); err != nil {
			rt.Fatal(err)
		}
		got := map[split.Role]int64{}
		for _, sh := range a.Shares {
			got[sh.Role] = sh.Amount.Amount
		}
		floor := func(bps int64) int64 {
			v := new(big.Int).Mul(big.NewInt(amount), big.NewInt(bps))
			return v.Quo(v, big.NewInt(wholeBps)).Int64()
		}
		wantStudio, wantAff := int64(0), int64(0)
		if p.StudioID != "" {
			wantStudio = floor(studio)
		}
		if p.AffiliateID != "" {
			wantAff = floor(aff)
		}
		if got[split.RoleModel] != floor(model) || got[split.RoleStudio] != wantStudio || got[split.RoleAffiliate] != wantAff {
			rt.Fatalf("rule %+v, amount %d: shares %+v", r, amount, a.Shares)
		}
		if got[split.RolePlatform] < floor(r.Platform) {
			rt.Fatalf("platform got %d, less than its own %d", got[split.RolePlatform], floor(r.Platform))
		}
	})
}

func TestConfigureRejects(t *testing.T) {
	for settings, mention := range map[string]string{
		`{"default": {"model": 6000, "platform": 3000}}`:             "default sums to 9000",
		`{"tip": {"model": 6000, "studio": 1000, "platform": 3001}}`: "tip sums to 10001",
		`{"credit_pack": {"model": -1, "platform": 10001}}`:          "credit_pack.model",
		`{"group": {"model": 0, "studio": 10001, "platform": -1}}`:   "group.studio",
		`{"bonus": {"model": 10000}}`:                                `"bonus"`,
		`{"tip": {"model": 10000, "agent": 0}}`:                      `"agent"`,
		`{"tip": {"model": 60.5, "platform": 39.5}}`:                 "tip",
	} {
		s := configured(t, `{"default": {"model": 10000}}`)
		err := s.Configure(context.Background(), []byte(settings))
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), mention) {
			t.Errorf("Configure(%s) = %v, want errs.Invalid mentioning %s", settings, err, mention)
			continue
		}
		// A refused configuration leaves the previous one in force.
		if got := alloc(t, s, req(split.KindTip, 100, everyone)); len(got) != 1 || got[0].Amount.Amount != 100 {
			t.Errorf("after refusing %s: %+v, want the model to keep getting everything", settings, got)
		}
	}
}

// Tickets (kind ticket) take their own rule, or the default one.
func TestTicketKindRule(t *testing.T) {
	s := configured(t, `{"ticket": {"model": 7000, "studio": 1000, "platform": 2000}}`)
	got := alloc(t, s, req(split.KindTicket, 1000, everyone))
	if !reflect.DeepEqual(got, []split.Share{
		{Role: split.RoleModel, PartyID: "m", Amount: usd(700)},
		{Role: split.RoleStudio, PartyID: "s", Amount: usd(100)},
		{Role: split.RolePlatform, Amount: usd(200)},
	}) {
		t.Errorf("ticket: %+v", got)
	}
	def := alloc(t, configured(t, `{}`), req(split.KindTicket, 1000, everyone))
	if len(def) == 0 || def[0].Amount != usd(600) {
		t.Errorf("ticket under the default rule: %+v", def)
	}
}
