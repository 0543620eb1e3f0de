// Command camkit is the host binary. It only wires: configuration, the
// database, the plugin processes and the core services into the web server.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/camkit/camkit/core/config"
	"github.com/spf13/cobra"
)

// Set by the linker in release builds.
var version = "dev"

func main() {
	if err := rootCmd().Execute(); err != nil {
		// One clear line naming the problem; cobra's own usage noise is off.
		fmt.Fprintln(os.Stderr, "camkit:", err)
		os.Exit(exitCode(err))
	}
}

type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }

func exitCode(err error) int {
	if e, ok := err.(exitError); ok {
		return e.code
	}
	return 1
}

type globals struct {
	configPath string
}

func rootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "camkit",
		Short:         "camkit runs a white-label live cam platform",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "TOML config file (or CAMKIT_CONFIG); none means the embedded default")
	root.AddCommand(serveCmd(g), migrateCmd(g), pluginsCmd(g), ledgerCmd(g), reconcileCmd(g), adminCmd(g), pluginCmd(), versionCmd())
	return root
}

func (g *globals) load() (config.Config, error) {
	path := g.configPath
	if path == "" {
		path = os.Getenv("CAMKIT_CONFIG")
	}
	return config.Load(path, os.Environ())
}

func newLogger(c config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(c.Log.Level)))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the camkit version",
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "camkit", version) },
	}
}
