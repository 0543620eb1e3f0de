package processorkit

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

// Journal binds AtMostOnce to a plugin's lock, idempotency records and state
// file. The plugin's own mutex guards its whole state; the journal takes it
// only around bookkeeping, never across a network call.
type Journal struct {
	Name string           // the plugin, for messages
	Mu   *sync.Mutex      // guards what Ops returns and what Save writes
	Ops  func() Ops       // the records (nil before Configure); called with Mu held
	Save func() error     // writes the state; called with Mu held
	Now  func() time.Time // the plugin's clock

	inflight map[string]bool // keys with a request on the wire; under Mu
}

// Attempt is one money-moving request under the host's idempotency key, for
// processors that can find a request again by an id sent with it (NMI's
// orderid, NETbilling's pre-fetched trans_id).
type Attempt[T any] struct {
	Key, Fingerprint string
	// Check tests local preconditions (the hold is open, the refund fits)
	// before a first attempt; it runs with Mu held. May be nil.
	Check func() error
	// NewRef picks the id the request is sent with and looked up by; it runs
	// once, before a first attempt, without Mu (it may call the processor).
	NewRef func(ctx context.Context) (string, error)
	// Lookup finds out what became of a request whose outcome is unknown:
	// found false means the processor never saw it, so it may be sent again.
	Lookup func(ctx context.Context, ref string) (out T, found bool, err error)
	// Send makes the request. Its error is an *errs.Error: a decline code
	// for a "no", retryable when the outcome is unknown, final when the
	// processor refused the request and moved nothing.
	Send func(ctx context.Context, ref string) (T, error)
	// Apply records the local effect of a success; it runs with Mu held.
	// May be nil.
	Apply func(out T)
}

// AtMostOnce runs a at most once per idempotency key:
//   - a finished key returns its recorded result or decline, the same key with
//     another request is errs.Conflict, and a key whose request is on the
//     wire right now is a retryable errs.Unavailable;
//   - before anything is sent a pending record with the request's id is
//     written, so a crash or a timeout leaves a trace;
//   - a retry of a pending key first looks the request up and sends it again
//     only when the processor never saw it;
//   - a result or a decline is recorded (and Apply run) before it is
//     returned; an unknown outcome stays pending; a final refusal forgets
//     the key, so the host may correct the cause and retry under it.
func AtMostOnce[T any](ctx context.Context, j *Journal, a Attempt[T]) (T, error) {
	var zero T
	j.Mu.Lock()
	ops := j.Ops()
	if ops == nil {
		j.Mu.Unlock()
		return zero, errs.Retry(errs.Unavailable, "%s processor is not configured yet", j.Name)
	}
	rec, out, done, err := Lookup[T](ops, a.Key, a.Fingerprint)
	if done {
		j.Mu.Unlock()
		return out, err
	}
	if j.inflight[a.Key] {
		j.Mu.Unlock()
		return zero, errs.Retry(errs.Unavailable, "%s: a request with idempotency key %q is still in flight", j.Name, a.Key)
	}
	pending := rec != nil
	if !pending && a.Check != nil {
		if err := a.Check(); err != nil {
			j.Mu.Unlock()
			return zero, err
		}
	}
	if j.inflight == nil {
		j.inflight = map[string]bool{}
	}
	j.inflight[a.Key] = true
	j.Mu.Unlock()
	defer func() {
		j.Mu.Lock()
		delete(j.inflight, a.Key)
		j.Mu.Unlock()
	}()

	var ref string
	if pending {
		ref = rec.Ref
		out, found, err := a.Lookup(ctx, ref)
		switch {
		case found && (err == nil || errs.IsDecline(err)):
			return finishAttempt(j, a, out, err)
		case err != nil:
			return zero, err // still unknown: stays pending
		}
	} else {
		if ref, err = a.NewRef(ctx); err != nil {
			return zero, err // nothing was sent
		}
		j.Mu.Lock()
		ops = j.Ops()
		ops[a.Key] = &OpRecord{Fingerprint: a.Fingerprint, Status: OpPending, Ref: ref, Started: j.Now().UTC()}
		if err := j.Save(); err != nil {
			delete(j.Ops(), a.Key)
			j.Mu.Unlock()
			return zero, err
		}
		j.Mu.Unlock()
	}

	out, err = a.Send(ctx, ref)
	switch {
	case err == nil || errs.IsDecline(err):
		return finishAttempt(j, a, out, err)
	case errs.IsRetryable(err):
		return zero, err // unknown outcome: stays pending
	}
	j.Mu.Lock()
	delete(j.Ops(), a.Key)
	serr := j.Save()
	j.Mu.Unlock()
	if serr != nil {
		return zero, serr
	}
	return zero, err
}

// finishAttempt records a result (or a decline) under the key.
func finishAttempt[T any](j *Journal, a Attempt[T], out T, declined error) (T, error) {
	var zero T
	j.Mu.Lock()
	defer j.Mu.Unlock()
	rec := j.Ops()[a.Key]
	if rec == nil { // the state was rolled back to a file written before the pending record
		rec = &OpRecord{Fingerprint: a.Fingerprint, Started: j.Now().UTC()}
		j.Ops()[a.Key] = rec
	}
	rec.Finished = j.Now().UTC()
	if declined != nil {
		rec.Status, rec.Err = OpDeclined, AsError(declined)
	} else {
		b, err := json.Marshal(out)
		if err != nil {
			return zero, errs.E(errs.Internal, "%s: recording a result: %v", j.Name, err)
		}
		rec.Status, rec.Result = OpDone, b
		if a.Apply != nil {
			a.Apply(out)
		}
	}
	if err := j.Save(); err != nil {
		return zero, err
	}
	if declined != nil {
		return zero, declined
	}
	return out, nil
}
