package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/spf13/cobra"
)

func pluginsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "plugins", Short: "List and check plugin binaries"}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "Launch every plugin binary in the plugin folder and describe it",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			entries, err := os.ReadDir(cfg.Plugins.Dir)
			if err != nil {
				return fmt.Errorf("plugins.dir: %w", err)
			}
			names := []string{}
			for _, e := range entries {
				if _, _, ok := pluginhost.KindOf(e.Name()); ok && !e.IsDir() {
					names = append(names, e.Name())
				}
			}
			sort.Strings(names)
			db, err := openStore(cmd.Context(), cfg) // the sandbox's webhook secret is the deployment's
			if err != nil {
				return err
			}
			defer db.Close()
			host := pluginhost.NewHost(newLogger(cfg).With("cmd", "plugins list"), nil)
			defer host.Close()
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KIND\tNAME\tVERSION\tSHA256\tCAPABILITIES")
			failed := 0
			for _, file := range names {
				kind, name, _ := pluginhost.KindOf(file)
				settings, err := pluginSettings(cmd.Context(), cfg, db, kind, name)
				if err != nil {
					return err
				}
				in, err := host.Launch(cmd.Context(), pluginhost.Spec{Kind: kind, Name: name,
					Path: filepath.Join(cfg.Plugins.Dir, file), Settings: settings, CallTimeout: 10 * time.Second})
				if err != nil {
					failed++
					sum, _ := pluginhost.FileSHA256(filepath.Join(cfg.Plugins.Dir, file))
					fmt.Fprintf(w, "%s\t%s\t?\t%s\terror: %v\n", kind, name, sum, err)
					continue
				}
				st := in.Status()
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", kind, st.Info.Name, st.Info.Version, st.SHA256, describe(cmd.Context(), in))
			}
			w.Flush()
			if failed > 0 {
				return exitError{1, fmt.Errorf("%d plugin(s) failed to start", failed)}
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "verify",
		Short: "Launch each configured plugin, handshake, configure and check its health",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			db, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := retireReferenced(cmd.Context(), &cfg, db, newLogger(cfg)); err != nil {
				return err
			}
			pl, err := launchPlugins(cmd.Context(), cfg, db, newLogger(cfg), nil)
			if err != nil {
				return err
			}
			defer pl.host.Close()
			bad := 0
			for _, st := range pl.host.Statuses() {
				state := "ok"
				if !st.Healthy {
					state, bad = "FAIL "+st.Err, bad+1
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-9s %-12s %-8s %s\n", st.Spec.Kind, st.Spec.Name, st.Info.Version, state)
			}
			if bad > 0 {
				return exitError{1, fmt.Errorf("%d plugin(s) unhealthy", bad)}
			}
			return nil
		},
	})
	return cmd
}

// describe prints what a plugin offers: a processor's capabilities, a theme's brand.
func describe(ctx context.Context, in *pluginhost.Instance) string {
	switch in.Spec().Kind {
	case pluginkit.KindProcessor:
		c, err := pluginhost.NewProcessor(in).Capabilities(ctx)
		if err != nil {
			return "error: " + err.Error()
		}
		return capabilityList(c)
	case pluginkit.KindTheme:
		m, err := pluginhost.NewTheme(in).Manifest(ctx)
		if err != nil {
			return "error: " + err.Error()
		}
		return fmt.Sprintf("brand=%q assets=%d", m.BrandName, len(m.Assets))
	}
	return "-"
}

func capabilityList(c processor.Capabilities) string {
	var f []string
	for _, x := range []struct {
		on   bool
		name string
	}{
		{c.AuthCapture, "auth_capture"}, {c.PartialCapture, "partial_capture"}, {c.Void, "void"},
		{c.Refund, "refund"}, {c.PartialRefund, "partial_refund"}, {c.ChargeStoredCredential, "charge_stored_credential"},
		{c.HostedCheckoutRequired, "hosted_checkout_required"}, {c.NativeRecurring, "native_recurring"},
	} {
		if x.on {
			f = append(f, x.name)
		}
	}
	f = append(f, "webhook="+string(c.WebhookAuth), "currencies="+strings.Join(c.Currencies, "/"), fmt.Sprintf("max_hold_days=%d", c.MaxHoldDays))
	return strings.Join(f, ",")
}
