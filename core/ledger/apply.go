package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"gorm.io/gorm"
)

// MaxBatch bounds a linked batch.
const MaxBatch = 1000

// Transfer applies one transfer (see Request). A repeat of an earlier request
// with the same key and content returns the first transfer and moves nothing.
func (l *Ledger) Transfer(ctx context.Context, r Request) (Transfer, error) {
	out, err := l.Batch(ctx, []Request{r})
	if err != nil {
		return Transfer{}, err
	}
	return out[0], nil
}

// Batch applies linked transfers all or nothing, in order: a later transfer
// may spend what an earlier one credited. A repeat of a whole batch returns
// the first results; a batch that repeats only some of its keys, or repeats
// them with other content, is a Conflict. Posts and voids must name holds
// committed before the batch.
func (l *Ledger) Batch(ctx context.Context, reqs []Request) ([]Transfer, error) {
	ops, err := validate(reqs)
	if err != nil {
		return nil, err
	}
	if l.fastPath(ops) {
		return l.applyFast(ctx, ops, l.now())
	}
	return l.applyOps(ctx, ops, l.now())
}

func (l *Ledger) applyOps(ctx context.Context, ops []op, now time.Time) ([]Transfer, error) {
	var (
		out     []Transfer
		created map[string]Account
	)
	err := l.run(ctx, func(tx *gorm.DB, careful bool) error {
		var err error
		out, created, err = l.apply(tx, ops, now, careful)
		return err
	})
	if err != nil {
		return nil, err
	}
	if l.tx == nil {
		for k, a := range created {
			l.cache.Store(k, a)
		}
	}
	return out, nil
}

// op is a validated request.
type op struct {
	Request
	full bool // a Post of the whole hold
}

func validate(reqs []Request) ([]op, error) {
	if len(reqs) == 0 {
		return nil, errs.E(errs.Invalid, "no transfers given")
	}
	if len(reqs) > MaxBatch {
		return nil, errs.E(errs.Invalid, "batch of %d transfers exceeds the limit of %d", len(reqs), MaxBatch)
	}
	ops := make([]op, len(reqs))
	keys := make(map[string]bool, len(reqs))
	for i, r := range reqs {
		if r.Kind == "" {
			r.Kind = Single
		}
		at := fmt.Sprintf("transfer %q", r.Key)
		if strings.TrimSpace(r.Key) == "" {
			return nil, errs.E(errs.Invalid, "transfer %d of the batch has no idempotency key", i)
		}
		if len(r.Key) > maxKeyLen {
			return nil, errs.E(errs.Invalid, "%s: idempotency key longer than %d bytes", at, maxKeyLen)
		}
		if keys[r.Key] {
			return nil, errs.E(errs.Invalid, "%s: the key appears twice in one batch", at)
		}
		keys[r.Key] = true
		if len(r.Memo) > maxMemoLen {
			return nil, errs.E(errs.Invalid, "%s: memo longer than %d bytes", at, maxMemoLen)
		}
		o := op{Request: r}
		switch r.Kind {
		case Single, Pending:
			if err := validCode(r.Debit); err != nil {
				return nil, errs.E(errs.Invalid, "%s: debit: %s", at, err.(*errs.Error).Message)
			}
			if err := validCode(r.Credit); err != nil {
				return nil, errs.E(errs.Invalid, "%s: credit: %s", at, err.(*errs.Error).Message)
			}
			if r.Debit == r.Credit {
				return nil, errs.E(errs.Invalid, "%s: debit and credit are the same account %s", at, r.Debit)
			}
			if err := validCurrency(r.Amount.Currency); err != nil {
				return nil, errs.E(errs.UnknownCurrency, "%s: %s", at, err.(*errs.Error).Message)
			}
			if r.Amount.Amount <= 0 {
				return nil, errs.E(errs.Invalid, "%s: amount must be positive, got %d", at, r.Amount.Amount)
			}
			if r.PendingID != 0 || r.PendingKey != "" {
				return nil, errs.E(errs.Invalid, "%s: a %s transfer names no hold", at, r.Kind)
			}
			if r.Timeout < 0 || (r.Timeout > 0 && r.Kind != Pending) {
				return nil, errs.E(errs.Invalid, "%s: a timeout must be positive and only on a pending transfer", at)
			}
			if r.Timeout > 0 && r.Timeout < time.Microsecond {
				return nil, errs.E(errs.Invalid, "%s: timeout below one microsecond", at)
			}
		case Post, Void:
			if (r.PendingID == 0) == (r.PendingKey == "") {
				return nil, errs.E(errs.Invalid, "%s: a %s names its hold by PendingID or PendingKey (exactly one)", at, r.Kind)
			}
			if r.PendingID < 0 {
				return nil, errs.E(errs.Invalid, "%s: PendingID %d is negative", at, r.PendingID)
			}
			if r.Debit != "" || r.Credit != "" || r.Timeout != 0 {
				return nil, errs.E(errs.Invalid, "%s: a %s moves its hold's accounts; leave Debit, Credit and Timeout empty", at, r.Kind)
			}
			if r.Amount == (money.Money{}) {
				if r.Kind == Post {
					o.full = true
				}
				break
			}
			if r.Kind == Void {
				return nil, errs.E(errs.Invalid, "%s: a void releases the whole hold; leave Amount empty", at)
			}
			if err := validCurrency(r.Amount.Currency); err != nil {
				return nil, errs.E(errs.UnknownCurrency, "%s: %s", at, err.(*errs.Error).Message)
			}
			if r.Amount.Amount <= 0 {
				return nil, errs.E(errs.Invalid, "%s: amount must be positive, got %d (leave Amount empty to post in full, or void)", at, r.Amount.Amount)
			}
		default:
			return nil, errs.E(errs.Invalid, "%s: unknown kind %q", at, r.Kind)
		}
		ops[i] = o
	}
	return ops, nil
}

// vec is a balance or a change to one.
type vec struct{ dp, dpo, cp, cpo int64 }

func (v vec) zero() bool { return v == vec{} }

func (v *vec) add(d vec) bool {
	var ok1, ok2, ok3, ok4 bool
	v.dp, ok1 = money.AddInt64(v.dp, d.dp)
	v.dpo, ok2 = money.AddInt64(v.dpo, d.dpo)
	v.cp, ok3 = money.AddInt64(v.cp, d.cp)
	v.cpo, ok4 = money.AddInt64(v.cpo, d.cpo)
	return ok1 && ok2 && ok3 && ok4
}

// effect is what a transfer does to its two accounts. hold is the amount of
// the hold a resolution releases from pending.
func effect(kind Kind, amount, hold int64) (debit, credit vec) {
	switch kind {
	case Single:
		return vec{dpo: amount}, vec{cpo: amount}
	case Pending:
		return vec{dp: amount}, vec{cp: amount}
	case Post:
		return vec{dp: -hold, dpo: amount}, vec{cp: -hold, cpo: amount}
	default: // Void, Expire
		return vec{dp: -hold}, vec{cp: -hold}
	}
}

// limitFault describes how b breaks its account's limit, or "".
func limitFault(flags Flags, b vec) string {
	switch flags {
	case DebitsMustNotExceedCredits:
		if d, ok := money.AddInt64(b.dp, b.dpo); !ok || d > b.cpo {
			return fmt.Sprintf("debits (pending %d + posted %d) would exceed posted credits %d", b.dp, b.dpo, b.cpo)
		}
	case CreditsMustNotExceedDebits:
		if c, ok := money.AddInt64(b.cp, b.cpo); !ok || c > b.dpo {
			return fmt.Sprintf("credits (pending %d + posted %d) would exceed posted debits %d", b.cp, b.cpo, b.dpo)
		}
	}
	return ""
}

const transferCols = `t.id, t.idempotency_key, t.kind, t.debit_account_id, da.code, t.credit_account_id, ca.code,
	t.amount, t.currency, t.pending_id, t.timeout_at, t.memo, t.created_at
	FROM ledger_transfers t
	JOIN ledger_accounts da ON da.id = t.debit_account_id
	JOIN ledger_accounts ca ON ca.id = t.credit_account_id`

func scanTransfer(rows interface{ Scan(...any) error }) (Transfer, error) {
	var (
		t       Transfer
		pending sql.NullInt64
		timeout sql.NullTime
	)
	err := rows.Scan(&t.ID, &t.Key, &t.Kind, &t.DebitAccountID, &t.Debit, &t.CreditAccountID, &t.Credit,
		&t.Amount.Amount, &t.Amount.Currency, &pending, &timeout, &t.Memo, &t.CreatedAt)
	t.PendingID = pending.Int64
	if timeout.Valid {
		t.TimeoutAt = normTime(timeout.Time)
	}
	t.CreatedAt = normTime(t.CreatedAt)
	return t, err
}

func queryTransfers(tx *gorm.DB, where string, args ...any) ([]Transfer, error) {
	rows, err := tx.Raw("SELECT "+transferCols+" WHERE "+where, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Transfer
	for rows.Next() {
		t, err := scanTransfer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// apply runs one batch inside tx. It returns the transfers and the accounts
// it read or created (for the cache, once committed).
//
// Unless careful, a batch of only single and pending transfers skips the
// look-up of its keys (one round trip fewer on the hot path): a repeat is then
// found when a check fails (the look-up runs before the error is returned) or
// when the insert hits the unique key, which aborts the transaction; run
// re-runs it carefully.
func (l *Ledger) apply(tx *gorm.DB, ops []op, now time.Time, careful bool) ([]Transfer, map[string]Account, error) {
	resolves := false
	for _, o := range ops {
		if o.Kind != Single && o.Kind != Pending {
			resolves = true
		}
	}
	var (
		byKey      = map[string]Transfer{}
		byID       = map[int64]Transfer{}
		resolvedBy = map[int64]Transfer{}
	)
	// lookup loads the batch's own keys (a repeat?), the holds it resolves
	// and anything already resolving them; on a repeat it returns the first
	// results (or a Conflict), and done=true.
	lookup := func() (out []Transfer, done bool, err error) {
		var (
			keys, pendingKeys []string
			pendingIDs        []int64
		)
		for _, o := range ops {
			keys = append(keys, o.Key)
			if o.PendingKey != "" {
				pendingKeys = append(pendingKeys, o.PendingKey)
			}
			if o.PendingID != 0 {
				pendingIDs = append(pendingIDs, o.PendingID)
			}
		}
		where := []string{"t.idempotency_key IN ?"}
		args := []any{append(keys, pendingKeys...)}
		if len(pendingIDs) > 0 {
			where = append(where, "t.id IN ?", "t.pending_id IN ?")
			args = append(args, pendingIDs, pendingIDs)
		}
		if len(pendingKeys) > 0 {
			where = append(where, "t.pending_id IN (SELECT id FROM ledger_transfers WHERE idempotency_key IN ?)")
			args = append(args, pendingKeys)
		}
		earlier, err := queryTransfers(tx, strings.Join(where, " OR "), args...)
		if err != nil {
			return nil, false, err
		}
		for _, t := range earlier {
			byKey[t.Key] = t
			byID[t.ID] = t
			if t.PendingID != 0 {
				resolvedBy[t.PendingID] = t
			}
		}
		// A repeat returns the first result and writes nothing.
		repeated := 0
		for _, o := range ops {
			if _, ok := byKey[o.Key]; ok {
				repeated++
			}
		}
		if repeated == 0 {
			return nil, false, nil
		}
		if repeated < len(ops) {
			return nil, true, errs.E(errs.Conflict, "batch repeats %d of its %d idempotency keys: a linked batch is repeated whole or not at all", repeated, len(ops))
		}
		out = make([]Transfer, len(ops))
		for i, o := range ops {
			first := byKey[o.Key]
			if why := differs(o, first, holdOf(byKey, byID)); why != "" {
				return nil, true, errs.E(errs.Conflict, "idempotency key %q was used for another transfer (id %d): %s", o.Key, first.ID, why)
			}
			out[i] = first
		}
		return out, true, nil
	}
	looked := false
	// refuse returns err unless the batch turns out to be a repeat.
	refuse := func(err error) ([]Transfer, map[string]Account, error) {
		if looked {
			return nil, nil, err
		}
		looked = true
		out, done, lerr := lookup()
		switch {
		case lerr != nil:
			return nil, nil, lerr
		case done:
			return out, nil, nil
		}
		return nil, nil, err
	}
	// On PostgreSQL the rows are written before the checks (see
	// applyPostgres), so the look-up must come first there.
	if careful || resolves || l.db.Dialect() == store.Postgres {
		looked = true
		out, done, err := lookup()
		if err != nil || done {
			return out, nil, err
		}
	}
	hold := holdOf(byKey, byID)

	// 3. Accounts: resolve (and create chart accounts on first use).
	accounts := map[string]Account{}
	var specs []accountSpec
	for _, o := range ops {
		if o.Kind != Single && o.Kind != Pending {
			continue
		}
		for _, code := range []string{o.Debit, o.Credit} {
			k := accountKey(code, o.Amount.Currency)
			if v, ok := l.cache.Load(k); ok {
				accounts[k] = v.(Account)
				continue
			}
			flags, inChart := ChartFlags(code)
			if !inChart {
				flags = -1 // must exist already
			}
			specs = append(specs, accountSpec{code, o.Amount.Currency, flags})
		}
	}
	if len(specs) > 0 {
		got, err := loadAccounts(tx, specs)
		if err != nil {
			return nil, nil, err
		}
		var create []accountSpec
		for _, s := range specs {
			k := accountKey(s.code, s.currency)
			if a, ok := got[k]; ok {
				accounts[k] = a
				continue
			}
			if s.flags < 0 {
				return refuse(errs.E(errs.NotFound, "account %s (%s) does not exist: open it first, or use a code from the chart of accounts", s.code, s.currency))
			}
			create = append(create, s)
		}
		if len(create) > 0 {
			made, err := l.ensureAccounts(tx, create)
			if err != nil {
				return nil, nil, err
			}
			for k, a := range made {
				accounts[k] = a
			}
		}
	}

	// 4. Plan every transfer, checking holds, and find the accounts whose
	// constrained side grows: only those are locked.
	plan := make([]planned, len(ops))
	flagsOf := map[int64]Flags{}
	var lock []int64
	lockSet := map[int64]bool{}
	resolving := map[int64]string{}
	for i, o := range ops {
		t := Transfer{Key: o.Key, Kind: o.Kind, Memo: o.Memo, CreatedAt: now}
		var d, c vec
		switch o.Kind {
		case Single, Pending:
			da := accounts[accountKey(o.Debit, o.Amount.Currency)]
			ca := accounts[accountKey(o.Credit, o.Amount.Currency)]
			t.DebitAccountID, t.Debit = da.ID, da.Code
			t.CreditAccountID, t.Credit = ca.ID, ca.Code
			t.Amount = o.Amount
			if o.Timeout > 0 {
				t.TimeoutAt = normTime(now.Add(o.Timeout))
			}
			flagsOf[da.ID], flagsOf[ca.ID] = da.Flags, ca.Flags
			d, c = effect(o.Kind, o.Amount.Amount, 0)
			if da.Flags == DebitsMustNotExceedCredits && !lockSet[da.ID] {
				lockSet[da.ID] = true
				lock = append(lock, da.ID)
			}
			if ca.Flags == CreditsMustNotExceedDebits && !lockSet[ca.ID] {
				lockSet[ca.ID] = true
				lock = append(lock, ca.ID)
			}
		default: // Post, Void
			p, ok := hold(o)
			name := o.PendingKey
			if name == "" {
				name = fmt.Sprint(o.PendingID)
			}
			if !ok {
				return nil, nil, errs.E(errs.NotFound, "transfer %q: no hold %s", o.Key, name)
			}
			if p.Kind != Pending {
				return nil, nil, errs.E(errs.Invalid, "transfer %q: transfer %d is a %s, not a pending hold", o.Key, p.ID, p.Kind)
			}
			if r, done := resolvedBy[p.ID]; done {
				return nil, nil, errs.E(errs.Conflict, "transfer %q: hold %d was already resolved by %s transfer %d (%q)", o.Key, p.ID, r.Kind, r.ID, r.Key)
			}
			if other, dup := resolving[p.ID]; dup {
				return nil, nil, errs.E(errs.Conflict, "transfer %q: hold %d is also resolved by %q in this batch", o.Key, p.ID, other)
			}
			resolving[p.ID] = o.Key
			if o.Kind == Post && !p.TimeoutAt.IsZero() && !now.Before(p.TimeoutAt) {
				return nil, nil, errs.E(errs.Conflict, "transfer %q: hold %d expired at %s", o.Key, p.ID, p.TimeoutAt.Format(time.RFC3339Nano))
			}
			amount := p.Amount
			if o.Kind == Post && !o.full {
				if o.Amount.Currency != p.Amount.Currency {
					return nil, nil, errs.E(errs.Invalid, "transfer %q: currency mismatch: posting %s against a hold in %s", o.Key, o.Amount.Currency, p.Amount.Currency)
				}
				if o.Amount.Amount > p.Amount.Amount {
					return nil, nil, errs.E(errs.Invalid, "transfer %q: posting %d %s exceeds hold %d of %d %s", o.Key, o.Amount.Amount, o.Amount.Currency, p.ID, p.Amount.Amount, p.Amount.Currency)
				}
				amount = o.Amount
			}
			t.DebitAccountID, t.Debit = p.DebitAccountID, p.Debit
			t.CreditAccountID, t.Credit = p.CreditAccountID, p.Credit
			t.Amount = amount
			t.PendingID = p.ID
			d, c = effect(o.Kind, amount.Amount, p.Amount.Amount)
		}
		plan[i] = planned{t: t, debit: d, credit: c}
	}

	touched := make([]int64, 0, 2*len(plan))
	seenAcc := map[int64]bool{}
	delta := make(map[int64]vec, 2*len(plan))
	for _, p := range plan {
		for _, leg := range []struct {
			id int64
			v  vec
		}{{p.t.DebitAccountID, p.debit}, {p.t.CreditAccountID, p.credit}} {
			if !seenAcc[leg.id] {
				seenAcc[leg.id] = true
				touched = append(touched, leg.id)
			}
			d := delta[leg.id]
			d.add(leg.v) // an overflow here is found by check below
			delta[leg.id] = d
		}
	}
	sort.Slice(touched, func(i, j int) bool { return touched[i] < touched[j] })
	sort.Slice(lock, func(i, j int) bool { return lock[i] < lock[j] })

	// check applies the plan in order to bal, the balances of the accounts
	// for which want holds, and reports the first overflow or broken limit.
	check := func(bal map[int64]vec, want func(int64) bool) error {
		for _, p := range plan {
			for _, leg := range []struct {
				id int64
				v  vec
			}{{p.t.DebitAccountID, p.debit}, {p.t.CreditAccountID, p.credit}} {
				if !want(leg.id) {
					continue
				}
				b := bal[leg.id]
				if !b.add(leg.v) {
					return errs.E(errs.Limit, "transfer %q: a balance of account %d would overflow int64", p.t.Key, leg.id)
				}
				bal[leg.id] = b
				if lockSet[leg.id] {
					if why := limitFault(flagsOf[leg.id], b); why != "" {
						code := p.t.Debit
						if leg.id == p.t.CreditAccountID {
							code = p.t.Credit
						}
						return errs.E(errs.Limit, "transfer %q: account %s (%s): %s", p.t.Key, code, p.t.Amount.Currency, why)
					}
				}
			}
		}
		return nil
	}

	if l.db.Dialect() == store.Postgres {
		return l.applyPostgres(tx, plan, now, touched, lock, lockSet, delta, check, accounts, refuse)
	}

	// SQLite: one writer at a time, so no lock is needed; read the balances
	// of every touched account and check.
	bal, err := sumBalances(tx, touched)
	if err != nil {
		return nil, nil, err
	}
	if err := check(bal, func(int64) bool { return true }); err != nil {
		return refuse(err)
	}

	// 7. Write the transfers.
	out, err := insertTransfers(tx, plan, now, false)
	if err != nil {
		return nil, nil, err
	}
	if l.afterInsert != nil {
		if err := l.afterInsert(); err != nil {
			return nil, nil, err
		}
	}

	// 8. Move the balances: one writer at a time, so any shard will do.
	var ub strings.Builder
	up := make([]any, 0, 6*len(touched))
	ub.WriteString(`INSERT INTO ledger_balances (account_id, shard, debits_pending, debits_posted, credits_pending, credits_posted) VALUES `)
	n := 0
	for _, id := range touched {
		d := delta[id]
		if d.zero() {
			continue
		}
		if n > 0 {
			ub.WriteString(", ")
		}
		n++
		ub.WriteString("(?, ?, ?, ?, ?, ?)")
		up = append(up, id, rand.IntN(l.shards), d.dp, d.dpo, d.cp, d.cpo)
	}
	ub.WriteString(upsertBalance)
	if n > 0 {
		if err := tx.Exec(ub.String(), up...).Error; err != nil {
			return nil, nil, err
		}
	}
	return out, accounts, nil
}

// planned is one transfer of a batch, ready to write, and what it does to
// its two accounts.
type planned struct {
	t             Transfer
	debit, credit vec
}

// applyPostgres writes a planned batch on PostgreSQL in the lock order the
// fast path uses (migrations/postgres/00005): transfer rows in key order,
// unlocked balance shards (ledger_add_balances), then the shard 0 rows of the
// accounts whose limit is at stake, in ascending id. Those are held from
// there to the commit only.
func (l *Ledger) applyPostgres(tx *gorm.DB, plan []planned, now time.Time, touched, lock []int64, lockSet map[int64]bool,
	delta map[int64]vec, check func(map[int64]vec, func(int64) bool) error, accounts map[string]Account,
	refuse func(error) ([]Transfer, map[string]Account, error)) ([]Transfer, map[string]Account, error) {
	ctx, conn := tx.Statement.Context, tx.Statement.ConnPool
	unlocked := func(id int64) bool { return !lockSet[id] }
	var free []int64
	for _, id := range touched {
		if unlocked(id) {
			free = append(free, id)
		}
	}
	// Unlocked accounts: an int64 check on their current sums (racy: they
	// are not locked, as before the fast path).
	bal, err := sumBalances(tx, free)
	if err != nil {
		return nil, nil, err
	}
	if err := check(bal, unlocked); err != nil {
		return refuse(err)
	}
	out, err := insertTransfers(tx, plan, now, true)
	if err != nil {
		return nil, nil, err
	}
	if l.afterInsert != nil {
		if err := l.afterInsert(); err != nil {
			return nil, nil, err
		}
	}
	var ids []int64
	var deltas []vec
	for _, id := range free {
		if d := delta[id]; !d.zero() {
			ids = append(ids, id)
			deltas = append(deltas, d)
		}
	}
	if len(ids) > 0 {
		if err := l.addBalances(ctx, conn, ids, deltas); err != nil {
			return nil, nil, err
		}
	}
	if len(lock) == 0 {
		return out, accounts, nil
	}
	// The lock of an account is its shard 0 row: make sure the rows exist,
	// then lock them in ascending id; the next statement reads fresh sums.
	var eb strings.Builder
	ea := make([]any, 0, len(lock))
	eb.WriteString("INSERT INTO ledger_balances (account_id, shard) VALUES ")
	for i, id := range lock {
		if i > 0 {
			eb.WriteString(", ")
		}
		eb.WriteString("(?, 0)")
		ea = append(ea, id)
	}
	eb.WriteString(" ON CONFLICT (account_id, shard) DO NOTHING")
	if err := tx.Exec(eb.String(), ea...).Error; err != nil {
		return nil, nil, err
	}
	var got []int64
	if err := tx.Raw("SELECT account_id FROM ledger_balances WHERE account_id IN ? AND shard = 0 ORDER BY account_id FOR NO KEY UPDATE",
		lock).Scan(&got).Error; err != nil {
		return nil, nil, err
	}
	if bal, err = sumBalances(tx, lock); err != nil {
		return nil, nil, err
	}
	if err := check(bal, func(id int64) bool { return lockSet[id] }); err != nil {
		return refuse(err)
	}
	var ub strings.Builder
	up := make([]any, 0, 5*len(lock))
	ub.WriteString(`INSERT INTO ledger_balances (account_id, shard, debits_pending, debits_posted, credits_pending, credits_posted) VALUES `)
	n := 0
	for _, id := range lock {
		d := delta[id]
		if d.zero() {
			continue
		}
		if n > 0 {
			ub.WriteString(", ")
		}
		n++
		ub.WriteString("(?, 0, ?, ?, ?, ?)")
		up = append(up, id, d.dp, d.dpo, d.cp, d.cpo)
	}
	ub.WriteString(upsertBalance)
	if n > 0 {
		if err := tx.Exec(ub.String(), up...).Error; err != nil {
			return nil, nil, err
		}
	}
	return out, accounts, nil
}

const upsertBalance = ` ON CONFLICT (account_id, shard) DO UPDATE SET
		debits_pending = ledger_balances.debits_pending + excluded.debits_pending,
		debits_posted = ledger_balances.debits_posted + excluded.debits_posted,
		credits_pending = ledger_balances.credits_pending + excluded.credits_pending,
		credits_posted = ledger_balances.credits_posted + excluded.credits_posted`

// insertTransfers writes the planned transfers and returns them with their
// ids, ascending in batch order. With keyOrder (PostgreSQL), the rows go in
// in idempotency-key order, so two batches sharing keys wait for each other
// in one order; their ids are still drawn in batch order.
func insertTransfers(tx *gorm.DB, plan []planned, now time.Time, keyOrder bool) ([]Transfer, error) {
	var sb strings.Builder
	ins := make([]any, 0, 11*len(plan))
	if keyOrder {
		sb.WriteString(`WITH ids AS MATERIALIZED (
			SELECT g, nextval(pg_get_serial_sequence('ledger_transfers', 'id')) AS id FROM generate_series(1, ?) AS g)
		INSERT INTO ledger_transfers (id, idempotency_key, kind, debit_account_id, credit_account_id,
			amount, currency, pending_id, timeout_at, memo, created_at)
		SELECT ids.id, v.k, v.kind, v.d, v.c, v.amount, v.cur, v.p, v.t, v.memo, v.at FROM (VALUES `)
		ins = append(ins, len(plan))
	} else {
		sb.WriteString(`INSERT INTO ledger_transfers (idempotency_key, kind, debit_account_id, credit_account_id,
			amount, currency, pending_id, timeout_at, memo, created_at) VALUES `)
	}
	for i, p := range plan {
		if i > 0 {
			sb.WriteString(", ")
		}
		if keyOrder {
			sb.WriteString("(CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT), " +
				"CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS TIMESTAMPTZ), CAST(? AS TEXT), CAST(? AS TIMESTAMPTZ))")
			ins = append(ins, i+1)
		} else {
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		}
		var pending, timeout any
		if p.t.PendingID != 0 {
			pending = p.t.PendingID
		}
		if !p.t.TimeoutAt.IsZero() {
			timeout = p.t.TimeoutAt
		}
		ins = append(ins, p.t.Key, string(p.t.Kind), p.t.DebitAccountID, p.t.CreditAccountID,
			p.t.Amount.Amount, p.t.Amount.Currency, pending, timeout, p.t.Memo, now)
	}
	if keyOrder {
		sb.WriteString(`) AS v (ord, k, kind, d, c, amount, cur, p, t, memo, at)
			JOIN ids ON ids.g = v.ord ORDER BY v.k COLLATE "C"`)
	}
	sb.WriteString(" RETURNING id, idempotency_key")
	rows, err := tx.Raw(sb.String(), ins...).Rows()
	if err != nil {
		return nil, err
	}
	ids := make(map[string]int64, len(plan))
	for rows.Next() {
		var id int64
		var key string
		if err := rows.Scan(&id, &key); err != nil {
			rows.Close()
			return nil, err
		}
		ids[key] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Transfer, len(plan))
	for i, p := range plan {
		p.t.ID = ids[p.t.Key]
		if p.t.ID == 0 {
			return nil, errs.E(errs.Internal, "transfer %q: no id returned", p.t.Key)
		}
		out[i] = p.t
	}
	return out, nil
}

// holdOf finds the hold o resolves among loaded transfers.
func holdOf(byKey map[string]Transfer, byID map[int64]Transfer) func(op) (Transfer, bool) {
	return func(o op) (Transfer, bool) {
		if o.PendingKey != "" {
			t, ok := byKey[o.PendingKey]
			return t, ok
		}
		t, ok := byID[o.PendingID]
		return t, ok
	}
}

// differs explains how a repeated request differs from the transfer first
// stored under its key, or returns "".
func differs(o op, first Transfer, hold func(op) (Transfer, bool)) string {
	if first.Kind != o.Kind {
		return fmt.Sprintf("kind %s, not %s", first.Kind, o.Kind)
	}
	if first.Memo != o.Memo {
		return fmt.Sprintf("memo %q, not %q", first.Memo, o.Memo)
	}
	switch o.Kind {
	case Single, Pending:
		if first.Debit != o.Debit || first.Credit != o.Credit {
			return fmt.Sprintf("%s -> %s, not %s -> %s", first.Debit, first.Credit, o.Debit, o.Credit)
		}
		if first.Amount != o.Amount {
			return fmt.Sprintf("amount %d %s, not %d %s", first.Amount.Amount, first.Amount.Currency, o.Amount.Amount, o.Amount.Currency)
		}
		var timeout time.Duration
		if !first.TimeoutAt.IsZero() {
			timeout = first.TimeoutAt.Sub(first.CreatedAt)
		}
		if timeout != normDuration(o.Timeout) {
			return fmt.Sprintf("timeout %s, not %s", timeout, o.Timeout)
		}
	default:
		p, ok := hold(o)
		if !ok || p.ID != first.PendingID {
			return fmt.Sprintf("it resolved hold %d", first.PendingID)
		}
		if o.Kind == Post && !o.full && first.Amount != o.Amount {
			return fmt.Sprintf("amount %d %s, not %d %s", first.Amount.Amount, first.Amount.Currency, o.Amount.Amount, o.Amount.Currency)
		}
		if o.Kind == Post && o.full && first.Amount != p.Amount {
			return fmt.Sprintf("it posted %d of %d, not the whole hold", first.Amount.Amount, p.Amount.Amount)
		}
	}
	return ""
}

func normDuration(d time.Duration) time.Duration { return d.Truncate(time.Microsecond) }

// sumBalances returns the summed shards of ids (absent accounts are zero).
func sumBalances(tx *gorm.DB, ids []int64) (map[int64]vec, error) {
	rows, err := tx.Raw(`SELECT account_id,
		CAST(SUM(debits_pending) AS BIGINT), CAST(SUM(debits_posted) AS BIGINT),
		CAST(SUM(credits_pending) AS BIGINT), CAST(SUM(credits_posted) AS BIGINT)
		FROM ledger_balances WHERE account_id IN ? GROUP BY account_id`, ids).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[int64]vec, len(ids))
	for rows.Next() {
		var id int64
		var v vec
		if err := rows.Scan(&id, &v.dp, &v.dpo, &v.cp, &v.cpo); err != nil {
			return nil, err
		}
		out[id] = v
	}
	return out, rows.Err()
}
