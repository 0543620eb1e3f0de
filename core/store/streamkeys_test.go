package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
)

// Migration 00011 turns the plaintext stream keys that 00010 kept (and the
// broadcasts' copies) into their SHA-256 digests, hex, the same on both
// dialects as core/shows computes, and keeps a hint; no key is left.
func TestMigrationTurnsStreamKeysIntoDigests(t *testing.T) {
	for name, u := range map[string]func(testing.TB) string{"postgres": storetest.PostgresURL, "sqlite": storetest.SQLiteURL} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, u(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.MigrateUpTo(ctx, 10); err != nil {
				t.Fatal(err)
			}
			const key = "sk_0123456789abcdef0123456789abcdef0123456789abcdef"
			at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			g := db.Gorm().WithContext(ctx)
			if err := g.Exec(`INSERT INTO shows_stream_keys (model_id, stream_key, created_at) VALUES (?, ?, ?)`, "m1", key, at).Error; err != nil {
				t.Fatal(err)
			}
			if err := g.Exec(`INSERT INTO shows_broadcasts (id, model_id, stream_key, since, mode) VALUES (?, ?, ?, ?, ?)`,
				"b1", "m1", key, at, "public").Error; err != nil {
				t.Fatal(err)
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(key))
			want := hex.EncodeToString(sum[:])
			if shows.StreamKeyDigest(key) != want || shows.StreamKeyHint(key) != "sk_01234…" {
				t.Fatal("core/shows digests keys differently from the migration")
			}
			var digest, hint, bdigest string
			if err := g.Raw(`SELECT key_digest, key_hint FROM shows_stream_keys WHERE model_id = ?`, "m1").Row().Scan(&digest, &hint); err != nil {
				t.Fatal(err)
			}
			if err := g.Raw(`SELECT key_digest FROM shows_broadcasts WHERE id = ?`, "b1").Row().Scan(&bdigest); err != nil {
				t.Fatal(err)
			}
			if digest != want || bdigest != want || hint != "sk_01234…" {
				t.Fatalf("after 00011: key %q hint %q, broadcast %q; want digest %s and hint sk_01234…", digest, hint, bdigest, want)
			}
		})
	}
}
