package processorkit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/camkit/camkit/sdk/errs"
)

type testState struct {
	Ops   Ops               `json:"ops"`
	Notes map[string]string `json:"notes"`
	Bad   any               `json:"bad,omitempty"` // a value JSON cannot write, to make a save fail
}

func freshTestState() *testState { return &testState{Ops: Ops{}, Notes: map[string]string{}} }

func TestLoadStateMissingFileIsFresh(t *testing.T) {
	st, err := LoadState(filepath.Join(t.TempDir(), "none.json"), freshTestState)
	if err != nil {
		t.Fatal(err)
	}
	if st.Ops == nil || st.Notes == nil || len(st.Ops)+len(st.Notes) != 0 {
		t.Fatalf("want fresh empty state, got %+v", st)
	}
}

func TestSaveStateRoundTripKeepsMissingKeysFresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	st := freshTestState()
	st.Notes["a"] = "b"
	got, err := SaveState("test", path, st, freshTestState)
	if err != nil || got != st {
		t.Fatalf("SaveState = %p, %v; want the same state, nil", got, err)
	}
	back, err := LoadState(path, freshTestState)
	if err != nil {
		t.Fatal(err)
	}
	if back.Notes["a"] != "b" || back.Ops == nil {
		t.Fatalf("round trip lost data: %+v", back)
	}
	// An older file without "ops" still gets a usable map.
	if err := os.WriteFile(path, []byte(`{"notes":{"x":"y"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	back, err = LoadState(path, freshTestState)
	if err != nil || back.Ops == nil || back.Notes["x"] != "y" {
		t.Fatalf("LoadState of a partial file = %+v, %v", back, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 2 || entries[0].Name() != "state.json" || entries[1].Name() != "state.json.lock" {
		t.Fatalf("want the state file and its lock, no temporary file; got %v", entries)
	}
}

func TestLoadStateCorruptFileIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadState(path, freshTestState); err == nil {
		t.Fatal("a corrupt state file was accepted: idempotency records would be forgotten")
	}
}

func TestSaveStateFailureRollsMemoryBackToTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	st := freshTestState()
	st.Notes["kept"] = "1"
	if _, err := SaveState("test", path, st, freshTestState); err != nil {
		t.Fatal(err)
	}
	st.Notes["lost"] = "2"
	st.Bad = make(chan int) // the write fails
	got, err := SaveState("test", path, st, freshTestState)
	if !errs.IsRetryable(err) || errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("failed write: err = %v, want retryable unavailable", err)
	}
	if got == st || got.Notes["lost"] != "" || got.Notes["kept"] != "1" {
		t.Fatalf("after a failed write memory must be what the file holds, got %+v", got.Notes)
	}
}
