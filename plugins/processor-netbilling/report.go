package main

import (
	"context"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// Transactions is not offered. NETbilling's Data Retrieval Interface
// (gw/reports/transaction1.5, repinterface1.5.html) is documented publicly
// only as far as its request (account_id, site_tag, the data retrieval
// keyword as authorization, transactions_after/_before) and its shape (CSV
// with a header row; errors as text/plain "<code> <message>"); of its
// columns only TRANS_ID is seen in public code. Reading amounts and types
// from guessed column names would reconcile against a wrong report, so the
// host reconciles from the events it recorded until NETbilling confirms the
// columns.
func (*NETbilling) Transactions(context.Context, processor.TransactionsRequest) (processor.TransactionReport, error) {
	return processor.TransactionReport{}, errs.E(errs.Unsupported, "netbilling: the transaction report's columns are not publicly documented; reconcile from recorded events")
}
