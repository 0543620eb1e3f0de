package split

import (
	"math"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

// Validate checks a request before it is allocated: a known kind, a known
// currency, an amount >= 0, a model and a reference. The plugin glue runs it
// before a plugin sees the request, so a plugin may rely on it.
func (r AllocateRequest) Validate() error {
	if !r.Kind.Valid() {
		return errs.E(errs.Invalid, "split: unknown kind %q", r.Kind)
	}
	if _, err := money.Lookup(r.Amount.Currency); err != nil {
		return errs.E(errs.UnknownCurrency, "split: amount currency %q is not an ISO 4217 code", r.Amount.Currency)
	}
	if r.Amount.Amount < 0 {
		return errs.E(errs.Invalid, "split: amount %d %s is negative", r.Amount.Amount, r.Amount.Currency)
	}
	if r.Parties.ModelID == "" {
		return errs.E(errs.Invalid, "split: request %q has no model id", r.Reference)
	}
	if r.Reference == "" {
		return errs.E(errs.Invalid, "split: request has no reference")
	}
	return nil
}

// Check is the host's guard on every allocation, from any plugin: it returns
// an errs.Invalid error, and the host posts nothing, unless alloc
//   - has at most one share per role, each of a known role,
//   - names only parties of req (model, studio and affiliate by their ids; the
//     platform with an empty id), so money never lands with a stranger,
//   - keeps req's currency and has no negative share,
//   - sums exactly to req.Amount, so no minor unit is created or lost.
//
// Zero shares are allowed, and a party of req may be left out.
func Check(req AllocateRequest, alloc Allocation) error {
	if err := req.Validate(); err != nil {
		return err
	}
	seen := make(map[Role]bool, len(Roles))
	var sum int64
	for i, s := range alloc.Shares {
		want, ok := partyFor(req.Parties, s.Role)
		if !ok {
			return errs.E(errs.Invalid, "split %s: share %d has unknown role %q", req.Reference, i, s.Role)
		}
		if seen[s.Role] {
			return errs.E(errs.Invalid, "split %s: more than one %s share", req.Reference, s.Role)
		}
		seen[s.Role] = true
		if s.Role != RolePlatform && want == "" {
			return errs.E(errs.Invalid, "split %s: %s share %q but the request has no %s",
				req.Reference, s.Role, s.PartyID, s.Role)
		}
		if s.PartyID != want {
			return errs.E(errs.Invalid, "split %s: %s share names %q, the request's %s is %q",
				req.Reference, s.Role, s.PartyID, s.Role, want)
		}
		if s.Amount.Currency != req.Amount.Currency {
			return errs.E(errs.Invalid, "split %s: %s share is in %q, the amount is in %s",
				req.Reference, s.Role, s.Amount.Currency, req.Amount.Currency)
		}
		if s.Amount.Amount < 0 {
			return errs.E(errs.Invalid, "split %s: %s share %d is negative", req.Reference, s.Role, s.Amount.Amount)
		}
		var fits bool
		// Both operands are >= 0, so an overflow means the shares exceed any int64 amount.
		if sum, fits = money.AddInt64(sum, s.Amount.Amount); !fits {
			return errs.E(errs.Invalid, "split %s: shares sum past %d", req.Reference, int64(math.MaxInt64))
		}
	}
	if sum != req.Amount.Amount {
		return errs.E(errs.Invalid, "split %s: shares sum to %d, the amount is %d (minor units of %s)",
			req.Reference, sum, req.Amount.Amount, req.Amount.Currency)
	}
	return nil
}

// partyFor returns the id a share of role must carry, and false for an unknown role.
func partyFor(p Parties, role Role) (string, bool) {
	switch role {
	case RoleModel:
		return p.ModelID, true
	case RoleStudio:
		return p.StudioID, true
	case RoleAffiliate:
		return p.AffiliateID, true
	case RolePlatform:
		return "", true
	}
	return "", false
}
