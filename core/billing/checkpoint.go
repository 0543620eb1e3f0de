package billing

import (
	"context"
	"sort"
	"sync"
	"time"
)

// checkpointStats keeps what the load benchmark reports: how long a due
// checkpoint (a transition, or CheckpointEvery since the last one) waited
// until it was committed.
type checkpointStats struct {
	mu      sync.Mutex
	flushes int64
	rows    int64
	lags    []time.Duration // bounded sample of the latest lags
	next    int
}

const maxLagSamples = 1 << 18

func (c *checkpointStats) add(rows int, lags []time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushes++
	c.rows += int64(rows)
	for _, l := range lags {
		if len(c.lags) < maxLagSamples {
			c.lags = append(c.lags, l)
			continue
		}
		c.lags[c.next] = l
		c.next = (c.next + 1) % maxLagSamples
	}
}

// CheckpointStats summarises checkpoint writing since the engine started
// (or since the last ResetCheckpointStats).
type CheckpointStats struct {
	Flushes, Rows       int64
	LagP50, LagP99, Max time.Duration
}

// CheckpointStats reports checkpoint lag percentiles.
func (e *Engine) CheckpointStats() CheckpointStats {
	c := &e.stats
	c.mu.Lock()
	lags := append([]time.Duration(nil), c.lags...)
	out := CheckpointStats{Flushes: c.flushes, Rows: c.rows}
	c.mu.Unlock()
	if len(lags) == 0 {
		return out
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	out.LagP50 = lags[len(lags)*50/100]
	out.LagP99 = lags[min(len(lags)-1, len(lags)*99/100)]
	out.Max = lags[len(lags)-1]
	return out
}

// ResetCheckpointStats clears the statistics (after a benchmark's warm-up).
func (e *Engine) ResetCheckpointStats() {
	c := &e.stats
	c.mu.Lock()
	c.flushes, c.rows, c.lags, c.next = 0, 0, nil, 0
	c.mu.Unlock()
}

func (e *Engine) flushTick() {
	if e.isStopped() {
		return
	}
	if err := e.checkpoint(context.Background(), false); err != nil {
		e.log.Warn("billing: writing checkpoints; retried next tick", "err", err)
	}
	e.flushMu.Lock()
	defer e.flushMu.Unlock()
	if !e.isStopped() {
		e.flushTimer = e.clock.AfterFunc(e.cfg.FlushEvery, e.flushTick)
	}
}

// Checkpoint writes every due checkpoint now, in one multi-row statement
// (per 2,000 seats): seats with a transition not yet written, and seats
// whose last checkpoint is CheckpointEvery old.
func (e *Engine) Checkpoint(ctx context.Context) error { return e.checkpoint(ctx, false) }

func (e *Engine) checkpoint(ctx context.Context, all bool) error {
	e.flushMu.Lock()
	defer e.flushMu.Unlock()
	e.mu.RLock()
	seats := make([]*seat, 0, len(e.seats))
	for _, s := range e.seats {
		seats = append(seats, s)
	}
	e.mu.RUnlock()
	now := e.clock.Now()
	var cks []checkpoint
	var due []time.Time
	var taken []*seat
	for _, s := range seats {
		s.mu.Lock()
		if !s.closed {
			var at time.Time
			switch {
			case !s.dirtyAt.IsZero():
				at = s.dirtyAt
			case now.Sub(s.lastCk) >= e.cfg.CheckpointEvery:
				at = s.lastCk.Add(e.cfg.CheckpointEvery)
			case all:
				at = now
			}
			if !at.IsZero() {
				cks = append(cks, s.takeCheckpointLocked(now))
				due = append(due, at)
				taken = append(taken, s)
			}
		}
		s.mu.Unlock()
	}
	if len(cks) == 0 {
		return nil
	}
	if err := e.db.upsertCheckpoints(ctx, e.db.sql, cks); err != nil {
		for i, s := range taken { // written next time
			s.mu.Lock()
			s.markDirtyLocked(due[i])
			s.mu.Unlock()
		}
		return err
	}
	done := e.clock.Now()
	lags := make([]time.Duration, len(due))
	for i, d := range due {
		lags[i] = max(0, done.Sub(d))
	}
	e.stats.add(len(cks), lags)
	return nil
}
