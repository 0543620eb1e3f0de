package shows

import (
	"context"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/stream"
)

// Billing is what the show service needs of core/billing's Engine: seats
// open, liveness in, seats end.
type Billing interface {
	OpenSeat(ctx context.Context, req billing.OpenRequest) (billing.SeatInfo, error)
	Liveness(seatID string, ev meter.Event) error
	EndSeat(ctx context.Context, seatID string, reason billing.CloseReason) (billing.SeatEnd, error)
}

// RateSource says what a new seat of a model would cost right now: the
// model's current rate and the operator's policy (granularity, minimum,
// grace, block, lead, maximum pause). The show service snapshots it when a
// seat opens; later answers never reach that seat.
type RateSource interface {
	CurrentPolicy(ctx context.Context, modelID string, mode Mode) (pricing.Policy, error)
}

var (
	_ Billing = (*billing.Engine)(nil)
	_ Event   = ModelMediaFlowing{}
)

// Event is one liveness event from the media plane. The four types mirror
// what core/stream emits (stream.ModelMediaFlowing and its siblings); the
// host's wiring converts one into the other, so shows does not depend on the
// SFU and the SFU knows nothing of seats' money.
type Event interface{ isEvent() }

// ModelMediaFlowing: the model's RTP started arriving at Since.
type ModelMediaFlowing struct {
	ShowID string
	Since  time.Time
}

// ModelMediaStopped: no RTP since LastPacketAt (already backdated).
type ModelMediaStopped struct {
	ShowID       string
	LastPacketAt time.Time
}

// ViewerConnected: the seat's viewer connected at At.
type ViewerConnected struct {
	ShowID, SeatID string
	At             time.Time
}

// ViewerDisconnected: the last evidence of the seat's viewer was at LastEvidenceAt.
type ViewerDisconnected struct {
	ShowID, SeatID string
	LastEvidenceAt time.Time
}

func (ModelMediaFlowing) isEvent()  {}
func (ModelMediaStopped) isEvent()  {}
func (ViewerConnected) isEvent()    {}
func (ViewerDisconnected) isEvent() {}

// Engine is billing as the show lifecycle uses it: Billing, its view of
// running seats (what a seat's page shows), and the receipts of the seats
// it settled.
type Engine interface {
	Billing
	Receipt(ctx context.Context, seatID string) (billing.Receipt, error)
	LiveSeat(seatID string) (billing.LiveSeat, bool)
}

// Chat is where the Service tells people what happened (system events in a
// show's room or a seat's) and learns how many watch.
type Chat interface {
	Broadcast(room string, ev chat.SystemEvent) error
	Viewers(room string) int
}

// Media is the part of the SFU that follows a show's mode and seats and
// knows whether its publisher's media really flows.
type Media interface {
	SetMode(showID string, mode stream.Mode)
	EndSeat(seatID string)
	EndShow(showID string)
	EndPublisher(showID string)
	PublisherActive(showID string) bool
}

// TicketAdmission gates a broadcast while its model runs a ticket show
// (core/tickets). AdmitViewer asks it first: running is false when she runs
// none (or token is not a ticket's) and the usual rules apply; otherwise
// seatID is the ticket's seat, or err says why the viewer may not watch.
// TicketShowRunning is asked before she accepts a private request: a
// ticket seat would survive the private mode, so she ends the ticket
// show first.
type TicketAdmission interface {
	AdmitTicket(ctx context.Context, modelID, token string) (seatID string, running bool, err error)
	TicketShowRunning(ctx context.Context, modelID string) (bool, error)
}

// Ledger reads earnings.
type Ledger interface {
	Balance(ctx context.Context, code, currency string) (ledger.Balance, error)
	Statement(ctx context.Context, code, currency, cursor string, limit int) (ledger.StatementPage, error)
}

var (
	_ Engine              = (*billing.Engine)(nil)
	_ Chat                = (*chat.Service)(nil)
	_ Media               = stream.Service(nil)
	_ Ledger              = (*ledger.Ledger)(nil)
	_ stream.Admission    = (*Service)(nil)
	_ stream.LivenessSink = (*Service)(nil)
	_ chat.Shows          = (*Tips)(nil)
	_ billing.EventSink   = (*Service)(nil)
	_ RateSource          = (*Service)(nil)
)
