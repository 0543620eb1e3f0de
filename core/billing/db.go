package billing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
)

// Seat states as stored in billing_seats.state.
const (
	stateOpening = "opening"
	stateOpen    = "open"
	stateClosed  = "closed"
	stateSettled = "settled"
	stateFailed  = "failed"
)

// Intent states.
const (
	intentPending   = "pending"
	intentSucceeded = "succeeded"
	intentDeclined  = "declined"
	intentRejected  = "rejected"
)

// Funding step kinds and statuses.
const (
	stepCardHold   = "card_hold"
	stepCharge     = "charge"
	stepWalletHold = "wallet_hold"

	statusOpen     = "open"
	statusReleased = "released"
	statusCaptured = "captured"
	statusPosted   = "posted"
	statusCharged  = "charged"
)

// db is billing's SQL, written once for both dialects: '?' placeholders are
// rewritten to $n on PostgreSQL.
type db struct {
	sql     *sql.DB
	dialect store.Dialect
	group   *groupCommit // PostgreSQL: pipelines of concurrent callers share a commit
}

func newDB(s *store.DB) *db {
	d := &db{sql: s.SQL(), dialect: s.Dialect()}
	if d.dialect == store.Postgres {
		d.group = &groupCommit{}
	}
	return d
}

func (d *db) q(query string) string { return d.dialect.Rebind(query) }

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (d *db) tx(ctx context.Context, fn func(tx execer) error) error {
	t, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(err)
	}
	if err := fn(t); err != nil {
		_ = t.Rollback()
		return err
	}
	return dbErr(t.Commit())
}

// dbErr turns a database failure into a retryable errs.Unavailable: nothing
// in billing is wrong with the request when the database is away.
func dbErr(err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return errs.E(errs.NotFound, "billing: %v", err)
	}
	return errs.Retry(errs.Unavailable, "billing database: %v", err)
}

func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// seatRow is a billing_seats row.
type seatRow struct {
	ID, ShowID                           string
	Kind                                 split.Kind
	ViewerID, ModelID, StudioID, AffilID string
	State                                string
	Strategy                             Strategy
	Processor                            string
	Currency                             string
	Policy                               pricing.Policy
	Credential                           *processor.StoredCredential
	RefundUnused                         bool
	FundedAmount, FundedSeconds          int64
	OpenedAt                             time.Time
	ClosedAt                             sql.NullTime
	CloseReason                          CloseReason
	BillableSeconds, PriceAmount         sql.NullInt64
	SettledAt                            sql.NullTime
	LastError                            string
}

// open reports whether the row is of a seat not closed yet.
func (r *seatRow) open() bool { return r.State == stateOpening || r.State == stateOpen }

func (r *seatRow) funded() money.Money {
	return money.Money{Amount: r.FundedAmount, Currency: r.Currency}
}

const seatCols = `id, show_id, kind, viewer_id, model_id, studio_id, affiliate_id, state, strategy, processor, currency,
policy, credential, refund_unused, funded_amount, funded_seconds, opened_at, closed_at, close_reason,
billable_seconds, price_amount, settled_at, last_error`

func (d *db) insertSeat(ctx context.Context, r *seatRow) error {
	pol, err := json.Marshal(r.Policy)
	if err != nil {
		return errs.E(errs.Internal, "billing: encoding policy: %v", err)
	}
	cred := ""
	if r.Credential != nil {
		b, err := json.Marshal(r.Credential)
		if err != nil {
			return errs.E(errs.Internal, "billing: encoding credential: %v", err)
		}
		cred = string(b)
	}
	_, err = d.sql.ExecContext(ctx, d.q(`INSERT INTO billing_seats (`+seatCols+`)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,'',NULL,NULL,NULL,'')`),
		r.ID, r.ShowID, string(r.Kind), r.ViewerID, r.ModelID, r.StudioID, r.AffilID, r.State, string(r.Strategy),
		r.Processor, r.Currency, string(pol), cred, r.RefundUnused, r.FundedAmount, r.FundedSeconds, ts(r.OpenedAt))
	if err != nil && isUnique(err) {
		return errs.E(errs.Conflict, "billing: seat %s exists already", r.ID)
	}
	return dbErr(err)
}

func isUnique(err error) bool {
	s := err.Error()
	return strings.Contains(s, "SQLSTATE 23505") || strings.Contains(s, "UNIQUE constraint failed") ||
		strings.Contains(s, "duplicate key")
}

func (d *db) scanSeat(row interface{ Scan(...any) error }) (*seatRow, error) {
	var r seatRow
	var kind, strategy, pol, cred, reason string
	if err := row.Scan(&r.ID, &r.ShowID, &kind, &r.ViewerID, &r.ModelID, &r.StudioID, &r.AffilID, &r.State, &strategy,
		&r.Processor, &r.Currency, &pol, &cred, &r.RefundUnused, &r.FundedAmount, &r.FundedSeconds, &r.OpenedAt,
		&r.ClosedAt, &reason, &r.BillableSeconds, &r.PriceAmount, &r.SettledAt, &r.LastError); err != nil {
		return nil, dbErr(err)
	}
	r.Kind, r.Strategy, r.CloseReason = split.Kind(kind), Strategy(strategy), CloseReason(reason)
	if err := json.Unmarshal([]byte(pol), &r.Policy); err != nil {
		return nil, errs.E(errs.Internal, "billing: seat %s: stored policy: %v", r.ID, err)
	}
	if cred != "" {
		r.Credential = new(processor.StoredCredential)
		if err := json.Unmarshal([]byte(cred), r.Credential); err != nil {
			return nil, errs.E(errs.Internal, "billing: seat %s: stored credential: %v", r.ID, err)
		}
	}
	r.OpenedAt = r.OpenedAt.UTC()
	return &r, nil
}

func (d *db) seat(ctx context.Context, x execer, id string) (*seatRow, error) {
	r, err := d.scanSeat(x.QueryRowContext(ctx, d.q(`SELECT `+seatCols+` FROM billing_seats WHERE id = ?`), id))
	if errs.CodeOf(err) == errs.NotFound {
		return nil, errs.E(errs.NotFound, "billing: no seat %q", id)
	}
	return r, err
}

// unsettledSeatIDs lists seats recovery must look at, oldest first.
func (d *db) unsettledSeatIDs(ctx context.Context) ([]string, error) {
	rows, err := d.sql.QueryContext(ctx, d.q(`SELECT id FROM billing_seats WHERE state IN ('opening', 'open', 'closed') ORDER BY opened_at, id`))
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, dbErr(err)
		}
		ids = append(ids, id)
	}
	return ids, dbErr(rows.Err())
}

func (d *db) setSeatState(ctx context.Context, x execer, id, state, lastError string) error {
	_, err := x.ExecContext(ctx, d.q(`UPDATE billing_seats SET state = ?, last_error = ? WHERE id = ?`), state, lastError, id)
	return dbErr(err)
}

// closeDecision is what closing a seat decided, once: when and why, the
// billable seconds and the price, and what funded the seat at that moment.
// A funding step that lands later funds nothing (it is undone), so the
// stored funding is set to the decision's: a late step may have raised it
// before the close was written.
type closeDecision struct {
	at                          time.Time
	reason                      CloseReason
	billable, price             int64
	fundedAmount, fundedSeconds int64
	ck                          checkpoint
}

// closeSeat records the close decision with the final checkpoint. Only an
// opening or open seat is closed, so the decision is never taken twice.
func (d *db) closeSeat(ctx context.Context, id string, c closeDecision) (bool, error) {
	var closed bool
	err := d.tx(ctx, func(tx execer) error {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE billing_seats SET state = 'closed', closed_at = ?, close_reason = ?,
billable_seconds = ?, price_amount = ?, funded_amount = ?, funded_seconds = ? WHERE id = ? AND state IN ('opening', 'open')`),
			ts(c.at), string(c.reason), c.billable, c.price, c.fundedAmount, c.fundedSeconds, id)
		if err != nil {
			return dbErr(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr(err)
		}
		if closed = n == 1; !closed {
			return nil
		}
		return d.upsertCheckpoints(ctx, tx, []checkpoint{c.ck})
	})
	return closed, err
}

// checkpoint is one meter snapshot to store.
type checkpoint struct {
	SeatID string
	Seq    int64
	AtMs   int64
	Snap   []byte
}

// checkpointChunk keeps each multi-row upsert under PostgreSQL's 65535
// parameters and SQLite's 32766.
const checkpointChunk = 2000

// upsertCheckpoints writes many checkpoints in one statement per chunk. A row
// is replaced only by a higher seq.
func (d *db) upsertCheckpoints(ctx context.Context, x execer, cks []checkpoint) error {
	for _, s := range d.checkpointStmts(cks) {
		if err := d.runOne(ctx, x, s); err != nil {
			return err
		}
	}
	return nil
}

// checkpointStmts are the statements of upsertCheckpoints, for a pipeline.
func (d *db) checkpointStmts(cks []checkpoint) []stmt {
	if d.dialect == store.Postgres {
		// Four array parameters instead of four per row: PostgreSQL parses
		// and binds one small statement however many seats are due.
		ids, snaps := make([]string, len(cks)), make([]string, len(cks))
		seqs, ats := make([]int64, len(cks)), make([]int64, len(cks))
		for i, c := range cks {
			ids[i], seqs[i], ats[i], snaps[i] = c.SeatID, c.Seq, c.AtMs, string(c.Snap)
		}
		return []stmt{{query: `INSERT INTO billing_checkpoints (seat_id, seq, checkpoint_at_ms, snapshot)
SELECT * FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::text[])
ON CONFLICT (seat_id) DO UPDATE SET seq = excluded.seq, checkpoint_at_ms = excluded.checkpoint_at_ms,
snapshot = excluded.snapshot WHERE billing_checkpoints.seq < excluded.seq`, args: []any{ids, seqs, ats, snaps}}}
	}
	var out []stmt
	for len(cks) > 0 {
		n := min(len(cks), checkpointChunk)
		chunk := cks[:n]
		cks = cks[n:]
		var b strings.Builder
		b.WriteString(`INSERT INTO billing_checkpoints (seat_id, seq, checkpoint_at_ms, snapshot) VALUES `)
		args := make([]any, 0, 4*n)
		for i, c := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?,?,?,?)")
			args = append(args, c.SeatID, c.Seq, c.AtMs, string(c.Snap))
		}
		b.WriteString(` ON CONFLICT (seat_id) DO UPDATE SET seq = excluded.seq, checkpoint_at_ms = excluded.checkpoint_at_ms,
snapshot = excluded.snapshot WHERE billing_checkpoints.seq < excluded.seq`)
		out = append(out, stmt{query: b.String(), args: args})
	}
	return out
}

// loadCheckpoint returns the seat's last snapshot; ok is false when none was written.
func (d *db) loadCheckpoint(ctx context.Context, x execer, id string) (snap meter.Snapshot, seq int64, ok bool, err error) {
	var raw string
	err = x.QueryRowContext(ctx, d.q(`SELECT seq, snapshot FROM billing_checkpoints WHERE seat_id = ?`), id).Scan(&seq, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return snap, 0, false, nil
	}
	if err != nil {
		return snap, 0, false, dbErr(err)
	}
	if err := json.Unmarshal([]byte(raw), &snap); err != nil {
		return snap, 0, false, errs.E(errs.Internal, "billing: seat %s: stored checkpoint: %v", id, err)
	}
	return snap, seq, true, nil
}

// intentRow is a billing_intents row.
type intentRow struct {
	Key, SeatID, Op string
	Step            int
	Request         intentRequest
	State           string
	Result          json.RawMessage
	ErrCode         errs.Code
	Err             string
	CreatedAt       time.Time
}

const intentCols = `key, seat_id, op, step, request, state, result, error_code, error, created_at`

func scanIntent(row interface{ Scan(...any) error }) (*intentRow, error) {
	var it intentRow
	var req, res, code string
	if err := row.Scan(&it.Key, &it.SeatID, &it.Op, &it.Step, &req, &it.State, &res, &code, &it.Err, &it.CreatedAt); err != nil {
		return nil, dbErr(err)
	}
	it.ErrCode = errs.Code(code)
	if res != "" {
		it.Result = json.RawMessage(res)
	}
	if err := json.Unmarshal([]byte(req), &it.Request); err != nil {
		return nil, errs.E(errs.Internal, "billing: intent %s: stored request: %v", it.Key, err)
	}
	return &it, nil
}

func (d *db) intent(ctx context.Context, x execer, key string) (*intentRow, error) {
	return scanIntent(x.QueryRowContext(ctx, d.q(`SELECT `+intentCols+` FROM billing_intents WHERE key = ?`), key))
}

func (d *db) intents(ctx context.Context, seatID string) ([]*intentRow, error) {
	rows, err := d.sql.QueryContext(ctx, d.q(`SELECT `+intentCols+` FROM billing_intents WHERE seat_id = ? ORDER BY created_at, key`), seatID)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*intentRow
	for rows.Next() {
		it, err := scanIntent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, dbErr(rows.Err())
}

// finishIntent records an intent's outcome, only over a pending one.
func (d *db) finishIntent(ctx context.Context, x execer, key, state string, result any, code errs.Code, msg string, at time.Time) error {
	res := ""
	if result != nil {
		b, err := json.Marshal(result)
		if err != nil {
			return errs.E(errs.Internal, "billing: encoding outcome of %s: %v", key, err)
		}
		res = string(b)
	}
	_, err := x.ExecContext(ctx, d.q(`UPDATE billing_intents SET state = ?, result = ?, error_code = ?, error = ?, done_at = ?
WHERE key = ? AND state = 'pending'`), state, res, string(code), msg, ts(at), key)
	return dbErr(err)
}

// fundingRow is a billing_funding row.
type fundingRow struct {
	N         int
	Kind      string
	Amount    int64
	Ceiling   int64
	Reference string
	Status    string
}

func (d *db) funding(ctx context.Context, seatID string) ([]fundingRow, error) {
	rows, err := d.sql.QueryContext(ctx, d.q(`SELECT n, kind, amount, ceiling, reference, status FROM billing_funding
WHERE seat_id = ? ORDER BY n`), seatID)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []fundingRow
	for rows.Next() {
		var f fundingRow
		if err := rows.Scan(&f.N, &f.Kind, &f.Amount, &f.Ceiling, &f.Reference, &f.Status); err != nil {
			return nil, dbErr(err)
		}
		out = append(out, f)
	}
	return out, dbErr(rows.Err())
}

func (d *db) receipt(ctx context.Context, seatID string) (*Receipt, error) {
	var raw string
	err := d.sql.QueryRowContext(ctx, d.q(`SELECT receipt FROM billing_receipts WHERE seat_id = ?`), seatID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, dbErr(err)
	}
	var r Receipt
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return nil, errs.E(errs.Internal, "billing: seat %s: stored receipt: %v", seatID, err)
	}
	return &r, nil
}

// storeReceipt writes the receipt and marks the seat settled, once, in one
// round trip on PostgreSQL, after the statements before (the outcome of the
// last intent, written with it). It returns the receipt as stored (decoded
// from the JSON written), the same value a later Receipt reads.
func (d *db) storeReceipt(ctx context.Context, r *Receipt, before ...stmt) (*Receipt, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, errs.E(errs.Internal, "billing: encoding receipt: %v", err)
	}
	var settled int64
	err = d.pipeline(ctx, append(before,
		stmt{query: `INSERT INTO billing_receipts (seat_id, receipt, created_at) VALUES (?,?,?)
ON CONFLICT (seat_id) DO NOTHING`, args: []any{r.SeatID, string(b), ts(r.SettledAt)}},
		stmt{query: `UPDATE billing_seats SET state = 'settled', settled_at = ?, last_error = ''
WHERE id = ? AND state = 'closed'`, args: []any{ts(r.SettledAt), r.SeatID}, affected: &settled})...)
	if err != nil {
		return nil, err
	}
	if settled == 0 { // settled before: the first receipt stands
		if first, err := d.receipt(ctx, r.SeatID); err != nil || first != nil {
			return first, err
		}
	}
	var stored Receipt
	if err := json.Unmarshal(b, &stored); err != nil {
		return nil, errs.E(errs.Internal, "billing: seat %s: stored receipt: %v", r.SeatID, err)
	}
	return &stored, nil
}

// SeatProcessors counts, per processor, the seats not settled yet (opening,
// open, or closed and waiting for settlement): each needs its processor
// loaded to finish, whatever the configuration says now.
func SeatProcessors(ctx context.Context, s *store.DB) (map[string]int, error) {
	m, err := s.CountBy(ctx, `SELECT processor, COUNT(*) FROM billing_seats
		WHERE state IN ('opening', 'open', 'closed') AND processor <> '' GROUP BY processor`)
	return m, dbErr(err)
}
