package main

import (
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

// state is everything the sandbox "processor" knows. It is written to the
// state file after every change, so holds, tokens and idempotency records
// survive a restart of the plugin process, as they would at a real processor.
type state struct {
	Cards         map[string]*card         `json:"cards"`         // by token
	Checkouts     map[string]*checkoutRec  `json:"checkouts"`     // by reference
	Holds         map[string]*hold         `json:"holds"`         // by authorisation reference
	Payments      map[string]*payment      `json:"payments"`      // captures and charges, by reference
	Subscriptions map[string]*subscription `json:"subscriptions"` // by reference
	Idempotency   processorkit.Ops         `json:"idempotency"`   // by idempotency key
}

// card is a tokenised card: what a receipt may show, and the outcome the test
// number asked for. Never the number or the CVC.
type card struct {
	Brand       string    `json:"brand"`
	Last4       string    `json:"last4"`
	ExpMonth    int       `json:"exp_month"`
	ExpYear     int       `json:"exp_year"`
	CustomerRef string    `json:"customer_ref"`
	Outcome     outcome   `json:"outcome"`
	CreatedAt   time.Time `json:"created_at"`
}

type checkoutRec struct {
	CustomerRef     string                    `json:"customer_ref"`
	ReturnURL       string                    `json:"return_url"`
	CancelURL       string                    `json:"cancel_url,omitempty"`
	Description     string                    `json:"description,omitempty"`
	Purchase        *money.Money              `json:"purchase,omitempty"`
	Recurring       *processor.RecurringTerms `json:"recurring,omitempty"`
	ExpiresAt       time.Time                 `json:"expires_at"`
	Token           string                    `json:"token,omitempty"` // set once a card was entered
	ChargeRef       string                    `json:"charge_ref,omitempty"`
	SubscriptionRef string                    `json:"subscription_ref,omitempty"`
	Decline         *errs.Error               `json:"decline,omitempty"` // the purchase was declined
}

type holdStatus string

const (
	holdOpen     holdStatus = "open"
	holdCaptured holdStatus = "captured"
	holdVoided   holdStatus = "voided"
)

type hold struct {
	Token     string      `json:"token"`
	Amount    money.Money `json:"amount"`
	Status    holdStatus  `json:"status"`
	ExpiresAt time.Time   `json:"expires_at"`
}

// payment is money taken: a capture, a charge or a hosted purchase. At and
// Refunds are the sandbox's transaction report (Transactions); payments of
// state files written before they existed have no date and are in no report.
type payment struct {
	Token    string          `json:"token"`
	Amount   money.Money     `json:"amount"`
	Refunded int64           `json:"refunded"` // minor units of Amount's currency
	At       time.Time       `json:"at,omitzero"`
	Refunds  []paymentRefund `json:"refunds,omitempty"`
}

// paymentRefund is one refund of a payment, under its own reference.
type paymentRefund struct {
	Reference string    `json:"reference"`
	Amount    int64     `json:"amount"` // minor units of the payment's currency
	At        time.Time `json:"at"`
}

type subscription struct {
	Token       string      `json:"token"`
	CustomerRef string      `json:"customer_ref"`
	Amount      money.Money `json:"amount"`
	PeriodDays  int         `json:"period_days"`
	Cancelled   bool        `json:"cancelled"`
}

func newState() *state {
	return &state{
		Cards: map[string]*card{}, Checkouts: map[string]*checkoutRec{}, Holds: map[string]*hold{},
		Payments: map[string]*payment{}, Subscriptions: map[string]*subscription{},
		Idempotency: processorkit.Ops{},
	}
}
