package store

import (
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"fmt"

	sqlitedriver "github.com/glebarez/go-sqlite"
)

// SQLite has no SHA-256 of its own, and a migration must compute the same
// digests as the Go code on both dialects (00011 turns stream keys into
// theirs; PostgreSQL uses its built-in sha256). Registered before any
// connection opens, so every SQLite connection of the process has it.
func init() {
	sqlitedriver.MustRegisterDeterministicScalarFunction("camkit_sha256_hex", 1, sha256Hex)
}

// sha256Hex is camkit_sha256_hex(text): lower-case hex SHA-256 of its
// argument's bytes; NULL stays NULL.
func sha256Hex(_ *sqlitedriver.FunctionContext, args []driver.Value) (driver.Value, error) {
	var b []byte
	switch v := args[0].(type) {
	case nil:
		return nil, nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return nil, fmt.Errorf("camkit_sha256_hex: want text, got %T", v)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}
