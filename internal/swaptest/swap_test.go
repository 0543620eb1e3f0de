package swaptest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/clock/clocktest"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
)

// The scenario's figures. The locked rate is 120 cents a minute, per second,
// in five-minute blocks (600 cents) with a minute of lead: funding is
// extended at 240 and 540 billable seconds. The viewer's connection drops at
// t0+97 s (backdated to its last packet) and comes back at t0+130 s; the
// viewer ends the seat at t0+600 s: 97 + 470 = 567 billable seconds.
const (
	ratePerMinute = 120
	billableSecs  = 567
	blockCents    = 600
	fundedCents   = 3 * blockCents // the first block and two extensions
	viewer        = "v1"
	model         = "m1"
)

// price is round_half_up(rate * seconds / 60), computed once from the total.
var price = usd((ratePerMinute*billableSecs + 30) / 60)

func usd(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// world is one processor's run: a fresh PostgreSQL database with the real
// ledger, the processor plugin and the percentage split plugin as real
// processes, and a billing engine on a fake clock.
type world struct {
	t      *testing.T
	ctx    context.Context
	name   string // the processor's name: plugin processor-<name>, accounts processor:<name>:*
	clk    *clocktest.Fake
	led    *ledger.Ledger
	proc   processor.Processor // the plugin process's client
	calls  *counting           // what the engine sees: the client, counting the engine's calls
	eng    *billing.Engine
	events *eventLog
}

func newWorld(t *testing.T, name string, settings []byte) *world {
	t.Helper()
	ctx := context.Background()
	db := storetest.Postgres(t)
	// Real time to the second: the plugins date holds and check webhook
	// timestamps by their own clocks.
	w := &world{t: t, ctx: ctx, name: name, clk: clocktest.NewFake(time.Now().UTC().Truncate(time.Second)), events: &eventLog{}}
	w.led = ledger.New(db, ledger.Options{Clock: w.clk})
	host := pluginhost.NewHost(quiet(), nil)
	t.Cleanup(host.Close)
	in, err := host.Launch(ctx, pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: name, Path: testbin.Plugin(t, "processor-"+name), Settings: settings})
	if err != nil {
		t.Fatalf("launch processor-%s: %v", name, err)
	}
	w.proc = pluginhost.NewProcessor(in)
	w.calls = &counting{Processor: w.proc, n: map[string]int{}}
	sin, err := host.Launch(ctx, pluginhost.Spec{Kind: pluginkit.KindSplit, Name: "percentage", Path: testbin.Plugin(t, "split-percentage")})
	if err != nil {
		t.Fatalf("launch split-percentage: %v", err)
	}
	w.eng, err = billing.NewEngine(billing.Config{DB: db, Ledger: w.led, Clock: w.clk, Log: quiet(),
		Processors: map[string]processor.Processor{name: w.calls}, Splitter: pluginhost.NewSplit(sin), Events: w.events,
		FlushEvery: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.eng.Close() })
	return w
}

// deliver hands a webhook to the plugin as the host's /webhooks/<name>
// route does, checks the plugin answers the processor 2xx, and gives the
// verified events to the billing engine.
func (w *world) deliver(req processor.WebhookRequest) []processor.Event {
	w.t.Helper()
	res, err := w.proc.ParseWebhook(w.ctx, req)
	if err != nil {
		w.t.Fatalf("%s: ParseWebhook: %v", w.name, err)
	}
	if res.Response.Status/100 != 2 {
		w.t.Fatalf("%s: the plugin answers the processor %d %s", w.name, res.Response.Status, res.Response.Body)
	}
	if err := w.eng.HandleWebhookEvents(w.ctx, w.name, res.Events); err != nil {
		w.t.Fatalf("%s: HandleWebhookEvents(%+v): %v", w.name, res.Events, err)
	}
	return res.Events
}

func (w *world) live(kind meter.Kind, at time.Time) {
	w.t.Helper()
	if err := w.eng.Liveness("seat1", meter.Event{Kind: kind, At: at}); err != nil {
		w.t.Fatalf("%v at %v: %v", kind, at, err)
	}
}

func (w *world) balance(code string) ledger.Balance {
	w.t.Helper()
	b, err := w.led.Balance(w.ctx, code, "USD")
	if err != nil && errs.CodeOf(err) != errs.NotFound {
		w.t.Fatal(err)
	}
	return b
}

func (w *world) posted(code string) int64 { return w.balance(code).Posted().Amount }

func (w *world) receipt() billing.Receipt {
	w.t.Helper()
	r, err := w.eng.Receipt(w.ctx, "seat1")
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func (w *world) verifyLedger() {
	w.t.Helper()
	rep, err := w.led.Verify(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	if !rep.Clean() {
		w.t.Fatalf("ledger verify: %v", rep.Faults)
	}
}

// counting passes every call to the plugin and counts the money-moving ones.
type counting struct {
	processor.Processor
	mu sync.Mutex
	n  map[string]int
}

func (c *counting) add(op string) {
	c.mu.Lock()
	c.n[op]++
	c.mu.Unlock()
}

func (c *counting) count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

func (c *counting) Authorize(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, error) {
	c.add("authorize")
	return c.Processor.Authorize(ctx, r)
}

func (c *counting) Capture(ctx context.Context, r processor.CaptureRequest) (processor.CaptureResult, error) {
	c.add("capture")
	return c.Processor.Capture(ctx, r)
}

func (c *counting) Void(ctx context.Context, r processor.VoidRequest) (processor.VoidResult, error) {
	c.add("void")
	return c.Processor.Void(ctx, r)
}

func (c *counting) Charge(ctx context.Context, r processor.ChargeRequest) (processor.ChargeResult, error) {
	c.add("charge")
	return c.Processor.Charge(ctx, r)
}

func (c *counting) Refund(ctx context.Context, r processor.RefundRequest) (processor.RefundResult, error) {
	c.add("refund")
	return c.Processor.Refund(ctx, r)
}

// eventLog records the engine's billing events.
type eventLog struct {
	mu  sync.Mutex
	evs []billing.Event
}

func (l *eventLog) BillingEvent(e billing.Event) {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
}

func (l *eventLog) of(typ billing.EventType) []billing.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []billing.Event
	for _, e := range l.evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// TestPrivateShowSwapsProcessorsByConfigOnly runs the private-show scenario
// with each processor in turn; only the plugin binary and its settings
// change. Each run then takes the processor's refund and chargeback
// notifications through the plugin and the engine to the ledger.
func TestPrivateShowSwapsProcessorsByConfigOnly(t *testing.T) {
	for _, sw := range swaps {
		t.Run(sw.name, func(t *testing.T) {
			fk := sw.start(t)
			w := newWorld(t, sw.name, fk.settings)
			r := privateShow(t, w, sw, fk)
			t.Run("refund_and_chargeback", func(t *testing.T) {
				w.t = t
				reversals(t, w, sw, fk, r)
			})
		})
	}
}

// privateShow is the scenario: the viewer pays through the processor's own
// page, a seat is opened, extended twice, the viewer drops and returns, the
// viewer ends it, it is settled and the ledger verified.
func privateShow(t *testing.T, w *world, sw swap, fk *fake) billing.Receipt {
	funding := fk.pay(w)
	info, err := w.eng.OpenSeat(w.ctx, billing.OpenRequest{SeatID: "seat1", ShowID: "show1", Kind: split.KindPrivate,
		ViewerID: viewer, ModelID: model, Policy: pricing.DefaultPolicy(usd(ratePerMinute)), Funding: funding})
	if err != nil {
		t.Fatalf("OpenSeat: %v", err)
	}
	if info.Strategy != sw.strategy || info.Funded != usd(blockCents) || info.FundedSeconds != 300 {
		t.Fatalf("opened %+v, want %s funding of one block", info, sw.strategy)
	}
	t0 := info.OpenedAt
	w.live(meter.ModelMediaFlowing, w.clk.Now())
	w.live(meter.ViewerConnected, w.clk.Now())
	w.clk.Advance(100 * time.Second)
	w.live(meter.ViewerDisconnected, t0.Add(97*time.Second)) // noticed 3 s late, backdated
	w.clk.Advance(30 * time.Second)
	w.live(meter.ViewerConnected, w.clk.Now())
	w.clk.Advance(470 * time.Second)

	if warn := w.events.of(billing.EventFundingWarning); len(warn) != 0 {
		t.Fatalf("funding warnings: %+v", warn)
	}
	ext := w.events.of(billing.EventFundingExtended)
	if len(ext) != 2 || ext[0].Funded != usd(2*blockCents) || ext[1].Funded != usd(fundedCents) || ext[1].FundedSeconds != 900 {
		t.Fatalf("extensions %+v, want two, to 1200 and 1800", ext)
	}
	end, err := w.eng.EndSeat(w.ctx, "seat1", billing.ClosedByViewer)
	if err != nil || !end.Settled {
		t.Fatalf("EndSeat: %v (%+v)", err, end.Status)
	}
	r := end.Receipt
	if r.BillableSeconds != billableSecs || r.Price != price || r.Policy.RatePerMinute != usd(ratePerMinute) ||
		r.Funded != usd(fundedCents) || r.Strategy != sw.strategy {
		t.Fatalf("receipt: %d s for %v at %v a minute, funded %v, %s; want %d s for %v at 120, funded 1800, %s",
			r.BillableSeconds, r.Price, r.Policy.RatePerMinute, r.Funded, r.Strategy, billableSecs, price, sw.strategy)
	}
	ms := t0.UnixMilli()
	if len(r.Intervals) != 2 || r.Intervals[0] != (meter.Interval{StartMs: ms, EndMs: ms + 97000}) ||
		r.Intervals[1] != (meter.Interval{StartMs: ms + 130000, EndMs: ms + 600000}) {
		t.Fatalf("intervals %+v, want [t0, t0+97s] and [t0+130s, t0+600s]", r.Intervals)
	}

	// What the engine asked of the processor, from the receipt's intent log.
	ops := map[string][]billing.ProcessorCall{}
	for _, c := range r.ProcessorCalls {
		ops[c.Op] = append(ops[c.Op], c)
	}
	switch sw.strategy {
	case billing.CardHold:
		// Three cumulative holds (600, 1200, 1800), one capture of the price.
		if len(ops["authorize"]) != 3 || len(ops["capture"]) != 1 || ops["capture"][0].Amount != price ||
			ops["capture"][0].State != "succeeded" || len(ops["charge"]) != 0 || w.calls.count("capture") != 1 {
			t.Fatalf("processor calls %+v", r.ProcessorCalls)
		}
		if r.Released != usd(fundedCents-price.Amount) {
			t.Fatalf("released %v, want %d", r.Released, fundedCents-price.Amount)
		}
	case billing.PrepaidBlocks:
		// Three block charges, nothing taken at the end; the unused part is credit.
		if len(ops["charge"]) != 3 || len(ops["capture"]) != 0 || len(ops["refund"]) != 0 || w.calls.count("charge") != 3 {
			t.Fatalf("processor calls %+v", r.ProcessorCalls)
		}
		for _, c := range ops["charge"] {
			if c.Amount != usd(blockCents) || c.State != "succeeded" {
				t.Fatalf("block charge %+v", c)
			}
		}
		if got := w.posted("viewer:" + viewer + ":wallet"); got != fundedCents-price.Amount {
			t.Fatalf("wallet %d after the seat, want the unused %d", got, fundedCents-price.Amount)
		}
	case billing.Wallet:
		if len(r.ProcessorCalls) != 0 {
			t.Fatalf("a wallet seat called the processor: %+v", r.ProcessorCalls)
		}
		if got := w.posted("viewer:" + viewer + ":wallet"); got != fk.walletBought-price.Amount {
			t.Fatalf("wallet %d after the seat, want %d bought - %d", got, fk.walletBought, price.Amount)
		}
	}
	// Exactly one final capture (or charge set) at the processor itself.
	fk.settled(w, r)

	// The split shares the price; the model gets something.
	var shared int64
	for _, s := range r.Allocation {
		shared += s.Amount.Amount
	}
	if shared != price.Amount || modelShare(r) <= 0 {
		t.Fatalf("allocation %+v does not share the %v price with the model", r.Allocation, price)
	}
	if got := w.posted("model:" + model + ":earnings"); got != modelShare(r) {
		t.Fatalf("model earnings %d, want the allocated %d", got, modelShare(r))
	}
	w.verifyLedger()
	return r
}

func modelShare(r billing.Receipt) int64 {
	var n int64
	for _, s := range r.Allocation {
		if s.Role == split.RoleModel {
			n += s.Amount.Amount
		}
	}
	return n
}

// reversalCase is one refund or chargeback to notify: of amount of the
// transaction ref, of which fromWallet must come out of the viewer's
// unused credit (the rest out of the price, with earnings clawed back).
type reversalCase struct {
	typ        processor.EventType
	ref        string
	amount     money.Money
	fromWallet int64
}

// reversalCases picks what to reverse from how the seat was funded.
func reversalCases(t *testing.T, sw swap, fk *fake, r billing.Receipt) []reversalCase {
	switch sw.strategy {
	case billing.CardHold:
		var capture string
		for _, c := range r.ProcessorCalls {
			if c.Op == "capture" {
				capture = c.Reference
			}
		}
		// Part of the captured price refunded, the rest charged back.
		return []reversalCase{{processor.EventRefund, capture, usd(300), 0}, {processor.EventChargeback, capture, usd(price.Amount - 300), 0}}
	case billing.PrepaidBlocks:
		refs := map[int]string{}
		for _, f := range r.Funding {
			if f.Kind == "charge" {
				refs[f.N] = f.Reference
			}
		}
		// Block 1 was used up by the price; block 2 only in part: the unused
		// part of a charged-back block 2 comes out of the wallet first.
		used2 := price.Amount - blockCents
		return []reversalCase{{processor.EventRefund, refs[1], usd(300), 0}, {processor.EventChargeback, refs[2], usd(blockCents), blockCents - used2}}
	case billing.Wallet:
		// The credit pack: the viewer's remaining credit goes back first.
		left := fk.walletBought - price.Amount
		return []reversalCase{{processor.EventRefund, fk.sale, usd(1000), 1000}, {processor.EventChargeback, fk.sale, usd(fk.walletBought - 1000), left - 1000}}
	}
	t.Fatalf("strategy %s", sw.strategy)
	return nil
}

// reversals notifies a refund and a chargeback as the processor does, each
// twice (processors redeliver until answered 2xx), and checks the ledger
// and the receipt.
func reversals(t *testing.T, w *world, sw swap, fk *fake, settled billing.Receipt) {
	if fk.noNotice != "" {
		t.Logf("%s sends no refund or chargeback notification: %s", sw.name, fk.noNotice)
		fk.refusesReversalNotice(w)
		return
	}
	clearing := "processor:" + sw.name + ":clearing"
	wallet := "viewer:" + viewer + ":wallet"
	earnings := "model:" + model + ":earnings"
	share := modelShare(settled)
	for i, c := range reversalCases(t, sw, fk, settled) {
		if c.ref == "" {
			t.Fatalf("%s: no transaction to reverse on %+v", c.typ, settled)
		}
		notify := fk.refund
		if c.typ == processor.EventChargeback {
			notify = fk.chargeback
		}
		req, err := notify(w, c.ref, c.amount)
		if err != nil {
			t.Fatalf("%s at the fake: %v", c.typ, err)
		}
		clearing0, wallet0, earnings0 := w.balance(clearing).CreditsPosted, w.posted(wallet), w.posted(earnings)
		evs := w.deliver(req)
		if len(evs) != 1 || evs[0].Type != c.typ || evs[0].RelatedReference != c.ref || evs[0].Amount != c.amount || evs[0].ID == "" {
			t.Fatalf("%s notification normalised to %+v, want one %s of %v naming %s", c.typ, evs, c.typ, c.amount, c.ref)
		}
		if got := w.balance(clearing).CreditsPosted - clearing0; got != c.amount.Amount {
			t.Fatalf("%s: %s credited %d, want the %d the processor took back", c.typ, clearing, got, c.amount.Amount)
		}
		if got := wallet0 - w.posted(wallet); got != c.fromWallet {
			t.Fatalf("%s: %d taken from the wallet, want %d", c.typ, got, c.fromWallet)
		}
		clawed := earnings0 - w.posted(earnings)
		r := w.receipt()
		if sw.strategy == billing.Wallet {
			// Credits bought with a hosted sale are reversed as a top-up:
			// what the viewer already spent on seats is the platform's loss
			// (core/billing planTopUpReversal), not any seat's.
			if clawed != 0 || len(r.Reversals) != 0 {
				t.Fatalf("%s of a credit pack clawed %d from the model / marked the seat: %+v", c.typ, clawed, r.Reversals)
			}
		} else {
			want := share * (c.amount.Amount - c.fromWallet) / price.Amount // floored: never more than the party's part
			if clawed != want || want <= 0 {
				t.Fatalf("%s: the model gave back %d of its %d, want %d", c.typ, clawed, share, want)
			}
			if len(r.Reversals) != i+1 {
				t.Fatalf("receipt reversals %+v, want %d", r.Reversals, i+1)
			}
			rv := r.Reversals[i]
			var back int64
			for _, s := range rv.Clawback {
				if s.Role == split.RoleModel {
					back += s.Amount.Amount
				}
			}
			if rv.Type != c.typ || rv.Amount != c.amount || rv.RelatedReference != c.ref || rv.FromWallet.Amount != c.fromWallet ||
				back != want || len(rv.LedgerTransfers) == 0 {
				t.Fatalf("receipt reversal %+v, want %s of %v on %s, %d from the wallet, %d clawed back", rv, c.typ, c.amount, c.ref, c.fromWallet, want)
			}
		}
		// The processor delivers it again: nothing moves twice.
		clearing1, earnings1 := w.balance(clearing).CreditsPosted, w.posted(earnings)
		w.deliver(req)
		if w.balance(clearing).CreditsPosted != clearing1 || w.posted(earnings) != earnings1 || len(w.receipt().Reversals) != len(r.Reversals) {
			t.Fatalf("a redelivered %s moved money again", c.typ)
		}
	}
	w.verifyLedger()
}

// httpForm is a browser's form post to one of the plugin's own routes.
func httpForm(path string, body string) processor.HTTPRequest {
	return processor.HTTPRequest{Method: http.MethodPost, Path: path, Body: []byte(body),
		Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}
}

var seq int

func uniq(prefix string) string {
	seq++
	return fmt.Sprintf("%s/%d/%d", prefix, time.Now().UnixNano(), seq)
}
