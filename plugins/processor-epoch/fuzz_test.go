package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/camkit/camkit/plugins/processor-epoch/fakegw"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/processor"
)

// The fuzz target drives the exported ParseWebhook of a configured Epoch.
// It signs with fakegw.Sign, the fake's own epoch_digest (HMAC-MD5 over the
// ksorted name/value pairs, from public integration code), not with the
// plugin's, so a plugin checking something else fails here.

var fuzzAllowed = netip.MustParsePrefix("208.236.105.0/24")

// fuzzFields merges a postback's query and form body as Epoch posts them;
// ok is false when a name comes twice (the plugin refuses those unread).
func fuzzFields(q url.Values, body []byte) (url.Values, bool) {
	out := url.Values{}
	b, err := url.ParseQuery(string(body))
	if len(body) > 0 && err != nil {
		return nil, false
	}
	for _, vs := range []url.Values{q, b} {
		for k, v := range vs {
			if len(v) != 1 || out.Has(k) {
				return nil, false
			}
			out.Set(k, v[0])
		}
	}
	return out, true
}

// fuzzDigestClean is the digest's cleaning of a name or value.
func fuzzDigestClean(s string) string {
	return strings.NewReplacer("&", "", "=", "").Replace(strings.TrimFunc(s, unicode.IsSpace))
}

// FuzzEpochPostback: a FlexPost postback, and anything that is not DataPlus,
// is accepted only from allowed_ips with a valid epoch_digest under the
// merchant's key, and never read before both are checked; DataPlus (ets_*
// or mcs_* fields, no ans) is accepted on its source address alone, as
// Epoch's guide has it (the default dataplus_auth), unless it carries a
// digest, which must then match, and such an unsigned push never yields a
// sale. One signed by the gateway is never refused as unauthenticated (not
// for its age either), and one byte changed in a signed value always is;
// what is accepted passes plugintest.CheckWebhookResult (no negative
// amount, known currency, an id), a FlexPost sale credits exactly its
// configured price point, and a redelivery gives the same events.
func FuzzEpochPostback(f *testing.F) {
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	e := newEpoch(func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	pricePoints := map[string]money.Money{"pack100": {Amount: 999, Currency: "USD"}, "club30": {Amount: 1999, Currency: "USD"}, "packjpy": {Amount: 1500, Currency: "JPY"}}
	settings, err := json.Marshal(map[string]any{"co_code": "abc123", "digest_key": fakegw.DigestKey,
		"state_file": filepath.Join(plugintest.FuzzStateDir(f, "epoch"), "state.json"), "allowed_ips": []string{fuzzAllowed.String()}, "price_points": []map[string]any{
			{"pi_code": "pack100", "amount": 999, "currency": "USD"},
			{"pi_code": "club30", "amount": 1999, "currency": "USD", "recurring_days": 30, "recurring_amount": 1499},
			{"pi_code": "packjpy", "amount": 1500, "currency": "JPY"},
		}})
	if err != nil {
		f.Fatal(err)
	}
	if err := e.Configure(context.Background(), settings); err != nil {
		f.Fatalf("Configure (if Epoch gained a required setting, add it here): %v", err)
	}
	date := now.Add(-time.Hour).Format("2006-01-02 15:04:05")
	// FlexPost answers and DataPlus pushes as Epoch sends them (form bodies).
	for _, body := range []string{
		"ans=YGOODTEST&order_id=70001&transaction_id=80001&member_id=5551&pi_code=pack100&amount=9.99&x_camkit_ref=co1&x_camkit_customer=viewer-1",
		"ans=Y&order_id=70002&transaction_id=80002&pi_code=packjpy&amount=1500&x_camkit_ref=co2",
		"ans=NInsufficient+funds&order_id=70003&pi_code=club30&x_camkit_ref=co3",
		"ans=YGOODTEST&order_id=70004&transaction_id=80004&pi_code=pack100&amount=5000.00&x_camkit_customer=viewer-2",
		"ans=Y&order_id=70005&transaction_id=80005&pi_code=unknown",
		"ets_transaction_id=91000&ets_member_idx=5551&ets_transaction_type=N&ets_transaction_amount=19.99&ets_pi_code=club30&ets_transaction_date=" + url.QueryEscape(date),
		"ets_transaction_id=91001&ets_member_idx=5551&ets_transaction_type=C&ets_transaction_amount=-9.99&ets_ref_trans_ids=80001&ets_transaction_date=" + url.QueryEscape(date),
		"ets_transaction_id=91002&ets_member_idx=5551&ets_transaction_type=D&ets_transaction_amount=-9.99&ets_ref_trans_ids=80001,80002&ets_reason=fraud&ets_currency=usd",
		"ets_transaction_id=91003&ets_transaction_type=S&ets_pi_code=pack100&ets_transaction_amount=9.99&ets_transaction_date=2020-01-01+00:00:00",
		"ets_transaction_id=91004&ets_transaction_type=Q&ets_transaction_amount=1",
		"ets_transaction_id=91005&ets_transaction_type=O&ets_pi_code=pack100&ets_transaction_amount=9.99",
		"ets_transaction_id=91006&ANS=YGOODTEST&order_id=7&transaction_id=91006&pi_code=pack100&x_camkit_customer=viewer-3",
		"mcs_or_idx=5551&mcs_picode=club30&mcs_reason=price",
		"", "%zz", "ans=", "ans=Y&ans=N",
	} {
		signed := ""
		if v, err := url.ParseQuery(body); err == nil {
			signed = fakegw.Sign(v, fakegw.DigestKey).Encode()
		}
		f.Add("", []byte(body), "208.236.105.20:443", uint16(3))
		f.Add("", []byte(signed), "208.236.105.20:443", uint16(7))
		f.Add(signed, []byte(nil), "[::ffff:208.236.105.7]:80", uint16(1))
		f.Add("", []byte(signed), "65.17.248.9:443", uint16(0))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, rawQuery string, body []byte, remote string, flip uint16) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return // the host answers a malformed query string itself (400)
		}
		req := func(q url.Values, body []byte, remote string) processor.WebhookRequest {
			return processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/epoch", Query: q, Body: body, RemoteAddr: remote,
				Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}
		}
		fields, single := fuzzFields(q, body)
		authentic := single && fields.Get("epoch_digest") != "" && strings.EqualFold(fakegw.Sign(fields, fakegw.DigestKey).Get("epoch_digest"), fields.Get("epoch_digest")) // hex in either case
		allowed := plugintest.RemoteIn(remote, fuzzAllowed)
		lower := map[string]bool{}
		for k := range fields {
			lower[strings.ToLower(k)] = true
		}
		bySource := single && !lower["ans"] && (lower["ets_transaction_id"] || lower["mcs_or_idx"]) && !fields.Has("epoch_digest")
		res, err := e.ParseWebhook(ctx, req(q, body, remote))
		switch {
		case err == nil && !allowed:
			t.Fatalf("a postback from %q (not in %s) was accepted: %+v", remote, fuzzAllowed, res.Events)
		case err == nil && !authentic && !bySource:
			t.Fatalf("a postback without a valid epoch_digest was accepted: query %q body %q: %+v", rawQuery, body, res.Events)
		case err != nil && !allowed && errs.CodeOf(err) != errs.Unauthenticated:
			t.Fatalf("a postback from %q was read before its source was checked: %v", remote, err)
		case err != nil && single && !authentic && !bySource && errs.CodeOf(err) != errs.Unauthenticated:
			t.Fatalf("an unsigned postback was read before its digest was checked: %v", err)
		}
		if err == nil && !authentic {
			for _, ev := range res.Events {
				if ev.Type == processor.EventSale {
					t.Fatalf("a DataPlus push vouched for by its source address alone yielded a sale: %+v", ev)
				}
			}
		}
		if !single {
			return
		}

		// The same fields signed by the gateway, from its address.
		signed := fakegw.Sign(fields, fakegw.DigestKey)
		res, err = e.ParseWebhook(ctx, req(nil, []byte(signed.Encode()), fakegw.SourceIP+":443"))
		if err != nil {
			if errs.CodeOf(err) == errs.Unauthenticated {
				t.Fatalf("a postback signed with the digest key was refused as unauthenticated: %v", err)
			}
		} else {
			if err := plugintest.CheckWebhookResult(res); err != nil {
				t.Fatalf("postback %v: %v", signed, err)
			}
			for _, ev := range res.Events {
				if pp, ok := pricePoints[signed.Get("pi_code")]; ok && ev.Type == processor.EventSale && ev.DeclineCode == "" && signed.Get("ans") != "" && ev.Amount != pp {
					t.Fatalf("a FlexPost sale of %s credits %v, not its price point's %v", signed.Get("pi_code"), ev.Amount, pp)
				}
			}
			again, err := e.ParseWebhook(ctx, req(nil, []byte(signed.Encode()), fakegw.SourceIP+":443"))
			if err != nil || !reflect.DeepEqual(again.Events, res.Events) {
				t.Fatalf("a redelivery gave %+v, %v; the first %+v", again.Events, err, res.Events)
			}
		}

		// One byte changed in one signed value (unless the digest's cleaning
		// makes it the same text: trimmed white space, '&' and '=').
		var names []string
		for k := range signed {
			if k != "epoch_digest" && signed.Get(k) != "" {
				names = append(names, k)
			}
		}
		if len(names) == 0 {
			return
		}
		sort.Strings(names)
		name := names[int(flip)%len(names)]
		old := signed.Get(name)
		b := []byte(old)
		b[int(flip>>4)%len(b)] ^= byte(flip>>8) | 1
		if fuzzDigestClean(string(b)) == fuzzDigestClean(old) {
			return
		}
		forged := url.Values{}
		for k, v := range signed {
			forged[k] = append([]string(nil), v...)
		}
		forged.Set(name, string(b))
		if res, err := e.ParseWebhook(ctx, req(nil, []byte(forged.Encode()), fakegw.SourceIP+":443")); errs.CodeOf(err) != errs.Unauthenticated {
			t.Fatalf("%s changed from %q to %q after signing: %+v, %v; want unauthenticated", name, old, b, res.Events, err)
		}
	})
}
