package web

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/camkit/camkit/core/clientaddr"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// The IP allow-lists of CCBill, Segpay and Epoch see remoteAddr: a forged
// X-Forwarded-For must never move it, and behind a trusted proxy the entry a
// client prepended is not believed either.
func TestRemoteAddrHonoursForwardedForOnlyFromTrustedProxies(t *testing.T) {
	peerOf := func(trusted []string) string {
		r, err := clientaddr.New(trusted, clientaddr.XForwardedFor)
		if err != nil {
			t.Fatal(err)
		}
		s := New(Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(), ClientAddr: r})
		s.App().Get("/who", func(c *fiber.Ctx) error { return c.SendString(remoteAddr(c)) })
		req := httptest.NewRequest("GET", "/who", nil)
		req.Header.Set("X-Forwarded-For", "64.38.212.7, 198.51.100.9")
		resp, err := s.App().Test(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	direct := peerOf(nil)
	if direct == "" || direct == "64.38.212.7:0" || direct == "198.51.100.9:0" {
		t.Fatalf("with no trusted proxy the forged header moved the sender: %q", direct)
	}
	if got := peerOf([]string{"10.9.9.9"}); got != direct {
		t.Fatalf("an untrusted peer's X-Forwarded-For was honoured: %q (direct %q)", got, direct)
	}
	// app.Test's peer is 0.0.0.0: trust exactly it.
	if got := peerOf([]string{"0.0.0.0"}); got != "198.51.100.9:0" {
		t.Fatalf("behind a trusted proxy the sender is the entry the proxy appended, got %q", got)
	}
}
