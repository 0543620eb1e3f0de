package processorkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/camkit/camkit/sdk/errs"
)

// LoadJSON reads the JSON file at path into dst. A missing file leaves dst as
// it is (a first start); a file that does not decode is an error, because
// starting empty would forget idempotency records and could charge twice.
func LoadJSON(path string, dst any) error {
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

// SaveJSON writes v to path atomically: a temporary file in the same
// directory, synced, then renamed over the old one, so a crash leaves the old
// state or the new one and never half of one.
func SaveJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

func writeFileAtomic(path string, b []byte) error {
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
	syncDir(dir) // make the rename itself durable
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// LoadState reads a plugin's state file into a state made by fresh, so keys
// missing from an older file keep the empty maps fresh gives them. A journal
// beside the file (see Store) is replayed over it, so the state read is the
// one a Store would open.
//
// It first takes the state's lock (see LockPath) for the rest of the
// process's life: a plugin that loads its state keeps writing it with
// SaveState. While another process holds it, LoadState fails (after a short
// wait) with an error naming the file and that process's pid.
func LoadState[S any](path string, fresh func() *S) (*S, error) {
	if _, err := lockState(path, true); err != nil {
		return nil, err
	}
	return loadState(path, fresh)
}

func loadState[S any](path string, fresh func() *S) (*S, error) {
	st := fresh()
	if err := LoadJSON(path, st); err != nil {
		return nil, err
	}
	if err := replayJournal(path, st); err != nil {
		return nil, err
	}
	return st, nil
}

// SaveState writes st to path and returns the state the plugin must keep.
// When the write fails, the plugin's memory would be ahead of its file: the
// file is read back and returned instead (st itself if even that fails), with
// a retryable errs.Unavailable naming plugin, so the caller's change is
// neither acted on nor lost silently. Like LoadState it holds the state's
// lock, and writes nothing while another process does.
func SaveState[S any](plugin, path string, st *S, fresh func() *S) (*S, error) {
	if _, err := lockState(path, true); err != nil {
		return st, errs.Retry(errs.Unavailable, "%s: writing state: %v", plugin, err)
	}
	if err := SaveJSON(path, st); err != nil {
		if back, lerr := loadState(path, fresh); lerr == nil {
			st = back
		}
		return st, errs.Retry(errs.Unavailable, "%s: writing state: %v", plugin, err)
	}
	return st, nil
}
