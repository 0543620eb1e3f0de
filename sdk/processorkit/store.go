package processorkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

// Store keeps a plugin's state in memory and on disk as a snapshot (the state
// file, the JSON that SaveJSON writes and LoadState reads) plus an
// append-only journal beside it (the state file's path + ".journal").
//
// Rewriting the whole state file on every call costs O(records) per call and
// grows with every idempotency record ever kept; the journal costs O(what the
// call changed). A change is made durable in two steps:
//
//   - under the plugin's lock the plugin changes its state, names each record
//     it changed with Touch, and calls Stage, which encodes those records as
//     one commit and returns a Ticket;
//   - without the lock it calls Ticket.Wait, which returns once the commit is
//     on disk (written and fsynced) or has failed.
//
// One writer goroutine appends every commit staged since its last write as
// one line and fsyncs once, so concurrent callers share an fsync (group
// commit) while none answers before its change is durable. A line holds one
// or more whole commits, so a crash in the middle of a write loses only the
// last line, whose commits no caller was told about: loading ignores a torn
// last line. When the journal grows past CompactRatio times the snapshot it is
// folded into a new snapshot written atomically, so loading stays O(state).
//
// If a write fails the journal is cut back to its last good line, the state
// is reloaded from disk (in place: the plugin's pointer stays valid) and every
// commit not yet durable fails with a retryable errs.Unavailable, so memory
// never runs ahead of disk and no change is acted on without being kept.
//
// A read that answers from state another caller may have changed (a repeated
// idempotency key) must not answer before that change is durable either: it
// waits on Pending's ticket.
//
// State S must be a struct whose journaled fields are maps with string keys
// (a record is one map entry, named by the field's JSON name and its key) or
// any other JSON value (named by the field alone, with key "").
type Store[S any] struct {
	name        string
	path, jpath string
	fresh       func() *S
	mu          *sync.Mutex // the plugin's lock
	st          *S
	tables      map[string]table
	opts        StoreOptions
	d           *durability
	lock        *stateLock // held from OpenStore to Close

	// Under mu.
	dirty    map[recKey]struct{}
	order    []recKey
	buf      []byte // staged records, comma-separated, not yet written
	staged   uint64 // the last commit staged
	poisoned error  // a commit could not be encoded: Stage refuses until its effect is undone
	broken   error  // the journal could not be repaired: every commit fails
	closing  bool

	wake    chan struct{}
	stopped chan struct{}

	// Owned by the writer goroutine (and OpenStore before it starts).
	f        *os.File
	size     int64 // bytes of the journal known good
	snapSize int64
	lines    uint64
	failNext func() error // test hook: makes the next append fail
}

// StoreOptions tunes a Store; the zero value is ready to use.
type StoreOptions struct {
	// Name is the plugin, for messages.
	Name string
	// CompactRatio: the journal is folded into the snapshot once it is this
	// many times the snapshot's size (default 4) and at least CompactMin
	// bytes (default 1 MiB).
	CompactRatio int
	CompactMin   int64
	// Window, when set, is how long the writer waits after the first commit
	// of a group for others to join it. Without it a group is whatever was
	// staged while the previous write was fsyncing, which adds no latency.
	Window time.Duration
}

type table struct {
	index int
	isMap bool
	typ   reflect.Type // the map's element type, or the field's type
	key   reflect.Type // the map's key type
}

type recKey struct{ table, key string }

// journalRec is one record in a journal line: its new value, or its deletion.
type journalRec struct {
	T string          `json:"t"`
	K string          `json:"k,omitempty"`
	V json.RawMessage `json:"v,omitempty"`
	D bool            `json:"d,omitempty"`
}

// journalLine is one write: the commits of one group, in order.
type journalLine struct {
	N uint64       `json:"n"`
	R []journalRec `json:"r"`
}

// JournalPath is where the journal of the state file at path is kept.
func JournalPath(path string) string { return path + ".journal" }

// OpenStore loads the snapshot at path and replays its journal over it (a
// torn last line is dropped and cut off), then starts the writer. mu is the
// plugin's lock: it guards the state and is held by the caller of State,
// Touch, Stage and Pending. A file that does not decode is an error, because
// starting empty would forget idempotency records and could charge twice.
//
// The state's lock (see LockPath) is held from here to Close: while another
// process holds it, OpenStore fails (after a short wait) with an error naming
// the file and that process's pid, and reads and writes nothing.
func OpenStore[S any](path string, fresh func() *S, mu *sync.Mutex, opts StoreOptions) (*Store[S], error) {
	if opts.CompactRatio <= 0 {
		opts.CompactRatio = 4
	}
	if opts.CompactMin <= 0 {
		opts.CompactMin = 1 << 20
	}
	if opts.Name == "" {
		opts.Name = "plugin"
	}
	tables, err := tablesOf(reflect.TypeFor[S]())
	if err != nil {
		return nil, err
	}
	lock, err := lockState(path, false)
	if err != nil {
		return nil, err
	}
	s, err := openStore(path, fresh, mu, opts, tables, lock)
	if err != nil {
		unlockState(lock)
		return nil, err
	}
	return s, nil
}

func openStore[S any](path string, fresh func() *S, mu *sync.Mutex, opts StoreOptions, tables map[string]table, lock *stateLock) (*Store[S], error) {
	s := &Store[S]{name: opts.Name, path: path, jpath: JournalPath(path), fresh: fresh, mu: mu, tables: tables, opts: opts, lock: lock,
		d: newDurability(), dirty: map[recKey]struct{}{}, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	st := fresh()
	if err := LoadJSON(path, st); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil {
		s.snapSize = fi.Size()
	}
	_, statErr := os.Stat(s.jpath)
	f, err := os.OpenFile(s.jpath, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		syncDir(filepath.Dir(s.jpath)) // the new file's name is durable before anything is written to it
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	good, lines, err := replay(data, st, tables)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("state journal %s is corrupt: %w", s.jpath, err)
	}
	if good < int64(len(data)) { // a torn last line: no caller was told about it
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
	}
	s.f, s.size, s.lines, s.st = f, good, lines, st
	go s.run()
	return s, nil
}

// tablesOf finds the journaled fields of a state struct by JSON name.
func tablesOf(t reflect.Type) (map[string]table, error) {
	if t.Kind() != reflect.Struct {
		return nil, errs.E(errs.Internal, "processorkit: a Store's state must be a struct, not %s", t)
	}
	out := map[string]table{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			n, _, _ := strings.Cut(tag, ",")
			if n == "-" {
				continue
			}
			if n != "" {
				name = n
			}
		}
		tb := table{index: i, typ: f.Type}
		if f.Type.Kind() == reflect.Map && f.Type.Key().Kind() == reflect.String {
			tb.isMap, tb.typ, tb.key = true, f.Type.Elem(), f.Type.Key()
		}
		out[name] = tb
	}
	return out, nil
}

// State is the state the plugin works on. The pointer stays the same for the
// Store's life (a reload after a failed write replaces what it points to).
func (s *Store[S]) State() *S { return s.st }

// Touch names a record the current change wrote (or deleted: a key no longer
// in the map is journaled as deleted). table is the field's JSON name, key
// the map key ("" for a field that is not a map). The caller holds mu.
func (s *Store[S]) Touch(table, key string) {
	k := recKey{table, key}
	if _, ok := s.dirty[k]; ok {
		return
	}
	s.dirty[k] = struct{}{}
	s.order = append(s.order, k)
}

// Stage encodes the touched records as one commit for the writer and returns
// the ticket to wait on, without mu, before acting on the change. With
// nothing touched it returns Pending's ticket. The caller holds mu.
func (s *Store[S]) Stage() (Ticket, error) {
	order := s.order
	s.order = s.order[:0]
	clear(s.dirty)
	switch {
	case s.closing:
		return Ticket{}, errs.Retry(errs.Unavailable, "%s: the state store is closed", s.name)
	case s.broken != nil:
		return Ticket{}, errs.Retry(errs.Unavailable, "%s: writing state: %v", s.name, s.broken)
	case s.poisoned != nil:
		return Ticket{}, errs.Retry(errs.Unavailable, "%s: writing state: %v", s.name, s.poisoned)
	case len(order) == 0:
		return s.Pending(), nil
	}
	mark := len(s.buf)
	for _, k := range order {
		if err := s.encode(k); err != nil {
			// The change is in memory and cannot be written: undo it by
			// reloading from disk once what was staged before it is there.
			s.buf = s.buf[:mark]
			s.poisoned = err
			s.kick()
			return Ticket{}, errs.Retry(errs.Unavailable, "%s: writing state: %v", s.name, err)
		}
	}
	s.staged++
	s.kick()
	return Ticket{d: s.d, seq: s.staged}, nil
}

// Pending returns a ticket for every commit staged so far: a caller that
// answers from state it did not change itself waits on it first. The caller
// holds mu.
func (s *Store[S]) Pending() Ticket { return Ticket{d: s.d, seq: s.staged} }

func (s *Store[S]) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Store[S]) encode(k recKey) error {
	tb, ok := s.tables[k.table]
	if !ok {
		return fmt.Errorf("no field %q in the state", k.table)
	}
	rec := journalRec{T: k.table, K: k.key}
	v := reflect.ValueOf(s.st).Elem().Field(tb.index)
	if tb.isMap {
		e := v.MapIndex(reflect.ValueOf(k.key).Convert(tb.key))
		if !e.IsValid() {
			rec.D = true
		} else {
			b, err := json.Marshal(e.Interface())
			if err != nil {
				return fmt.Errorf("%s[%q]: %w", k.table, k.key, err)
			}
			rec.V = b
		}
	} else {
		b, err := json.Marshal(v.Interface())
		if err != nil {
			return fmt.Errorf("%s: %w", k.table, err)
		}
		rec.V = b
	}
	if len(s.buf) > 0 {
		s.buf = append(s.buf, ',')
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	s.buf = append(s.buf, b...)
	return nil
}

// Close writes what is staged, stops the writer, closes the journal and
// releases the state's lock. Call it without mu.
func (s *Store[S]) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		<-s.stopped
		return nil
	}
	s.closing = true
	s.mu.Unlock()
	s.kick()
	<-s.stopped
	err := s.f.Close()
	unlockState(s.lock)
	return err
}

// run is the writer: it appends each group of staged commits as one line,
// fsyncs, and resolves their tickets.
func (s *Store[S]) run() {
	defer close(s.stopped)
	for {
		<-s.wake
		if s.opts.Window > 0 {
			time.Sleep(s.opts.Window)
		}
		s.mu.Lock()
		buf, hi, poisoned, closing := s.buf, s.staged, s.poisoned != nil, s.closing
		s.buf = nil
		var snap []byte
		if len(buf) > 0 && !poisoned && s.size+int64(len(buf)) > max(s.opts.CompactMin, int64(s.opts.CompactRatio)*s.snapSize) {
			snap, _ = json.Marshal(s.st) // everything staged up to hi, and nothing after it
		}
		s.mu.Unlock()

		var err error
		if len(buf) > 0 {
			err = s.append(buf)
		}
		switch {
		case err != nil:
			s.rollback(err)
		case poisoned:
			s.mu.Lock()
			if rerr := s.reloadLocked(); rerr != nil {
				s.broken = rerr
			}
			s.poisoned = nil
			s.mu.Unlock()
			s.d.resolve(hi, nil)
		default:
			if snap != nil {
				s.compact(snap)
			}
			s.d.resolve(hi, nil)
		}
		if closing {
			s.mu.Lock()
			left := len(s.buf) > 0 || s.poisoned != nil
			s.mu.Unlock()
			if !left {
				return
			}
			s.kick()
		}
	}
}

func (s *Store[S]) append(buf []byte) error {
	if s.failNext != nil {
		if err := s.failNext(); err != nil {
			return err
		}
	}
	line := make([]byte, 0, len(buf)+32)
	line = append(line, `{"n":`...)
	line = strconv.AppendUint(line, s.lines+1, 10)
	line = append(line, `,"r":[`...)
	line = append(line, buf...)
	line = append(line, "]}\n"...)
	if _, err := s.f.Write(line); err != nil {
		return err
	}
	if err := s.f.Sync(); err != nil {
		return err
	}
	s.size += int64(len(line))
	s.lines++
	return nil
}

// rollback undoes everything not durable after a failed write: the journal
// is cut back to its last good line, the state reloaded from disk, and every
// commit staged so far fails.
func (s *Store[S]) rollback(cause error) {
	s.mu.Lock()
	if err := s.f.Truncate(s.size); err != nil {
		s.broken = err
	} else if err := s.f.Sync(); err != nil {
		s.broken = err
	}
	if err := s.reloadLocked(); err != nil && s.broken == nil {
		s.broken = err
	}
	s.buf, s.poisoned = nil, nil
	hi := s.staged
	s.mu.Unlock()
	s.d.resolve(hi, errs.Retry(errs.Unavailable, "%s: writing state: %v", s.name, cause))
}

// reloadLocked replaces the state with what the snapshot and the journal's
// good lines hold.
func (s *Store[S]) reloadLocked() error {
	st := s.fresh()
	if err := LoadJSON(s.path, st); err != nil {
		return err
	}
	data := make([]byte, s.size)
	if _, err := s.f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if _, _, err := replay(data, st, s.tables); err != nil {
		return err
	}
	*s.st = *st
	return nil
}

// compact writes snap (the state up to the last line written) as the new
// snapshot and empties the journal. A crash in between replays the old
// journal over the new snapshot, which changes nothing: every line only
// restates a record's value as of some moment the snapshot is past.
func (s *Store[S]) compact(snap []byte) {
	if err := writeFileAtomic(s.path, snap); err != nil {
		return // the journal still holds everything; try again later
	}
	s.snapSize = int64(len(snap))
	if err := s.f.Truncate(0); err != nil {
		return
	}
	if err := s.f.Sync(); err != nil {
		return
	}
	s.size = 0
}

// replay applies the journal's lines to st and returns the length of its
// good prefix. Only the last line may be bad (torn by a crash mid-write):
// every earlier one was fsynced before the next was written, so a bad line
// followed by another is corruption.
func replay(data []byte, st any, tables map[string]table) (good int64, lines uint64, err error) {
	root := reflect.ValueOf(st).Elem()
	for off := 0; off < len(data); {
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			break // no newline: the write stopped inside this line
		}
		raw := data[off : off+nl]
		var line journalLine
		if err := json.Unmarshal(raw, &line); err != nil {
			if off+nl+1 < len(data) && bytes.IndexByte(data[off+nl+1:], '\n') >= 0 {
				return 0, 0, fmt.Errorf("line at byte %d: %v", off, err)
			}
			break // a torn last line
		}
		for _, r := range line.R {
			if err := applyRec(root, tables, r); err != nil {
				return 0, 0, fmt.Errorf("line at byte %d: %v", off, err)
			}
		}
		off += nl + 1
		good, lines = int64(off), line.N
	}
	return good, lines, nil
}

func applyRec(root reflect.Value, tables map[string]table, r journalRec) error {
	tb, ok := tables[r.T]
	if !ok {
		return fmt.Errorf("no field %q in the state", r.T)
	}
	f := root.Field(tb.index)
	if !tb.isMap {
		v := reflect.New(tb.typ)
		if err := json.Unmarshal(r.V, v.Interface()); err != nil {
			return fmt.Errorf("%s: %v", r.T, err)
		}
		f.Set(v.Elem())
		return nil
	}
	if f.IsNil() {
		f.Set(reflect.MakeMap(f.Type()))
	}
	k := reflect.ValueOf(r.K).Convert(tb.key)
	if r.D {
		f.SetMapIndex(k, reflect.Value{})
		return nil
	}
	v := reflect.New(tb.typ)
	if err := json.Unmarshal(r.V, v.Interface()); err != nil {
		return fmt.Errorf("%s[%q]: %v", r.T, r.K, err)
	}
	f.SetMapIndex(k, v.Elem())
	return nil
}

// replayJournal applies the journal beside the state file at path, if there
// is one, to st (read-only: a torn last line is skipped, not cut off).
func replayJournal(path string, st any) error {
	data, err := os.ReadFile(JournalPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	tables, err := tablesOf(reflect.TypeOf(st).Elem())
	if err != nil {
		return err
	}
	if _, _, err := replay(data, st, tables); err != nil {
		return fmt.Errorf("state journal %s is corrupt: %w", JournalPath(path), err)
	}
	return nil
}

// durability tracks which commits are on disk; waiters do not need mu.
type durability struct {
	mu    sync.Mutex
	cond  *sync.Cond
	done  uint64 // every commit up to done is resolved
	fails []failRange
}

type failRange struct {
	lo, hi uint64
	err    error
}

func newDurability() *durability {
	d := &durability{}
	d.cond = sync.NewCond(&d.mu)
	return d
}

func (d *durability) resolve(hi uint64, err error) {
	d.mu.Lock()
	if hi > d.done {
		if err != nil {
			d.fails = append(d.fails, failRange{lo: d.done + 1, hi: hi, err: err})
		}
		d.done = hi
	}
	d.mu.Unlock()
	d.cond.Broadcast()
}

// Ticket is a staged commit (or everything staged at some moment).
type Ticket struct {
	d   *durability
	seq uint64
}

// Wait blocks until the commit is durable (nil) or failed (a retryable
// errs.Unavailable; the change was undone). Call it without the plugin's lock.
func (t Ticket) Wait() error {
	if t.d == nil || t.seq == 0 {
		return nil
	}
	d := t.d
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.done < t.seq {
		d.cond.Wait()
	}
	for _, f := range d.fails {
		if f.lo <= t.seq && t.seq <= f.hi {
			return f.err
		}
	}
	return nil
}
