package tipping

import (
	"context"
	"errors"
	"time"

	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SQLStore keeps goals and menus in tip_goals and tip_menu_items
// (PostgreSQL or SQLite, migration 00012).
type SQLStore struct {
	db *gorm.DB
}

// NewSQLStore keeps goals and menus in db, which must be migrated.
func NewSQLStore(db *store.DB) *SQLStore { return &SQLStore{db: db.Gorm()} }

type goalRow struct {
	ModelID  string `gorm:"primaryKey"`
	Title    string
	Amount   int64
	Currency string
	OnReach  string
	SetAt    time.Time
	Reached  int
}

func (goalRow) TableName() string { return "tip_goals" }

type itemRow struct {
	ModelID  string `gorm:"primaryKey"`
	ID       string `gorm:"primaryKey"`
	Position int
	Name     string
	Amount   int64
	Currency string
}

func (itemRow) TableName() string { return "tip_menu_items" }

func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.DeadlineExceeded):
		return errs.Retry(errs.Timeout, "tipping: %s: %v", what, err)
	case errors.Is(err, context.Canceled):
		return errs.Retry(errs.Unavailable, "tipping: %s: %v", what, err)
	}
	return errs.E(errs.Internal, "tipping: %s: %v", what, err)
}

func (s *SQLStore) Goal(ctx context.Context, modelID string) (Goal, bool, error) {
	var rows []goalRow
	if err := s.db.WithContext(ctx).Where("model_id = ?", modelID).Limit(1).Find(&rows).Error; err != nil {
		return Goal{}, false, dbErr("read goal", err)
	}
	if len(rows) == 0 {
		return Goal{}, false, nil
	}
	r := rows[0]
	return Goal{ModelID: r.ModelID, Title: r.Title, Amount: money.Money{Amount: r.Amount, Currency: r.Currency},
		OnReach: OnReach(r.OnReach), SetAt: r.SetAt.UTC(), Reached: r.Reached}, true, nil
}

func (s *SQLStore) PutGoal(ctx context.Context, g Goal) error {
	r := goalRow{ModelID: g.ModelID, Title: g.Title, Amount: g.Amount.Amount, Currency: g.Amount.Currency,
		OnReach: string(g.OnReach), SetAt: g.SetAt.UTC(), Reached: g.Reached}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "model_id"}}, UpdateAll: true}).Create(&r).Error
	return dbErr("write goal", err)
}

func (s *SQLStore) DeleteGoal(ctx context.Context, modelID string) error {
	return dbErr("delete goal", s.db.WithContext(ctx).Where("model_id = ?", modelID).Delete(&goalRow{}).Error)
}

func (s *SQLStore) MarkReached(ctx context.Context, modelID string, setAt time.Time, times int) (bool, error) {
	res := s.db.WithContext(ctx).Model(&goalRow{}).
		Where("model_id = ? AND set_at = ? AND reached < ?", modelID, setAt.UTC(), times).Update("reached", times)
	if res.Error != nil {
		return false, dbErr("mark goal reached", res.Error)
	}
	return res.RowsAffected == 1, nil
}

func (s *SQLStore) Menu(ctx context.Context, modelID string) ([]Item, error) {
	var rows []itemRow
	if err := s.db.WithContext(ctx).Where("model_id = ?", modelID).Order("position").Find(&rows).Error; err != nil {
		return nil, dbErr("read menu", err)
	}
	out := make([]Item, 0, len(rows))
	for _, r := range rows {
		out = append(out, Item{ID: r.ID, Name: r.Name, Price: money.Money{Amount: r.Amount, Currency: r.Currency}})
	}
	return out, nil
}

// PutMenu replaces the menu in one transaction: a reader sees the old menu
// or the new one, never half of each.
func (s *SQLStore) PutMenu(ctx context.Context, modelID string, items []Item) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("model_id = ?", modelID).Delete(&itemRow{}).Error; err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		rows := make([]itemRow, len(items))
		for i, it := range items {
			rows[i] = itemRow{ModelID: modelID, ID: it.ID, Position: i, Name: it.Name, Amount: it.Price.Amount, Currency: it.Price.Currency}
		}
		return tx.Create(&rows).Error
	})
	return dbErr("write menu", err)
}
