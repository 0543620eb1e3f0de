package idempotency

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
)

// SQLStore keeps the records in the idempotency_keys table (PostgreSQL or
// SQLite, migrations 00007). Every step is one statement, so it needs no
// transaction: the primary key (user_id, client_key) decides who claims a
// key, and the holder's random token guards Complete and Release.
type SQLStore struct {
	db *store.DB
}

var _ Store = (*SQLStore)(nil)

// NewSQLStore keeps records in db.
func NewSQLStore(db *store.DB) *SQLStore { return &SQLStore{db: db} }

// beginAttempts bounds Begin's loop: each turn either decides or saw the row
// change under it (deleted, taken over), which cannot go on for long.
const beginAttempts = 5

func (s *SQLStore) Begin(ctx context.Context, c Claim) (Outcome, error) {
	now := ts(c.Now)
	for range beginAttempts {
		tok := newToken()
		n, err := s.exec(ctx, `INSERT INTO idempotency_keys
			(user_id, client_key, fingerprint, method, path, state, token, lease_until, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?) ON CONFLICT (user_id, client_key) DO NOTHING`,
			c.UserID, c.Key, c.Fingerprint, c.Method, c.Path, tok, now.Add(c.Lease), now, now.Add(c.TTL))
		if err != nil {
			return Outcome{}, dbErr("claim", err)
		}
		if n == 1 {
			return Outcome{State: Acquired, Token: tok}, nil
		}
		var (
			fp, state, holder, headers string
			lease, expires             time.Time
			status                     int
			body                       []byte
		)
		err = s.db.Gorm().WithContext(ctx).Raw(`SELECT fingerprint, state, token, lease_until, expires_at, status, headers, body
			FROM idempotency_keys WHERE user_id = ? AND client_key = ?`, c.UserID, c.Key).Row().
			Scan(&fp, &state, &holder, &lease, &expires, &status, &headers, &body)
		if errors.Is(err, sql.ErrNoRows) {
			continue // released or expired meanwhile: claim it afresh
		}
		if err != nil {
			return Outcome{}, dbErr("read", err)
		}
		if !expires.After(now) {
			// Past its time: as if it had never been. The token makes sure
			// only this record goes, not one a concurrent request just made.
			if _, err := s.exec(ctx, `DELETE FROM idempotency_keys WHERE user_id = ? AND client_key = ? AND token = ?`,
				c.UserID, c.Key, holder); err != nil {
				return Outcome{}, dbErr("expire", err)
			}
			continue
		}
		switch {
		case fp != c.Fingerprint:
			return Outcome{State: Mismatch}, nil
		case state == "done":
			r := &Response{Status: status, Body: body}
			if err := json.Unmarshal([]byte(headers), r); err != nil {
				return Outcome{}, errs.E(errs.Internal, "idempotency: stored headers of %s: %v", c.Key, err)
			}
			return Outcome{State: Done, Response: r}, nil
		case lease.After(now):
			return Outcome{State: InFlight}, nil
		}
		// The holder's lease ended without an answer: its host died (or
		// hung). Take the claim over; the service below is idempotent on
		// the same key, so running the request again is safe.
		n, err = s.exec(ctx, `UPDATE idempotency_keys SET token = ?, lease_until = ?
			WHERE user_id = ? AND client_key = ? AND state = 'running' AND token = ?`,
			tok, now.Add(c.Lease), c.UserID, c.Key, holder)
		if err != nil {
			return Outcome{}, dbErr("take over", err)
		}
		if n == 1 {
			return Outcome{State: Acquired, Token: tok}, nil
		}
	}
	return Outcome{}, errs.Retry(errs.Unavailable, "idempotency: the key changed under every attempt to claim it; retry")
}

func (s *SQLStore) Complete(ctx context.Context, userID, key, token string, r Response, now time.Time, ttl time.Duration) error {
	meta, err := json.Marshal(r)
	if err != nil {
		return errs.E(errs.Internal, "idempotency: encode headers: %v", err)
	}
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	now = ts(now)
	_, err = s.exec(ctx, `UPDATE idempotency_keys SET state = 'done', status = ?, headers = ?, body = ?,
		lease_until = ?, expires_at = ? WHERE user_id = ? AND client_key = ? AND token = ? AND state = 'running'`,
		r.Status, string(meta), body, now, now.Add(ttl), userID, key, token)
	return dbErr("complete", err)
}

func (s *SQLStore) Release(ctx context.Context, userID, key, token string) error {
	_, err := s.exec(ctx, `DELETE FROM idempotency_keys WHERE user_id = ? AND client_key = ? AND token = ? AND state = 'running'`,
		userID, key, token)
	return dbErr("release", err)
}

func (s *SQLStore) Expire(ctx context.Context, now time.Time) (int64, error) {
	now = ts(now)
	// A running record past its expiry whose lease still holds belongs to a
	// request that is still going: it stays until the lease ends.
	n, err := s.exec(ctx, `DELETE FROM idempotency_keys WHERE expires_at < ? AND (state = 'done' OR lease_until < ?)`, now, now)
	if err != nil {
		return 0, dbErr("expire", err)
	}
	return n, nil
}

// exec runs one statement and says how many rows it changed.
func (s *SQLStore) exec(ctx context.Context, q string, args ...any) (int64, error) {
	r := s.db.Gorm().WithContext(ctx).Exec(q, args...)
	return r.RowsAffected, r.Error
}

// ts is how times are written: UTC, to the microsecond (what both dialects
// keep, and what makes SQLite's text timestamps compare in order).
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func newToken() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// dbErr names the step that failed. It is errs.Internal (the host logs it
// and shows a client only "internal error"), or a retryable timeout.
func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.Retry(errs.Timeout, "idempotency: %s: %v", what, err)
	}
	return errs.E(errs.Internal, "idempotency: %s: %v", what, err)
}

// Sweep expires old records now and then every interval until ctx ends.
func Sweep(ctx context.Context, st Store, clk clock.Clock, every time.Duration, log *slog.Logger) {
	t := clk.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := st.Expire(ctx, clk.Now()); err != nil && ctx.Err() == nil {
			log.Warn("idempotency: expiring old keys", "err", err)
		} else if n > 0 {
			log.Debug("idempotency: expired old keys", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}
