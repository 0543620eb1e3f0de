package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/clock/clocktest"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/reconcile"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/internal/testbin"
	epochgw "github.com/camkit/camkit/plugins/processor-epoch/fakegw"
	nmigw "github.com/camkit/camkit/plugins/processor-mobiuspay/fakegw"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
)

const reconcileSecret = "reconcile-e2e-secret-0123456789abcdef"

// sandboxBooks is a database with real books made by the billing engine
// against the real sandbox plugin, whose state file the host's reconcile
// then reads through its own plugin process.
type sandboxBooks struct {
	t     *testing.T
	ctx   context.Context
	db    *store.DB
	state string
}

// with runs f with the sandbox plugin and a billing engine on the books; the
// plugin process is gone when it returns (one writer per state file).
func (b *sandboxBooks) with(f func(sbx processor.Processor, eng *billing.Engine, clk *clocktest.Fake)) {
	b.t.Helper()
	host := pluginhost.NewHost(slog.New(slog.DiscardHandler), nil)
	defer host.Close()
	in, err := host.Launch(b.ctx, pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: "sandbox", Path: testbin.Plugin(b.t, "processor-sandbox"),
		Settings: []byte(`{"state_file":"` + b.state + `","webhook_secret":"` + reconcileSecret + `"}`)})
	if err != nil {
		b.t.Fatal(err)
	}
	sbx := pluginhost.NewProcessor(in)
	clk := clocktest.NewFake(time.Now().UTC().Truncate(time.Second))
	eng, err := billing.NewEngine(billing.Config{DB: b.db, Ledger: ledger.New(b.db, ledger.Options{Clock: clk}), Clock: clk,
		Log: slog.New(slog.DiscardHandler), Processors: map[string]processor.Processor{"sandbox": sbx}})
	if err != nil {
		b.t.Fatal(err)
	}
	defer eng.Close()
	f(sbx, eng, clk)
}

// sandboxCard enters a test card on the sandbox's hosted page.
func sandboxCard(t *testing.T, sbx processor.Processor, key string) *processor.StoredCredential {
	t.Helper()
	ctx := context.Background()
	co, err := sbx.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: key, CustomerRef: "v1", ReturnURL: "https://camkit.test/cards/return"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(co.URL)
	form := url.Values{"ref": {co.Reference}, "card_number": {"4242424242424242"}, "exp": {"12/40"}, "cvc": {"123"}}
	resp, err := sbx.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: u.Path, Body: []byte(form.Encode()),
		Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	if err != nil || resp.Status != http.StatusSeeOther {
		t.Fatalf("posting the card: %d %v", resp.Status, err)
	}
	back, _ := url.Parse(resp.Headers.Get("Location"))
	res, err := sbx.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "v1", Params: back.Query()})
	if err != nil || res.Credential == nil {
		t.Fatalf("CompleteCheckout: %v", err)
	}
	return res.Credential
}

// runReconcile runs `camkit reconcile` on the books, with args after the
// processor and range, and returns its standard output and exit status.
func (b *sandboxBooks) runReconcile(dbURL string, args ...string) (string, int) {
	b.t.Helper()
	toml := fmt.Sprintf("[plugin.processor-sandbox.settings]\nstate_file = %q\nwebhook_secret = %q\n", b.state, reconcileSecret)
	return reconcileCLI(b.t, dbURL, toml, "sandbox", args...)
}

// reconcileCLI runs `camkit reconcile --processor name` over the last and
// the next hour with config, the processor's binary in plugins.dir, and
// returns its standard output and exit status. A failure must end with the
// one closing line on stderr.
func reconcileCLI(t *testing.T, dbURL, config, name string, args ...string) (string, int) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "camkit.toml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	cmd := exec.Command(testbin.Host(t), append([]string{"reconcile", "--processor", name,
		"--from", now.Add(-time.Hour).Format(time.RFC3339), "--to", now.Add(time.Hour).Format(time.RFC3339)}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "CAMKIT_CONFIG="+cfg, "CAMKIT_DATABASE_URL="+dbURL,
		"CAMKIT_PLUGINS_DIR="+testbin.PluginDir(t, "processor-"+name))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		if ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "camkit: reconcile "+name+": ") {
			t.Fatalf("exit %d without the closing line on stderr:\n%s\n%s", ee.ExitCode(), out, stderr.String())
		}
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// `camkit reconcile`, the real binary with the real sandbox plugin, on
// both dialects: a settled card seat and a refund the sandbox made and
// notified reconcile clean (exit 0); a capture made at the sandbox that the
// ledger lacks and a refund booked from a notification the sandbox has no
// record of are printed as the two mismatches (exit 1), in text and JSON.
func TestReconcileCommandFindsPlantedMismatches(t *testing.T) {
	for name, dbURL := range map[string]string{"sqlite": storetest.SQLiteURL(t), "postgres": storetest.PostgresURL(t)} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			b := &sandboxBooks{t: t, ctx: ctx, db: db, state: filepath.Join(t.TempDir(), "sandbox.json")}
			var capture string
			b.with(func(sbx processor.Processor, eng *billing.Engine, clk *clocktest.Fake) {
				if _, err := eng.OpenSeat(ctx, billing.OpenRequest{SeatID: "seat1", ShowID: "show1", Kind: split.KindPrivate, ViewerID: "v1", ModelID: "m1",
					Policy:  pricing.DefaultPolicy(money.Money{Amount: 120, Currency: "USD"}),
					Funding: billing.Funding{Processor: "sandbox", Credential: sandboxCard(t, sbx, "card/1")}}); err != nil {
					t.Fatal(err)
				}
				for _, k := range []meter.Kind{meter.ModelMediaFlowing, meter.ViewerConnected} {
					if err := eng.Liveness("seat1", meter.Event{Kind: k, At: clk.Now()}); err != nil {
						t.Fatal(err)
					}
				}
				clk.Advance(150 * time.Second)
				end, err := eng.EndSeat(ctx, "seat1", billing.ClosedByViewer)
				if err != nil || !end.Settled {
					t.Fatalf("EndSeat: %+v, %v", end, err)
				}
				for _, c := range end.Receipt.ProcessorCalls {
					if c.Op == "capture" {
						capture = c.Reference
					}
				}
				rf, err := sbx.Refund(ctx, processor.RefundRequest{IdempotencyKey: "portal/refund/1", Reference: capture, Amount: money.Money{Amount: 100, Currency: "USD"}})
				if err != nil {
					t.Fatal(err)
				}
				if err := eng.HandleProcessorEvents(ctx, "sandbox", []processor.Event{{ID: "evt_rf_1", Type: processor.EventRefund,
					Reference: rf.Reference, RelatedReference: capture, Amount: rf.Amount, OccurredAt: time.Now()}}); err != nil {
					t.Fatal(err)
				}
				// While a plugin process holds the state file, as a running
				// host's does, reconcile reads a copy of it.
				out, code := b.runReconcile(dbURL)
				if code != 0 || !strings.Contains(out, "2 matched; clean") || !strings.Contains(out, "against sandbox state journal") {
					t.Fatalf("clean books: exit %d\n%s", code, out)
				}
			})

			var lacked string
			b.with(func(sbx processor.Processor, eng *billing.Engine, _ *clocktest.Fake) {
				cred := sandboxCard(t, sbx, "card/2")
				a, err := sbx.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "behind/auth", Credential: *cred, Amount: money.Money{Amount: 500, Currency: "USD"}})
				if err != nil {
					t.Fatal(err)
				}
				c, err := sbx.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "behind/capture", AuthorizationReference: a.Reference, Amount: a.Amount})
				if err != nil {
					t.Fatal(err)
				}
				lacked = c.Reference
				if err := eng.HandleProcessorEvents(ctx, "sandbox", []processor.Event{{ID: "evt_rf_2", Type: processor.EventRefund,
					Reference: "sbx_rf_never", RelatedReference: capture, Amount: money.Money{Amount: 50, Currency: "USD"}, OccurredAt: time.Now()}}); err != nil {
					t.Fatal(err)
				}
			})
			out, code := b.runReconcile(dbURL)
			if code != 1 || !strings.Contains(out, "MISMATCH missing_in_ledger "+lacked+": processor sale 5.00 USD") ||
				!strings.Contains(out, "MISMATCH missing_at_processor sbx_rf_never: camkit refund 0.50 USD") || !strings.Contains(out, "2 mismatch(es)") {
				t.Fatalf("planted mismatches: exit %d\n%s", code, out)
			}
			t.Logf("camkit reconcile:\n%s", out)
			out, code = b.runReconcile(dbURL, "--json")
			var res reconcile.Result
			if err := json.Unmarshal([]byte(out), &res); code != 1 || err != nil || len(res.Mismatches) != 2 || res.Matched != 2 {
				t.Fatalf("--json: exit %d, %v\n%s", code, err, out)
			}
		})
	}
}

// tomlTable writes a JSON object of plugin settings (strings, numbers,
// lists of strings, lists of flat objects) as the TOML table [name].
func tomlTable(t *testing.T, name string, settings []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(settings, &m); err != nil {
		t.Fatal(err)
	}
	scalar := func(v any) string {
		switch v := v.(type) {
		case string:
			return fmt.Sprintf("%q", v)
		case float64:
			return fmt.Sprintf("%d", int64(v))
		case bool:
			return fmt.Sprintf("%t", v)
		}
		t.Fatalf("setting value %T", v)
		return ""
	}
	var b, tables strings.Builder
	fmt.Fprintf(&b, "[%s]\n", name)
	for k, v := range m {
		list, ok := v.([]any)
		if !ok {
			fmt.Fprintf(&b, "%s = %s\n", k, scalar(v))
			continue
		}
		var items []string
		for _, x := range list {
			if obj, ok := x.(map[string]any); ok {
				fmt.Fprintf(&tables, "[[%s.%s]]\n", name, k)
				for kk, vv := range obj {
					fmt.Fprintf(&tables, "%s = %s\n", kk, scalar(vv))
				}
				continue
			}
			items = append(items, scalar(x))
		}
		if len(items) > 0 {
			fmt.Fprintf(&b, "%s = [%s]\n", k, strings.Join(items, ", "))
		}
	}
	return b.String() + tables.String()
}

// `camkit reconcile` against MobiusPay's NMI gateway (the fake serves
// query.php's documented XML): a settled card seat and a refund made in the
// merchant portal and notified by webhook reconcile clean with what
// query.php lists; a capture made at the gateway that the ledger lacks and
// a refund booked from a notification the gateway has no record of are the
// two mismatches.
func TestReconcileCommandAgainstMobiusPayQueryPHP(t *testing.T) {
	ctx := context.Background()
	dbURL := storetest.SQLiteURL(t)
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	g := nmigw.New(t, "USD")
	settings, err := g.Settings(filepath.Join(t.TempDir(), "state.json"), []string{"USD"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	usd := func(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }
	with := func(f func(nmi processor.Processor, eng *billing.Engine, clk *clocktest.Fake)) {
		t.Helper()
		host := pluginhost.NewHost(slog.New(slog.DiscardHandler), nil)
		defer host.Close()
		in, err := host.Launch(ctx, pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: "mobiuspay", Path: testbin.Plugin(t, "processor-mobiuspay"), Settings: settings})
		if err != nil {
			t.Fatal(err)
		}
		nmi := pluginhost.NewProcessor(in)
		clk := clocktest.NewFake(time.Now().UTC().Truncate(time.Second))
		eng, err := billing.NewEngine(billing.Config{DB: db, Ledger: ledger.New(db, ledger.Options{Clock: clk}), Clock: clk,
			Log: slog.New(slog.DiscardHandler), Processors: map[string]processor.Processor{"mobiuspay": nmi}})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		f(nmi, eng, clk)
	}
	// card stores a card as the viewer does: Collect.js tokenises it in the
	// browser, the plugin's page posts the token.
	card := func(nmi processor.Processor, key string) *processor.StoredCredential {
		t.Helper()
		co, err := nmi.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: key, CustomerRef: "v1", ReturnURL: "https://camkit.test/cards/return"})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(co.URL)
		form := url.Values{"ref": {co.Reference}, "payment_token": {g.Tokenize(nmigw.CardApprove, "1240")}}
		resp, err := nmi.ServeHTTP(ctx, processor.HTTPRequest{Method: http.MethodPost, Path: u.Path, Body: []byte(form.Encode()),
			Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
		if err != nil || resp.Status != http.StatusSeeOther {
			t.Fatalf("posting the token: %d %v %s", resp.Status, err, resp.Body)
		}
		back, _ := url.Parse(resp.Headers.Get("Location"))
		res, err := nmi.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "v1", Params: back.Query()})
		if err != nil || res.Credential == nil {
			t.Fatalf("CompleteCheckout: %v", err)
		}
		return res.Credential
	}
	var capture string
	with(func(nmi processor.Processor, eng *billing.Engine, clk *clocktest.Fake) {
		if _, err := eng.OpenSeat(ctx, billing.OpenRequest{SeatID: "seat1", ShowID: "show1", Kind: split.KindPrivate, ViewerID: "v1", ModelID: "m1",
			Policy: pricing.DefaultPolicy(usd(120)), Funding: billing.Funding{Processor: "mobiuspay", Credential: card(nmi, "card/1")}}); err != nil {
			t.Fatal(err)
		}
		for _, k := range []meter.Kind{meter.ModelMediaFlowing, meter.ViewerConnected} {
			if err := eng.Liveness("seat1", meter.Event{Kind: k, At: clk.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(150 * time.Second)
		end, err := eng.EndSeat(ctx, "seat1", billing.ClosedByViewer)
		if err != nil || !end.Settled {
			t.Fatalf("EndSeat: %+v, %v", end, err)
		}
		for _, c := range end.Receipt.ProcessorCalls {
			if c.Op == "capture" {
				capture = c.Reference
			}
		}
		wh, err := g.RefundWebhook(capture, usd(100)) // in the merchant portal
		if err != nil {
			t.Fatal(err)
		}
		res, err := nmi.ParseWebhook(ctx, wh)
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.HandleWebhookEvents(ctx, "mobiuspay", res.Events); err != nil {
			t.Fatal(err)
		}
	})
	config := tomlTable(t, "plugin.processor-mobiuspay.settings", settings)
	out, code := reconcileCLI(t, dbURL, config, "mobiuspay")
	if code != 0 || !strings.Contains(out, "against NMI query.php: 2 camkit, 2 processor, 2 matched; clean") {
		t.Fatalf("clean books: exit %d\n%s", code, out)
	}

	var lacked string
	with(func(nmi processor.Processor, eng *billing.Engine, _ *clocktest.Fake) {
		cred := card(nmi, "card/2")
		a, err := nmi.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: "behind/auth", Credential: *cred, Amount: usd(500)})
		if err != nil {
			t.Fatal(err)
		}
		c, err := nmi.Capture(ctx, processor.CaptureRequest{IdempotencyKey: "behind/capture", AuthorizationReference: a.Reference, Amount: a.Amount})
		if err != nil {
			t.Fatal(err)
		}
		lacked = c.Reference
		if err := eng.HandleProcessorEvents(ctx, "mobiuspay", []processor.Event{{ID: nmigw.NewEventID(), Type: processor.EventRefund,
			Reference: "9999999999", RelatedReference: capture, Amount: usd(50), OccurredAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
	})
	out, code = reconcileCLI(t, dbURL, config, "mobiuspay")
	if code != 1 || !strings.Contains(out, "MISMATCH missing_in_ledger "+lacked+": processor sale 5.00 USD") ||
		!strings.Contains(out, "MISMATCH missing_at_processor 9999999999: camkit refund 0.50 USD") || !strings.Contains(out, "2 mismatch(es)") {
		t.Fatalf("planted mismatches: exit %d\n%s", code, out)
	}
	t.Logf("camkit reconcile:\n%s", out)
	g.Mu.Lock()
	n := len(g.Queries)
	g.Mu.Unlock()
	if n < 2 {
		t.Fatalf("query.php was asked %d times, want once per run", n)
	}
}

// `camkit reconcile` for a processor without a report (Epoch: hosted credit
// packs and their postbacks) compares the books with the postbacks the host
// recorded, and says so: a credit pack bought, booked as credits, and
// partly charged back reconciles clean; a sale whose postback names no
// viewer (recorded, its credits never booked) and a transfer out of the
// clearing account that no postback explains are the mismatches.
func TestReconcileCommandFallsBackToRecordedEvents(t *testing.T) {
	ctx := context.Background()
	dbURL := storetest.SQLiteURL(t)
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	g := epochgw.New(t)
	settings, err := g.Settings(filepath.Join(t.TempDir(), "state.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	usd := func(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }
	led := ledger.New(db, ledger.Options{})
	with := func(f func(ep processor.Processor, eng *billing.Engine)) {
		t.Helper()
		host := pluginhost.NewHost(slog.New(slog.DiscardHandler), nil)
		defer host.Close()
		in, err := host.Launch(ctx, pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: "epoch", Path: testbin.Plugin(t, "processor-epoch"), Settings: settings})
		if err != nil {
			t.Fatal(err)
		}
		ep := pluginhost.NewProcessor(in)
		eng, err := billing.NewEngine(billing.Config{DB: db, Ledger: led, Clock: clock.Real(), Log: slog.New(slog.DiscardHandler),
			Processors: map[string]processor.Processor{"epoch": ep}})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		f(ep, eng)
	}
	// buy pays a credit pack on Epoch's page and delivers its postback.
	buy := func(ep processor.Processor, eng *billing.Engine, customer string) []processor.Event {
		t.Helper()
		pack := usd(2999)
		co, err := ep.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "pack/" + customer, CustomerRef: customer,
			ReturnURL: "https://camkit.test/account/cards/return", Purchase: &pack, Description: "credits"})
		if err != nil {
			t.Fatal(err)
		}
		pb, err := g.Purchase(co, "4111111111111111")
		if err != nil {
			t.Fatal(err)
		}
		return deliverTo(t, ep, eng, "epoch", pb)
	}
	with(func(ep processor.Processor, eng *billing.Engine) {
		sale := buy(ep, eng, "v1")
		cb, err := g.ChargebackPostback(sale[0].Reference, usd(1000), "4837")
		if err != nil {
			t.Fatal(err)
		}
		deliverTo(t, ep, eng, "epoch", cb)
	})
	config := tomlTable(t, "plugin.processor-epoch.settings", settings)
	out, code := reconcileCLI(t, dbURL, config, "epoch")
	if code != 0 || !strings.Contains(out, "NOTE processor epoch offers no transaction report") ||
		!strings.Contains(out, "against "+reconcile.SourceRecorded+": 2 camkit, 2 processor, 2 matched; clean") {
		t.Fatalf("clean books: exit %d\n%s", code, out)
	}

	var unbooked string
	with(func(ep processor.Processor, eng *billing.Engine) {
		unbooked = buy(ep, eng, "no viewer")[0].Reference
	})
	if _, err := led.Transfer(ctx, ledger.Request{Key: "manual/refund/1", Debit: "viewer:v1:wallet", Credit: "processor:epoch:clearing", Amount: usd(500)}); err != nil {
		t.Fatal(err)
	}
	out, code = reconcileCLI(t, dbURL, config, "epoch")
	if code != 1 || !strings.Contains(out, "MISMATCH missing_in_ledger "+unbooked+": processor sale 29.99 USD") ||
		!strings.Contains(out, "MISMATCH untraced -: camkit refund 5.00 USD") || !strings.Contains(out, "manual/refund/1") {
		t.Fatalf("planted mismatches: exit %d\n%s", code, out)
	}
	t.Logf("camkit reconcile:\n%s", out)
}

// deliverTo hands a webhook to the plugin as the host's /webhooks/<name>
// route does and its verified events to the billing engine.
func deliverTo(t *testing.T, p processor.Processor, eng *billing.Engine, name string, req processor.WebhookRequest) []processor.Event {
	t.Helper()
	res, err := p.ParseWebhook(context.Background(), req)
	if err != nil || res.Response.Status/100 != 2 {
		t.Fatalf("%s: ParseWebhook: %d %v", name, res.Response.Status, err)
	}
	if err := eng.HandleWebhookEvents(context.Background(), name, res.Events); err != nil {
		t.Fatalf("%s: HandleWebhookEvents(%+v): %v", name, res.Events, err)
	}
	return res.Events
}
