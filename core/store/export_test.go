package store

import "context"

// MigrateUpTo applies the embedded migrations up to version, for tests that
// put data in an older schema and watch a later migration convert it.
func (db *DB) MigrateUpTo(ctx context.Context, version int64) error {
	p, err := db.provider()
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}
