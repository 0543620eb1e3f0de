// Package tickets sells ticket shows: a model schedules a show with a ticket
// price, a start time, an announced duration and a doors-close time; viewers
// buy tickets from their wallet beforehand (or late, at the same price, until
// the doors close); while the show runs only ticket holders are admitted to
// her broadcast (core/shows asks Admission); when it ends the ticket money is
// posted and split, or refunded by the operator's policy; a cancelled show
// refunds every ticket exactly.
//
// The money of a ticket is a ledger hold (viewer:<id>:wallet ->
// platform:revenue, pending) from the purchase until the show is over: the
// viewer's wallet shows it held, never spent, until then. Ending posts it
// (all of it, or the part the refund policy keeps) and splits what was posted
// with the split plugin (kind ticket); cancelling voids it. Every transfer
// has a key derived from the ticket, so a retried end or cancel moves money
// once.
package tickets
