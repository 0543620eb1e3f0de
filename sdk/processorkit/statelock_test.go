package processorkit

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests below run a second process on one state file: the test binary
// itself, re-run with lockHelperEnv set, playing the part of a second plugin
// instance (see lockHelper).
const lockHelperEnv = "PROCESSORKIT_LOCK_HELPER"

func TestMain(m *testing.M) {
	if arg, ok := os.LookupEnv(lockHelperEnv); ok {
		mode, path, _ := strings.Cut(arg, ":")
		lockHelper(mode, path)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// lockHelper is the second process. It opens the state at path the way mode
// says and reports on stdout: "hold" opens a Store, writes a record, prints
// "held" and waits for stdin to close; "store" and "load" try OpenStore and
// LoadState once and print "ok" or "error: ...".
func lockHelper(mode, path string) {
	var mu sync.Mutex
	switch mode {
	case "hold":
		s, err := OpenStore(path, freshStoreState, &mu, StoreOptions{Name: "helper"})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		mu.Lock()
		s.State().Records["helper"] = &storeRec{Amount: 1, Status: "written by the first process"}
		s.Touch("records", "helper")
		tk, err := s.Stage()
		mu.Unlock()
		if err == nil {
			err = tk.Wait()
		}
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("held")
		bufio.NewReader(os.Stdin).ReadString('\n') // until the test closes stdin or kills this process
		s.Close()
	case "store":
		s, err := OpenStore(path, freshStoreState, &mu, StoreOptions{Name: "helper"})
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		s.Close()
		fmt.Println("ok")
	case "load":
		if _, err := LoadState(path, freshStoreState); err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Println("ok")
	}
}

// second runs the helper in mode on path and returns its one line.
func second(t *testing.T, mode, path string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+mode+":"+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %s: %v\n%s", mode, err, out)
	}
	return strings.TrimSpace(string(out))
}

// holder is the helper in "hold" mode; it holds the state until killed
// (its stdin, which would release it, stays open).
type holder struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
}

func hold(t *testing.T, path string) *holder {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), lockHelperEnv+"=hold:"+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &holder{cmd: cmd, stdin: stdin}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "held" {
		t.Fatalf("holder did not take the state: %q", line)
	}
	return h
}

func (h *holder) kill(t *testing.T) {
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	h.cmd.Wait()
}

func wantInUse(t *testing.T, got, path string, pid int) {
	t.Helper()
	abs, _ := filepath.Abs(path)
	want := fmt.Sprintf("state file %s is in use by another process (pid %d)", abs, pid)
	if !strings.Contains(got, want) {
		t.Fatalf("second process: %q\nwant an error containing %q", got, want)
	}
}

// A second process cannot open a state another holds, through either entry
// point, and is told which file and which pid; the first keeps working; once
// the first closes its Store the state is free again.
func TestSecondProcessCannotOpenAStateInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	var mu sync.Mutex
	s, err := OpenStore(path, freshStoreState, &mu, StoreOptions{Name: "first"})
	if err != nil {
		t.Fatal(err)
	}
	me := os.Getpid()
	start := time.Now()
	wantInUse(t, second(t, "store", path), path, me)
	if waited := time.Since(start); waited < lockWait {
		t.Fatalf("the second process gave up after %v, before lockWait (%v)", waited, lockWait)
	}
	wantInUse(t, second(t, "load", path), path, me)

	// The first is untouched: it still writes, and what it wrote is there.
	mu.Lock()
	s.State().Records["after"] = &storeRec{Amount: 2, Status: "still the only writer"}
	s.Touch("records", "after")
	tk, err := s.Stage()
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Wait(); err != nil {
		t.Fatalf("the first process could not write after the second was refused: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := second(t, "store", path); got != "ok" {
		t.Fatalf("after Close the state is still locked: %q", got)
	}
	back, err := loadState(path, freshStoreState)
	if err != nil || back.Records["after"] == nil || back.Records["after"].Status != "still the only writer" {
		t.Fatalf("the first process's write is lost: %+v, %v", back, err)
	}
}

// The lock is the kernel's: a holder killed with SIGKILL (no Close, no
// cleanup) frees the state at once, and a process already waiting for it
// gets it without failing.
func TestAKilledHolderFreesTheState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	h := hold(t, path)

	var mu sync.Mutex
	_, err := OpenStore(path, freshStoreState, &mu, StoreOptions{})
	if err == nil {
		t.Fatal("opened a state another process holds")
	}
	wantInUse(t, err.Error(), path, h.cmd.Process.Pid)
	if b, _ := os.ReadFile(LockPath(path)); strings.TrimSpace(string(b)) != strconv.Itoa(h.cmd.Process.Pid) {
		t.Fatalf("lock file holds %q, want the holder's pid %d", b, h.cmd.Process.Pid)
	}

	// The holder dies while this process waits for the lock.
	opened := make(chan error, 1)
	var s *Store[storeState]
	go func() {
		var err error
		s, err = OpenStore(path, freshStoreState, &mu, StoreOptions{})
		opened <- err
	}()
	time.Sleep(lockWait / 4)
	h.kill(t)
	if err := <-opened; err != nil {
		t.Fatalf("the state is still locked after its holder was killed: %v", err)
	}
	defer s.Close()
	if got := s.State().Records["helper"]; got == nil || got.Status != "written by the first process" {
		t.Fatalf("the holder's durable write is lost: %+v", got)
	}
}

// Within one process the lock is shared: a Store reopened before the last
// one closed, and LoadState beside a Store, do not lock the process out of
// its own state; the last Close frees it for other processes.
func TestOneProcessSharesItsLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	var mu1, mu2 sync.Mutex
	a, err := OpenStore(path, freshStoreState, &mu1, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenStore(path, freshStoreState, &mu2, StoreOptions{})
	if err != nil {
		t.Fatalf("a second Store in the same process: %v", err)
	}
	a.Close()
	wantInUse(t, second(t, "store", path), path, os.Getpid())
	b.Close()
	if got := second(t, "store", path); got != "ok" {
		t.Fatalf("after the last Close the state is still locked: %q", got)
	}

	// LoadState pins the lock for the life of the process.
	pinned := filepath.Join(t.TempDir(), "pinned.json")
	if _, err := LoadState(pinned, freshStoreState); err != nil {
		t.Fatal(err)
	}
	c, err := OpenStore(pinned, freshStoreState, &mu1, StoreOptions{})
	if err != nil {
		t.Fatalf("a Store beside LoadState in the same process: %v", err)
	}
	c.Close()
	wantInUse(t, second(t, "load", pinned), pinned, os.Getpid())
}
