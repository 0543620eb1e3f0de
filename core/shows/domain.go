package shows

import (
	"time"

	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
)

// Show is a broadcast on air: a model's public show, or the private show it
// turned into while a seat runs.
type Show struct {
	ID      string
	ModelID string
	Mode    theme.ShowMode
	Title   string
	Since   time.Time
	// Viewers counts people watching (public) or seats (private, group).
	Viewers int
	// Publishing: a publisher's media is flowing (OBS or a browser). Her
	// dashboard then starts no camera of its own unless she switches to it.
	Publishing bool
}

// Quote is what a private seat would lock now.
type Quote struct {
	Policy pricing.Policy
	// Funding is how this viewer would pay: card_hold, prepaid_blocks or wallet.
	Funding string
	// Allowed is false (with Reason) when this viewer cannot go private now:
	// no card and not enough credits, the model has no rate, she is busy.
	Allowed bool
	Reason  string
}

// RequestState is where a pending request stands.
type RequestState string

const (
	// Waiting: the model may accept or decline it.
	Waiting RequestState = "waiting"
	// Held: the model went private with someone else and chose to keep
	// this request; it waits again when she is back in public.
	Held RequestState = "held"
)

// Request is a viewer's pending ask for a private show.
type Request struct {
	ID         string
	ShowID     string
	ViewerID   string
	ViewerName string
	ModelID    string
	At         time.Time
	Rate       money.Money
	State      RequestState
	// SeatID is set once the model accepted.
	SeatID string
	// Cam2cam: the viewer asks to share her camera with the model, at
	// Cam2camSurcharge a minute on top of Rate (see RequestPrivateWith).
	Cam2cam          bool
	Cam2camSurcharge money.Money
}

// Seat is one viewer's paid place in a show, as it runs.
type Seat struct {
	ID         string
	ShowID     string
	ViewerID   string
	ViewerName string
	ModelID    string
	Mode       theme.ShowMode
	// Room is the seat's chat room: its own (PrivateRoom) in a private
	// show, the group's (GroupRoom) in a group show.
	Room     string
	Policy   pricing.Policy
	Funding  string
	OpenedAt time.Time
	// Token admits the seat's viewer to the video (WHEP bearer); only the
	// seat's own viewer is given it.
	Token string
	// Open is false once the seat ended.
	Open bool
	// BillableSeconds so far and what they cost under the locked policy.
	BillableSeconds int64
	RunningCost     money.Money
	FundedSeconds   int64
	// Billing says whether the meter is running right now (video flows both ways).
	Billing bool
	// PauseReason says why an open seat is not billing (billing.PauseReason:
	// "model_media" or "viewer_connection"; "" while billing), EndsAt when
	// the seat ends by itself unless that changes (zero: nothing is due).
	PauseReason string
	EndsAt      time.Time
	Warnings    []theme.FundingWarning
	// Spy: a receive-only seat in someone else's private show (no chat, no
	// tips, no room).
	Spy bool
	// Spies is how many spy seats watch a private seat's show; SpiesShown
	// says whether the one asking may know it (its model always; its viewer
	// when the operator shows it, config shows.show_spy_count).
	Spies      int
	SpiesShown bool
}

// GroupShow is a model's group show as pages and the API show it.
type GroupShow struct {
	// ShowID is the broadcast it runs in.
	ShowID, ModelID string
	// Policy is what a seat opened now locks (at the group rate); a seat
	// already open keeps its own.
	Policy pricing.Policy
	// Minimum paying viewers before it starts (0: it started at once).
	Minimum int
	// Started: the broadcast is in group mode and seats bill. Before, the
	// show stays public and Waiting viewers have joined without a seat.
	Started bool
	Waiting int
	// Seats open now.
	Seats int
	// Room is the group's chat room once it started ("" before).
	Room string
}

// GroupJoin is what joining a group show gave a viewer: an open seat, or a
// place among those waiting for the minimum (nothing is billed meanwhile).
type GroupJoin struct {
	Seat    Seat
	Waiting bool
	Group   GroupShow
}
