package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/processor"
)

const fuzzSigningKey = "fuzz-mobiuspay-signing-key-0123456789"

// fuzzSign signs by NMI's documented format: Webhook-Signature:
// t=<nonce>,s=<hex HMAC-SHA256 of "<nonce>.<body>">.
func fuzzSign(key, nonce string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(nonce + "."))
	m.Write(body)
	return "t=" + nonce + ",s=" + hex.EncodeToString(m.Sum(nil))
}

func fuzzSignatureValid(header string, body []byte) bool {
	var nonce, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			nonce = v
		case "s":
			sig = v
		}
	}
	got, err := hex.DecodeString(sig)
	m := hmac.New(sha256.New, []byte(fuzzSigningKey))
	m.Write([]byte(nonce + "."))
	m.Write(body)
	return nonce != "" && err == nil && hmac.Equal(got, m.Sum(nil))
}

func newFuzzPlugin(f *testing.F, now time.Time) *MobiusPay {
	m := newMobiusPay(func() time.Time { return now })
	m.log = discardLog{}
	// A refund without original_transaction_id is looked up with
	// query.php: here a gateway that knows no transaction.
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><nm_response></nm_response>`))
	}))
	f.Cleanup(gw.Close)
	settings, err := json.Marshal(map[string]any{"security_key": "k", "tokenization_key": "p", "webhook_signing_key": fuzzSigningKey,
		"currencies": []string{"USD", "EUR", "JPY"}, "state_file": filepath.Join(f.TempDir(), "state.json"),
		"api_url": gw.URL + "/api/transact.php", "query_url": gw.URL + "/api/query.php"})
	if err != nil {
		f.Fatal(err)
	}
	if err := m.Configure(context.Background(), settings); err != nil {
		f.Fatal(err)
	}
	return m
}

// FuzzMobiusPayWebhook: a webhook is accepted only if Webhook-Signature
// signs its exact body with the signing key; a signed body is never refused
// as unauthenticated (whatever its dates: NMI redelivers for days); a
// flipped byte or another key is always refused; accepted events pass plugintest.CheckWebhookResult,
// their amounts are the body's decimal text read exactly, and a redelivery
// (same delivery, or re-signed with a new nonce) gives the same events.
func FuzzMobiusPayWebhook(f *testing.F) {
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	m := newFuzzPlugin(f, now)
	date := now.Add(-time.Hour).Format("20060102150405")
	// NMI's envelope as the other tests and fakegw build it.
	for _, body := range []string{
		`{"event_id":"e1","event_type":"transaction.refund.success","event_body":{"transaction_id":"777","original_transaction_id":"776","order_id":"ck1","currency":"USD","action":{"amount":"12.50","action_type":"refund","date":"` + date + `","success":"1","response_text":"SUCCESS","response_code":"100"}}}`,
		`{"event_id":"e2","event_type":"transaction.sale.failure","event_body":{"transaction_id":"801","currency":"USD","customer_vault_id":"42","action":{"amount":"5.00","action_type":"sale","date":"` + date + `","success":"0","response_text":"DECLINE","response_code":"202"}}}`,
		`{"event_id":"e3","event_type":"transaction.capture.success","event_body":{"transaction_id":"802","currency":"EUR","action":{"amount":"3.00","action_type":"capture","date":"` + date + `"}}}`,
		`{"event_id":"e4","event_type":"transaction.auth.success","event_body":{"transaction_id":"803","currency":"JPY","action":{"amount":"5000","date":"` + date + `"}}}`,
		`{"event_id":"settle-1","event_type":"settlement.batch.complete","event_body":{"batch_id":"9"}}`,
		`{"event_id":"cb-1","event_type":"chargeback.batch.complete","event_body":{"chargebacks":[{"id":"c1","transaction_id":"700","date":"20260101","amount":"10.00","reason_code":"10.4","reason":"Other Fraud"},{"id":"c2","transaction_id":"701","date":"2026-01-02","amount":"0.99","currency":"EUR","reason_code":"4837"}]}}`,
		`{"event_id":"e5","event_type":"transaction.sale.success","event_body":{"transaction_id":"779","currency":"USD","action":{"amount":"1e3","date":"` + date + `"}}}`,
		`{"event_id":"e6","event_type":"transaction.sale.success","event_body":{"transaction_id":"778","currency":"USD","action":{"amount":"1.00","date":"20200101000000"}}}`,
		`{"event_id":"e7","event_type":"transaction.sale.success","event_body":{"transaction_id":"1"}}`,
		`{"event_id":"e8","event_type":"transaction.refund.success","event_body":{"transaction_id":"9","currency":"USD","action":{"amount":"2.00","date":"2023-02-01T23:52:03"}}}`,
		`{"event_id":"e9","event_type":"transaction.sale.success","event_body":{"transaction":{"transaction_id":"10","amount":"49.99","order_id":"o"},"currency":"USD"}}`,
		`{"event_id":"e10","event_type":"transaction.sale.unknown","event_body":{"transaction_id":"11"}}`,
		`{"event_type":"transaction.sale.success","event_body":{}}`, `{"event_id":`, ``,
	} {
		f.Add([]byte(body), "n0nce", fuzzSign(fuzzSigningKey, "abc", []byte(body)), uint16(3))
		f.Add([]byte(body), "", "t=abc,s=00", uint16(0))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte, nonce, header string, flip uint16) {
		req := func(b []byte, h string) processor.WebhookRequest {
			return processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/mobiuspay", Body: b, RemoteAddr: "127.0.0.1:40000",
				Headers: http.Header{"Content-Type": {"application/json"}, "Webhook-Signature": {h}}}
		}
		if res, err := m.ParseWebhook(ctx, req(body, header)); err == nil && !fuzzSignatureValid(header, body) {
			t.Fatalf("accepted without a valid signature: header %q, events %+v", header, res.Events)
		}
		if nonce == "" || strings.ContainsAny(nonce, ",") || strings.TrimSpace(nonce) != nonce {
			nonce = "n" // a nonce NMI could send: the header format has no escaping
		}
		signed := fuzzSign(fuzzSigningKey, nonce, body)
		res, err := m.ParseWebhook(ctx, req(body, signed))
		if err != nil {
			if errs.CodeOf(err) == errs.Unauthenticated {
				t.Fatalf("a correctly signed webhook was refused as unauthenticated: %v", err)
			}
		} else {
			if err := plugintest.CheckWebhookResult(res); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			for _, ev := range res.Events {
				if d, _ := money.FormatDecimal(ev.Amount); !amountInBody(body, ev.Amount) {
					t.Fatalf("event %+v: amount %s %s is not one the body states", ev, d, ev.Amount.Currency)
				}
			}
			for name, again := range map[string]processor.WebhookRequest{"same delivery": req(body, signed), "re-signed": req(body, fuzzSign(fuzzSigningKey, nonce+"2", body))} {
				res2, err := m.ParseWebhook(ctx, again)
				if err != nil || !reflect.DeepEqual(res2.Events, res.Events) {
					t.Fatalf("%s: %+v, %v; first delivery %+v", name, res2.Events, err, res.Events)
				}
			}
		}
		forged := map[string]processor.WebhookRequest{"another key": req(body, fuzzSign("another-key-0123456789abcdef", nonce, body))}
		if len(body) > 0 {
			b := append([]byte(nil), body...)
			b[int(flip)%len(b)] ^= byte(flip>>8) | 1
			forged["one byte flipped"] = req(b, signed)
		}
		for name, r := range forged {
			if res, err := m.ParseWebhook(ctx, r); errs.CodeOf(err) != errs.Unauthenticated {
				t.Fatalf("%s: %+v, %v; want unauthenticated", name, res.Events, err)
			}
		}
	})
}

// amountInBody reports whether some JSON string value in body reads as a.
func amountInBody(body []byte, a money.Money) bool {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return false
	}
	found := false
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		case string:
			if m, err := money.ParseDecimal(strings.TrimSpace(x), a.Currency); err == nil && m == a {
				found = true
			}
		}
	}
	walk(v)
	return found
}

// FuzzMobiusPayWireAmount: what the plugin sends transact.php (wireAmount)
// reads back exactly as what NMI reports (parseWireAmount) and as a webhook
// amount, for every amount and accepted currency.
func FuzzMobiusPayWireAmount(f *testing.F) {
	for _, a := range []int64{0, 1, 99, 100, 1234, 123456789, math.MaxInt64, -1} {
		f.Add(a, "USD")
		f.Add(a, "JPY")
		f.Add(a, "BHD")
	}
	f.Fuzz(func(t *testing.T, amount int64, currency string) {
		m := money.Money{Amount: amount, Currency: currency}
		s, err := wireAmount(m)
		if _, lerr := money.Lookup(currency); lerr != nil {
			if errs.CodeOf(err) != errs.UnknownCurrency {
				t.Fatalf("wireAmount(%v) = %q, %v; want UnknownCurrency", m, s, err)
			}
			return
		}
		if err != nil || strings.ContainsAny(s, "&= +e") {
			t.Fatalf("wireAmount(%v) = %q, %v", m, s, err)
		}
		back, err := parseWireAmount(" "+s+" ", currency)
		if amount == math.MinInt64 { // no amount the plugin sends: money.ParseDecimal refuses it by design
			return
		}
		if err != nil || back != m {
			t.Fatalf("%v -> %q -> %v, %v", m, s, back, err)
		}
	})
}

// discardLog drops what the plugin logs.
type discardLog struct{}

func (discardLog) Info(string, ...any)  {}
func (discardLog) Warn(string, ...any)  {}
func (discardLog) Error(string, ...any) {}
