package ledger

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Options tunes a Ledger. The zero value is ready for production.
type Options struct {
	// Clock stamps transfers and decides whether a hold has timed out.
	// Default: clock.Real().
	Clock clock.Clock
	// Shards is how many balance rows an account's balance is spread over
	// (see the package doc). Default 32.
	Shards int
	// MaxRetries bounds how often a transaction that lost a race (deadlock,
	// serialisation failure, a concurrent insert of the same key) is re-run.
	// Default 8.
	MaxRetries int
}

// Ledger is safe for concurrent use.
type Ledger struct {
	db      *store.DB
	tx      *gorm.DB // set by InTx: run inside the caller's transaction
	clock   clock.Clock
	shards  int
	retries int
	cache   *sync.Map // accountKey -> Account, committed accounts only
	ids     *sync.Map // accountKey -> idFlags, committed accounts only (the fast path's)

	// afterInsert runs after the transfer rows are written and before the
	// balances move: the atomicity test injects a failure here.
	afterInsert func() error
}

// New returns a Ledger on db, which must be migrated.
func New(db *store.DB, opts Options) *Ledger {
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Shards <= 0 {
		opts.Shards = 32
	}
	if opts.MaxRetries <= 0 {
		opts.MaxRetries = 8
	}
	return &Ledger{db: db, clock: opts.Clock, shards: opts.Shards, retries: opts.MaxRetries, cache: &sync.Map{}, ids: &sync.Map{}}
}

// InTx returns a Ledger whose operations run inside tx, the caller's open
// transaction, so a caller can record its own rows (a settled seat) and the
// transfers that pay for them atomically. The caller commits or rolls back;
// after any error it must roll back. There is no automatic retry in this mode.
func (l *Ledger) InTx(tx *gorm.DB) *Ledger {
	c := *l
	c.tx = tx
	return &c
}

func (l *Ledger) now() time.Time { return normTime(l.clock.Now()) }

// normTime is the one representation of a timestamp in the ledger: UTC at
// microsecond precision, what PostgreSQL stores, so values read back compare
// equal on both dialects.
func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// run runs fn in a transaction, re-running it when it lost a race. fn
// learns whether this is a re-run (or runs inside a caller's transaction),
// where it must not be optimistic.
func (l *Ledger) run(ctx context.Context, fn func(tx *gorm.DB, careful bool) error) error {
	if l.tx != nil {
		return dbErr(fn(l.tx.WithContext(ctx), true))
	}
	return l.retry(ctx, func(careful bool) error {
		return l.db.Gorm().WithContext(ctx).Transaction(func(tx *gorm.DB) error { return fn(tx, careful) })
	})
}

// retry runs attempt, a whole transaction (or one autocommit statement),
// again while it loses races, and returns the last error as an *errs.Error.
func (l *Ledger) retry(ctx context.Context, attempt func(careful bool) error) error {
	for n := 0; ; n++ {
		err := attempt(n > 0)
		if err == nil {
			return nil
		}
		if !lostRace(err) || n >= l.retries {
			return dbErr(err)
		}
		// A short random pause lets the winner commit before we look again.
		select {
		case <-ctx.Done():
			return dbErr(ctx.Err())
		case <-time.After(time.Duration(rand.IntN(1000*(n+1))) * time.Microsecond):
		}
	}
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// lostRace reports errors that a re-run of the same transaction resolves.
func lostRace(err error) bool {
	switch pgCode(err) {
	case "40001", "40P01", "23505": // serialization_failure, deadlock_detected, unique_violation
		return true
	}
	switch c := sqliteCode(err); {
	case c&0xff == 5: // SQLITE_BUSY, from another process on the file
		return true
	case c == 2067: // SQLITE_CONSTRAINT_UNIQUE
		return true
	}
	return false
}

func sqliteCode(err error) int {
	var se interface{ Code() int }
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// dbErr keeps *errs.Error as is and turns anything else into one.
func dbErr(err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errs.Retry(errs.Timeout, "ledger: %v", err)
	case errors.Is(err, context.Canceled):
		return errs.Retry(errs.Unavailable, "ledger: %v", err)
	case pgCode(err) == sqlstateLimit:
		return errs.E(errs.Limit, "%s", pgMessage(err))
	case pgCode(err) == sqlstateNotFound:
		return errs.E(errs.NotFound, "%s", pgMessage(err))
	case pgCode(err) == sqlstateInvalid:
		return errs.E(errs.Invalid, "ledger: %s", pgMessage(err))
	case pgCode(err) == "23505" || sqliteCode(err) == 2067:
		return errs.Retry(errs.Conflict, "ledger: a concurrent transfer used the same key or hold: %v", err)
	case pgCode(err) == "22003":
		return errs.E(errs.Invalid, "ledger: a balance would overflow int64: %v", err)
	}
	return errs.E(errs.Internal, "ledger: %v", err)
}

func accountKey(code, currency string) string { return code + "\x00" + currency }

func validCode(code string) error {
	if code == "" {
		return errs.E(errs.Invalid, "account code is empty")
	}
	if len(code) > maxCodeLen || !wellFormedCode(code) {
		return errs.E(errs.Invalid, "account code %q is malformed (want e.g. viewer:42:wallet)", code)
	}
	return nil
}

func validCurrency(cur string) error {
	if _, err := money.Lookup(cur); err != nil {
		return errs.E(errs.UnknownCurrency, "currency %q: %v", cur, err)
	}
	return nil
}

// OpenAccount creates the account (code, currency) with flags, or returns it
// when it already exists with the same flags (errs.Conflict with other flags).
// Concurrent calls create it once.
func (l *Ledger) OpenAccount(ctx context.Context, code, currency string, flags Flags) (Account, error) {
	if err := validCode(code); err != nil {
		return Account{}, err
	}
	if err := validCurrency(currency); err != nil {
		return Account{}, err
	}
	if flags != 0 && flags != DebitsMustNotExceedCredits && flags != CreditsMustNotExceedDebits {
		return Account{}, errs.E(errs.Invalid, "account %s: flags %d: set at most one limit", code, flags)
	}
	if cf, ok := ChartFlags(code); ok && cf != flags {
		return Account{}, errs.E(errs.Conflict, "account %s: the chart of accounts gives it flags %s, not %s", code, cf, flags)
	}
	var acc Account
	err := l.run(ctx, func(tx *gorm.DB, _ bool) error {
		got, err := l.ensureAccounts(tx, []accountSpec{{code, currency, flags}})
		if err != nil {
			return err
		}
		acc = got[accountKey(code, currency)]
		return nil
	})
	if err != nil {
		return Account{}, err
	}
	if acc.Flags != flags {
		return Account{}, errs.E(errs.Conflict, "account %s exists with flags %s, not %s", acc, acc.Flags, flags)
	}
	if l.tx == nil {
		l.cache.Store(accountKey(code, currency), acc)
	}
	return acc, nil
}

// Account returns the account (code, currency), errs.NotFound if it was never
// opened or used.
func (l *Ledger) Account(ctx context.Context, code, currency string) (Account, error) {
	if v, ok := l.cache.Load(accountKey(code, currency)); ok {
		return v.(Account), nil
	}
	var acc Account
	err := l.read(ctx, func(tx *gorm.DB) error {
		got, err := loadAccounts(tx, []accountSpec{{code: code, currency: currency}})
		if err != nil {
			return err
		}
		a, ok := got[accountKey(code, currency)]
		if !ok {
			return errs.E(errs.NotFound, "account %s (%s) does not exist", code, currency)
		}
		acc = a
		return nil
	})
	if err == nil && l.tx == nil {
		l.cache.Store(accountKey(code, currency), acc)
	}
	return acc, err
}

// read runs fn on the caller's transaction or on the pool, without a
// transaction of its own.
func (l *Ledger) read(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if l.tx != nil {
		return dbErr(fn(l.tx.WithContext(ctx)))
	}
	return dbErr(fn(l.db.Gorm().WithContext(ctx)))
}

type accountSpec struct {
	code, currency string
	flags          Flags
}

func loadAccounts(tx *gorm.DB, specs []accountSpec) (map[string]Account, error) {
	codes := make([]string, 0, len(specs))
	curs := make([]string, 0, len(specs))
	for _, s := range specs {
		codes = append(codes, s.code)
		curs = append(curs, s.currency)
	}
	rows, err := tx.Raw(`SELECT id, code, currency, flags, created_at FROM ledger_accounts
		WHERE code IN ? AND currency IN ?`, codes, curs).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]Account, len(specs))
	for rows.Next() {
		var a Account
		if err := rows.Scan(&a.ID, &a.Code, &a.Currency, &a.Flags, &a.CreatedAt); err != nil {
			return nil, err
		}
		a.CreatedAt = normTime(a.CreatedAt)
		out[accountKey(a.Code, a.Currency)] = a
	}
	return out, rows.Err()
}

// ensureAccounts returns the accounts of specs, creating the missing ones
// (INSERT ... ON CONFLICT DO NOTHING: a concurrent creator waits for the first
// and then finds its row). Creation is sorted so two creators take the
// unique-index entries in one order.
func (l *Ledger) ensureAccounts(tx *gorm.DB, specs []accountSpec) (map[string]Account, error) {
	got, err := loadAccounts(tx, specs)
	if err != nil {
		return nil, err
	}
	var missing []accountSpec
	seen := map[string]bool{}
	for _, s := range specs {
		k := accountKey(s.code, s.currency)
		if _, ok := got[k]; !ok && !seen[k] {
			seen[k] = true
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return got, nil
	}
	sort.Slice(missing, func(i, j int) bool {
		return accountKey(missing[i].code, missing[i].currency) < accountKey(missing[j].code, missing[j].currency)
	})
	var sb strings.Builder
	args := make([]any, 0, 4*len(missing))
	sb.WriteString("INSERT INTO ledger_accounts (code, currency, flags, created_at) VALUES ")
	now := l.now()
	for i, s := range missing {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(?, ?, ?, ?)")
		args = append(args, s.code, s.currency, int(s.flags), now)
	}
	sb.WriteString(" ON CONFLICT (code, currency) DO NOTHING")
	if err := tx.Exec(sb.String(), args...).Error; err != nil {
		return nil, err
	}
	more, err := loadAccounts(tx, missing)
	if err != nil {
		return nil, err
	}
	for k, a := range more {
		got[k] = a
	}
	for _, s := range missing {
		if _, ok := got[accountKey(s.code, s.currency)]; !ok {
			return nil, errs.E(errs.Internal, "account %s (%s) was not created", s.code, s.currency)
		}
	}
	return got, nil
}
