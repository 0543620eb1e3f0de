package web

import (
	"context"
	"sync"
	"time"

	"github.com/camkit/camkit/core/accounts"
)

// directoryTTL is how long a directory listing (the approved models behind
// the home page, per search) is reused. The home page is the busiest page;
// a profile or rate change shows on it within this time, while who is on
// air is read fresh on every request.
const directoryTTL = 2 * time.Second

// directory caches accounts.Models per search for directoryTTL.
type directory struct {
	mu      sync.Mutex
	entries map[[2]string]dirEntry
}

type dirEntry struct {
	at     time.Time
	models []accounts.ModelProfile
}

const directoryKeys = 256

func (d *directory) models(ctx context.Context, acc *accounts.Service, q, tag string) ([]accounts.ModelProfile, error) {
	key := [2]string{q, tag}
	d.mu.Lock()
	e, ok := d.entries[key]
	d.mu.Unlock()
	if ok && time.Since(e.at) < directoryTTL {
		return e.models, nil
	}
	ms, err := acc.Models(ctx, accounts.ModelFilter{Query: q, Tag: tag, Limit: 1000})
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.entries == nil || len(d.entries) >= directoryKeys {
		d.entries = map[[2]string]dirEntry{}
	}
	d.entries[key] = dirEntry{at: time.Now(), models: ms}
	d.mu.Unlock()
	return ms, nil
}
