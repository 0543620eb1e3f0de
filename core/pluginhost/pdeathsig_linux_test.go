package pluginhost_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/camkit/camkit/core/pluginhost"
)

// Pdeathsig fires when the thread that forked a plugin exits, not the host.
// Go ends a thread when a goroutine that locked it exits still locked; a
// plugin launched from such a goroutine must survive it (the host forks from
// a thread of its own that lives as long as the plugin).
func TestPluginOutlivesTheThreadThatLaunchedIt(t *testing.T) {
	h := pluginhost.NewHost(quiet(), nil)
	defer h.Close()
	var (
		in  *pluginhost.Instance
		err error
	)
	tid := onDoomedThread(func() { in, err = h.Launch(context.Background(), sandboxSpec(t)) })
	if err != nil {
		t.Fatal(err)
	}
	pid := in.Status().PID
	time.Sleep(500 * time.Millisecond) // a SIGKILL from the thread's end lands well within this
	if _, err := os.Stat(filepath.Join("/proc/self/task", strconv.Itoa(tid))); err == nil {
		t.Fatalf("thread %d that launched the plugin still exists: the test proves nothing", tid)
	}
	st := in.Status()
	if !alive(pid) || zombie(pid) || st.PID != pid || st.Restarts != 0 || !st.Healthy {
		t.Fatalf("the plugin died with the thread that launched it: pid %d, status %+v", pid, st)
	}
}

// onDoomedThread runs f on an OS thread that the runtime ends right after
// (f's goroutine exits locked to it) and returns the thread's id. The main
// thread is never ended, so f never runs there.
func onDoomedThread(f func()) (tid int) {
	done := make(chan struct{})
	var run func()
	run = func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if syscall.Gettid() == os.Getpid() {
			go run() // hold the main thread so that the next try lands elsewhere
			<-done
			runtime.UnlockOSThread()
			return
		}
		f()
		tid = syscall.Gettid()
		close(done)
	}
	go run()
	<-done
	return tid
}
