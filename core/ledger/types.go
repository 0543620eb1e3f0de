package ledger

import (
	"fmt"
	"regexp"
	"time"

	"github.com/camkit/camkit/sdk/money"
)

// Flags limits an account. At most one of the two is set.
type Flags int

const (
	// DebitsMustNotExceedCredits: debits_pending + debits_posted <= credits_posted.
	// A viewer's wallet or a model's earnings can never go below zero, and a
	// hold counts against what is available.
	DebitsMustNotExceedCredits Flags = 1
	// CreditsMustNotExceedDebits: credits_pending + credits_posted <= debits_posted.
	CreditsMustNotExceedDebits Flags = 2
)

func (f Flags) String() string {
	switch f {
	case 0:
		return "none"
	case DebitsMustNotExceedCredits:
		return "debits_must_not_exceed_credits"
	case CreditsMustNotExceedDebits:
		return "credits_must_not_exceed_debits"
	}
	return fmt.Sprintf("invalid(%d)", int(f))
}

// Account is an immutable ledger account.
type Account struct {
	ID        int64
	Code      string
	Currency  string
	Flags     Flags
	CreatedAt time.Time
}

func (a Account) String() string { return a.Code + " (" + a.Currency + ")" }

// Balance is an account's four running sums, in minor units of its currency.
type Balance struct {
	Account        Account
	DebitsPending  int64
	DebitsPosted   int64
	CreditsPending int64
	CreditsPosted  int64
}

// debitNormal reports whether the account grows by debits (an asset, marked
// by CreditsMustNotExceedDebits). Every other account is read credit-normal:
// wallets, earnings, revenue.
func (b Balance) debitNormal() bool { return b.Account.Flags == CreditsMustNotExceedDebits }

// Posted is the settled balance in the account's normal direction:
// credits_posted - debits_posted (debits - credits for a debit-normal account).
func (b Balance) Posted() money.Money {
	if b.debitNormal() {
		return money.Money{Amount: b.DebitsPosted - b.CreditsPosted, Currency: b.Account.Currency}
	}
	return money.Money{Amount: b.CreditsPosted - b.DebitsPosted, Currency: b.Account.Currency}
}

// Available is Posted minus what open holds reserve against the account: what
// a new debit of a wallet may take.
func (b Balance) Available() money.Money {
	p := b.Posted()
	if b.debitNormal() {
		p.Amount -= b.CreditsPending
	} else {
		p.Amount -= b.DebitsPending
	}
	return p
}

// Kind is a transfer's kind.
type Kind string

const (
	Single  Kind = "single"  // moves money now
	Pending Kind = "pending" // a hold, resolved later by one Post, Void or expiry
	Post    Kind = "post"    // takes all or part of a hold; the rest is released
	Void    Kind = "void"    // releases a hold
	Expire  Kind = "expire"  // the ledger's own void of a hold whose timeout passed
)

// Request asks for one transfer.
type Request struct {
	// Key is the idempotency key, unique across the ledger (for example
	// "seat/<id>/hold/<n>"). A repeat with the same content returns the first
	// transfer; other content under the same key is refused (errs.Conflict).
	Key  string
	Kind Kind // Single when empty

	// Debit and Credit are account codes, resolved in Amount's currency. Leave
	// them empty for Post and Void: a resolution moves its hold's accounts.
	Debit, Credit string
	// Amount is positive. For Post, the zero Money posts the hold in full; a
	// positive amount up to the hold posts part and releases the rest. For
	// Void it stays zero.
	Amount money.Money

	// PendingID or PendingKey names the hold a Post or Void resolves.
	PendingID  int64
	PendingKey string

	// Timeout, for a Pending transfer, makes the ledger void the hold once it
	// passes (see ExpirePending). Zero: no timeout.
	Timeout time.Duration

	Memo string // free text for statements, e.g. "private show 812"
}

// Transfer is a stored, immutable transfer.
type Transfer struct {
	ID              int64
	Key             string
	Kind            Kind
	DebitAccountID  int64
	CreditAccountID int64
	Debit, Credit   string // account codes
	// Amount moved: for Post the amount posted, for Void/Expire the amount released.
	Amount    money.Money
	PendingID int64     // for Post, Void, Expire
	TimeoutAt time.Time // for a Pending with a timeout; zero otherwise
	Memo      string
	CreatedAt time.Time
}

// The chart of accounts (DESIGN.md). A code matching it is created on first
// use with these flags.
var chart = []struct {
	re    *regexp.Regexp
	flags Flags
}{
	{regexp.MustCompile(`^viewer:[A-Za-z0-9_-]+:wallet$`), DebitsMustNotExceedCredits},
	{regexp.MustCompile(`^(model|studio|affiliate):[A-Za-z0-9_-]+:earnings$`), DebitsMustNotExceedCredits},
	{regexp.MustCompile(`^processor:[A-Za-z0-9_-]+:(clearing|fees)$`), 0},
	{regexp.MustCompile(`^platform:(revenue|fx)$`), 0},
	{regexp.MustCompile(`^(payouts|chargebacks)$`), 0},
}

// ChartFlags returns the flags the chart of accounts gives code, and whether
// code is in the chart at all.
func ChartFlags(code string) (Flags, bool) {
	for _, c := range chart {
		if c.re.MatchString(code) {
			return c.flags, true
		}
	}
	return 0, false
}

// wellFormedCode reports whether code reads like a chart code: a lower-case
// head ([a-z][a-z0-9_-]*) and any number of ":segment" ([A-Za-z0-9_.-]+).
// Written out rather than as a regexp because every transfer checks two codes
// on the hot path; code_test.go holds the regexp it must agree with.
func wellFormedCode(code string) bool {
	if code == "" || code[0] < 'a' || code[0] > 'z' {
		return false
	}
	i := 1
	for ; i < len(code) && code[i] != ':'; i++ {
		if c := code[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	for i < len(code) { // at a ':'
		i++
		start := i
		for ; i < len(code) && code[i] != ':'; i++ {
			if c := code[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
				return false
			}
		}
		if i == start {
			return false
		}
	}
	return true
}

const (
	maxCodeLen = 128
	maxKeyLen  = 256
	maxMemoLen = 1024
)
