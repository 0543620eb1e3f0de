package web

import (
	"bytes"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// A handler that panics answers 500 without its panic's words, is logged
// with a stack, and the server goes on answering.
func TestAPanickingHandlerAnswers500AndTheHostGoesOn(t *testing.T) {
	var logs bytes.Buffer
	s := New(Options{Log: slog.New(slog.NewTextHandler(&logs, nil)), Registry: prometheus.NewRegistry()})
	s.App().Get("/boom", func(c *fiber.Ctx) error { panic("parser state at /tmp/secret.sock") })
	s.App().Get("/fine", func(c *fiber.Ctx) error { return c.SendString("fine") })
	for i := 0; i < 3; i++ {
		resp, err := s.App().Test(httptest.NewRequest("GET", "/boom", nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 500 || strings.Contains(string(b), "secret.sock") {
			t.Fatalf("a panic answered %d %q", resp.StatusCode, b)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("the 500 of a panic lacks the security headers: %v", resp.Header)
		}
	}
	resp, err := s.App().Test(httptest.NewRequest("GET", "/fine", nil))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the panics: %v %v", resp, err)
	}
	if !strings.Contains(logs.String(), "handler panicked") || !strings.Contains(logs.String(), "recover_test.go") {
		t.Fatalf("the panic was not logged with its stack:\n%s", logs.String())
	}
}
