package split

import (
	"math"
	"strings"
	"testing"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

func usd(a int64) money.Money { return money.Money{Amount: a, Currency: "USD"} }

func fullRequest() AllocateRequest {
	return AllocateRequest{
		Kind:      KindPrivate,
		Amount:    usd(10000),
		Parties:   Parties{ModelID: "m1", StudioID: "s1", AffiliateID: "a1"},
		Reference: "seat/42",
	}
}

func fullAllocation() Allocation {
	return Allocation{Shares: []Share{
		{Role: RoleModel, PartyID: "m1", Amount: usd(6000)},
		{Role: RoleStudio, PartyID: "s1", Amount: usd(1000)},
		{Role: RoleAffiliate, PartyID: "a1", Amount: usd(500)},
		{Role: RolePlatform, Amount: usd(2500)},
	}}
}

func TestCheckAccepts(t *testing.T) {
	if err := Check(fullRequest(), fullAllocation()); err != nil {
		t.Errorf("full allocation: %v", err)
	}
	modelOnly := fullRequest()
	modelOnly.Parties = Parties{ModelID: "m1"}
	if err := Check(modelOnly, Allocation{Shares: []Share{
		{Role: RolePlatform, Amount: usd(4000)},
		{Role: RoleModel, PartyID: "m1", Amount: usd(6000)},
	}}); err != nil {
		t.Errorf("model and platform only, any order: %v", err)
	}
	zero := fullRequest()
	zero.Amount = usd(0)
	if err := Check(zero, Allocation{}); err != nil {
		t.Errorf("zero amount, no shares: %v", err)
	}
	if err := Check(zero, Allocation{Shares: []Share{{Role: RoleModel, PartyID: "m1", Amount: usd(0)}}}); err != nil {
		t.Errorf("zero amount, a zero share: %v", err)
	}
	huge := fullRequest()
	huge.Amount = usd(math.MaxInt64)
	if err := Check(huge, Allocation{Shares: []Share{
		{Role: RoleModel, PartyID: "m1", Amount: usd(math.MaxInt64 - 1)},
		{Role: RolePlatform, Amount: usd(1)},
	}}); err != nil {
		t.Errorf("max int64 amount: %v", err)
	}
}

func TestCheckRejects(t *testing.T) {
	for name, c := range map[string]struct {
		req    func(*AllocateRequest)
		shares func([]Share) []Share
		want   string // part of the message, so the reason is the right one
	}{
		"sum short by one": {shares: func(s []Share) []Share { s[3].Amount.Amount--; return s }, want: "sum to 9999"},
		"sum over by one":  {shares: func(s []Share) []Share { s[0].Amount.Amount++; return s }, want: "sum to 10001"},
		"negative share": {shares: func(s []Share) []Share {
			s[1].Amount.Amount, s[3].Amount.Amount = -1, 3501
			return s
		}, want: "negative"},
		"other currency": {shares: func(s []Share) []Share { s[2].Amount.Currency = "EUR"; return s }, want: `"EUR"`},
		"stranger model": {shares: func(s []Share) []Share { s[0].PartyID = "m2"; return s }, want: `"m2"`},
		"platform with an id": {shares: func(s []Share) []Share { s[3].PartyID = "p"; return s },
			want: `"p"`},
		"studio not in request": {req: func(r *AllocateRequest) { r.Parties.StudioID = "" },
			want: "no studio"},
		"affiliate not in request, empty id": {req: func(r *AllocateRequest) { r.Parties.AffiliateID = "" },
			shares: func(s []Share) []Share { s[2].PartyID = ""; return s }, want: "no affiliate"},
		"unknown role": {shares: func(s []Share) []Share { s[2].Role = "agent"; return s }, want: `"agent"`},
		"duplicate role": {shares: func(s []Share) []Share {
			s[0].Amount.Amount = 3000
			return append(s, Share{Role: RoleModel, PartyID: "m1", Amount: usd(3000)})
		}, want: "more than one model"},
		"overflowing sum": {req: func(r *AllocateRequest) { r.Amount = usd(math.MaxInt64) },
			shares: func([]Share) []Share {
				return []Share{{Role: RoleModel, PartyID: "m1", Amount: usd(math.MaxInt64)}, {Role: RolePlatform, Amount: usd(1)}}
			}, want: "sum past"},
		"negative pair that sums right": {shares: func(s []Share) []Share {
			s[0].Amount.Amount, s[3].Amount.Amount = 8500, -1
			s[1].Amount.Amount = 1001
			return s
		}, want: "negative"},
		"no shares for a positive amount": {shares: func([]Share) []Share { return nil }, want: "sum to 0"},
		"bad request: negative amount":    {req: func(r *AllocateRequest) { r.Amount = usd(-1) }, want: "negative"},
		"bad request: unknown kind":       {req: func(r *AllocateRequest) { r.Kind = "bonus" }, want: `"bonus"`},
		"bad request: no model":           {req: func(r *AllocateRequest) { r.Parties.ModelID = "" }, want: "no model"},
		"bad request: no reference":       {req: func(r *AllocateRequest) { r.Reference = "" }, want: "no reference"},
	} {
		req, alloc := fullRequest(), fullAllocation()
		if c.req != nil {
			c.req(&req)
		}
		if c.shares != nil {
			alloc.Shares = c.shares(alloc.Shares)
		}
		err := Check(req, alloc)
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Check = %v, want errs.Invalid mentioning %s", name, err, c.want)
		}
	}
}

func TestCheckRejectsUnknownCurrencyRequest(t *testing.T) {
	req := fullRequest()
	req.Amount.Currency = "XXX"
	if err := Check(req, Allocation{}); errs.CodeOf(err) != errs.UnknownCurrency {
		t.Errorf("Check with currency XXX = %v, want errs.UnknownCurrency", err)
	}
}
