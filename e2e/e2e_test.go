// Package e2e drives the real `camkit serve` binary on PostgreSQL with the
// real plugin processes from headless Chromium: a model and a viewer, each in
// a browser context of their own, click through the product as people do.
package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/camkit/camkit/internal/testbin"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// host is one `camkit serve` process.
type host struct {
	url string
	env []string
	dir string
	out *testbin.Output
}

// hostEnv is the environment of every camkit command of a test: the same
// database, plugin folder and working folder (the sandbox keeps its state
// under ./data).
func hostEnv(t *testing.T, dbURL, pluginDir, addr string, extra ...string) []string {
	env := append(os.Environ(),
		"CAMKIT_CONFIG=",
		"CAMKIT_DATABASE_URL="+dbURL,
		"CAMKIT_PLUGINS_DIR="+pluginDir,
		"CAMKIT_HTTP_ADDR="+addr,
		"CAMKIT_HTTP_PUBLIC_URL=http://"+addr,
		"CAMKIT_SECURITY_COOKIE_SECURE=false",
		// A closed tab ends the seat after 8 s without video, not 2 minutes.
		"CAMKIT_BILLING_MAX_PAUSE_SECONDS=8",
	)
	return append(env, extra...)
}

func startHost(t *testing.T, dir string, env []string, addr string) *host {
	t.Helper()
	h := &host{url: "http://" + addr, env: env, dir: dir, out: &testbin.Output{}}
	cmd := exec.Command(testbin.Host(t), "serve")
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = h.out, h.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("camkit serve output:\n%s", tail(h.out.String(), 6000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get(h.url + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return h
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("camkit serve not ready in 60 s:\n%s", h.out)
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// camkit runs a CLI command against the test's database.
func camkit(t *testing.T, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(testbin.Host(t), args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// tracker keeps every RTCPeerConnection a page makes, so the test reads
// getStats whatever theme draws the page.
const tracker = `(() => {
  const Orig = window.RTCPeerConnection;
  if (!Orig || window.__camkitTracked) return;
  window.__camkitTracked = true;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Orig {
    constructor(...args) { super(...args); window.__pcs.push(this); }
  };
  window.__stats = async () => {
    const out = { framesDecoded: 0, framesEncoded: 0, connected: 0 };
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'connected') out.connected++;
      if (pc.connectionState === 'closed') continue;
      const r = await pc.getStats();
      r.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') out.framesDecoded += s.framesDecoded || 0;
        if (s.type === 'outbound-rtp' && s.kind === 'video') out.framesEncoded += s.framesEncoded || 0;
      });
    }
    return out;
  };
})();`

// tab is one page in a browser context.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	name string
}

func newTab(t *testing.T, parent context.Context, base, name string, opts ...chromedp.ContextOption) (*tab, context.CancelFunc) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, opts...)
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdpCall(ctx, tg, tracker)
		return err
	}))
	if err != nil {
		cancel()
		t.Fatalf("open %s's tab: %v", name, err)
	}
	return &tab{t: t, ctx: ctx, base: base, name: name}, cancel
}

func cdpCall(ctx context.Context, tg *chromedp.Target, src string) (page.AddScriptToEvaluateOnNewDocumentResult, error) {
	return callAddScript(ctx, tg, src)
}

func (b *tab) within(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, d)
}

func (b *tab) nav(path string) {
	b.t.Helper()
	ctx, cancel := b.within(30 * time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(b.base+path)); err != nil {
		b.t.Fatalf("%s: open %s: %v", b.name, path, err)
	}
	b.settle()
}

// settle waits until the current document has loaded.
func (b *tab) settle() {
	b.t.Helper()
	b.waitJS(`document.readyState === 'complete'`, 30*time.Second, "page load")
}

func eval[T any](b *tab, js string) (T, error) {
	ctx, cancel := b.within(20 * time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

func (b *tab) js(js string) {
	b.t.Helper()
	if _, err := eval[any](b, js); err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, js, err)
	}
}

func (b *tab) str(js string) string {
	b.t.Helper()
	v, err := eval[string](b, js)
	if err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, js, err)
	}
	return v
}

// waitJS polls a boolean expression.
func (b *tab) waitJS(js string, d time.Duration, what string) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := eval[bool](b, js)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			loc, _ := eval[string](b, `location.href`)
			text, _ := eval[string](b, `document.body ? document.body.innerText.slice(0, 1500) : ''`)
			b.t.Fatalf("%s: waiting for %s (%s): %v; at %s\n%s", b.name, what, js, err, loc, text)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// submit fills a form (selected by its action) and submits it as a click on
// its submit button would, then waits for the next page.
func (b *tab) submit(action string, fields map[string]string) {
	b.t.Helper()
	if fields == nil {
		fields = map[string]string{}
	}
	fj, _ := json.Marshal(fields)
	b.js(fmt.Sprintf(`(() => {
  const f = [...document.querySelectorAll('form')].find((f) => f.getAttribute('action') === %q);
  if (!f) throw new Error('no form with action ' + %q);
  const fields = %s;
  for (const [k, v] of Object.entries(fields)) {
    const els = f.querySelectorAll('[name="' + k + '"]');
    if (!els.length) throw new Error('no field ' + k);
    for (const el of els) {
      if (el.type === 'radio') el.checked = el.value === v;
      else if (el.type === 'checkbox') el.checked = v !== '';
      else el.value = v;
    }
  }
  window.__leaving = true;
  f.requestSubmit();
})()`, action, action, fj))
	b.waitJS(`!window.__leaving && document.readyState === 'complete'`, 30*time.Second, "the page after "+action)
}

func (b *tab) path() string { return b.str(`location.pathname`) }

type stats struct {
	FramesDecoded int `json:"framesDecoded"`
	FramesEncoded int `json:"framesEncoded"`
	Connected     int `json:"connected"`
}

func (b *tab) stats() stats {
	b.t.Helper()
	v, err := eval[stats](b, `window.__stats()`)
	if err != nil {
		b.t.Fatalf("%s: stats: %v", b.name, err)
	}
	return v
}

func (b *tab) screenshot(file string) {
	b.t.Helper()
	ctx, cancel := b.within(30 * time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	dir := filepath.Join(testbin.Root(), "test-artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: test-artifacts/%s (%d bytes)", file, len(png))
}

// apiLogin opens a bearer session for a person, to read what the API says.
func apiLogin(t *testing.T, base, email, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	r, err := http.Post(base+"/api/v1/session", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var s struct{ Token string }
	if err := json.NewDecoder(r.Body).Decode(&s); err != nil || s.Token == "" {
		t.Fatalf("API log-in %s: %d %v", email, r.StatusCode, err)
	}
	return s.Token
}

func apiGet(t *testing.T, base, token, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1"+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode == 200 && v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, b)
		}
	}
	return r.StatusCode
}

func callAddScript(ctx context.Context, tg *chromedp.Target, src string) (page.AddScriptToEvaluateOnNewDocumentResult, error) {
	return cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src})
}
