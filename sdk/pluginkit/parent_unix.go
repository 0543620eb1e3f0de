//go:build !windows

package pluginkit

import (
	"os"
	"time"
)

// watchParent calls gone once the parent pid ppid is no longer this
// process's parent. On Unix an orphan is re-parented (to init or the nearest
// subreaper), so its parent pid changes the moment the host dies, whatever
// killed it, SIGKILL included.
//
// A host that died between forking this process and this first getppid
// leaves ppid already re-parented and goes unnoticed here; on Linux the
// host's Pdeathsig covers that window (the Go runtime checks the parent again
// right after setting it in the child).
func watchParent(ppid int, gone func()) {
	go func() {
		t := time.NewTicker(parentPoll)
		defer t.Stop()
		for range t.C {
			if os.Getppid() != ppid {
				gone()
				return
			}
		}
	}()
}
