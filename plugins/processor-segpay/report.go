package main

import (
	"context"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// Transactions is not offered. SRS has report methods (MWS.asmx
// TransactionsPurchasesByURL and others, as stojankukrika/segpay-payments
// calls them), but no public documentation of their answer's fields found,
// so no report could be parsed against it. Reconciliation uses the events
// the host recorded from Segpay's TransPosts instead.
func (*Segpay) Transactions(context.Context, processor.TransactionsRequest) (processor.TransactionReport, error) {
	return processor.TransactionReport{}, errs.E(errs.Unsupported,
		"segpay: SRS report answers are not publicly documented; reconcile with the recorded TransPost events")
}
