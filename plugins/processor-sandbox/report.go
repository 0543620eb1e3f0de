package main

import (
	"context"
	"sort"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

const reportSource = "sandbox state journal"

// Transactions is the sandbox's own record of [From, To), read from its
// state (the journal every change is written to before the call returns):
// each capture, charge and hosted purchase as a sale for what it took, each
// refund under its own reference. Authorisations and voids move no money.
// The sandbox has no chargebacks of its own: a chargeback reaches the host
// only as a signed webhook, so the host reconciles those with the events it
// recorded.
func (s *Sandbox) Transactions(_ context.Context, req processor.TransactionsRequest) (processor.TransactionReport, error) {
	if req.From.IsZero() || req.To.IsZero() || !req.From.Before(req.To) {
		return processor.TransactionReport{}, errs.E(errs.Invalid, "sandbox: report range [%s, %s) is empty", req.From, req.To)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == nil {
		return processor.TransactionReport{}, errNotConfigured
	}
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(req.From) && t.Before(req.To) }
	var out []processor.Transaction
	for ref, p := range s.st.Payments {
		if in(p.At) {
			out = append(out, processor.Transaction{Reference: ref, Kind: processor.TxSale, Amount: p.Amount, OccurredAt: p.At})
		}
		for _, r := range p.Refunds {
			if in(r.At) {
				out = append(out, processor.Transaction{Reference: r.Reference, Kind: processor.TxRefund, RelatedReference: ref,
					Amount: money.Money{Amount: r.Amount, Currency: p.Amount.Currency}, OccurredAt: r.At})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].OccurredAt.Equal(out[j].OccurredAt) {
			return out[i].OccurredAt.Before(out[j].OccurredAt)
		}
		return out[i].Reference < out[j].Reference
	})
	return processor.TransactionReport{Transactions: out, Source: reportSource}, nil
}
