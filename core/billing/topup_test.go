package billing_test

import (
	"context"
	"testing"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// walletOnly is a processor that declares what Epoch declares: hosted
// purchases only, neither holds nor stored-credential charges.
type walletOnly struct{ processor.Processor }

func (w walletOnly) Capabilities(ctx context.Context) (processor.Capabilities, error) {
	c, err := w.Processor.Capabilities(ctx)
	c.AuthCapture, c.PartialCapture, c.Void, c.ChargeStoredCredential, c.Refund, c.PartialRefund = false, false, false, false, false, false
	return c, err
}

func withHosted(c *billing.Config) { c.Processors["hosted"] = walletOnly{c.Processors["sandbox"]} }

// An approved hosted sale of a wallet-only processor credits the viewer's
// wallet once, however often it is delivered; declined sales, sales naming
// no viewer and sales of processors that can charge move nothing; a refund
// of the sale then takes the credits back out of the wallet.
func TestHostedSaleOfWalletOnlyProcessor_BookedOnceAsTopUp_RefundTakesItBack(t *testing.T) {
	v := newEnv(t, withHosted)
	sale := processor.Event{ID: "sale:80001", Type: processor.EventSale, Reference: "80001", CustomerRef: "v7", Amount: cents(2999)}
	sink := billing.WithTopUps{Engine: v.eng} // as the web layer calls it
	for i := 0; i < 3; i++ {
		must(t, sink.HandleProcessorEvents(v.ctx, "hosted", []processor.Event{sale}))
	}
	if got := v.posted("viewer:v7:wallet", "USD"); got != 2999 {
		t.Fatalf("wallet %d after three deliveries of one sale, want 2999", got)
	}
	tr, err := v.led.TransferByKey(v.ctx, billing.TopUpKey("hosted", "80001"))
	if err != nil || tr.Debit != "processor:hosted:clearing" || tr.Credit != "viewer:v7:wallet" || tr.Amount != cents(2999) {
		t.Fatalf("top-up transfer %+v, %v", tr, err)
	}

	ignored := []struct {
		proc string
		ev   processor.Event
	}{
		{"hosted", processor.Event{ID: "declined:1", Type: processor.EventSale, Reference: "1", CustomerRef: "v8", Amount: cents(999), DeclineCode: errs.InsufficientFunds}},
		{"hosted", processor.Event{ID: "sale:2", Type: processor.EventSale, Reference: "2", CustomerRef: "", Amount: cents(999)}},
		{"hosted", processor.Event{ID: "sale:3", Type: processor.EventSale, Reference: "3", CustomerRef: "viewer/8", Amount: cents(999)}},
		{"hosted", processor.Event{ID: "rebill:4", Type: processor.EventRebill, Reference: "4", CustomerRef: "v8", Amount: cents(999)}},
		{"sandbox", processor.Event{ID: "sale:5", Type: processor.EventSale, Reference: "5", CustomerRef: "v8", Amount: cents(999)}},
	}
	for _, c := range ignored {
		must(t, v.eng.HandleWebhookEvents(v.ctx, c.proc, []processor.Event{c.ev}))
		if _, err := v.led.TransferByKey(v.ctx, billing.TopUpKey(c.proc, c.ev.Reference)); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("%s %s: a top-up was booked (%v)", c.proc, c.ev.ID, err)
		}
	}
	if got := v.posted("viewer:v8:wallet", "USD"); got != 0 {
		t.Fatalf("wallet of v8 holds %d", got)
	}
	if err := v.eng.HandleWebhookEvents(v.ctx, "nobody", []processor.Event{sale}); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("a sale of an unknown processor: %v", err)
	}

	refund := processor.Event{ID: "dp:90001", Type: processor.EventRefund, Reference: "90001", RelatedReference: "80001", Amount: cents(1000)}
	must(t, v.eng.HandleWebhookEvents(v.ctx, "hosted", []processor.Event{refund}))
	if got := v.posted("viewer:v7:wallet", "USD"); got != 1999 {
		t.Fatalf("wallet %d after a refund of 1000 of the 2999 bought, want 1999", got)
	}
	v.verifyLedger()
}

// A refund and a chargeback delivered before the hosted sale they take back
// (Epoch's DataPlus and FlexPost are separate feeds) are left unmatched at
// first and booked as soon as the sale is: the wallet ends where it would
// have with the sale first, and redeliveries change nothing.
func TestReversalsDeliveredBeforeTheirHostedSale_BookedWhenTheSaleArrives(t *testing.T) {
	v := newEnv(t, withHosted)
	sink := billing.WithTopUps{Engine: v.eng}
	refund := processor.Event{ID: "dp:r1", Type: processor.EventRefund, Reference: "r1", RelatedReference: "81001", Amount: cents(500)}
	chargeback := processor.Event{ID: "dp:c1", Type: processor.EventChargeback, Reference: "c1", RelatedReference: "81001", Amount: cents(1000)}
	must(t, sink.HandleProcessorEvents(v.ctx, "hosted", []processor.Event{refund, chargeback}))
	if got := v.posted("viewer:v9:wallet", "USD"); got != 0 {
		t.Fatalf("wallet %d before the sale arrived", got)
	}
	sale := processor.Event{ID: "sale:81001", Type: processor.EventSale, Reference: "81001", CustomerRef: "v9", Amount: cents(2999)}
	for i := 0; i < 2; i++ {
		must(t, sink.HandleProcessorEvents(v.ctx, "hosted", []processor.Event{sale, refund, chargeback}))
	}
	if got := v.posted("viewer:v9:wallet", "USD"); got != 2999-500-1000 {
		t.Fatalf("wallet %d after the sale, its refund and its chargeback, want %d", got, 2999-500-1000)
	}
	for _, key := range []string{"reversal/hosted/dp:r1/wallet", "reversal/hosted/dp:c1/wallet"} {
		if _, err := v.led.TransferByKey(v.ctx, key); err != nil {
			t.Errorf("transfer %s: %v", key, err)
		}
	}
	v.verifyLedger()
}
