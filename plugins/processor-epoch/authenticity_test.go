package main

import (
	"context"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/plugins/processor-epoch/fakegw"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// The first two digests (two postbacks) were computed outside Go by a transcription of
// Shelby_Payment_Epoch_FlexPost::generateHMAC into Python's standard
// library (re.sub of (^\s+)|(\s+$)|(&+)|(=+), sorted keys, hmac/md5):
//
//	def clean(s): return re.sub(r'(^\s+)|(\s+$)|(&+)|(=+)', '', s)
//	s = ''.join(clean(k) + clean(d[k]) for k in sorted(d) if k != 'epoch_digest')
//	hmac.new(key.encode(), s.encode(), hashlib.md5).hexdigest()
//
// The last two are not ours: they are the expected digests in
// github.com/mike227-2/mastodon spec/lib/charge_request_spec.rb (a camcharge request
// signed with "testkey"), computed there by Ruby's OpenSSL over the same
// sorted name+value string: an independent check of the order and the
// concatenation. Both the plugin's verifier and the fake's signer must
// produce all four.
var digestVectors = []struct {
	name   string
	key    string
	fields url.Values
	want   string
}{
	{"flexpost with spaces, '&', '=', an empty value and case-sorted names", vectorKey, fields(
		"ans", "YGOODTEST", "order_id", "70001", "transaction_id", "80001", "member_id", "5551", "pi_code", "pack100",
		"amount", "9.99", "x_camkit_ref", "ep_co_1", "x_camkit_customer", "viewer/4", "name", " Jane  Doe ", "note", "a&b=c",
		"empty", "", "sessionId", "12", "session_id", "x"), "b063ee17cf9b399133271216e9653ef4"},
	{"dataplus credit", vectorKey, fields(
		"ets_transaction_id", "91000", "ets_member_idx", "5551", "ets_transaction_type", "C", "ets_transaction_amount", "-14.99",
		"ets_ref_trans_ids", "90001", "ets_transaction_date", "2026-01-02 03:04:05"), "bcd9717428f3a55ec03da25bf854a1ba"},
	{"mastodon ChargeRequest 'uri generation'", "testkey", fields(
		"api", "camcharge", "action", "authandclose", "x_epochCamcharge", "1", "auth_amount", "20", "member_id", "1"),
		"4317409081dc3683421569b0228fcbc7"},
	{"mastodon ChargeRequest 'digest generation'", "testkey", fields(
		"api", "camcharge", "action", "authandclose", "x_epochCamcharge", "1", "auth_amount", "20", "member_id", "1",
		"returnurl", "https://httpdump.io/hvtmo", "pburl", "https://webhook.site/#!/9c4dab51-a8d3-4636-92ca-3eae15c296bd",
		"description", "Description"), "f3c33c328e7905e0440aff3d9f629787"},
}

const vectorKey = "0123456789abcdef0123"

func TestDigestMatchesPublicIntegrationCode(t *testing.T) {
	for _, v := range digestVectors {
		var fs []field
		for k, vs := range v.fields {
			fs = append(fs, field{k, vs[0]})
		}
		if got := hex.EncodeToString(epochDigest([]byte(v.key), fs)); got != v.want {
			t.Errorf("%s: plugin digest %s, want %s", v.name, got, v.want)
		}
		if got := fakegw.Sign(v.fields, v.key).Get("epoch_digest"); got != v.want {
			t.Errorf("%s: fake's digest %s, want %s", v.name, got, v.want)
		}
		// The digest is accepted in either case of hex, and it is not
		// part of what is signed.
		fs = append(fs, field{digestField, strings.ToUpper(v.want)})
		if err := checkDigest([]byte(v.key), fs); err != nil {
			t.Errorf("%s: %v", v.name, err)
		}
	}
}

// A forged sale of the kind that credited 5,000.00 USD: the body looks
// right, the source address is Epoch's, but it is not signed with the
// merchant's key, or it was changed after signing. Every one is refused as
// unauthenticated and the checkout it names stays unpaid.
func TestForgedPostbacksAreRefusedAndChangeNothing(t *testing.T) {
	e := newTestPlugin(t)
	ctx := context.Background()
	price := money.Money{Amount: 999, Currency: "USD"}
	co, err := e.StartCheckout(ctx, processor.StartCheckoutRequest{IdempotencyKey: "pack/f", CustomerRef: "viewer4", ReturnURL: "/r", Purchase: &price})
	if err != nil {
		t.Fatal(err)
	}
	sale := fields("ans", "YGOODTEST", "order_id", "70001", "transaction_id", "80001", "pi_code", "pack100", "amount", "5000.00",
		"x_camkit_ref", co.Reference, "x_camkit_customer", "viewer4")
	signed := fakegw.Sign(sale, fakegw.DigestKey)
	changed := func(k, v string) url.Values {
		c := fakegw.Sign(sale, fakegw.DigestKey)
		c.Set(k, v)
		return c
	}
	offList := fakegw.Postback(sale)
	offList.RemoteAddr = "198.51.100.7:443"
	queryAndBody := fakegw.Unsigned(sale)
	queryAndBody.Query = url.Values{"epoch_digest": {signed.Get("epoch_digest")}, "order_id": {"70001"}}
	forged := []struct {
		name string
		req  processor.WebhookRequest
		code errs.Code
	}{
		{"no digest", fakegw.Unsigned(sale), errs.Unauthenticated},
		{"empty digest", fakegw.Unsigned(changed("epoch_digest", "")), errs.Unauthenticated},
		{"digest that is not hex", fakegw.Unsigned(changed("epoch_digest", "not-a-digest")), errs.Unauthenticated},
		{"signed with another key", fakegw.Unsigned(fakegw.Sign(sale, "someone-elses-key-0123456789")), errs.Unauthenticated},
		{"customer changed after signing", fakegw.Unsigned(changed("x_camkit_customer", "attacker1")), errs.Unauthenticated},
		{"price point changed after signing", fakegw.Unsigned(changed("pi_code", "pack300")), errs.Unauthenticated},
		{"field added after signing", fakegw.Unsigned(changed("member_id", "666")), errs.Unauthenticated},
		{"a signed field given twice", func() processor.WebhookRequest {
			r := fakegw.Unsigned(signed)
			r.Body = append(r.Body, []byte("&x_camkit_customer=attacker1")...)
			return r
		}(), errs.Invalid},
		{"a field in both query and body", queryAndBody, errs.Invalid},
		{"signed but from off the allow-list", offList, errs.Unauthenticated},
	}
	for _, f := range forged {
		res, err := e.ParseWebhook(ctx, f.req)
		if errs.CodeOf(err) != f.code || len(res.Events) != 0 {
			t.Errorf("%s: %+v, %v; want %s and no event", f.name, res, err, f.code)
		}
		if err != nil && (strings.Contains(err.Error(), fakegw.DigestKey) || strings.Contains(err.Error(), signed.Get("epoch_digest"))) {
			t.Errorf("%s: the error %q shows the key or the digest", f.name, err)
		}
	}
	if res, err := e.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference}); err != nil || !res.Pending {
		t.Fatalf("after forgeries the checkout is %+v, %v; want still pending", res, err)
	}
	// The genuine postback of the same sale credits the price point: 9.99,
	// whatever its amount field says.
	res, err := e.ParseWebhook(ctx, fakegw.Unsigned(signed))
	if err != nil || len(res.Events) != 1 || res.Events[0].Amount != price || res.Events[0].CustomerRef != "viewer4" {
		t.Fatalf("genuine postback: %+v, %v; want one sale of %s", res, err, price)
	}
	done, err := e.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference})
	if err != nil || done.Charge == nil || done.Charge.Amount != price {
		t.Fatalf("completed checkout %+v, %v", done, err)
	}
}

// The amount credited is the configured price point's, never the posted one:
// a signed postback that says 5000.00 for a 9.99 product is a sale of 9.99
// (and the same holds for DataPlus's record of the sale).
func TestSaleAmountIsThePricePointNeverThePostedAmount(t *testing.T) {
	e := newTestPlugin(t)
	ctx := context.Background()
	want := money.Money{Amount: 999, Currency: "USD"}
	for name, req := range map[string]processor.WebhookRequest{
		"flexpost": postback("ans", "YGOODTEST", "order_id", "70009", "transaction_id", "80009", "pi_code", "pack100",
			"amount", "5000.00", "x_camkit_customer", "viewer4"),
		"dataplus": postback("ets_transaction_id", "80010", "ets_transaction_type", "O", "ets_transaction_amount", "5000.00",
			"ets_pi_code", "pack100"),
	} {
		res, err := e.ParseWebhook(ctx, req)
		if err != nil || len(res.Events) != 1 || res.Events[0].Amount != want || res.Events[0].Type != processor.EventSale {
			t.Errorf("%s: %+v, %v; want a sale of %s", name, res, err, want)
		}
	}
}

// An authentic sale of a product that is not configured credits nothing;
// it is acknowledged (Epoch would otherwise redeliver it for days) and
// logged for the operator with the pi_code and the transaction.
func TestUnknownPricePointIsAcknowledgedNotCreditedAndLogged(t *testing.T) {
	log := &warnings{}
	e := newEpoch(time.Now, log)
	if err := e.Configure(context.Background(), settingsJSON(t, filepath.Join(t.TempDir(), "s.json"), nil)); err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]processor.WebhookRequest{
		"flexpost": postback("ans", "YGOODTEST", "order_id", "70011", "transaction_id", "80011", "pi_code", "gold5000",
			"amount", "5000.00", "x_camkit_customer", "viewer4"),
		"dataplus": postback("ets_transaction_id", "80012", "ets_transaction_type", "O", "ets_transaction_amount", "5000.00",
			"ets_pi_code", "gold5000"),
	} {
		res, err := e.ParseWebhook(context.Background(), req)
		if err != nil || len(res.Events) != 0 || res.Response.Status != 200 || string(res.Response.Body) != "OK" {
			t.Errorf("%s: %+v, %v; want 200 OK and no event", name, res, err)
		}
	}
	got := log.all()
	for _, want := range []string{"gold5000", "80011", "80012", "nothing was credited"} {
		if !strings.Contains(got, want) {
			t.Errorf("the warnings %q do not mention %q", got, want)
		}
	}
	// The unknown sale is still refused when it is not authentic.
	if _, err := e.ParseWebhook(context.Background(), fakegw.Unsigned(fields("ans", "Y", "order_id", "1", "transaction_id", "2", "pi_code", "gold5000"))); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("unsigned postback of an unknown product: %v", err)
	}
}
