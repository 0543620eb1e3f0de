package main

import (
	"context"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// Transactions: Epoch documents no transaction report that a plugin could
// read. What public integrations pull from Epoch is the Customer Search API
// (epoch.com/services/customer_search, api_action=search|cancel: members,
// not transactions, behind an IP allow-list) and DataPlus itself, which
// Epoch pushes (HTTPS) or writes into a database of the merchant's
// (EpochTransStats); no answer format of a transaction listing was found.
// So the host reconciles Epoch from the postbacks and DataPlus events it
// recorded.
func (*Epoch) Transactions(context.Context, processor.TransactionsRequest) (processor.TransactionReport, error) {
	return processor.TransactionReport{}, errs.E(errs.Unsupported,
		"epoch: no transaction report API is documented; camkit reconciles Epoch from the postbacks and DataPlus events it recorded")
}
