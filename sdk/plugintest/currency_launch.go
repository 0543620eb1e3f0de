package plugintest

import (
	"os"
	"os/exec"
	"testing"

	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// launchForKindSuite starts the plugin binary the way the host does (camkit
// handshake, gRPC only, AutoMTLS), dispenses kind and kills the process when
// the test ends. It stands in until the shared launcher in plugintest.go lands.
func launchForKindSuite(t testing.TB, binaryPath string, kind pluginkit.Kind, p plugin.Plugin) any {
	t.Helper()
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  pluginkit.Handshake,
		Plugins:          plugin.PluginSet{string(kind): p},
		Cmd:              exec.Command(binaryPath),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		// Not t.Log: go-plugin forwards the plugin's stderr from its own
		// goroutine, which may outlive the test.
		Logger: hclog.New(&hclog.LoggerOptions{Name: "plugintest", Output: os.Stderr, Level: hclog.Warn}),
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("launch %s: %v", binaryPath, err)
	}
	raw, err := rpc.Dispense(string(kind))
	if err != nil {
		t.Fatalf("dispense %s from %s: %v", kind, binaryPath, err)
	}
	return raw
}
