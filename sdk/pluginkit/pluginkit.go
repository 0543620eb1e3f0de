// Package pluginkit holds what every camkit plugin kind shares: the go-plugin
// handshake, the kind names, and the Serve entry point that each kind package
// (processor, currency, split, theme) wraps in its own one-line Serve.
package pluginkit

import (
	"os"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// LogLevelEnv is the environment variable through which the host gives a
// plugin its log level (debug, info, warn or error).
const LogLevelEnv = "CAMKIT_PLUGIN_LOG_LEVEL"

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
//
// Its level is LogLevelEnv, which the host sets to its own log level (a
// plugin's environment holds nothing else of the host's: see core/pluginhost).
func Logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.LevelFromString(envOr(LogLevelEnv, "info")),
		Output:     os.Stderr,
		JSONFormat: true,
	})
}

// Serve runs the plugin until the host goes away: until the host kills it,
// or, should the host die without doing so (kill -9, a crash), within a
// fraction of a second of its death (see exitWithParent). Kind packages call
// it; plugin authors call processor.Serve, theme.Serve and so on.
func Serve(kind Kind, p plugin.Plugin) {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(pluginGCPercent)
	}
	log := Logger(string(kind))
	exitWithParent(log)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{string(kind): p},
		GRPCServer:      newGRPCServer,
		Logger:          log,
	})
}

// pluginGCPercent is the GOGC a plugin runs with unless its environment
// sets one. A plugin's live heap is a few megabytes, while a theme allocates
// a couple of hundred kilobytes per page (the page, its document, gRPC's
// copies): at Go's default of 100 it collected every twenty-odd pages, a
// fifth of its CPU. 400 lets the heap grow to five times the live data,
// still tens of megabytes at most, and cut the CPU of a home page round
// trip by about a quarter on the reference machine.
const pluginGCPercent = 400

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
