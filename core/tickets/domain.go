package tickets

import (
	"time"

	"github.com/camkit/camkit/sdk/money"
)

// State is where a ticket show stands.
type State string

const (
	// Scheduled: tickets are on sale; the model has not started it.
	Scheduled State = "scheduled"
	// Running: the model started it; only ticket holders watch. Late
	// buyers may still buy until the doors close.
	Running State = "running"
	// Ended: the model ended it; its tickets are posted (or refunded by
	// the policy).
	Ended State = "ended"
	// Cancelled: the model cancelled it; every ticket is refunded.
	Cancelled State = "cancelled"
)

// Over reports whether no ticket can be bought or used any more.
func (s State) Over() bool { return s == Ended || s == Cancelled }

// Show is one scheduled ticket show.
type Show struct {
	ID      string
	ModelID string
	Title   string
	// Price of one ticket, in the site currency.
	Price    money.Money
	StartsAt time.Time
	// Duration is what the model announced; a shorter show may be refunded
	// (Policy).
	Duration time.Duration
	// DoorsCloseAt is the last moment a ticket is sold (at StartsAt or later).
	DoorsCloseAt time.Time
	// Capacity caps the tickets sold; 0 is no cap.
	Capacity  int
	State     State
	CreatedAt time.Time
	StartedAt time.Time // zero until Running
	EndedAt   time.Time // zero until Ended or Cancelled
}

// TicketState is where one ticket's money stands.
type TicketState string

const (
	// Buying: the ticket's seat is reserved and its hold is being placed
	// (a crash here is finished by a retry of the purchase or by the
	// show's settlement).
	Buying TicketState = "buying"
	// Held: the price is held on the viewer's wallet.
	Held TicketState = "held"
	// Posted: the show happened; Posted was paid (and split), Refunded
	// released.
	Posted TicketState = "posted"
	// Refunded: the hold was released in full (cancelled, or the show ran
	// too short).
	Refunded TicketState = "refunded"
)

// Ticket is one viewer's ticket to one show; a viewer holds at most one per
// show.
type Ticket struct {
	ID       string
	ShowID   string
	ViewerID string
	ModelID  string
	Price    money.Money
	State    TicketState
	// Posted and Refunded split Price once the show is over (zero before).
	Posted    money.Money
	Refunded  money.Money
	BoughtAt  time.Time
	SettledAt time.Time
}

// SeatID is the seat the SFU knows a ticket holder's viewing by: one
// session per ticket (a second connection replaces the first).
func (t Ticket) SeatID() string { return "ticket-" + t.ID }
