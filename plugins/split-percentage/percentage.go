package main

import (
	"context"
	"math/bits"
	"sync"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/split"
)

const (
	pluginName    = "percentage"
	pluginVersion = "1.0.0"
	// wholeBps is 100% in basis points.
	wholeBps = 10000
)

// rule is one kind's shares in basis points; a role left out is 0 bps.
type rule struct {
	Model     int64 `json:"model"`
	Studio    int64 `json:"studio"`
	Affiliate int64 `json:"affiliate"`
	Platform  int64 `json:"platform"`
}

var defaultRule = rule{Model: 6000, Studio: 1000, Affiliate: 500, Platform: 2500}

type settings struct {
	Default      *rule `json:"default"`
	Private      *rule `json:"private"`
	Group        *rule `json:"group"`
	Tip          *rule `json:"tip"`
	Subscription *rule `json:"subscription"`
	CreditPack   *rule `json:"credit_pack"`
	Ticket       *rule `json:"ticket"`
}

type splitter struct {
	mu    sync.RWMutex
	rules map[split.Kind]rule
}

var _ split.Splitter = (*splitter)(nil)

func newSplitter() *splitter {
	rules, err := parseSettings(nil)
	if err != nil {
		panic("split-percentage: default rule is invalid: " + err.Error())
	}
	return &splitter{rules: rules}
}

func (s *splitter) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindSplit, Name: pluginName, Version: pluginVersion}, nil
}

func (s *splitter) Configure(_ context.Context, settingsJSON []byte) error {
	rules, err := parseSettings(settingsJSON)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.rules = rules
	s.mu.Unlock()
	return nil
}

// parseSettings resolves a rule for every kind, or names the key at fault: a
// split that does not add up must stop `camkit serve`, not underpay a model.
func parseSettings(settingsJSON []byte) (map[split.Kind]rule, error) {
	var s settings
	if err := pluginkit.DecodeSettings(settingsJSON, &s); err != nil {
		return nil, err
	}
	def := defaultRule
	if s.Default != nil {
		if err := s.Default.validate("default"); err != nil {
			return nil, err
		}
		def = *s.Default
	}
	rules := map[split.Kind]rule{}
	// In split.Kinds order, so that the same bad settings always get the same message.
	for _, k := range []struct {
		kind split.Kind
		r    *rule
	}{
		{split.KindPrivate, s.Private}, {split.KindGroup, s.Group}, {split.KindTip, s.Tip},
		{split.KindSubscription, s.Subscription}, {split.KindCreditPack, s.CreditPack}, {split.KindTicket, s.Ticket},
	} {
		rules[k.kind] = def
		if k.r != nil {
			if err := k.r.validate(string(k.kind)); err != nil {
				return nil, err
			}
			rules[k.kind] = *k.r
		}
	}
	return rules, nil
}

func (r rule) validate(key string) error {
	for i, bps := range []int64{r.Model, r.Studio, r.Affiliate, r.Platform} {
		if bps < 0 || bps > wholeBps {
			return errs.E(errs.Invalid, "settings: %s.%s is %d bps, want 0 to %d", key, split.Roles[i], bps, wholeBps)
		}
	}
	// Each is within [0, 10000], so the sum cannot overflow.
	if sum := r.Model + r.Studio + r.Affiliate + r.Platform; sum != wholeBps {
		return errs.E(errs.Invalid, "settings: %s sums to %d bps (model %d + studio %d + affiliate %d + platform %d), want %d",
			key, sum, r.Model, r.Studio, r.Affiliate, r.Platform, wholeBps)
	}
	return nil
}

func (s *splitter) Allocate(_ context.Context, req split.AllocateRequest) (split.Allocation, error) {
	s.mu.RLock()
	r, ok := s.rules[req.Kind]
	s.mu.RUnlock()
	if !ok {
		return split.Allocation{}, errs.E(errs.Invalid, "split: unknown kind %q", req.Kind)
	}
	if req.Amount.Amount < 0 {
		return split.Allocation{}, errs.E(errs.Invalid, "split: amount %d is negative", req.Amount.Amount)
	}
	return allocate(req, r), nil
}

// allocate pays each party its floored share and the platform the rest.
func allocate(req split.AllocateRequest, r rule) split.Allocation {
	a := req.Amount.Amount
	var shares []split.Share
	left := a
	pay := func(role split.Role, id string, bps int64) {
		v := bpsOf(a, bps)
		left -= v
		if v > 0 {
			shares = append(shares, split.Share{Role: role, PartyID: id, Amount: money.Money{Amount: v, Currency: req.Amount.Currency}})
		}
	}
	pay(split.RoleModel, req.Parties.ModelID, r.Model)
	if req.Parties.StudioID != "" {
		pay(split.RoleStudio, req.Parties.StudioID, r.Studio)
	}
	if req.Parties.AffiliateID != "" {
		pay(split.RoleAffiliate, req.Parties.AffiliateID, r.Affiliate)
	}
	if left > 0 {
		shares = append(shares, split.Share{Role: split.RolePlatform, Amount: money.Money{Amount: left, Currency: req.Amount.Currency}})
	}
	return split.Allocation{Shares: shares}
}

// bpsOf returns floor(amount * bps / 10000) for amount >= 0 and 0 <= bps <=
// 10000. The product needs up to 77 bits, so it is formed in 128.
func bpsOf(amount, bps int64) int64 {
	hi, lo := bits.Mul64(uint64(amount), uint64(bps))
	// hi < 10000 because bps <= 10000 and amount < 2^63, so Div64 cannot panic,
	// and the quotient is <= amount, so it fits in int64.
	q, _ := bits.Div64(hi, lo, wholeBps)
	return int64(q)
}
