package processorkit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"pgregory.net/rapid"
)

type storeRec struct {
	Amount int64  `json:"amount"`
	Status string `json:"status"`
}

type storeState struct {
	Ops     Ops                  `json:"ops"`
	Records map[string]*storeRec `json:"records"`
	Counter int64                `json:"counter"`
	Bad     any                  `json:"bad,omitempty"` // a value JSON cannot write
}

func freshStoreState() *storeState {
	return &storeState{Ops: Ops{}, Records: map[string]*storeRec{}}
}

type storeFixture struct {
	t    *testing.T
	mu   sync.Mutex
	path string
	s    *Store[storeState]
	opts StoreOptions
}

func openFixture(t *testing.T, path string, opts StoreOptions) *storeFixture {
	t.Helper()
	f := &storeFixture{t: t, path: path, opts: opts}
	f.reopen()
	return f
}

func (f *storeFixture) reopen() {
	f.t.Helper()
	if f.s != nil {
		if err := f.s.Close(); err != nil {
			f.t.Fatal(err)
		}
	}
	s, err := OpenStore(f.path, freshStoreState, &f.mu, f.opts)
	if err != nil {
		f.t.Fatal(err)
	}
	f.s = s
	f.t.Cleanup(func() { s.Close() })
}

// commit runs change under the lock, stages what it touched and waits.
func (f *storeFixture) commit(change func(st *storeState, touch func(table, key string))) error {
	f.mu.Lock()
	change(f.s.State(), f.s.Touch)
	tk, err := f.s.Stage()
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return tk.Wait()
}

func (f *storeFixture) put(key string, amount int64) error {
	return f.commit(func(st *storeState, touch func(string, string)) {
		st.Records[key] = &storeRec{Amount: amount, Status: "open"}
		touch("records", key)
	})
}

func (f *storeFixture) snapshot() *storeState {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := *f.s.State()
	cp := freshStoreState()
	for k, v := range st.Records {
		r := *v
		cp.Records[k] = &r
	}
	for k, v := range st.Ops {
		r := *v
		cp.Ops[k] = &r
	}
	cp.Counter = st.Counter
	return cp
}

func sameState(t *testing.T, what string, got, want *storeState) {
	t.Helper()
	if !reflect.DeepEqual(got.Records, want.Records) || got.Counter != want.Counter || len(got.Ops) != len(want.Ops) {
		t.Fatalf("%s: state differs\n got %+v\nwant %+v", what, got, want)
	}
	for k, w := range want.Ops {
		g := got.Ops[k]
		if g == nil || g.Fingerprint != w.Fingerprint || g.Status != w.Status || !bytes.Equal(g.Result, w.Result) {
			t.Fatalf("%s: op %q = %+v, want %+v", what, k, g, w)
		}
	}
}

func TestStoreRoundTripAndLoadState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	f := openFixture(t, path, StoreOptions{Name: "test"})
	for i := 0; i < 20; i++ {
		if err := f.put(fmt.Sprint("r", i), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := DoneRecord("fp", map[string]string{"ref": "x"}, time.Unix(1, 0).UTC(), time.Unix(2, 0).UTC())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.commit(func(st *storeState, touch func(string, string)) {
		delete(st.Records, "r3")
		touch("records", "r3")
		st.Records["r4"].Status = "captured"
		touch("records", "r4")
		st.Ops["k"] = rec
		touch("ops", "k")
		st.Counter = 42
		touch("counter", "")
	}); err != nil {
		t.Fatal(err)
	}
	want := f.snapshot()
	if len(want.Records) != 19 || want.Records["r4"].Status != "captured" {
		t.Fatalf("in memory: %+v", want.Records)
	}
	f.reopen()
	sameState(t, "after reopen", f.snapshot(), want)
	back, err := LoadState(path, freshStoreState)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, "LoadState", back, want)
}

// A crash in the middle of a write leaves a torn last line; no caller was
// told about its commits, so it is dropped, cut off, and writing goes on.
func TestStoreTornLastLineIsIgnored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f := openFixture(t, path, StoreOptions{})
	for i := 0; i < 5; i++ {
		if err := f.put(fmt.Sprint("r", i), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	want := f.snapshot()
	if err := f.s.Close(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(JournalPath(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, torn := range []string{
		`{"n":6,"r":[{"t":"records","k":"r9","v":{"amount":9,"sta`,                  // cut mid-line, no newline
		`{"n":6,"r":[{"t":"records","k":"r9","v":{"amo` + "\x00\x00\x00\x00" + "\n", // a page never reached the disk
		"\x00\x00\x00\x00\x00",
	} {
		if err := os.WriteFile(JournalPath(path), append(append([]byte{}, good...), torn...), 0o600); err != nil {
			t.Fatal(err)
		}
		f.s = nil
		f.reopen()
		sameState(t, fmt.Sprintf("torn %q", torn), f.snapshot(), want)
		if got, _ := os.ReadFile(JournalPath(path)); !bytes.Equal(got, good) {
			t.Fatalf("torn tail not cut off: %q", got[len(good):])
		}
		if err := f.put("after", 1); err != nil {
			t.Fatal(err)
		}
		f.reopen()
		if f.snapshot().Records["after"] == nil {
			t.Fatal("a commit after the torn line was lost")
		}
		if err := f.commit(func(st *storeState, touch func(string, string)) {
			delete(st.Records, "after")
			touch("records", "after")
		}); err != nil {
			t.Fatal(err)
		}
		if err := f.s.Close(); err != nil {
			t.Fatal(err)
		}
		good, _ = os.ReadFile(JournalPath(path))
	}
}

// Only the last line can be torn: a bad line with a good one after it was
// fsynced once, so it is corruption, and starting without it could forget an
// idempotency record.
func TestStoreCorruptMiddleLineIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f := openFixture(t, path, StoreOptions{})
	for i := 0; i < 3; i++ {
		if err := f.put(fmt.Sprint("r", i), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.s.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(JournalPath(path))
	lines := strings.SplitAfter(string(data), "\n")
	lines[1] = "{garbage}\n"
	if err := os.WriteFile(JournalPath(path), []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(path, freshStoreState, &f.mu, StoreOptions{}); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("OpenStore over a corrupt middle line = %v, want a corrupt-journal error", err)
	}
	if _, err := LoadState(path, freshStoreState); err == nil {
		t.Fatal("LoadState accepted a corrupt journal")
	}
}

// A failed write undoes every commit that is not durable, in memory too, and
// answers each with a retryable Unavailable; the store goes on afterwards.
func TestStoreWriteFailureRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f := openFixture(t, path, StoreOptions{})
	if err := f.put("kept", 1); err != nil {
		t.Fatal(err)
	}
	f.s.failNext = func() error { f.s.failNext = nil; return errors.New("disk full") }
	err := f.put("lost", 2)
	if !errs.IsRetryable(err) || errs.CodeOf(err) != errs.Unavailable || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("failed write: %v, want retryable unavailable", err)
	}
	if got := f.snapshot(); got.Records["lost"] != nil || got.Records["kept"] == nil {
		t.Fatalf("after a failed write memory must be what the disk holds: %+v", got.Records)
	}
	if err := f.put("later", 3); err != nil {
		t.Fatal(err)
	}
	f.reopen()
	if got := f.snapshot(); got.Records["lost"] != nil || got.Records["kept"] == nil || got.Records["later"] == nil {
		t.Fatalf("after reopen: %+v", got.Records)
	}
}

// A change that cannot be encoded is refused and undone.
func TestStoreUnencodableChangeIsUndone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f := openFixture(t, path, StoreOptions{})
	if err := f.put("kept", 1); err != nil {
		t.Fatal(err)
	}
	err := f.commit(func(st *storeState, touch func(string, string)) {
		st.Records["x"] = &storeRec{Amount: 5}
		touch("records", "x")
		st.Bad = make(chan int)
		touch("bad", "")
	})
	if !errs.IsRetryable(err) || errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("unencodable change: %v", err)
	}
	// The undo happens on the writer; a later commit waits for it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = f.put("next", 2)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := f.snapshot(); got.Records["x"] != nil || got.Records["kept"] == nil || got.Records["next"] == nil {
		t.Fatalf("after an unencodable change: %+v", got.Records)
	}
}

// Concurrent commits share a write: while one line is being written every
// other commit waits for the next, and each is durable when Wait returns.
func TestStoreGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f := openFixture(t, path, StoreOptions{})
	release := make(chan struct{})
	first := true
	f.s.failNext = func() error {
		if first {
			first = false
			<-release
		}
		return nil
	}
	const n = 50
	var wg sync.WaitGroup
	errc := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- f.put(fmt.Sprint("r", i), int64(i))
		}()
	}
	for {
		f.mu.Lock()
		staged := f.s.staged
		f.mu.Unlock()
		if staged == n {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(JournalPath(path))
	if lines := bytes.Count(data, []byte("\n")); lines != 2 {
		t.Fatalf("%d commits took %d writes, want 2 (the first alone, the rest together)", n, lines)
	}
	f.reopen()
	if got := len(f.snapshot().Records); got != n {
		t.Fatalf("%d records after reopen, want %d", got, n)
	}
}

// Compaction folds the journal into the snapshot; a crash between writing the
// snapshot and emptying the journal replays the old journal over the newer
// snapshot, which must change nothing.
func TestStoreCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f := openFixture(t, path, StoreOptions{CompactMin: 512, CompactRatio: 2})
	for i := 0; i < 200; i++ {
		if err := f.put(fmt.Sprint("r", i%37), int64(i)); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			if err := f.commit(func(st *storeState, touch func(string, string)) {
				delete(st.Records, fmt.Sprint("r", (i+3)%37))
				touch("records", fmt.Sprint("r", (i+3)%37))
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := f.snapshot()
	if err := f.s.Close(); err != nil {
		t.Fatal(err)
	}
	snap, _ := os.Stat(path)
	j, _ := os.Stat(JournalPath(path))
	if snap == nil || j.Size() > 2*snap.Size()+2048 {
		t.Fatalf("journal never compacted: snapshot %v, journal %d bytes", snap, j.Size())
	}
	f.s = nil
	f.reopen()
	sameState(t, "after compaction", f.snapshot(), want)

	// The crash window: a full snapshot written, the journal not emptied.
	if err := f.put("r1", 1000); err != nil {
		t.Fatal(err)
	}
	if err := f.commit(func(st *storeState, touch func(string, string)) { delete(st.Records, "r2"); touch("records", "r2") }); err != nil {
		t.Fatal(err)
	}
	want = f.snapshot()
	if err := f.s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := SaveJSON(path, want); err != nil {
		t.Fatal(err)
	}
	f.s = nil
	f.reopen()
	sameState(t, "old journal over a newer snapshot", f.snapshot(), want)
}

// Property: whatever sequence of commits (puts, deletes, scalar writes) and
// reopenings, the state replayed from disk equals the state in memory.
func TestStoreReplayEqualsState(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		path := filepath.Join(t.TempDir(), "state.json")
		var mu sync.Mutex
		opts := StoreOptions{CompactMin: int64(rapid.IntRange(64, 4096).Draw(rt, "compactMin")), CompactRatio: rapid.IntRange(1, 4).Draw(rt, "ratio")}
		s, err := OpenStore(path, freshStoreState, &mu, opts)
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { s.Close() }()
		model := freshStoreState()
		keys := []string{"a", "b", "c", "d", "e"}
		for i, n := 0, rapid.IntRange(1, 60).Draw(rt, "steps"); i < n; i++ {
			switch rapid.IntRange(0, 9).Draw(rt, "op") {
			case 0:
				if err := s.Close(); err != nil {
					rt.Fatal(err)
				}
				if s, err = OpenStore(path, freshStoreState, &mu, opts); err != nil {
					rt.Fatal(err)
				}
			default:
				mu.Lock()
				st := s.State()
				for j, m := 0, rapid.IntRange(1, 3).Draw(rt, "changes"); j < m; j++ {
					k := rapid.SampledFrom(keys).Draw(rt, "key")
					switch rapid.IntRange(0, 3).Draw(rt, "kind") {
					case 0:
						delete(st.Records, k)
						delete(model.Records, k)
					case 1:
						st.Counter++
						model.Counter = st.Counter
						s.Touch("counter", "")
						continue
					default:
						v := rapid.Int64().Draw(rt, "amount")
						st.Records[k] = &storeRec{Amount: v, Status: "s"}
						model.Records[k] = &storeRec{Amount: v, Status: "s"}
					}
					s.Touch("records", k)
				}
				tk, err := s.Stage()
				mu.Unlock()
				if err != nil {
					rt.Fatal(err)
				}
				if err := tk.Wait(); err != nil {
					rt.Fatal(err)
				}
			}
		}
		if err := s.Close(); err != nil {
			rt.Fatal(err)
		}
		back, err := LoadState(path, freshStoreState)
		if err != nil {
			rt.Fatal(err)
		}
		if !reflect.DeepEqual(back.Records, model.Records) || back.Counter != model.Counter {
			rt.Fatalf("replayed %+v counter %d, want %+v counter %d", back.Records, back.Counter, model.Records, model.Counter)
		}
	})
}
