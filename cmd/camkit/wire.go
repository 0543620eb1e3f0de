package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/web"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// plugins are the four configured plugins, supervised.
type plugins struct {
	host      *pluginhost.Host
	processor pluginhost.Processor
	currency  pluginhost.Currency
	split     pluginhost.Split
	theme     pluginhost.Theme
}

// specs lists the configured plugin of each kind, with their settings as
// pluginSettings gives them.
func specs(ctx context.Context, c config.Config, db *store.DB) ([]pluginhost.Spec, error) {
	var out []pluginhost.Spec
	for _, k := range []struct {
		kind pluginkit.Kind
		name string
	}{
		{pluginkit.KindProcessor, c.Plugins.Processor},
		{pluginkit.KindCurrency, c.Plugins.Currency},
		{pluginkit.KindSplit, c.Plugins.Split},
		{pluginkit.KindTheme, c.Plugins.Theme},
	} {
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
// webhook secret (store.Secret).
const sandboxSecretSetting = "processor.sandbox.webhook_secret"

// pluginSettings is a plugin's settings table as JSON. The sandbox processor
// also gets the deployment's own webhook secret, generated once and kept in
// the database (like the site secret), unless the operator set
// webhook_secret: no value printed in the repository signs its webhooks.
// The secret is the unpadded base64 text kept in the settings row.
func pluginSettings(ctx context.Context, c config.Config, db *store.DB, kind pluginkit.Kind, name string) ([]byte, error) {
	raw, err := c.PluginSettingsJSON(string(kind), name)
	if err != nil {
		return nil, fmt.Errorf("config: plugin.%s-%s.settings: %w", kind, name, err)
	}
	if kind != pluginkit.KindProcessor || name != "sandbox" {
		return raw, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("config: plugin.processor-sandbox.settings: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	if _, set := m["webhook_secret"]; set {
		return raw, nil
	}
	secret, err := db.Secret(ctx, sandboxSecretSetting, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	m["webhook_secret"] = base64.RawStdEncoding.EncodeToString(secret)
	return json.Marshal(m)
}

// launchPlugins starts all four; on any failure the ones started are killed.
func launchPlugins(ctx context.Context, c config.Config, db *store.DB, log *slog.Logger, m *pluginhost.Metrics) (*plugins, error) {
	ss, err := specs(ctx, c, db)
	if err != nil {
		return nil, err
	}
	p := &plugins{host: pluginhost.NewHost(log, m)}
	for _, s := range ss {
		in, err := p.host.Launch(ctx, s)
		if err != nil {
			p.host.Close()
			return nil, err
		}
		switch s.Kind {
		case pluginkit.KindProcessor:
			p.processor = pluginhost.NewProcessor(in)
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
