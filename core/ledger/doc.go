// Package ledger is camkit's double-entry ledger, TigerBeetle-style, on
// PostgreSQL or SQLite through core/store. Every money movement of the host —
// holds for per-minute shows, tips, credit packs, splits, payouts,
// chargebacks — is a transfer here.
//
// # Model
//
// An account has a code from the chart of accounts (viewer:42:wallet,
// platform:revenue, ...), one currency and at most one limit flag:
// DebitsMustNotExceedCredits (a wallet or earnings account can never go below
// zero) or CreditsMustNotExceedDebits. The account's identity is (code,
// currency): platform:revenue exists once per currency. Accounts whose code
// matches the chart are created on first use with the chart's flags; any other
// code must be opened with OpenAccount first.
//
// A transfer moves a positive amount from a debit account to a credit account
// of the same currency. It is single-phase, or pending (a hold) later resolved
// by exactly one post (full or partial; the rest is released) or void — or by
// the ledger itself when the hold's timeout passes (ExpirePending). Every
// transfer carries an idempotency key: a repeat with the same content returns
// the first result; other content under the same key is a Conflict. A batch
// (Batch) is linked: all of its transfers are applied or none.
//
// Transfers and accounts are immutable rows; triggers in the database refuse
// UPDATE, DELETE and TRUNCATE on them, so even a bug or an operator with psql
// cannot rewrite history. "Resolved at most once" is a UNIQUE index on
// pending_id, not only a check in Go.
//
// # Balances and hot accounts
//
// A balance is four sums — debits_pending, debits_posted, credits_pending,
// credits_posted — kept in ledger_balances as several shard rows per
// account, read as their sum (at most Options.Shards+1 rows: a cheap index
// range). Every transfer moves both of its accounts in the same database
// transaction that inserts the transfer row.
//
// Locking follows the limits. A movement that increases the constrained side
// of a limited account (a debit of a wallet: its debits grow) is "locked":
// it goes to the account's shard 0, and the row lock on shard 0 is the
// account's lock. Only lock holders write shard 0, so a transaction takes it
// without competing with anyone else, re-reads the balance and checks the
// limit; two debits of one wallet serialise, and never overdraw it. Every
// other movement — anything on an account without a limit, the favourable
// side of a limited one (a credit of a wallet), the release or post of a
// hold — is "unlocked": it adds to one of shards 1..Options.Shards, taking a
// row nobody holds (SELECT ... FOR NO KEY UPDATE SKIP LOCKED, from a random
// shard upwards), or creating a new one (guarded by a non-blocking advisory
// lock) while there are fewer than Options.Shards. So platform:revenue or
// processor:x:clearing, credited by nearly every settlement, do not
// serialise settlements: concurrent writers take different rows, and wait
// only when all Options.Shards rows exist and are held at once
// (BenchmarkHotAccountShards shows the difference between 1 shard and 32).
//
// A limit check may read the unlocked shards as of its statement's snapshot:
// without the lock they only ever move in the account's favour, so a check
// that passes on them is certain to pass on the latest values; one that
// fails is decided again after taking the lock, on fresh reads.
//
// # Lock order, and why nothing can deadlock
//
// Within a transaction (on PostgreSQL, both paths below), after the chart
// accounts it creates on first use (in (code, currency) order):
//  1. transfer rows, inserted in idempotency-key order (byte order): a
//     transaction waits for a key another is inserting while holding smaller
//     keys only;
//  2. unlocked shards, accounts in ascending id, waiting only when all of an
//     account's shards are held;
//  3. shard 0 of the locked accounts, ascending id.
//
// Locks are therefore held from step 3 to the commit only — the checks and
// one upsert — and every chain of waits climbs this order, so it cannot
// close into a cycle. Two batches racing on one idempotency key end with a
// unique violation for the loser, which is re-run (Options.MaxRetries) and
// then sees the winner: a repeat, or a conflict. On SQLite, core/store runs
// a single connection and BEGIN IMMEDIATE, so writers simply take turns, and
// the Go path writes one randomly chosen shard per account.
//
// # The PostgreSQL fast path
//
// A Transfer or Batch of single and pending transfers (every hot path: tips,
// holds, splits, funding) is ONE statement sent in autocommit, calling a
// PL/pgSQL function from migrations/postgres/00005_ledger_fast.sql: one
// round trip, and the commit rides on it, so no session sits "idle in
// transaction" holding locks across network round trips.
//   - ledger_transfer_one (one transfer, scalars, the fewest statements):
//     insert the row (ON CONFLICT on the key: a repeat returns the stored
//     transfer, a concurrent twin is waited for), unlocked sides, then
//     locked sides as one conditional upsert of shard 0 each.
//   - ledger_transfer_batch (a linked batch, set-based: one INSERT ... SELECT
//     FROM unnest of all its transfers, one aggregated delta per touched
//     account, one conditional upsert of all locked accounts' shard 0 that
//     checks every prefix of the batch against the limits). It also creates
//     chart accounts on first use.
//
// Both do every check the Go path does (repeat or conflict by key, limits
// after each transfer in order, no balance beyond int64). Their errors come
// back as SQLSTATEs of class CK and are mapped to sdk/errs codes (Limit,
// NotFound, Invalid); races come back as unique_violation or
// serialization_failure and are re-run. Account ids and flags returned by
// committed calls are remembered, so later calls skip the look-ups (accounts
// never change). Statements go through pgx's statement cache (prepared once
// per connection), and the functions' plans are generic and index-only
// whatever the batch size. Resolutions (Post, Void, expiry) and SQLite keep
// the Go path: a transaction of a few statements in the same lock order.
// Under InTx the same function runs inside the caller's transaction.
//
// Durability is untouched: fsync and synchronous_commit stay on; a transfer
// the ledger reported written is committed.
//
// # Verification
//
// Verify recomputes every balance from the transfers and reports each fault:
// a stored balance that differs, a currency whose debits and credits do not
// sum to the same total, a limited account beyond its limit, a hold resolved
// more than once or by more than it held. `camkit ledger verify` prints it.
package ledger
