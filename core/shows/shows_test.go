package shows_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/clock/clocktest"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
)

// rates is a model's rate card that the model can change at any time.
type rates struct {
	mu   sync.Mutex
	rate map[string]int64
}

func (r *rates) set(model string, cents int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rate[model] = cents
}

func (r *rates) CurrentPolicy(_ context.Context, model string, _ shows.Mode) (pricing.Policy, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.rate[model]
	if !ok {
		return pricing.Policy{}, errs.E(errs.NotFound, "no rate for %s", model)
	}
	return pricing.DefaultPolicy(money.Money{Amount: c, Currency: "USD"}), nil
}

type world struct {
	t     *testing.T
	ctx   context.Context
	clk   *clocktest.Fake
	eng   *billing.Engine
	svc   *shows.Paid
	rates *rates
	sbx   processor.Processor
	led   *ledger.Ledger
}

func newWorld(t *testing.T) *world {
	ctx := context.Background()
	db := storetest.Postgres(t)
	clk := clocktest.NewFake(time.Now().UTC().Truncate(time.Second))
	led := ledger.New(db, ledger.Options{Clock: clk})
	host := pluginhost.NewHost(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	t.Cleanup(host.Close)
	in, err := host.Launch(ctx, pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: "sandbox", Path: testbin.Plugin(t, "processor-sandbox"),
		Settings: []byte(`{"state_file":"` + filepath.Join(t.TempDir(), "sbx.json") + `","webhook_secret":"shows-test-secret-0123456789"}`)})
	if err != nil {
		t.Fatal(err)
	}
	sbx := pluginhost.NewProcessor(in)
	eng, err := billing.NewEngine(billing.Config{DB: db, Ledger: led, Clock: clk, Processors: map[string]processor.Processor{"sandbox": sbx}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	r := &rates{rate: map[string]int64{"m1": 120}}
	svc, err := shows.NewPaid(shows.PaidConfig{DB: db, Clock: clk, Billing: eng, Rates: r})
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, ctx: ctx, clk: clk, eng: eng, svc: svc, rates: r, sbx: sbx, led: led}
}

func (w *world) card() *processor.StoredCredential {
	w.t.Helper()
	co, err := w.sbx.StartCheckout(w.ctx, processor.StartCheckoutRequest{IdempotencyKey: "card/" + time.Now().String(), CustomerRef: "v",
		ReturnURL: "https://camkit.test/r"})
	if err != nil {
		w.t.Fatal(err)
	}
	u, _ := url.Parse(co.URL)
	form := url.Values{"ref": {co.Reference}, "card_number": {"4242424242424242"}, "exp": {"12/40"}, "cvc": {"123"}}
	resp, err := w.sbx.ServeHTTP(w.ctx, processor.HTTPRequest{Method: http.MethodPost, Path: u.Path, Body: []byte(form.Encode()),
		Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	if err != nil || resp.Status != http.StatusSeeOther {
		w.t.Fatalf("card: %v %d", err, resp.Status)
	}
	back, _ := url.Parse(resp.Headers.Get("Location"))
	res, err := w.sbx.CompleteCheckout(w.ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "v", Params: back.Query()})
	if err != nil {
		w.t.Fatal(err)
	}
	return res.Credential
}

func (w *world) seat(showID, viewer string) billing.SeatInfo {
	w.t.Helper()
	info, err := w.svc.OpenSeat(w.ctx, showID, shows.SeatRequest{ViewerID: viewer, Funding: billing.Funding{Processor: "sandbox", Credential: w.card()}})
	if err != nil {
		w.t.Fatalf("OpenSeat: %v", err)
	}
	return info
}

// end ends a seat as its viewer and returns the receipt: settlement must
// have finished.
func (w *world) end(seatID string) billing.Receipt {
	w.t.Helper()
	r, err := w.svc.EndSeat(w.ctx, seatID, billing.ClosedByViewer)
	if err != nil {
		w.t.Fatalf("EndSeat: %v", err)
	}
	if !r.Settled {
		w.t.Fatalf("EndSeat: still %s: %+v", r.Status.State, r.Status)
	}
	return r.Receipt
}

func (w *world) handle(ev shows.Event) {
	w.t.Helper()
	if err := w.svc.Handle(ev); err != nil {
		w.t.Fatalf("%T: %v", ev, err)
	}
}

// DESIGN.md: "The model changes the rate mid-show: the seat keeps the rate
// locked when it opened." In a group show, a seat opened before the change
// pays the old rate; one opened after pays the new one.
func TestModelChangesRateMidShow_OpenSeatKeepsTheRateLockedWhenItOpened(t *testing.T) {
	w := newWorld(t)
	sh, err := w.svc.OpenShow(w.ctx, shows.OpenShowRequest{ModelID: "m1", Mode: shows.Group})
	if err != nil {
		t.Fatal(err)
	}
	w.handle(shows.ModelMediaFlowing{ShowID: sh.ID, Since: w.clk.Now()})
	a := w.seat(sh.ID, "va")
	w.handle(shows.ViewerConnected{ShowID: sh.ID, SeatID: a.ID, At: w.clk.Now()})
	w.clk.Advance(30 * time.Second)
	w.rates.set("m1", 300) // the model raises the rate
	b := w.seat(sh.ID, "vb")
	w.handle(shows.ViewerConnected{ShowID: sh.ID, SeatID: b.ID, At: w.clk.Now()})
	w.clk.Advance(60 * time.Second)
	ra, rb := w.end(a.ID), w.end(b.ID)
	if ra.Policy.RatePerMinute.Amount != 120 || ra.BillableSeconds != 90 || ra.Price.Amount != 180 {
		t.Fatalf("seat a: rate %v, %d s, %v", ra.Policy.RatePerMinute, ra.BillableSeconds, ra.Price)
	}
	if rb.Policy.RatePerMinute.Amount != 300 || rb.BillableSeconds != 60 || rb.Price.Amount != 300 {
		t.Fatalf("seat b: rate %v, %d s, %v", rb.Policy.RatePerMinute, rb.BillableSeconds, rb.Price)
	}
}

// Group mode: the model's drop pauses every seat; one viewer's drop pauses
// only their own seat; each seat has its own funding.
func TestGroupShow_ModelDropPausesEverySeatViewerDropOnlyTheirs(t *testing.T) {
	w := newWorld(t)
	sh, err := w.svc.OpenShow(w.ctx, shows.OpenShowRequest{ModelID: "m1", Mode: shows.Group})
	if err != nil {
		t.Fatal(err)
	}
	a, b := w.seat(sh.ID, "va"), w.seat(sh.ID, "vb")
	t0 := w.clk.Now()
	w.handle(shows.ViewerConnected{ShowID: sh.ID, SeatID: a.ID, At: t0})
	w.handle(shows.ViewerConnected{ShowID: sh.ID, SeatID: b.ID, At: t0})
	w.handle(shows.ModelMediaFlowing{ShowID: sh.ID, Since: t0})
	w.clk.Advance(40 * time.Second)
	w.handle(shows.ViewerDisconnected{ShowID: sh.ID, SeatID: b.ID, LastEvidenceAt: t0.Add(37 * time.Second)})
	w.clk.Advance(20 * time.Second)
	w.handle(shows.ModelMediaStopped{ShowID: sh.ID, LastPacketAt: t0.Add(58 * time.Second)})
	w.clk.Advance(10 * time.Second)
	w.handle(shows.ModelMediaFlowing{ShowID: sh.ID, Since: w.clk.Now()}) // t0+70
	w.handle(shows.ViewerConnected{ShowID: sh.ID, SeatID: b.ID, At: w.clk.Now()})
	w.clk.Advance(30 * time.Second)
	if err := w.svc.EndShow(w.ctx, sh.ID, "model ended"); err != nil {
		t.Fatal(err)
	}
	ra, err := w.eng.Receipt(w.ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := w.eng.Receipt(w.ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ra.BillableSeconds != 88 || rb.BillableSeconds != 67 || ra.CloseReason != billing.ClosedByModel {
		t.Fatalf("seat a %d s (%s), seat b %d s: want 88 and 67", ra.BillableSeconds, ra.CloseReason, rb.BillableSeconds)
	}
	if ra.Funding[0].Reference == rb.Funding[0].Reference {
		t.Fatal("two seats share one hold")
	}
	if err := w.svc.Handle(shows.ModelMediaStopped{ShowID: sh.ID, LastPacketAt: w.clk.Now()}); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("event for an ended show: %v", err)
	}
}

// A private show takes one seat; events naming another show's seat or an
// unknown seat are refused.
func TestPrivateShow_OneSeatAndForeignEventsRefused(t *testing.T) {
	w := newWorld(t)
	sh, err := w.svc.OpenShow(w.ctx, shows.OpenShowRequest{ModelID: "m1", Mode: shows.Private})
	if err != nil {
		t.Fatal(err)
	}
	a := w.seat(sh.ID, "va")
	_, err = w.svc.OpenSeat(w.ctx, sh.ID, shows.SeatRequest{ViewerID: "vb", Funding: billing.Funding{Processor: "sandbox", Credential: w.card()}})
	if errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("second seat of a private show: %v", err)
	}
	other, err := w.svc.OpenShow(w.ctx, shows.OpenShowRequest{ModelID: "m1", Mode: shows.Group})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.svc.Handle(shows.ViewerConnected{ShowID: other.ID, SeatID: a.ID, At: w.clk.Now()}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("foreign seat: %v", err)
	}
	if err := w.svc.Handle(shows.ViewerConnected{ShowID: sh.ID, SeatID: "nope", At: w.clk.Now()}); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("unknown seat: %v", err)
	}
	if _, err := w.svc.OpenSeat(w.ctx, "nope", shows.SeatRequest{ViewerID: "v"}); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("unknown show: %v", err)
	}
	if _, err := w.svc.OpenShow(w.ctx, shows.OpenShowRequest{ModelID: "m1", Mode: "public"}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("public paid show: %v", err)
	}
	if r := w.end(a.ID); r.Price.Amount != 0 {
		t.Fatalf("end: %+v", r)
	}
}
