package billing

import (
	"context"

	"github.com/camkit/camkit/core/ledger"
)

// Ledger is the part of core/ledger that billing needs: linked, idempotent
// batches of transfers. Billing depends on this narrow interface, not on the
// ledger's storage, so it can be driven by any implementation that keeps the
// ledger's contract (a repeat of a batch with the same keys returns the first
// result and moves nothing).
type Ledger interface {
	Batch(ctx context.Context, reqs []ledger.Request) ([]ledger.Transfer, error)
}

// EventSink receives what a viewer or a model should be told about a seat's
// money (a funding warning, an extension, the end of the seat). The web layer
// subscribes one. It is called synchronously from the seat's goroutine and
// must not block.
type EventSink interface {
	BillingEvent(Event)
}

var _ Ledger = (*ledger.Ledger)(nil)
