package main

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

func sortedReport(r processor.TransactionReport) []processor.Transaction {
	out := append([]processor.Transaction(nil), r.Transactions...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Reference != out[j].Reference {
			return out[i].Reference < out[j].Reference
		}
		return out[i].Kind < out[j].Kind
	})
	for i := range out {
		out[i].OccurredAt = time.Time{}
	}
	return out
}

// The report is what query.php shows moved: a sale and a partial capture as
// sales for what they took, the plugin's refund and a portal refund as
// refunds of what they name, in minor units, under the references the
// plugin returned; the auth, the voided hold and the declined auth moved
// nothing and are left out.
func TestTransactionsReportReadsQueryPHP(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, _ := newTestPlugin(t, f)
	h := makeHistory(t, m, f)
	now := time.Now()
	for _, pageSize := range []int{1000, 2} {
		reportPageSize = pageSize
		rep, err := m.Transactions(context.Background(), processor.TransactionsRequest{From: now.Add(-time.Hour), To: now.Add(time.Hour)})
		reportPageSize = 1000
		if err != nil {
			t.Fatalf("page size %d: %v", pageSize, err)
		}
		want := sortedReport(processor.TransactionReport{Transactions: []processor.Transaction{
			{Reference: h.sale, Kind: processor.TxSale, Amount: usd(1999)},
			{Reference: h.capture, Kind: processor.TxSale, Amount: usd(1800)},
			{Reference: h.refund, Kind: processor.TxRefund, Amount: usd(500), RelatedReference: h.sale},
			{Reference: h.portalRefund, Kind: processor.TxRefund, Amount: usd(300), RelatedReference: h.capture},
		}})
		got := sortedReport(rep)
		if rep.Source != "NMI query.php" || len(got) != len(want) {
			t.Fatalf("page size %d: report %+v, want %+v", pageSize, rep, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("page size %d: line %d = %+v, want %+v", pageSize, i, got[i], want[i])
			}
		}
		for _, tx := range rep.Transactions {
			if tx.OccurredAt.Before(now.Add(-time.Minute)) || tx.OccurredAt.After(now.Add(time.Minute)) {
				t.Errorf("%+v is not dated when it happened", tx)
			}
		}
	}
	// A range that ends before everything lists nothing, and asks
	// query.php with the documented YYYYMMDDhhmmss dates.
	from := now.Add(-48 * time.Hour).UTC()
	rep, err := m.Transactions(context.Background(), processor.TransactionsRequest{From: from, To: now.Add(-24 * time.Hour)})
	if err != nil || len(rep.Transactions) != 0 {
		t.Fatalf("an earlier day: %+v, %v", rep, err)
	}
	f.Mu.Lock()
	last := f.Queries[len(f.Queries)-1]
	f.Mu.Unlock()
	if last.Get("start_date") != from.Format("20060102150405") || len(last.Get("end_date")) != 14 || last.Get("security_key") == "" {
		t.Fatalf("query.php was asked %v", last)
	}
	if _, err := m.Transactions(context.Background(), processor.TransactionsRequest{From: now, To: now}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("an empty range: %v", err)
	}
}

// A report query that fails is retryable, never an empty report.
func TestTransactionsReportFailureIsNotAnEmptyReport(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, _ := newTestPlugin(t, f)
	f.Set(func() { f.Key = "rotated" })
	_, err := m.Transactions(context.Background(), processor.TransactionsRequest{From: time.Now().Add(-time.Hour), To: time.Now()})
	if !errs.IsRetryable(err) {
		t.Fatalf("query.php refusing the key: %v", err)
	}
}
