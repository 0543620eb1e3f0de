package tickets

import (
	"context"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/split"
)

// Book is the part of the ledger tickets moves money with: holds, their
// posts and voids, and the split's transfers, in all-or-nothing batches.
type Book interface {
	Batch(ctx context.Context, reqs []ledger.Request) ([]ledger.Transfer, error)
	TransferByKey(ctx context.Context, key string) (ledger.Transfer, error)
}

// Allocator is the split plugin: who gets which part of a posted ticket.
type Allocator interface {
	Allocate(ctx context.Context, req split.AllocateRequest) (split.Allocation, error)
}

// Parties names a model's studio (and affiliate) for the split.
type Parties interface {
	PartiesOf(ctx context.Context, modelID string) (split.Parties, error)
}

// Cards pays a ticket by card: the card on file is charged exactly its
// price into the wallet (core/accounts' card top-up, a credit-pack purchase
// of that amount), and the ticket is then held there like any other.
type Cards interface {
	TopUp(ctx context.Context, userID string, amount money.Money, key string) (accounts.Purchase, error)
}

// Broadcasts is the part of core/shows a ticket show follows: the model's
// broadcast on air and the SFU under it, so starting a ticket show cuts the
// viewers already watching without a ticket.
type Broadcasts interface {
	ShowOfModel(ctx context.Context, modelID string) (shows.Show, bool, error)
	Media() shows.Media
}

var (
	_ Book                  = (*ledger.Ledger)(nil)
	_ Cards                 = (*accounts.CreditPacks)(nil)
	_ Broadcasts            = (*shows.Service)(nil)
	_ shows.TicketAdmission = (*Service)(nil)
	_ Store                 = (*MemStore)(nil)
	_ Store                 = (*SQLStore)(nil)
)
