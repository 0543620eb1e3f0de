package shows

import (
	"context"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
)

// Receipts lists the receipts of the seats actorID watched or performed,
// newest first. Billing stores receipts by seat; the list is read from its
// tables, the receipts themselves from billing.
func (s *Service) Receipts(ctx context.Context, actorID string, limit int) ([]billing.Receipt, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	var ids []string
	err := s.cfg.DB.Gorm().WithContext(ctx).Raw(`SELECT r.seat_id FROM billing_receipts r JOIN billing_seats s ON s.id = r.seat_id
		WHERE s.viewer_id = ? OR s.model_id = ? ORDER BY r.created_at DESC, r.seat_id LIMIT ?`, actorID, actorID, limit).Scan(&ids).Error
	if err != nil {
		return nil, errs.Retry(errs.Unavailable, "receipts: %v", err)
	}
	out := make([]billing.Receipt, 0, len(ids))
	for _, id := range ids {
		r, err := s.cfg.Billing.Receipt(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, s.receiptFor(actorID, r, false))
	}
	return out, nil
}

// Receipt is one receipt for its viewer, its model or an admin; anyone else
// is told there is none. The viewer reads it without the platform's
// allocation (see billing.Receipt.ForViewer).
func (s *Service) Receipt(ctx context.Context, actorID, seatID string) (billing.Receipt, error) {
	viewer, model, err := s.seatParties(ctx, seatID)
	admin := err == nil && actorID != viewer && actorID != model && s.isAdmin(ctx, actorID)
	if err != nil || (actorID != viewer && actorID != model && !admin) {
		return billing.Receipt{}, errs.E(errs.NotFound, "no such receipt")
	}
	r, err := s.cfg.Billing.Receipt(ctx, seatID)
	if err != nil {
		return billing.Receipt{}, err
	}
	return s.receiptFor(actorID, r, admin), nil
}

// receiptFor is r as actorID may read it: whole for its model and admins,
// the viewer's view for its viewer.
func (*Service) receiptFor(actorID string, r billing.Receipt, admin bool) billing.Receipt {
	if admin || actorID == r.ModelID {
		return r
	}
	return r.ForViewer()
}

// seatParties names a seat's viewer and model from billing's table; an
// unknown seat is errs.NotFound.
func (s *Service) seatParties(ctx context.Context, seatID string) (viewer, model string, err error) {
	err = s.cfg.DB.Gorm().WithContext(ctx).Raw(`SELECT viewer_id, model_id FROM billing_seats WHERE id = ?`, seatID).Row().Scan(&viewer, &model)
	if err != nil {
		return "", "", errs.E(errs.NotFound, "no such seat")
	}
	return viewer, model, nil
}

// Earnings sums a model's credits to her earnings account: today, the last
// seven days, the balance, and the latest lines.
func (s *Service) Earnings(ctx context.Context, modelID string) (theme.Earnings, error) {
	cur := s.cfg.Accounts.Currency()
	zero := money.Money{Currency: cur}
	out := theme.Earnings{Today: zero, Week: zero, Balance: zero}
	code := "model:" + modelID + ":earnings"
	bal, err := s.cfg.Ledger.Balance(ctx, code, cur)
	if errs.CodeOf(err) == errs.NotFound {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	out.Balance = bal.Posted()
	now := s.now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	week := day.AddDate(0, 0, -6)
	cursor := ""
	var recent []theme.EarningRow
	for {
		page, err := s.cfg.Ledger.Statement(ctx, code, cur, cursor, 1000)
		if err != nil {
			return out, err
		}
		for _, e := range page.Entries {
			t := e.Transfer
			if e.Side != "credit" || t.Kind == "pending" || t.Kind == "void" || t.Kind == "expire" {
				continue
			}
			if !t.CreatedAt.Before(day) {
				out.Today.Amount += t.Amount.Amount
			}
			if !t.CreatedAt.Before(week) {
				out.Week.Amount += t.Amount.Amount
			}
			recent = append(recent, theme.EarningRow{At: t.CreatedAt, Description: t.Memo, Amount: t.Amount})
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	for i := len(recent) - 1; i >= 0 && len(out.Recent) < 10; i-- {
		if recent[i].Description == "" {
			recent[i].Description = "Private show"
		}
		out.Recent = append(out.Recent, recent[i])
	}
	return out, nil
}
