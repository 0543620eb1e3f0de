package accounts

import (
	"context"
	"database/sql"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/camkit/camkit/core/audit"
	"github.com/camkit/camkit/sdk/errs"
	"gorm.io/gorm"
)

// Session is a signed-in browser. ID is the SHA-256 (hex) of its token; the
// token itself exists only in the cookie.
type Session struct {
	ID         string
	UserID     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute; the idle timeout may end it earlier
}

// LoginRequest is a log-in attempt.
type LoginRequest struct {
	Email     string
	Password  string
	IP        string // the client's address: attempts are limited per IP too
	UserAgent string
}

// LoginResult is a new session: Token goes into the cookie and nowhere else.
type LoginResult struct {
	User    User
	Session Session
	Token   string
}

// ErrBadCredentials is the one answer to a wrong email or a wrong password,
// so the form does not tell which accounts exist.
var ErrBadCredentials = errs.E(errs.Unauthenticated, "wrong email or password")

// touchEvery bounds how often an authenticated request writes last_seen_at.
const touchEvery = time.Minute

const maxUserAgent = 256

// Login checks a password and opens a session. Attempts are rate limited per
// email and per IP before the password is looked at (*RateLimitError); a
// suspended account cannot log in.
func (s *Service) Login(ctx context.Context, r LoginRequest) (LoginResult, error) {
	email := strings.TrimSpace(r.Email)
	if email == "" || r.Password == "" {
		s.audit.LoginRefused(audit.LoginMalformed, r.IP, "")
		return LoginResult{}, errs.E(errs.Invalid, "enter your email and password")
	}
	if len(email) > MaxEmailLen || len(r.Password) > MaxPasswordLen {
		s.audit.LoginRefused(audit.LoginMalformed, r.IP, "")
		return LoginResult{}, ErrBadCredentials
	}
	key := strings.ToLower(email)
	if err := s.limiter.take(key, r.IP); err != nil {
		s.audit.LoginRefused(audit.LoginRateLimited, r.IP, "")
		return LoginResult{}, err
	}
	var (
		id, hash, status string
	)
	err := s.db.Gorm().WithContext(ctx).Raw(`SELECT id, password_hash, status FROM users WHERE email_key = ?`, key).
		Row().Scan(&id, &hash, &status)
	if err == sql.ErrNoRows {
		// Same work as a real check, so timing does not reveal the account.
		_, _, _ = s.verifyPassword(r.Password, s.dummyHash)
		s.audit.LoginRefused(audit.LoginUnknownUser, r.IP, "")
		return LoginResult{}, ErrBadCredentials
	}
	if err != nil {
		return LoginResult{}, dbErr("log in", err)
	}
	ok, rehash, err := s.verifyPassword(r.Password, hash)
	if err != nil {
		return LoginResult{}, err
	}
	if !ok {
		s.audit.LoginRefused(audit.LoginBadPassword, r.IP, id)
		return LoginResult{}, ErrBadCredentials
	}
	if Status(status) != StatusActive {
		s.audit.LoginRefused(audit.LoginSuspended, r.IP, id)
		return LoginResult{}, errs.E(errs.Forbidden, "this account is suspended")
	}
	s.limiter.succeeded(key)
	if rehash {
		if h, err := s.hashPassword(r.Password); err == nil {
			_ = s.db.Gorm().WithContext(ctx).Exec(`UPDATE users SET password_hash = ? WHERE id = ?`, h, id).Error
		}
	}
	tok, sess, err := s.openSession(ctx, id, r.IP, r.UserAgent)
	if err != nil {
		return LoginResult{}, err
	}
	u, err := s.User(ctx, id)
	if err != nil {
		return LoginResult{}, err
	}
	return LoginResult{User: u, Session: sess, Token: tok}, nil
}

// StartSession opens a session for a user who just proved who they are some
// other way (right after sign-up).
func (s *Service) StartSession(ctx context.Context, userID, ip, userAgent string) (LoginResult, error) {
	u, err := s.User(ctx, userID)
	if err != nil {
		return LoginResult{}, err
	}
	if u.Status != StatusActive {
		return LoginResult{}, errs.E(errs.Forbidden, "this account is suspended")
	}
	tok, sess, err := s.openSession(ctx, userID, ip, userAgent)
	if err != nil {
		return LoginResult{}, err
	}
	return LoginResult{User: u, Session: sess, Token: tok}, nil
}

func (s *Service) openSession(ctx context.Context, userID, ip, ua string) (string, Session, error) {
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	if !utf8.ValidString(ua) {
		ua = strings.ToValidUTF8(ua, "?")
	}
	tok := newToken()
	now := s.now()
	sess := Session{ID: sha256Hex(tok), UserID: userID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.ttl)}
	err := s.db.Gorm().WithContext(ctx).Exec(`INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, ip_hash, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, sess.ID, userID, now, now, sess.ExpiresAt, s.HashIP(ip), ua).Error
	if err != nil {
		return "", Session{}, dbErr("open session", err)
	}
	return tok, sess, nil
}

// ErrNoSession is the answer for a missing, unknown, expired or revoked session.
var ErrNoSession = errs.E(errs.Unauthenticated, "not signed in, or the session has expired: please log in")

// Authenticate returns the session and user of a cookie's token. A token
// that is unknown, revoked, past its absolute expiry or idle for longer than
// the idle timeout, or whose user is suspended, is ErrNoSession.
func (s *Service) Authenticate(ctx context.Context, token string) (User, Session, error) {
	if token == "" || len(token) > 128 {
		return User{}, Session{}, ErrNoSession
	}
	id := sha256Hex(token)
	var (
		sess    Session
		revoked sql.NullTime
	)
	row := s.db.Gorm().WithContext(ctx).Raw(`SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.revoked_at, `+userCols+`
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`, id).Row()
	var (
		u        User
		approved sql.NullTime
	)
	err := row.Scan(&sess.ID, &sess.UserID, &sess.CreatedAt, &sess.LastSeenAt, &sess.ExpiresAt, &revoked,
		&u.ID, &u.Email, &u.DisplayName, &u.Role, &u.Status, &approved, &u.ApprovedBy, &u.CreatedAt)
	if err == sql.ErrNoRows {
		return User{}, Session{}, ErrNoSession
	}
	if err != nil {
		return User{}, Session{}, dbErr("read session", err)
	}
	u.ApprovedAt = nullTime(approved)
	u.CreatedAt = u.CreatedAt.UTC()
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.LastSeenAt.UTC(), sess.ExpiresAt.UTC()
	now := s.now()
	if revoked.Valid || !now.Before(sess.ExpiresAt) || !now.Before(sess.LastSeenAt.Add(s.idle)) || u.Status != StatusActive {
		return User{}, Session{}, ErrNoSession
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		// Best effort: a failed touch only shortens the idle window.
		if s.db.Gorm().WithContext(ctx).Exec(`UPDATE sessions SET last_seen_at = ? WHERE id = ?`, now, id).Error == nil {
			sess.LastSeenAt = now
		}
	}
	return u, sess, nil
}

// Logout revokes the session of token. Logging out twice, or with an unknown
// token, is not an error: the browser is signed out either way.
func (s *Service) Logout(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return s.RevokeSession(ctx, sha256Hex(token))
}

// RevokeSession ends one session by id (the id, not the token: what an
// "active sessions" page lists).
func (s *Service) RevokeSession(ctx context.Context, sessionID string) error {
	return dbErr("revoke session", s.db.Gorm().WithContext(ctx).Exec(
		`UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, s.now(), sessionID).Error)
}

// RevokeAllSessions signs a user out everywhere.
func (s *Service) RevokeAllSessions(ctx context.Context, userID string) error {
	return dbErr("revoke sessions", s.db.Gorm().WithContext(ctx).Exec(
		`UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, s.now(), userID).Error)
}

// PurgeSessions deletes sessions that ended before cutoff, so the table does
// not grow forever; run it daily.
func (s *Service) PurgeSessions(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ? OR last_seen_at < ?`,
			cutoff, cutoff, cutoff.Add(-s.idle))
		n = res.RowsAffected
		return res.Error
	})
	return n, dbErr("purge sessions", err)
}
