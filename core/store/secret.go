package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

// SecretBytes is the size of the secrets Secret makes.
const SecretBytes = 32

// Secret returns the deployment's random secret kept under key in the
// settings table (base64, unpadded), creating it on first use: every host on
// the database and every restart get the same one, and no two deployments
// share it. Two hosts starting at once both try to insert; the loser reads
// the winner's. now stamps a new row.
func (db *DB) Secret(ctx context.Context, key string, now time.Time) ([]byte, error) {
	fresh := make([]byte, SecretBytes)
	if _, err := rand.Read(fresh); err != nil {
		return nil, errs.E(errs.Internal, "store: random secret: %v", err)
	}
	g := db.gorm.WithContext(ctx)
	if err := g.Exec(`INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING`,
		key, base64.RawStdEncoding.EncodeToString(fresh), now).Error; err != nil {
		return nil, errs.Retry(errs.Unavailable, "store: keeping the secret %s: %v", key, err)
	}
	var v string
	if err := g.Raw(`SELECT value FROM settings WHERE key = ?`, key).Row().Scan(&v); err != nil {
		return nil, errs.Retry(errs.Unavailable, "store: reading the secret %s: %v", key, err)
	}
	b, err := base64.RawStdEncoding.DecodeString(v)
	if err != nil || len(b) < 16 {
		return nil, errs.E(errs.Internal, "store: setting %s is corrupt", key)
	}
	return b, nil
}
