package main

import (
	"context"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// Transactions: this plugin does not read the processor's report yet; the
// host reconciles with the events it recorded.
func (*Epoch) Transactions(context.Context, processor.TransactionsRequest) (processor.TransactionReport, error) {
	return processor.TransactionReport{}, errs.E(errs.Unsupported, "no transaction report is read yet")
}
