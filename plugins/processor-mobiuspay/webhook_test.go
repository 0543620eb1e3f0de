package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/plugins/processor-mobiuspay/fakegw"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/processor"
)

// recLog records what the plugin logs.
type recLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *recLog) add(level, msg string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+msg+" "+fmt.Sprint(args...))
}
func (l *recLog) Info(msg string, args ...any)  { l.add("info", msg, args...) }
func (l *recLog) Warn(msg string, args ...any)  { l.add("warn", msg, args...) }
func (l *recLog) Error(msg string, args ...any) { l.add("error", msg, args...) }

func (l *recLog) has(level, substr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.HasPrefix(s, level+" ") && strings.Contains(s, substr) {
			return true
		}
	}
	return false
}

func eventID(t *testing.T, body []byte) string {
	t.Helper()
	var env webhookBody
	if err := json.Unmarshal(body, &env); err != nil || env.EventID == "" {
		t.Fatalf("no event_id in %s: %v", body, err)
	}
	return env.EventID
}

func oneEvent(t *testing.T, m *MobiusPay, body []byte) processor.Event {
	t.Helper()
	res, err := m.ParseWebhook(context.Background(), fakegw.Sign(fakegw.SigningKey, body))
	if err != nil {
		t.Fatalf("ParseWebhook(%s): %v", body, err)
	}
	if err := plugintest.CheckWebhookResult(res); err != nil || len(res.Events) != 1 {
		t.Fatalf("ParseWebhook(%s) = %+v, %v; want one event", body, res, err)
	}
	return res.Events[0]
}

// NMI's own webhook documentation sample (docs.nmi.com "Webhooks"; the same
// bytes, signing key and header in a public Java HMACUtil indexed by the
// search tool): a transaction.auth.success body with the transaction's
// fields directly under event_body. The published signature verifies, and
// the plugin reads the documented fields from it.
const nmiSampleKey = "2E35B2346E0F07F6379C14338EEBFA57"
const nmiSampleHeader = "t=1675313523,s=79e1da57a9b0e286737a65fe284a3e4a943cfccb287fe35392c03051d4621d6a"
const nmiSampleBody = `{"event_id":"c2bc5357-9cfc-4428-bbde-117b9efc064c","event_type":"transaction.auth.success","event_body":{"merchant":{"id":"840984","name":"Ticketmaster"},"features":{"is_test_mode":true},"transaction_id":"8029379273","transaction_type":"cc","condition":"pending","processor_id":"ccprocessorb","ponumber":"","order_description":"","order_id":"ac0dfacd-eb65-4cdc-8964-000000000000","customerid":"","customertaxid":"","website":"","shipping":"0.00","currency":"USD","tax":"0.00","surcharge":"","cash_discount":"","tip":"","requested_amount":"100.00","shipping_carrier":"","tracking_number":"","shipping_date":"","partial_payment_id":"","partial_payment_balance":"","platform_id":"ac0dfacd-eb65-4cdc-8964-000000000000","authorization_code":"123456","social_security_number":"","drivers_license_number":"","drivers_license_state":"","drivers_license_dob":"","duty_amount":"0.00","discount_amount":"0.00","national_tax_amount":"0.00","summary_commodity_code":"","alternate_tax_amount":"0.00","vat_tax_amount":"0.00","vat_tax_rate":"0.00","billing_address":{"first_name":"JOHN Q","last_name":"SMITH","address_1":"","address_2":"","company":"","city":"","state":"","postal_code":"","country":"","email":"","phone":"","cell_phone":"","fax":""},"shipping_address":{"first_name":"","last_name":"","address_1":"","address_2":"","company":"","city":"","state":"","postal_code":"","country":"","email":"","phone":"","fax":""},"card":{"cc_number":"411111******1111","cc_exp":"1229","cavv":"","cavv_result":"","xid":"","eci":"","avs_response":"","csc_response":"","cardholder_auth":"","cc_start_date":"","cc_issue_number":"","card_balance":"","card_available_balance":"","entry_mode":"","cc_bin":"","cc_type":"Visa","feature_token":""},"emv_meta_data":{"customer_verification_method":"online_pin","application_id":"A0000000031010","application_label":"VISA CREDIT","application_preferred_name":"CREDITO DE VISA","transaction_status_info":"E800","application_pan_sequence_number":"01"},"merchant_defined_fields":{},"action":{"amount":"100.00","action_type":"auth","date":"2023-02-01T23:52:03","success":"1","ip_address":"","source":"","api_method":"","username":"","response_text":"","response_code":"","processor_response_text":"","tap_to_mobile":false,"processor_response_code":"","device_license_number":"","device_nickname":""}}}`

func TestWebhookNMIDocumentationSampleVerifiesAndParses(t *testing.T) {
	f := newFakeNMI(t, "USD")
	var cfg map[string]any
	if err := json.Unmarshal(settingsFor(t, f, filepath.Join(t.TempDir(), "s.json")), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["webhook_signing_key"] = nmiSampleKey
	m := newMobiusPay(time.Now)
	m.log = discardLog{}
	if err := m.Configure(context.Background(), webhookBytes(t, cfg)); err != nil {
		t.Fatal(err)
	}
	req := processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/mobiuspay", Body: []byte(nmiSampleBody), RemoteAddr: "127.0.0.1:1",
		Headers: http.Header{"Content-Type": {"application/json"}, "Webhook-Signature": {nmiSampleHeader}}}
	res, err := m.ParseWebhook(context.Background(), req)
	if err != nil || len(res.Events) != 1 {
		t.Fatalf("NMI's sample: %+v, %v", res, err)
	}
	ev := res.Events[0]
	want := processor.Event{ID: "c2bc5357-9cfc-4428-bbde-117b9efc064c", Type: processor.EventAuth, Reference: "8029379273",
		Amount: money.Money{Amount: 10000, Currency: "USD"}, OccurredAt: time.Date(2023, 2, 1, 23, 52, 3, 0, time.UTC)}
	if !reflect.DeepEqual(ev, want) {
		t.Fatalf("event %+v, want %+v", ev, want)
	}
	req.Body = []byte(strings.Replace(nmiSampleBody, `"100.00","action_type"`, `"900.00","action_type"`, 1))
	if _, err := m.ParseWebhook(context.Background(), req); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("the sample with its amount changed: %v", err)
	}
}

// gatewayHistory runs one of each kind of transaction through the plugin
// and the fake gateway: a sale, a partial capture, a void, a refund by the
// plugin, a refund made in the portal and a declined auth.
type gatewayHistory struct {
	sale, capture, voided, refund, portalRefund, declined string
}

func makeHistory(t *testing.T, m *MobiusPay, f *fakeNMI) gatewayHistory {
	t.Helper()
	ctx := context.Background()
	card := tokenise(t, m, f, cardApprove)
	usd := func(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }
	var h gatewayHistory
	sale, err := m.Charge(ctx, processor.ChargeRequest{IdempotencyKey: uniq("h/sale"), Credential: card, Amount: usd(1999)})
	if err != nil {
		t.Fatal(err)
	}
	h.sale = sale.Reference
	a1, err := m.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: uniq("h/auth"), Credential: card, Amount: usd(2500)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.Capture(ctx, processor.CaptureRequest{IdempotencyKey: uniq("h/capture"), AuthorizationReference: a1.Reference, Amount: usd(1800)})
	if err != nil {
		t.Fatal(err)
	}
	h.capture = c.Reference
	a2, err := m.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: uniq("h/auth"), Credential: card, Amount: usd(1000)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Void(ctx, processor.VoidRequest{IdempotencyKey: uniq("h/void"), AuthorizationReference: a2.Reference}); err != nil {
		t.Fatal(err)
	}
	h.voided = a2.Reference
	r, err := m.Refund(ctx, processor.RefundRequest{IdempotencyKey: uniq("h/refund"), Reference: h.sale, Amount: usd(500)})
	if err != nil {
		t.Fatal(err)
	}
	h.refund = r.Reference
	if h.portalRefund, err = f.Refund(h.capture, usd(300)); err != nil {
		t.Fatal(err)
	}
	f.Set(func() { f.NextCode = "201" })
	if _, err := m.Authorize(ctx, processor.AuthorizeRequest{IdempotencyKey: uniq("h/auth"), Credential: card, Amount: usd(700)}); errs.CodeOf(err) != errs.Declined {
		t.Fatalf("a do-not-honour auth: %v", err)
	}
	f.Set(func() {
		for id, tx := range f.Txns {
			if tx.Condition == "failed" {
				h.declined = id
			}
		}
	})
	return h
}

// Every documented transaction event type, built by the fake from its own
// records in NMI's documented body, is parsed into the right money event:
// refunds, voids and chargebacks included.
func TestWebhookEachEventTypeFromTheDocumentedBody(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, clock := newTestPlugin(t, f)
	h := makeHistory(t, m, f)
	usd := func(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }
	for _, c := range []struct {
		tx, kind, eventType string
		typ                 processor.EventType
		reference, related  string
		amount              money.Money
		decline             errs.Code
	}{
		{h.sale, "sale", "transaction.sale.success", processor.EventSale, h.sale, "", usd(1999), ""},
		{h.capture, "auth", "transaction.auth.success", processor.EventAuth, h.capture, "", usd(2500), ""},
		{h.capture, "capture", "transaction.capture.success", processor.EventCapture, h.capture, h.capture, usd(1800), ""},
		{h.voided, "void", "transaction.void.success", processor.EventVoid, h.voided, h.voided, usd(0), ""},
		{h.refund, "refund", "transaction.refund.success", processor.EventRefund, h.refund, h.sale, usd(500), ""},
		{h.portalRefund, "refund", "transaction.refund.success", processor.EventRefund, h.portalRefund, h.capture, usd(300), ""},
		{h.declined, "auth", "transaction.auth.failure", processor.EventAuth, h.declined, "", usd(700), errs.Declined},
	} {
		body, err := f.Webhook(c.tx, c.kind)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), `"event_type":"`+c.eventType+`"`) {
			t.Fatalf("the fake sent %s, want %s", body, c.eventType)
		}
		ev := oneEvent(t, m, body)
		if ev.ID != eventID(t, body) || ev.Type != c.typ || ev.Reference != c.reference || ev.RelatedReference != c.related ||
			ev.Amount != c.amount || ev.DeclineCode != c.decline || ev.OccurredAt.Sub(clock.t) > time.Minute || clock.t.Sub(ev.OccurredAt) > time.Minute {
			t.Errorf("%s of %s: %+v; want %s %s related %q %v decline %q", c.eventType, c.tx, ev, c.typ, c.reference, c.related, c.amount, c.decline)
		}
	}
	cb, err := f.ChargebackWebhook(h.sale, usd(1499), "10.4", "Other Fraud")
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.ParseWebhook(context.Background(), cb)
	if err != nil || len(res.Events) != 1 {
		t.Fatalf("chargeback: %+v, %v", res, err)
	}
	if ev := res.Events[0]; ev.Type != processor.EventChargeback || ev.RelatedReference != h.sale || ev.Amount != usd(1499) ||
		!strings.HasPrefix(ev.ID, eventID(t, cb.Body)+":") || ev.Reason != "10.4 Other Fraud" {
		t.Fatalf("chargeback event %+v", ev)
	}
}

// NMI redelivers until it gets a 2xx: every delivery of one event, each
// signed with a new nonce, yields the same event id, so the host books it
// once; two different events of the same transaction keep their own ids.
func TestWebhookDuplicateDeliveriesShareTheEventID(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, _ := newTestPlugin(t, f)
	h := makeHistory(t, m, f)
	body, err := f.Webhook(h.refund, "refund")
	if err != nil {
		t.Fatal(err)
	}
	first := oneEvent(t, m, body)
	for i := 0; i < 3; i++ {
		if again := oneEvent(t, m, body); !reflect.DeepEqual(again, first) {
			t.Fatalf("delivery %d: %+v, want %+v", i+2, again, first)
		}
	}
	other, err := f.Webhook(h.refund, "refund")
	if err != nil {
		t.Fatal(err)
	}
	if ev := oneEvent(t, m, other); ev.ID == first.ID || ev.Reference != first.Reference {
		t.Fatalf("another event of the same refund: %+v (first %+v)", ev, first)
	}
}

// Webhooks arrive in any order: a refund before the sale or capture it
// takes back, at a plugin that knows none of the transactions (its state
// lost, or the money moved in the portal), parses to the same events as in
// order: nothing depends on having seen the sale first.
func TestWebhookOutOfOrderDeliveriesGiveTheSameEvents(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, _ := newTestPlugin(t, f)
	h := makeHistory(t, m, f)
	var bodies [][]byte
	for _, w := range []struct{ tx, kind string }{{h.sale, "sale"}, {h.capture, "auth"}, {h.capture, "capture"}, {h.refund, "refund"}, {h.portalRefund, "refund"}, {h.voided, "auth"}, {h.voided, "void"}} {
		b, err := f.Webhook(w.tx, w.kind)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	inOrder, _ := newTestPlugin(t, f)
	reversed, _ := newTestPlugin(t, f)
	want := map[string]processor.Event{}
	for _, b := range bodies {
		ev := oneEvent(t, inOrder, b)
		want[ev.ID] = ev
	}
	for i := len(bodies) - 1; i >= 0; i-- {
		ev := oneEvent(t, reversed, bodies[i])
		if w := want[ev.ID]; !reflect.DeepEqual(ev, w) {
			t.Errorf("out of order: %+v; in order: %+v", ev, w)
		}
	}
	if ev := oneEvent(t, reversed, bodies[4]); ev.RelatedReference != h.capture {
		t.Fatalf("a portal refund seen first names %q as refunded, want %s", ev.RelatedReference, h.capture)
	}
}

// hookdeck's nmi-webhooks overview shows the transaction nested as
// event_body.transaction{transaction_id, amount, order_id, …}: read the
// same way; a body whose two shapes disagree is refused, not guessed.
func TestWebhookNestedTransactionShapeIsReadAndAmbiguityRefused(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, _ := newTestPlugin(t, f)
	nested := webhookBytes(t, map[string]any{"event_id": "b7f1c0d2-3e4a-4b5c-8d6e-7f8091a2b3c4", "event_type": "transaction.sale.success",
		"event_body": map[string]any{"merchant": map[string]any{"merchant_id": "900000", "gateway_id": "12345"},
			"transaction": map[string]any{"transaction_id": "9876543210", "transaction_type": "sale", "condition": "complete", "amount": "49.99",
				"order_id": "ORDER-1001", "processor_id": "ccprocessora"}}})
	ev := oneEvent(t, m, nested)
	if ev.ID != "b7f1c0d2-3e4a-4b5c-8d6e-7f8091a2b3c4" || ev.Type != processor.EventSale || ev.Reference != "9876543210" ||
		ev.Amount != (money.Money{Amount: 4999, Currency: "USD"}) || ev.OccurredAt.IsZero() {
		t.Fatalf("nested sale: %+v", ev)
	}
	both := webhookBytes(t, map[string]any{"event_id": "e2", "event_type": "transaction.refund.success",
		"event_body": map[string]any{"transaction_id": "1", "currency": "USD", "action": map[string]any{"amount": "1.00"},
			"transaction": map[string]any{"transaction_id": "2", "amount": "1.00"}}})
	if _, err := m.ParseWebhook(context.Background(), fakegw.Sign(fakegw.SigningKey, both)); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("two transaction ids: %v, want invalid", err)
	}
	// Without a currency, a merchant settling several cannot be guessed.
	multi, _ := newTestPlugin(t, f, "USD", "EUR")
	if _, err := multi.ParseWebhook(context.Background(), fakegw.Sign(fakegw.SigningKey, nested)); errs.CodeOf(err) != errs.UnknownCurrency {
		t.Fatalf("no currency, two settled: %v", err)
	}
}

// Event types camkit books nothing for are acknowledged with NMI's 200 and
// logged, so NMI stops redelivering them; unknown outcomes too.
func TestWebhookUnhandledTypesAcknowledgedAndLogged(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, _ := newTestPlugin(t, f)
	log := &recLog{}
	m.log = log
	for _, typ := range []string{"settlement.batch.complete", "settlement.batch.failure", "transaction.credit.success", "transaction.validate.success",
		"transaction.check.status.return", "recurring.subscription.add", "acu.summary.automaticallyupdated", "networktoken.token.create",
		"transaction.sale.unknown", "transaction.refund.unknown", "some.future.event"} {
		body := webhookBytes(t, map[string]any{"event_id": "evt-" + typ, "event_type": typ, "event_body": map[string]any{"transaction_id": "5", "batch_id": "9"}})
		res, err := m.ParseWebhook(context.Background(), fakegw.Sign(fakegw.SigningKey, body))
		if err != nil || len(res.Events) != 0 || res.Response.Status != http.StatusOK || string(res.Response.Body) != "OK" {
			t.Errorf("%s: %+v, %v; want 200 and no event", typ, res, err)
		}
		level := "info"
		if strings.HasSuffix(typ, ".unknown") {
			level = "warn"
		}
		if !log.has(level, "evt-"+typ) {
			t.Errorf("%s was not logged at %s: %v", typ, level, log.lines)
		}
	}
}

// chargeback.batch.complete is not in NMI's public catalog of samples: the
// plugin reads a guessed shape, and what it cannot read is acknowledged and
// logged at error for an operator, never booked and never refused (which
// would have NMI redeliver for days what can never be read).
func TestChargebackBatchOfUnknownShapeIsAcknowledgedAndLogged(t *testing.T) {
	f := newFakeNMI(t, "USD")
	m, _ := newTestPlugin(t, f)
	log := &recLog{}
	m.log = log
	for name, body := range map[string]any{
		"other shape": map[string]any{"batch_id": "77", "chargeback_count": 1, "items": []any{map[string]any{"txn": "1", "amt": "5.00"}}},
		"not object":  []any{"x"},
		"partly":      map[string]any{"chargebacks": []any{map[string]any{"amount": "1.00"}, map[string]any{"id": "c9", "transaction_id": "700", "amount": "2.00"}, map[string]any{"id": "c10", "transaction_id": "701", "amount": "two"}}},
	} {
		raw := webhookBytes(t, map[string]any{"event_id": "cb-" + name, "event_type": "chargeback.batch.complete", "event_body": body})
		res, err := m.ParseWebhook(context.Background(), fakegw.Sign(fakegw.SigningKey, raw))
		if err != nil || res.Response.Status != http.StatusOK {
			t.Fatalf("%s: %+v, %v", name, res, err)
		}
		if !log.has("error", "cb-"+name) {
			t.Errorf("%s: not logged at error: %v", name, log.lines)
		}
		if name == "partly" {
			if len(res.Events) != 1 || res.Events[0].ID != "cb-partly:c9" || res.Events[0].Amount.Amount != 200 {
				t.Errorf("partly readable batch: %+v", res.Events)
			}
		} else if len(res.Events) != 0 {
			t.Errorf("%s: events %+v", name, res.Events)
		}
	}
}
