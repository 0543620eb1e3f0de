//go:build !linux

package pluginhost

import "os/exec"

// dieWithHost does nothing where the kernel has no parent-death signal: the
// plugin's own parent watch (sdk/pluginkit) ends it when the host dies.
func dieWithHost(*exec.Cmd) {}

// startPinned just runs start: without Pdeathsig the forking thread does not
// matter.
func startPinned(start func() error, _ <-chan struct{}) error { return start() }
