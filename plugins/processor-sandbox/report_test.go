package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// The report lists, from the state journal and across a restart of the
// plugin process, what moved money: a capture for what it took (not the
// hold), a charge, and each partial refund under its own reference; the
// voided hold and the declined charge moved nothing. A range before it all
// lists nothing, and an empty range is refused.
func TestTransactionsReportFromTheJournal(t *testing.T) {
	ctx := context.Background()
	stateFile := filepath.Join(t.TempDir(), "state.json")
	p, kill := start(t, stateFile)
	usd := func(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }
	begin := time.Now().Add(-time.Second)
	cred := tokenise(t, p, "4242424242424242")
	a, err := p.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: uniq("auth"), Credential: cred, Amount: usd(600)})
	if err != nil {
		t.Fatal(err)
	}
	capt, err := p.Capture(ctx, processor.CaptureRequest{IdempotencyKey: uniq("capture"), AuthorizationReference: a.Reference, Amount: usd(434)})
	if err != nil {
		t.Fatal(err)
	}
	voided, err := p.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: uniq("auth"), Credential: cred, Amount: usd(600)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Void(ctx, processor.VoidRequest{IdempotencyKey: uniq("void"), AuthorizationReference: voided.Reference}); err != nil {
		t.Fatal(err)
	}
	ch, err := p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: uniq("charge"), Credential: cred, Amount: usd(600)})
	if err != nil {
		t.Fatal(err)
	}
	declined := tokenise(t, p, "4000000000000002")
	if _, err := p.Charge(ctx, processor.ChargeRequest{IdempotencyKey: uniq("charge"), Credential: declined, Amount: usd(600)}); !errs.IsDecline(err) {
		t.Fatalf("the declining card: %v", err)
	}
	var refunds []processor.RefundResult
	for _, n := range []int64{100, 150} {
		r, err := p.Refund(ctx, processor.RefundRequest{IdempotencyKey: uniq("refund"), Reference: ch.Reference, Amount: usd(n)})
		if err != nil {
			t.Fatal(err)
		}
		refunds = append(refunds, r)
	}
	end := time.Now().Add(time.Second)
	kill()
	p, _ = start(t, stateFile)

	rep, err := p.Transactions(ctx, processor.TransactionsRequest{From: begin, To: end})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]processor.Transaction{
		capt.Reference:       {Reference: capt.Reference, Kind: processor.TxSale, Amount: usd(434)},
		ch.Reference:         {Reference: ch.Reference, Kind: processor.TxSale, Amount: usd(600)},
		refunds[0].Reference: {Reference: refunds[0].Reference, Kind: processor.TxRefund, Amount: usd(100), RelatedReference: ch.Reference},
		refunds[1].Reference: {Reference: refunds[1].Reference, Kind: processor.TxRefund, Amount: usd(150), RelatedReference: ch.Reference},
	}
	if rep.Source != reportSource || len(rep.Transactions) != len(want) {
		t.Fatalf("report %+v, want the %d transactions %+v", rep, len(want), want)
	}
	for i, tx := range rep.Transactions {
		w, ok := want[tx.Reference]
		at := tx.OccurredAt
		tx.OccurredAt = time.Time{}
		if !ok || tx != w {
			t.Errorf("line %+v, want %+v", tx, w)
		}
		if at.Before(begin) || !at.Before(end) || (i > 0 && at.Before(rep.Transactions[i-1].OccurredAt)) {
			t.Errorf("%s dated %s: want in [%s, %s), oldest first", tx.Reference, at, begin, end)
		}
	}
	if rep, err := p.Transactions(ctx, processor.TransactionsRequest{From: begin.Add(-time.Hour), To: begin}); err != nil || len(rep.Transactions) != 0 {
		t.Fatalf("an hour before: %+v, %v", rep, err)
	}
	if _, err := p.Transactions(ctx, processor.TransactionsRequest{From: end, To: end}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("an empty range: %v", err)
	}
}
