// Package accounts is who is who on a camkit site: users and their roles
// (viewer, model, studio, admin), argon2id passwords, server-side sessions,
// CSRF tokens, log-in rate limits, the 18+ gate, model profiles and rates,
// the one card on file per viewer, credit packs and the wallet's history.
//
// The web layer calls the Go API here and stays thin; the only HTTP this
// package knows is protocol-level (see HTTP): the session cookie, CSRF
// checks and the age-gate cookie, as fiber middleware.
//
// # Secrets at rest
//
// A session cookie carries 32 random bytes; the database keeps only their
// SHA-256, so a copy of the sessions table logs nobody in. A card is typed
// on the processor's own page; camkit stores only the processor's
// StoredCredential (an opaque token, brand, last four digits, expiry) and
// refuses any credential that carries something shaped like a card number.
// IP addresses are stored only as a keyed hash.
//
// # Credit packs and the ledger
//
// A pack has a Price (what the card pays) and a Bonus; the wallet receives
// Price + Bonus, in the site currency (credits ARE money in the site
// currency: one credit is one minor unit). A purchase posts one linked ledger
// batch under keys creditpack/<purchase id>/...:
//
//	processor:<name>:clearing -> viewer:<id>:wallet   Price  (what the processor owes us, now the viewer's)
//	platform:revenue          -> viewer:<id>:wallet   Bonus  (the promotion is the platform's expense)
//
// so every credit in a wallet is backed either by money the processor
// collected or by revenue the platform gave up, and `ledger verify` stays
// clean. The processor is charged first under the idempotency key
// creditpack/<purchase id>, recorded in credit_pack_purchases before the
// call, so a crash between charge and ledger is finished by Resume with the
// same keys: money moves exactly once.
package accounts
