package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/camkit/camkit/core/store"
	"gorm.io/gorm"
)

// Fault is one inconsistency Verify found.
type Fault struct {
	Kind       string // balance_mismatch, currency_imbalance, limit_exceeded, hold_resolved_twice, bad_transfer
	AccountID  int64  // 0 when not about one account
	TransferID int64  // 0 when not about one transfer
	Message    string
}

func (f Fault) String() string { return f.Kind + ": " + f.Message }

// Report is what Verify found.
type Report struct {
	Accounts   int
	Transfers  int
	Currencies []string
	Faults     []Fault
}

// Clean reports whether Verify found no fault.
func (r Report) Clean() bool { return len(r.Faults) == 0 }

// Summary is the one line `camkit ledger verify` prints.
func (r Report) Summary() string {
	state := "clean"
	if !r.Clean() {
		state = fmt.Sprintf("%d faults", len(r.Faults))
	}
	cur := "none"
	if len(r.Currencies) > 0 {
		cur = strings.Join(r.Currencies, ", ")
	}
	return fmt.Sprintf("ledger: %d accounts, %d transfers, %d currencies (%s): %s",
		r.Accounts, r.Transfers, len(r.Currencies), cur, state)
}

// Verify recomputes every balance from the transfers, on one consistent
// snapshot, and reports: stored balances that differ from the recomputed
// ones, currencies whose debits and credits differ, limited accounts beyond
// their limit, holds resolved more than once or by more than they held, and
// transfers that break the rules (currency, amount, accounts). The error is
// for failing to read the database, not for faults.
func (l *Ledger) Verify(ctx context.Context) (Report, error) {
	var rep Report
	fn := func(tx *gorm.DB) error {
		var err error
		rep, err = verify(tx)
		return err
	}
	if l.tx != nil {
		return rep, dbErr(fn(l.tx.WithContext(ctx)))
	}
	opts := &sql.TxOptions{ReadOnly: true}
	if l.db.Dialect() == store.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	return rep, dbErr(l.db.Gorm().WithContext(ctx).Transaction(fn, opts))
}

type hold struct {
	debit, credit int64
	amount        int64
	currency      string
	resolutions   int
}

func verify(tx *gorm.DB) (Report, error) {
	var rep Report
	fault := func(kind string, acc, tr int64, format string, args ...any) {
		rep.Faults = append(rep.Faults, Fault{Kind: kind, AccountID: acc, TransferID: tr, Message: fmt.Sprintf(format, args...)})
	}

	accounts := map[int64]Account{}
	rows, err := tx.Raw("SELECT id, code, currency, flags FROM ledger_accounts ORDER BY id").Rows()
	if err != nil {
		return rep, err
	}
	for rows.Next() {
		var a Account
		if err := rows.Scan(&a.ID, &a.Code, &a.Currency, &a.Flags); err != nil {
			rows.Close()
			return rep, err
		}
		accounts[a.ID] = a
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, err
	}
	rep.Accounts = len(accounts)

	stored := map[int64]vec{}
	rows, err = tx.Raw(`SELECT account_id,
		CAST(SUM(debits_pending) AS BIGINT), CAST(SUM(debits_posted) AS BIGINT),
		CAST(SUM(credits_pending) AS BIGINT), CAST(SUM(credits_posted) AS BIGINT)
		FROM ledger_balances GROUP BY account_id`).Rows()
	if err != nil {
		return rep, err
	}
	for rows.Next() {
		var id int64
		var v vec
		if err := rows.Scan(&id, &v.dp, &v.dpo, &v.cp, &v.cpo); err != nil {
			rows.Close()
			return rep, err
		}
		stored[id] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, err
	}

	computed := map[int64]vec{}
	holds := map[int64]*hold{}
	rows, err = tx.Raw(`SELECT id, kind, debit_account_id, credit_account_id, amount, currency, pending_id
		FROM ledger_transfers ORDER BY id`).Rows()
	if err != nil {
		return rep, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, debit, credit, amount int64
			kind, currency            string
			pending                   sql.NullInt64
		)
		if err := rows.Scan(&id, &kind, &debit, &credit, &amount, &currency, &pending); err != nil {
			return rep, err
		}
		rep.Transfers++
		da, okD := accounts[debit]
		ca, okC := accounts[credit]
		if !okD || !okC || debit == credit {
			fault("bad_transfer", 0, id, "transfer %d: accounts %d -> %d are missing or the same", id, debit, credit)
			continue
		}
		if da.Currency != currency || ca.Currency != currency {
			fault("bad_transfer", 0, id, "transfer %d in %s moves %s (%s) -> %s (%s)", id, currency, da.Code, da.Currency, ca.Code, ca.Currency)
		}
		if amount <= 0 {
			fault("bad_transfer", 0, id, "transfer %d: amount %d is not positive", id, amount)
		}
		var holdAmount int64
		switch Kind(kind) {
		case Single:
		case Pending:
			holds[id] = &hold{debit: debit, credit: credit, amount: amount, currency: currency}
		case Post, Void, Expire:
			h := holds[pending.Int64]
			if !pending.Valid || h == nil {
				fault("bad_transfer", 0, id, "transfer %d (%s) resolves %d, which is not an earlier hold", id, kind, pending.Int64)
				continue
			}
			h.resolutions++
			if h.resolutions == 2 {
				fault("hold_resolved_twice", 0, pending.Int64, "hold %d is resolved more than once (again by transfer %d)", pending.Int64, id)
			}
			if h.debit != debit || h.credit != credit || h.currency != currency {
				fault("bad_transfer", 0, id, "transfer %d (%s) moves other accounts or currency than hold %d", id, kind, pending.Int64)
			}
			if Kind(kind) == Post && amount > h.amount {
				fault("bad_transfer", 0, id, "transfer %d posts %d, more than hold %d of %d", id, amount, pending.Int64, h.amount)
			}
			if Kind(kind) != Post && amount != h.amount {
				fault("bad_transfer", 0, id, "transfer %d (%s) releases %d of hold %d of %d", id, kind, amount, pending.Int64, h.amount)
			}
			holdAmount = h.amount
		default:
			fault("bad_transfer", 0, id, "transfer %d has unknown kind %q", id, kind)
			continue
		}
		d, c := effect(Kind(kind), amount, holdAmount)
		dv, cv := computed[debit], computed[credit]
		if !dv.add(d) || !cv.add(c) {
			fault("bad_transfer", 0, id, "transfer %d overflows a balance", id)
		}
		computed[debit], computed[credit] = dv, cv
	}
	if err := rows.Err(); err != nil {
		return rep, err
	}

	ids := make([]int64, 0, len(accounts))
	for id := range accounts {
		ids = append(ids, id)
	}
	for id := range stored {
		if _, ok := accounts[id]; !ok {
			fault("balance_mismatch", id, 0, "balance rows for account %d, which does not exist", id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	type sums struct{ dp, dpo, cp, cpo int64 }
	perCurrency := map[string]*sums{}
	for _, id := range ids {
		a := accounts[id]
		c, s := computed[id], stored[id]
		if c != s {
			fault("balance_mismatch", id, 0, "account %s: stored %s, recomputed from transfers %s", a, fmtVec(s), fmtVec(c))
		}
		if why := limitFault(a.Flags, s); why != "" {
			fault("limit_exceeded", id, 0, "account %s (%s): %s", a, a.Flags, strings.Replace(why, " would ", " ", 1))
		}
		cs := perCurrency[a.Currency]
		if cs == nil {
			cs = &sums{}
			perCurrency[a.Currency] = cs
		}
		cs.dp += s.dp
		cs.dpo += s.dpo
		cs.cp += s.cp
		cs.cpo += s.cpo
	}
	for cur, s := range perCurrency {
		rep.Currencies = append(rep.Currencies, cur)
		if s.dpo != s.cpo || s.dp != s.cp {
			fault("currency_imbalance", 0, 0, "%s does not sum to zero: posted debits %d vs credits %d, pending debits %d vs credits %d",
				cur, s.dpo, s.cpo, s.dp, s.cp)
		}
	}
	sort.Strings(rep.Currencies)
	return rep, nil
}

func fmtVec(v vec) string {
	return fmt.Sprintf("{debits_pending:%d debits_posted:%d credits_pending:%d credits_posted:%d}", v.dp, v.dpo, v.cp, v.cpo)
}
