package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/reconcile"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processorkit"
	"github.com/spf13/cobra"
)

// reportTimeout bounds the one report call: a processor's reporting API
// pages through a day of transactions, far longer than a payment call.
const reportTimeout = 5 * time.Minute

func reconcileCmd(g *globals) *cobra.Command {
	var (
		name, from, to string
		margin         time.Duration
		asJSON         bool
	)
	cmd := &cobra.Command{
		Use:   "reconcile --processor NAME --from TIME --to TIME [--json]",
		Short: "Compare the processor's clearing account and receipts with its own records; print each mismatch; exit 1 on any",
		Long: `Compares camkit's books for one processor (the transfers of processor:NAME:clearing,
traced through the receipts to the processor transactions they book) with the
processor's own transaction report, or, for a processor without one, with the
notifications the host recorded and the processor's answers to camkit's calls.
TIME is RFC 3339 (2026-12-01T00:00:00Z) or a UTC date (2026-12-01); the range
is [from, to). Exit status: 0 clean, 1 on any mismatch or error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := parseWhen("--from", from)
			if err != nil {
				return err
			}
			t, err := parseWhen("--to", to)
			if err != nil {
				return err
			}
			cfg, err := g.load()
			if err != nil {
				return err
			}
			db, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer db.Close()
			settings, err := pluginSettings(cmd.Context(), cfg, db, pluginkit.KindProcessor, name)
			if err != nil {
				return err
			}
			tmp, err := os.MkdirTemp("", "camkit-reconcile-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			if settings, err = stateCopy(settings, tmp); err != nil {
				return err
			}
			host := pluginhost.NewHost(newLogger(cfg).With("cmd", "reconcile"), nil)
			defer host.Close()
			in, err := host.Launch(cmd.Context(), pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: name,
				Path: cfg.PluginPath(string(pluginkit.KindProcessor), name), SHA256: cfg.Plugin["processor-"+name].SHA256,
				Settings: settings, CallTimeout: max(cfg.Plugins.CallTimeout.Duration, reportTimeout),
				Env: cfg.PluginEnv(string(pluginkit.KindProcessor), name, os.Environ())})
			if err != nil {
				return err
			}
			books := reconcile.NewSQL(db)
			res, err := reconcile.Run(cmd.Context(), reconcile.Options{Processor: name, From: f, To: t, Margin: margin},
				books, pluginhost.NewProcessor(in), books)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else {
				for _, l := range res.Lines() {
					fmt.Fprintln(out, l)
				}
			}
			if !res.Clean() {
				return exitError{1, fmt.Errorf("reconcile %s: %d mismatch(es)", name, len(res.Mismatches))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "processor", "", "processor plugin name (processor-NAME in plugins.dir)")
	cmd.Flags().StringVar(&from, "from", "", "start of the range, inclusive (RFC 3339 or YYYY-MM-DD, UTC)")
	cmd.Flags().StringVar(&to, "to", "", "end of the range, exclusive (RFC 3339 or YYYY-MM-DD, UTC)")
	cmd.Flags().DurationVar(&margin, "margin", reconcile.DefaultMargin, "read both sides this much beyond the range, so a counterpart dated across its edge still matches")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	for _, f := range []string{"processor", "from", "to"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// parseWhen reads an RFC 3339 time or a date (midnight UTC).
func parseWhen(flag, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want RFC 3339 (2026-12-01T00:00:00Z) or a date (2026-12-01)", flag, s)
}

// stateCopy points a processor plugin's settings at a copy of its state
// file (state_file, with its journal beside it: processorkit's layout), so
// that reconciling reads the plugin's state as it is now without taking the
// lock a running `camkit serve` holds on the file, and never writes to it.
// The copy is taken again when the snapshot changed meanwhile (a
// compaction), so snapshot and journal belong together; a torn last journal
// line is dropped by the plugin on loading, as after a crash. Settings
// without a state file are returned as they are.
func stateCopy(settings []byte, dir string) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(settings, &m); err != nil {
		return nil, fmt.Errorf("plugin settings: %w", err)
	}
	path, _ := m["state_file"].(string)
	if path == "" {
		return settings, nil
	}
	dst := filepath.Join(dir, filepath.Base(path))
	stamp := func() string {
		fi, err := os.Stat(path)
		if err != nil {
			return err.Error()
		}
		return fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())
	}
	for try := 0; ; try++ {
		before := stamp()
		for _, f := range [][2]string{{path, dst}, {processorkit.JournalPath(path), processorkit.JournalPath(dst)}} {
			b, err := os.ReadFile(f[0])
			if errors.Is(err, fs.ErrNotExist) {
				_ = os.Remove(f[1])
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("plugin state: %w", err)
			}
			if err := os.WriteFile(f[1], b, 0o600); err != nil {
				return nil, fmt.Errorf("plugin state copy: %w", err)
			}
		}
		if stamp() == before {
			break
		}
		if try == 10 {
			return nil, fmt.Errorf("plugin state %s keeps changing while it is copied", path)
		}
	}
	m["state_file"] = dst
	return json.Marshal(m)
}
