package billing

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/camkit/camkit/core/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// stmt is one statement of a pipeline: an exec, or a query whose rows are
// read by rows.
type stmt struct {
	query    string // with '?' placeholders
	args     []any
	rows     func(r rowScanner) error // nil for an exec
	affected *int64                   // an exec's affected rows, when wanted
}

// rowScanner is what pgx.Rows and *sql.Rows have in common.
type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// pipeline runs stmts atomically, in order, each seeing the ones before. On
// PostgreSQL they go out as one pgx batch: one round trip, in the implicit
// transaction the server gives a batch, whose commit rides on it. A
// settlement writes and reads a handful of rows per step; sent one by one
// inside BEGIN/COMMIT each step cost four to six round trips. Pipelines of
// concurrent callers share a batch (see groupCommit).
func (d *db) pipeline(ctx context.Context, stmts ...stmt) error {
	if len(stmts) == 0 {
		return nil
	}
	if d.group != nil {
		return d.group.run(d, stmts)
	}
	return d.pipelineAlone(ctx, stmts)
}

// Group commit: at most groupBatches merged batches are in flight; a
// pipeline arriving meanwhile waits for the next one, which takes everything
// queued (up to groupStmts statements). Under load one commit and one round
// trip then serve many settlements; alone, a pipeline goes out at once.
const (
	groupBatches = 8
	groupStmts   = 400
	// groupTimeout bounds one merged batch, connection wait included, in
	// place of the callers' contexts.
	groupTimeout = 30 * time.Second
)

// groupCommit merges the pipelines of concurrent callers into one batch, one
// transaction. Each pipeline stays atomic: when the merged batch fails (one
// pipeline's statement was refused, a deadlock, a lost connection) nothing
// of it was kept, and every pipeline is run again alone, so only its own
// failure reaches each caller. Statements are therefore written to be
// repeatable and row readers to overwrite what they fill.
type groupCommit struct {
	mu     sync.Mutex
	queue  []*groupItem
	active int
}

type groupItem struct {
	stmts []stmt
	done  chan error
}

// run queues stmts and waits for their outcome. It does not give up when the
// caller's context ends: what was sent is committed or not as a whole, and
// the caller must learn which; groupTimeout bounds the wait instead.
func (g *groupCommit) run(d *db, stmts []stmt) error {
	it := &groupItem{stmts: stmts, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, it)
	start := g.active < groupBatches
	if start {
		g.active++
	}
	g.mu.Unlock()
	if start {
		go g.drain(d)
	}
	return <-it.done
}

func (g *groupCommit) drain(d *db) {
	for {
		g.mu.Lock()
		k, n := 0, 0
		for k < len(g.queue) && (k == 0 || n+len(g.queue[k].stmts) <= groupStmts) {
			n += len(g.queue[k].stmts)
			k++
		}
		if k == 0 {
			g.active--
			g.mu.Unlock()
			return
		}
		batch := append([]*groupItem(nil), g.queue[:k]...)
		g.queue = append(g.queue[:0:0], g.queue[k:]...)
		g.mu.Unlock()
		g.send(d, batch, n)
	}
}

func (g *groupCommit) send(d *db, batch []*groupItem, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	if len(batch) == 1 {
		batch[0].done <- d.pipelineAlone(ctx, batch[0].stmts)
		return
	}
	all := make([]stmt, 0, n)
	for _, it := range batch {
		all = append(all, it.stmts...)
	}
	if err := d.pipelineAlone(ctx, all); err == nil {
		for _, it := range batch {
			it.done <- nil
		}
		return
	}
	for _, it := range batch {
		it.done <- d.pipelineAlone(ctx, it.stmts)
	}
}

// pipelineAlone runs one pipeline as its own transaction.
func (d *db) pipelineAlone(ctx context.Context, stmts []stmt) error {
	if d.dialect == store.Postgres {
		conn, err := d.sql.Conn(ctx)
		if err != nil {
			return dbErr(err)
		}
		defer conn.Close()
		batched := false
		err = conn.Raw(func(dc any) error {
			c, ok := dc.(*stdlib.Conn)
			if !ok {
				return nil // not pgx: run it the portable way below
			}
			batched = true
			return d.sendBatch(ctx, c.Conn(), stmts)
		})
		if batched {
			return dbErr(err)
		}
	}
	return d.tx(ctx, func(tx execer) error {
		for _, s := range stmts {
			if err := d.runOne(ctx, tx, s); err != nil {
				return err
			}
		}
		return nil
	})
}

func (d *db) sendBatch(ctx context.Context, c *pgx.Conn, stmts []stmt) error {
	b := &pgx.Batch{}
	for _, s := range stmts {
		b.Queue(d.q(s.query), s.args...)
	}
	br := c.SendBatch(ctx, b)
	for _, s := range stmts {
		if s.rows == nil {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			if s.affected != nil {
				*s.affected = tag.RowsAffected()
			}
			continue
		}
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return err
		}
		err = s.rows(rows)
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}

// runOne runs one statement on x (a transaction, or the pool in autocommit).
func (d *db) runOne(ctx context.Context, x execer, s stmt) error {
	if s.rows == nil {
		res, err := x.ExecContext(ctx, d.q(s.query), s.args...)
		if err != nil {
			return dbErr(err)
		}
		if s.affected != nil {
			n, err := res.RowsAffected()
			if err != nil {
				return dbErr(err)
			}
			*s.affected = n
		}
		return nil
	}
	rows, err := x.QueryContext(ctx, d.q(s.query), s.args...)
	if err != nil {
		return dbErr(err)
	}
	defer rows.Close()
	if err := s.rows(rows); err != nil {
		return dbErr(err)
	}
	return dbErr(rows.Err())
}

// one reads the first row of a query with scan; none leaves found false.
func one(found *bool, scan func(r rowScanner) error) func(r rowScanner) error {
	return func(r rowScanner) error {
		if !r.Next() {
			return r.Err()
		}
		*found = true
		return scan(r)
	}
}

var _ rowScanner = (*sql.Rows)(nil)
var _ rowScanner = (pgx.Rows)(nil)
