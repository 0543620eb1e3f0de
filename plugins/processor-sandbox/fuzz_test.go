package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/processor"
)

// The fuzz target drives the exported ParseWebhook of a configured Sandbox
// and signs by the documented format itself (X-Sandbox-Signature:
// t=<unix>,s=<hex HMAC-SHA256 of "<t>.<body>">), so it depends on no helper
// of the package's other tests.

const fuzzSecret = "fuzz-sandbox-webhook-secret-0123456789"

func fuzzSign(secret string, at time.Time, body []byte) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",s=" + hex.EncodeToString(m.Sum(nil))
}

// fuzzSignatureValid is an independent check of a header: a fresh timestamp
// and the right MAC of body under fuzzSecret.
func fuzzSignatureValid(header string, body []byte, now time.Time) bool {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "s":
			sig = v
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(unix, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return false
	}
	got, err := hex.DecodeString(sig)
	m := hmac.New(sha256.New, []byte(fuzzSecret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return err == nil && hmac.Equal(got, m.Sum(nil))
}

// FuzzSandboxWebhook: a webhook is accepted only with a valid, fresh
// signature of its exact body; a signed body is never refused as
// unauthenticated, and one flipped byte, another key or a stale time always
// is; what is accepted passes plugintest.CheckWebhookResult and a redelivery
// gives the same events.
func FuzzSandboxWebhook(f *testing.F) {
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	s := newSandbox(func() time.Time { return now })
	settings, err := json.Marshal(map[string]any{"state_file": filepath.Join(f.TempDir(), "state.json"), "webhook_secret": fuzzSecret})
	if err != nil {
		f.Fatal(err)
	}
	if err := s.Configure(context.Background(), settings); err != nil {
		f.Fatal(err)
	}
	// Bodies in the documented format (webhook.go), as the other tests send them.
	for _, body := range []string{
		`{"id":"evt_1","type":"chargeback","reference":"sbx_cb_1","related_reference":"sbx_ch_1","amount":{"amount":1000,"currency":"USD"},"occurred_at":"2030-05-01T12:00:00Z","reason":"10.4"}`,
		`{"id":"evt_2","type":"refund","reference":"sbx_rf_1","related_reference":"sbx_ch_1","amount":{"amount":250,"currency":"USD"},"occurred_at":"2030-05-01T11:59:00Z"}`,
		`{"id":"evt_3","type":"sale","reference":"sbx_ch_2","checkout_reference":"sbx_co_1","customer_ref":"viewer-1","amount":{"amount":5000,"currency":"JPY"},"occurred_at":"2030-05-01T12:00:00Z"}`,
		`{"id":"evt_4","type":"rebill","subscription_reference":"sbx_sub_1","decline_code":"insufficient_funds","occurred_at":"2030-05-01T12:00:00Z"}`,
		`{"id":"evt_5","type":"cancel","subscription_reference":"sbx_sub_1"}`,
		`{"id":"e2","type":"sale","amount":{"amount":1,"currency":"ZZZ"}}`,
		`{"id":"e3","type":"rebill","decline_code":"conflict"}`,
		`{"type":"sale"}`, `{"id":"e1","type":"payout"}`, `{"id":"e1","type":"sale","colour":"red"}`, `{`, ``, `[]`, `null`,
	} {
		f.Add([]byte(body), fuzzSign(fuzzSecret, now, []byte(body)), uint16(7))
		f.Add([]byte(body), "t=abc,s=00ff", uint16(0))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte, header string, flip uint16) {
		req := func(b []byte, h string) processor.WebhookRequest {
			return processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/sandbox", Body: b, RemoteAddr: "127.0.0.1:50000",
				Headers: http.Header{"Content-Type": {"application/json"}, signatureHeader: {h}}}
		}
		// As sent: accepted only if the header really signs this body.
		if res, err := s.ParseWebhook(ctx, req(body, header)); err == nil {
			if !fuzzSignatureValid(header, body, now) {
				t.Fatalf("accepted without a valid signature: header %q, events %+v", header, res.Events)
			}
		} else if errs.CodeOf(err) != errs.Unauthenticated && !fuzzSignatureValid(header, body, now) {
			t.Fatalf("an unsigned webhook was read before its signature was checked: %v", err)
		}

		signed := fuzzSign(fuzzSecret, now.Add(-time.Duration(flip%300)*time.Second), body)
		res, err := s.ParseWebhook(ctx, req(body, signed))
		if err != nil {
			if errs.CodeOf(err) == errs.Unauthenticated {
				t.Fatalf("a correctly signed webhook was refused as unauthenticated: %v", err)
			}
		} else {
			if err := plugintest.CheckWebhookResult(res); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			again, err := s.ParseWebhook(ctx, req(body, signed))
			if err != nil || !reflect.DeepEqual(again.Events, res.Events) {
				t.Fatalf("a redelivery gave %+v, %v; the first delivery %+v", again.Events, err, res.Events)
			}
		}

		forged := map[string]processor.WebhookRequest{
			"another key":                 req(body, fuzzSign("another-secret-0123456789abcdef", now, body)),
			"a stale signature":           req(body, fuzzSign(fuzzSecret, now.Add(-5*time.Minute-time.Second-time.Duration(flip)*time.Second), body)),
			"a signature from the future": req(body, fuzzSign(fuzzSecret, now.Add(5*time.Minute+time.Second+time.Duration(flip)*time.Second), body)),
		}
		if len(body) > 0 {
			b := append([]byte(nil), body...)
			b[int(flip)%len(b)] ^= byte(flip>>8) | 1
			forged["one byte flipped"] = req(b, signed)
		}
		for name, r := range forged {
			if res, err := s.ParseWebhook(ctx, r); errs.CodeOf(err) != errs.Unauthenticated {
				t.Fatalf("%s: %+v, %v; want unauthenticated", name, res.Events, err)
			}
		}
	})
}
