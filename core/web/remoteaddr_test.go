package web

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// The IP allow-lists of CCBill, Segpay and Epoch see remoteAddr: a forged
// X-Forwarded-For must never move it, unless the peer is a trusted proxy.
func TestRemoteAddrHonoursForwardedForOnlyFromTrustedProxies(t *testing.T) {
	peerOf := func(trusted []string) string {
		s := New(Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(), TrustedProxies: trusted})
		s.App().Get("/who", func(c *fiber.Ctx) error { return c.SendString(remoteAddr(c)) })
		req := httptest.NewRequest("GET", "/who", nil)
		req.Header.Set("X-Forwarded-For", "64.38.212.7, 10.0.0.1")
		resp, err := s.App().Test(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	direct := peerOf(nil)
	if direct == "" || direct == "64.38.212.7:0" {
		t.Fatalf("with no trusted proxy the forged header moved the sender: %q", direct)
	}
	if got := peerOf([]string{"10.9.9.9"}); got != direct {
		t.Fatalf("an untrusted peer's X-Forwarded-For was honoured: %q (direct %q)", got, direct)
	}
	if got := peerOf([]string{"0.0.0.0/0"}); got != "64.38.212.7:0" {
		t.Fatalf("behind a trusted proxy the sender is the forwarded client, got %q", got)
	}
}
