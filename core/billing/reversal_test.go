package billing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// A chargeback of a settled card seat takes the money out of the processor's
// clearing account, claws the model's share back in proportion, books the
// platform's loss on chargebacks, is marked on the receipt, and a redelivery
// of the same event moves nothing.
func TestChargebackOfCardSeat_ClawsBackEarningsOnceAndMarksReceipt(t *testing.T) {
	v := newEnv(t)
	v.openCard("seat1", cardOK, stdPolicy())
	v.bothLive("seat1")
	v.clk.Advance(150 * time.Second)
	r := v.end("seat1")
	v.assertReceiptCovers(r, 150, cents(300))
	capture := captureOf(t, r)
	model0, revenue0, clearing0 := v.posted("model:m1:earnings", "USD"), v.posted("platform:revenue", "USD"), v.balance("processor:sandbox:clearing", "USD")
	if model0 <= 0 || model0+revenue0 != 300 {
		t.Fatalf("settled split: model %d revenue %d", model0, revenue0)
	}

	cb := processor.Event{ID: "evt_cb_1", Type: processor.EventChargeback, Reference: "sbx_cb_1", RelatedReference: capture.Reference,
		Amount: cents(300), Reason: "10.4 Other Fraud", OccurredAt: v.clk.Now()}
	for i := 0; i < 3; i++ { // the first delivery and two redeliveries
		if err := v.eng.HandleProcessorEvents(v.ctx, "sandbox", []processor.Event{cb}); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	if got := v.posted("model:m1:earnings", "USD"); got != 0 {
		t.Fatalf("model earnings %d after a full chargeback, want 0 (all %d clawed back, once)", got, model0)
	}
	if got := v.posted("chargebacks", "USD"); got != -(300-model0) && got != 300-model0 {
		t.Fatalf("chargebacks account %d, want the platform's loss %d", got, 300-model0)
	}
	clearing := v.balance("processor:sandbox:clearing", "USD")
	if d := (clearing.CreditsPosted - clearing0.CreditsPosted); d != 300 {
		t.Fatalf("clearing credited %d, want the 300 the processor took back", d)
	}
	got := v.receipt("seat1")
	if len(got.Reversals) != 1 {
		t.Fatalf("receipt reversals %+v, want one", got.Reversals)
	}
	rv := got.Reversals[0]
	if rv.Type != processor.EventChargeback || rv.Amount != cents(300) || rv.RelatedReference != capture.Reference || rv.Reason != "10.4 Other Fraud" ||
		len(rv.Clawback) != 1 || rv.Clawback[0].Amount.Amount != model0 || len(rv.LedgerTransfers) != 2 {
		t.Fatalf("receipt reversal %+v", rv)
	}
	v.verifyLedger()
}

// A partial refund claws back the model's share of the part refunded, floored;
// a later refund beyond what is left of the price is not booked but recorded
// for an operator.
func TestPartialRefundsOfCardSeat_ProportionalAndBounded(t *testing.T) {
	v := newEnv(t)
	v.openCard("seat1", cardOK, stdPolicy())
	v.bothLive("seat1")
	v.clk.Advance(150 * time.Second)
	r := v.end("seat1")
	capture := captureOf(t, r)
	model0, revenue0 := v.posted("model:m1:earnings", "USD"), v.posted("platform:revenue", "USD")

	refund := processor.Event{ID: "evt_rf_1", Type: processor.EventRefund, Reference: "sbx_rf_1", RelatedReference: capture.Reference, Amount: cents(100)}
	must(t, v.eng.HandleProcessorEvents(v.ctx, "sandbox", []processor.Event{refund}))
	back := model0 * 100 / 300
	if got := v.posted("model:m1:earnings", "USD"); got != model0-back {
		t.Fatalf("model earnings %d, want %d - %d", got, model0, back)
	}
	if got := v.posted("platform:revenue", "USD"); got != revenue0-(100-back) {
		t.Fatalf("revenue %d, want %d - %d", got, revenue0, 100-back)
	}
	tooMuch := processor.Event{ID: "evt_rf_2", Type: processor.EventRefund, Reference: "sbx_rf_2", RelatedReference: capture.Reference, Amount: cents(201)}
	must(t, v.eng.HandleProcessorEvents(v.ctx, "sandbox", []processor.Event{tooMuch}))
	if got := v.posted("model:m1:earnings", "USD"); got != model0-back {
		t.Fatalf("a refund beyond the price moved earnings: %d", got)
	}
	if n := len(v.receipt("seat1").Reversals); n != 1 {
		t.Fatalf("%d reversals on the receipt, want 1", n)
	}
	v.verifyLedger()
}

// Events about money camkit cannot trace, and events that move nothing, are
// recorded and acknowledged without touching the ledger; a reversal of a seat
// still settling waits (retryable) so the processor redelivers it.
func TestUnmatchedAndNonMoneyEventsAreRecordedOnly(t *testing.T) {
	v := newEnv(t)
	before, err := v.led.Verify(v.ctx)
	must(t, err)
	evs := []processor.Event{
		{ID: "e1", Type: processor.EventChargeback, RelatedReference: "sbx_unknown", Amount: cents(500)},
		{ID: "e2", Type: processor.EventRefund, Amount: cents(500)},
		{ID: "e3", Type: processor.EventSale, Reference: "sbx_ch_1", Amount: cents(500)},
		{ID: "e4", Type: processor.EventCancel, SubscriptionReference: "sub_1"},
	}
	must(t, v.eng.HandleProcessorEvents(v.ctx, "sandbox", evs))
	after, err := v.led.Verify(v.ctx)
	must(t, err)
	if after.Transfers != before.Transfers {
		t.Fatalf("untraceable events moved money: %d -> %d transfers", before.Transfers, after.Transfers)
	}
	if err := v.eng.HandleProcessorEvents(v.ctx, "sandbox", []processor.Event{{Type: processor.EventRefund}}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("an event without an id: %v", err)
	}
	if err := v.eng.HandleProcessorEvents(v.ctx, "bad name!", evs[:1]); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("a bad processor name: %v", err)
	}

	v.openCard("seat2", cardOK, stdPolicy())
	fund := openFundingReference(t, v, "seat2")
	err = v.eng.HandleProcessorEvents(v.ctx, "sandbox", []processor.Event{{ID: "e5", Type: processor.EventChargeback, RelatedReference: fund, Amount: cents(100)}})
	if !errs.IsRetryable(err) {
		t.Fatalf("a chargeback of a seat not yet settled: %v, want retryable (the processor redelivers)", err)
	}
	v.bothLive("seat2")
	v.clk.Advance(60 * time.Second)
	v.end("seat2")
	must(t, v.eng.HandleProcessorEvents(v.ctx, "sandbox", []processor.Event{{ID: "e5", Type: processor.EventChargeback, RelatedReference: fund, Amount: cents(100)}}))
	if n := len(v.receipt("seat2").Reversals); n != 1 {
		t.Fatalf("the redelivered chargeback after settlement: %d reversals", n)
	}
	v.verifyLedger()
}

// prepaid_blocks: a refund of a block charge gives back the block's unused
// credit from the wallet first, and only the used part claws back earnings.
// The processor's report of billing's own refund of unused time is not
// booked twice.
func TestRefundOfPrepaidBlock_UnusedCreditFirst(t *testing.T) {
	v := newEnv(t, func(c *billing.Config) { c.Strategies = map[string]billing.Strategy{"sandbox": billing.PrepaidBlocks} })
	v.openCard("seat1", cardOK, stdPolicy())
	v.bothLive("seat1")
	v.clk.Advance(400 * time.Second) // blocks of 600 at 0 s and 240 s; price 800
	r := v.end("seat1")
	v.assertReceiptCovers(r, 400, cents(800))
	var blocks []billing.FundingStep
	for _, f := range r.Funding {
		if f.Kind == "charge" {
			blocks = append(blocks, f)
		}
	}
	if len(blocks) != 2 {
		t.Fatalf("funding %+v", r.Funding)
	}
	model0 := v.posted("model:m1:earnings", "USD")
	// Block 2 (600): 200 of it paid the price, 400 is unused credit in the wallet.
	must(t, v.eng.HandleProcessorEvents(v.ctx, "sandbox", []processor.Event{{ID: "rf-b2", Type: processor.EventRefund,
		RelatedReference: blocks[1].Reference, Amount: cents(600)}}))
	if got := v.posted("viewer:v1:wallet", "USD"); got != 0 {
		t.Fatalf("wallet %d, want its 400 of unused credit taken back", got)
	}
	back := model0 * 200 / 800
	if got := v.posted("model:m1:earnings", "USD"); got != model0-back {
		t.Fatalf("model earnings %d, want %d - %d (the used 200 of 800)", got, model0, back)
	}
	rv := v.receipt("seat1").Reversals
	if len(rv) != 1 || rv[0].FromWallet != cents(400) {
		t.Fatalf("reversal %+v", rv)
	}
	v.verifyLedger()

	w := newEnv(t, func(c *billing.Config) {
		c.Strategies = map[string]billing.Strategy{"sandbox": billing.PrepaidBlocks}
		c.RefundUnused = true
	})
	w.openCard("seat9", cardOK, stdPolicy())
	w.bothLive("seat9")
	w.clk.Advance(100 * time.Second)
	r = w.end("seat9")
	if r.Refunded != cents(400) {
		t.Fatalf("refunded %v", r.Refunded)
	}
	model1 := w.posted("model:m1:earnings", "USD")
	must(t, w.eng.HandleProcessorEvents(w.ctx, "sandbox", []processor.Event{{ID: "own-refund", Type: processor.EventRefund,
		RelatedReference: r.Funding[0].Reference, Amount: cents(400)}}))
	if got := w.posted("model:m1:earnings", "USD"); got != model1 || len(w.receipt("seat9").Reversals) != 0 {
		t.Fatalf("billing's own refund was booked again: earnings %d -> %d", model1, got)
	}
	w.verifyLedger()
}

// Wallet credits bought with a hosted sale (TopUpKey) are reversed out of the
// viewer's remaining credit; what was already spent is the platform's loss.
func TestChargebackOfTopUp_RemainingCreditThenLoss(t *testing.T) {
	v := newEnv(t)
	_, err := v.led.Transfer(v.ctx, ledger.Request{Key: billing.TopUpKey("sandbox", "sale_77"), Kind: ledger.Single,
		Debit: "processor:sandbox:clearing", Credit: "viewer:v1:wallet", Amount: cents(1000)})
	must(t, err)
	_, err = v.led.Transfer(v.ctx, ledger.Request{Key: "spend/1", Kind: ledger.Single, Debit: "viewer:v1:wallet", Credit: "platform:revenue", Amount: cents(700)})
	must(t, err)
	must(t, v.eng.HandleProcessorEvents(v.ctx, "sandbox", []processor.Event{{ID: "cb-topup", Type: processor.EventChargeback,
		RelatedReference: "sale_77", Amount: cents(1000)}}))
	if got := v.posted("viewer:v1:wallet", "USD"); got != 0 {
		t.Fatalf("wallet %d, want its 300 taken back", got)
	}
	if got := v.posted("chargebacks", "USD"); got != 700 && got != -700 {
		t.Fatalf("chargebacks %d, want the 700 already spent", got)
	}
	v.verifyLedger()
}

func openFundingReference(t *testing.T, v *env, seat string) string {
	t.Helper()
	var ref string
	err := v.db.Gorm().WithContext(v.ctx).Raw(`SELECT reference FROM billing_funding WHERE seat_id = ? ORDER BY n LIMIT 1`, seat).Row().Scan(&ref)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// A refund naming the capture's own reference (the sandbox's captures have
// one) is traced to its seat and booked on both dialects. On SQLite, whose
// store runs one connection, the look-up once read the seat while the
// capture query's rows still held that connection, and never returned.
func TestRefundOfCaptureReference_CompletesOnBothDialects(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		v := newEnvOn(t, db)
		v.openCard("seat1", cardOK, stdPolicy())
		v.bothLive("seat1")
		v.clk.Advance(150 * time.Second)
		capture := captureOf(t, v.end("seat1"))
		ctx, cancel := context.WithTimeout(v.ctx, 20*time.Second)
		defer cancel()
		refund := processor.Event{ID: "evt_rf_cap", Type: processor.EventRefund, Reference: "sbx_rf_cap", RelatedReference: capture.Reference, Amount: cents(100)}
		if err := v.eng.HandleProcessorEvents(ctx, "sandbox", []processor.Event{refund}); err != nil {
			t.Fatalf("refund of the capture %s: %v", capture.Reference, err)
		}
		if got := v.receipt("seat1").Reversals; len(got) != 1 || got[0].Amount != cents(100) {
			t.Fatalf("receipt reversals %+v, want the refund of 100", got)
		}
		v.verifyLedger()
	})
}

// A failed rebill (an event with a decline code) moved no money: it is
// recorded as such, so nothing reading the recorded events (camkit
// reconcile) takes its amount for money the processor took.
func TestFailedRebillIsRecordedAsNoMoney(t *testing.T) {
	v := newEnv(t)
	ev := processor.Event{ID: "evt_rebill_failed", Type: processor.EventRebill, Reference: "sbx_rb_1", SubscriptionReference: "sbx_sub_1",
		Amount: cents(999), DeclineCode: errs.InsufficientFunds}
	must(t, v.eng.HandleProcessorEvents(v.ctx, "sandbox", []processor.Event{ev}))
	var detail string
	var amount int64
	if err := v.db.SQL().QueryRowContext(v.ctx, `SELECT detail, amount FROM processor_events WHERE event_id = $1`, ev.ID).Scan(&detail, &amount); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(detail, billing.EventMovedNoMoney) {
		t.Fatalf("a failed rebill recorded with detail %q (amount %d), want it marked %q", detail, amount, billing.EventMovedNoMoney)
	}
}
