// Package storetest gives tests a fresh, migrated database: a new PostgreSQL
// database per call (dropped when the test ends) or a temporary SQLite file.
//
// PostgreSQL is found through CAMKIT_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable); that URL is
// only used to CREATE and DROP the per-test databases. When it cannot be
// reached the test is skipped with a message saying so — unless CI=true,
// where it fails, so a broken CI database can never pass as green.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/camkit/camkit/core/store"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for the admin connection
)

// DefaultURL is used when CAMKIT_TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL is the server tests create their databases on.
func AdminURL() string {
	if u := os.Getenv("CAMKIT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

func unreachable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL required (CI=true): "+format, args...)
	}
	t.Skipf("skipping: PostgreSQL unreachable (set CAMKIT_TEST_DATABASE_URL; under CI=true this fails): "+format, args...)
}

// PostgresURL creates a fresh, empty database and returns its URL. The
// database is dropped (connections forced off) when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := AdminURL()
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("CAMKIT_TEST_DATABASE_URL %q: %v", admin, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	adb, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("CAMKIT_TEST_DATABASE_URL %q: %v", admin, err)
	}
	defer adb.Close()
	if err := adb.PingContext(ctx); err != nil {
		unreachable(t, "%s: %v", u.Redacted(), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "camkit_test_" + hex.EncodeToString(b[:])
	if _, err := adb.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database %s on %s: %v", name, u.Redacted(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		adb, err := sql.Open("pgx", admin)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer adb.Close()
		if _, err := adb.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Postgres returns a fresh, migrated PostgreSQL database, closed and dropped
// when the test ends.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	return openMigrated(t, PostgresURL(t))
}

// SQLiteURL returns a sqlite:// URL to a file in the test's temp folder.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "camkit.db")
}

// SQLite returns a fresh, migrated SQLite database in a temp file.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	return openMigrated(t, SQLiteURL(t))
}

func openMigrated(t testing.TB, u string) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, err := store.Open(ctx, u)
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	t.Cleanup(func() { _ = db.Close() }) // registered after the drop, so it runs first
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", db, err)
	}
	return db
}

// Each runs f once per dialect as subtests "postgres" and "sqlite", each on a
// fresh migrated database: the way a suite proves it behaves the same on both.
func Each(t *testing.T, f func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run(string(store.Postgres), func(t *testing.T) { f(t, Postgres(t)) })
	t.Run(string(store.SQLite), func(t *testing.T) { f(t, SQLite(t)) })
}
