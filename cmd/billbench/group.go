package main

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"sort"
	"sync/atomic"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/money"
)

// groupRate is the model's group rate: every seat locks it at its join.
type groupRate struct{ pol pricing.Policy }

func (g groupRate) CurrentPolicy(context.Context, string, shows.Mode) (pricing.Policy, error) {
	return g.pol, nil
}

// benchGroup runs one group show with n paying seats through shows.Paid, the
// path the site uses: each seat opened (and funded) on its own, the model's
// media and the viewers' connections fed as liveness events, then the model
// ends the show and every seat settles.
func benchGroup(ctx context.Context, db *store.DB, n int, dur, flapEvery time.Duration, workers int, sandboxPath string, wallet bool) {
	clk := clock.Real()
	led := ledger.New(db, ledger.Options{Clock: clk})
	funding, procs, done := setupFunding(ctx, led, n, sandboxPath, wallet)
	defer done()
	eng, err := billing.NewEngine(billing.Config{DB: db, Ledger: led, Clock: clk, Log: quiet(), Processors: procs})
	check(err)
	defer eng.Close()
	pol := pricing.DefaultPolicy(money.Money{Amount: 150, Currency: "USD"})
	paid, err := shows.NewPaid(shows.PaidConfig{DB: db, Clock: clk, Billing: eng, Rates: groupRate{pol}})
	check(err)
	sh, err := paid.OpenShow(ctx, shows.OpenShowRequest{ModelID: "m1", Mode: shows.Group})
	check(err)
	check(paid.Handle(shows.ModelMediaFlowing{ShowID: sh.ID, Since: clk.Now()}))

	seats := make([]string, n)
	var fails atomic.Int64
	t := time.Now()
	parallel(n, workers, func(i int) {
		info, err := paid.OpenSeat(ctx, sh.ID, shows.SeatRequest{ViewerID: fmt.Sprintf("v%d", i), Funding: funding})
		if err != nil {
			if fails.Add(1) == 1 {
				fmt.Fprintln(os.Stderr, "billbench: first failed join:", err)
			}
			return
		}
		seats[i] = info.ID
		_ = paid.Handle(shows.ViewerConnected{ShowID: sh.ID, SeatID: info.ID, At: clk.Now()})
	})
	fmt.Printf("group show: %d viewers joined (%d failed, wallet=%v) in %v\n", n-int(fails.Load()), fails.Load(), wallet,
		time.Since(t).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // let the joins' checkpoints drain
	eng.ResetCheckpointStats()

	// Churn: each viewer drops every flapEvery on average and is back 2 s
	// later (loss backdated 1 s); halfway through, the model's media stops
	// for 3 s, pausing every seat at once.
	var events atomic.Int64
	dropAt, backAt := time.Now().Add(dur/2), time.Now().Add(dur/2+3*time.Second)
	var dropped, returned bool
	model := func(now time.Time) int {
		// The model's media, then a viewer now and then (flapEvery per viewer).
		if !dropped && now.After(dropAt) {
			dropped = true
			_ = paid.Handle(shows.ModelMediaStopped{ShowID: sh.ID, LastPacketAt: now.Add(-time.Second)})
			events.Add(1)
		}
		if !returned && now.After(backAt) {
			returned = true
			_ = paid.Handle(shows.ModelMediaFlowing{ShowID: sh.ID, Since: now})
			events.Add(1)
		}
		if mrand.Float64() < float64(n)*0.1/flapEvery.Seconds() {
			return 1
		}
		return 0
	}
	stop := churn(&events, model, func() string { return seats[mrand.IntN(n)] },
		func(id string, at time.Time) error {
			return paid.Handle(shows.ViewerDisconnected{ShowID: sh.ID, SeatID: id, LastEvidenceAt: at})
		},
		func(id string, at time.Time) error {
			return paid.Handle(shows.ViewerConnected{ShowID: sh.ID, SeatID: id, At: at})
		})
	time.Sleep(dur)
	stop()
	st := eng.CheckpointStats()
	fmt.Printf("metered %d group seats for %v: %d liveness events, %d checkpoint rows in %d flushes\n",
		eng.OpenSeats(), dur, events.Load(), st.Rows, st.Flushes)
	fmt.Printf("checkpoint lag: p50 %v, p99 %v, max %v\n", st.LagP50.Round(time.Millisecond), st.LagP99.Round(time.Millisecond), st.Max.Round(time.Millisecond))

	cpu0 := cpuOf(ctx, db)
	t = time.Now()
	check(paid.EndShow(ctx, sh.ID, "bench"))
	ended := time.Since(t)
	var lats []time.Duration
	for {
		var unsettled int
		check(db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM billing_seats WHERE state IN ('opening', 'open', 'closed')`).Scan(&unsettled))
		if unsettled == 0 {
			break
		}
		if time.Since(t) > 5*time.Minute {
			check(fmt.Errorf("%d seats still unsettled 5 minutes after the show ended", unsettled))
		}
		time.Sleep(5 * time.Millisecond)
	}
	wall := time.Since(t)
	cpu1 := cpuOf(ctx, db)
	rows, err := db.SQL().QueryContext(ctx, `SELECT (EXTRACT(EPOCH FROM settled_at - closed_at) * 1000000)::bigint FROM billing_seats WHERE state = 'settled'`)
	check(err)
	for rows.Next() {
		var us int64
		if rows.Scan(&us) == nil {
			lats = append(lats, time.Duration(us)*time.Microsecond)
		}
	}
	rows.Close()
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	var settled int
	check(db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM billing_seats WHERE state = 'settled'`).Scan(&settled))
	fmt.Printf("model ended the show: EndShow returned in %v; all %d seats settled %v after it (%.0f settlements/s)\n",
		ended.Round(time.Millisecond), settled, wall.Round(time.Millisecond), float64(settled)/wall.Seconds())
	if len(lats) > 0 {
		fmt.Printf("close to settled per seat: p50 %v, p99 %v\n", lats[len(lats)/2].Round(time.Millisecond),
			lats[min(len(lats)-1, len(lats)*99/100)].Round(time.Millisecond))
	}
	if settled > 0 {
		per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(settled) }
		fmt.Printf("CPU per settlement: host %.0f µs, plugin %.0f µs, PostgreSQL backends %.0f µs\n",
			per(cpu1.host-cpu0.host), per(cpu1.plugins-cpu0.plugins), per(cpu1.backends.since(cpu0.backends)))
	}
	rep, err := led.Verify(ctx)
	check(err)
	fmt.Printf("ledger verify: %s\n", rep.Summary())
}
