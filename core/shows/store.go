package shows

import (
	"context"
	"time"

	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/theme"
)

// Broadcast is a model's show on air as the live store keeps it.
type Broadcast struct {
	ID, ModelID string
	// KeyDigest is the digest (StreamKeyDigest) of the broadcast's WHIP
	// bearer, its model's stream key: the key itself is never stored.
	KeyDigest string
	Since     time.Time
	Mode      theme.ShowMode
	// Media: the publisher's media was flowing at the last change.
	Media bool
	// PaidShowID and SeatID are the paid show and its seat while private.
	PaidShowID, SeatID string
}

// StoredKey is all a store keeps of a stream key: it cannot publish.
type StoredKey struct {
	// Digest is StreamKeyDigest of the key, what a publish is looked up by.
	Digest string
	// Hint is the key's first characters and "…" (StreamKeyHint), so her
	// dashboard can say which key OBS should hold.
	Hint string
}

// LiveSeat is the seat of a private show as the live store keeps it: enough
// to admit its viewer, show it and end it after a restart.
type LiveSeat struct {
	ID, ShowID, PaidShowID string
	ViewerID, ViewerName   string
	ModelID                string
	// TokenHash is SHA-256 (hex) of the viewer's WHEP bearer.
	TokenHash     string
	Policy        pricing.Policy
	Funding       string
	OpenedAt      time.Time
	FundedSeconds int64
}

// Store keeps the live state of shows (broadcasts, pending requests, the
// seats of private shows) so a restarted host finds it again. Puts are
// upserts by id; deleting what is not there is no error. MemStore is the
// local one for unit tests, SQLStore the PostgreSQL/SQLite one a host runs
// on (and a second host could read).
type Store interface {
	PutBroadcast(ctx context.Context, b Broadcast) error
	// DeleteBroadcast removes a broadcast and the requests to it.
	DeleteBroadcast(ctx context.Context, id string) error
	Broadcasts(ctx context.Context) ([]Broadcast, error)

	PutRequest(ctx context.Context, r Request) error
	DeleteRequest(ctx context.Context, id string) error
	// Requests are every pending request, oldest first.
	Requests(ctx context.Context) ([]Request, error)

	// StreamKey is what is kept of the model's persistent WHIP key (the
	// zero StoredKey when she has none); ModelOfStreamKey is the owner of a
	// key digest ("" for a key nobody holds, such as one rotated away).
	// PutStreamKey replaces her key; CreateStreamKey keeps the one already
	// there and returns whichever she holds afterwards, so two first uses
	// at once agree on one key.
	StreamKey(ctx context.Context, modelID string) (StoredKey, error)
	ModelOfStreamKey(ctx context.Context, digest string) (string, error)
	PutStreamKey(ctx context.Context, modelID string, k StoredKey, at time.Time) error
	CreateStreamKey(ctx context.Context, modelID string, k StoredKey, at time.Time) (StoredKey, error)

	PutSeat(ctx context.Context, s LiveSeat) error
	DeleteSeat(ctx context.Context, id string) error
	Seats(ctx context.Context) ([]LiveSeat, error)
}

var (
	_ Store = (*MemStore)(nil)
	_ Store = (*SQLStore)(nil)
)
