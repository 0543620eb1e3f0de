// Package plugintest holds the conformance suites a plugin author runs against
// a BUILT plugin binary, one per kind (Processor, Currency, Split, Theme), and
// the launcher they share. A suite talks to the plugin exactly as the host
// does: a separate process, the camkit handshake, gRPC only, AutoMTLS.
package plugintest

import (
	"bytes"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Launch starts the plugin binary at binaryPath the way the host does (camkit
// handshake, gRPC only, AutoMTLS), dispenses kind through p (the kind's
// GRPCPlugin, e.g. &processor.Plugin{}) and kills the process when the test
// ends. It returns the dispensed client and the go-plugin client, which a test
// may Kill early to restart the plugin. Extra environment for the plugin
// process can be passed as "KEY=value" strings.
func Launch(t testing.TB, binaryPath string, kind pluginkit.Kind, p plugin.Plugin, env ...string) (any, *plugin.Client) {
	t.Helper()
	cmd := exec.Command(binaryPath)
	cmd.Env = append(os.Environ(), env...)
	logs := &testLog{t: t}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  pluginkit.Handshake,
		Plugins:          plugin.PluginSet{string(kind): p},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		GRPCDialOptions:  pluginkit.GRPCDialOptions(),
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: logs, Level: hclog.Info}),
	})
	// Cleanups run last-in first-out: the log is detached from t only after
	// the process is gone.
	t.Cleanup(logs.detach)
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("launch %s: %v", binaryPath, err)
	}
	raw, err := rpc.Dispense(string(kind))
	if err != nil {
		t.Fatalf("dispense %s from %s: %v", kind, binaryPath, err)
	}
	return raw, client
}

// testLog shows the plugin's stderr in the test's output (only on failure or
// with -v). go-plugin forwards stderr from its own goroutine, which may write
// after the test ended; from then on lines go to os.Stderr instead of t.
type testLog struct {
	mu       sync.Mutex
	t        testing.TB
	detached bool
}

func (l *testLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.detached {
		return os.Stderr.Write(b)
	}
	l.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

func (l *testLog) detach() {
	l.mu.Lock()
	l.detached = true
	l.mu.Unlock()
}
