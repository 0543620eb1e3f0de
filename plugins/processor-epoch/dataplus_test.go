package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/plugins/processor-epoch/fakegw"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// fakeEpoch is the plugin configured against the fake Epoch, with one
// approved hosted sale of pack100 (9.99 USD) for viewer v1.
func fakeEpoch(t *testing.T, extra map[string]any) (*Epoch, *fakegw.Gateway, *warnings, string) {
	t.Helper()
	f := fakegw.New(t)
	log := &warnings{}
	e := newEpoch(time.Now, log)
	settings, err := f.Settings(filepath.Join(t.TempDir(), "state.json"), extra)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Configure(context.Background(), settings); err != nil {
		t.Fatal(err)
	}
	price := money.Money{Amount: 999, Currency: "USD"}
	co, err := e.StartCheckout(context.Background(), processor.StartCheckoutRequest{IdempotencyKey: "pack/v1", CustomerRef: "v1",
		ReturnURL: "https://camkit.test/r", Purchase: &price})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Purchase(co, "4111111111111111"); err != nil {
		t.Fatal(err)
	}
	return e, f, log, sales(f)[0]
}

// DataPlus as Epoch's guide and every public integration show it: unsigned,
// from Epoch's addresses. By default the plugin accepts it on its source
// address — and nothing else: from another address it is refused, a digest
// it carries must match, and an unsigned record of a sale credits nobody.
func TestDataPlusIsAuthenticatedByItsSourceAddressByDefault(t *testing.T) {
	e, f, _, sale := fakeEpoch(t, nil)
	ctx := context.Background()
	credit, err := f.CreditPostback(sale, money.Money{Amount: 500, Currency: "USD"}, "customer request")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(credit.Body), "epoch_digest") {
		t.Fatalf("the fake signs DataPlus by default: %s", credit.Body)
	}
	res, err := e.ParseWebhook(ctx, credit)
	if err != nil || len(res.Events) != 1 || res.Events[0].Type != processor.EventRefund || res.Events[0].RelatedReference != sale ||
		res.Events[0].Amount != (money.Money{Amount: 500, Currency: "USD"}) || string(res.Response.Body) != "OK" {
		t.Fatalf("an unsigned DataPlus credit from Epoch: %+v, %v", res, err)
	}

	offList := credit
	offList.RemoteAddr = "198.51.100.7:443"
	if _, err := e.ParseWebhook(ctx, offList); errs.CodeOf(err) != errs.Unauthenticated {
		t.Errorf("the same push from off the allow-list: %v, want unauthenticated", err)
	}
	wrong := fakegw.Unsigned(fakegw.Sign(fields("ets_transaction_id", "93001", "ets_transaction_type", "D", "ets_transaction_amount", "9.99",
		"ets_ref_trans_ids", sale), "someone-elses-key-0123456789"))
	if _, err := e.ParseWebhook(ctx, wrong); errs.CodeOf(err) != errs.Unauthenticated {
		t.Errorf("a DataPlus push with a digest under another key: %v, want unauthenticated", err)
	}
	empty := fakegw.Unsigned(fields("ets_transaction_id", "93002", "ets_transaction_type", "D", "ets_transaction_amount", "9.99",
		"ets_ref_trans_ids", sale, "epoch_digest", ""))
	if _, err := e.ParseWebhook(ctx, empty); errs.CodeOf(err) != errs.Unauthenticated {
		t.Errorf("a DataPlus push with an empty digest: %v, want unauthenticated", err)
	}
	// Anything that could be a FlexPost answer needs the digest, DataPlus
	// fields or not: it is what credits wallets.
	sneaky := fakegw.Unsigned(fields("ets_transaction_id", "93003", "ANS", "YGOODTEST", "order_id", "1", "transaction_id", "93003",
		"pi_code", "pack100", "x_camkit_customer", "attacker"))
	if res, err := e.ParseWebhook(ctx, sneaky); errs.CodeOf(err) != errs.Unauthenticated || len(res.Events) != 0 {
		t.Errorf("an unsigned FlexPost answer dressed as DataPlus: %+v, %v; want unauthenticated", res, err)
	}
	// The unsigned record of the sale itself books nothing: its signed
	// FlexPost postback does.
	rec, err := f.InitialRecord(sale)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.ParseWebhook(ctx, rec); err != nil || len(res.Events) != 0 || res.Response.Status != 200 {
		t.Errorf("an unsigned DataPlus record of the sale: %+v, %v; want 200 OK and no sale", res, err)
	}
}

// With dataplus_auth = "digest" (once Epoch confirms it signs DataPlus), an
// unsigned push is refused, naming the setting, and a signed one is read;
// the signed record of a sale is the same event as its FlexPost postback.
func TestDataPlusDigestIsRequiredWhenConfigured(t *testing.T) {
	e, f, _, sale := fakeEpoch(t, map[string]any{"dataplus_auth": "digest"})
	ctx := context.Background()
	unsigned, err := f.ChargebackPostback(sale, money.Money{Amount: 999, Currency: "USD"}, "4837")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ParseWebhook(ctx, unsigned); errs.CodeOf(err) != errs.Unauthenticated || !strings.Contains(err.Error(), "dataplus_auth") {
		t.Fatalf("an unsigned DataPlus push under dataplus_auth=digest: %v; want unauthenticated naming the setting", err)
	}
	f.Mu.Lock()
	f.SignDataPlus = true
	f.Mu.Unlock()
	rec, err := f.InitialRecord(sale)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.ParseWebhook(ctx, rec)
	if err != nil || len(res.Events) != 1 || res.Events[0].ID != "sale:"+sale || res.Events[0].Type != processor.EventSale ||
		res.Events[0].Amount != (money.Money{Amount: 999, Currency: "USD"}) {
		t.Fatalf("the signed DataPlus record of the sale: %+v, %v; want the sale event sale:%s of 9.99 USD", res, err, sale)
	}
}

// Epoch sends DataPlus 15 minutes late and may send it again much later
// (the feed is replayed after an outage): an authentic push is accepted
// whatever its date, dated as Epoch dated it; the host drops it by event id
// if it has it.
func TestOldDataPlusRedeliveryIsAccepted(t *testing.T) {
	e := newTestPlugin(t)
	old := time.Now().UTC().Add(-400 * 24 * time.Hour).Truncate(time.Second)
	for _, signed := range []bool{false, true} {
		f := fields("ets_transaction_id", "94000", "ets_member_idx", "5551", "ets_transaction_type", "D", "ets_transaction_amount", "9.99",
			"ets_ref_trans_ids", "80001", "ets_transaction_date", old.Format("2006-01-02 15:04:05"))
		req := fakegw.Unsigned(f)
		if signed {
			req = fakegw.Postback(f)
		}
		res, err := e.ParseWebhook(context.Background(), req)
		if err != nil || len(res.Events) != 1 || res.Events[0].ID != "dp:94000" || !res.Events[0].OccurredAt.Equal(old) {
			t.Fatalf("a chargeback of 400 days ago (signed %v): %+v, %v; want it accepted, dated %s", signed, res, err, old)
		}
	}
}

// max_event_age_hours refused old events; it is gone, but configurations
// that still name it load (with a warning), so an upgrade does not take the
// processor down.
func TestRetiredMaxEventAgeSettingStillLoadsWithAWarning(t *testing.T) {
	log := &warnings{}
	e := newEpoch(time.Now, log)
	if err := e.Configure(context.Background(), settingsJSON(t, filepath.Join(t.TempDir(), "s.json"), map[string]any{"max_event_age_hours": 1})); err != nil {
		t.Fatalf("Configure with max_event_age_hours: %v", err)
	}
	if !strings.Contains(log.all(), "max_event_age_hours") {
		t.Fatalf("no warning about the retired setting: %q", log.all())
	}
	old := time.Now().UTC().Add(-48 * time.Hour).Format("2006-01-02 15:04:05")
	if _, err := e.ParseWebhook(context.Background(), postback("ets_transaction_id", "94001", "ets_transaction_type", "N",
		"ets_transaction_amount", "14.99", "ets_transaction_date", old)); err != nil {
		t.Fatalf("a rebill of two days ago with max_event_age_hours = 1: %v", err)
	}
}
