package billing

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
)

// seatView is what a funding step or a settlement knows of one seat's rows:
// read once (in the round trip that closes the seat, when it does) and kept
// up to date by every write the step makes, so no step reads back what it
// just wrote. A settlement holds the seat's fundMu (recovery runs before any
// seat is live), so nobody else writes these rows meanwhile.
type seatView struct {
	sr *seatRow
	// complete: every intent and funding row of the seat was loaded, so a
	// key not in byKey does not exist. A funding step's view starts empty.
	complete bool
	intents  []*intentRow
	byKey    map[string]*intentRow
	funding  []fundingRow
	ck       *meter.Snapshot // the stored checkpoint, when loaded and written
	// deferred are writes of outcomes already acted on, to be committed with
	// the receipt (see finishOpts.deferred).
	deferred []stmt
}

// fundView is the view of a funding step: the seat's row (a copy: the live
// seat's row is shared and never changed) and nothing loaded.
func fundView(r *seatRow) *seatView {
	cp := *r
	return &seatView{sr: &cp, byKey: map[string]*intentRow{}}
}

func (v *seatView) add(it *intentRow) {
	if _, ok := v.byKey[it.Key]; !ok {
		v.intents = append(v.intents, it)
	}
	v.byKey[it.Key] = it
}

// sortedIntents is the intents in the order the database lists them.
func (v *seatView) sortedIntents() []*intentRow {
	out := append([]*intentRow(nil), v.intents...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.Key < b.Key
	})
	return out
}

func (v *seatView) setFundingStatus(n int, status string) {
	for i := range v.funding {
		if v.funding[i].N == n {
			v.funding[i].Status = status
		}
	}
}

// lateCharges are the prepaid charges that landed after the seat ended:
// above the funding recorded at the close.
func (v *seatView) lateCharges() []fundingRow {
	var out []fundingRow
	for _, f := range v.funding {
		if f.Kind == stepCharge && f.Ceiling > v.sr.FundedAmount {
			out = append(out, f)
		}
	}
	return out
}

func (v *seatView) addFunding(f fundingRow) {
	for _, g := range v.funding {
		if g.N == f.N {
			return // ON CONFLICT DO NOTHING
		}
	}
	v.funding = append(v.funding, f)
	sort.SliceStable(v.funding, func(i, j int) bool { return v.funding[i].N < v.funding[j].N })
}

// loadStmts read everything a settlement needs of seat id into v. Each
// reader overwrites what it fills, so a pipeline run again (see
// groupCommit) leaves no duplicates.
func (d *db) loadStmts(id string, v *seatView) []stmt {
	var found, ckFound bool
	var ckRaw string
	var ckSeq int64
	v.byKey = map[string]*intentRow{}
	return []stmt{
		{query: `SELECT ` + seatCols + ` FROM billing_seats WHERE id = ?`, args: []any{id},
			rows: func(r rowScanner) error {
				found = false
				if err := one(&found, func(r rowScanner) error {
					sr, err := d.scanSeat(r)
					v.sr = sr
					return err
				})(r); err != nil {
					return err
				}
				if !found {
					return errs.E(errs.NotFound, "billing: no seat %q", id)
				}
				return nil
			}},
		{query: `SELECT ` + intentCols + ` FROM billing_intents WHERE seat_id = ? ORDER BY created_at, key`, args: []any{id},
			rows: func(r rowScanner) error {
				v.intents, v.byKey = nil, map[string]*intentRow{}
				for r.Next() {
					it, err := scanIntent(r)
					if err != nil {
						return err
					}
					it.CreatedAt = ts(it.CreatedAt)
					v.add(it)
				}
				return nil
			}},
		{query: `SELECT n, kind, amount, ceiling, reference, status FROM billing_funding WHERE seat_id = ? ORDER BY n`, args: []any{id},
			rows: func(r rowScanner) error {
				v.funding = nil
				for r.Next() {
					var f fundingRow
					if err := r.Scan(&f.N, &f.Kind, &f.Amount, &f.Ceiling, &f.Reference, &f.Status); err != nil {
						return err
					}
					v.funding = append(v.funding, f)
				}
				return nil
			}},
		{query: `SELECT seq, snapshot FROM billing_checkpoints WHERE seat_id = ?`, args: []any{id},
			rows: one(&ckFound, func(r rowScanner) error {
				v.ck = nil
				if err := r.Scan(&ckSeq, &ckRaw); err != nil {
					return err
				}
				var snap meter.Snapshot
				if err := json.Unmarshal([]byte(ckRaw), &snap); err != nil {
					return errs.E(errs.Internal, "billing: seat %s: stored checkpoint: %v", id, err)
				}
				v.ck = &snap
				return nil
			})},
	}
}

// loadView reads a seat's row, intents, funding and checkpoint in one round
// trip.
func (d *db) loadView(ctx context.Context, id string) (*seatView, error) {
	v := &seatView{complete: true}
	if err := d.pipeline(ctx, d.loadStmts(id, v)...); err != nil {
		return nil, err
	}
	return v, nil
}

// closeAndLoad records a live seat's close decision (see closeSeat) and reads
// its view, in one round trip on PostgreSQL.
func (d *db) closeAndLoad(ctx context.Context, id string, c closeDecision) (*seatView, error) {
	if d.dialect != store.Postgres {
		if _, err := d.closeSeat(ctx, id, c); err != nil {
			return nil, err
		}
		return d.loadView(ctx, id)
	}
	v := &seatView{complete: true}
	// The checkpoint is written only by the statement that closes the seat,
	// so the decision is never taken twice.
	closeStmt := stmt{query: `WITH c AS (UPDATE billing_seats SET state = 'closed', closed_at = ?, close_reason = ?,
billable_seconds = ?, price_amount = ?, funded_amount = ?, funded_seconds = ? WHERE id = ? AND state IN ('opening', 'open') RETURNING id)
INSERT INTO billing_checkpoints (seat_id, seq, checkpoint_at_ms, snapshot) SELECT id, ?::bigint, ?::bigint, ?::text FROM c
ON CONFLICT (seat_id) DO UPDATE SET seq = excluded.seq, checkpoint_at_ms = excluded.checkpoint_at_ms,
snapshot = excluded.snapshot WHERE billing_checkpoints.seq < excluded.seq`,
		args: []any{ts(c.at), string(c.reason), c.billable, c.price, c.fundedAmount, c.fundedSeconds, id, c.ck.Seq, c.ck.AtMs, string(c.ck.Snap)}}
	if err := d.pipeline(ctx, append([]stmt{closeStmt}, d.loadStmts(id, v)...)...); err != nil {
		return nil, err
	}
	return v, nil
}

// The statements of billing's writes, for pipelines.

func finishIntentStmt(key, state string, res string, code errs.Code, msg string, at time.Time) stmt {
	return stmt{query: `UPDATE billing_intents SET state = ?, result = ?, error_code = ?, error = ?, done_at = ?
WHERE key = ? AND state = 'pending'`, args: []any{state, res, string(code), msg, ts(at), key}}
}

func insertFundingStmt(seatID string, f fundingRow, at time.Time) stmt {
	return stmt{query: `INSERT INTO billing_funding (seat_id, n, kind, amount, ceiling, reference, status, created_at)
VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (seat_id, n) DO NOTHING`, args: []any{seatID, f.N, f.Kind, f.Amount, f.Ceiling, f.Reference, f.Status, ts(at)}}
}

func setFundingStatusStmt(seatID string, n int, status string) stmt {
	return stmt{query: `UPDATE billing_funding SET status = ? WHERE seat_id = ? AND n = ?`, args: []any{status, seatID, n}}
}

func setFundedStmt(id string, amount, seconds int64) stmt {
	// Funding only ever grows while the seat is open: a late writer never
	// lowers it, and a step finished after the close (by settlement or
	// recovery) funds nothing.
	return stmt{query: `UPDATE billing_seats SET funded_amount = ?, funded_seconds = ? WHERE id = ? AND funded_amount < ?
AND state IN ('opening', 'open')`,
		args: []any{amount, seconds, id, amount}}
}

// createIntent writes a new pending intent, in autocommit: it is durable
// before the call it stands for is made. When the key exists already (a
// repeat) the stored row is returned instead, so the first request is the
// one repeated.
func (d *db) createIntent(ctx context.Context, it *intentRow) (*intentRow, error) {
	req, err := json.Marshal(it.Request)
	if err != nil {
		return nil, errs.E(errs.Internal, "billing: encoding intent %s: %v", it.Key, err)
	}
	it.CreatedAt = ts(it.CreatedAt)
	var inserted int64
	n := newIntent{row: it, req: string(req)}
	ins := n.insertStmt()
	ins.affected = &inserted
	if err := d.pipeline(ctx, ins); err != nil {
		return nil, err
	}
	if inserted == 1 {
		// Call with the request as stored, exactly what a recovery would repeat.
		var stored intentRequest
		if err := json.Unmarshal(req, &stored); err != nil {
			return nil, errs.E(errs.Internal, "billing: intent %s: stored request: %v", it.Key, err)
		}
		it.Request, it.State = stored, intentPending
		return it, nil
	}
	stored, err := d.intent(ctx, d.sql, it.Key)
	if err != nil {
		return nil, err
	}
	stored.CreatedAt = ts(stored.CreatedAt)
	return stored, nil
}
