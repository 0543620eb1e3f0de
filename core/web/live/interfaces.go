package live

import (
	"context"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/stream"
)

// PaidShows is core/shows: paid shows, their seats and their liveness.
type PaidShows interface {
	OpenShow(ctx context.Context, req shows.OpenShowRequest) (shows.Show, error)
	OpenSeat(ctx context.Context, showID string, req shows.SeatRequest) (billing.SeatInfo, error)
	EndSeat(ctx context.Context, seatID string, reason billing.CloseReason) (billing.SeatEnd, error)
	EndShow(ctx context.Context, showID, reason string) error
	Handle(ev shows.Event) error
}

// Receipts is billing's receipt store and its view of running seats.
type Receipts interface {
	Receipt(ctx context.Context, seatID string) (billing.Receipt, error)
	LiveSeat(seatID string) (billing.LiveSeat, bool)
}

// Media is the part of the SFU that follows a show's mode and seats.
type Media interface {
	SetMode(showID string, mode stream.Mode)
	EndSeat(seatID string)
	EndShow(showID string)
}

// Ledger reads earnings.
type Ledger interface {
	Balance(ctx context.Context, code, currency string) (ledger.Balance, error)
	Statement(ctx context.Context, code, currency, cursor string, limit int) (ledger.StatementPage, error)
}

var _ Ledger = (*ledger.Ledger)(nil)
