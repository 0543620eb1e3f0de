package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/web"
	"github.com/camkit/camkit/core/web/live"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
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

// specs lists the configured plugin of each kind.
func specs(c config.Config) ([]pluginhost.Spec, error) {
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
		settings, err := c.PluginSettingsJSON(string(k.kind), k.name)
		if err != nil {
			return nil, fmt.Errorf("config: plugin.%s-%s.settings: %w", k.kind, k.name, err)
		}
		out = append(out, pluginhost.Spec{
			Kind:        k.kind,
			Name:        k.name,
			Path:        c.PluginPath(string(k.kind), k.name),
			SHA256:      c.Plugin[string(k.kind)+"-"+k.name].SHA256,
			Settings:    settings,
			CallTimeout: c.Plugins.CallTimeout.Duration,
		})
	}
	return out, nil
}

// launchPlugins starts all four; on any failure the ones started are killed.
func launchPlugins(ctx context.Context, c config.Config, log *slog.Logger, m *pluginhost.Metrics) (*plugins, error) {
	ss, err := specs(c)
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

// product is the site's services, wired together.
type product struct {
	web     *web.Product
	ledger  *ledger.Ledger
	engine  *billing.Engine
	sfu     *stream.SFU
	live    *live.Service
	packs   *accounts.CreditPacks
	closers []func()
}

func (p *product) Close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
}

// billingPolicy is the operator's price policy template (no rate yet).
func billingPolicy(c config.Config) (billing.PricePolicy, error) {
	minimum, err := c.Money("billing.minimum_charge", c.Billing.MinimumCharge)
	if err != nil {
		return billing.PricePolicy{}, err
	}
	return billing.PricePolicy{
		Granularity: billing.Granularity(c.Billing.Granularity), MinimumCharge: minimum, GraceSeconds: c.Billing.GraceSeconds,
		BlockSeconds: c.Billing.BlockSeconds, ExtensionLeadSeconds: c.Billing.LeadSeconds, MaxPauseSeconds: c.Billing.MaxPauseSeconds,
	}, nil
}

func creditPacks(c config.Config) ([]accounts.Pack, error) {
	var out []accounts.Pack
	for _, p := range c.CreditPacks {
		price, err := c.Money("credit_packs."+p.ID+".price", p.Price)
		if err != nil {
			return nil, err
		}
		bonus, err := c.Money("credit_packs."+p.ID+".bonus", p.Bonus)
		if err != nil {
			return nil, err
		}
		out = append(out, accounts.Pack{ID: p.ID, Name: p.Name, Price: price, Bonus: bonus, Badge: p.Badge})
	}
	return out, nil
}

// cardStrategy is what billing will do with the processor's stored card,
// decided the way billing decides it, for the price shown before a seat opens.
func cardStrategy(ctx context.Context, p processor.Processor) billing.Strategy {
	caps, err := p.Capabilities(ctx)
	if err != nil || caps.AuthCapture && caps.PartialCapture && caps.Void {
		return billing.CardHold
	}
	return billing.PrepaidBlocks
}

// newAccounts builds the accounts service alone (also for `camkit admin`).
func newAccounts(ctx context.Context, c config.Config, db *store.DB) (*accounts.Service, error) {
	return accounts.New(ctx, db, accounts.Options{Currency: c.Site.Currency, Secret: []byte(c.Security.Secret),
		MinimumAge: c.Security.MinimumAge, SessionTTL: c.Security.SessionTTL.Duration, SessionIdle: c.Security.SessionIdle.Duration})
}

// buildProduct wires accounts, chat, billing, shows, the SFU and the pages.
// Billing's Recover runs here, before anything can open a seat.
func buildProduct(ctx context.Context, c config.Config, log *slog.Logger, db *store.DB, pl *plugins, reg *prometheus.Registry) (*product, error) {
	out := &product{}
	fail := func(err error) (*product, error) { out.Close(); return nil, err }
	clk := clock.Real()
	led := ledger.New(db, ledger.Options{Clock: clk})
	out.ledger = led
	acc, err := newAccounts(ctx, c, db)
	if err != nil {
		return fail(err)
	}
	cards := accounts.NewPaymentMethods(acc, c.Plugins.Processor, pl.processor)
	packList, err := creditPacks(c)
	if err != nil {
		return fail(err)
	}
	packs, err := accounts.NewCreditPacks(acc, cards, led, packList)
	if err != nil {
		return fail(err)
	}
	out.packs = packs
	wallets := accounts.NewWallets(acc, led)
	pol, err := billingPolicy(c)
	if err != nil {
		return fail(err)
	}
	lv := live.New(live.Config{DB: db, Clock: clk, Accounts: acc, Cards: cards, Wallets: wallets, Ledger: led, Policy: pol,
		PreferWallet: c.Billing.Funding == "wallet", CardStrategy: cardStrategy(ctx, pl.processor), Log: log.With("component", "live")})
	out.live = lv
	maxTip, err := c.Money("chat.max_tip", c.Chat.MaxTip)
	if err != nil {
		return fail(err)
	}
	ch, err := chat.New(db, led, pl.split, lv, chat.Options{Currency: c.Site.Currency, Clock: clk, Log: log.With("component", "chat"), MaxTip: maxTip.Amount})
	if err != nil {
		return fail(err)
	}
	lv.SetChat(ch)
	eng, err := billing.NewEngine(billing.Config{DB: db, Ledger: led, Clock: clk,
		Processors: map[string]processor.Processor{c.Plugins.Processor: pl.processor}, Splitter: pl.split, Events: lv,
		RefundUnused: c.Billing.RefundUnused, Log: log.With("component", "billing")})
	if err != nil {
		return fail(err)
	}
	out.engine = eng
	out.closers = append(out.closers, func() { _ = eng.Close() })
	rep, err := eng.Recover(ctx)
	if err != nil {
		return fail(err)
	}
	if rep.Closed+rep.Settled+rep.Failed+rep.Retry > 0 {
		log.Info("billing recovered seats open at the last stop", "closed", rep.Closed, "settled", rep.Settled, "failed", rep.Failed, "retrying", rep.Retry)
	}
	if n, err := packs.Resume(ctx); err != nil {
		log.Warn("credit packs: resuming purchases", "err", err)
	} else if n > 0 {
		log.Info("credit packs: finished purchases interrupted by the last stop", "count", n)
	}
	sh, err := shows.New(shows.Config{DB: db, Clock: clk, Billing: eng, Rates: lv, FX: pl.currency})
	if err != nil {
		return fail(err)
	}
	var ice []stream.ICEServer
	if len(c.Stream.ICEServers) > 0 {
		ice = []stream.ICEServer{{URLs: c.Stream.ICEServers, Username: c.Stream.ICEUsername, Credential: c.Stream.ICECredential}}
	}
	sfu, err := stream.New(stream.Config{ICEServers: ice, UDPPort: c.Stream.UDPPort, UDPPortMin: uint16(c.Stream.UDPPortMin),
		UDPPortMax: uint16(c.Stream.UDPPortMax), PublicIPs: c.Stream.PublicIPs, MediaTimeout: c.Stream.MediaTimeout.Duration,
		Clock: clk, Admission: lv, Liveness: lv, Registerer: reg})
	if err != nil {
		return fail(err)
	}
	out.sfu = sfu
	out.closers = append(out.closers, func() { _ = sfu.Close() })
	lv.Attach(sh, eng, sfu)

	var presets []money.Money
	for _, t := range c.Chat.TipPresets {
		m, err := c.Money("chat.tip_presets", t)
		if err != nil {
			return fail(err)
		}
		presets = append(presets, m)
	}
	out.web = &web.Product{
		Pages:    &web.Pages{Theme: pl.theme, Site: web.Site{Name: c.Site.Name}},
		Accounts: acc, HTTP: accounts.NewHTTP(acc, accounts.HTTPOptions{InsecureCookies: !c.SecureCookies()}),
		Cards: cards, Packs: packs, Wallets: wallets, Chat: ch, Shows: lv, Ledger: led,
		Plugins:   pluginStatuses(pl.host),
		PublicURL: c.HTTP.PublicURL, Processor: c.Plugins.Processor, TipPresets: presets, ModelSignup: c.Security.ModelSignup,
	}
	return out, nil
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

// expireHolds releases timed-out ledger holds now and then until ctx ends.
func expireHolds(ctx context.Context, led *ledger.Ledger, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := led.ExpirePending(ctx, time.Now()); err != nil && ctx.Err() == nil {
			log.Warn("ledger: expiring holds", "err", err)
		} else if n > 0 {
			log.Info("ledger: released timed-out holds", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
