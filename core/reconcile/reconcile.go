// Package reconcile compares camkit's books for one processor with the
// processor's own records (`camkit reconcile`).
//
// camkit's side is the ledger account processor:<name>:clearing: each of its
// transfers is traced, through the receipts' records (the billing intent
// log, the funding steps, credit-pack purchases, the recorded reversals), to
// the processor transaction it books — a seat's capture or block charge, a
// refund, a chargeback, a hosted top-up. The processor's side is its
// transaction report (processor.Processor.Transactions) where its API
// offers one; a processor without one answers errs.Unsupported, and the
// processor's side is then what it told camkit: its answers to camkit's own
// calls and the notifications the host recorded. Chargebacks come from the
// recorded notifications too when the report lists none (NMI's query.php,
// the sandbox: they are notified, not reported).
//
// Both sides are read over the range widened by a margin, because the two
// clocks differ (a capture is dated by the processor, its transfer by the
// host; a refund notified hours later is booked when it arrives), and a
// mismatch is reported only for an entry dated within the range.
package reconcile

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// Entry is one movement of money through the processor, on either side.
type Entry struct {
	Reference        string                    `json:"reference"`
	Kind             processor.TransactionKind `json:"kind"`
	Amount           money.Money               `json:"amount"`
	RelatedReference string                    `json:"related_reference,omitempty"`
	At               time.Time                 `json:"at"`
	// Origin says where it is known from, for the operator: "seat s1
	// capture", "credit pack purchase p1", "event evt_1", the report's name.
	Origin string `json:"origin,omitempty"`
	// LedgerKeys are the clearing transfers booking it (camkit's side).
	LedgerKeys []string `json:"ledger_keys,omitempty"`
}

// MismatchKind names what is wrong.
type MismatchKind string

const (
	// MissingInLedger: the processor moved money no clearing transfer books.
	MissingInLedger MismatchKind = "missing_in_ledger"
	// MissingAtProcessor: camkit booked money the processor's records lack.
	MissingAtProcessor MismatchKind = "missing_at_processor"
	// AmountDiffers: both have the transaction, for other amounts.
	AmountDiffers MismatchKind = "amount_differs"
	// KindDiffers: both have the reference, as another kind (a sale here,
	// a refund there).
	KindDiffers MismatchKind = "kind_differs"
	// Untraced: a clearing transfer that names no processor transaction
	// camkit's records can find.
	Untraced MismatchKind = "untraced"
)

// Mismatch is one disagreement. Camkit or Processor is nil for a missing one.
type Mismatch struct {
	Kind      MismatchKind `json:"kind"`
	Reference string       `json:"reference"`
	Camkit    *Entry       `json:"camkit,omitempty"`
	Processor *Entry       `json:"processor,omitempty"`
}

func (m Mismatch) at() time.Time {
	if m.Processor != nil {
		return m.Processor.At
	}
	return m.Camkit.At
}

// String is the mismatch's line of `camkit reconcile`.
func (m Mismatch) String() string {
	side := func(e *Entry) string {
		s := fmt.Sprintf("%s %s at %s", e.Kind, e.Amount, e.At.UTC().Format(time.RFC3339))
		if e.RelatedReference != "" {
			s += " of " + e.RelatedReference
		}
		var from []string
		if e.Origin != "" {
			from = append(from, e.Origin)
		}
		if len(e.LedgerKeys) > 0 {
			from = append(from, "ledger "+strings.Join(e.LedgerKeys, ", "))
		}
		if len(from) > 0 {
			s += " (" + strings.Join(from, "; ") + ")"
		}
		return s
	}
	ref := m.Reference
	if ref == "" {
		ref = "-"
	}
	switch {
	case m.Camkit != nil && m.Processor != nil:
		return fmt.Sprintf("MISMATCH %s %s: camkit %s; processor %s", m.Kind, ref, side(m.Camkit), side(m.Processor))
	case m.Camkit != nil:
		return fmt.Sprintf("MISMATCH %s %s: camkit %s", m.Kind, ref, side(m.Camkit))
	}
	return fmt.Sprintf("MISMATCH %s %s: processor %s", m.Kind, ref, side(m.Processor))
}

// Result is one reconciliation.
type Result struct {
	Processor string    `json:"processor"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	// Source names the processor's side: its report's name, or
	// SourceRecorded when the processor offers no report.
	Source string `json:"source"`
	// Notes say how the sides were read (a fallback, chargebacks taken
	// from the recorded notifications).
	Notes []string `json:"notes,omitempty"`
	// Matched counts transactions in range on which both sides agree;
	// Camkit and Reported count each side's transactions in range.
	Matched    int        `json:"matched"`
	Camkit     int        `json:"camkit"`
	Reported   int        `json:"reported"`
	Mismatches []Mismatch `json:"mismatches"`
}

// SourceRecorded is the processor's side of a processor without a report.
const SourceRecorded = "recorded events and processor answers"

// Clean reports whether the sides agree.
func (r Result) Clean() bool { return len(r.Mismatches) == 0 }

// Lines is the text output of `camkit reconcile`: the notes, one line per
// mismatch, and a summary.
func (r Result) Lines() []string {
	var out []string
	for _, n := range r.Notes {
		out = append(out, "NOTE "+n)
	}
	for _, m := range r.Mismatches {
		out = append(out, m.String())
	}
	state := "clean"
	if !r.Clean() {
		state = fmt.Sprintf("%d mismatch(es)", len(r.Mismatches))
	}
	out = append(out, fmt.Sprintf("reconcile %s [%s, %s) against %s: %d camkit, %d processor, %d matched; %s",
		r.Processor, r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339), r.Source, r.Camkit, r.Reported, r.Matched, state))
	return out
}

type key struct {
	ref  string
	kind processor.TransactionKind
}

// merge sums the entries of one side that share a reference and kind (a
// reversal booked as two transfers, a report listing a transaction twice):
// the earliest date, every origin and ledger key. Entries without a
// reference stay apart.
func merge(es []Entry) ([]Entry, map[key]int) {
	var out []Entry
	idx := map[key]int{}
	for _, e := range es {
		if e.Reference == "" {
			out = append(out, e)
			continue
		}
		k := key{e.Reference, e.Kind}
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			e.LedgerKeys = append([]string(nil), e.LedgerKeys...)
			out = append(out, e)
			continue
		}
		m := &out[i]
		if m.Amount.Currency == e.Amount.Currency {
			m.Amount.Amount += e.Amount.Amount
		} else {
			m.Amount.Currency = m.Amount.Currency + "+" + e.Amount.Currency // never equal to the other side's
		}
		if e.At.Before(m.At) {
			m.At = e.At
		}
		if e.Origin != "" && !strings.Contains(m.Origin, e.Origin) {
			m.Origin = strings.TrimPrefix(m.Origin+"; "+e.Origin, "; ")
		}
		m.LedgerKeys = append(m.LedgerKeys, e.LedgerKeys...)
		if m.RelatedReference == "" {
			m.RelatedReference = e.RelatedReference
		}
	}
	return out, idx
}

// Compare matches camkit's entries with the processor's by reference and
// kind, and lists every disagreement about a transaction dated in [from,
// to) on either side; entries outside it only serve as counterparts.
func Compare(camkit, reported []Entry, from, to time.Time) (matched, nCamkit, nReported int, out []Mismatch) {
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	cs, cidx := merge(camkit)
	ps, pidx := merge(reported)
	// The processor's entries by reference, for a kind that differs.
	byRef := map[string][]int{}
	for i, p := range ps {
		byRef[p.Reference] = append(byRef[p.Reference], i)
	}
	used := make([]bool, len(ps))
	for i := range cs {
		c := &cs[i]
		if in(c.At) {
			nCamkit++
		}
		if c.Reference == "" {
			if in(c.At) {
				out = append(out, Mismatch{Kind: Untraced, Camkit: c})
			}
			continue
		}
		if j, ok := pidx[key{c.Reference, c.Kind}]; ok {
			used[j] = true
			p := &ps[j]
			if !in(c.At) && !in(p.At) {
				continue
			}
			if c.Amount == p.Amount {
				matched++
			} else {
				out = append(out, Mismatch{Kind: AmountDiffers, Reference: c.Reference, Camkit: c, Processor: p})
			}
			continue
		}
		other := -1
		for _, j := range byRef[c.Reference] {
			if !used[j] {
				if _, mine := cidx[key{c.Reference, ps[j].Kind}]; !mine {
					other = j
					break
				}
			}
		}
		if other >= 0 {
			used[other] = true
			if in(c.At) || in(ps[other].At) {
				out = append(out, Mismatch{Kind: KindDiffers, Reference: c.Reference, Camkit: c, Processor: &ps[other]})
			}
			continue
		}
		if in(c.At) {
			out = append(out, Mismatch{Kind: MissingAtProcessor, Reference: c.Reference, Camkit: c})
		}
	}
	for j := range ps {
		p := &ps[j]
		if in(p.At) {
			nReported++
		}
		if !used[j] && in(p.At) {
			out = append(out, Mismatch{Kind: MissingInLedger, Reference: p.Reference, Processor: p})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := out[i].at(), out[j].at(); !a.Equal(b) {
			return a.Before(b)
		}
		return out[i].Reference < out[j].Reference
	})
	return matched, nCamkit, nReported, out
}
