package reconcile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/reconcile"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

var (
	day  = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	noon = day.Add(12 * time.Hour)
)

func usd(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }

func sale(ref string, n int64, at time.Time) reconcile.Entry {
	return reconcile.Entry{Reference: ref, Kind: processor.TxSale, Amount: usd(n), At: at}
}

func refund(ref, of string, n int64, at time.Time) reconcile.Entry {
	return reconcile.Entry{Reference: ref, Kind: processor.TxRefund, Amount: usd(n), RelatedReference: of, At: at}
}

func TestCompare(t *testing.T) {
	type found struct {
		kind reconcile.MismatchKind
		ref  string
	}
	for _, c := range []struct {
		name             string
		camkit, reported []reconcile.Entry
		matched          int
		want             []found
	}{
		{name: "nothing on either side"},
		{name: "clean", matched: 3,
			camkit:   []reconcile.Entry{sale("c1", 434, noon), sale("b1", 600, noon), refund("r1", "b1", 166, noon)},
			reported: []reconcile.Entry{refund("r1", "b1", 166, noon), sale("c1", 434, noon), sale("b1", 600, noon)}},
		{name: "a capture the ledger lacks", matched: 1,
			camkit:   []reconcile.Entry{sale("c1", 434, noon)},
			reported: []reconcile.Entry{sale("c1", 434, noon), sale("c2", 300, noon.Add(time.Hour))},
			want:     []found{{reconcile.MissingInLedger, "c2"}}},
		{name: "a refund the processor lacks", matched: 1,
			camkit:   []reconcile.Entry{sale("c1", 434, noon), refund("r1", "c1", 100, noon.Add(time.Hour))},
			reported: []reconcile.Entry{sale("c1", 434, noon)},
			want:     []found{{reconcile.MissingAtProcessor, "r1"}}},
		{name: "amount differs",
			camkit:   []reconcile.Entry{sale("c1", 434, noon)},
			reported: []reconcile.Entry{sale("c1", 433, noon)},
			want:     []found{{reconcile.AmountDiffers, "c1"}}},
		{name: "currency differs",
			camkit:   []reconcile.Entry{sale("c1", 434, noon)},
			reported: []reconcile.Entry{{Reference: "c1", Kind: processor.TxSale, Amount: money.Money{Amount: 434, Currency: "EUR"}, At: noon}},
			want:     []found{{reconcile.AmountDiffers, "c1"}}},
		{name: "kind differs",
			camkit:   []reconcile.Entry{refund("x1", "c0", 300, noon)},
			reported: []reconcile.Entry{{Reference: "x1", Kind: processor.TxChargeback, Amount: usd(300), At: noon}},
			want:     []found{{reconcile.KindDiffers, "x1"}}},
		{name: "a reversal booked as two transfers is one transaction", matched: 1,
			camkit:   []reconcile.Entry{refund("r1", "c1", 40, noon), refund("r1", "c1", 60, noon)},
			reported: []reconcile.Entry{refund("r1", "c1", 100, noon)}},
		{name: "a transfer that names no processor transaction",
			camkit: []reconcile.Entry{{Kind: processor.TxSale, Amount: usd(5), At: noon, Origin: "ledger transfer odd/1"}},
			want:   []found{{reconcile.Untraced, ""}}},
		{name: "counterparts across the range's edge match; strays outside it are not reported", matched: 1,
			camkit:   []reconcile.Entry{sale("c1", 434, day.Add(24*time.Hour+time.Minute)), sale("old", 1, day.Add(-time.Hour))},
			reported: []reconcile.Entry{sale("c1", 434, day.Add(24*time.Hour-time.Minute)), sale("late", 1, day.Add(25*time.Hour))}},
		{name: "several at once, oldest first", matched: 0,
			camkit:   []reconcile.Entry{refund("r1", "c1", 100, noon.Add(2*time.Hour)), sale("c3", 10, noon)},
			reported: []reconcile.Entry{sale("c2", 300, noon.Add(time.Hour)), sale("c3", 11, noon)},
			want:     []found{{reconcile.AmountDiffers, "c3"}, {reconcile.MissingInLedger, "c2"}, {reconcile.MissingAtProcessor, "r1"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			matched, _, _, got := reconcile.Compare(c.camkit, c.reported, day, day.Add(24*time.Hour))
			if matched != c.matched || len(got) != len(c.want) {
				t.Fatalf("matched %d, mismatches %+v; want %d and %+v", matched, got, c.matched, c.want)
			}
			for i, w := range c.want {
				if got[i].Kind != w.kind || got[i].Reference != w.ref {
					t.Errorf("mismatch %d = %s, want %s %s", i, got[i], w.kind, w.ref)
				}
				if !strings.HasPrefix(got[i].String(), "MISMATCH "+string(w.kind)+" ") {
					t.Errorf("line %q", got[i].String())
				}
			}
		})
	}
}

// fakes of the three sources, for Run's choice between them.
type books []reconcile.Entry

func (b books) Clearing(context.Context, string, time.Time, time.Time) ([]reconcile.Entry, error) {
	return b, nil
}

type records struct{ events, answers []reconcile.Entry }

func (r records) Events(context.Context, string, time.Time, time.Time) ([]reconcile.Entry, error) {
	return r.events, nil
}
func (r records) Answers(context.Context, string, time.Time, time.Time) ([]reconcile.Entry, error) {
	return r.answers, nil
}

type statement struct {
	rep processor.TransactionReport
	err error
	req *processor.TransactionsRequest
}

func (s statement) Transactions(_ context.Context, req processor.TransactionsRequest) (processor.TransactionReport, error) {
	if s.req != nil {
		*s.req = req
	}
	return s.rep, s.err
}

func TestRunUsesTheReportElseTheRecords(t *testing.T) {
	ctx := context.Background()
	o := reconcile.Options{Processor: "x", From: day, To: day.Add(24 * time.Hour)}
	ours := books{sale("c1", 434, noon), {Reference: "cb1", Kind: processor.TxChargeback, Amount: usd(434), At: noon}}
	rec := records{
		events:  []reconcile.Entry{{Reference: "cb1", Kind: processor.TxChargeback, Amount: usd(434), At: noon}, sale("c1", 434, noon)},
		answers: []reconcile.Entry{sale("c1", 434, noon)},
	}

	// With a report: it is asked for the range widened by the margin, and
	// chargebacks, which it lists none of, come from the notifications.
	var asked processor.TransactionsRequest
	rep := statement{rep: processor.TransactionReport{Source: "X report", Transactions: []processor.Transaction{
		{Reference: "c1", Kind: processor.TxSale, Amount: usd(434), OccurredAt: noon}}}, req: &asked}
	res, err := reconcile.Run(ctx, o, ours, rep, rec)
	if err != nil || !res.Clean() || res.Matched != 2 || res.Source != "X report" || len(res.Notes) != 1 {
		t.Fatalf("with a report: %+v, %v", res, err)
	}
	if !asked.From.Equal(day.Add(-reconcile.DefaultMargin)) || !asked.To.Equal(day.Add(24*time.Hour+reconcile.DefaultMargin)) {
		t.Fatalf("the report was asked for [%s, %s)", asked.From, asked.To)
	}
	// A reported sale the ledger lacks whose answer camkit recorded says so.
	rep.rep.Transactions = append(rep.rep.Transactions, processor.Transaction{Reference: "c9", Kind: processor.TxSale, Amount: usd(5), OccurredAt: noon})
	withAnswer := rec
	withAnswer.answers = append(withAnswer.answers, reconcile.Entry{Reference: "c9", Kind: processor.TxSale, Amount: usd(5), At: noon, Origin: "answer to seat/s9/capture"})
	res, err = reconcile.Run(ctx, o, ours, rep, withAnswer)
	if err != nil || len(res.Mismatches) != 1 || res.Mismatches[0].Kind != reconcile.MissingInLedger ||
		!strings.Contains(res.Mismatches[0].String(), "camkit has the answer to seat/s9/capture but no clearing transfer books it") {
		t.Fatalf("a sale the ledger lacks, answered: %+v, %v", res.Mismatches, err)
	}
	// The report alone decides the sales: one it lacks is missing there.
	rep.rep.Transactions = nil
	if res, _ := reconcile.Run(ctx, o, ours, rep, rec); len(res.Mismatches) != 1 || res.Mismatches[0].Kind != reconcile.MissingAtProcessor {
		t.Fatalf("a sale the report lacks: %+v", res.Mismatches)
	}

	// Without one: the answers and the notifications, a notification that
	// repeats an answer counted once; the output says so.
	res, err = reconcile.Run(ctx, o, ours, statement{err: errs.E(errs.Unsupported, "no report")}, rec)
	if err != nil || !res.Clean() || res.Matched != 2 || res.Source != reconcile.SourceRecorded || len(res.Notes) != 1 ||
		!strings.Contains(res.Notes[0], "offers no transaction report") {
		t.Fatalf("without a report: %+v, %v", res, err)
	}
	lines := res.Lines()
	if !strings.HasPrefix(lines[0], "NOTE ") || !strings.HasSuffix(lines[len(lines)-1], "; clean") {
		t.Fatalf("output %q", lines)
	}

	// A report that fails is an error, not a fallback.
	if _, err := reconcile.Run(ctx, o, ours, statement{err: errs.Retry(errs.Unavailable, "down")}, rec); !errs.IsRetryable(err) {
		t.Fatalf("a failing report: %v", err)
	}
	for _, bad := range []reconcile.Options{{From: day, To: day.Add(time.Hour)}, {Processor: "x", From: day, To: day},
		{Processor: "x", From: day, To: day.Add(time.Hour), Margin: -time.Second}} {
		if _, err := reconcile.Run(ctx, bad, ours, rep, rec); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("Run(%+v) = %v, want invalid", bad, err)
		}
	}
}
