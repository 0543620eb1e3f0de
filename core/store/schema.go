package store

import (
	"context"
	"sort"
	"strings"

	"github.com/camkit/camkit/sdk/errs"
)

// Column is one column of a table as the schema comparison sees it.
type Column struct {
	Table string
	Name  string
	Type  string // normalised: int, text, time, bool, bytes, json, decimal, or the raw type
}

// Columns lists every column of every application table (goose's own version
// table excluded), sorted by table then column, with types normalised so the
// PostgreSQL and SQLite schemas compare equal when they mean the same thing.
func (db *DB) Columns(ctx context.Context) ([]Column, error) {
	var out []Column
	switch db.dialect {
	case Postgres:
		rows, err := db.sql.QueryContext(ctx, `SELECT table_name, column_name, data_type
			FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'`)
		if err != nil {
			return nil, errs.E(errs.Internal, "list columns: %v", err)
		}
		defer rows.Close()
		for rows.Next() {
			var c Column
			if err := rows.Scan(&c.Table, &c.Name, &c.Type); err != nil {
				return nil, errs.E(errs.Internal, "list columns: %v", err)
			}
			c.Type = NormaliseType(c.Type)
			out = append(out, c)
		}
		if err := rows.Err(); err != nil {
			return nil, errs.E(errs.Internal, "list columns: %v", err)
		}
	case SQLite:
		rows, err := db.sql.QueryContext(ctx, `SELECT m.name, p.name, p.type
			FROM sqlite_master m JOIN pragma_table_info(m.name) p
			WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'goose_db_version'`)
		if err != nil {
			return nil, errs.E(errs.Internal, "list columns: %v", err)
		}
		defer rows.Close()
		for rows.Next() {
			var c Column
			if err := rows.Scan(&c.Table, &c.Name, &c.Type); err != nil {
				return nil, errs.E(errs.Internal, "list columns: %v", err)
			}
			c.Type = NormaliseType(c.Type)
			out = append(out, c)
		}
		if err := rows.Err(); err != nil {
			return nil, errs.E(errs.Internal, "list columns: %v", err)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Table != out[j].Table {
			return out[i].Table < out[j].Table
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// NormaliseType maps a declared column type of either dialect to a family
// name, so "bigint" (PostgreSQL) and "INTEGER" (SQLite) compare equal.
func NormaliseType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	switch {
	case t == "integer" || t == "int" || t == "bigint" || t == "smallint" || t == "int2" || t == "int4" ||
		t == "int8" || t == "serial" || t == "bigserial":
		return "int"
	case t == "text" || t == "varchar" || t == "character varying" || t == "char" || t == "character" || t == "uuid":
		return "text"
	case strings.HasPrefix(t, "timestamp") || t == "datetime":
		return "time"
	case t == "boolean" || t == "bool":
		return "bool"
	case t == "bytea" || t == "blob":
		return "bytes"
	case t == "json" || t == "jsonb":
		return "json"
	case t == "numeric" || t == "decimal":
		return "decimal"
	}
	return t
}
