package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"strings"
	"time"
)

// AgeConfirmation is a visitor clicking "I am 18 or older".
type AgeConfirmation struct {
	UserID    string // "" for a visitor who is not signed in
	IP        string // stored only as a keyed hash
	UserAgent string
}

// AgeRecord is a stored confirmation. Cookie is the signed value the
// browser keeps so the gate is not shown again.
type AgeRecord struct {
	ID          string
	ConfirmedAt time.Time
	MinimumAge  int
	IPHash      string
	UserID      string
	Cookie      string
}

// ConfirmAge records a confirmation and returns the cookie value for it.
func (s *Service) ConfirmAge(ctx context.Context, c AgeConfirmation) (AgeRecord, error) {
	ua := c.UserAgent
	if len(ua) > maxUserAgent {
		ua = strings.ToValidUTF8(ua[:maxUserAgent], "?")
	}
	rec := AgeRecord{ID: newID(), ConfirmedAt: s.now(), MinimumAge: s.minAge, IPHash: s.HashIP(c.IP), UserID: c.UserID}
	var user any
	if c.UserID != "" {
		user = c.UserID
	}
	if err := s.db.Gorm().WithContext(ctx).Exec(`INSERT INTO age_confirmations (id, confirmed_at, minimum_age, ip_hash, user_id, user_agent)
		VALUES (?, ?, ?, ?, ?, ?)`, rec.ID, rec.ConfirmedAt, rec.MinimumAge, rec.IPHash, user, ua).Error; err != nil {
		return AgeRecord{}, dbErr("record age confirmation", err)
	}
	rec.Cookie = rec.ID + "." + s.ageSig(rec.ID)
	return rec, nil
}

func (s *Service) ageSig(id string) string {
	m := hmac.New(sha256.New, s.ageKey)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// AgeCookieValid reports whether an age-gate cookie was issued by this site
// (checked by signature, without a database read on every page).
func (s *Service) AgeCookieValid(v string) bool {
	id, sig, ok := strings.Cut(v, ".")
	if !ok || id == "" || len(v) > 128 {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(s.ageSig(id)))
}

// AgeRecordOf reads a stored confirmation, for audits and tests.
func (s *Service) AgeRecordOf(ctx context.Context, id string) (AgeRecord, error) {
	var (
		r    AgeRecord
		user sql.NullString
	)
	err := s.db.Gorm().WithContext(ctx).Raw(`SELECT id, confirmed_at, minimum_age, ip_hash, user_id FROM age_confirmations WHERE id = ?`, id).
		Row().Scan(&r.ID, &r.ConfirmedAt, &r.MinimumAge, &r.IPHash, &user)
	if err != nil {
		return AgeRecord{}, dbErr("age confirmation "+id, err)
	}
	r.ConfirmedAt = r.ConfirmedAt.UTC()
	r.UserID = user.String
	return r, nil
}

// AgeRecordsOf lists a user's confirmations, newest first.
func (s *Service) AgeRecordsOf(ctx context.Context, userID string) ([]AgeRecord, error) {
	rows, err := s.db.Gorm().WithContext(ctx).Raw(`SELECT id, confirmed_at, minimum_age, ip_hash FROM age_confirmations
		WHERE user_id = ? ORDER BY confirmed_at DESC, id`, userID).Rows()
	if err != nil {
		return nil, dbErr("age confirmations", err)
	}
	defer rows.Close()
	var out []AgeRecord
	for rows.Next() {
		r := AgeRecord{UserID: userID}
		if err := rows.Scan(&r.ID, &r.ConfirmedAt, &r.MinimumAge, &r.IPHash); err != nil {
			return nil, dbErr("age confirmations", err)
		}
		r.ConfirmedAt = r.ConfirmedAt.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("age confirmations", err)
	}
	return out, nil
}
