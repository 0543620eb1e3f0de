package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/processor"
)

// The fuzz target drives the exported ParseWebhook of a configured Epoch
// and builds its requests itself, so it depends on no helper of the
// package's other tests. Its properties hold whatever else Epoch's
// postbacks must carry (a digest, a known price point): only what comes
// from an allowed address may be accepted, and what is accepted is sound.

// fuzzStateDir is a directory for a fuzz target's state file: tmpfs when the
// machine has one, since accepted postbacks rewrite the file with an fsync.
func fuzzStateDir(f *testing.F) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "epoch-fuzz-"); err == nil {
			f.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return f.TempDir()
}

var fuzzAllowed = netip.MustParsePrefix("208.236.105.0/24")

func fuzzFromAllowed(remote string) bool {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Zone() == "" && fuzzAllowed.Contains(a.Unmap())
}

// FuzzEpochPostback: a FlexPost postback or DataPlus push is accepted only
// from allowed_ips and never read before its source is checked; an accepted
// one passes plugintest.CheckWebhookResult (no negative amount, known
// currency, an id) and a redelivery gives the same events.
func FuzzEpochPostback(f *testing.F) {
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	e := newEpoch(func() time.Time { return now })
	settings, err := json.Marshal(map[string]any{"co_code": "abc123", "state_file": filepath.Join(fuzzStateDir(f), "state.json"),
		"allowed_ips": []string{fuzzAllowed.String()}, "price_points": []map[string]any{
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
		"ets_transaction_id=91003&ets_transaction_type=S&ets_transaction_amount=9.99&ets_transaction_date=2020-01-01+00:00:00",
		"ets_transaction_id=91004&ets_transaction_type=Q&ets_transaction_amount=1",
		"", "%zz", "ans=",
	} {
		f.Add("", []byte(body), "208.236.105.20:443")
		f.Add("", []byte(body), "65.17.248.9:443")
		f.Add(body, []byte(nil), "[::ffff:208.236.105.7]:80")
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, rawQuery string, body []byte, remote string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return // the host answers a malformed query string itself (400)
		}
		req := processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/epoch", Query: q, Body: body, RemoteAddr: remote,
			Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}
		res, err := e.ParseWebhook(ctx, req)
		allowed := fuzzFromAllowed(remote)
		switch {
		case err == nil && !allowed:
			t.Fatalf("a postback from %q (not in %s) was accepted: %+v", remote, fuzzAllowed, res.Events)
		case err != nil && !allowed && errs.CodeOf(err) != errs.Unauthenticated:
			t.Fatalf("a postback from %q was read before its source was checked: %v", remote, err)
		case err != nil:
			return
		}
		if err := plugintest.CheckWebhookResult(res); err != nil {
			t.Fatalf("query %q body %q: %v", rawQuery, body, err)
		}
		again, err := e.ParseWebhook(ctx, req)
		if err != nil || !reflect.DeepEqual(again.Events, res.Events) {
			t.Fatalf("a redelivery gave %+v, %v; the first %+v", again.Events, err, res.Events)
		}
	})
}
