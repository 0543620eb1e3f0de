package billing

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
)

// Strategy is how a seat's money is secured (DESIGN.md, "Funding strategies").
type Strategy string

const (
	// CardHold authorises the first block on the card; each extension
	// authorises the new cumulative ceiling and then voids the previous
	// authorisation, so one hold is open and the statement shows one line.
	// At the end the price is captured and the rest released.
	CardHold Strategy = "card_hold"
	// PrepaidBlocks charges the stored credential one block at a time into
	// the viewer's wallet, held there for the seat; at the end the price is
	// posted and the unused rest stays in the wallet as credit (or is
	// refunded, when the operator configures it and the processor can).
	PrepaidBlocks Strategy = "prepaid_blocks"
	// Wallet holds credits bought earlier: one pending ledger transfer on the
	// viewer's wallet for the cumulative ceiling, replaced per block; at the
	// end the price is posted and the rest released.
	Wallet Strategy = "wallet"
)

// Valid reports whether s is one of the three strategies.
func (s Strategy) Valid() bool { return s == CardHold || s == PrepaidBlocks || s == Wallet }

// CloseReason says why a seat ended; it is on the receipt.
type CloseReason string

const (
	ClosedByViewer         CloseReason = "viewer"
	ClosedByModel          CloseReason = "model"
	ClosedFundingExhausted CloseReason = "funding_exhausted" // funded time ran out and no extension landed in time
	ClosedPauseExceeded    CloseReason = "pause_exceeded"    // not billable for longer than the policy's maximum pause
	ClosedFundingRejected  CloseReason = "funding_rejected"  // the processor moved other money than asked
	ClosedRecovered        CloseReason = "recovered"         // the host restarted; closed at the last checkpoint
)

// EventType names an Event.
type EventType string

const (
	// EventFundingWarning: an extension failed; the seat ends when its funded
	// time runs out unless a retry lands first. Code and Message say why.
	EventFundingWarning EventType = "funding_warning"
	// EventFundingExtended: another block is secured.
	EventFundingExtended EventType = "funding_extended"
	// EventSeatClosed: the seat ended (Reason says why); settlement follows.
	EventSeatClosed EventType = "seat_closed"
	// EventSeatSettled: the receipt is ready.
	EventSeatSettled EventType = "seat_settled"
)

// Event is one notification for the web layer.
type Event struct {
	Type     EventType
	SeatID   string
	ShowID   string
	ViewerID string
	At       time.Time
	// Funded is the money secured so far and FundedSeconds the billable
	// time it covers.
	Funded        money.Money
	FundedSeconds int64
	// BillableSeconds so far (at At).
	BillableSeconds int64
	// Price is what settlement takes (EventSeatClosed): the price of
	// BillableSeconds, the seat's final figure.
	Price  money.Money
	Reason CloseReason // EventSeatClosed
	Code   errs.Code   // EventFundingWarning: the processor's or ledger's error code
	// Err is why an extension failed (EventFundingWarning). It is written
	// for the log: tell people httperror.Message(Err), never Err.Error().
	Err     error
	Attempt int // EventFundingWarning: how many extension attempts failed in a row
}

// Funding says how the viewer pays for a seat.
type Funding struct {
	// Processor names one of Config.Processors; empty means wallet credits.
	Processor string
	// Credential is the viewer's stored payment method at that processor.
	Credential *processor.StoredCredential
}

// OpenRequest opens a seat.
type OpenRequest struct {
	SeatID      string // optional; a fresh id when empty
	ShowID      string
	Kind        split.Kind // split.KindPrivate or split.KindGroup
	ViewerID    string
	ModelID     string
	StudioID    string // optional
	AffiliateID string // optional
	// Policy is the snapshot locked for the seat's whole life (with its FX
	// quote when the viewer pays in another currency).
	Policy  pricing.Policy
	Funding Funding
}

// SeatInfo is what OpenSeat returns.
type SeatInfo struct {
	ID            string
	Strategy      Strategy
	Currency      string // payment currency
	Funded        money.Money
	FundedSeconds int64
	OpenedAt      time.Time
}

// SeatEnd is the answer to ending a seat. Ending is idempotent: every end of
// the same seat, one after the other or at once, gets the answer its state
// gives, whoever ended it first.
type SeatEnd struct {
	// Settled: Receipt is the seat's receipt. Otherwise the seat is closed
	// (its meter stopped at Status.ClosedAt: nothing after it is billed) and
	// its settlement waits for a processor or plugin; it completes by
	// itself, retried in the background. Ask again after RetryAfter.
	Settled    bool
	Receipt    Receipt
	Status     SeatStatus
	RetryAfter time.Duration
}

// Values of SeatStatus.State.
const (
	// SeatSettling: closed, the price decided, settlement not finished yet.
	SeatSettling = "settling"
	// SeatSettled: the money moved and the receipt is stored.
	SeatSettled = "settled"
)

// SeatStatus is what is known of a closed seat before its receipt: the close
// decision, taken once, from which settlement moves the money.
type SeatStatus struct {
	SeatID          string      `json:"seat_id"`
	State           string      `json:"state"`
	ClosedAt        time.Time   `json:"closed_at"`
	CloseReason     CloseReason `json:"close_reason"`
	BillableSeconds int64       `json:"billable_seconds"`
	// Price is what settlement takes, Funded what secured the seat when it ended.
	Price  money.Money `json:"price"`
	Funded money.Money `json:"funded"`
}

// Receipt is the per-seat record a viewer and a dispute team can read.
type Receipt struct {
	SeatID      string     `json:"seat_id"`
	ShowID      string     `json:"show_id"`
	Kind        split.Kind `json:"kind"`
	ViewerID    string     `json:"viewer_id"`
	ModelID     string     `json:"model_id"`
	StudioID    string     `json:"studio_id,omitempty"`
	AffiliateID string     `json:"affiliate_id,omitempty"`
	Strategy    Strategy   `json:"strategy"`
	Processor   string     `json:"processor,omitempty"`
	// Policy is the locked snapshot, FX quote included.
	Policy      pricing.Policy   `json:"policy"`
	OpenedAt    time.Time        `json:"opened_at"`
	ClosedAt    time.Time        `json:"closed_at"`
	CloseReason CloseReason      `json:"close_reason"`
	Intervals   []meter.Interval `json:"intervals"`
	// BillableSeconds is the total the price was computed from, once.
	BillableSeconds int64 `json:"billable_seconds"`
	// RatePrice is the price in the rate currency, Price what was charged in
	// the payment currency (equal without an FX quote).
	RatePrice money.Money `json:"rate_price"`
	// MinimumApplied: the policy's minimum charge, not the rate times the
	// billed time, is RatePrice.
	MinimumApplied bool `json:"minimum_applied"`
	// Cam2cam is set on a seat whose viewer was granted cam2cam: how much
	// of RatePrice its surcharge accounts for. It is a reading of the one
	// price, not an addition to it.
	Cam2cam *Cam2camLine `json:"cam2cam,omitempty"`
	Price   money.Money  `json:"price"`
	Funded  money.Money  `json:"funded"`
	// Released is what was held or prepaid and not taken: voided, left in
	// the wallet, or refunded (Refunded says how much went back to the card).
	Released        money.Money      `json:"released"`
	Refunded        money.Money      `json:"refunded"`
	Allocation      []split.Share    `json:"allocation,omitempty"`
	Funding         []FundingStep    `json:"funding"`
	ProcessorCalls  []ProcessorCall  `json:"processor_calls"`
	LedgerTransfers []LedgerTransfer `json:"ledger_transfers"`
	SettledAt       time.Time        `json:"settled_at"`
	// Reversals are refunds and chargebacks the processor reported after
	// settlement, as booked (see HandleProcessorEvents).
	Reversals []Reversal `json:"reversals,omitempty"`
}

// Cam2camLine is a receipt's cam2cam surcharge (pricing.Cam2camShare).
type Cam2camLine struct {
	// SurchargePerMinute is the part of the locked rate that is cam2cam's.
	SurchargePerMinute money.Money `json:"surcharge_per_minute"`
	// Amount is the part of RatePrice it accounts for, in the rate currency.
	Amount money.Money `json:"amount"`
}

// ProcessorCall is one processor call of a seat, from the intent log.
type ProcessorCall struct {
	Key       string      `json:"key"`
	Op        string      `json:"op"`
	State     string      `json:"state"`
	Reference string      `json:"reference,omitempty"`
	Amount    money.Money `json:"amount"`
	ErrorCode errs.Code   `json:"error_code,omitempty"`
}

// LedgerTransfer is one ledger transfer a seat made.
type LedgerTransfer struct {
	Key    string      `json:"key"`
	ID     int64       `json:"id"`
	Kind   string      `json:"kind"`
	Debit  string      `json:"debit"`
	Credit string      `json:"credit"`
	Amount money.Money `json:"amount"`
}

// FundingStep is one hold or block charge.
type FundingStep struct {
	N         int         `json:"n"`
	Kind      string      `json:"kind"`
	Amount    money.Money `json:"amount"`
	Ceiling   money.Money `json:"ceiling"`
	Reference string      `json:"reference"`
	Status    string      `json:"status"`
	// Late: the step landed after the seat ended (its ceiling is above what
	// funded the seat then), so it funded nothing and was undone: a hold
	// voided, a charge refunded in full (status released; where the
	// processor cannot refund, it stays charged, as credit in the wallet).
	Late bool `json:"late,omitempty"`
}

// RecoveryReport says what Recover did.
type RecoveryReport struct {
	Closed  int // open seats closed at their last checkpoint
	Settled int // seats settled
	Failed  int // seats left for an operator (see their last_error)
	Retry   int // seats whose settlement could not finish yet (a processor is down); retried later
}

// ErrSeatClosed is in the chain of the errs.Conflict returned for an event
// or an end aimed at a seat that has closed (or settled): callers tell it
// from a conflict inside the meter with errors.Is.
var ErrSeatClosed = errors.New("seat closed")

func seatClosed(format string, args ...any) error {
	return fmt.Errorf("%w: %w", errs.E(errs.Conflict, format, args...), ErrSeatClosed)
}

// idRE is what an id must look like to be part of a ledger account code
// (viewer:<id>:wallet) and an idempotency key.
var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func checkID(what, id string, required bool) error {
	if id == "" && !required {
		return nil
	}
	if !idRE.MatchString(id) {
		return errs.E(errs.Invalid, "%s %q: want 1-64 letters, digits, '_' or '-'", what, id)
	}
	return nil
}
