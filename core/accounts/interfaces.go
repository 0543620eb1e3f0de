package accounts

import (
	"context"

	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/sdk/processor"
)

// Book is the part of the ledger accounts uses: credit-pack batches and wallet
// reads. *ledger.Ledger is the implementation; the interface keeps the
// dependency visible and narrow.
type Book interface {
	Batch(ctx context.Context, reqs []ledger.Request) ([]ledger.Transfer, error)
	Balance(ctx context.Context, code, currency string) (ledger.Balance, error)
	Statement(ctx context.Context, code, currency, cursor string, limit int) (ledger.StatementPage, error)
}

// Checkouts is the part of a payment processor the card on file and credit
// packs need. Any processor.Processor (a plugin client or an in-process one)
// is one.
type Checkouts interface {
	StartCheckout(ctx context.Context, req processor.StartCheckoutRequest) (processor.Checkout, error)
	CompleteCheckout(ctx context.Context, req processor.CompleteCheckoutRequest) (processor.CheckoutResult, error)
	Charge(ctx context.Context, req processor.ChargeRequest) (processor.ChargeResult, error)
}

var (
	_ Book      = (*ledger.Ledger)(nil)
	_ Checkouts = processor.Processor(nil)
)
