package main

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/camkit/camkit/plugins/processor-epoch/fakegw"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// host is what the host does with the events, reduced to what these tests
// check: each event id is recorded once, approved sales are credited to
// their customer.
type host struct {
	seen     map[string]processor.Event
	credited map[string]money.Money
}

func newHost() *host {
	return &host{seen: map[string]processor.Event{}, credited: map[string]money.Money{}}
}

func (h *host) deliver(t *testing.T, e *Epoch, req processor.WebhookRequest) []processor.Event {
	t.Helper()
	res, err := e.ParseWebhook(context.Background(), req)
	if err != nil || res.Response.Status != 200 || string(res.Response.Body) != "OK" {
		t.Fatalf("delivering %s: %+v, %v; want 200 OK", req.Body, res, err)
	}
	for _, ev := range res.Events {
		if _, dup := h.seen[ev.ID]; dup {
			continue
		}
		h.seen[ev.ID] = ev
		if ev.Type == processor.EventSale && ev.DeclineCode == "" {
			c := h.credited[ev.CustomerRef]
			if c.Currency != "" && c.Currency != ev.Amount.Currency {
				t.Fatalf("credits in %s and %s", c.Currency, ev.Amount.Currency)
			}
			h.credited[ev.CustomerRef] = money.Money{Amount: c.Amount + ev.Amount.Amount, Currency: ev.Amount.Currency}
		}
	}
	return res.Events
}

// sales are the transaction ids of the sales the fake took, read under its
// lock (its hosted page runs on another goroutine).
func sales(f *fakegw.Gateway) []string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	var ids []string
	for id := range f.Sales {
		ids = append(ids, id)
	}
	return ids
}

func fakeConfigured(t *testing.T) (*Epoch, *fakegw.Gateway) {
	t.Helper()
	f := fakegw.New(t)
	e := newEpoch(time.Now, &warnings{})
	settings, err := f.Settings(filepath.Join(t.TempDir(), "state.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Configure(context.Background(), settings); err != nil {
		t.Fatal(err)
	}
	return e, f
}

func packCheckout(t *testing.T, e *Epoch, key, customer string, price money.Money) processor.Checkout {
	t.Helper()
	co, err := e.StartCheckout(context.Background(), processor.StartCheckoutRequest{IdempotencyKey: key, CustomerRef: customer,
		ReturnURL: "https://camkit.test/credits/done", Purchase: &price})
	if err != nil {
		t.Fatal(err)
	}
	return co
}

// A credit pack bought on Epoch's hosted page from a checkout started with a
// Purchase: the postback credits exactly the pack's price point, once,
// though Epoch delivers it twice and DataPlus reports the sale again, and
// the checkout completes with that charge and the member as credential.
func TestHostedPackPurchaseCreditsItsPriceOnceThoughDeliveredAgain(t *testing.T) {
	e, f := fakeConfigured(t)
	h := newHost()
	pack := money.Money{Amount: 2999, Currency: "USD"}
	co := packCheckout(t, e, "pack/300", "v3", pack)
	if co.Fields["pi_code"] != "pack300" || co.Fields["x_camkit_ref"] != co.Reference {
		t.Fatalf("checkout fields %v", co.Fields)
	}
	pb, err := f.Purchase(co, "4111111111111111")
	if err != nil {
		t.Fatal(err)
	}
	first := h.deliver(t, e, pb)
	h.deliver(t, e, pb) // Epoch did not see the first 200
	f.Mu.Lock()
	f.SignDataPlus = true
	f.Mu.Unlock()
	rec, err := f.InitialRecord(first[0].Reference)
	if err != nil {
		t.Fatal(err)
	}
	h.deliver(t, e, rec) // ignored unsigned by default; signed it is the same event
	f.Mu.Lock()
	f.SignDataPlus = false
	f.Mu.Unlock()
	rec, _ = f.InitialRecord(first[0].Reference)
	h.deliver(t, e, rec)
	if got := h.credited["v3"]; got != pack || len(h.seen) != 1 {
		t.Fatalf("credited %v over %d events; want %v once", got, len(h.seen), pack)
	}
	f.Mu.Lock()
	sale := f.Sales[first[0].Reference]
	n := len(f.Sales)
	f.Mu.Unlock()
	if n != 1 || sale == nil || sale.Amount != pack {
		t.Fatalf("Epoch took %d sales (%+v); want one of %v", n, sale, pack)
	}
	res, err := e.CompleteCheckout(context.Background(), processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: "v3"})
	if err != nil || res.Pending || res.Charge == nil || res.Charge.Amount != pack || res.Charge.Reference != sale.TransactionID ||
		res.Credential == nil || res.Credential.Token != sale.MemberID {
		t.Fatalf("CompleteCheckout: %+v, %v", res, err)
	}
}

// A chargeback or a credit that reaches camkit before its sale's postback
// (DataPlus and FlexPost are separate feeds) is read all the same and
// names the sale; the sale then still credits its price once.
func TestReversalsBeforeOrAfterTheirSaleNameIt(t *testing.T) {
	e, f := fakeConfigured(t)
	h := newHost()
	price := money.Money{Amount: 999, Currency: "USD"}
	co := packCheckout(t, e, "pack/cb", "v4", price)
	pb, err := f.Purchase(co, "4111111111111111")
	if err != nil {
		t.Fatal(err)
	}
	tx := sales(f)[0]
	cb, err := f.ChargebackPostback(tx, money.Money{Amount: 400, Currency: "USD"}, "4837")
	if err != nil {
		t.Fatal(err)
	}
	before := h.deliver(t, e, cb)
	if len(before) != 1 || before[0].Type != processor.EventChargeback || before[0].RelatedReference != tx || before[0].Amount.Amount != 400 {
		t.Fatalf("chargeback before its sale: %+v", before)
	}
	sale := h.deliver(t, e, pb)
	if len(sale) != 1 || sale[0].Reference != tx || h.credited["v4"] != price {
		t.Fatalf("the sale after its chargeback: %+v, credited %v", sale, h.credited["v4"])
	}
	credit, err := f.CreditPostback(tx, money.Money{Amount: 599, Currency: "USD"}, "goodwill")
	if err != nil {
		t.Fatal(err)
	}
	after := h.deliver(t, e, credit)
	again := h.deliver(t, e, credit)
	if len(after) != 1 || after[0].Type != processor.EventRefund || after[0].RelatedReference != tx || after[0].Amount.Amount != 599 ||
		len(again) != 1 || again[0].ID != after[0].ID {
		t.Fatalf("credit after its sale, twice: %+v then %+v", after, again)
	}
	if len(h.seen) != 3 || h.credited["v4"] != price {
		t.Fatalf("%d events, credited %v; want 3 events and %v credited", len(h.seen), h.credited["v4"], price)
	}
}

// Declines on the hosted page carry Epoch's codes after the N; each maps to
// its errs code, on the event and on CompleteCheckout, and nothing is
// credited or taken.
func TestHostedDeclinesMapEpochsCodes(t *testing.T) {
	e, f := fakeConfigured(t)
	h := newHost()
	want := map[string]errs.Code{"NDECLINED": errs.Declined, "NEXPIRED": errs.ExpiredCard, "NDECLINEDCVV2": errs.InvalidCard,
		"NCALLCENTER": errs.Declined, "NMYVSNOTACCEPTED": errs.Declined}
	i := 0
	for card, ans := range fakegw.DeclineCards {
		i++
		code, ok := want[ans]
		if !ok {
			t.Fatalf("the fake declines with %q, which this test does not know", ans)
		}
		co := packCheckout(t, e, "pack/decline/"+ans, "v5", money.Money{Amount: 999, Currency: "USD"})
		pb, err := f.Purchase(co, card)
		if err != nil {
			t.Fatal(err)
		}
		evs := h.deliver(t, e, pb)
		if len(evs) != 1 || evs[0].DeclineCode != code || evs[0].Reason != ans[1:] {
			t.Errorf("%s: events %+v; want decline %s", ans, evs, code)
		}
		if _, err := e.CompleteCheckout(context.Background(), processor.CompleteCheckoutRequest{CheckoutReference: co.Reference}); errs.CodeOf(err) != code {
			t.Errorf("%s: CompleteCheckout %v; want %s", ans, err, code)
		}
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if len(f.Sales) != 0 || f.Declines != i || h.credited["v5"].Amount != 0 {
		t.Fatalf("after %d declines: %d sales at Epoch, %d declines, credited %v", i, len(f.Sales), f.Declines, h.credited["v5"])
	}
}

// The one call that leaves camkit's side is the viewer's browser posting
// to Epoch's page (the plugin itself calls no Epoch server). When that page
// answers 5xx it has booked nothing: the checkout stays pending, no
// postback comes, and the viewer's retry of the same checkout pays once.
func TestHostedPage5xxBooksNothingAndTheSameCheckoutCanBeRetried(t *testing.T) {
	e, f := fakeConfigured(t)
	h := newHost()
	price := money.Money{Amount: 999, Currency: "USD"}
	co := packCheckout(t, e, "pack/5xx", "v6", price)
	f.FailNext(1, 503)
	if _, err := f.Purchase(co, "4111111111111111"); err == nil {
		t.Fatal("the hosted page's 503 was not seen")
	}
	if _, queued := f.QueuedPostback(co.Reference); queued || len(sales(f)) != 0 {
		t.Fatalf("a 503 booked a sale (%d) or queued a postback (%v)", len(sales(f)), queued)
	}
	res, err := e.CompleteCheckout(context.Background(), processor.CompleteCheckoutRequest{CheckoutReference: co.Reference})
	if err != nil || !res.Pending {
		t.Fatalf("after the 503 the checkout is %+v, %v; want pending", res, err)
	}
	pb, err := f.Purchase(co, "4111111111111111")
	if err != nil {
		t.Fatal(err)
	}
	h.deliver(t, e, pb)
	if h.credited["v6"] != price || len(sales(f)) != 1 {
		t.Fatalf("retry: credited %v, %d sales; want %v once", h.credited["v6"], len(sales(f)), price)
	}
}

// Epoch accepted the payment but the viewer's connection dropped before
// the redirect (a timeout after acceptance): the viewer's return carries
// nothing and is not trusted anyway; the server-to-server postback
// completes the checkout and credits the pack once. Had the viewer paid
// again on Epoch's page, that second sale is a second event: camkit
// credits what Epoch took, each once.
func TestSaleAcceptedButViewerLostCompletesFromThePostback(t *testing.T) {
	e, f := fakeConfigured(t)
	h := newHost()
	price := money.Money{Amount: 999, Currency: "USD"}
	co := packCheckout(t, e, "pack/drop", "v7", price)
	f.DropAfterBooking(1)
	if _, err := f.Purchase(co, "4111111111111111"); err == nil {
		t.Fatal("the dropped connection was not seen")
	}
	res, err := e.CompleteCheckout(context.Background(), processor.CompleteCheckoutRequest{CheckoutReference: co.Reference,
		Params: url.Values{"ans": {"Y"}}})
	if err != nil || !res.Pending {
		t.Fatalf("before the postback: %+v, %v; want pending", res, err)
	}
	pb, queued := f.QueuedPostback(co.Reference)
	if !queued {
		t.Fatal("Epoch booked the sale but queued no postback")
	}
	h.deliver(t, e, pb)
	h.deliver(t, e, pb)
	res, err = e.CompleteCheckout(context.Background(), processor.CompleteCheckoutRequest{CheckoutReference: co.Reference})
	if err != nil || res.Charge == nil || res.Charge.Amount != price || h.credited["v7"] != price {
		t.Fatalf("after the postback: %+v, %v, credited %v", res, err, h.credited["v7"])
	}
	second, err := f.Purchase(co, "4111111111111111")
	if err != nil {
		t.Fatal(err)
	}
	h.deliver(t, e, second)
	if want := (money.Money{Amount: 2 * price.Amount, Currency: "USD"}); h.credited["v7"] != want || len(sales(f)) != 2 {
		t.Fatalf("two sales at Epoch (%d) credited %v; want %v", len(sales(f)), h.credited["v7"], want)
	}
	again, _ := e.CompleteCheckout(context.Background(), processor.CompleteCheckoutRequest{CheckoutReference: co.Reference})
	if again.Charge == nil || again.Charge.Reference != res.Charge.Reference {
		t.Fatalf("the checkout now reports %+v; want still its first sale %s", again.Charge, res.Charge.Reference)
	}
}
