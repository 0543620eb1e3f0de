package reconcile_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/clock/clocktest"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/reconcile"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
)

// world is a database with real books: the ledger and the billing engine on
// it, the sandbox processor as a real plugin process.
type world struct {
	t   *testing.T
	ctx context.Context
	db  *store.DB
	clk *clocktest.Fake
	led *ledger.Ledger
	sbx processor.Processor
	eng *billing.Engine
}

func newWorld(t *testing.T, db *store.DB, strategy billing.Strategy) *world {
	t.Helper()
	w := &world{t: t, ctx: context.Background(), db: db, clk: clocktest.NewFake(time.Now().UTC().Truncate(time.Second))}
	w.led = ledger.New(db, ledger.Options{Clock: w.clk})
	host := pluginhost.NewHost(slog.New(slog.DiscardHandler), nil)
	t.Cleanup(host.Close)
	in, err := host.Launch(w.ctx, pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: "sandbox", Path: testbin.Plugin(t, "processor-sandbox"),
		Settings: []byte(`{"state_file":"` + filepath.Join(t.TempDir(), "sandbox.json") + `","webhook_secret":"reconcile-test-secret-0123456789"}`)})
	if err != nil {
		t.Fatal(err)
	}
	w.sbx = pluginhost.NewProcessor(in)
	sin, err := host.Launch(w.ctx, pluginhost.Spec{Kind: pluginkit.KindSplit, Name: "percentage", Path: testbin.Plugin(t, "split-percentage")})
	if err != nil {
		t.Fatal(err)
	}
	w.eng, err = billing.NewEngine(billing.Config{DB: db, Ledger: w.led, Clock: w.clk, Log: slog.New(slog.DiscardHandler),
		Processors: map[string]processor.Processor{"sandbox": w.sbx}, Splitter: pluginhost.NewSplit(sin),
		Strategies: map[string]billing.Strategy{"sandbox": strategy}, RefundUnused: strategy == billing.PrepaidBlocks,
		// A fee books fees -> clearing: no processor transaction.
		Fees: func(_ string, gross money.Money) (money.Money, error) {
			return money.Money{Amount: gross.Amount / 20, Currency: gross.Currency}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.eng.Close() })
	return w
}

// card enters a test card on the sandbox's hosted page, as a viewer does.
func (w *world) card(n int) *processor.StoredCredential {
	w.t.Helper()
	co, err := w.sbx.StartCheckout(w.ctx, processor.StartCheckoutRequest{IdempotencyKey: fmt.Sprintf("card/%s/%d", w.t.Name(), n),
		CustomerRef: "v1", ReturnURL: "https://camkit.test/cards/return"})
	if err != nil {
		w.t.Fatal(err)
	}
	u, _ := url.Parse(co.URL)
	form := url.Values{"ref": {co.Reference}, "card_number": {"4242424242424242"}, "exp": {"12/40"}, "cvc": {"123"}}
	resp, err := w.sbx.ServeHTTP(w.ctx, processor.HTTPRequest{Method: http.MethodPost, Path: u.Path, Body: []byte(form.Encode()),
		Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	if err != nil || resp.Status != http.StatusSeeOther {
		w.t.Fatalf("posting the card: %d %v", resp.Status, err)
	}
	back, _ := url.Parse(resp.Headers.Get("Location"))
	res, err := w.sbx.CompleteCheckout(w.ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "v1", Params: back.Query()})
	if err != nil || res.Credential == nil {
		w.t.Fatalf("CompleteCheckout: %v", err)
	}
	return res.Credential
}

// seat runs one private seat of secs billable seconds to its receipt.
func (w *world) seat(id string, secs time.Duration) billing.Receipt {
	w.t.Helper()
	_, err := w.eng.OpenSeat(w.ctx, billing.OpenRequest{SeatID: id, ShowID: "show1", Kind: split.KindPrivate, ViewerID: "v1", ModelID: "m1",
		Policy: pricing.DefaultPolicy(usd(120)), Funding: billing.Funding{Processor: "sandbox", Credential: w.card(len(id))}})
	if err != nil {
		w.t.Fatalf("OpenSeat: %v", err)
	}
	for _, k := range []meter.Kind{meter.ModelMediaFlowing, meter.ViewerConnected} {
		if err := w.eng.Liveness(id, meter.Event{Kind: k, At: w.clk.Now()}); err != nil {
			w.t.Fatal(err)
		}
	}
	w.clk.Advance(secs)
	end, err := w.eng.EndSeat(w.ctx, id, billing.ClosedByViewer)
	if err != nil || !end.Settled {
		w.t.Fatalf("EndSeat: %+v, %v", end, err)
	}
	return end.Receipt
}

func (w *world) run(st reconcile.Statement) reconcile.Result {
	w.t.Helper()
	now := time.Now().UTC()
	res, err := reconcile.Run(w.ctx, reconcile.Options{Processor: "sandbox", From: now.Add(-time.Hour), To: now.Add(time.Hour)},
		reconcile.NewSQL(w.db), st, reconcile.NewSQL(w.db))
	if err != nil {
		w.t.Fatalf("Run: %v", err)
	}
	return res
}

func kinds(res reconcile.Result) map[reconcile.MismatchKind][]string {
	out := map[reconcile.MismatchKind][]string{}
	for _, m := range res.Mismatches {
		out[m.Kind] = append(out[m.Kind], m.Reference)
	}
	return out
}

type unsupported struct{}

func (unsupported) Transactions(context.Context, processor.TransactionsRequest) (processor.TransactionReport, error) {
	return processor.TransactionReport{}, errs.E(errs.Unsupported, "no report")
}

// The books of a card seat (its capture, fee and split), of a prepaid seat
// (its block charges and the refund of the unused part) and of a refund the
// processor notified agree with the sandbox's report; a capture made at the
// processor behind camkit's back and a refund booked from a notification
// the processor's records lack are the two mismatches. Without the report,
// the recorded notifications and answers agree with the books, and a
// chargeback camkit could not trace is missing in the ledger. Both dialects.
func TestRunOnTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db, billing.CardHold)
		card := w.seat("card1", 150*time.Second)
		var capture string
		for _, c := range card.ProcessorCalls {
			if c.Op == "capture" {
				capture = c.Reference
			}
		}
		// A refund the sandbox made, notified: booked, and in its report.
		rf, err := w.sbx.Refund(w.ctx, processor.RefundRequest{IdempotencyKey: "portal/refund/1", Reference: capture, Amount: usd(100)})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.eng.HandleProcessorEvents(w.ctx, "sandbox", []processor.Event{{ID: "evt_rf_1", Type: processor.EventRefund,
			Reference: rf.Reference, RelatedReference: capture, Amount: usd(100), OccurredAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		res := w.run(w.sbx)
		if !res.Clean() || res.Matched != 2 || res.Source != "sandbox state journal" {
			t.Fatalf("clean books: %+v\n%s", res, strings.Join(res.Lines(), "\n"))
		}

		// The two planted mismatches.
		cred := w.card(99)
		a, err := w.sbx.Authorize(w.ctx, processor.AuthorizeRequest{IdempotencyKey: "behind/auth", Credential: *cred, Amount: usd(500)})
		if err != nil {
			t.Fatal(err)
		}
		lacked, err := w.sbx.Capture(w.ctx, processor.CaptureRequest{IdempotencyKey: "behind/capture", AuthorizationReference: a.Reference, Amount: usd(500)})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.eng.HandleProcessorEvents(w.ctx, "sandbox", []processor.Event{{ID: "evt_rf_2", Type: processor.EventRefund,
			Reference: "sbx_rf_never", RelatedReference: capture, Amount: usd(50), OccurredAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		res = w.run(w.sbx)
		got := kinds(res)
		if len(res.Mismatches) != 2 || len(got[reconcile.MissingInLedger]) != 1 || got[reconcile.MissingInLedger][0] != lacked.Reference ||
			len(got[reconcile.MissingAtProcessor]) != 1 || got[reconcile.MissingAtProcessor][0] != "sbx_rf_never" {
			t.Fatalf("planted mismatches: %v\n%s", got, strings.Join(res.Lines(), "\n"))
		}

		// Without a report: the notifications and answers. The refund the
		// processor notified is its record now, so only what camkit cannot
		// trace remains: a chargeback of nothing camkit knows.
		if err := w.eng.HandleProcessorEvents(w.ctx, "sandbox", []processor.Event{{ID: "evt_cb_x", Type: processor.EventChargeback,
			Reference: "sbx_cb_x", RelatedReference: "sbx_ch_unknown", Amount: usd(700), OccurredAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		res = w.run(unsupported{})
		got = kinds(res)
		if res.Source != reconcile.SourceRecorded || len(res.Mismatches) != 1 || len(got[reconcile.MissingInLedger]) != 1 ||
			got[reconcile.MissingInLedger][0] != "sbx_cb_x" {
			t.Fatalf("recorded: %v\n%s", got, strings.Join(res.Lines(), "\n"))
		}

		// A week earlier nothing moved, on either side: the database is
		// asked for that range only (both dialects compare its dates).
		week := time.Now().Add(-7 * 24 * time.Hour)
		sq := reconcile.NewSQL(w.db)
		for name, read := range map[string]func(context.Context, string, time.Time, time.Time) ([]reconcile.Entry, error){
			"clearing": sq.Clearing, "events": sq.Events, "answers": sq.Answers} {
			if es, err := read(w.ctx, "sandbox", week, week.Add(time.Hour)); err != nil || len(es) != 0 {
				t.Fatalf("%s a week earlier: %+v, %v", name, es, err)
			}
			if es, err := read(w.ctx, "sandbox", week, time.Now().Add(time.Hour)); err != nil || len(es) == 0 {
				t.Fatalf("%s up to now: %+v, %v", name, es, err)
			}
		}
		for _, st := range []reconcile.Statement{w.sbx, unsupported{}} {
			res, err := reconcile.Run(w.ctx, reconcile.Options{Processor: "sandbox", From: week, To: week.Add(time.Hour), Margin: time.Hour},
				reconcile.NewSQL(w.db), st, reconcile.NewSQL(w.db))
			if err != nil || res.Camkit != 0 || res.Reported != 0 || !res.Clean() {
				t.Fatalf("a week earlier: %+v, %v", res, err)
			}
		}
	})
}

// prepaid_blocks: each block charge books clearing -> wallet, and the
// unused part goes back to the card; an odd transfer on the clearing
// account that names no processor transaction is untraced.
func TestRunPrepaidSeatOnTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db, billing.PrepaidBlocks)
		r := w.seat("pre1", 400*time.Second)
		if r.Refunded.Amount == 0 {
			t.Fatalf("no unused part refunded: %+v", r)
		}
		res := w.run(w.sbx)
		if !res.Clean() || res.Matched != 3 { // two blocks, one refund
			t.Fatalf("prepaid seat: %+v\n%s", res, strings.Join(res.Lines(), "\n"))
		}
		if res := w.run(unsupported{}); !res.Clean() || res.Matched != 3 {
			t.Fatalf("prepaid seat, recorded: %+v\n%s", res, strings.Join(res.Lines(), "\n"))
		}
		if _, err := w.led.Transfer(w.ctx, ledger.Request{Key: "manual/adjustment/1", Debit: "processor:sandbox:clearing", Credit: "viewer:v1:wallet", Amount: usd(5)}); err != nil {
			t.Fatal(err)
		}
		res = w.run(w.sbx)
		if len(res.Mismatches) != 1 || res.Mismatches[0].Kind != reconcile.Untraced || !strings.Contains(res.Mismatches[0].String(), "manual/adjustment/1") {
			t.Fatalf("an untraced transfer: %s", strings.Join(res.Lines(), "\n"))
		}
	})
}
