package billing_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/clock/clocktest"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/currency"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
)

// Test cards of plugins/processor-sandbox/cards.go.
const (
	cardOK        = "4242424242424242"
	cardDecline   = "4000000000000002"
	cardFirstOnly = "4000000000000341" // approves the first authorisation or charge only
)

var cardSeq atomic.Int64

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// env is one test's world: a fresh PostgreSQL database, the real ledger on
// it, the sandbox processor and percentage split plugins as real processes,
// and a fake clock that drives everything.
type env struct {
	t      *testing.T
	ctx    context.Context
	db     *store.DB
	clk    *clocktest.Fake
	led    *ledger.Ledger
	host   *pluginhost.Host
	sbx    processor.Processor // the plugin client
	proc   *faulty             // what the engine sees: the plugin, with injectable faults
	split  split.Splitter
	events *eventLog
	eng    *billing.Engine
	cfg    billing.Config
}

type envOpt func(*billing.Config)

func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	return newEnvOn(t, storetest.Postgres(t), opts...)
}

// newEnvOn is newEnv on a database of the caller's choice (a dialect).
func newEnvOn(t *testing.T, db *store.DB, opts ...envOpt) *env {
	t.Helper()
	ctx := context.Background()
	v := &env{t: t, ctx: ctx, db: db, events: &eventLog{}}
	// Real time, to the second: the sandbox's hold expiry and the FX
	// plugin's quote expiry read the real clock.
	v.clk = clocktest.NewFake(time.Now().UTC().Truncate(time.Second))
	v.led = ledger.New(v.db, ledger.Options{Clock: v.clk})
	v.host = pluginhost.NewHost(quiet(), nil)
	t.Cleanup(v.host.Close)
	in, err := v.host.Launch(ctx, pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: "sandbox",
		Path:     testbin.Plugin(t, "processor-sandbox"),
		Settings: []byte(`{"state_file":"` + filepath.Join(t.TempDir(), "sandbox.json") + `","webhook_secret":"billing-test-secret-0123456789"}`)})
	if err != nil {
		t.Fatalf("launch sandbox: %v", err)
	}
	v.sbx = pluginhost.NewProcessor(in)
	v.proc = &faulty{Processor: v.sbx}
	sin, err := v.host.Launch(ctx, pluginhost.Spec{Kind: pluginkit.KindSplit, Name: "percentage", Path: testbin.Plugin(t, "split-percentage")})
	if err != nil {
		t.Fatalf("launch split: %v", err)
	}
	v.split = pluginhost.NewSplit(sin)
	v.cfg = billing.Config{DB: v.db, Ledger: v.led, Clock: v.clk, Log: quiet(),
		Processors: map[string]processor.Processor{"sandbox": v.proc}, Splitter: v.split, Events: v.events}
	for _, o := range opts {
		o(&v.cfg)
	}
	v.eng = v.newEngine()
	return v
}

func (v *env) newEngine() *billing.Engine {
	v.t.Helper()
	e, err := billing.NewEngine(v.cfg)
	if err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() { billing.Halt(e) })
	return e
}

// restart simulates a crashed host coming back: the old engine is halted
// without writing anything, and a new one (on a new fake clock at the same
// instant, so the dead engine's timers can never fire) takes over the same
// database and plugins.
func (v *env) restart() {
	v.t.Helper()
	billing.Halt(v.eng)
	v.clk = clocktest.NewFake(v.clk.Now())
	v.cfg.Clock = v.clk
	v.led = ledger.New(v.db, ledger.Options{Clock: v.clk})
	v.cfg.Ledger = v.led
	v.eng = v.newEngine()
}

// card enters number on the sandbox's hosted card page, as a viewer would,
// and returns the stored credential.
func (v *env) card(number string) *processor.StoredCredential {
	v.t.Helper()
	co, err := v.sbx.StartCheckout(v.ctx, processor.StartCheckoutRequest{IdempotencyKey: fmt.Sprintf("card/%s/%s/%d", number, v.t.Name(), cardSeq.Add(1)),
		CustomerRef: "viewer", ReturnURL: "https://camkit.test/cards/return"})
	if err != nil {
		v.t.Fatalf("StartCheckout: %v", err)
	}
	u, _ := url.Parse(co.URL)
	form := url.Values{"ref": {co.Reference}, "card_number": {number}, "exp": {"12/40"}, "cvc": {"123"}}
	resp, err := v.sbx.ServeHTTP(v.ctx, processor.HTTPRequest{Method: http.MethodPost, Path: u.Path, Body: []byte(form.Encode()),
		Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	if err != nil || resp.Status != http.StatusSeeOther {
		v.t.Fatalf("posting the card: %d %v %s", resp.Status, err, resp.Body)
	}
	back, _ := url.Parse(resp.Headers.Get("Location"))
	res, err := v.sbx.CompleteCheckout(v.ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "viewer", Params: back.Query()})
	if err != nil || res.Credential == nil {
		v.t.Fatalf("CompleteCheckout: %v", err)
	}
	return res.Credential
}

// topUp puts credits in a viewer's wallet, as a credit-pack purchase would.
func (v *env) topUp(viewer string, m money.Money) {
	v.t.Helper()
	_, err := v.led.Transfer(v.ctx, ledger.Request{Key: fmt.Sprintf("topup/%s/%d", viewer, v.clk.Now().UnixNano()), Kind: ledger.Single,
		Debit: "processor:sandbox:clearing", Credit: "viewer:" + viewer + ":wallet", Amount: m})
	if err != nil {
		v.t.Fatal(err)
	}
}

func (v *env) posted(code, cur string) int64 {
	v.t.Helper()
	b, err := v.led.Balance(v.ctx, code, cur)
	if errs.CodeOf(err) == errs.NotFound {
		return 0
	}
	if err != nil {
		v.t.Fatal(err)
	}
	return b.Posted().Amount
}

func (v *env) balance(code, cur string) ledger.Balance {
	v.t.Helper()
	b, err := v.led.Balance(v.ctx, code, cur)
	if err != nil && errs.CodeOf(err) != errs.NotFound {
		v.t.Fatal(err)
	}
	return b
}

func (v *env) verifyLedger() {
	v.t.Helper()
	rep, err := v.led.Verify(v.ctx)
	if err != nil {
		v.t.Fatal(err)
	}
	if !rep.Clean() {
		v.t.Fatalf("ledger verify: %v", rep.Faults)
	}
}

func cents(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }

// stdPolicy is 120 USD cents a minute (2 cents a second), per second, with
// five-minute blocks, a minute of lead and two minutes of maximum pause.
func stdPolicy() pricing.Policy { return pricing.DefaultPolicy(cents(120)) }

func (v *env) openCard(seat, number string, pol pricing.Policy) billing.SeatInfo {
	v.t.Helper()
	info, err := v.eng.OpenSeat(v.ctx, billing.OpenRequest{SeatID: seat, ShowID: "show1", Kind: split.KindPrivate,
		ViewerID: "v1", ModelID: "m1", Policy: pol, Funding: billing.Funding{Processor: "sandbox", Credential: v.card(number)}})
	if err != nil {
		v.t.Fatalf("OpenSeat: %v", err)
	}
	return info
}

func (v *env) live(seat string, kind meter.Kind, at time.Time) {
	v.t.Helper()
	if err := v.eng.Liveness(seat, meter.Event{Kind: kind, At: at}); err != nil {
		v.t.Fatalf("%v at %v: %v", kind, at, err)
	}
}

// bothLive reports model media and the viewer connected now.
func (v *env) bothLive(seat string) {
	v.t.Helper()
	v.live(seat, meter.ModelMediaFlowing, v.clk.Now())
	v.live(seat, meter.ViewerConnected, v.clk.Now())
}

func (v *env) end(seat string) billing.Receipt {
	v.t.Helper()
	r, err := v.eng.EndSeat(v.ctx, seat, billing.ClosedByViewer)
	if err != nil {
		v.t.Fatalf("EndSeat: %v", err)
	}
	if !r.Settled {
		v.t.Fatalf("EndSeat: not settled: %+v", r.Status)
	}
	return r.Receipt
}

func (v *env) receipt(seat string) billing.Receipt {
	v.t.Helper()
	r, err := v.eng.Receipt(v.ctx, seat)
	if err != nil {
		v.t.Fatalf("Receipt(%s): %v", seat, err)
	}
	return r
}

// captureOf returns the capture call on a receipt.
func captureOf(t *testing.T, r billing.Receipt) billing.ProcessorCall {
	t.Helper()
	var found []billing.ProcessorCall
	for _, c := range r.ProcessorCalls {
		if c.Op == "capture" {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one capture, got %+v", r.ProcessorCalls)
	}
	return found[0]
}

// assertHoldsClosed checks at the sandbox itself that no authorisation of the
// receipt is still open: voiding it again under a fresh key is refused.
func (v *env) assertHoldsClosed(r billing.Receipt) {
	v.t.Helper()
	for _, f := range r.Funding {
		if f.Kind != "card_hold" {
			continue
		}
		_, err := v.sbx.Void(v.ctx, processor.VoidRequest{IdempotencyKey: "probe/" + f.Reference, AuthorizationReference: f.Reference})
		if errs.CodeOf(err) != errs.Conflict {
			v.t.Errorf("authorisation %s (step %d, %s) is still open at the sandbox: void probe got %v", f.Reference, f.N, f.Status, err)
		}
	}
}

func (v *env) assertReceiptCovers(r billing.Receipt, seconds int64, price money.Money) {
	v.t.Helper()
	if r.BillableSeconds != seconds || r.Price != price {
		v.t.Fatalf("receipt: %d s for %v, want %d s for %v\n%+v", r.BillableSeconds, r.Price, seconds, price, r)
	}
	var ms int64
	for _, iv := range r.Intervals {
		ms += iv.EndMs - iv.StartMs
	}
	if ms/1000 < seconds {
		v.t.Fatalf("receipt intervals hold %d ms, fewer than the %d s billed", ms, seconds)
	}
}

// ivs builds intervals relative to t0, in seconds.
func ivs(t0 time.Time, pairs ...float64) []meter.Interval {
	var out []meter.Interval
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, meter.Interval{StartMs: t0.UnixMilli() + int64(pairs[i]*1000), EndMs: t0.UnixMilli() + int64(pairs[i+1]*1000)})
	}
	return out
}

func sameIntervals(a, b []meter.Interval) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// eventLog records billing events.
type eventLog struct {
	mu  sync.Mutex
	evs []billing.Event
}

func (l *eventLog) BillingEvent(e billing.Event) {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
}

func (l *eventLog) of(seat string, typ billing.EventType) []billing.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []billing.Event
	for _, e := range l.evs {
		if e.SeatID == seat && e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// faulty passes every call to the real plugin, except that a test can make
// the next calls of an operation fail before they reach it (a network
// failure: nothing moves), or make the plugin's answer report another amount
// than it moved (a misbehaving processor).
type faulty struct {
	processor.Processor
	mu       sync.Mutex
	fail     map[string][]error
	misstate map[string]money.Money // op -> the amount to report instead
	calls    map[string]int
}

func (f *faulty) failNext(op string, errsToReturn ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail = map[string][]error{}
	}
	f.fail[op] = append(f.fail[op], errsToReturn...)
}

func (f *faulty) misreport(op string, m money.Money) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.misstate == nil {
		f.misstate = map[string]money.Money{}
	}
	f.misstate[op] = m
}

func (f *faulty) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *faulty) before(op string) (error, *money.Money) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
	var mis *money.Money
	if m, ok := f.misstate[op]; ok {
		mis = &m
	}
	if q := f.fail[op]; len(q) > 0 {
		f.fail[op] = q[1:]
		return q[0], mis
	}
	return nil, mis
}

func (f *faulty) Authorize(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, error) {
	err, mis := f.before("authorize")
	if err != nil {
		return processor.Authorization{}, err
	}
	a, err := f.Processor.Authorize(ctx, r)
	if err == nil && mis != nil {
		a.Amount = *mis
	}
	return a, err
}

func (f *faulty) Capture(ctx context.Context, r processor.CaptureRequest) (processor.CaptureResult, error) {
	err, mis := f.before("capture")
	if err != nil {
		return processor.CaptureResult{}, err
	}
	c, err := f.Processor.Capture(ctx, r)
	if err == nil && mis != nil {
		c.Amount = *mis
	}
	return c, err
}

func (f *faulty) Void(ctx context.Context, r processor.VoidRequest) (processor.VoidResult, error) {
	if err, _ := f.before("void"); err != nil {
		return processor.VoidResult{}, err
	}
	return f.Processor.Void(ctx, r)
}

func (f *faulty) Charge(ctx context.Context, r processor.ChargeRequest) (processor.ChargeResult, error) {
	err, mis := f.before("charge")
	if err != nil {
		return processor.ChargeResult{}, err
	}
	c, err := f.Processor.Charge(ctx, r)
	if err == nil && mis != nil {
		c.Amount = *mis
	}
	return c, err
}

func (f *faulty) Refund(ctx context.Context, r processor.RefundRequest) (processor.RefundResult, error) {
	if err, _ := f.before("refund"); err != nil {
		return processor.RefundResult{}, err
	}
	return f.Processor.Refund(ctx, r)
}

var errDown = errs.Retry(errs.Unavailable, "test: processor unreachable")

// fxConverter launches the currency-fixed plugin with the given settings.
func (v *env) fxConverter(settings string) currency.Converter {
	v.t.Helper()
	in, err := v.host.Launch(v.ctx, pluginhost.Spec{Kind: pluginkit.KindCurrency, Name: "fixed", Path: testbin.Plugin(v.t, "currency-fixed"),
		Settings: []byte(settings)})
	if err != nil {
		v.t.Fatalf("launch currency-fixed: %v", err)
	}
	return pluginhost.NewCurrency(in)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code errs.Code, mention string) {
	t.Helper()
	if errs.CodeOf(err) != code || (mention != "" && !strings.Contains(err.Error(), mention)) {
		t.Fatalf("got %v, want %s mentioning %q", err, code, mention)
	}
}

var _ = errors.New
