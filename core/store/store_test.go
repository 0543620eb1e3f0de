package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/sdk/errs"
)

func TestOpenRejectsBadURLs(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ url, want string }{
		{"", "want postgres://"},
		{"camkit.db", "want postgres://"},
		{"mysql://root@localhost/camkit", `unsupported scheme "mysql"`},
		{"sqlite://", "no file path"},
		{"sqlite://:memory:", "want a file path"},
		{"postgres:///nohost", "no host"},
		{"postgres://u:secret@127.0.0.1:1/x?connect_timeout=2", "cannot connect"},
	} {
		db, err := store.Open(ctx, tc.url)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q): no error", tc.url)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want it to mention %q", tc.url, err, tc.want)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) leaks the password: %v", tc.url, err)
		}
		if c := errs.CodeOf(err); c != errs.Invalid && c != errs.Unavailable {
			t.Errorf("Open(%q) code %s, want invalid or unavailable", tc.url, c)
		}
	}
}

func TestSQLiteCreatesFolderAndUsesWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "deeper", "camkit.db")
	db, err := store.Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Dialect() != store.SQLite {
		t.Fatalf("dialect %s", db.Dialect())
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not created: %v", err)
	}
	var mode string
	var fk, busy int
	sqlDB := db.SQL()
	if err := sqlDB.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q %v", mode, err)
	}
	if err := sqlDB.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys %d %v", fk, err)
	}
	if err := sqlDB.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy < 1000 {
		t.Errorf("busy_timeout %d %v", busy, err)
	}
}

func TestMigrateAndStatus(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) < 2 {
			t.Fatalf("want at least 2 migrations, got %d", len(st))
		}
		for i, m := range st {
			if !m.Applied {
				t.Errorf("%s not applied after Migrate", m.Name)
			}
			if i > 0 && m.Version <= st[i-1].Version {
				t.Errorf("versions out of order: %d after %d", m.Version, st[i-1].Version)
			}
		}
		// Migrating again is a no-op.
		again, err := db.Migrate(ctx)
		if err != nil || len(again) != 0 {
			t.Fatalf("second Migrate applied %v, %v", again, err)
		}
	})
}

func TestMigrationStatusOnFreshDatabaseIsPending(t *testing.T) {
	db, err := store.Open(context.Background(), storetest.SQLiteURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.MigrationStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st) == 0 {
		t.Fatal("no migrations embedded")
	}
	for _, m := range st {
		if m.Applied {
			t.Errorf("%s applied on a fresh database", m.Name)
		}
	}
}

// Both dialects must end with the same tables and columns, so the embedded
// SQLite default and PostgreSQL run the same code.
func TestDialectsHaveSameSchema(t *testing.T) {
	ctx := context.Background()
	pg := storetest.Postgres(t)
	lite := storetest.SQLite(t)
	pgCols, err := pg.Columns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	liteCols, err := lite.Columns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pgCols) == 0 {
		t.Fatal("no columns on postgres")
	}
	set := func(cs []store.Column) map[string]string {
		m := map[string]string{}
		for _, c := range cs {
			m[c.Table+"."+c.Name] = c.Type
		}
		return m
	}
	p, l := set(pgCols), set(liteCols)
	for k, pt := range p {
		lt, ok := l[k]
		switch {
		case !ok:
			t.Errorf("%s (%s) exists on postgres only", k, pt)
		case lt != pt:
			t.Errorf("%s: postgres %s, sqlite %s", k, pt, lt)
		}
	}
	for k, lt := range l {
		if _, ok := p[k]; !ok {
			t.Errorf("%s (%s) exists on sqlite only", k, lt)
		}
	}
}

func TestNormaliseType(t *testing.T) {
	for in, want := range map[string]string{
		"bigint": "int", "INTEGER": "int", "timestamp with time zone": "time", "TIMESTAMP": "time",
		"character varying(64)": "text", "TEXT": "text", "jsonb": "json", "BLOB": "bytes", "weird": "weird",
	} {
		if got := store.NormaliseType(in); got != want {
			t.Errorf("NormaliseType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRebindNumbersPlaceholdersOnPostgresOnly(t *testing.T) {
	q := "SELECT a FROM t WHERE b = ? AND c IN (?, ?) AND d = 'x'"
	if got := store.SQLite.Rebind(q); got != q {
		t.Fatalf("sqlite rewrote the query: %q", got)
	}
	want := "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3) AND d = 'x'"
	if got := store.Postgres.Rebind(q); got != want {
		t.Fatalf("postgres: got %q, want %q", got, want)
	}
	for i := 1; i <= 12; i++ {
		if got := store.Postgres.Rebind(strings.Repeat("?,", i)); !strings.HasSuffix(got, "$"+strconv.Itoa(i)+",") {
			t.Fatalf("%d placeholders: %q", i, got)
		}
	}
}
