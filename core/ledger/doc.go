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
// credits_posted — kept in ledger_balances as up to Options.Shards rows per
// account, read as their sum. Each transfer adds its deltas to one randomly
// chosen shard of each account it touches, in the same database transaction
// that inserts the transfer row.
//
// Locking follows the limits. A movement that increases the constrained side
// of a limited account (a debit of a wallet) takes a row lock on that account
// (SELECT ... FOR NO KEY UPDATE), re-reads its summed balance and checks the
// limit; two debits of one wallet therefore serialise, and never overdraw it.
// Any other movement — every movement of an account without a limit, and the
// favourable side of a limited one — takes no account lock at all: it only
// adds to a shard row, and concurrent transfers pick different shards. So
// platform:revenue or processor:x:clearing, credited by nearly every
// settlement, do not serialise settlements behind one row; only the rare
// collision on the same shard waits for one commit. Posting or voiding a hold
// never increases a constrained side, so it never locks either.
//
// Locks are taken in one global order — account rows by ascending id in a
// single statement, then shard rows by (account id, shard) — so concurrent
// transfers cannot deadlock on them. Unique-index waits (two transfers racing
// on one idempotency key or one hold) are resolved by retrying the whole
// transaction, which then sees the winner and answers as a repeat or conflict.
// On SQLite, core/store runs a single connection and BEGIN IMMEDIATE, so
// writers simply take turns.
//
// # Verification
//
// Verify recomputes every balance from the transfers and reports each fault:
// a stored balance that differs, a currency whose debits and credits do not
// sum to the same total, a limited account beyond its limit, a hold resolved
// more than once or by more than it held. `camkit ledger verify` prints it.
package ledger
