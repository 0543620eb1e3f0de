// Package swaptest holds the processor swap test (issue 7): one private-show
// scenario — a seat opened, extended twice, the viewer dropping and coming
// back, ended, settled, the ledger verified — run against each processor
// plugin in turn (sandbox, MobiusPay, NETbilling, Segpay, CCBill, Epoch),
// each a real plugin process pointed at its fake gateway (the plugins'
// fakegw packages); only the plugin binary and its settings change between
// runs. Then each processor's refund and chargeback, delivered as the
// processor's own webhook through the plugin's ParseWebhook and the billing
// engine, must reach the ledger as reversal transfers and the receipt.
//
// running_test.go swaps processors on a running site (issue 11): the default
// processor changes from sandbox to sandbox-b (the sandbox binary run under a
// second name) while the viewer has a card on file and a seat open at
// sandbox, which stays loaded as retired. The seat keeps extending and
// settles at sandbox, its refund and chargeback still arrive and book, new
// funding asks for a card at sandbox-b, and the ledger balances. And with a
// cascade configured, a seat whose extension its processor declines is
// never extended at another one.
//
// The package has tests only; run them with
//
//	go test ./internal/swaptest/
//
// (PostgreSQL required; see core/store/storetest).
package swaptest
