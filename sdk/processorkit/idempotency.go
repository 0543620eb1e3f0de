package processorkit

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

// OpStatus is where one idempotency key stands.
type OpStatus string

const (
	// OpPending: the request may have reached the processor but its outcome
	// is unknown (timeout, 5xx, lost connection). A retry must find out what
	// happened before it sends anything again.
	OpPending  OpStatus = "pending"
	OpDone     OpStatus = "done"
	OpDeclined OpStatus = "declined"
)

// OpRecord is what a plugin remembers of one idempotency key: the content of
// the first request (Fingerprint), and its result, its decline, or what a
// retry needs to resolve an unknown outcome.
type OpRecord struct {
	Fingerprint string          `json:"fingerprint"`
	Status      OpStatus        `json:"status"`
	Ref         string          `json:"ref,omitempty"` // the order / transaction id sent with the request, to look it up by
	Result      json.RawMessage `json:"result,omitempty"`
	Err         *errs.Error     `json:"error,omitempty"`
	Pending     json.RawMessage `json:"pending,omitempty"` // processor-specific data for resolving an unknown outcome
	Started     time.Time       `json:"started"`
	Finished    time.Time       `json:"finished,omitzero"`
}

// Ops are a plugin's idempotency records by the host's key. They live inside
// the plugin's state and are guarded by the plugin's lock.
type Ops map[string]*OpRecord

// Fingerprint identifies a request's content for its idempotency record, so
// the same key with other content is told apart (errs.Conflict). It is JSON,
// so it is the same after a restart; only plain data may be passed in.
func Fingerprint(op string, parts ...any) string {
	b, err := json.Marshal(parts)
	if err != nil {
		panic("processorkit.Fingerprint: " + err.Error())
	}
	return op + string(b)
}

// Lookup is the first step of every money-moving call: a finished record is
// replayed (done true, with its result or its decline), the same key with
// another request is errs.Conflict (done true), a pending record is returned
// as a copy for the caller to resolve, and an unknown key returns nothing.
// The caller holds the lock that guards ops.
func Lookup[T any](ops Ops, key, fingerprint string) (pending *OpRecord, out T, done bool, err error) {
	rec := ops[key]
	if rec == nil {
		return nil, out, false, nil
	}
	if rec.Fingerprint != fingerprint {
		return nil, out, true, errs.E(errs.Conflict, "idempotency key %q was first used for another request", key)
	}
	if rec.Status == OpPending {
		cp := *rec
		return &cp, out, false, nil
	}
	out, err = Replay[T](key, rec)
	return nil, out, true, err
}

// Replay returns the recorded outcome of a finished record: its result, or
// a copy of its decline. A record carrying an error is a decline whatever its
// status says (records written before statuses existed have none).
func Replay[T any](key string, rec *OpRecord) (T, error) {
	var out T
	if rec.Status == OpDeclined || rec.Err != nil {
		if rec.Err == nil {
			return out, errs.E(errs.Declined, "declined")
		}
		e := *rec.Err
		return out, &e
	}
	if err := json.Unmarshal(rec.Result, &out); err != nil {
		return out, errs.E(errs.Internal, "recorded result of %q: %v", key, err)
	}
	return out, nil
}

// DoneRecord records result as the outcome of a request.
func DoneRecord(fingerprint string, result any, started, finished time.Time) (*OpRecord, error) {
	b, err := json.Marshal(result)
	if err != nil {
		return nil, errs.E(errs.Internal, "recording a result: %v", err)
	}
	return &OpRecord{Fingerprint: fingerprint, Status: OpDone, Result: b, Started: started, Finished: finished}, nil
}

// DeclinedRecord records a final decline, to be answered to every retry.
func DeclinedRecord(fingerprint string, decline error, started, finished time.Time) *OpRecord {
	return &OpRecord{Fingerprint: fingerprint, Status: OpDeclined, Err: AsError(decline), Started: started, Finished: finished}
}

// PendingRecord marks a request about to be sent; data (may be nil) is what
// a retry needs to find out what happened to it.
func PendingRecord(fingerprint string, data any, started time.Time) (*OpRecord, error) {
	rec := &OpRecord{Fingerprint: fingerprint, Status: OpPending, Started: started}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return nil, errs.E(errs.Internal, "recording a pending request: %v", err)
		}
		rec.Pending = b
	}
	return rec, nil
}

// AsError returns err as an *errs.Error, so it can be recorded and replayed
// with its code; a foreign error keeps its text under its errs code.
func AsError(err error) *errs.Error {
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	return &errs.Error{Code: errs.CodeOf(err), Message: err.Error()}
}
