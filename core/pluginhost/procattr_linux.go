//go:build linux

package pluginhost

import (
	"os/exec"
	"runtime"
	"syscall"
)

// dieWithHost asks the kernel to SIGKILL the plugin the moment the host dies,
// however it dies (kill -9, a crash, the OOM killer), when no deferred Kill
// runs. Each plugin also exits on its own when its parent goes away
// (pluginkit's parent watch, on every OS); this makes it immediate and covers
// a host that dies before the plugin has started watching.
func dieWithHost(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// startPinned runs start, which forks the plugin, on an OS thread that lives
// until done is closed (after the plugin has exited).
//
// Pdeathsig fires when the *thread* that forked the child exits, not the
// process (prctl(2): "the parent is considered to be the thread that created
// this process"). Go starts children from whatever thread the calling
// goroutine runs on, and the runtime ends a thread when a goroutine that
// locked it (runtime.LockOSThread) exits without unlocking; any library in
// the host may do that. A plugin forked from such a thread would be killed
// with a healthy host. So the fork runs on a thread locked to a goroutine of
// ours that waits, parked, for as long as the plugin runs: no other
// goroutine can run on, lock or end that thread meanwhile. It costs one idle
// thread per plugin process.
func startPinned(start func() error, done <-chan struct{}) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread() // the plugin is gone: the thread may serve anyone
		err := start()
		errc <- err
		if err == nil {
			<-done
		}
	}()
	return <-errc
}
