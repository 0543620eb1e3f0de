// Package app assembles the camkit site from its core services: accounts,
// chat, billing (with its Recover), shows, the SFU and the pages. The binary
// (`camkit serve`) and the product's tests build the same thing through
// Build, so what the tests exercise is what runs.
package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/audience"
	"github.com/camkit/camkit/core/audit"
	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/whiphttp"
	"github.com/camkit/camkit/core/thumbnail"
	"github.com/camkit/camkit/core/tickets"
	"github.com/camkit/camkit/core/tipping"
	"github.com/camkit/camkit/core/web"
	"github.com/camkit/camkit/sdk/currency"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Plugins are the four active plugins (clients of plugin processes, or
// in-process implementations).
type Plugins struct {
	// ProcessorName and Processor are the default processor
	// (plugins.processor).
	ProcessorName string
	Processor     processor.Processor
	// Processors are every loaded processor by name: the default, the other
	// active ones (plugins.processors) and the retired ones, which serve
	// only what they already hold (refunds, chargebacks, webhooks, open
	// seats). nil: the default alone.
	Processors map[string]processor.Processor
	Currency   currency.Converter
	Split      split.Splitter
	Theme      theme.Theme
	// Statuses reports plugin health for the admin page; may be nil.
	Statuses web.PluginStatuses
}

// processors is every loaded processor by name.
func (p Plugins) processors() map[string]processor.Processor {
	out := map[string]processor.Processor{p.ProcessorName: p.Processor}
	for n, pr := range p.Processors {
		out[n] = pr
	}
	return out
}

// App is the site's services, wired together.
type App struct {
	Web     *web.Product
	Tipping *tipping.Service
	Ledger  *ledger.Ledger
	Engine  *billing.Engine
	SFU     *stream.SFU
	Shows   *shows.Service
	Tickets *tickets.Service
	Packs   *accounts.CreditPacks
	Audit   *audit.Log // refused webhooks and log-ins, admin actions
	Config  config.Config
	Log     *slog.Logger
	closers []func()

	// Thumbnails keeps the live shows' pictures; Audience counts viewers.
	Thumbnails *thumbnail.Service
	Audience   *audience.Service
}

// Close stops the SFU and billing (open seats are checkpointed for Recover).
// A second Close does nothing.
func (p *App) Close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	p.closers = nil
}

// billingPolicy is the operator's price policy template (no rate yet).
func billingPolicy(c config.Config) (pricing.Policy, error) {
	minimum, err := c.Money("billing.minimum_charge", c.Billing.MinimumCharge)
	if err != nil {
		return pricing.Policy{}, err
	}
	return pricing.Policy{
		Granularity: pricing.Granularity(c.Billing.Granularity), MinimumCharge: minimum, GraceSeconds: c.Billing.GraceSeconds,
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

// NewAccounts builds the accounts service alone (also for `camkit admin`).
func NewAccounts(ctx context.Context, c config.Config, db *store.DB) (*accounts.Service, error) {
	return newAccounts(ctx, c, db, nil)
}

func newAccounts(ctx context.Context, c config.Config, db *store.DB, aud *audit.Log) (*accounts.Service, error) {
	return accounts.New(ctx, db, accounts.Options{Currency: c.Site.Currency, Secret: []byte(c.Security.Secret),
		MinimumAge: c.Security.MinimumAge, SessionTTL: c.Security.SessionTTL.Duration, SessionIdle: c.Security.SessionIdle.Duration,
		Audit: aud})
}

// Build wires accounts, chat, billing, shows, the SFU and the pages.
// Billing's Recover runs here, before anything can open a seat.
func Build(ctx context.Context, c config.Config, log *slog.Logger, db *store.DB, pl Plugins, reg prometheus.Registerer) (*App, error) {
	out := &App{Config: c, Log: log}
	fail := func(err error) (*App, error) { out.Close(); return nil, err }
	clk := clock.Real()
	led := ledger.New(db, ledger.Options{Clock: clk})
	out.Ledger = led
	aud, err := audit.New(log.With("component", "audit"), reg)
	if err != nil {
		return fail(err)
	}
	out.Audit = aud
	acc, err := newAccounts(ctx, c, db, aud)
	if err != nil {
		return fail(err)
	}
	router, err := c.Router()
	if err != nil {
		return fail(err)
	}
	if router.Default() != pl.ProcessorName {
		return fail(errs.E(errs.Invalid, "app: plugins.processor is %s but the default processor loaded is %s", router.Default(), pl.ProcessorName))
	}
	procs := pl.processors()
	clients := map[string]accounts.Checkouts{}
	strategies := map[string]billing.Strategy{}
	for n, pr := range procs {
		clients[n] = pr
		if router.IsActive(n) {
			strategies[n] = cardStrategy(ctx, pr)
		}
	}
	cards, err := accounts.NewRoutedPaymentMethods(acc, router, clients)
	if err != nil {
		return fail(err)
	}
	packList, err := creditPacks(c)
	if err != nil {
		return fail(err)
	}
	packs, err := accounts.NewCreditPacks(acc, cards, led, packList)
	if err != nil {
		return fail(err)
	}
	out.Packs = packs
	wallets := accounts.NewWallets(acc, led)
	pol, err := billingPolicy(c)
	if err != nil {
		return fail(err)
	}
	// Built in one direction, each part from the parts before it: the live
	// store; chat (tips find their model in the store); billing (its events
	// go to a feed whose subscribers subscribe as they are built); the show
	// lifecycle, which builds the SFU with itself as its admission and
	// liveness sink.
	live := shows.NewSQLStore(db)
	maxTip, err := c.Money("chat.max_tip", c.Chat.MaxTip)
	if err != nil {
		return fail(err)
	}
	tipFeed := &chat.TipFeed{} // core/tipping follows tips through it
	ch, err := chat.New(db, led, pl.Split, &shows.Tips{Store: live, Accounts: acc},
		chat.Options{Currency: c.Site.Currency, Clock: clk, Log: log.With("component", "chat"), MaxTip: maxTip.Amount, Tips: tipFeed})
	if err != nil {
		return fail(err)
	}
	feed := &billing.Feed{}
	eng, err := billing.NewEngine(billing.Config{DB: db, Ledger: led, Clock: clk,
		Processors: procs, Splitter: pl.Split, Events: feed,
		RefundUnused: c.Billing.RefundUnused, Log: log.With("component", "billing"),
		BackdateLimit: stream.Config{MediaTimeout: c.Stream.MediaTimeout.Duration}.MaxBackdate()})
	if err != nil {
		return fail(err)
	}
	out.Engine = eng
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
	tk, err := newTickets(ctx, c, db, led, pl, acc, packs, clk, log)
	if err != nil {
		return fail(err)
	}
	out.Tickets = tk
	var ice []stream.ICEServer
	if len(c.Stream.ICEServers) > 0 {
		ice = []stream.ICEServer{{URLs: c.Stream.ICEServers, Username: c.Stream.ICEUsername, Credential: c.Stream.ICECredential}}
	}
	sh, err := shows.New(ctx, shows.Config{DB: db, Clock: clk, Store: live, Accounts: acc, Cards: cards, Wallets: wallets, Ledger: led,
		Chat: ch, Billing: eng, BillingEvents: feed, FX: pl.Currency, Policy: pol,
		PreferWallet: c.Billing.Funding == "wallet", CardStrategy: strategies[pl.ProcessorName], Strategies: strategies,
		LiveOnPublish: c.Stream.LiveOnPublish, ShowSpyCount: c.Shows.ShowSpyCount, Log: log.With("component", "shows"), Tickets: tk,
		Media: func(adm stream.Admission, lv stream.LivenessSink) (shows.Media, error) {
			sfu, err := stream.New(stream.Config{ICEServers: ice, UDPPort: c.Stream.UDPPort, UDPPortMin: uint16(c.Stream.UDPPortMin),
				UDPPortMax: uint16(c.Stream.UDPPortMax), PublicIPs: c.Stream.PublicIPs, MediaTimeout: c.Stream.MediaTimeout.Duration,
				MaxViewersPerClient: c.Stream.MaxViewersPerClient, MaxViewersPerShow: c.Stream.MaxViewersPerShow,
				Clock: clk, Admission: adm, Liveness: lv, Registerer: reg})
			if err != nil {
				return nil, err
			}
			out.SFU = sfu
			out.closers = append(out.closers, func() { _ = sfu.Close() })
			return sfu, nil
		}})
	if err != nil {
		return fail(err)
	}
	out.Shows = sh
	tk.Attach(sh)

	// Thumbnails and the audience only read the SFU and the chat.
	thumbs, err := thumbnail.New(out.SFU, thumbnail.Options{Every: c.Stream.ThumbnailInterval(), Clock: clk,
		Log: log.With("component", "thumbnail"), Registerer: reg})
	if err != nil {
		return fail(err)
	}
	watchers, err := audience.New(out.SFU, ch, audience.Options{Window: c.Stream.PresenceWindow(), Clock: clk, Registerer: reg,
		OnAir: func(ctx context.Context) ([]audience.OnAirShow, error) {
			live, err := sh.Live(ctx)
			out := make([]audience.OnAirShow, 0, len(live))
			for _, s := range live {
				out = append(out, audience.OnAirShow{ID: s.ID, Since: s.Since})
			}
			return out, err
		}})
	if err != nil {
		return fail(err)
	}
	out.Thumbnails, out.Audience = thumbs, watchers
	bgCtx, stopBg := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Add(3)
	go func() { defer bg.Done(); thumbs.Run(bgCtx) }()
	go func() { defer bg.Done(); watchers.Run(bgCtx) }()
	// Ticket shows their models never started are cancelled and refunded.
	go func() { defer bg.Done(); tk.Run(bgCtx, time.Minute) }()
	out.closers = append(out.closers, func() { stopBg(); bg.Wait() })

	// Idempotency-Key records of the money-moving routes; answers older
	// than a day are swept.
	keys := idempotency.NewSQLStore(db)
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		idempotency.Sweep(sweepCtx, keys, clk, 10*time.Minute, log.With("component", "idempotency"))
	}()
	out.closers = append(out.closers, func() { stopSweep(); <-swept })

	// Goals and menus follow tips through chat's tip feed.
	tips, err := tipping.New(tipping.NewSQLStore(db), ch, &shows.Tips{Store: live, Accounts: acc},
		tipping.Options{Currency: c.Site.Currency, MaxTip: maxTip.Amount, Homes: sh, Clock: clk, Log: log.With("component", "tipping"), Tips: tipFeed})
	if err != nil {
		return fail(err)
	}
	out.Tipping = tips

	var presets []money.Money
	for _, t := range c.Chat.TipPresets {
		m, err := c.Money("chat.tip_presets", t)
		if err != nil {
			return fail(err)
		}
		presets = append(presets, m)
	}
	out.Web = &web.Product{
		Pages:    &web.Pages{Theme: pl.Theme, Site: web.Site{Name: c.Site.Name}},
		Accounts: acc, HTTP: accounts.NewHTTP(acc, accounts.HTTPOptions{InsecureCookies: !c.SecureCookies()}),
		Cards: cards, Packs: packs, Wallets: wallets, Chat: ch, Shows: sh, Ledger: led, Tickets: tk,
		Plugins: pl.Statuses, Audit: aud, Keys: keys,
		PublicURL: c.HTTP.PublicURL, Processor: pl.ProcessorName, TipPresets: presets, ModelSignup: c.Security.ModelSignup,
		Audience: watchers, Thumbnails: thumbs, Tipping: tips,
	}
	return out, nil
}

// newTickets builds ticket shows: sold from wallets (or by card, topped up
// into the wallet through the credit packs' purchase path), split by the split
// plugin, refunded by the [tickets] policy; tokens keyed by the deployment's
// own secret.
func newTickets(ctx context.Context, c config.Config, db *store.DB, led *ledger.Ledger, pl Plugins, acc *accounts.Service,
	packs *accounts.CreditPacks, clk clock.Clock, log *slog.Logger) (*tickets.Service, error) {
	maxPrice, err := c.Money("tickets.max_price", c.Tickets.MaxPrice)
	if err != nil {
		return nil, err
	}
	bps, err := c.Tickets.RefundBelowBps()
	if err != nil {
		return nil, err
	}
	secret, err := db.Secret(ctx, "tickets_token_secret", clk.Now().UTC())
	if err != nil {
		return nil, err
	}
	return tickets.New(tickets.Config{Store: tickets.NewSQLStore(db), Book: led, Splitter: pl.Split,
		Parties: tickets.AccountParties{Accounts: acc}, Cards: packs, Clock: clk, Currency: c.Site.Currency, MaxPrice: maxPrice.Amount,
		Secret: secret, Policy: tickets.Policy{RefundBelowBps: bps, Prorate: c.Tickets.Prorate}, Log: log.With("component", "tickets")})
}

// Mount adds every route to app: the processor's routes and webhook, WHIP and
// WHEP (before the session, CSRF and age-gate middleware: they authenticate
// otherwise), then the pages and the API. The server renders error pages
// with a.Web.PageError, given to web.New.
func (a *App) Mount(app *fiber.App, pl Plugins) {
	// Billing books refunds, chargebacks and hosted top-ups from verified
	// webhook events, idempotently by event.
	// Every loaded processor, retired ones too: their refunds, chargebacks
	// and postbacks still arrive.
	for name, pr := range pl.processors() {
		(&web.ProcessorRoutes{Name: name, Processor: pr, Sink: billing.WithTopUps{Engine: a.Engine}, Audit: a.Audit}).Mount(app)
	}
	var ice []stream.ICEServer
	if s := a.Config.Stream; len(s.ICEServers) > 0 {
		ice = []stream.ICEServer{{URLs: s.ICEServers, Username: s.ICEUsername, Credential: s.ICECredential}}
	}
	whiphttp.Mount(app, a.SFU, whiphttp.Options{ICEServers: ice, Log: a.Log})
	a.Web.Mount(app)
}

// ExpireHolds releases timed-out ledger holds every interval until ctx ends
// (and once at once: holds that timed out while the host was down).
func (a *App) ExpireHolds(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := a.Ledger.ExpirePending(ctx, time.Now()); err != nil && ctx.Err() == nil {
			a.Log.Warn("ledger: expiring holds", "err", err)
		} else if n > 0 {
			a.Log.Info("ledger: released timed-out holds", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

var (
	_ web.Shows         = (*shows.Service)(nil)
	_ web.LiveVersioner = (*shows.Service)(nil)
	_                   = money.Money{}
)
