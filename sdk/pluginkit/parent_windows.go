//go:build windows

package pluginkit

import (
	"errors"

	"golang.org/x/sys/windows"
)

// watchParent calls gone once the process ppid has exited. Windows does not
// re-parent orphans (the parent pid never changes), so the plugin holds a
// handle to its parent and waits on it: no polling at all.
func watchParent(ppid int, gone func()) {
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(ppid))
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
		go gone() // no such process: the parent is already gone
		return
	}
	if err != nil {
		return // the parent exists but may not be watched; the host's Kill still ends this process
	}
	go func() {
		defer windows.CloseHandle(h)
		if ev, err := windows.WaitForSingleObject(h, windows.INFINITE); err == nil && ev == windows.WAIT_OBJECT_0 {
			gone()
		}
	}()
}
