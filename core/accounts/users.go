package accounts

import (
	"context"
	"database/sql"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/camkit/camkit/sdk/errs"
	"gorm.io/gorm"
)

// Role is what a user may do.
type Role string

const (
	RoleViewer Role = "viewer" // watches, chats, tips, pays for shows
	RoleModel  Role = "model"  // broadcasts once approved
	RoleStudio Role = "studio" // an agency some models belong to
	RoleAdmin  Role = "admin"  // operator staff
)

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool {
	return r == RoleViewer || r == RoleModel || r == RoleStudio || r == RoleAdmin
}

// Status of an account.
type Status string

const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended" // cannot log in; sessions revoked
)

// User is an account.
type User struct {
	ID          string
	Email       string // as typed at sign-up; unique ignoring case
	DisplayName string
	Role        Role
	Status      Status
	ApprovedAt  time.Time // models: when an admin approved her; zero before
	ApprovedBy  string
	CreatedAt   time.Time
}

// CanBroadcast reports whether u may go live: an active, approved model.
func (u User) CanBroadcast() bool {
	return u.Role == RoleModel && u.Status == StatusActive && !u.ApprovedAt.IsZero()
}

// WalletCode is the user's wallet in the ledger's chart of accounts.
func (u User) WalletCode() string { return WalletCode(u.ID) }

// WalletCode is viewer:<id>:wallet.
func WalletCode(userID string) string { return "viewer:" + userID + ":wallet" }

const (
	MaxEmailLen       = 254
	MaxDisplayNameLen = 40 // characters
)

// NormalizeEmail trims an address and checks it is a bare address; it
// returns the address as typed and its case-insensitive key.
func NormalizeEmail(raw string) (email, key string, err error) {
	email = strings.TrimSpace(raw)
	if email == "" {
		return "", "", errs.E(errs.Invalid, "an email address is required")
	}
	if len(email) > MaxEmailLen {
		return "", "", errs.E(errs.Invalid, "the email address is longer than %d characters", MaxEmailLen)
	}
	a, perr := mail.ParseAddress(email)
	if perr != nil || a.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
		return "", "", errs.E(errs.Invalid, "%q is not an email address", email)
	}
	return email, strings.ToLower(email), nil
}

// CheckDisplayName trims a display name and checks it: 1-40 printable
// characters. It is stored as typed; themes escape it on render.
func CheckDisplayName(raw string) (string, error) {
	name := strings.TrimSpace(raw)
	switch {
	case !utf8.ValidString(name):
		return "", errs.E(errs.Invalid, "the display name is not valid UTF-8")
	case name == "":
		return "", errs.E(errs.Invalid, "a display name is required")
	case utf8.RuneCountInString(name) > MaxDisplayNameLen:
		return "", errs.E(errs.Invalid, "the display name must be at most %d characters", MaxDisplayNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return "", errs.E(errs.Invalid, "the display name contains a control or invisible character")
		}
	}
	return name, nil
}

// NewUser is what creating an account takes.
type NewUser struct {
	Email       string
	DisplayName string
	Password    string
	Role        Role
}

// SignupRequest is the public sign-up form.
type SignupRequest struct {
	NewUser
	// Adult is the "I am 18 or older" box; sign-up is refused without it.
	Adult bool
	IP    string // the client's address, for the age record (stored hashed)
}

// Signup creates a viewer or model account and records the age confirmation
// that came with it. Models start unapproved. A taken email is errs.Conflict.
func (s *Service) Signup(ctx context.Context, r SignupRequest) (User, error) {
	if r.Role == "" {
		r.Role = RoleViewer
	}
	if r.Role != RoleViewer && r.Role != RoleModel {
		return User{}, errs.E(errs.Invalid, "sign-up is for viewers and models; a %q account is created by an admin", r.Role)
	}
	if !r.Adult {
		return User{}, errs.E(errs.Invalid, "you must confirm you are %d or older", s.minAge)
	}
	u, err := s.CreateUser(ctx, r.NewUser)
	if err != nil {
		return User{}, err
	}
	if _, err := s.ConfirmAge(ctx, AgeConfirmation{UserID: u.ID, IP: r.IP}); err != nil {
		return u, err
	}
	return u, nil
}

// CreateUser creates an account of any role (admins and studios are created
// this way, by `camkit admin create` or an admin). Models get a profile at the
// site's currency with a zero rate, to be set before going private.
func (s *Service) CreateUser(ctx context.Context, n NewUser) (User, error) {
	email, key, err := NormalizeEmail(n.Email)
	if err != nil {
		return User{}, err
	}
	name, err := CheckDisplayName(n.DisplayName)
	if err != nil {
		return User{}, err
	}
	if !n.Role.Valid() {
		return User{}, errs.E(errs.Invalid, "role %q: want viewer, model, studio or admin", n.Role)
	}
	if err := CheckPassword(n.Password); err != nil {
		return User{}, err
	}
	hash, err := s.hashPassword(n.Password)
	if err != nil {
		return User{}, err
	}
	now := s.now()
	u := User{ID: newID(), Email: email, DisplayName: name, Role: n.Role, Status: StatusActive, CreatedAt: now}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`INSERT INTO users (id, email, email_key, display_name, role, status, password_hash, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email_key) DO NOTHING`,
			u.ID, email, key, name, string(n.Role), string(StatusActive), hash, now, now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errs.E(errs.Conflict, "an account with the email %s already exists", email)
		}
		if n.Role == RoleModel {
			return tx.Exec(`INSERT INTO model_profiles (user_id, rate_amount, rate_currency, updated_at) VALUES (?, 0, ?, ?)`,
				u.ID, s.currency, now).Error
		}
		return nil
	})
	if err != nil {
		return User{}, dbErr("create user", err)
	}
	return u, nil
}

const userCols = `u.id, u.email, u.display_name, u.role, u.status, u.approved_at, u.approved_by, u.created_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var (
		u        User
		approved sql.NullTime
	)
	err := row.Scan(&u.ID, &u.Email, &u.DisplayName, &u.Role, &u.Status, &approved, &u.ApprovedBy, &u.CreatedAt)
	u.ApprovedAt = nullTime(approved)
	u.CreatedAt = u.CreatedAt.UTC()
	return u, err
}

// User returns the account with id, errs.NotFound when there is none.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.Gorm().WithContext(ctx).Raw(`SELECT `+userCols+` FROM users u WHERE u.id = ?`, id).Row())
	if err != nil {
		return User{}, dbErr("user "+id, err)
	}
	return u, nil
}

// UserByEmail finds an account by email, ignoring case.
func (s *Service) UserByEmail(ctx context.Context, email string) (User, error) {
	_, key, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	u, err := scanUser(s.db.Gorm().WithContext(ctx).Raw(`SELECT `+userCols+` FROM users u WHERE u.email_key = ?`, key).Row())
	if err != nil {
		return User{}, dbErr("user with that email", err)
	}
	return u, nil
}

// requireAdmin loads actorID and checks it is an active admin.
func (s *Service) requireAdmin(ctx context.Context, actorID string) (User, error) {
	a, err := s.User(ctx, actorID)
	if errs.CodeOf(err) == errs.NotFound {
		return User{}, errs.E(errs.Forbidden, "only an admin may do this")
	}
	if err != nil {
		return User{}, err
	}
	if a.Role != RoleAdmin || a.Status != StatusActive {
		return User{}, errs.E(errs.Forbidden, "only an admin may do this")
	}
	return a, nil
}

// ApproveModel lets a model broadcast. Only an admin may; approving twice
// keeps the first approval.
func (s *Service) ApproveModel(ctx context.Context, adminID, modelID string) (User, error) {
	if _, err := s.requireAdmin(ctx, adminID); err != nil {
		return User{}, err
	}
	m, err := s.User(ctx, modelID)
	if err != nil {
		return User{}, err
	}
	if m.Role != RoleModel {
		return User{}, errs.E(errs.Invalid, "user %s is a %s, not a model", modelID, m.Role)
	}
	now := s.now()
	if err := s.db.Gorm().WithContext(ctx).Exec(`UPDATE users SET approved_at = ?, approved_by = ?, updated_at = ?
		WHERE id = ? AND approved_at IS NULL`, now, adminID, now, modelID).Error; err != nil {
		return User{}, dbErr("approve model", err)
	}
	return s.User(ctx, modelID)
}

// SetStatus suspends or re-activates an account (admin only). Suspending
// revokes every session at once.
func (s *Service) SetStatus(ctx context.Context, adminID, userID string, st Status) error {
	if st != StatusActive && st != StatusSuspended {
		return errs.E(errs.Invalid, "status %q: want active or suspended", st)
	}
	if _, err := s.requireAdmin(ctx, adminID); err != nil {
		return err
	}
	if adminID == userID {
		return errs.E(errs.Invalid, "an admin cannot change their own status")
	}
	now := s.now()
	return dbErr("set status", s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE users SET status = ?, updated_at = ? WHERE id = ?`, string(st), now, userID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errs.E(errs.NotFound, "no user %s", userID)
		}
		if st == StatusSuspended {
			return tx.Exec(`UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, now, userID).Error
		}
		return nil
	}))
}

// PendingModels lists models waiting for approval, oldest first.
func (s *Service) PendingModels(ctx context.Context, limit int) ([]User, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.db.Gorm().WithContext(ctx).Raw(`SELECT `+userCols+` FROM users u
		WHERE u.role = 'model' AND u.approved_at IS NULL AND u.status = 'active' ORDER BY u.created_at, u.id LIMIT ?`, limit).Rows()
	if err != nil {
		return nil, dbErr("pending models", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, dbErr("pending models", err)
		}
		out = append(out, u)
	}
	return out, dbErr("pending models", rows.Err())
}

// CheckCanBroadcast is the gate before a model goes live: errs.Forbidden,
// saying why, unless she is an active, approved model.
func (s *Service) CheckCanBroadcast(ctx context.Context, userID string) error {
	u, err := s.User(ctx, userID)
	if err != nil {
		return err
	}
	switch {
	case u.Role != RoleModel:
		return errs.E(errs.Forbidden, "only models broadcast")
	case u.Status != StatusActive:
		return errs.E(errs.Forbidden, "this account is suspended")
	case u.ApprovedAt.IsZero():
		return errs.E(errs.Forbidden, "your model account is waiting for an admin's approval")
	}
	return nil
}

// ChangePassword sets a new password after checking the current one, and
// revokes every other session of the user.
func (s *Service) ChangePassword(ctx context.Context, userID, current, next, keepSessionID string) error {
	if err := CheckPassword(next); err != nil {
		return err
	}
	var hash string
	if err := s.db.Gorm().WithContext(ctx).Raw(`SELECT password_hash FROM users WHERE id = ?`, userID).Row().Scan(&hash); err != nil {
		return dbErr("user "+userID, err)
	}
	ok, _, err := s.verifyPassword(current, hash)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.Unauthenticated, "the current password is wrong")
	}
	newHash, err := s.hashPassword(next)
	if err != nil {
		return err
	}
	now := s.now()
	return dbErr("change password", s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, newHash, now, userID).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND id <> ? AND revoked_at IS NULL`,
			now, userID, keepSessionID).Error
	}))
}
