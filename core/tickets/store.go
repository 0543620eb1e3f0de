package tickets

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

// Store keeps ticket shows and their tickets. SQLStore is the host's
// (PostgreSQL or SQLite); MemStore is for unit tests. Both keep one
// contract, tested on each.
type Store interface {
	// CreateShow stores a new show.
	CreateShow(ctx context.Context, sh Show) error
	// Show returns one show; errs.NotFound when there is none.
	Show(ctx context.Context, id string) (Show, error)
	// ShowsOfModel lists a model's shows, soonest start first: those in one
	// of states, or all of them when none is given. (Admission asks for
	// the running one on every WHEP viewer: the store filters, not Go.)
	ShowsOfModel(ctx context.Context, modelID string, states ...State) ([]Show, error)
	// Scheduled lists the shows still scheduled whose start is before
	// before, soonest first.
	ScheduledBefore(ctx context.Context, before time.Time) ([]Show, error)
	// Transition moves a show from one of from to to, stamping StartedAt
	// (Running) or EndedAt (Ended, Cancelled) with at. ok is false, and the
	// show is returned as it is, when it was in none of from.
	Transition(ctx context.Context, id string, from []State, to State, at time.Time) (sh Show, ok bool, err error)
	// ReserveTicket stores t unless its viewer already holds a ticket to
	// its show (that one is returned, fresh false). A new ticket beyond
	// capacity (> 0) is errs.Limit; one for a show not on sale (over, or
	// past its doors at t.BoughtAt) is errs.Invalid.
	ReserveTicket(ctx context.Context, t Ticket, capacity int) (Ticket, bool, error)
	// PutTicket updates a ticket's state and amounts.
	PutTicket(ctx context.Context, t Ticket) error
	// DeleteTicket removes a ticket whose hold was never placed.
	DeleteTicket(ctx context.Context, id string) error
	// Ticket returns one ticket; errs.NotFound when there is none.
	Ticket(ctx context.Context, id string) (Ticket, error)
	// Tickets lists a show's tickets, oldest first.
	Tickets(ctx context.Context, showID string) ([]Ticket, error)
	// TicketsOfViewer lists a viewer's tickets, newest first.
	TicketsOfViewer(ctx context.Context, viewerID string) ([]Ticket, error)
}

// MemStore is a Store in memory.
type MemStore struct {
	mu      sync.Mutex
	shows   map[string]Show
	tickets map[string]Ticket
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{shows: map[string]Show{}, tickets: map[string]Ticket{}}
}

func (m *MemStore) CreateShow(_ context.Context, sh Show) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.shows[sh.ID]; ok {
		return errs.E(errs.Conflict, "ticket show %s exists", sh.ID)
	}
	m.shows[sh.ID] = sh
	return nil
}

func (m *MemStore) Show(_ context.Context, id string) (Show, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, ok := m.shows[id]
	if !ok {
		return Show{}, errs.E(errs.NotFound, "no such ticket show")
	}
	return sh, nil
}

func (m *MemStore) ShowsOfModel(_ context.Context, modelID string, states ...State) ([]Show, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Show
	for _, sh := range m.shows {
		if sh.ModelID == modelID && (len(states) == 0 || slices.Contains(states, sh.State)) {
			out = append(out, sh)
		}
	}
	slices.SortFunc(out, func(a, b Show) int {
		if c := a.StartsAt.Compare(b.StartsAt); c != 0 {
			return c
		}
		return compare(a.ID, b.ID)
	})
	return out, nil
}

func (m *MemStore) ScheduledBefore(_ context.Context, before time.Time) ([]Show, error) {
	m.mu.Lock()
	var out []Show
	for _, sh := range m.shows {
		if sh.State == Scheduled && sh.StartsAt.Before(before) {
			out = append(out, sh)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Show) int {
		if c := a.StartsAt.Compare(b.StartsAt); c != 0 {
			return c
		}
		return compare(a.ID, b.ID)
	})
	return out, nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (m *MemStore) Transition(_ context.Context, id string, from []State, to State, at time.Time) (Show, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh, ok := m.shows[id]
	if !ok {
		return Show{}, false, errs.E(errs.NotFound, "no such ticket show")
	}
	if !slices.Contains(from, sh.State) {
		return sh, false, nil
	}
	sh.State = to
	stamp(&sh, to, at)
	m.shows[id] = sh
	return sh, true, nil
}

// stamp records when a show entered state to.
func stamp(sh *Show, to State, at time.Time) {
	if to == Running {
		sh.StartedAt = at
	} else if to.Over() {
		sh.EndedAt = at
	}
}

// onSale says why a show takes no new ticket at t, or nil when it does.
func onSale(sh Show, t time.Time) error {
	if sh.State.Over() {
		return errs.E(errs.Invalid, "this ticket show is %s: tickets are no longer sold", sh.State)
	}
	if !t.Before(sh.DoorsCloseAt) {
		return errs.E(errs.Invalid, "the doors of this ticket show have closed: tickets are no longer sold")
	}
	return nil
}

func (m *MemStore) ReserveTicket(_ context.Context, t Ticket, capacity int) (Ticket, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, x := range m.tickets {
		if x.ShowID != t.ShowID {
			continue
		}
		if x.ViewerID == t.ViewerID {
			return x, false, nil
		}
		n++
	}
	sh, ok := m.shows[t.ShowID]
	if !ok {
		return Ticket{}, false, errs.E(errs.NotFound, "no such ticket show")
	}
	if err := onSale(sh, t.BoughtAt); err != nil {
		return Ticket{}, false, err
	}
	if capacity > 0 && n >= capacity {
		return Ticket{}, false, soldOut(capacity)
	}
	m.tickets[t.ID] = t
	return t, true, nil
}

func soldOut(capacity int) error {
	return errs.E(errs.Limit, "this ticket show is sold out (%d tickets)", capacity)
}

func (m *MemStore) PutTicket(_ context.Context, t Ticket) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tickets[t.ID]; !ok {
		return errs.E(errs.NotFound, "no such ticket")
	}
	m.tickets[t.ID] = t
	return nil
}

func (m *MemStore) DeleteTicket(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.tickets, id)
	return nil
}

func (m *MemStore) Ticket(_ context.Context, id string) (Ticket, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tickets[id]
	if !ok {
		return Ticket{}, errs.E(errs.NotFound, "no such ticket")
	}
	return t, nil
}

func (m *MemStore) Tickets(_ context.Context, showID string) ([]Ticket, error) {
	return m.list(func(t Ticket) bool { return t.ShowID == showID }, 1), nil
}

func (m *MemStore) TicketsOfViewer(_ context.Context, viewerID string) ([]Ticket, error) {
	return m.list(func(t Ticket) bool { return t.ViewerID == viewerID }, -1), nil
}

// list returns the tickets keep takes, by purchase time (dir 1: oldest
// first, -1: newest first), then id.
func (m *MemStore) list(keep func(Ticket) bool, dir int) []Ticket {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Ticket
	for _, t := range m.tickets {
		if keep(t) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Ticket) int {
		if c := a.BoughtAt.Compare(b.BoughtAt); c != 0 {
			return dir * c
		}
		return dir * compare(a.ID, b.ID)
	})
	return out
}
