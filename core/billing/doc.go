// Package billing turns a seat's billable time into money that moved: it opens
// seats at a locked core/pricing.Policy, funds them ahead (card holds,
// prepaid blocks or wallet holds) and extends them before they run out, ends
// them when the meter says so, settles each exactly once on the ledger,
// recovers them after a crash and writes their receipts. Prices are
// core/pricing's; billing never computes one itself.
package billing
