package web_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/web"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/prometheus/client_golang/prometheus"
)

const secret = "web-test-webhook-secret-0123"

type recordingSink struct {
	mu     sync.Mutex
	fail   error
	events []processor.Event
}

func (s *recordingSink) HandleProcessorEvents(_ context.Context, name string, evs []processor.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.events = append(s.events, evs...)
	return nil
}

func sandboxApp(t *testing.T, sink web.WebhookSink) *web.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := pluginhost.NewHost(log, nil)
	t.Cleanup(h.Close)
	in, err := h.Launch(context.Background(), pluginhost.Spec{
		Kind: pluginkit.KindProcessor, Name: "sandbox", Path: testbin.Plugin(t, "processor-sandbox"),
		Settings: []byte(`{"state_file":"` + filepath.Join(t.TempDir(), "s.json") + `","webhook_secret":"` + secret + `"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := web.New(web.Options{Log: log, Registry: prometheus.NewRegistry()})
	(&web.ProcessorRoutes{Name: "sandbox", Processor: pluginhost.NewProcessor(in), Sink: sink}).Mount(srv.App())
	return srv
}

func signed(t time.Time, body string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + body))
	return "t=" + ts + ",s=" + hex.EncodeToString(m.Sum(nil))
}

func post(t *testing.T, srv *web.Server, sig, body string) (int, string) {
	req := httptest.NewRequest("POST", "/webhooks/sandbox", bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("X-Sandbox-Signature", sig)
	}
	resp, err := srv.App().Test(req, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWebhookForgedIsRefusedAndAuthenticReachesTheSink(t *testing.T) {
	sink := &recordingSink{}
	srv := sandboxApp(t, sink)
	body := fmt.Sprintf(`{"id":"evt_77","type":"refund","reference":"rf_1","related_reference":"sbx_ch_9","amount":{"amount":500,"currency":"USD"},"occurred_at":%q}`,
		time.Now().UTC().Format(time.RFC3339))

	for name, sig := range map[string]string{
		"no signature":   "",
		"wrong secret":   strings.Replace(signed(time.Now(), body), "s=", "s=00", 1),
		"other body":     signed(time.Now(), body+" "),
		"stale (10 min)": signed(time.Now().Add(-10*time.Minute), body),
	} {
		if code, msg := post(t, srv, sig, body); code != 401 {
			t.Errorf("%s: got %d %q, want 401", name, code, msg)
		}
	}
	if len(sink.events) != 0 {
		t.Fatalf("forged webhooks reached the sink: %+v", sink.events)
	}
	if code, msg := post(t, srv, signed(time.Now(), body), body); code != 200 || msg != "OK" {
		t.Fatalf("authentic webhook: %d %q", code, msg)
	}
	if len(sink.events) != 1 || sink.events[0].ID != "evt_77" || sink.events[0].Amount.Amount != 500 || sink.events[0].RelatedReference != "sbx_ch_9" {
		t.Fatalf("sink got %+v", sink.events)
	}
	if code, _ := post(t, srv, signed(time.Now(), "{not json"), "{not json"); code != 400 {
		t.Fatalf("malformed authentic body: %d, want 400", code)
	}
}

func TestWebhookNotRecordedIsAnsweredSoTheProcessorRedelivers(t *testing.T) {
	sink := &recordingSink{fail: errs.Retry(errs.Unavailable, "database down")}
	srv := sandboxApp(t, sink)
	body := fmt.Sprintf(`{"id":"evt_5","type":"chargeback","reference":"cb_5","related_reference":"sbx_ch_5","amount":{"amount":900,"currency":"USD"},"reason":"10.4","occurred_at":%q}`,
		time.Now().UTC().Format(time.RFC3339))
	if code, _ := post(t, srv, signed(time.Now(), body), body); code != 503 {
		t.Fatalf("sink failure answered %d, want 503 so the processor retries", code)
	}
	sink.mu.Lock()
	sink.fail = nil
	sink.mu.Unlock()
	if code, msg := post(t, srv, signed(time.Now(), body), body); code != 200 || msg != "OK" {
		t.Fatalf("redelivery after a failure: %d %q", code, msg)
	}
	if len(sink.events) != 1 || sink.events[0].ID != "evt_5" {
		t.Fatalf("sink got %+v", sink.events)
	}
}
