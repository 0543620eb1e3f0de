package main

import (
	"context"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/plugins/processor-segpay/fakegw"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/processor"
)

// fuzzAllowed is fakegw's allowed_ips (192.0.2.0/28), checked independently.
var fuzzAllowed = netip.MustParsePrefix("192.0.2.0/28")

// FuzzSegpayPostback: Segpay signs nothing, so its source address is the
// authentication: a postback is accepted only from allowed_ips, and from
// there it is never refused as unauthenticated. An accepted one passes
// plugintest.CheckWebhookResult (so no sign turns a refund into a negative
// amount), a TransPost's event carries its tranid and the magnitude of its
// price exactly, and a redelivery gives the same events.
func FuzzSegpayPostback(f *testing.F) {
	g := fakegw.New(f)
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	s := newSegpay(func() time.Time { return now }, &warnings{})
	if err := s.Configure(context.Background(), g.Settings(f, filepath.Join(plugintest.FuzzStateDir(f, "segpay"), "state.json"), nil)); err != nil {
		f.Fatal(err)
	}
	// TransPosts and member postbacks with Segpay's macros, as fakegw and
	// the other tests send them.
	for _, q := range []string{
		"trantype=chargeback&approved=Yes&purchaseid=100&tranid=200&relatedtranid=150&price=19.99&currencycode=USD&reason=4837",
		"action=Auth&stage=Initial&approved=Yes&trantype=credit&tranid=201&relatedtranid=150&price=-20.00&currencycode=USD&transguid=g201",
		"action=Auth&stage=Initial&approved=Yes&trantype=sale&purchaseid=300&tranid=301&price=9.99&currencycode=EUR&transguid=g301&camkit_ref=co1&cardtype=VISA&last4=1111",
		"action=Auth&stage=Initial&approved=No&trantype=sale&purchaseid=302&tranid=303&price=9.99&currencycode=USD&reason=Insufficient+Funds",
		"trantype=sale&approved=Yes&stage=Rebill&purchaseid=100&tranid=202&price=9.99&currencycode=USD",
		"trantype=void&approved=No&tranid=203&price=1.00&currencycode=USD",
		"action=Cancel&purchaseid=100", "action=Inquiry&purchaseid=100", "action=Probe&purchaseid=1x",
		"trantype=gift&tranid=301&price=1.00&currencycode=USD", "trantype=sale&tranid=302&price=1.001&currencycode=USD",
		"trantype=sale&tranid=303&price=1.00&currencycode=XX", "", "%zz",
	} {
		f.Add(q, []byte(nil), fakegw.SourceIP+":443")
		f.Add("", []byte(q), "[::ffff:192.0.2.5]:80")
		f.Add(q, []byte(nil), "203.0.113.1:1")
	}
	f.Add("trantype=sale", []byte("tranid=1&price=1&currencycode=usd&TRANTYPE=refund"), "192.0.2.16:1")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, rawQuery string, body []byte, remote string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return // the host answers a malformed query string itself (400)
		}
		req := processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/segpay", Query: q, Body: body, RemoteAddr: remote}
		res, err := s.ParseWebhook(ctx, req)
		allowed := plugintest.RemoteIn(remote, fuzzAllowed)
		switch {
		case err == nil && !allowed:
			t.Fatalf("a postback from %q (not in %s) was accepted: %+v", remote, fuzzAllowed, res.Events)
		case err != nil && allowed && errs.CodeOf(err) == errs.Unauthenticated:
			t.Fatalf("a postback from the allowed %q was refused as unauthenticated: %v", remote, err)
		case err != nil && !allowed && errs.CodeOf(err) != errs.Unauthenticated:
			t.Fatalf("a postback from %q was read before its source was checked: %v", remote, err)
		case err != nil:
			return
		}
		if err := plugintest.CheckWebhookResult(res); err != nil {
			t.Fatalf("query %q body %q: %v", rawQuery, body, err)
		}
		fields := url.Values{}
		for k, v := range q {
			fields[strings.ToLower(k)] = v
		}
		if b, err := url.ParseQuery(string(body)); err == nil {
			for k, v := range b {
				fields[strings.ToLower(k)] = v
			}
		}
		for _, ev := range res.Events {
			if fields.Get("trantype") == "" {
				continue // a member postback moves no money
			}
			price, err := money.ParseDecimal(fields.Get("price"), ev.Amount.Currency)
			if price.Amount < 0 {
				price.Amount = -price.Amount
			}
			if err != nil || ev.Amount != price || ev.Reference != fields.Get("tranid") {
				t.Fatalf("event %+v from tranid %q price %q", ev, fields.Get("tranid"), fields.Get("price"))
			}
		}
		again, err := s.ParseWebhook(ctx, req)
		if err != nil || !reflect.DeepEqual(again.Events, res.Events) {
			t.Fatalf("a redelivery gave %+v, %v; the first %+v", again.Events, err, res.Events)
		}
	})
}

// FuzzSegpayAmountText: the amounts the plugin sends Segpay (amountText)
// read back exactly as its postbacks' prices are read.
func FuzzSegpayAmountText(f *testing.F) {
	for _, a := range []int64{1, 99, 100, 1999, math.MaxInt64} {
		for _, c := range []string{"USD", "EUR", "GBP"} {
			f.Add(a, c)
		}
	}
	f.Fuzz(func(t *testing.T, amount int64, currency string) {
		m := money.Money{Amount: amount, Currency: currency}
		s, err := amountText(m)
		if _, lerr := money.Lookup(currency); lerr != nil {
			if errs.CodeOf(err) != errs.UnknownCurrency {
				t.Fatalf("amountText(%v) = %q, %v; want UnknownCurrency", m, s, err)
			}
			return
		}
		if err != nil || amount <= 0 { // only positive amounts are ever sent
			return
		}
		ev, ok, err := normalise(url.Values{"trantype": {"sale"}, "approved": {"Yes"}, "tranid": {"1"}, "price": {s}, "currencycode": {currency}}, time.Now())
		if err != nil || !ok || ev.Amount != m {
			t.Fatalf("%v -> %q -> %+v, %v, %v", m, s, ev.Amount, ok, err)
		}
	})
}
