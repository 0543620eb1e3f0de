package tipping

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemStore keeps goals and menus in memory, for unit tests.
type MemStore struct {
	mu    sync.Mutex
	goals map[string]Goal
	menus map[string][]Item
}

// NewMemStore is an empty store.
func NewMemStore() *MemStore {
	return &MemStore{goals: map[string]Goal{}, menus: map[string][]Item{}}
}

func (m *MemStore) Goal(_ context.Context, modelID string) (Goal, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.goals[modelID]
	return g, ok, nil
}

func (m *MemStore) PutGoal(_ context.Context, g Goal) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	g.SetAt = g.SetAt.UTC()
	m.goals[g.ModelID] = g
	return nil
}

func (m *MemStore) DeleteGoal(_ context.Context, modelID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.goals, modelID)
	return nil
}

func (m *MemStore) MarkReached(_ context.Context, modelID string, setAt time.Time, times int) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.goals[modelID]
	if !ok || !g.SetAt.Equal(setAt) || g.Reached >= times {
		return false, nil
	}
	g.Reached = times
	m.goals[modelID] = g
	return true, nil
}

func (m *MemStore) Menu(_ context.Context, modelID string) ([]Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.menus[modelID]), nil
}

func (m *MemStore) PutMenu(_ context.Context, modelID string, items []Item) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(items) == 0 {
		delete(m.menus, modelID)
		return nil
	}
	m.menus[modelID] = slices.Clone(items)
	return nil
}
