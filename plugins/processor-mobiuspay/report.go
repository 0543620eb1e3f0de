package main

import (
	"context"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

const (
	reportSource   = "NMI query.php"
	reportMaxPages = 1000 // a runaway paging loop stops here, with an error
)

// reportPageSize is query.php's result_limit: one page of transactions (a
// variable so that a test can page through a few).
var reportPageSize = 1000

// Transactions reads NMI's own record of [From, To) from query.php
// (start_date/end_date, YYYYMMDDhhmmss, a page of result_limit
// transactions at a time) and lists the successful actions that moved money
// in that range: sales and captures as sales (a capture is reported for
// what it captured, not for the hold), refunds and unreferenced credits as
// refunds. Auths and voids move nothing; a sale or capture voided before
// settlement moved nothing either and is left out. References are NMI
// transaction ids, the ones Capture, Charge and Refund returned. Chargebacks
// are not in query.php's transaction actions as far as the public samples
// show: they come from the chargeback webhook (to confirm).
func (m *MobiusPay) Transactions(ctx context.Context, req processor.TransactionsRequest) (processor.TransactionReport, error) {
	if req.From.IsZero() || req.To.IsZero() || !req.From.Before(req.To) {
		return processor.TransactionReport{}, errs.E(errs.Invalid, "mobiuspay: report range [%s, %s) is empty", req.From, req.To)
	}
	c := m.nmi()
	if c == nil {
		return processor.TransactionReport{}, errs.Retry(errs.Unavailable, "mobiuspay processor is not configured yet")
	}
	from, to := req.From.UTC(), req.To.UTC()
	// end_date is inclusive to the second: the last second before To.
	last := to.Add(-time.Nanosecond).Truncate(time.Second)
	cur := m.currencies()
	var out []processor.Transaction
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == reportMaxPages {
			return processor.TransactionReport{}, errs.E(errs.Limit, "mobiuspay: query.php still had transactions after %d pages", page)
		}
		q, err := c.query(ctx, url.Values{
			"start_date": {from.Format("20060102150405")}, "end_date": {last.Format("20060102150405")},
			"result_limit": {strconv.Itoa(reportPageSize)}, "page_number": {strconv.Itoa(page)},
		})
		if err != nil {
			return processor.TransactionReport{}, err
		}
		for _, t := range q.Transactions {
			if seen[t.TransactionID] {
				continue // a transaction that moved between pages while they were read
			}
			seen[t.TransactionID] = true
			txs, err := reported(t, from, to, cur)
			if err != nil {
				return processor.TransactionReport{}, err
			}
			out = append(out, txs...)
		}
		if len(q.Transactions) < reportPageSize {
			break
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].OccurredAt.Before(out[j].OccurredAt) })
	return processor.TransactionReport{Transactions: out, Source: reportSource}, nil
}

// reported lists what one query.php transaction moved within [from, to).
func reported(t queryTransaction, from, to time.Time, currencies []string) ([]processor.Transaction, error) {
	currency := t.Currency
	if currency == "" && len(currencies) == 1 {
		currency = currencies[0]
	}
	voided := false
	for _, a := range t.Actions {
		voided = voided || a.ActionType == "void" && a.Success == "1"
	}
	var out []processor.Transaction
	for _, a := range t.Actions {
		if a.Success != "1" {
			continue
		}
		var kind processor.TransactionKind
		switch a.ActionType {
		case "sale", "capture":
			if voided {
				continue
			}
			kind = processor.TxSale
		case "refund", "credit":
			kind = processor.TxRefund
		default:
			continue // auth, void, validate, settle…: no money moved
		}
		at := actionTime(a.Date)
		if at.IsZero() {
			return nil, errs.Retry(errs.Unavailable, "mobiuspay: query.php action %s of %s has an unreadable date %q", a.ActionType, t.TransactionID, a.Date)
		}
		if at.Before(from) || !at.Before(to) {
			continue
		}
		if currency == "" {
			return nil, errs.Retry(errs.Unavailable, "mobiuspay: query.php transaction %s has no currency", t.TransactionID)
		}
		amt, err := parseWireAmount(a.Amount, currency)
		if err != nil {
			return nil, err
		}
		if amt.Amount <= 0 {
			continue
		}
		tx := processor.Transaction{Reference: t.TransactionID, Kind: kind, Amount: amt, OccurredAt: at}
		if kind == processor.TxRefund {
			tx.RelatedReference = t.OriginalTransactionID
		}
		out = append(out, tx)
	}
	return out, nil
}
