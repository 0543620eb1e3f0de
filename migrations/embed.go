// Package migrations holds camkit's versioned SQL, one folder per dialect,
// embedded in the binary so that `camkit migrate up` needs no files on disk.
//
// Both folders must describe the same schema (same tables, same columns):
// core/store's tests compare them. Numbering: 00001 base, 00002 ledger,
// 00003 billing, 00004 accounts/web, and so on.
package migrations

import "embed"

// Postgres holds postgres/*.sql.
//
//go:embed postgres/*.sql
var Postgres embed.FS

// SQLite holds sqlite/*.sql.
//
//go:embed sqlite/*.sql
var SQLite embed.FS
