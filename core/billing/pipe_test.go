package billing

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/split"
)

// A pipeline is one transaction on both dialects: each statement sees the
// ones before it, and when one fails none of them is kept. Settlement relies
// on it to write an intent's outcome and the funding it changes together.
func TestPipelineIsAtomicAndOrderedOnBothDialects(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		ctx := context.Background()
		d := newDB(s)
		now := time.Now().UTC()
		if err := d.insertSeat(ctx, &seatRow{ID: "p1", ShowID: "sh", Kind: split.KindGroup, ViewerID: "v", ModelID: "m", State: stateOpen,
			Strategy: Wallet, Currency: "USD", Policy: pricing.DefaultPolicy(money.Money{Amount: 60, Currency: "USD"}), OpenedAt: now}); err != nil {
			t.Fatal(err)
		}
		var seen int64
		var affected int64
		err := d.pipeline(ctx,
			insertFundingStmt("p1", fundingRow{N: 1, Kind: stepWalletHold, Amount: 60, Ceiling: 60, Reference: "r1", Status: statusOpen}, now),
			stmt{query: `UPDATE billing_funding SET status = ? WHERE seat_id = ? AND n = ?`, args: []any{statusReleased, "p1", 1}, affected: &affected},
			stmt{query: `SELECT COUNT(*) FROM billing_funding WHERE seat_id = ? AND status = ?`, args: []any{"p1", statusReleased},
				rows: func(r rowScanner) error {
					if !r.Next() {
						return r.Err()
					}
					return r.Scan(&seen)
				}})
		if err != nil {
			t.Fatal(err)
		}
		if affected != 1 || seen != 1 {
			t.Fatalf("later statements did not see earlier ones: updated %d, counted %d", affected, seen)
		}

		// The second statement fails (a duplicate key): the first is undone.
		err = d.pipeline(ctx,
			setFundingStatusStmt("p1", 1, statusPosted),
			stmt{query: `INSERT INTO billing_funding (seat_id, n, kind, amount, ceiling, reference, status, created_at) VALUES (?,?,?,?,?,?,?,?)`,
				args: []any{"p1", 1, stepWalletHold, 60, 60, "r1", statusOpen, ts(now)}})
		if err == nil {
			t.Fatal("a pipeline with a failing statement succeeded")
		}
		if errs.CodeOf(err) != errs.Unavailable {
			t.Fatalf("a database failure is %v, want errs.Unavailable", err)
		}
		fund, err := d.funding(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		if len(fund) != 1 || fund[0].Status != statusReleased {
			t.Fatalf("the failed pipeline's first statement was kept: %+v", fund)
		}
	})
}

// A seat's view is read in one pipeline and holds what the database holds.
func TestLoadViewReadsSeatIntentsFundingAndCheckpoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		ctx := context.Background()
		d := newDB(s)
		now := time.Now().UTC()
		if _, err := d.loadView(ctx, "nobody"); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("view of an unknown seat: %v, want NotFound", err)
		}
		if err := d.insertSeat(ctx, &seatRow{ID: "p2", ShowID: "sh", Kind: split.KindGroup, ViewerID: "v", ModelID: "m", State: stateOpen,
			Strategy: Wallet, Currency: "USD", Policy: pricing.DefaultPolicy(money.Money{Amount: 60, Currency: "USD"}), OpenedAt: now}); err != nil {
			t.Fatal(err)
		}
		it, err := d.createIntent(ctx, &intentRow{Key: "seat/p2/ledger/hold/1", SeatID: "p2", Op: opLedger, Step: 1,
			Request: intentRequest{Purpose: purposeHold, Ceiling: 60}, CreatedAt: now})
		if err != nil || it.State != intentPending {
			t.Fatalf("createIntent = %+v, %v", it, err)
		}
		again, err := d.createIntent(ctx, &intentRow{Key: "seat/p2/ledger/hold/1", SeatID: "p2", Op: opLedger, Step: 1,
			Request: intentRequest{Purpose: purposeHold, Ceiling: 999}, CreatedAt: now})
		if err != nil || again.Request.Ceiling != 60 {
			t.Fatalf("a repeated key must return the stored request: %+v, %v", again, err)
		}
		if err := d.pipeline(ctx, insertFundingStmt("p2", fundingRow{N: 1, Kind: stepWalletHold, Amount: 60, Ceiling: 60, Reference: "r", Status: statusOpen}, now),
			setFundedStmt("p2", 60, 60)); err != nil {
			t.Fatal(err)
		}
		if err := d.upsertCheckpoints(ctx, d.sql, []checkpoint{{SeatID: "p2", Seq: 3, AtMs: 3000, Snap: []byte(`{"checkpoint_at_ms":3000}`)}}); err != nil {
			t.Fatal(err)
		}
		v, err := d.loadView(ctx, "p2")
		if err != nil {
			t.Fatal(err)
		}
		if !v.complete || v.sr.ID != "p2" || v.sr.FundedAmount != 60 || len(v.intents) != 1 || v.byKey["seat/p2/ledger/hold/1"] == nil ||
			len(v.funding) != 1 || v.funding[0].Reference != "r" || v.ck == nil || v.ck.CheckpointAt != 3000 {
			t.Fatalf("view %+v (seat %+v, ck %+v)", v, v.sr, v.ck)
		}
	})
}

// Concurrent pipelines share commits on PostgreSQL; one that fails takes
// nothing of the others with it, and keeps nothing of its own.
func TestGroupCommitIsolatesAFailingPipeline(t *testing.T) {
	s := storetest.Postgres(t)
	ctx := context.Background()
	d := newDB(s)
	if d.group == nil {
		t.Fatal("no group commit on PostgreSQL")
	}
	now := time.Now().UTC()
	const n = 60
	for i := 0; i < n; i++ {
		if err := d.insertSeat(ctx, &seatRow{ID: fmt.Sprint("g", i), ShowID: "sh", Kind: split.KindGroup, ViewerID: "v", ModelID: "m", State: stateOpen,
			Strategy: Wallet, Currency: "USD", Policy: pricing.DefaultPolicy(money.Money{Amount: 60, Currency: "USD"}), OpenedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		errc := make([]error, n)
		views := make([]*seatView, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprint("g", i)
				stmts := []stmt{insertFundingStmt(id, fundingRow{N: round + 1, Kind: stepWalletHold, Amount: 60, Ceiling: 60, Reference: "r", Status: statusOpen}, now)}
				if i%7 == 3 { // refused: a second row under the same (seat, n)
					stmts = append(stmts, stmt{query: `INSERT INTO billing_funding (seat_id, n, kind, amount, ceiling, reference, status, created_at) VALUES (?,?,?,?,?,?,?,?)`,
						args: []any{id, round + 1, stepWalletHold, 60, 60, "r", statusOpen, ts(now)}})
				}
				v := &seatView{complete: true}
				stmts = append(stmts, d.loadStmts(id, v)...)
				errc[i] = d.pipeline(ctx, stmts...)
				views[i] = v
			}()
		}
		wg.Wait()
		for i := 0; i < n; i++ {
			fund, err := d.funding(ctx, fmt.Sprint("g", i))
			if err != nil {
				t.Fatal(err)
			}
			kept := 0
			for _, f := range fund {
				if f.N == round+1 {
					kept++
				}
			}
			if i%7 == 3 {
				if errc[i] == nil || kept != 0 {
					t.Fatalf("round %d seat %d: the refused pipeline returned %v and kept %d rows", round, i, errc[i], kept)
				}
				continue
			}
			if errc[i] != nil || kept != 1 {
				t.Fatalf("round %d seat %d: %v, kept %d rows: a neighbour's failure reached it", round, i, errc[i], kept)
			}
			if got := len(views[i].funding); got != round+1 {
				t.Fatalf("round %d seat %d: the view read %d funding rows, want %d (a re-run must not duplicate)", round, i, got, round+1)
			}
		}
	}
}
