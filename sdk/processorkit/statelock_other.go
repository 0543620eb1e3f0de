//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || windows)

package processorkit

import "os"

// No file lock on this OS (plan9, wasm, aix): the state is not protected
// against a second process. A camkit host runs plugins only where go-plugin
// does, which is the systems above.
func tryLockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
