package shows

import (
	"context"
	"encoding/json"
	"time"

	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SQLStore keeps the live state in the shows_broadcasts, shows_requests and
// shows_seats tables (PostgreSQL or SQLite, migrations 00009), and the
// models' stream keys, as digests, in shows_stream_keys (00010, 00011). Each call is
// one statement (a broadcast's delete, two in a transaction), so a crash
// between calls leaves rows the next start reconciles (New does).
type SQLStore struct {
	db *gorm.DB
}

// NewSQLStore keeps live state in db.
func NewSQLStore(db *store.DB) *SQLStore { return &SQLStore{db: db.Gorm()} }

type broadcastRow struct {
	ID         string `gorm:"primaryKey"`
	ModelID    string
	KeyDigest  string
	Since      time.Time
	Mode       string
	Media      bool
	PaidShowID string
	SeatID     string
}

func (broadcastRow) TableName() string { return "shows_broadcasts" }

type requestRow struct {
	ID           string `gorm:"primaryKey"`
	ShowID       string
	ViewerID     string
	ViewerName   string
	ModelID      string
	At           time.Time
	RateAmount   int64
	RateCurrency string
	State        string
}

func (requestRow) TableName() string { return "shows_requests" }

type seatRow struct {
	ID            string `gorm:"primaryKey"`
	ShowID        string
	PaidShowID    string
	ViewerID      string
	ViewerName    string
	ModelID       string
	TokenHash     string
	Policy        string
	Funding       string
	OpenedAt      time.Time
	FundedSeconds int64
}

func (seatRow) TableName() string { return "shows_seats" }

type streamKeyRow struct {
	ModelID   string `gorm:"primaryKey"`
	KeyDigest string
	KeyHint   string
	CreatedAt time.Time
}

func (streamKeyRow) TableName() string { return "shows_stream_keys" }

func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return errs.Retry(errs.Unavailable, "shows: %s: %v", what, err)
}

func (s *SQLStore) upsert(ctx context.Context, what string, row any) error {
	return dbErr(what, s.db.WithContext(ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(row).Error)
}

func (s *SQLStore) PutBroadcast(ctx context.Context, b Broadcast) error {
	return s.upsert(ctx, "saving a broadcast", &broadcastRow{ID: b.ID, ModelID: b.ModelID, KeyDigest: b.KeyDigest, Since: ts(b.Since),
		Mode: string(b.Mode), Media: b.Media, PaidShowID: b.PaidShowID, SeatID: b.SeatID})
}

func (s *SQLStore) DeleteBroadcast(ctx context.Context, id string) error {
	return dbErr("deleting a broadcast", s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("show_id = ?", id).Delete(&requestRow{}).Error; err != nil {
			return err
		}
		return tx.Where("id = ?", id).Delete(&broadcastRow{}).Error
	}))
}

func (s *SQLStore) Broadcasts(ctx context.Context) ([]Broadcast, error) {
	var rows []broadcastRow
	if err := s.db.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, dbErr("reading broadcasts", err)
	}
	out := make([]Broadcast, 0, len(rows))
	for _, r := range rows {
		out = append(out, Broadcast{ID: r.ID, ModelID: r.ModelID, KeyDigest: r.KeyDigest, Since: r.Since.UTC(), Mode: theme.ShowMode(r.Mode),
			Media: r.Media, PaidShowID: r.PaidShowID, SeatID: r.SeatID})
	}
	return out, nil
}

func (s *SQLStore) PutRequest(ctx context.Context, r Request) error {
	st := r.State
	if st == "" {
		st = Waiting
	}
	return s.upsert(ctx, "saving a request", &requestRow{ID: r.ID, ShowID: r.ShowID, ViewerID: r.ViewerID, ViewerName: r.ViewerName,
		ModelID: r.ModelID, At: ts(r.At), RateAmount: r.Rate.Amount, RateCurrency: r.Rate.Currency, State: string(st)})
}

func (s *SQLStore) DeleteRequest(ctx context.Context, id string) error {
	return dbErr("deleting a request", s.db.WithContext(ctx).Where("id = ?", id).Delete(&requestRow{}).Error)
}

func (s *SQLStore) Requests(ctx context.Context) ([]Request, error) {
	var rows []requestRow
	if err := s.db.WithContext(ctx).Order("at, id").Find(&rows).Error; err != nil {
		return nil, dbErr("reading requests", err)
	}
	out := make([]Request, 0, len(rows))
	for _, r := range rows {
		out = append(out, Request{ID: r.ID, ShowID: r.ShowID, ViewerID: r.ViewerID, ViewerName: r.ViewerName, ModelID: r.ModelID,
			At: r.At.UTC(), Rate: money.Money{Amount: r.RateAmount, Currency: r.RateCurrency}, State: RequestState(r.State)})
	}
	return out, nil
}

func (s *SQLStore) PutSeat(ctx context.Context, st LiveSeat) error {
	pol, err := json.Marshal(st.Policy)
	if err != nil {
		return errs.E(errs.Internal, "shows: encoding a seat's policy: %v", err)
	}
	return s.upsert(ctx, "saving a seat", &seatRow{ID: st.ID, ShowID: st.ShowID, PaidShowID: st.PaidShowID, ViewerID: st.ViewerID,
		ViewerName: st.ViewerName, ModelID: st.ModelID, TokenHash: st.TokenHash, Policy: string(pol), Funding: st.Funding,
		OpenedAt: ts(st.OpenedAt), FundedSeconds: st.FundedSeconds})
}

func (s *SQLStore) DeleteSeat(ctx context.Context, id string) error {
	return dbErr("deleting a seat", s.db.WithContext(ctx).Where("id = ?", id).Delete(&seatRow{}).Error)
}

func (s *SQLStore) Seats(ctx context.Context) ([]LiveSeat, error) {
	var rows []seatRow
	if err := s.db.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, dbErr("reading seats", err)
	}
	out := make([]LiveSeat, 0, len(rows))
	for _, r := range rows {
		var pol pricing.Policy
		if err := json.Unmarshal([]byte(r.Policy), &pol); err != nil {
			return nil, errs.E(errs.Internal, "shows: seat %s: stored policy: %v", r.ID, err)
		}
		out = append(out, LiveSeat{ID: r.ID, ShowID: r.ShowID, PaidShowID: r.PaidShowID, ViewerID: r.ViewerID, ViewerName: r.ViewerName,
			ModelID: r.ModelID, TokenHash: r.TokenHash, Policy: pol, Funding: r.Funding, OpenedAt: r.OpenedAt.UTC(), FundedSeconds: r.FundedSeconds})
	}
	return out, nil
}

func (s *SQLStore) StreamKey(ctx context.Context, modelID string) (StoredKey, error) {
	var rows []streamKeyRow
	if err := s.db.WithContext(ctx).Where("model_id = ?", modelID).Limit(1).Find(&rows).Error; err != nil {
		return StoredKey{}, dbErr("reading a stream key", err)
	}
	if len(rows) == 0 {
		return StoredKey{}, nil
	}
	return StoredKey{Digest: rows[0].KeyDigest, Hint: rows[0].KeyHint}, nil
}

func (s *SQLStore) ModelOfStreamKey(ctx context.Context, digest string) (string, error) {
	var rows []streamKeyRow
	if err := s.db.WithContext(ctx).Where("key_digest = ?", digest).Limit(1).Find(&rows).Error; err != nil {
		return "", dbErr("resolving a stream key", err)
	}
	if len(rows) == 0 {
		return "", nil
	}
	return rows[0].ModelID, nil
}

func (s *SQLStore) PutStreamKey(ctx context.Context, modelID string, k StoredKey, at time.Time) error {
	return s.upsert(ctx, "saving a stream key", &streamKeyRow{ModelID: modelID, KeyDigest: k.Digest, KeyHint: k.Hint, CreatedAt: ts(at)})
}

func (s *SQLStore) CreateStreamKey(ctx context.Context, modelID string, k StoredKey, at time.Time) (StoredKey, error) {
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "model_id"}}, DoNothing: true}).
		Create(&streamKeyRow{ModelID: modelID, KeyDigest: k.Digest, KeyHint: k.Hint, CreatedAt: ts(at)}).Error
	if err != nil {
		return StoredKey{}, dbErr("creating a stream key", err)
	}
	return s.StreamKey(ctx, modelID)
}
