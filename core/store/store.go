// Package store opens camkit's database — PostgreSQL, or embedded SQLite as
// the zero-configuration default — and applies the versioned SQL migrations
// embedded from /migrations with goose.
//
// Callers get one *DB carrying both a *gorm.DB (for the plumbing) and the
// underlying *sql.DB (for raw SQL where it is the clean way). SQLite runs in
// WAL mode on a single connection: SQLite admits one writer at a time anyway,
// and queueing writers in Go's pool is fair and never fails with SQLITE_BUSY,
// where several connections would busy-poll each other. The consequence for
// callers: inside a transaction on SQLite, use the transaction's handle for
// every query; a query on the *DB itself would wait for the transaction's
// connection (until its context ends).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/camkit/camkit/migrations"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names the SQL dialect behind a DB.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Pool sizes. PostgreSQL's default leaves room for 16+ concurrent writers
// (the ledger benchmark's load) without exhausting max_connections=100 when
// several test packages run at once.
const (
	PostgresMaxOpenConns = 24
	sqliteBusyTimeoutMS  = 10000
)

// DB is an open, pooled database handle.
type DB struct {
	gorm    *gorm.DB
	sql     *sql.DB
	dialect Dialect
	display string // the URL without its password, for messages
}

// Open connects to url: `postgres://user@host:port/db?...` (or postgresql://)
// or `sqlite://path/to/file.db` (relative or absolute; the parent folder is
// created). A URL that cannot be parsed, an unsupported scheme or an
// unreachable server is an error naming the problem and the URL (without its
// password).
func Open(ctx context.Context, rawURL string) (*DB, error) {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, errs.E(errs.Invalid, "database URL %q: want postgres://... or sqlite://path", rawURL)
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return openPostgres(ctx, rawURL)
	case "sqlite", "sqlite3":
		return openSQLite(ctx, rawURL[len(scheme)+3:])
	}
	return nil, errs.E(errs.Invalid, "database URL %q: unsupported scheme %q (want postgres:// or sqlite://)", redact(rawURL), scheme)
}

func gormConfig() *gorm.Config {
	return &gorm.Config{
		Logger:                 logger.Default.LogMode(logger.Silent),
		SkipDefaultTransaction: true,
		DisableAutomaticPing:   true, // we ping ourselves with the caller's context
	}
}

func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errs.E(errs.Invalid, "database URL: cannot parse %q: %v", redact(rawURL), unwrapURLError(err))
	}
	if u.Host == "" {
		return nil, errs.E(errs.Invalid, "database URL %q: no host", redact(rawURL))
	}
	display := redact(rawURL)
	g, err := gorm.Open(postgres.Open(rawURL), gormConfig())
	if err != nil {
		return nil, errs.E(errs.Invalid, "database URL %q: %v", display, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, errs.E(errs.Internal, "database %s: %v", display, err)
	}
	sqlDB.SetMaxOpenConns(PostgresMaxOpenConns)
	sqlDB.SetMaxIdleConns(PostgresMaxOpenConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		sqlDB.Close()
		return nil, errs.Retry(errs.Unavailable, "database %s: cannot connect: %v", display, err)
	}
	return &DB{gorm: g, sql: sqlDB, dialect: Postgres, display: display}, nil
}

func openSQLite(ctx context.Context, rest string) (*DB, error) {
	path, _, _ := strings.Cut(rest, "?")
	if path == "" {
		return nil, errs.E(errs.Invalid, "database URL %q: no file path (want sqlite://path/to/file.db)", "sqlite://"+rest)
	}
	if strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return nil, errs.E(errs.Invalid, "database URL %q: want a file path (sqlite://path/to/file.db)", "sqlite://"+rest)
	}
	display := "sqlite://" + path
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, errs.E(errs.Invalid, "database %s: cannot create folder %s: %v", display, dir, err)
		}
	}
	// _txlock=immediate takes the write lock at BEGIN, so a transaction that
	// reads and then writes never fails half-way when another process (say
	// `camkit ledger verify`) holds the file.
	dsn := path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(" + fmt.Sprint(sqliteBusyTimeoutMS) +
		")&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	g, err := gorm.Open(sqlite.Open(dsn), gormConfig())
	if err != nil {
		return nil, errs.E(errs.Invalid, "database %s: %v", display, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, errs.E(errs.Internal, "database %s: %v", display, err)
	}
	sqlDB.SetMaxOpenConns(1)
	sqlDB.SetMaxIdleConns(1)
	sqlDB.SetConnMaxLifetime(0)
	sqlDB.SetConnMaxIdleTime(0)
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, errs.E(errs.Invalid, "database %s: cannot open: %v", display, err)
	}
	// The pragmas run per connection; check they took, since a silently
	// rollback-journal or FK-less database would be a quiet corruption risk.
	var mode string
	var fk int
	if err := sqlDB.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		sqlDB.Close()
		return nil, errs.E(errs.Invalid, "database %s: cannot enable WAL mode (got %q, %v)", display, mode, err)
	}
	if err := sqlDB.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		sqlDB.Close()
		return nil, errs.E(errs.Invalid, "database %s: cannot enable foreign keys (%v)", display, err)
	}
	return &DB{gorm: g, sql: sqlDB, dialect: SQLite, display: display}, nil
}

// Gorm returns the gorm handle; WithContext it per request.
func (db *DB) Gorm() *gorm.DB { return db.gorm }

// SQL returns the underlying pool, for raw SQL and pool tuning.
func (db *DB) SQL() *sql.DB { return db.sql }

// Dialect reports which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// String is the URL without its password.
func (db *DB) String() string { return db.display }

// Ping checks the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return errs.Retry(errs.Unavailable, "database %s: %v", db.display, err)
	}
	return nil
}

// Close closes the pool.
func (db *DB) Close() error { return db.sql.Close() }

// Migration is one embedded migration and whether it is applied.
type Migration struct {
	Version   int64
	Name      string // file name, e.g. 00002_ledger.sql
	Applied   bool
	AppliedAt time.Time // zero when pending
}

func (db *DB) provider() (*goose.Provider, error) {
	var (
		fsys fs.FS
		gd   goose.Dialect
		opts = []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
		err  error
	)
	switch db.dialect {
	case Postgres:
		fsys, err = fs.Sub(migrations.Postgres, "postgres")
		gd = goose.DialectPostgres
		// Two hosts starting at once must not both migrate.
		locker, lerr := lock.NewPostgresSessionLocker()
		if lerr != nil {
			return nil, errs.E(errs.Internal, "migrations: %v", lerr)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	case SQLite:
		fsys, err = fs.Sub(migrations.SQLite, "sqlite")
		gd = goose.DialectSQLite3
	}
	if err != nil {
		return nil, errs.E(errs.Internal, "migrations: %v", err)
	}
	p, err := goose.NewProvider(gd, db.sql, fsys, opts...)
	if err != nil {
		return nil, errs.E(errs.Internal, "migrations for %s: %v", db.dialect, err)
	}
	return p, nil
}

// Migrate applies every pending embedded migration and returns those it applied.
func (db *DB) Migrate(ctx context.Context) ([]Migration, error) {
	p, err := db.provider()
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	out := make([]Migration, 0, len(results))
	for _, r := range results {
		if r.Error != nil {
			continue
		}
		out = append(out, Migration{Version: r.Source.Version, Name: filepath.Base(r.Source.Path), Applied: true})
	}
	if err != nil {
		var perr *goose.PartialError
		if errors.As(err, &perr) && perr.Failed != nil {
			return out, errs.E(errs.Internal, "database %s: migration %s failed: %v",
				db.display, filepath.Base(perr.Failed.Source.Path), perr.Err)
		}
		return out, errs.E(errs.Internal, "database %s: migrate: %v", db.display, err)
	}
	return out, nil
}

// MigrationStatus lists every embedded migration in version order.
func (db *DB) MigrationStatus(ctx context.Context) ([]Migration, error) {
	p, err := db.provider()
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, errs.E(errs.Internal, "database %s: migration status: %v", db.display, err)
	}
	out := make([]Migration, 0, len(st))
	for _, s := range st {
		out = append(out, Migration{
			Version:   s.Source.Version,
			Name:      filepath.Base(s.Source.Path),
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

// redact drops the password from a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Rebind rewrites the '?' placeholders of query to PostgreSQL's $1, $2, …;
// SQLite takes '?' as it is. The host's hand-written SQL (billing's hot path,
// reconcile) is written once with '?' for both dialects.
func (d Dialect) Rebind(query string) string {
	if d != Postgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// CountBy runs query, which selects (key, count) rows — a GROUP BY — and
// answers the counts by key. Written with '?' placeholders (see Rebind).
func (db *DB) CountBy(ctx context.Context, query string, args ...any) (map[string]int, error) {
	rows, err := db.sql.QueryContext(ctx, db.dialect.Rebind(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			key string
			n   int
		)
		if err := rows.Scan(&key, &n); err != nil {
			return nil, err
		}
		out[key] = n
	}
	return out, rows.Err()
}
