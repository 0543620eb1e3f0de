package chat

import (
	"context"

	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/sdk/split"
)

// Book is the part of the ledger tips need.
type Book interface {
	Batch(ctx context.Context, reqs []ledger.Request) ([]ledger.Transfer, error)
}

// Allocator divides a tip among the parties: the split plugin's client (any
// split.Splitter), or an in-process one in tests.
type Allocator interface {
	Allocate(ctx context.Context, req split.AllocateRequest) (split.Allocation, error)
}

// Shows tells chat whose show it is, so a tip knows where its money goes.
type Shows interface {
	// TipParties names the model of showID, her studio, and the viewer's
	// affiliate if any; errs.NotFound when there is no such show.
	TipParties(ctx context.Context, showID, viewerID string) (split.Parties, error)
}

var (
	_ Book      = (*ledger.Ledger)(nil)
	_ Allocator = split.Splitter(nil)
)
