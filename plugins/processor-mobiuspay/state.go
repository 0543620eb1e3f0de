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
// sent) and the checkouts in progress. Webhook ids are not kept: the host
// drops redeliveries by event id.
type state struct {
	Idempotency processorkit.Ops        `json:"idempotency"` // by the host's idempotency key
	Holds       map[string]*hold        `json:"holds"`       // by NMI transactionid of the auth
	Payments    map[string]*payment     `json:"payments"`    // captures and sales, by NMI transactionid
	Checkouts   map[string]*checkoutRec `json:"checkouts"`   // by checkout reference
	Refunds     map[string]string       `json:"refunds"`     // refund transactionid -> the payment it refunds
}

type holdStatus string

const (
	holdOpen     holdStatus = "open"
	holdCaptured holdStatus = "captured"
	holdVoided   holdStatus = "voided"
)

type hold struct {
	VaultID   string      `json:"vault_id"`
	Amount    money.Money `json:"amount"`
	Status    holdStatus  `json:"status"`
	ExpiresAt time.Time   `json:"expires_at"`
}

type payment struct {
	Amount   money.Money `json:"amount"`
	Refunded int64       `json:"refunded"` // minor units of Amount's currency
}

// checkoutRec is one tokenised-form checkout. The card never reaches it: only
// the customer vault id NMI returns and the masked details NMI reports.
type checkoutRec struct {
	CustomerRef string       `json:"customer_ref"`
	ReturnURL   string       `json:"return_url"`
	CancelURL   string       `json:"cancel_url,omitempty"`
	Description string       `json:"description,omitempty"`
	Purchase    *money.Money `json:"purchase,omitempty"`
	ExpiresAt   time.Time    `json:"expires_at"`
	VaultID     string       `json:"vault_id,omitempty"` // set once NMI stored the card
	Brand       string       `json:"brand,omitempty"`
	Last4       string       `json:"last4,omitempty"`
	ExpMonth    int          `json:"exp_month,omitempty"`
	ExpYear     int          `json:"exp_year,omitempty"`
	ChargeRef   string       `json:"charge_ref,omitempty"`
	Decline     *errs.Error  `json:"decline,omitempty"` // the purchase was declined
	Done        bool         `json:"done"`              // card stored and purchase (if any) decided
}

func newState() *state {
	return &state{
		Idempotency: processorkit.Ops{}, Holds: map[string]*hold{}, Payments: map[string]*payment{},
		Checkouts: map[string]*checkoutRec{}, Refunds: map[string]string{},
	}
}
