// Package pluginkit holds what every camkit plugin kind shares: the go-plugin
// handshake, the kind names, and the Serve entry point that each kind package
// (processor, currency, split, theme) wraps in its own one-line Serve.
package pluginkit

import (
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Kind names a plugin kind; it is also the key in go-plugin's plugin map.
type Kind string

const (
	KindProcessor Kind = "processor"
	KindCurrency  Kind = "currency"
	KindSplit     Kind = "split"
	KindTheme     Kind = "theme"
)

// Kinds lists every kind in a stable order.
var Kinds = []Kind{KindProcessor, KindCurrency, KindSplit, KindTheme}

// ProtocolVersion is the camkit plugin protocol version. Bump it only for an
// incompatible change of the protobuf contracts.
const ProtocolVersion = 1

// Handshake is shared by host and plugins. The cookie is not a secret: it only
// stops a plugin binary from being run by hand as if it were a program.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "CAMKIT_PLUGIN",
	MagicCookieValue: "b1e7c4a2-camkit-plugin-v1",
}

// Logger returns the hclog logger a plugin should use. It writes JSON to stderr,
// which go-plugin forwards to the host, where it is logged with the plugin's name.
// A plugin must never write to stdout: stdout carries the handshake.
func Logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.LevelFromString(envOr("CAMKIT_PLUGIN_LOG_LEVEL", "info")),
		Output:     os.Stderr,
		JSONFormat: true,
	})
}

// Serve runs the plugin until the host goes away. Kind packages call it; plugin
// authors call processor.Serve, theme.Serve and so on.
func Serve(kind Kind, p plugin.Plugin) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{string(kind): p},
		GRPCServer:      newGRPCServer,
		Logger:          Logger(string(kind)),
	})
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
