package tickets

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SQLStore keeps ticket shows in tickets_shows and tickets (PostgreSQL or
// SQLite, migration 00015).
type SQLStore struct {
	db      *gorm.DB
	dialect store.Dialect
}

// NewSQLStore keeps ticket shows in db.
func NewSQLStore(db *store.DB) *SQLStore { return &SQLStore{db: db.Gorm(), dialect: db.Dialect()} }

type showRow struct {
	ID              string `gorm:"primaryKey"`
	ModelID         string
	Title           string
	PriceAmount     int64
	PriceCurrency   string
	StartsAt        time.Time
	DurationSeconds int64
	DoorsCloseAt    time.Time
	Capacity        int
	State           string
	CreatedAt       time.Time
	StartedAt       *time.Time
	EndedAt         *time.Time
}

func (showRow) TableName() string { return "tickets_shows" }

type ticketRow struct {
	ID             string `gorm:"primaryKey"`
	ShowID         string
	ViewerID       string
	ModelID        string
	PriceAmount    int64
	PriceCurrency  string
	State          string
	PostedAmount   int64
	RefundedAmount int64
	BoughtAt       time.Time
	SettledAt      *time.Time
}

func (ticketRow) TableName() string { return "tickets" }

func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func tsp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := ts(t)
	return &u
}

func untsp(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func showToRow(sh Show) showRow {
	return showRow{ID: sh.ID, ModelID: sh.ModelID, Title: sh.Title, PriceAmount: sh.Price.Amount, PriceCurrency: sh.Price.Currency,
		StartsAt: ts(sh.StartsAt), DurationSeconds: int64(sh.Duration / time.Second), DoorsCloseAt: ts(sh.DoorsCloseAt),
		Capacity: sh.Capacity, State: string(sh.State), CreatedAt: ts(sh.CreatedAt), StartedAt: tsp(sh.StartedAt), EndedAt: tsp(sh.EndedAt)}
}

func (r showRow) show() Show {
	return Show{ID: r.ID, ModelID: r.ModelID, Title: r.Title, Price: money.Money{Amount: r.PriceAmount, Currency: r.PriceCurrency},
		StartsAt: r.StartsAt.UTC(), Duration: time.Duration(r.DurationSeconds) * time.Second, DoorsCloseAt: r.DoorsCloseAt.UTC(),
		Capacity: r.Capacity, State: State(r.State), CreatedAt: r.CreatedAt.UTC(), StartedAt: untsp(r.StartedAt), EndedAt: untsp(r.EndedAt)}
}

func ticketToRow(t Ticket) ticketRow {
	return ticketRow{ID: t.ID, ShowID: t.ShowID, ViewerID: t.ViewerID, ModelID: t.ModelID, PriceAmount: t.Price.Amount,
		PriceCurrency: t.Price.Currency, State: string(t.State), PostedAmount: t.Posted.Amount, RefundedAmount: t.Refunded.Amount,
		BoughtAt: ts(t.BoughtAt), SettledAt: tsp(t.SettledAt)}
}

func (r ticketRow) ticket() Ticket {
	cur := r.PriceCurrency
	return Ticket{ID: r.ID, ShowID: r.ShowID, ViewerID: r.ViewerID, ModelID: r.ModelID, Price: money.Money{Amount: r.PriceAmount, Currency: cur},
		State: TicketState(r.State), Posted: money.Money{Amount: r.PostedAmount, Currency: cur}, Refunded: money.Money{Amount: r.RefundedAmount, Currency: cur},
		BoughtAt: r.BoughtAt.UTC(), SettledAt: untsp(r.SettledAt)}
}

func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	return errs.Retry(errs.Unavailable, "tickets: %s: %v", what, err)
}

func (s *SQLStore) CreateShow(ctx context.Context, sh Show) error {
	r := showToRow(sh)
	return dbErr("create show", s.db.WithContext(ctx).Create(&r).Error)
}

func (s *SQLStore) Show(ctx context.Context, id string) (Show, error) {
	return s.showIn(s.db.WithContext(ctx), id, false)
}

func (s *SQLStore) showIn(tx *gorm.DB, id string, lock bool) (Show, error) {
	var r showRow
	if lock && s.dialect == store.Postgres {
		tx = tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	err := tx.Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Show{}, errs.E(errs.NotFound, "no such ticket show")
	}
	if err != nil {
		return Show{}, dbErr("read show", err)
	}
	return r.show(), nil
}

func (s *SQLStore) ShowsOfModel(ctx context.Context, modelID string, states ...State) ([]Show, error) {
	var rows []showRow
	q := s.db.WithContext(ctx).Where("model_id = ?", modelID)
	if len(states) > 0 {
		q = q.Where("state IN ?", states)
	}
	if err := q.Order("starts_at, id").Find(&rows).Error; err != nil {
		return nil, dbErr("list shows", err)
	}
	out := make([]Show, len(rows))
	for i, r := range rows {
		out[i] = r.show()
	}
	return out, nil
}

func (s *SQLStore) ScheduledBefore(ctx context.Context, before time.Time) ([]Show, error) {
	var rows []showRow
	if err := s.db.WithContext(ctx).Where("state = ? AND starts_at < ?", string(Scheduled), ts(before)).Order("starts_at, id").Find(&rows).Error; err != nil {
		return nil, dbErr("list scheduled shows", err)
	}
	out := make([]Show, len(rows))
	for i, r := range rows {
		out[i] = r.show()
	}
	return out, nil
}

func (s *SQLStore) Transition(ctx context.Context, id string, from []State, to State, at time.Time) (Show, bool, error) {
	var (
		out Show
		ok  bool
	)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		sh, err := s.showIn(tx, id, true)
		if err != nil {
			return err
		}
		out = sh
		if !slices.Contains(from, sh.State) {
			return nil
		}
		sh.State = to
		stamp(&sh, to, ts(at))
		r := showToRow(sh)
		if err := tx.Model(&showRow{}).Where("id = ?", id).
			Updates(map[string]any{"state": r.State, "started_at": r.StartedAt, "ended_at": r.EndedAt}).Error; err != nil {
			return err
		}
		out, ok = sh, true
		return nil
	})
	return out, ok, dbErr("change show state", err)
}

func (s *SQLStore) ReserveTicket(ctx context.Context, t Ticket, capacity int) (Ticket, bool, error) {
	var (
		out   Ticket
		fresh bool
	)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The show's row is locked first, so two buyers of the last seat
		// are counted one after the other (SQLite has one writer anyway).
		sh, err := s.showIn(tx, t.ShowID, true)
		if err != nil {
			return err
		}
		var prev ticketRow
		err = tx.Where("show_id = ? AND viewer_id = ?", t.ShowID, t.ViewerID).Take(&prev).Error
		if err == nil {
			out = prev.ticket()
			return nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		if err := onSale(sh, t.BoughtAt); err != nil {
			return err
		}
		if capacity > 0 {
			var n int64
			if err := tx.Model(&ticketRow{}).Where("show_id = ?", t.ShowID).Count(&n).Error; err != nil {
				return err
			}
			if n >= int64(capacity) {
				return soldOut(capacity)
			}
		}
		r := ticketToRow(t)
		if err := tx.Create(&r).Error; err != nil {
			return err
		}
		out, fresh = r.ticket(), true
		return nil
	})
	if err != nil {
		return Ticket{}, false, dbErr("reserve ticket", err)
	}
	return out, fresh, nil
}

func (s *SQLStore) PutTicket(ctx context.Context, t Ticket) error {
	r := ticketToRow(t)
	res := s.db.WithContext(ctx).Model(&ticketRow{}).Where("id = ?", t.ID).Updates(map[string]any{
		"state": r.State, "posted_amount": r.PostedAmount, "refunded_amount": r.RefundedAmount, "settled_at": r.SettledAt})
	if res.Error != nil {
		return dbErr("update ticket", res.Error)
	}
	if res.RowsAffected == 0 {
		return errs.E(errs.NotFound, "no such ticket")
	}
	return nil
}

func (s *SQLStore) DeleteTicket(ctx context.Context, id string) error {
	return dbErr("delete ticket", s.db.WithContext(ctx).Where("id = ?", id).Delete(&ticketRow{}).Error)
}

func (s *SQLStore) Ticket(ctx context.Context, id string) (Ticket, error) {
	var r ticketRow
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Ticket{}, errs.E(errs.NotFound, "no such ticket")
	}
	if err != nil {
		return Ticket{}, dbErr("read ticket", err)
	}
	return r.ticket(), nil
}

func (s *SQLStore) Tickets(ctx context.Context, showID string) ([]Ticket, error) {
	return s.list(ctx, "show_id = ?", showID, "bought_at, id")
}

func (s *SQLStore) TicketsOfViewer(ctx context.Context, viewerID string) ([]Ticket, error) {
	return s.list(ctx, "viewer_id = ?", viewerID, "bought_at DESC, id DESC")
}

func (s *SQLStore) list(ctx context.Context, where, arg, order string) ([]Ticket, error) {
	var rows []ticketRow
	if err := s.db.WithContext(ctx).Where(where, arg).Order(order).Find(&rows).Error; err != nil {
		return nil, dbErr("list tickets", err)
	}
	out := make([]Ticket, len(rows))
	for i, r := range rows {
		out[i] = r.ticket()
	}
	return out, nil
}
