package chat_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/internal/testbin"

	"github.com/camkit/camkit/core/chat"
	"github.com/chromedp/chromedp"
	"github.com/gofiber/fiber/v2"
)

// roomPage is the theme's chat markup (sdk/theme: ChatAttr, data-url,
// data-chat-log, data-chat-form) plus a tip form the script sends over the socket.
const roomPage = `<!doctype html><meta charset=utf-8><title>room</title>
<aside data-camkit-chat data-url="/ws/chat/show-1?as=USER">
  <ol data-chat-log><li>server-rendered history line</li></ol>
  <form data-chat-form><input name=text><button>Send</button></form>
</aside>
<form data-chat-tip><input name=amount value="2.50"><input name=currency value="USD"><input name=text value="enjoy"><button>Tip</button></form>
<script type=module src="/static/camkit-chat.js"></script>`

const hostileText = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> & "hi"`

// TestChromiumChatRendersInertTextAndTipsInBothBrowsers drives camkit-chat.js
// in two headless Chromium tabs against the real WebSocket endpoint.
func TestChromiumChatRendersInertTextAndTipsInBothBrowsers(t *testing.T) {
	browser := testbin.Browser(t)
	script, err := filepath.Abs("../web/static/camkit-chat.js")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, splitPlugin(t), chat.Options{}, func(app *fiber.App) {
		app.Get("/static/camkit-chat.js", func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
			return c.SendFile(script)
		})
		app.Get("/room/:user", func(c *fiber.Ctx) error {
			return c.Type("html").SendString(strings.Replace(roomPage, "USER", c.Params("user"), 1))
		})
	})
	e.fund(t, "ann", 1000)

	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(e.http+"/room/ann")); err != nil {
		t.Fatal(err)
	}
	benTab, cancelBen := chromedp.NewContext(browser)
	defer cancelBen()
	benCtx, cancelBenCtx := context.WithTimeout(benTab, 60*time.Second)
	defer cancelBenCtx()
	if err := chromedp.Do(benCtx, chromedp.Navigate(e.http+"/room/ben")); err != nil {
		t.Fatal(err)
	}
	state := `document.querySelector('[data-camkit-chat]').getAttribute('data-chat-state')`
	for name, c := range map[string]context.Context{"ann": ctx, "ben": benCtx} {
		if st, ok := poll[string](c, state, func(v string) bool { return v == "open" }); !ok {
			t.Fatalf("%s's chat never connected: %q", name, st)
		}
	}

	// Ann types the hostile text into the form and sends it.
	send := `(() => { const f = document.querySelector('[data-chat-form]'); f.text.value = ` + jsString(hostileText) + `; f.requestSubmit(); return true })()`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](send)); err != nil {
		t.Fatal(err)
	}
	lastText := `(() => { const n = [...document.querySelectorAll('[data-chat-log] li .text')].pop(); return n ? n.textContent : '' })()`
	for name, c := range map[string]context.Context{"ann": ctx, "ben": benCtx} {
		if got, ok := poll[string](c, lastText, func(v string) bool { return v == hostileText }); !ok {
			t.Fatalf("%s's log shows %q, want the text as typed", name, got)
		}
		inert := `document.querySelectorAll('[data-chat-log] img, [data-chat-log] script').length === 0 && window.__xss === undefined &&
			!document.body.innerHTML.includes('server-rendered history line')`
		if ok, err := chromedp.Run(c, chromedp.Evaluate[bool](inert)); err != nil || !ok {
			t.Fatalf("%s: markup from chat was interpreted (or history not replaced): %v %v", name, ok, err)
		}
	}

	// Ann tips through the tip form: it shows in both tabs and money moves.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { document.querySelector('[data-chat-tip]').requestSubmit(); return true })()`)); err != nil {
		t.Fatal(err)
	}
	tipLine := `(() => { const n = [...document.querySelectorAll('[data-chat-log] li.msg-tip')].pop(); return n ? n.textContent : '' })()`
	for name, c := range map[string]context.Context{"ann": ctx, "ben": benCtx} {
		if got, ok := poll[string](c, tipLine, func(v string) bool {
			return strings.Contains(v, "Ann") && strings.Contains(v, "tipped 2.50 USD") && strings.Contains(v, "enjoy")
		}); !ok {
			t.Fatalf("%s's log: tip line %q", name, got)
		}
	}
	if got := e.balance(t, "viewer:ann:wallet"); got != 750 {
		t.Fatalf("wallet after a 2.50 tip: %d", got)
	}
	if got := e.balance(t, "model:mia:earnings"); got != 200 {
		t.Fatalf("model earnings after a 2.50 tip at 80%%: %d", got)
	}
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "<", `\x3c`)
	return "'" + r.Replace(s) + "'"
}

// poll evaluates expr every 200 ms until done accepts its value or ctx ends.
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
		case <-time.After(200 * time.Millisecond):
		}
	}
}
