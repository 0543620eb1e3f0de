// Package split is the contract of a payout-split plugin: given a settled net
// amount and the parties entitled to it, it says how much each one gets. The
// host never trusts the answer blindly: Check runs on every allocation before
// a single ledger transfer is posted.
package split

import (
	"context"

	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
)

// Splitter is what a split plugin implements and what the host's settlement
// depends on (through the gRPC client returned by Plugin, or in-process in tests).
type Splitter interface {
	pluginkit.Module
	// Allocate divides req.Amount among req.Parties and the platform. The
	// shares must pass Check(req, allocation), and the same request under the
	// same settings must get the same shares: a retried settlement posts what
	// the first attempt would have.
	Allocate(ctx context.Context, req AllocateRequest) (Allocation, error)
}

// Kind says what the money was paid for; rules usually differ per kind.
type Kind string

const (
	KindPrivate      Kind = "private"
	KindGroup        Kind = "group"
	KindTip          Kind = "tip"
	KindSubscription Kind = "subscription"
	KindCreditPack   Kind = "credit_pack"
	// KindTicket is a ticket show's ticket, split once the show happened.
	KindTicket Kind = "ticket"
)

// Kinds lists every kind in a stable order.
var Kinds = []Kind{KindPrivate, KindGroup, KindTip, KindSubscription, KindCreditPack, KindTicket}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if k == x {
			return true
		}
	}
	return false
}

// Role is the part a party plays in an allocation; the host posts each share
// to the role's earnings account (model:<id>:earnings, platform:revenue, ...).
type Role string

const (
	RoleModel     Role = "model"
	RoleStudio    Role = "studio"
	RoleAffiliate Role = "affiliate"
	RolePlatform  Role = "platform"
)

// Roles lists every role in a stable order.
var Roles = []Role{RoleModel, RoleStudio, RoleAffiliate, RolePlatform}

// Parties entitled to a share. The platform is always entitled and has no id.
type Parties struct {
	ModelID     string
	StudioID    string // empty when the model works without a studio
	AffiliateID string // empty when no affiliate referred the viewer
}

// AllocateRequest is one settled amount to divide.
type AllocateRequest struct {
	Kind      Kind
	Amount    money.Money // the settled net amount, >= 0
	Parties   Parties
	Reference string // the seat or tip id the money comes from
}

// Share is one party's part. PartyID is empty for the platform.
type Share struct {
	Role    Role
	PartyID string
	Amount  money.Money
}

// Allocation is the answer to an AllocateRequest: at most one share per role.
type Allocation struct {
	Shares []Share
}

// Serve runs impl as a split plugin until the host goes away. A plugin's main
// is `split.Serve(&mySplitter{})`.
func Serve(impl Splitter) {
	pluginkit.Serve(pluginkit.KindSplit, &Plugin{Impl: impl})
}
