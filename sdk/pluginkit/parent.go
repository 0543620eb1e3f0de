package pluginkit

import (
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
)

// A plugin must not outlive the host that started it: an orphan keeps its
// state file and journal locked (a restarted host's copy then cannot open
// them) and keeps answering nobody. On Linux the host asks the kernel to
// SIGKILL its children when it dies (Pdeathsig, core/pluginhost); Serve adds
// this watch so that every plugin, on every OS and under any host, also
// exits on its own when its parent goes away.

// parentPoll is how often a plugin on a Unix checks that its parent is still
// the process that started it. One getppid call per tick costs nothing
// measurable; an orphan is gone within this interval.
const parentPoll = 250 * time.Millisecond

// exitWithParent starts watching the process that started this one and exits
// the process when it goes away. Nothing is lost by exiting at once: a store
// answers a call only after its change is on disk.
func exitWithParent(log hclog.Logger) {
	ppid := os.Getppid()
	watchParent(ppid, func() {
		log.Warn("the host process went away; exiting", "host_pid", ppid)
		os.Exit(3) // not 0: the plugin did not end because it was asked to
	})
}
