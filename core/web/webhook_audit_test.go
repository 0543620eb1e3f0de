package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/audit"
	"github.com/camkit/camkit/core/clientaddr"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/web"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/prometheus/client_golang/prometheus"
)

// A webhook the host fails to record is refused with 503 in plain text that
// says nothing of why (a database, a ledger), and audited with the reason
// and the client's address behind a trusted proxy.
func TestWebhookRefusalsAreAuditedAndSayNothingInternal(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h := pluginhost.NewHost(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	t.Cleanup(h.Close)
	in, err := h.Launch(context.Background(), pluginhost.Spec{
		Kind: pluginkit.KindProcessor, Name: "sandbox", Path: testbin.Plugin(t, "processor-sandbox"),
		Settings: []byte(`{"state_file":"` + filepath.Join(t.TempDir(), "s.json") + `","webhook_secret":"` + secret + `"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	aud, err := audit.New(log, reg)
	if err != nil {
		t.Fatal(err)
	}
	clients, err := clientaddr.New([]string{"0.0.0.0/0"}, clientaddr.XForwardedFor)
	if err != nil {
		t.Fatal(err)
	}
	srv := web.New(web.Options{Log: log, Registry: prometheus.NewRegistry(), ClientAddr: clients})
	sink := &recordingSink{fail: errs.Retry(errs.Unavailable, "ledger: SELECT ... FROM ledger_transfers: connection refused on /tmp/.s.PGSQL.5432")}
	(&web.ProcessorRoutes{Name: "sandbox", Processor: pluginhost.NewProcessor(in), Sink: sink, Audit: aud}).Mount(srv.App())

	body := fmt.Sprintf(`{"id":"evt_9","type":"rebill","reference":"r9","occurred_at":%q}`, time.Now().UTC().Format(time.RFC3339))
	send := func(sig string) (int, string, string) {
		req := httptest.NewRequest("POST", "/webhooks/sandbox", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "192.0.2.77")
		if sig != "" {
			req.Header.Set("X-Sandbox-Signature", sig)
		}
		resp, err := srv.App().Test(req, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	code, ctype, msg := send(signed(time.Now(), body))
	if code != 503 || !strings.HasPrefix(ctype, "text/plain") || strings.Contains(msg, "PGSQL") || strings.Contains(msg, "SELECT") {
		t.Fatalf("an unrecorded webhook answered %d %q %q", code, ctype, msg)
	}
	if code, _, msg := send(""); code != 401 || strings.Contains(msg, "<html") {
		t.Fatalf("an unsigned webhook answered %d %q", code, msg)
	}
	for _, want := range []string{
		`msg="webhook refused" processor=sandbox reason=not_recorded client=192.0.2.77`,
		`msg="webhook refused" processor=sandbox reason=unauthenticated client=192.0.2.77`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs.String())
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "camkit_webhooks_refused_total" {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	if total != 2 {
		t.Fatalf("camkit_webhooks_refused_total sums to %v, want 2", total)
	}
}
