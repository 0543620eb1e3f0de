package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/signal"
	"syscall"
	"time"

	"github.com/camkit/camkit/core/app"
	"github.com/camkit/camkit/core/clientaddr"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/web"
	"github.com/spf13/cobra"
)

func serveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the host: web, streaming, billing and the configured plugins",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			log := newLogger(cfg)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()

			db, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer db.Close()

			if err := retireReferenced(ctx, &cfg, db, log); err != nil {
				return err
			}
			reg := newRegistry()
			pl, err := launchPlugins(ctx, cfg, db, log, pluginhost.NewMetrics(reg))
			if err != nil {
				return err
			}
			defer pl.host.Close()

			pls := app.Plugins{ProcessorName: cfg.Plugins.Processor, Processor: pl.processor, Processors: pl.processors, Currency: pl.currency,
				Split: pl.split, Theme: pl.theme, Statuses: pluginStatuses(pl.host)}
			site, err := app.Build(ctx, cfg, log, db, pls, reg)
			if err != nil {
				return err
			}
			defer site.Close()
			go site.ExpireHolds(ctx, cfg.Billing.ExpireEvery.Duration)

			clients, err := clientaddr.New(cfg.HTTP.TrustedProxies, clientaddr.Header(cfg.HTTP.ProxyHeader))
			if err != nil {
				return fmt.Errorf("config: http: %w", err)
			}
			srv := web.New(web.Options{Log: log, Registry: reg, ClientAddr: clients, PublicURL: cfg.HTTP.PublicURL, PageError: site.Web.PageError, Checks: []web.ReadinessCheck{
				{Name: "database", Check: db.Ping},
				{Name: "plugins", Check: pl.host.Healthy},
			}})
			site.Mount(srv.App(), pls)

			ln, err := net.Listen("tcp", cfg.HTTP.Addr)
			if err != nil {
				return err
			}
			log.Info("camkit serving", "addr", "http://"+ln.Addr().String(), "database", db.String(),
				"processor", cfg.Plugins.Processor, "processors", cfg.ActiveProcessors(), "retired", cfg.Plugins.RetiredProcessors, "theme", cfg.Plugins.Theme)
			errc := make(chan error, 1)
			go func() { errc <- srv.App().Listener(ln) }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			log.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				log.Warn("http shutdown", "err", err)
			}
			return nil
		},
	}
}
