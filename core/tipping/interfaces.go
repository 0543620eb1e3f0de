package tipping

import (
	"context"
	"time"

	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/sdk/split"
	"github.com/camkit/camkit/sdk/theme"
)

// Store keeps goals and menus (SQLStore on PostgreSQL/SQLite, MemStore for
// unit tests).
type Store interface {
	// Goal is a model's goal; false when she has none.
	Goal(ctx context.Context, modelID string) (Goal, bool, error)
	// PutGoal replaces her goal (Reached as given).
	PutGoal(ctx context.Context, g Goal) error
	// DeleteGoal removes her goal; no goal is not an error.
	DeleteGoal(ctx context.Context, modelID string) error
	// MarkReached raises the goal set at setAt to reached times, if it is
	// still that goal and was reached fewer times; false when another call
	// got there first (so one announcement per time).
	MarkReached(ctx context.Context, modelID string, setAt time.Time, times int) (bool, error)
	// Menu is her menu in her order.
	Menu(ctx context.Context, modelID string) ([]Item, error)
	// PutMenu replaces her menu.
	PutMenu(ctx context.Context, modelID string, items []Item) error
}

// Chat is what tipping needs of core/chat: the one tip path, the room's
// stream and the tips' history.
type Chat interface {
	Tip(ctx context.Context, showID string, m chat.Member, r chat.TipRequest) (theme.ChatMessage, error)
	TipByID(ctx context.Context, viewerID, tipID string) (theme.ChatMessage, bool, error)
	ReceivedSince(ctx context.Context, modelID, currency string, since time.Time) (int64, error)
	Broadcast(showID string, ev chat.SystemEvent) error
	Notify(showID, kind string, data any)
}

// Rooms names the model of a room, as chat's tips find it.
type Rooms interface {
	TipParties(ctx context.Context, room, viewerID string) (split.Parties, error)
}

// Homes finds a model's show on air (shows.Service): a tip in a seat's
// room moves the goal bar of her public room too.
type Homes interface {
	ShowOfModel(ctx context.Context, modelID string) (shows.Show, bool, error)
}

var (
	_ Store            = (*MemStore)(nil)
	_ Store            = (*SQLStore)(nil)
	_ Chat             = (*chat.Service)(nil)
	_ Rooms            = (*shows.Tips)(nil)
	_ chat.TipObserver = (*Service)(nil)
)
