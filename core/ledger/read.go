package ledger

import (
	"context"
	"strconv"

	"github.com/camkit/camkit/sdk/errs"
	"gorm.io/gorm"
)

// Balance returns the account's balance; see Balance.Posted and Available.
func (l *Ledger) Balance(ctx context.Context, code, currency string) (Balance, error) {
	acc, err := l.Account(ctx, code, currency)
	if err != nil {
		return Balance{}, err
	}
	var v vec
	err = l.read(ctx, func(tx *gorm.DB) error {
		m, err := sumBalances(tx, []int64{acc.ID})
		v = m[acc.ID]
		return err
	})
	if err != nil {
		return Balance{}, err
	}
	return Balance{Account: acc, DebitsPending: v.dp, DebitsPosted: v.dpo, CreditsPending: v.cp, CreditsPosted: v.cpo}, nil
}

// TransferByID returns a stored transfer, errs.NotFound if there is none.
func (l *Ledger) TransferByID(ctx context.Context, id int64) (Transfer, error) {
	return l.oneTransfer(ctx, "t.id = ?", id, "id "+strconv.FormatInt(id, 10))
}

// TransferByKey returns the transfer stored under an idempotency key.
func (l *Ledger) TransferByKey(ctx context.Context, key string) (Transfer, error) {
	return l.oneTransfer(ctx, "t.idempotency_key = ?", key, "key "+strconv.Quote(key))
}

func (l *Ledger) oneTransfer(ctx context.Context, where string, arg any, what string) (Transfer, error) {
	var out []Transfer
	err := l.read(ctx, func(tx *gorm.DB) error {
		var err error
		out, err = queryTransfers(tx, where, arg)
		return err
	})
	if err != nil {
		return Transfer{}, err
	}
	if len(out) == 0 {
		return Transfer{}, errs.E(errs.NotFound, "no transfer with %s", what)
	}
	return out[0], nil
}

// Entry is one line of a statement: a transfer touching the account, and the
// account's balance right after it.
type Entry struct {
	Transfer Transfer
	Side     string // "debit" or "credit": which side of the transfer the account is on
	After    Balance
}

// StatementPage is one page of a statement, oldest first.
type StatementPage struct {
	Entries []Entry
	// Next is the cursor of the following page; "" on the last page.
	Next string
}

// MaxStatementPage bounds a statement page.
const MaxStatementPage = 1000

// Statement lists the transfers of an account in id order with the running
// balance after each. cursor is "" for the first page, then a page's Next.
// The running balance is recomputed from the transfers up to the cursor, so
// a page is always consistent with the ledger, whatever the cursor says.
func (l *Ledger) Statement(ctx context.Context, code, currency, cursor string, limit int) (StatementPage, error) {
	if limit <= 0 || limit > MaxStatementPage {
		return StatementPage{}, errs.E(errs.Invalid, "statement page size %d: want 1..%d", limit, MaxStatementPage)
	}
	var after int64
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 36, 64)
		if err != nil || n < 0 {
			return StatementPage{}, errs.E(errs.Invalid, "statement cursor %q is malformed", cursor)
		}
		after = n
	}
	acc, err := l.Account(ctx, code, currency)
	if err != nil {
		return StatementPage{}, err
	}
	var page StatementPage
	err = l.read(ctx, func(tx *gorm.DB) error {
		// The balance before the page, from the transfers themselves.
		var start vec
		row := tx.Raw(`SELECT
			CAST(COALESCE(SUM(CASE WHEN t.debit_account_id = @a THEN
				CASE t.kind WHEN 'pending' THEN t.amount WHEN 'single' THEN 0 ELSE -p.amount END ELSE 0 END), 0) AS BIGINT),
			CAST(COALESCE(SUM(CASE WHEN t.debit_account_id = @a AND t.kind IN ('single', 'post') THEN t.amount ELSE 0 END), 0) AS BIGINT),
			CAST(COALESCE(SUM(CASE WHEN t.credit_account_id = @a THEN
				CASE t.kind WHEN 'pending' THEN t.amount WHEN 'single' THEN 0 ELSE -p.amount END ELSE 0 END), 0) AS BIGINT),
			CAST(COALESCE(SUM(CASE WHEN t.credit_account_id = @a AND t.kind IN ('single', 'post') THEN t.amount ELSE 0 END), 0) AS BIGINT)
			FROM ledger_transfers t LEFT JOIN ledger_transfers p ON p.id = t.pending_id
			WHERE (t.debit_account_id = @a OR t.credit_account_id = @a) AND t.id <= @after`,
			map[string]any{"a": acc.ID, "after": after}).Row()
		if err := row.Scan(&start.dp, &start.dpo, &start.cp, &start.cpo); err != nil {
			return err
		}
		rows, err := tx.Raw(`SELECT `+transferCols+`
			WHERE (t.debit_account_id = @a OR t.credit_account_id = @a) AND t.id > @after
			ORDER BY t.id LIMIT @n`, map[string]any{"a": acc.ID, "after": after, "n": limit + 1}).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		var ts []Transfer
		for rows.Next() {
			t, err := scanTransfer(rows)
			if err != nil {
				return err
			}
			ts = append(ts, t)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(ts) > limit {
			ts = ts[:limit]
			page.Next = strconv.FormatInt(ts[limit-1].ID, 36)
		}
		// Resolutions need their hold's amount.
		holds := map[int64]int64{}
		var ids []int64
		for _, t := range ts {
			if t.PendingID != 0 {
				ids = append(ids, t.PendingID)
			}
		}
		if len(ids) > 0 {
			var hs []struct {
				ID     int64
				Amount int64
			}
			if err := tx.Raw("SELECT id, amount FROM ledger_transfers WHERE id IN ?", ids).Scan(&hs).Error; err != nil {
				return err
			}
			for _, h := range hs {
				holds[h.ID] = h.Amount
			}
		}
		run := start
		for _, t := range ts {
			d, c := effect(t.Kind, t.Amount.Amount, holds[t.PendingID])
			side := "debit"
			if t.DebitAccountID == acc.ID {
				run.add(d)
			} else {
				side = "credit"
				run.add(c)
			}
			page.Entries = append(page.Entries, Entry{Transfer: t, Side: side, After: Balance{
				Account: acc, DebitsPending: run.dp, DebitsPosted: run.dpo, CreditsPending: run.cp, CreditsPosted: run.cpo,
			}})
		}
		return nil
	})
	return page, err
}
