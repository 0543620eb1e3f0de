package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/jackc/pgx/v5/pgconn"
)

// The PostgreSQL fast path: a batch of single and pending transfers (which
// includes every one-transfer Transfer of those kinds) is one call of the
// PL/pgSQL function ledger_transfer_batch (migrations/postgres/00005), sent in
// autocommit: one round trip, and the commit rides on it. See the package doc.

// querier is what the fast path sends its statement through: the pool (in
// autocommit), or the caller's open transaction under InTx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// SQLSTATEs raised by the migration's functions (class CK), mapped back to
// sdk/errs codes by dbErr.
const (
	sqlstateLimit    = "CKLIM"
	sqlstateNotFound = "CKNFD"
	sqlstateInvalid  = "CKINV"
	sqlstateInjected = "CKINJ"
)

const (
	fastCols = `SELECT o_repeat, o_id, o_key, o_kind, o_debit_id, o_debit, o_credit_id, o_credit, o_amount, o_currency,
	o_pending_id, o_timeout_at, o_memo, o_created_at, o_debit_flags, o_credit_flags`
	fastBatchSQL = fastCols + ` FROM ledger_transfer_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	fastOneSQL   = fastCols + ` FROM ledger_transfer_one($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`
)

// fastPath reports whether ops can go through ledger_transfer_batch: on
// PostgreSQL, and only single and pending transfers (resolutions need the
// hold's rows, read by the Go path).
func (l *Ledger) fastPath(ops []op) bool {
	if l.db.Dialect() != store.Postgres {
		return false
	}
	for _, o := range ops {
		if o.Kind != Single && o.Kind != Pending {
			return false
		}
	}
	return true
}

// idFlags is what the fast path needs of an account. Accounts never change
// once committed, so a pair the database returned stays true.
type idFlags struct {
	id    int64
	flags Flags
}

// known returns the account's id and flags when a committed call already
// returned them (id 0 otherwise), and the flags the functions give the code
// when they create it: the chart's, or -1 when it must have been opened.
func (l *Ledger) known(code, currency string) (int64, int32) {
	k := accountKey(code, currency)
	if v, ok := l.ids.Load(k); ok {
		a := v.(idFlags)
		return a.id, int32(a.flags)
	}
	if v, ok := l.cache.Load(k); ok {
		a := v.(Account)
		return a.ID, int32(a.Flags)
	}
	if f, ok := ChartFlags(code); ok {
		return 0, int32(f)
	}
	return 0, -1
}

func (l *Ledger) applyFast(ctx context.Context, ops []op, now time.Time) ([]Transfer, error) {
	n := len(ops)
	var (
		keys, kinds, debits, credits, currencies, memos = make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n)
		amounts, timeouts = make([]int64, n), make([]int64, n)
		dflags, cflags    = make([]int32, n), make([]int32, n)
		did, cid          int64
	)
	for i, o := range ops {
		keys[i], kinds[i], debits[i], credits[i] = o.Key, string(o.Kind), o.Debit, o.Credit
		currencies[i], memos[i], amounts[i] = o.Amount.Currency, o.Memo, o.Amount.Amount
		timeouts[i] = o.Timeout.Microseconds()
		did, dflags[i] = l.known(o.Debit, o.Amount.Currency)
		cid, cflags[i] = l.known(o.Credit, o.Amount.Currency)
	}
	// The hook decides here whether the function fails after writing the
	// transfer rows; the rows and the failure are then the database's own.
	var injected error
	if l.afterInsert != nil {
		injected = l.afterInsert()
	}
	query := fastBatchSQL
	args := []any{keys, kinds, debits, credits, amounts, currencies, timeouts, memos, dflags, cflags,
		now, int32(l.shards), injected != nil}
	if n == 1 {
		query = fastOneSQL
		args = []any{keys[0], kinds[0], debits[0], credits[0], amounts[0], currencies[0], timeouts[0], memos[0],
			dflags[0], cflags[0], now, int32(l.shards), injected != nil, did, cid}
	}

	var rows []fastRow
	call := func(q querier) error {
		var err error
		rows, err = queryFast(ctx, q, query, args)
		if injected != nil && pgCode(err) == sqlstateInjected {
			return fmt.Errorf("%w (%s)", injected, pgMessage(err))
		}
		return err
	}
	var err error
	if l.tx != nil {
		err = dbErr(call(l.tx.WithContext(ctx).Statement.ConnPool))
	} else {
		err = l.retry(ctx, func(bool) error { return call(l.db.SQL()) })
	}
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errs.E(errs.Internal, "ledger: the batch function returned nothing")
	}
	out := make([]Transfer, n)
	if !rows[0].repeat {
		if len(rows) != n {
			return nil, errs.E(errs.Internal, "ledger: the batch function returned %d transfers for %d", len(rows), n)
		}
		for i, o := range ops {
			r := rows[i].t
			if r.Key != o.Key || r.ID == 0 {
				return nil, errs.E(errs.Internal, "ledger: the batch function answered %q for %q", r.Key, o.Key)
			}
			t := Transfer{ID: r.ID, Key: o.Key, Kind: o.Kind, DebitAccountID: r.DebitAccountID, CreditAccountID: r.CreditAccountID,
				Debit: o.Debit, Credit: o.Credit, Amount: o.Amount, Memo: o.Memo, CreatedAt: now}
			if o.Timeout > 0 {
				t.TimeoutAt = normTime(now.Add(o.Timeout))
			}
			out[i] = t
			if l.tx == nil && rows[i].flagged {
				// Committed (autocommit): safe to remember.
				l.ids.Store(accountKey(o.Debit, o.Amount.Currency), idFlags{r.DebitAccountID, rows[i].debitFlags})
				l.ids.Store(accountKey(o.Credit, o.Amount.Currency), idFlags{r.CreditAccountID, rows[i].creditFlags})
			}
		}
		return out, nil
	}
	// A repeat: the function wrote nothing and returned what is stored.
	byKey := make(map[string]Transfer, len(rows))
	for _, r := range rows {
		byKey[r.t.Key] = r.t
	}
	if len(byKey) < n {
		return nil, errs.E(errs.Conflict, "batch repeats %d of its %d idempotency keys: a linked batch is repeated whole or not at all", len(byKey), n)
	}
	noHold := func(op) (Transfer, bool) { return Transfer{}, false }
	for i, o := range ops {
		first := byKey[o.Key]
		if why := differs(o, first, noHold); why != "" {
			return nil, errs.E(errs.Conflict, "idempotency key %q was used for another transfer (id %d): %s", o.Key, first.ID, why)
		}
		out[i] = first
	}
	return out, nil
}

type fastRow struct {
	repeat                  bool
	t                       Transfer
	flagged                 bool // the flags below were returned
	debitFlags, creditFlags Flags
}

func queryFast(ctx context.Context, q querier, query string, args []any) ([]fastRow, error) {
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []fastRow
	for rs.Next() {
		var (
			r       fastRow
			pending sql.NullInt64
			timeout sql.NullTime
			df, cf  sql.NullInt32
		)
		if err := rs.Scan(&r.repeat, &r.t.ID, &r.t.Key, &r.t.Kind, &r.t.DebitAccountID, &r.t.Debit, &r.t.CreditAccountID, &r.t.Credit,
			&r.t.Amount.Amount, &r.t.Amount.Currency, &pending, &timeout, &r.t.Memo, &r.t.CreatedAt, &df, &cf); err != nil {
			return nil, err
		}
		r.flagged = df.Valid && cf.Valid
		r.debitFlags, r.creditFlags = Flags(df.Int32), Flags(cf.Int32)
		r.t.PendingID = pending.Int64
		if timeout.Valid {
			r.t.TimeoutAt = normTime(timeout.Time)
		}
		r.t.CreatedAt = normTime(r.t.CreatedAt)
		out = append(out, r)
	}
	return out, rs.Err()
}

func pgMessage(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return ""
}

// addBalances moves the balances of accounts ids (ascending, distinct) by
// deltas on PostgreSQL, through ledger_add_balances: the one place shards are
// chosen, for the fast path and the Go path alike.
func (l *Ledger) addBalances(ctx context.Context, q interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}, ids []int64, deltas []vec) error {
	dp, dpo, cp, cpo := make([]int64, len(ids)), make([]int64, len(ids)), make([]int64, len(ids)), make([]int64, len(ids))
	for i, d := range deltas {
		dp[i], dpo[i], cp[i], cpo[i] = d.dp, d.dpo, d.cp, d.cpo
	}
	_, err := q.ExecContext(ctx, "SELECT ledger_add_balances($1, $2, $3, $4, $5, $6)", ids, dp, dpo, cp, cpo, int32(l.shards))
	return err
}
