package accounts

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"gorm.io/gorm"
)

// ModelProfile is what a model shows the world and charges.
type ModelProfile struct {
	User User
	Bio  string   // plain text; themes escape it
	Tags []string // lower-case, [a-z0-9-]
	// RatePerMinute is the private rate a seat opened now would lock; a seat
	// already open keeps its own copy and never sees a later change.
	RatePerMinute money.Money
	// GroupRatePerMinute is what a seat of a group show she opens without
	// naming a rate locks; zero amount until she sets one (her private
	// rate is taken then).
	GroupRatePerMinute money.Money
	// Cam2camSurcharge is what cam2cam adds to RatePerMinute in a private
	// show (same currency; zero is free); nil: she does not offer cam2cam.
	Cam2camSurcharge *money.Money
	// SpyRatePerMinute is what a spy seat in her private show locks (a
	// receive-only seat of someone else's); nil: she refuses spies.
	SpyRatePerMinute *money.Money
	StudioID         string // "" when she works alone
	UpdatedAt        time.Time
}

// RateChange is one entry of a model's rate history.
type RateChange struct {
	Previous  money.Money
	Rate      money.Money
	ChangedAt time.Time
}

const (
	MaxBioLen = 2000 // characters
	MaxTags   = 12
	MaxTagLen = 24
)

// ProfileUpdate changes a model's public text. Nil fields are kept.
type ProfileUpdate struct {
	Bio  *string
	Tags []string // nil keeps the tags; an empty slice clears them
}

// Profile returns a model's profile; errs.NotFound for anyone who is not a model.
func (s *Service) Profile(ctx context.Context, modelID string) (ModelProfile, error) {
	return s.profile(s.db.Gorm().WithContext(ctx), modelID)
}

func (s *Service) profile(tx *gorm.DB, modelID string) (ModelProfile, error) {
	var (
		p      ModelProfile
		tags   string
		studio sql.NullString
		appr   sql.NullTime
		c2c    sql.NullInt64
		spy    sql.NullInt64
	)
	err := tx.Raw(`SELECT `+userCols+`, p.bio, p.tags, p.rate_amount, p.rate_currency, p.group_rate_amount, p.cam2cam_surcharge, p.spy_rate_amount, p.studio_id, p.updated_at
		FROM model_profiles p JOIN users u ON u.id = p.user_id WHERE p.user_id = ?`, modelID).Row().Scan(
		&p.User.ID, &p.User.Email, &p.User.DisplayName, &p.User.Role, &p.User.Status, &appr, &p.User.ApprovedBy, &p.User.CreatedAt,
		&p.Bio, &tags, &p.RatePerMinute.Amount, &p.RatePerMinute.Currency, &p.GroupRatePerMinute.Amount, &c2c, &spy, &studio, &p.UpdatedAt)
	if err != nil {
		return ModelProfile{}, dbErr("model profile "+modelID, err)
	}
	p.GroupRatePerMinute.Currency = p.RatePerMinute.Currency
	p.User.ApprovedAt = nullTime(appr)
	p.User.CreatedAt, p.UpdatedAt = p.User.CreatedAt.UTC(), p.UpdatedAt.UTC()
	p.StudioID = studio.String
	if c2c.Valid {
		p.Cam2camSurcharge = &money.Money{Amount: c2c.Int64, Currency: p.RatePerMinute.Currency}
	}
	if spy.Valid {
		p.SpyRatePerMinute = &money.Money{Amount: spy.Int64, Currency: p.RatePerMinute.Currency}
	}
	if err := json.Unmarshal([]byte(tags), &p.Tags); err != nil {
		return ModelProfile{}, errs.E(errs.Internal, "accounts: model %s has unreadable tags: %v", modelID, err)
	}
	return p, nil
}

// CheckBio trims a bio and checks its length and characters (newlines and
// tabs are allowed; other control characters are not).
func CheckBio(raw string) (string, error) {
	bio := strings.TrimSpace(raw)
	if !utf8.ValidString(bio) {
		return "", errs.E(errs.Invalid, "the bio is not valid UTF-8")
	}
	if utf8.RuneCountInString(bio) > MaxBioLen {
		return "", errs.E(errs.Invalid, "the bio must be at most %d characters", MaxBioLen)
	}
	for _, r := range bio {
		if r != '\n' && r != '\t' && !unicode.IsPrint(r) && r != '\r' {
			return "", errs.E(errs.Invalid, "the bio contains a control or invisible character")
		}
	}
	return strings.ReplaceAll(bio, "\r\n", "\n"), nil
}

// CheckTags normalises tags to lower case, drops duplicates and checks each
// is 1-24 of [a-z0-9-].
func CheckTags(raw []string) ([]string, error) {
	out := make([]string, 0, len(raw))
	seen := map[string]bool{}
	for _, t := range raw {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || seen[t] {
			continue
		}
		if len(t) > MaxTagLen || strings.Trim(t, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return nil, errs.E(errs.Invalid, "tag %q: use 1-%d letters, digits or dashes", t, MaxTagLen)
		}
		seen[t] = true
		out = append(out, t)
	}
	if len(out) > MaxTags {
		return nil, errs.E(errs.Invalid, "at most %d tags", MaxTags)
	}
	return out, nil
}

// UpdateProfile changes a model's bio and tags. Only the model herself (or
// an admin, as actorID) may.
func (s *Service) UpdateProfile(ctx context.Context, actorID, modelID string, u ProfileUpdate) (ModelProfile, error) {
	if err := s.mayEditModel(ctx, actorID, modelID); err != nil {
		return ModelProfile{}, err
	}
	sets, args := []string{}, []any{}
	if u.Bio != nil {
		bio, err := CheckBio(*u.Bio)
		if err != nil {
			return ModelProfile{}, err
		}
		sets, args = append(sets, "bio = ?"), append(args, bio)
	}
	if u.Tags != nil {
		tags, err := CheckTags(u.Tags)
		if err != nil {
			return ModelProfile{}, err
		}
		b, _ := json.Marshal(tags)
		sets, args = append(sets, "tags = ?"), append(args, string(b))
	}
	if len(sets) > 0 {
		args = append(args, s.now(), modelID)
		if err := s.db.Gorm().WithContext(ctx).Exec(`UPDATE model_profiles SET `+strings.Join(sets, ", ")+`, updated_at = ? WHERE user_id = ?`, args...).Error; err != nil {
			return ModelProfile{}, dbErr("update profile", err)
		}
	}
	return s.Profile(ctx, modelID)
}

func (s *Service) mayEditModel(ctx context.Context, actorID, modelID string) error {
	if actorID != modelID {
		if _, err := s.requireAdmin(ctx, actorID); err != nil {
			return errs.E(errs.Forbidden, "only the model herself or an admin may change this profile")
		}
	}
	m, err := s.User(ctx, modelID)
	if err != nil {
		return err
	}
	if m.Role != RoleModel {
		return errs.E(errs.Invalid, "user %s is not a model", modelID)
	}
	return nil
}

// SetRate changes a model's per-minute private rate, in the site currency,
// and records the change. It changes what the NEXT seat locks: open seats
// keep the rate they opened with (billing snapshots it).
func (s *Service) SetRate(ctx context.Context, actorID, modelID string, rate money.Money) (ModelProfile, error) {
	if err := s.mayEditModel(ctx, actorID, modelID); err != nil {
		return ModelProfile{}, err
	}
	if err := s.CheckRate(rate); err != nil {
		return ModelProfile{}, err
	}
	now := s.now()
	var out ModelProfile
	err := s.tx(ctx, func(tx *gorm.DB) error {
		p, err := s.profile(tx, modelID)
		if err != nil {
			return err
		}
		if p.RatePerMinute == rate {
			out = p
			return nil
		}
		if err := tx.Exec(`UPDATE model_profiles SET rate_amount = ?, rate_currency = ?, updated_at = ? WHERE user_id = ?`,
			rate.Amount, rate.Currency, now, modelID).Error; err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO model_rate_changes (model_id, previous_amount, rate_amount, rate_currency, changed_at) VALUES (?, ?, ?, ?, ?)`,
			modelID, p.RatePerMinute.Amount, rate.Amount, rate.Currency, now).Error; err != nil {
			return err
		}
		out, err = s.profile(tx, modelID)
		return err
	})
	return out, dbErr("set rate", err)
}

// SetGroupRate changes the per-minute rate of the group shows a model opens
// without naming one, under the same rule as her private rate (CheckRate).
// Open seats keep the rate they locked.
func (s *Service) SetGroupRate(ctx context.Context, actorID, modelID string, rate money.Money) (ModelProfile, error) {
	return s.setPriceSetting(ctx, actorID, modelID, "set group rate", func() error { return s.CheckRate(rate) },
		`group_rate_amount = ?, rate_currency = ?`, rate.Amount, rate.Currency)
}

// SetCam2cam sets what cam2cam costs on top of the model's private rate, per
// minute, in the site currency (zero: free), or with nil stops offering it.
// Like SetRate it changes what the NEXT seat locks: an open seat keeps the
// price it opened with.
func (s *Service) SetCam2cam(ctx context.Context, actorID, modelID string, surcharge *money.Money) (ModelProfile, error) {
	var v any
	check := func() error {
		if surcharge == nil {
			return nil
		}
		if surcharge.Currency != s.currency {
			return errs.E(errs.UnknownCurrency, "the cam2cam surcharge is in the site currency %s, not %q", s.currency, surcharge.Currency)
		}
		if surcharge.Amount < 0 || surcharge.Amount > s.maxRate {
			max, _ := money.FormatDecimal(money.Money{Amount: s.maxRate, Currency: s.currency})
			return errs.E(errs.Invalid, "the cam2cam surcharge per minute must be between zero and %s %s", max, s.currency)
		}
		return nil
	}
	if surcharge != nil {
		v = surcharge.Amount
	}
	return s.setPriceSetting(ctx, actorID, modelID, "set cam2cam", check, `cam2cam_surcharge = ?`, v)
}

// SetSpyRate sets the per-minute rate of a spy seat in her private shows,
// under the same rule as her private rate (CheckRate), or with nil refuses
// spies. Open spy seats keep the rate they locked.
func (s *Service) SetSpyRate(ctx context.Context, actorID, modelID string, rate *money.Money) (ModelProfile, error) {
	var v any
	check := func() error { return nil }
	if rate != nil {
		v, check = rate.Amount, func() error { return s.CheckRate(*rate) }
	}
	return s.setPriceSetting(ctx, actorID, modelID, "set spy rate", check, `spy_rate_amount = ?`, v)
}

// setPriceSetting is the one way a model's price settings beside her private
// rate change (group rate, spy rate, cam2cam surcharge): who may, then the
// setting's own rule, then one UPDATE of set (a constant of the caller's)
// with args. Only her private rate keeps a history (SetRate).
func (s *Service) setPriceSetting(ctx context.Context, actorID, modelID, what string, check func() error, set string, args ...any) (ModelProfile, error) {
	if err := s.mayEditModel(ctx, actorID, modelID); err != nil {
		return ModelProfile{}, err
	}
	if err := check(); err != nil {
		return ModelProfile{}, err
	}
	args = append(args, s.now(), modelID)
	if err := s.db.Gorm().WithContext(ctx).Exec(`UPDATE model_profiles SET `+set+`, updated_at = ? WHERE user_id = ?`, args...).Error; err != nil {
		return ModelProfile{}, dbErr(what, err)
	}
	return s.Profile(ctx, modelID)
}

// CheckRate is the rule every per-minute rate a model asks for obeys (her
// private rate, the rate of a group show she opens): the site currency,
// above zero, at most accounts.max_rate_per_minute.
func (s *Service) CheckRate(rate money.Money) error {
	if rate.Currency != s.currency {
		return errs.E(errs.UnknownCurrency, "rates are in the site currency %s, not %q", s.currency, rate.Currency)
	}
	if rate.Amount <= 0 || rate.Amount > s.maxRate {
		max, _ := money.FormatDecimal(money.Money{Amount: s.maxRate, Currency: s.currency})
		return errs.E(errs.Invalid, "the per-minute rate must be above zero and at most %s %s", max, s.currency)
	}
	return nil
}

// RateHistory lists a model's rate changes, oldest first.
func (s *Service) RateHistory(ctx context.Context, modelID string) ([]RateChange, error) {
	rows, err := s.db.Gorm().WithContext(ctx).Raw(`SELECT previous_amount, rate_amount, rate_currency, changed_at
		FROM model_rate_changes WHERE model_id = ? ORDER BY id`, modelID).Rows()
	if err != nil {
		return nil, dbErr("rate history", err)
	}
	defer rows.Close()
	var out []RateChange
	for rows.Next() {
		var c RateChange
		if err := rows.Scan(&c.Previous.Amount, &c.Rate.Amount, &c.Rate.Currency, &c.ChangedAt); err != nil {
			return nil, dbErr("rate history", err)
		}
		c.Previous.Currency = c.Rate.Currency
		c.ChangedAt = c.ChangedAt.UTC()
		out = append(out, c)
	}
	return out, dbErr("rate history", rows.Err())
}

// SetStudio puts a model in a studio (studioID "" takes her out). The studio
// itself or an admin may do it; the model leaving may too.
func (s *Service) SetStudio(ctx context.Context, actorID, modelID, studioID string) error {
	m, err := s.User(ctx, modelID)
	if err != nil {
		return err
	}
	if m.Role != RoleModel {
		return errs.E(errs.Invalid, "user %s is not a model", modelID)
	}
	if studioID != "" {
		st, err := s.User(ctx, studioID)
		if err != nil {
			return err
		}
		if st.Role != RoleStudio {
			return errs.E(errs.Invalid, "user %s is not a studio", studioID)
		}
	}
	allowed := actorID == studioID && studioID != "" || actorID == modelID && studioID == ""
	if !allowed {
		if _, err := s.requireAdmin(ctx, actorID); err != nil {
			return errs.E(errs.Forbidden, "only the studio, an admin, or the model leaving may change her studio")
		}
	}
	var sid any
	if studioID != "" {
		sid = studioID
	}
	return dbErr("set studio", s.db.Gorm().WithContext(ctx).Exec(`UPDATE model_profiles SET studio_id = ?, updated_at = ? WHERE user_id = ?`,
		sid, s.now(), modelID).Error)
}

// ModelFilter selects models for a directory.
type ModelFilter struct {
	Tag   string // only models with this tag
	Query string // display name contains, ignoring case
	Limit int    // default 100, at most 1000
}

// Models lists approved, active models by display name.
func (s *Service) Models(ctx context.Context, f ModelFilter) ([]ModelProfile, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q := `SELECT p.user_id FROM model_profiles p JOIN users u ON u.id = p.user_id
		WHERE u.approved_at IS NOT NULL AND u.status = 'active'`
	var args []any
	if f.Tag != "" {
		q += ` AND p.tags LIKE ?`
		args = append(args, `%"`+likeEscape(strings.ToLower(f.Tag))+`"%`)
	}
	if f.Query != "" {
		q += ` AND lower(u.display_name) LIKE ?`
		args = append(args, "%"+likeEscape(strings.ToLower(f.Query))+"%")
	}
	q += ` ORDER BY lower(u.display_name), u.id LIMIT ?`
	args = append(args, f.Limit)
	var ids []string
	if err := s.db.Gorm().WithContext(ctx).Raw(q, args...).Scan(&ids).Error; err != nil {
		return nil, dbErr("list models", err)
	}
	out := make([]ModelProfile, 0, len(ids))
	for _, id := range ids {
		p, err := s.Profile(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// likeEscape drops LIKE wildcards from user text, so a search for "%" is a
// search for nothing special rather than for everything.
func likeEscape(s string) string { return strings.NewReplacer("%", "", "_", "", "\\", "").Replace(s) }
