package plugintest

import (
	"net"
	"net/netip"
	"os"
	"testing"
)

// FuzzStateDir is a directory for a fuzz target's plugin state file: tmpfs
// when the machine has one, because a webhook that rewrites the state fsyncs
// it, and on disk that would be most of each execution.
func FuzzStateDir(f *testing.F, name string) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", name+"-fuzz-"); err == nil {
			f.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return f.TempDir()
}

// RemoteIn reports whether remote ("ip:port" or "ip") is an address of p, as
// an allow-list should judge it: no zone, an IPv4-mapped address as IPv4. It
// is the fuzz targets' independent check of a plugin's source-address gate.
func RemoteIn(remote string, p netip.Prefix) bool {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Zone() == "" && p.Contains(a.Unmap())
}
