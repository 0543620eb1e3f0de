package web

import (
	"context"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// LiveVersioner is optionally implemented by a Shows: LiveVersion changes
// whenever a show goes on or off air or changes mode, so the shared home
// page (Pages.RenderShared) is never older than who is on air.
type LiveVersioner interface {
	LiveVersion() uint64
}

// Shows is the show and seat lifecycle as the pages and the API use it: the
// model's broadcast, private requests, seats and their receipts. Every
// method that acts for a person takes the actor's user id, and the
// implementation decides whether that person may: web never decides who may
// read or end a seat (a stranger's seat is errs.NotFound, so its existence is
// not revealed; a role that may not act is errs.Forbidden).
type Shows interface {
	// Live lists the shows on air (public, private or group), newest first.
	Live(ctx context.Context) ([]shows.Show, error)
	// Show returns one show on air; errs.NotFound when it is not.
	Show(ctx context.Context, showID string) (shows.Show, error)
	// ShowOfModel returns the model's show on air; ok is false when offline.
	ShowOfModel(ctx context.Context, modelID string) (show shows.Show, ok bool, err error)

	// GoLive opens (or returns the already open) public show of a model; an
	// unapproved model is errs.Forbidden.
	GoLive(ctx context.Context, modelID string) (shows.Show, error)
	// StreamKey is what her own dashboard shows of the model's persistent
	// WHIP publish key (made on first use): its hint always, the key itself
	// only on the first view after it was made or rotated (only its digest
	// is stored).
	StreamKey(ctx context.Context, modelID string) (shows.StreamKeyView, error)
	// RotateStreamKey replaces her key; the old one is refused from then on
	// and the publisher on air is cut off.
	RotateStreamKey(ctx context.Context, modelID string) (string, error)
	// CameraPass is the WHIP bearer her dashboard gives its own camera.
	CameraPass(ctx context.Context, modelID string) (string, error)
	// EndShow takes the model off air, ending every seat of her show.
	EndShow(ctx context.Context, modelID string) error

	// Quote is the price policy a private seat with this model would lock
	// now (the viewer's own funding decides Funding).
	Quote(ctx context.Context, modelID, viewerID string) (shows.Quote, error)
	// RequestPrivate asks the model of showID for a private show at the
	// quoted price. A second request while one is pending returns it. While
	// the model is private with someone else the request is kept (held)
	// until she is back.
	RequestPrivate(ctx context.Context, viewerID, showID string) (shows.Request, error)
	// Requests lists the model's pending requests, oldest first.
	Requests(ctx context.Context, modelID string) ([]shows.Request, error)
	// PendingRequest is the viewer's pending request to showID, if any.
	PendingRequest(ctx context.Context, viewerID, showID string) (shows.Request, bool, error)
	// Accept opens the seat of a request: the price is locked now and the
	// first block funded. A decline of the funding is the processor's error.
	// opt says whether the other waiting requests are kept (held until the
	// model is back in public) or declined; their viewers are told either way.
	Accept(ctx context.Context, modelID, requestID string, opt shows.AcceptOptions) (shows.Seat, error)
	// Decline refuses a request.
	Decline(ctx context.Context, modelID, requestID string) error

	// Seat is a seat as its viewer, its model or an admin may see it.
	Seat(ctx context.Context, actorID, seatID string) (shows.Seat, error)
	// OpenSeatOf is the viewer's open seat, if any (a page that was waiting
	// for the model to accept moves to it).
	OpenSeatOf(ctx context.Context, viewerID string) (seat shows.Seat, ok bool, err error)
	// EndSeat ends a seat for its viewer or its model: the receipt, or while
	// settlement waits for a processor the seat's close decision (see
	// billing.SeatEnd). Repeats answer the same.
	EndSeat(ctx context.Context, actorID, seatID string) (billing.SeatEnd, error)
	// OpenSeats lists every seat in progress, for the admin page.
	OpenSeats(ctx context.Context, actorID string) ([]shows.Seat, error)

	// StartGroup opens a group show from the model's public show at a
	// rate (zero: her profile's) with an optional minimum of paying
	// viewers, or re-prices her open one for later joiners.
	StartGroup(ctx context.Context, modelID string, opt shows.GroupOptions) (shows.GroupShow, error)
	// EndGroup ends her group show for all: every seat ends and settles.
	EndGroup(ctx context.Context, modelID string) error
	// GroupOf is the group show of showID, if one is open.
	GroupOf(ctx context.Context, showID string) (shows.GroupShow, bool)
	// GroupQuote is what joining it would lock now and whether the viewer
	// can pay; ok is false without a group show.
	GroupQuote(ctx context.Context, showID, viewerID string) (q shows.Quote, g shows.GroupShow, ok bool, err error)
	// JoinGroup gives the viewer a seat (or, before the minimum, a place
	// among those waiting, unbilled); again answers the same.
	JoinGroup(ctx context.Context, viewerID, showID string) (shows.GroupJoin, error)
	// WaitingForGroup: the viewer joined and waits for the start.
	WaitingForGroup(ctx context.Context, viewerID, showID string) (bool, error)
	// LeaveGroup takes a waiting viewer out (a seat holder ends the seat).
	LeaveGroup(ctx context.Context, viewerID, showID string) error
	// GroupSeats lists the open seats of the model's group show.
	GroupSeats(ctx context.Context, modelID string) ([]shows.Seat, error)
	// GroupMember is nil when actorID may be in a group room (its seat
	// holders, its model, admins); errs.NotFound otherwise.
	GroupMember(ctx context.Context, actorID, room string) error

	// Receipts lists the actor's receipts (a viewer's seats, newest first).
	Receipts(ctx context.Context, actorID string, limit int) ([]billing.Receipt, error)
	// Receipt is one receipt for its viewer, its model or an admin.
	Receipt(ctx context.Context, actorID, seatID string) (billing.Receipt, error)
	// Earnings sums a model's (or studio's) earnings from the ledger.
	Earnings(ctx context.Context, modelID string) (theme.Earnings, error)

	Cam2camShows
	SpyShows
}

// Audience counts a show's viewers and says whether its model's media is
// really there (core/audience).
type Audience interface {
	// Viewers is what pages show: WHEP viewers and chat (see core/audience).
	Viewers(showID string) int
	// OnAir is false once a show on air since since has had no media from
	// its model for the presence window: it leaves the grid.
	OnAir(showID string, since time.Time) bool
}

// Thumbnails answers a show's picture (core/thumbnail): its latest frame
// when public is true and the SFU agrees, else a placeholder image.
type Thumbnails interface {
	Serve(c *fiber.Ctx, showID string, public bool) error
}

// LedgerVerifier runs `ledger verify` for the admin page.
type LedgerVerifier interface {
	Verify(ctx context.Context) (ledger.Report, error)
}

// PluginStatuses reports the plugins and their health for the admin page.
type PluginStatuses func() []theme.PluginStatus
