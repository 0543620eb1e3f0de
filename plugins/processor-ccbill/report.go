package main

import (
	"context"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// Transactions is not offered. The REST API reads back one payment token's
// subscription ids only (GET /transactions/payment-tokens/{id}: ids, no
// amounts or dates), and DataLink's transaction extract (data/main.cgi) is a
// CSV whose columns CCBill's public Data Link Extract guide does not list in
// a form a report could be parsed against, and which answers once an hour at
// most. Reconciliation uses the events the host recorded from CCBill's
// webhooks instead.
func (*CCBill) Transactions(context.Context, processor.TransactionsRequest) (processor.TransactionReport, error) {
	return processor.TransactionReport{}, errs.E(errs.Unsupported,
		"ccbill: no documented transaction report this plugin can read (DataLink's extract columns are not public); reconcile with the recorded webhook events")
}
