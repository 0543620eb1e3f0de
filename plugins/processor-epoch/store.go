package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

// opStatus is where one idempotency key stands.
type opStatus string

const (
	// opPending: the request may have reached the processor but its outcome
	// is unknown (timeout, 5xx, lost connection). A retry must find out what
	// happened before it sends anything again.
	opPending  opStatus = "pending"
	opDone     opStatus = "done"
	opDeclined opStatus = "declined"
)

// opRecord is what the plugin remembers of one idempotency key.
type opRecord struct {
	Fingerprint string          `json:"fingerprint"`
	Status      opStatus        `json:"status"`
	Result      json.RawMessage `json:"result,omitempty"`
	Err         *errs.Error     `json:"error,omitempty"`
	Pending     json.RawMessage `json:"pending,omitempty"` // what a retry needs to resolve an unknown outcome
	Started     time.Time       `json:"started"`
	Finished    time.Time       `json:"finished,omitzero"`
}

// replay returns the recorded outcome of a finished record.
func replay[T any](key string, rec *opRecord) (T, error) {
	var out T
	if rec.Status == opDeclined {
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

// fingerprint identifies a request's content for its idempotency record. JSON,
// so that it is the same after a restart.
func fingerprint(op string, parts ...any) string {
	b, err := json.Marshal(parts)
	if err != nil { // only plain data is passed in
		panic(err)
	}
	return op + string(b)
}

func asErr(err error) *errs.Error {
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	return &errs.Error{Code: errs.CodeOf(err), Message: err.Error()}
}

// loadJSON reads path into dst; a missing file leaves dst as it is.
func loadJSON(path string, dst any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("state file %s is corrupt: %w", path, err)
	}
	return nil
}

// saveJSON writes v atomically (temporary file, fsync, rename), so a crash
// leaves the old state or the new one and never half of one.
func saveJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil { // make the rename itself durable
		d.Sync()
		d.Close()
	}
	return nil
}

// keyedLocks serialises work per name (a payment token, a transaction) while
// the network calls of unrelated names run side by side.
type keyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyedLock
}

type keyedLock struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedLocks) lock(name string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedLock{}
	}
	l := k.m[name]
	if l == nil {
		l = &keyedLock{}
		k.m[name] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, name)
		}
		k.mu.Unlock()
	}
}
