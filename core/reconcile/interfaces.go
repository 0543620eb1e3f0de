package reconcile

import (
	"context"
	"time"

	"github.com/camkit/camkit/sdk/processor"
)

// Books is camkit's side: the transfers of processor:<name>:clearing
// created in [from, to), each traced to the processor transaction it books
// (Reference set) or, when no record names one, left with an empty
// Reference. Fees (processor:<name>:fees -> clearing) are no processor
// transaction and are left out.
type Books interface {
	Clearing(ctx context.Context, processorName string, from, to time.Time) ([]Entry, error)
}

// Records is what the processor told camkit, dated in [from, to): its
// notifications as the host recorded them (refunds, chargebacks, sales,
// rebills that moved money), and its answers to camkit's own calls (the
// captures, charges and refunds of the intent log, the charges of credit
// packs). It stands in for a report the processor does not offer.
type Records interface {
	Events(ctx context.Context, processorName string, from, to time.Time) ([]Entry, error)
	Answers(ctx context.Context, processorName string, from, to time.Time) ([]Entry, error)
}

// Statement is the processor's own report: the processor plugin.
type Statement interface {
	Transactions(ctx context.Context, req processor.TransactionsRequest) (processor.TransactionReport, error)
}

var _ Statement = processor.Processor(nil)
