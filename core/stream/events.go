package stream

import "sync"

// eventQueue hands liveness events to the sink from one goroutine, in the
// order they happened, without making the media path wait for the sink.
type eventQueue struct {
	sink LivenessSink

	mu      sync.Mutex
	pending []LivenessEvent
	wake    chan struct{}
	closed  bool
	done    chan struct{}
}

func newEventQueue(sink LivenessSink) *eventQueue {
	q := &eventQueue{sink: sink, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go q.run()
	return q
}

func (q *eventQueue) push(ev LivenessEvent) {
	if q.sink == nil {
		return
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.pending = append(q.pending, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		closed := q.closed
		q.mu.Unlock()
		for _, ev := range batch {
			q.sink.Liveness(ev)
		}
		if closed && len(batch) == 0 {
			return
		}
		if len(batch) == 0 {
			<-q.wake
		}
	}
}

// close delivers what is queued, then stops.
func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	<-q.done
}
