package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/camkit/camkit/plugins/processor-ccbill/fakegw"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/processor"
)

var fuzzAllowed = netip.MustParsePrefix("64.38.212.0/24")

// fuzzStatedValues lists every flat value a CCBill body states: top-level
// JSON strings and numbers, or form values.
func fuzzStatedValues(body []byte) []string {
	var out []string
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimSpace(body)))
	dec.UseNumber()
	if dec.Decode(&m) == nil {
		for _, v := range m {
			switch v := v.(type) {
			case string:
				out = append(out, v)
			case json.Number:
				out = append(out, v.String())
			}
		}
	}
	if form, err := url.ParseQuery(string(bytes.TrimSpace(body))); err == nil {
		for _, v := range form {
			out = append(out, v...)
		}
	}
	return out
}

// FuzzCCBillWebhook: CCBill signs nothing, so a webhook is accepted only from
// allowed_ips; from there it is never refused as unauthenticated, whatever
// its age. An accepted one passes plugintest.CheckWebhookResult,
// its amount is one the body states, exactly, and a redelivery gives the
// same events. JSON and form bodies both.
func FuzzCCBillWebhook(f *testing.F) {
	g := fakegw.New(f)
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	c := newCCBill(func() time.Time { return now }, &warnings{})
	settings := g.Settings(f, filepath.Join(plugintest.FuzzStateDir(f, "ccbill"), "state.json"),
		map[string]any{"allowed_ips": []string{fuzzAllowed.String()}, "currencies": []string{"USD", "EUR", "JPY"}})
	if err := c.Configure(context.Background(), settings); err != nil {
		f.Fatal(err)
	}
	ts := now.Add(-30 * time.Minute).In(ccbillZone).Format("2006-01-02 15:04:05")
	from := fakegw.SourceIP + ":443"
	// Bodies as CCBill sends them (and the other tests and fakegw build them).
	for _, c := range []struct{ typ, ctype, body string }{
		{"NewSaleSuccess", "application/json", `{"subscriptionId":"925014201000000206","transactionId":"0312000001","billedInitialPrice":"19.99","billedCurrencyCode":"840","accountingInitialPrice":"18.00","accountingCurrencyCode":"978","timestamp":"` + ts + `","paymentTokenId":"ptabc","last4":"1111","expDate":"0130","cardType":"VISA","X-camkitCustomer":"viewer/9"}`},
		{"Chargeback", "application/x-www-form-urlencoded", "subscriptionId=925014201000000206&transactionId=0312000009&amount=19.99&currency=USD&reason=10.4+Other+Fraud&timestamp=" + url.QueryEscape(ts)},
		{"RenewalFailure", "application/json", `{"subscriptionId":"925014201000000206","transactionId":"77","failureReason":"Insufficient Funds","failureCode":"24","timestamp":"` + ts + `"}`},
		{"Refund", "application/json", `{"subscriptionId":"925014201000000206","transactionId":"0312001","amount":1.00,"currencyCode":840,"timestamp":"2030-05-01T11:00:00Z"}`},
		{"RenewalSuccess", "", `{"subscriptionId":"1","billedAmount":"5000","billedCurrency":"jpy","timestamp":"` + ts + `"}`},
		{"Void", "", `{"subscriptionId":"1","transactionId":"9","accountingAmount":"0.99","accountingCurrency":"EUR","timestamp":"` + ts + `"}`},
		{"Cancellation", "application/json", `{"subscriptionId":"1","reason":"user","timestamp":"` + ts + `"}`},
		{"Expiration", "application/json", `{"subscriptionId":"1","timestamp":"` + ts + `"}`},
		{"BillingDateChange", "application/json", `{"subscriptionId":"1","timestamp":"` + ts + `"}`},
		{"Return", "application/json", `{"subscriptionId":"1","amount":"1.00","currencyCode":"840","timestamp":"2020-01-01 00:00:00"}`},
		{"Refund", "application/json", `{"subscriptionId":"1","amount":"1e3","currencyCode":"840","timestamp":"` + ts + `"}`},
		{"", "application/json", `{"eventType":"UpSaleSuccess","subscriptionId":"2","billedInitialPrice":"1","billedCurrencyCode":"392","timestamp":"` + ts + `"}`},
		{"Gift", "text/plain", `{`},
	} {
		f.Add(c.typ, c.ctype, []byte(c.body), from)
		f.Add(c.typ, c.ctype, []byte(c.body), "203.0.113.5:443")
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, eventType, contentType string, body []byte, remote string) {
		req := processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/ccbill", Body: body, RemoteAddr: remote,
			Query: url.Values{"eventType": {eventType}}, Headers: http.Header{"Content-Type": {contentType}}}
		res, err := c.ParseWebhook(ctx, req)
		allowed := plugintest.RemoteIn(remote, fuzzAllowed)
		switch {
		case err == nil && !allowed:
			t.Fatalf("a webhook from %q (not in %s) was accepted: %+v", remote, fuzzAllowed, res.Events)
		case err != nil && allowed && errs.CodeOf(err) == errs.Unauthenticated:
			t.Fatalf("a webhook from the allowed %q was refused as unauthenticated: %v", remote, err)
		case err != nil && !allowed && errs.CodeOf(err) != errs.Unauthenticated:
			t.Fatalf("a webhook from %q was read before its source was checked: %v", remote, err)
		case err != nil:
			return
		}
		if err := plugintest.CheckWebhookResult(res); err != nil {
			t.Fatalf("%s %q: %v", eventType, body, err)
		}
		stated := fuzzStatedValues(body)
		for _, ev := range res.Events {
			if ev.Amount == (money.Money{}) {
				continue
			}
			found := false
			for _, v := range stated {
				m, err := money.ParseDecimal(v, ev.Amount.Currency)
				found = found || (err == nil && m == ev.Amount)
			}
			if !found {
				t.Fatalf("event %+v: its amount is none the body states (%q)", ev, stated)
			}
		}
		again, err := c.ParseWebhook(ctx, req)
		if err != nil || !reflect.DeepEqual(again.Events, res.Events) {
			t.Fatalf("a redelivery gave %+v, %v; the first %+v", again.Events, err, res.Events)
		}
	})
}

// FuzzCCBillChargeAmount: the initialPrice a charge request carries
// (decimalJSON, a JSON number with the currency's exact decimals) reads back
// exactly as CCBill's webhooks are read, with its numeric currency code.
func FuzzCCBillChargeAmount(f *testing.F) {
	for _, a := range []int64{1, 99, 100, 1999, 5000, math.MaxInt64} {
		for _, cur := range []string{"USD", "EUR", "JPY", "BHD"} {
			f.Add(a, cur)
		}
	}
	f.Fuzz(func(t *testing.T, amount int64, currency string) {
		m := money.Money{Amount: amount, Currency: currency}
		num, numeric, err := decimalJSON(m)
		if _, lerr := money.Lookup(currency); lerr != nil {
			if errs.CodeOf(err) != errs.UnknownCurrency {
				t.Fatalf("decimalJSON(%v) = %s, %v; want UnknownCurrency", m, num, err)
			}
			return
		}
		if err != nil || amount <= 0 { // only positive amounts are ever charged
			return
		}
		body, err := json.Marshal(map[string]any{"subscriptionId": "1", "amount": num, "currencyCode": numeric})
		if err != nil {
			t.Fatalf("%v as JSON: %v", m, err)
		}
		fields, err := webhookFields(processor.WebhookRequest{Body: body, Headers: http.Header{"Content-Type": {"application/json"}}})
		if err != nil {
			t.Fatal(err)
		}
		back, ok, err := eventAmount(fields)
		if err != nil || !ok || back != m {
			t.Fatalf("%v -> %s -> %v, %v, %v", m, body, back, ok, err)
		}
	})
}
