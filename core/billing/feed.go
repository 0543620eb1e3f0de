package billing

import "sync"

// Feed is an EventSink that hands each event to every subscriber, in the
// order they subscribed. It lets billing be built before the services that
// react to its events (they take billing, so billing cannot take them):
// billing is given the Feed, and each subscriber is given the Feed and
// subscribes itself while it is built.
type Feed struct {
	mu   sync.RWMutex
	subs []EventSink
}

var _ EventSink = (*Feed)(nil)

// Subscribe adds a subscriber. Like every EventSink it is called from a
// seat's goroutine and must not block.
func (f *Feed) Subscribe(s EventSink) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, s)
}

// BillingEvent hands ev to every subscriber.
func (f *Feed) BillingEvent(ev Event) {
	f.mu.RLock()
	subs := f.subs
	f.mu.RUnlock()
	for _, s := range subs {
		s.BillingEvent(ev)
	}
}
