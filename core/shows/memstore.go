package shows

import (
	"context"
	"sort"
	"sync"
	"time"
)

// MemStore is a Store in process memory: what a single test host needs.
// Its state is lost with the process; a host runs on SQLStore.
type MemStore struct {
	mu         sync.Mutex
	broadcasts map[string]Broadcast
	requests   map[string]Request
	seats      map[string]LiveSeat
	keys       map[string]StoredKey // by model
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{broadcasts: map[string]Broadcast{}, requests: map[string]Request{}, seats: map[string]LiveSeat{}, keys: map[string]StoredKey{}}
}

func (m *MemStore) PutBroadcast(_ context.Context, b Broadcast) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.broadcasts[b.ID] = b
	return nil
}

func (m *MemStore) DeleteBroadcast(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.broadcasts, id)
	for rid, r := range m.requests {
		if r.ShowID == id {
			delete(m.requests, rid)
		}
	}
	return nil
}

func (m *MemStore) Broadcasts(context.Context) ([]Broadcast, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Broadcast, 0, len(m.broadcasts))
	for _, b := range m.broadcasts {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *MemStore) PutRequest(_ context.Context, r Request) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[r.ID] = r
	return nil
}

func (m *MemStore) DeleteRequest(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.requests, id)
	return nil
}

func (m *MemStore) Requests(context.Context) ([]Request, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Request, 0, len(m.requests))
	for _, r := range m.requests {
		out = append(out, r)
	}
	sortRequests(out)
	return out, nil
}

func (m *MemStore) PutSeat(_ context.Context, s LiveSeat) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seats[s.ID] = s
	return nil
}

func (m *MemStore) DeleteSeat(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.seats, id)
	return nil
}

func (m *MemStore) Seats(context.Context) ([]LiveSeat, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]LiveSeat, 0, len(m.seats))
	for _, s := range m.seats {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// sortRequests orders requests oldest first (ties by id).
func sortRequests(rs []Request) {
	sort.Slice(rs, func(i, j int) bool {
		if !rs[i].At.Equal(rs[j].At) {
			return rs[i].At.Before(rs[j].At)
		}
		return rs[i].ID < rs[j].ID
	})
}

func (m *MemStore) StreamKey(_ context.Context, modelID string) (StoredKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys[modelID], nil
}

func (m *MemStore) ModelOfStreamKey(_ context.Context, digest string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for model, k := range m.keys {
		if k.Digest == digest {
			return model, nil
		}
	}
	return "", nil
}

func (m *MemStore) PutStreamKey(_ context.Context, modelID string, k StoredKey, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[modelID] = k
	return nil
}

func (m *MemStore) CreateStreamKey(_ context.Context, modelID string, k StoredKey, _ time.Time) (StoredKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if have, ok := m.keys[modelID]; ok {
		return have, nil
	}
	m.keys[modelID] = k
	return k, nil
}
