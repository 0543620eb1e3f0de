// Package processorkit holds what every processor plugin needs besides the
// contract in sdk/processor: a state file written atomically, or kept as a
// snapshot plus an append-only, group-committed journal (Store), either one
// locked to one process at a time (see LockPath), idempotency
// records that survive a restart, per-name locks, an HTTP round trip whose
// failures come back as retryable errs values, a source-address allow-list
// for postbacks, the small URL and response helpers a hosted checkout
// uses, and HostedCardPage, a card checkout served by the plugin itself for a
// processor that can only charge or hold on a token. It imports only the SDK, the standard library and golang.org/x/sys
// (for the file lock), so a plugin author may use it as freely as
// sdk/processor.
//
// The pieces are deliberately separate functions over plain data rather than
// a framework: each processor decides how an unknown outcome is resolved
// (look the order up, poll a pre-fetched id, wait for a postback), and only
// the bookkeeping around that decision is shared.
package processorkit
