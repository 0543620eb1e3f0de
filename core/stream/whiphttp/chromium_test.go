package whiphttp_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/internal/testbin"

	"github.com/chromedp/chromedp"
	"github.com/gofiber/fiber/v2"

	"github.com/camkit/camkit/core/stream"
)

const publishPage = `<!doctype html><meta charset=utf-8><title>publish</title>
<video id=v muted autoplay playsinline></video>
<script type=module>
import { publish } from '/static/camkit-player.js';
window.state = 'starting';
const s = publish(document.getElementById('v'), { whipUrl: '/whip', streamKey: 'key-1' });
for (const t of ['live', 'paused', 'ended']) s.addEventListener(t, () => { window.state = t; });
s.addEventListener('error', (e) => { window.state = 'error: ' + e.detail.message; });
window.cam = s;
</script>`

const playPage = `<!doctype html><meta charset=utf-8><title>play</title>
<video id=v muted autoplay playsinline></video>
<script type=module>
import { play } from '/static/camkit-player.js';
window.state = 'starting';
const s = play(document.getElementById('v'), { whepUrl: '/whep/show-1' });
for (const t of ['live', 'paused', 'ended']) s.addEventListener(t, () => { window.state = t; });
s.addEventListener('ended', (e) => { window.endReason = e.detail.reason; });
s.addEventListener('error', (e) => { window.state = 'error: ' + e.detail.message; });
window.show = s;
</script>`

// TestChromiumPublishesAndPlays drives two headless Chromium pages: one
// publishes the fake camera over WHIP with camkit-player.js, the other plays
// it over WHEP and must decode frames.
func TestChromiumPublishesAndPlays(t *testing.T) {
	browser := testbin.Browser(t)
	player, err := filepath.Abs("../../web/static/camkit-player.js")
	if err != nil {
		t.Fatal(err)
	}
	// Every answer to a session DELETE, to see the players' DELETEs are
	// accepted (a closed peer connection alone also ends a session, later).
	var mu sync.Mutex
	var deletes []int
	record := func(c *fiber.Ctx) error {
		err := c.Next()
		if c.Method() == fiber.MethodDelete {
			mu.Lock()
			deletes = append(deletes, c.Response().StatusCode())
			mu.Unlock()
		}
		return err
	}
	accepted := func() (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, st := range deletes {
			if st == 200 {
				n++
			} else {
				t.Errorf("a player's DELETE was answered %d", st)
			}
		}
		deletes = nil
		return n
	}
	s := startServerWith(t, serverOptions{use: []fiber.Handler{record}, extra: func(app *fiber.App) {
		app.Get("/static/camkit-player.js", func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
			return c.SendFile(player)
		})
		app.Get("/test/publish.html", func(c *fiber.Ctx) error { return c.Type("html").SendString(publishPage) })
		app.Get("/test/play.html", func(c *fiber.Ctx) error { return c.Type("html").SendString(playPage) })
	}})
	s.adm.AddShow("show-1", "key-1")

	timeout, cancelTimeout := context.WithTimeout(browser, 90*time.Second)
	defer cancelTimeout()

	if err := chromedp.Do(timeout, chromedp.Navigate(s.url+"/test/publish.html")); err != nil {
		t.Fatalf("open publish page: %v", err)
	}
	state, ok := poll[string](timeout, `window.state`, func(v string) bool { return v == "live" })
	if !ok {
		t.Fatalf("publisher page never went live: state %q", state)
	}

	tab, cancelTab := chromedp.NewContext(browser)
	defer cancelTab()
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	tabTimeout, cancelTabTimeout := context.WithTimeout(tab, 60*time.Second)
	defer cancelTabTimeout()
	if err := chromedp.Do(tabTimeout, chromedp.Navigate(s.url+"/test/play.html")); err != nil {
		t.Fatalf("open play page: %v", err)
	}
	const decoded = `window.show.stats().then(s => s.framesDecoded)`
	first, ok := poll[int](tabTimeout, decoded, func(v int) bool { return v > 10 })
	if !ok {
		st, _ := chromedp.Run(tabTimeout, chromedp.Evaluate[string](`window.state`))
		t.Fatalf("player decoded %d frames (state %q)", first, st)
	}
	time.Sleep(time.Second)
	later, err := chromedp.Run(tabTimeout, chromedp.Evaluate[int](decoded, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if later <= first {
		t.Fatalf("framesDecoded stuck at %d", later)
	}
	t.Logf("framesDecoded %d -> %d in 1 s", first, later)
	if st, _ := chromedp.Run(tabTimeout, chromedp.Evaluate[string](`window.state`)); st != "live" {
		t.Fatalf("player state %q while decoding, want live", st)
	}

	// A second player stops: its DELETE carries the session token the host
	// minted for it, so the session really ends on the server.
	tab2, cancelTab2 := chromedp.NewContext(browser)
	defer cancelTab2()
	tab2Timeout, cancelTab2Timeout := context.WithTimeout(tab2, 60*time.Second)
	defer cancelTab2Timeout()
	if err := chromedp.Do(tab2Timeout, chromedp.Navigate(s.url+"/test/play.html")); err != nil {
		t.Fatalf("open second play page: %v", err)
	}
	if st, ok := poll[string](tab2Timeout, `window.state`, func(v string) bool { return v == "live" }); !ok {
		t.Fatalf("second player state %q", st)
	}
	if n := s.gauge(t, "camkit_stream_subscribers"); n != 2 {
		t.Fatalf("%v subscribers with two players, want 2", n)
	}
	if _, err := chromedp.Run(tab2Timeout, chromedp.Evaluate[bool](`window.show.stop(), true`)); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(5*time.Second, func() bool { return s.gauge(t, "camkit_stream_subscribers") == 1 }) {
		t.Fatalf("the stopped player's session is still on the server (%v subscribers)", s.gauge(t, "camkit_stream_subscribers"))
	}
	if n := accepted(); n != 1 {
		t.Fatalf("%d accepted DELETEs from the stopped player, want 1", n)
	}
	stillLive, err := chromedp.Run(tabTimeout, chromedp.Evaluate[string](`window.state`))
	if err != nil || stillLive != "live" {
		t.Fatalf("the first player is %q after the second stopped (%v)", stillLive, err)
	}

	// The show turns private: the public page is told (through its watch
	// id) and ends, no retry.
	s.sfu.SetMode("show-1", stream.ModePrivate)
	if st, ok := poll[string](tabTimeout, `window.state + ':' + (window.endReason || '')`, func(v string) bool { return v == "ended:show_private" }); !ok {
		t.Fatalf("player not ended by the show going private: %q", st)
	}

	// The model stops: her DELETE carries the stream key.
	if _, err := chromedp.Run(timeout, chromedp.Evaluate[bool](`window.cam.stop(), true`)); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(5*time.Second, func() bool { return s.gauge(t, "camkit_stream_publishers") == 0 }) {
		t.Fatal("the stopped camera's WHIP session is still on the server")
	}
	if n := accepted(); n != 1 {
		t.Fatalf("%d accepted DELETEs from the stopped camera, want 1", n)
	}
}

func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}

// poll evaluates expr every 250 ms until done accepts its value or ctx ends.
func poll[T any](ctx context.Context, expr string, done func(T) bool) (T, bool) {
	var last T
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
		if err == nil {
			last = v
			if done(v) {
				return v, true
			}
		}
		select {
		case <-ctx.Done():
			return last, false
		case <-time.After(250 * time.Millisecond):
		}
	}
}
