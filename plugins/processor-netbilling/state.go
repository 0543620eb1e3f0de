package main

import (
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processorkit"
)

// state is what the plugin must remember across restarts: the outcome of every
// idempotency key (so a retry never moves money twice), the holds and payments
// it created (so captures, voids and refunds are checked before anything is
// sent) and the checkouts in progress. Postback ids are not kept: the host
// drops redeliveries by event id.
type state struct {
	Idempotency processorkit.Ops        `json:"idempotency"` // by the host's idempotency key
	Holds       map[string]*hold        `json:"holds"`       // by NETbilling trans_id of the A transaction
	Payments    map[string]*payment     `json:"payments"`    // captures (D) and sales (S), by trans_id
	Checkouts   map[string]*checkoutRec `json:"checkouts"`   // by checkout reference
	Refunds     map[string]string       `json:"refunds"`     // refund trans_id -> the payment it refunds
	// Resendable holds attempt refs (the pending idempotency records' Ref)
	// that NETbilling refused with a processing error: they moved nothing.
	Resendable map[string]bool `json:"resendable"`
}

type holdStatus string

const (
	holdOpen     holdStatus = "open"
	holdCaptured holdStatus = "captured"
	holdVoided   holdStatus = "voided"
)

type hold struct {
	Token     string      `json:"token"` // CS:<trans_id> of the card
	Amount    money.Money `json:"amount"`
	Status    holdStatus  `json:"status"`
	ExpiresAt time.Time   `json:"expires_at"`
	// CaptureKey is the capture that voided this hold to charge its price
	// as a sale (see Capture): its retries go on with the sale.
	CaptureKey string `json:"capture_key,omitempty"`
	// InDoubt is the idempotency key of a capture (or its void) whose
	// outcome is unknown: until the operator settles it nothing else is
	// sent for this hold (the host voids holds after a failed capture, and
	// a void could undo or race the capture in doubt).
	InDoubt string `json:"in_doubt,omitempty"`
}

type payment struct {
	Amount   money.Money `json:"amount"`
	Refunded int64       `json:"refunded"` // minor units of Amount's currency
}

// checkoutRec is one hosted-form checkout. The card is typed on NETbilling's
// page; what comes back is the transaction's id, which stores the card.
type checkoutRec struct {
	CustomerRef string       `json:"customer_ref"`
	ReturnURL   string       `json:"return_url"`
	Description string       `json:"description,omitempty"`
	Purchase    *money.Money `json:"purchase,omitempty"` // nil: a card check of card_check_amount
	Amount      money.Money  `json:"amount"`             // what the form asks NETbilling for
	AuthType    string       `json:"auth_type"`          // SALE or AUTH
	ExpiresAt   time.Time    `json:"expires_at"`
	TransID     string       `json:"trans_id,omitempty"` // set once NETbilling answered
	Decline     *errs.Error  `json:"decline,omitempty"`
	CheckVoided bool         `json:"check_voided,omitempty"`
}

func newState() *state {
	return &state{
		Idempotency: processorkit.Ops{}, Holds: map[string]*hold{}, Payments: map[string]*payment{},
		Checkouts: map[string]*checkoutRec{}, Refunds: map[string]string{}, Resendable: map[string]bool{},
	}
}
