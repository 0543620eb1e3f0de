package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"math"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/plugins/processor-netbilling/fakegw"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/processor"
)

// fuzzAuthentic checks both NETbilling hashes of v independently of the
// plugin: MD5(key + hashed fields) and MD5(key + transaction id + status +
// hashed fields), over fields that include the ones that carry money.
func fuzzAuthentic(key string, v url.Values) bool {
	listed := strings.Fields(v.Get("Ecom_Ezic_Security_HashFields"))
	for _, need := range fakegw.HashFields {
		found := false
		for _, f := range listed {
			found = found || f == need
		}
		if !found {
			return false
		}
	}
	values := ""
	for _, f := range listed {
		values += v.Get(f)
	}
	sum := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	return strings.EqualFold(v.Get("Ecom_Ezic_Security_HashValue_MD5"), sum(key+values)) &&
		strings.EqualFold(v.Get("Ecom_Ezic_ProofOfPurchase_MD5"), sum(key+v.Get("Ecom_Ezic_Response_TransactionID")+v.Get("Ecom_Ezic_Response_StatusCode")+values))
}

// FuzzNETbillingPostback: a postback is accepted only when both MD5 hashes
// check out under the integrity key; one signed by the gateway (fakegw, the
// documented hash layout) with fuzzed order, type, total, outcome and age is
// never refused as unauthenticated, and, being for no checkout this plugin
// started, is acknowledged with a 2xx and no event (a SALE or AUTH) or
// refused as invalid (any other type); one byte changed in any signed field
// is always refused as unauthenticated.
func FuzzNETbillingPostback(f *testing.F) {
	g := fakegw.New(f)
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	n := newNETbilling(func() time.Time { return now }, nil)
	settings, err := g.Settings(filepath.Join(plugintest.FuzzStateDir(f, "netbilling"), "state.json"), nil)
	if err != nil {
		f.Fatal(err)
	}
	if err := n.Configure(context.Background(), settings); err != nil {
		f.Fatal(err)
	}
	for _, c := range []struct{ order, typ, total, status, msg string }{
		{"o1", "SALE", "19.99", "1", "APPROVED"}, {"o7", "AUTH", "1.00", "1", "APPROVED"}, {"o9", "SALE", "19.999", "1", "APPROVED"},
		{"o11", "REFUND", "5.00", "1", "APPROVED"}, {"o13", "SALE", "5.00", "0", "INSUFFICIENT FUNDS"}, {"o14", "AUTH", "0.00", "T", "TEST APPROVED"},
		{"o15", "SALE", "5.00", "F", "A/DECLINED"}, {"o16", "SALE", "5.00", "I", "PENDING"}, {"ck_4f2a", "SALE", "1e3", "1", "APPROVED"},
	} {
		raw := g.Postback(c.order, c.typ, c.total, now.Add(-time.Hour)).Encode()
		f.Add(c.order, c.typ, c.total, c.status, c.msg, uint32(3600), []byte(raw), uint16(5))
	}
	f.Add("o2", "SALE", "5.00", "1", "APPROVED", uint32(25*3600), []byte("%zz"), uint16(0))
	ctx := context.Background()
	req := func(body string) processor.WebhookRequest {
		return processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/netbilling", Body: []byte(body), RemoteAddr: "127.0.0.1:40000",
			Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}
	}
	f.Fuzz(func(t *testing.T, order, typ, total, status, msg string, ago uint32, raw []byte, flip uint16) {
		// As sent: accepted only if the hashes are NETbilling's.
		if res, err := n.ParseWebhook(ctx, req(string(raw))); err == nil {
			v, _ := url.ParseQuery(string(raw))
			if !fuzzAuthentic(g.Key, v) {
				t.Fatalf("accepted a postback whose hashes do not check out: %q -> %+v", raw, res.Events)
			}
		}

		issued := now.Add(-time.Duration(ago%(48*3600)) * time.Second).Truncate(time.Second)
		v := g.Postback(order, typ, total, issued)
		if status != "1" || msg != "APPROVED" {
			v = g.Answer(v, v.Get("Ecom_Ezic_Response_TransactionID"), status, msg, issued)
		}
		res, err := n.ParseWebhook(ctx, req(v.Encode()))
		handled := v.Get("Ecom_Ezic_Payment_AuthorizationType") == "SALE" || v.Get("Ecom_Ezic_Payment_AuthorizationType") == "AUTH"
		switch {
		case errs.CodeOf(err) == errs.Unauthenticated:
			t.Fatalf("a postback signed with the integrity key was refused as unauthenticated: %v", err)
		case handled && err != nil:
			t.Fatalf("an authentic %s postback was refused (NETbilling would post it again and again): %v", v.Get("Ecom_Ezic_Payment_AuthorizationType"), err)
		case !handled && errs.CodeOf(err) != errs.Invalid:
			t.Fatalf("a postback of type %q: %+v, %v; want errs.Invalid", v.Get("Ecom_Ezic_Payment_AuthorizationType"), res, err)
		case err == nil && (len(res.Events) != 0 || res.Response.Status != 200):
			t.Fatalf("a postback for order %q, which this plugin never started, gave %+v (HTTP %d); want no event and 200", order, res.Events, res.Response.Status)
		}

		// One byte changed in any field the hashes sign.
		signed := append(append([]string(nil), fakegw.HashFields...), "Ecom_Ezic_Response_TransactionID", "Ecom_Ezic_Response_StatusCode")
		field := signed[int(flip)%len(signed)]
		if val := v.Get(field); val != "" {
			b := []byte(val)
			b[int(flip>>4)%len(b)] ^= byte(flip>>8) | 1
			forged := url.Values{}
			for k, x := range v {
				forged[k] = append([]string(nil), x...)
			}
			forged.Set(field, string(b))
			if field == "Ecom_Ezic_Response_TransactionID" {
				forged.Set("Ecom_Ezic_TransactionId", string(b))
			}
			if field == "Ecom_Ezic_Response_StatusCode" {
				forged.Set("Ecom_Ezic_TransactionStatus", string(b))
			}
			if res, err := n.ParseWebhook(ctx, req(forged.Encode())); errs.CodeOf(err) != errs.Unauthenticated {
				t.Fatalf("%s changed from %q to %q: %+v, %v; want unauthenticated", field, val, b, res.Events, err)
			}
		}
	})
}

// FuzzNETbillingWireAmount: Direct Mode amounts (wireAmount) read back
// exactly as the hosted form's Ecom_Cost_Total is read, and only USD is sent.
func FuzzNETbillingWireAmount(f *testing.F) {
	for _, a := range []int64{0, 1, 99, 100, 123456, math.MaxInt64} {
		f.Add(a, "USD")
	}
	f.Add(int64(5000), "JPY")
	f.Fuzz(func(t *testing.T, amount int64, currency string) {
		m := money.Money{Amount: amount, Currency: currency}
		s, err := wireAmount(m)
		if currency != "USD" {
			if errs.CodeOf(err) != errs.UnknownCurrency {
				t.Fatalf("wireAmount(%v) = %q, %v; want UnknownCurrency", m, s, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("wireAmount(%v): %v", m, err)
		}
		if amount == math.MinInt64 { // never sent: amounts are validated positive first
			return
		}
		back, err := money.ParseDecimal(s, "USD")
		if err != nil || back != m || url.QueryEscape(s) != s {
			t.Fatalf("%v -> %q -> %v, %v", m, s, back, err)
		}
	})
}
