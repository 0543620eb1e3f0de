package web

import (
	"context"
	"log/slog"
	"sync"

	"github.com/camkit/camkit/sdk/processor"
)

// EventLog is the webhook sink while no core service consumes processor
// events (card checkouts and purchases are confirmed synchronously through
// CompleteCheckout and Charge): it logs each verified event once, dropping
// redeliveries by (processor, event id), so an operator sees chargebacks
// and refunds made in the processor's console.
type EventLog struct {
	Log *slog.Logger

	mu   sync.Mutex
	seen map[string]struct{}
	ring []string
}

var _ WebhookSink = (*EventLog)(nil)

const eventLogMemory = 10000

// HandleProcessorEvents logs the events not seen before.
func (l *EventLog) HandleProcessorEvents(_ context.Context, name string, events []processor.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]struct{}{}
	}
	for _, e := range events {
		key := name + "/" + e.ID
		if _, dup := l.seen[key]; dup && e.ID != "" {
			continue
		}
		l.seen[key] = struct{}{}
		l.ring = append(l.ring, key)
		if len(l.ring) > eventLogMemory {
			delete(l.seen, l.ring[0])
			l.ring = l.ring[1:]
		}
		if l.Log != nil {
			l.Log.Info("processor event", "processor", name, "id", e.ID, "type", e.Type, "reference", e.Reference,
				"related", e.RelatedReference, "amount", e.Amount.String(), "reason", e.Reason)
		}
	}
	return nil
}
