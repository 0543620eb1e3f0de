// Package routing picks the payment processor for new funding — a card
// checkout (a card to keep on file) or a credit pack charged to a card on
// file — from the operator's rules, and says when to cascade to the next
// processor. It is pure: no database, no plugin calls. Callers (core/accounts)
// ask Order for the processors to try and Classify for what an attempt's
// error means.
//
// What is routed is only ever NEW funding. A seat's holds, extensions and
// captures stay with the processor that opened the seat (core/billing records
// it per seat), and refunds and chargebacks go to the processor that took the
// charge: neither ever asks this package.
package routing

// Input is what rules match on. Brand and Country come from the processor's
// own report of a stored card (processor.StoredCredential); a new card
// checkout has neither yet and matches on Currency alone.
type Input struct {
	Currency string // ISO 4217 code of the amount
	Brand    string // "visa", "mastercard", … lower case; "" unknown
	Country  string // issuing country, ISO 3166-1 alpha-2; "" unknown
}

// Rule sends what it matches to Processor. An empty field matches anything;
// a rule with every field empty matches everything.
type Rule struct {
	Currency  string
	Brand     string
	Country   string
	Processor string
}

// Outcome is what an attempt's error means for the cascade.
type Outcome int

const (
	// Done: the attempt succeeded.
	Done Outcome = iota
	// Next: a soft decline (insufficient funds, do not honour, the
	// processor unavailable with nothing moved): try the next processor.
	Next
	// Stop: a hard decline (stolen, invalid or expired card, fraud) or a
	// final refusal: no other processor is tried; the error is the answer.
	Stop
	// Unknown: the outcome at this processor is not known (a timeout, a
	// retryable failure after the request may have reached the processor):
	// never cascade, retry the same processor with the same key.
	Unknown
)
