package web_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/web"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Values a handler keeps past its request (a map key, a goroutine's
// argument, an error, a struct handed to a service) must stay what they
// were: fiber hands out views of fasthttp's request buffers unless the app
// is Immutable, and the next request on a keep-alive connection overwrites
// them. Every accessor the host uses keeps its value here while later
// requests on the same connection carry other values.
func TestValuesKeptPastTheHandlerStayPut(t *testing.T) {
	srv := web.New(web.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry()})
	type kept struct{ method, path, param, query, header, cookie, form, body, bodyParsed string }
	var mu sync.Mutex
	var all []kept
	var want []kept
	srv.App().Add(fiber.MethodPost, "/things/:id", func(c *fiber.Ctx) error {
		var parsed struct {
			Name string `form:"name"`
		}
		k := kept{method: c.Method(), path: c.Path(), param: c.Params("id"), query: c.Query("q"), header: c.Get("X-Thing"),
			cookie: c.Cookies("thing"), form: c.FormValue("name"), body: string(c.Body())}
		if err := c.BodyParser(&parsed); err != nil {
			return err
		}
		k.bodyParsed = parsed.Name
		_ = c.Body() // keep the slice itself too
		mu.Lock()
		all = append(all, k)
		mu.Unlock()
		return c.SendStatus(fiber.StatusNoContent)
	})
	srv.App().Add(fiber.MethodPut, "/things/:id", func(c *fiber.Ctx) error {
		mu.Lock()
		all = append(all, kept{method: c.Method(), path: c.Path(), param: c.Params("id"), query: c.Query("q"), header: c.Get("X-Thing"), cookie: c.Cookies("thing")})
		mu.Unlock()
		return c.SendStatus(fiber.StatusNoContent)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.App().Listener(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(t.Context()) })

	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}, Timeout: 10 * time.Second}
	for i := 0; i < 40; i++ {
		method := []string{"POST", "PUT"}[i%2]
		id, q, h, ck, name := fmt.Sprintf("id-%03d-%s", i, strings.Repeat("x", i)), fmt.Sprint("q", i), fmt.Sprint("h", i*7), fmt.Sprint("c", i*3), fmt.Sprint("n", i*11)
		body := "name=" + name
		req, _ := http.NewRequest(method, "http://"+ln.Addr().String()+"/things/"+id+"?q="+q, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Thing", h)
		req.Header.Set("Cookie", "thing="+ck)
		r, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		k := kept{method: method, path: "/things/" + id, param: id, query: q, header: h, cookie: ck}
		if method == "POST" {
			k.form, k.body, k.bodyParsed = name, body, name
		}
		want = append(want, k)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(all) != len(want) {
		t.Fatalf("%d requests handled, %d sent", len(all), len(want))
	}
	for i := range want {
		if all[i] != want[i] {
			t.Errorf("request %d: kept %+v, want %+v", i, all[i], want[i])
		}
	}
}
