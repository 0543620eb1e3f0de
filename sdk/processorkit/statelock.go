package processorkit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// A plugin's state file and journal have one writer: the process that holds
// the state's lock. Two processes on one state would each keep the journal's
// records in memory and write over the other's (a second host started beside
// the first, an orphan of a crashed host), forgetting idempotency records and
// holds: money charged twice or never released.
//
// The lock is an exclusive flock (LockFileEx on Windows) on a file beside the
// state, <state file>.lock, never on the state file itself: SaveJSON and
// compaction replace the state file by a rename, which would leave a lock on
// the old inode. The lock file holds the pid of its holder, for the error a
// second process gets, and is never removed (removing it would let a third
// process lock a new file while the second still holds the old one). The
// kernel drops the lock when its process exits, however it exits.
//
// Within one process the lock is shared: LoadState and SaveState pin it for
// the life of the process (a plugin that reads its state once keeps writing
// it until it exits); each Store holds a reference until Close.

// LockPath is the lock file of the state file at path.
func LockPath(path string) string { return path + ".lock" }

// lockWait is how long a process waits for the state's lock before failing.
// It covers a predecessor that is still dying: a plugin of a host that was
// just killed exits within a fraction of a second (Pdeathsig, or its own
// parent watch), and a restarted host should not fail because it was quicker.
const lockWait = 2 * time.Second

var stateLocks = struct {
	mu sync.Mutex
	m  map[string]*stateLock
}{m: map[string]*stateLock{}}

// stateLock is this process's hold on one state file's lock.
type stateLock struct {
	key    string // the lock file's absolute path
	f      *os.File
	refs   int  // open Stores
	pinned bool // taken by LoadState or SaveState: held until the process exits
}

// lockState takes the lock of the state file at path for this process, or
// returns the error a second process gets: the state file is in use, by
// which pid. pin keeps the lock for the life of the process; otherwise the
// caller releases its reference with unlockState.
func lockState(path string, pin bool) (*stateLock, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	key := LockPath(abs)
	stateLocks.mu.Lock()
	defer stateLocks.mu.Unlock()
	l := stateLocks.m[key]
	if l == nil {
		f, err := acquire(abs, key)
		if err != nil {
			return nil, err
		}
		l = &stateLock{key: key, f: f}
		stateLocks.m[key] = l
	}
	if pin {
		l.pinned = true
	} else {
		l.refs++
	}
	return l, nil
}

// unlockState drops a Store's reference; the last one releases the lock
// unless LoadState or SaveState pinned it.
func unlockState(l *stateLock) {
	stateLocks.mu.Lock()
	defer stateLocks.mu.Unlock()
	if l.refs--; l.refs > 0 || l.pinned {
		return
	}
	delete(stateLocks.m, l.key)
	unlockFile(l.f)
	l.f.Close()
}

// acquire opens and locks the lock file key of the state file abs, waiting
// up to lockWait for another holder to go, and records this process's pid in
// it.
func acquire(abs, key string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(key, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state file %s: opening its lock %s: %w", abs, key, err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err = tryLockFile(f)
		if err == nil {
			break
		}
		if !errors.Is(err, errLocked) {
			f.Close()
			return nil, fmt.Errorf("state file %s: locking %s: %w", abs, key, err)
		}
		if time.Now().After(deadline) {
			holder := readPID(f)
			f.Close()
			return nil, fmt.Errorf("state file %s is in use by another process (pid %s): one plugin process per state file; stop the other one or give this one its own state_file", abs, holder)
		}
		time.Sleep(50 * time.Millisecond)
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if _, err := f.WriteAt(pid, 0); err == nil {
		f.Truncate(int64(len(pid)))
	}
	return f, nil
}

// errLocked is what tryLockFile returns when another process holds the lock.
var errLocked = errors.New("locked by another process")

// readPID reads the holder's pid from the lock file, "unknown" if it has not
// written it (yet).
func readPID(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	s := string(bytes.TrimSpace(b[:n]))
	if _, err := strconv.Atoi(s); err != nil {
		return "unknown"
	}
	return s
}
