package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/web"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// plugins are the configured plugins, supervised: the default processor,
// the other active and the retired ones, and one plugin of each other kind.
type plugins struct {
	host       *pluginhost.Host
	processor  pluginhost.Processor
	processors map[string]processor.Processor // every loaded processor, the default too
	currency   pluginhost.Currency
	split      pluginhost.Split
	theme      pluginhost.Theme
}

// specs lists the configured plugin of each kind, with their settings as
// pluginSettings gives them.
func specs(ctx context.Context, c config.Config, db *store.DB) ([]pluginhost.Spec, error) {
	var out []pluginhost.Spec
	type kn struct {
		kind pluginkit.Kind
		name string
	}
	var all []kn
	for _, p := range append(c.ActiveProcessors(), c.Plugins.RetiredProcessors...) {
		all = append(all, kn{pluginkit.KindProcessor, p})
	}
	all = append(all, kn{pluginkit.KindCurrency, c.Plugins.Currency}, kn{pluginkit.KindSplit, c.Plugins.Split}, kn{pluginkit.KindTheme, c.Plugins.Theme})
	for _, k := range all {
		settings, err := pluginSettings(ctx, c, db, k.kind, k.name)
		if err != nil {
			return nil, err
		}
		out = append(out, pluginhost.Spec{
			Kind:        k.kind,
			Name:        k.name,
			Path:        c.PluginPath(string(k.kind), k.name),
			SHA256:      c.Plugin[string(k.kind)+"-"+k.name].SHA256,
			Settings:    settings,
			CallTimeout: c.Plugins.CallTimeout.Duration,
			Env:         c.PluginEnv(string(k.kind), k.name, os.Environ()),
		})
	}
	return out, nil
}

// sandboxSecretSetting is the settings row of the deployment's sandbox
// webhook secret (store.Secret); a second sandbox, sandbox-<x>, has its own
// row, processor.sandbox-<x>.webhook_secret.
const sandboxSecretSetting = "processor.sandbox.webhook_secret"

// isSandbox reports whether a processor is the sandbox or a copy of its
// binary run under another name (sandbox-b, to try routing and cascade).
func isSandbox(name string) bool { return name == "sandbox" || strings.HasPrefix(name, "sandbox-") }

// pluginSettings is a plugin's settings table as JSON. The sandbox processor
// also gets the deployment's own webhook secret, generated once and kept in
// the database (like the site secret), unless the operator set
// webhook_secret: no value printed in the repository signs its webhooks.
// The secret is the unpadded base64 text kept in the settings row. A copy
// named sandbox-<x> gets its own secret and its name, so that its pages are
// /pay/sandbox-<x>/.
func pluginSettings(ctx context.Context, c config.Config, db *store.DB, kind pluginkit.Kind, name string) ([]byte, error) {
	raw, err := c.PluginSettingsJSON(string(kind), name)
	if err != nil {
		return nil, fmt.Errorf("config: plugin.%s-%s.settings: %w", kind, name, err)
	}
	if kind != pluginkit.KindProcessor || !isSandbox(name) {
		return raw, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("config: plugin.processor-%s.settings: %w", name, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	if _, set := m["name"]; !set && name != "sandbox" {
		m["name"] = name
	}
	if _, set := m["state_file"]; !set && name != "sandbox" {
		m["state_file"] = "./data/" + name + "-processor.json" // never the first sandbox's file (one writer per file)
	}
	if _, set := m["webhook_secret"]; !set {
		row := sandboxSecretSetting
		if name != "sandbox" {
			row = "processor." + name + ".webhook_secret"
		}
		secret, err := db.Secret(ctx, row, time.Now().UTC())
		if err != nil {
			return nil, err
		}
		m["webhook_secret"] = base64.RawStdEncoding.EncodeToString(secret)
	}
	return json.Marshal(m)
}

// retireReferenced adds to plugins.retired_processors every processor that
// is neither active nor retired but still has cards on file, pending credit
// pack purchases or unsettled seats (the operator changed plugins.processor):
// loaded as retired when its binary is in plugins.dir, so those keep
// working; otherwise the start is refused with one line naming what needs it.
func retireReferenced(ctx context.Context, c *config.Config, db *store.DB, log *slog.Logger) error {
	cards, pending, err := accounts.CardProcessors(ctx, db)
	if err != nil {
		return err
	}
	seats, err := billing.SeatProcessors(ctx, db)
	if err != nil {
		return err
	}
	known := append(c.ActiveProcessors(), c.Plugins.RetiredProcessors...)
	names := map[string]bool{}
	for _, m := range []map[string]int{cards, pending, seats} {
		for n := range m {
			if !slices.Contains(known, n) {
				names[n] = true
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		what := fmt.Sprintf("%d cards on file, %d pending credit pack purchases and %d unsettled seats", cards[n], pending[n], seats[n])
		path := c.PluginPath(string(pluginkit.KindProcessor), n)
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("config: processor %s is no longer configured but %s still need it, and its plugin %s is missing: put the binary back, or add it to plugins.processors or plugins.retired_processors", n, what, path)
		}
		log.Warn("loading a former processor as retired: it serves what it holds, never new funding", "processor", n,
			"cards", cards[n], "pending_purchases", pending[n], "unsettled_seats", seats[n])
		c.Plugins.RetiredProcessors = append(c.Plugins.RetiredProcessors, n)
	}
	return nil
}

// launchPlugins starts them all; on any failure the ones started are killed.
func launchPlugins(ctx context.Context, c config.Config, db *store.DB, log *slog.Logger, m *pluginhost.Metrics) (*plugins, error) {
	ss, err := specs(ctx, c, db)
	if err != nil {
		return nil, err
	}
	p := &plugins{host: pluginhost.NewHost(log, m), processors: map[string]processor.Processor{}}
	for _, s := range ss {
		in, err := p.host.Launch(ctx, s)
		if err != nil {
			p.host.Close()
			return nil, err
		}
		switch s.Kind {
		case pluginkit.KindProcessor:
			pr := pluginhost.NewProcessor(in)
			p.processors[s.Name] = pr
			if s.Name == c.Plugins.Processor {
				p.processor = pr
			}
		case pluginkit.KindCurrency:
			p.currency = pluginhost.NewCurrency(in)
		case pluginkit.KindSplit:
			p.split = pluginhost.NewSplit(in)
		case pluginkit.KindTheme:
			p.theme = pluginhost.NewTheme(in)
		}
	}
	return p, nil
}

// openStore opens and migrates the database.
func openStore(ctx context.Context, c config.Config) (*store.DB, error) {
	db, err := store.Open(ctx, c.Database.URL)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// pluginStatuses reports the supervised plugins for the admin page.
func pluginStatuses(h *pluginhost.Host) web.PluginStatuses {
	return func() []theme.PluginStatus {
		var out []theme.PluginStatus
		for _, st := range h.Statuses() {
			out = append(out, theme.PluginStatus{Name: st.Spec.Name, Kind: string(st.Spec.Kind), Version: st.Info.Version,
				Healthy: st.Healthy, Restarts: st.Restarts, LastError: st.Err})
		}
		return out
	}
}
