package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// DefaultMargin widens the range both sides are read over (see the package
// doc): a day covers a settlement retried for hours and a notification
// delivered late.
const DefaultMargin = 24 * time.Hour

// Options say what to reconcile.
type Options struct {
	Processor string
	From, To  time.Time     // [From, To)
	Margin    time.Duration // 0: DefaultMargin
}

// Run reconciles one processor over [From, To): camkit's books against the
// processor's report, or against what it told camkit when it offers none.
func Run(ctx context.Context, o Options, books Books, report Statement, recorded Records) (Result, error) {
	if o.Processor == "" {
		return Result{}, errs.E(errs.Invalid, "reconcile: no processor named")
	}
	if o.From.IsZero() || o.To.IsZero() || !o.From.Before(o.To) {
		return Result{}, errs.E(errs.Invalid, "reconcile: the range [%s, %s) is empty", o.From, o.To)
	}
	if o.Margin < 0 {
		return Result{}, errs.E(errs.Invalid, "reconcile: negative margin %s", o.Margin)
	}
	margin := o.Margin
	if margin == 0 {
		margin = DefaultMargin
	}
	from, to := o.From.Add(-margin).UTC(), o.To.Add(margin).UTC()
	res := Result{Processor: o.Processor, From: o.From.UTC(), To: o.To.UTC(), Mismatches: []Mismatch{}}

	camkit, err := books.Clearing(ctx, o.Processor, from, to)
	if err != nil {
		return Result{}, err
	}
	var theirs []Entry
	rep, err := report.Transactions(ctx, processor.TransactionsRequest{From: from, To: to})
	switch {
	case errs.CodeOf(err) == errs.Unsupported:
		res.Source = SourceRecorded
		res.Notes = append(res.Notes, fmt.Sprintf("processor %s offers no transaction report: compared with the notifications the host recorded and the processor's answers to camkit's calls", o.Processor))
		answers, err := recorded.Answers(ctx, o.Processor, from, to)
		if err != nil {
			return Result{}, err
		}
		events, err := recorded.Events(ctx, o.Processor, from, to)
		if err != nil {
			return Result{}, err
		}
		// A notification of a transaction camkit made itself repeats its answer.
		seen := map[key]bool{}
		for _, a := range answers {
			seen[key{a.Reference, a.Kind}] = true
		}
		theirs = answers
		for _, ev := range events {
			if !seen[key{ev.Reference, ev.Kind}] {
				theirs = append(theirs, ev)
			}
		}
	case err != nil:
		return Result{}, fmt.Errorf("reconcile: the report of processor %s: %w", o.Processor, err)
	default:
		res.Source = rep.Source
		if res.Source == "" {
			res.Source = "the " + o.Processor + " report"
		}
		chargebacks := false
		for _, t := range rep.Transactions {
			chargebacks = chargebacks || t.Kind == processor.TxChargeback
			theirs = append(theirs, Entry{Reference: t.Reference, Kind: t.Kind, Amount: t.Amount, RelatedReference: t.RelatedReference,
				At: t.OccurredAt, Origin: res.Source})
		}
		if !chargebacks {
			events, err := recorded.Events(ctx, o.Processor, from, to)
			if err != nil {
				return Result{}, err
			}
			n := 0
			for _, ev := range events {
				if ev.Kind == processor.TxChargeback {
					theirs = append(theirs, ev)
					n++
				}
			}
			res.Notes = append(res.Notes, fmt.Sprintf("%s lists no chargebacks: compared with the %d chargeback notification(s) the host recorded", res.Source, n))
		}
	}
	res.Matched, res.Camkit, res.Reported, res.Mismatches = Compare(camkit, theirs, res.From, res.To)
	if res.Mismatches == nil {
		res.Mismatches = []Mismatch{}
	}
	if res.Source != SourceRecorded {
		if err := explainMissing(ctx, o.Processor, from, to, recorded, res.Mismatches); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}

// explainMissing says, of a reported transaction the ledger lacks, when
// camkit's own records have the processor's answer for it: the call
// succeeded and its booking did not happen (a seat stopped for an operator
// between the capture and its settle batch), rather than money moved
// behind camkit's back.
func explainMissing(ctx context.Context, name string, from, to time.Time, recorded Records, ms []Mismatch) error {
	missing := false
	for _, m := range ms {
		missing = missing || m.Kind == MissingInLedger
	}
	if !missing {
		return nil
	}
	answers, err := recorded.Answers(ctx, name, from, to)
	if err != nil {
		return err
	}
	by := map[key]string{}
	for _, a := range answers {
		by[key{a.Reference, a.Kind}] = a.Origin
	}
	for _, m := range ms {
		if m.Kind != MissingInLedger {
			continue
		}
		if origin, ok := by[key{m.Reference, m.Processor.Kind}]; ok {
			m.Processor.Origin += "; camkit has the " + origin + " but no clearing transfer books it"
		}
	}
	return nil
}
