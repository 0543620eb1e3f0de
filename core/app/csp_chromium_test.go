package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/camkit/camkit/core/app"
	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/processor"
)

// TestPagesPassTheContentSecurityPolicyInChromium loads the product's pages
// in both themes in headless Chromium, as the people they are for (a visitor,
// a viewer, a model on air with the fake camera, an admin), and fails on any
// Content-Security-Policy violation and on any broken image (every <img> of
// every page must load: naturalWidth > 0): a listener for securitypolicyviolation
// is installed before any page script runs, and the browser's own log is
// read too. It also checks that the pages still work under the policy: the
// model's camera publishes over WHIP, the viewer's video plays over WHEP,
// chat connects and carries a message, the dashboard's request list (site
// script, fetch) accepts a private show and the room follows it to the seat
// page, forms post, and the theme's scripts run; a policy that blocked
// them would fail here even without a reported violation.
func TestPagesPassTheContentSecurityPolicyInChromium(t *testing.T) {
	browser := testbin.Browser(t)
	for _, th := range []string{"default", "midnight"} {
		t.Run(th, func(t *testing.T) {
			hosted := newHostedPage(t)
			w := newWorldOn(t, newSiteWith(t, storetest.Postgres(t), func(c *config.Config) { c.Plugins.Theme = th }, siteOptions{Wrap: func(p *app.Plugins) {
				hosted.Processor = p.Processor
				p.Processor = hosted
			}}))
			pagesPassCSP(t, browser, w, th, hosted)
		})
	}
}

// hostedPage is a processor whose checkout, once on, is a form POST to its
// hosted payment page on another origin (as Epoch's and NETbilling's are);
// everything else is the sandbox plugin behind it.
type hostedPage struct {
	processor.Processor
	on    atomic.Bool
	srv   *httptest.Server
	posts chan url.Values
}

func newHostedPage(t *testing.T) *hostedPage {
	h := &hostedPage{posts: make(chan url.Values, 4)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			_ = r.ParseForm()
			h.posts <- r.PostForm
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>Processor</title><p>Enter your card</p>")
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hostedPage) StartCheckout(ctx context.Context, req processor.StartCheckoutRequest) (processor.Checkout, error) {
	if !h.on.Load() {
		return h.Processor.StartCheckout(ctx, req)
	}
	return processor.Checkout{Reference: "co_hosted", URL: h.srv.URL + "/secure/fpost.cgi", Method: http.MethodPost,
		Fields: map[string]string{"pi_code": "credit-starter", "x_camkit_customer": req.CustomerRef}, ExpiresAt: time.Now().Add(time.Hour)}, nil
}

func pagesPassCSP(t *testing.T, browser context.Context, w *world, th string, hosted *hostedPage) {
	model := openTab(t, browser, w.site, w.model, "model")
	alice := openTab(t, browser, w.site, w.alice, "alice")
	admin := openTab(t, browser, w.site, w.admin, "admin")
	visitor := openTab(t, browser, w.site, nil, "visitor")

	// The collector sees what the policy blocks: an injected inline script
	// is refused and reported (then forgotten, it is this test's own).
	visitor.nav("/age")
	visitor.js(`(() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1'; document.head.append(s); })()`)
	visitor.waitJS(`window.__csp.length > 0`, 5*time.Second, "the injected inline script to be reported")
	if visitor.str(`String(window.__ran)`) != "undefined" {
		t.Fatal("an inline script ran under the policy")
	}
	visitor.forget()

	// A visitor: the gate, its form, the shared home page, log-in, sign-up, a 404.
	visitor.nav("/")
	if visitor.path() != "/age" {
		t.Fatalf("a new visitor is on %s, not the 18+ gate", visitor.path())
	}
	visitor.submit("/age", nil)
	if visitor.path() != "/" || !strings.Contains(visitor.text(), "Mia") {
		t.Fatalf("after the gate the visitor is on %s:\n%s", visitor.path(), visitor.text())
	}
	visitor.nav("/login")
	visitor.nav("/signup")
	visitor.nav("/signup?role=model")
	visitor.nav("/models/" + w.modelID)
	visitor.nav("/no/such/page")

	// The model on air: her camera publishes from the dashboard.
	model.nav("/dashboard")
	model.waitJS(`window.__stats().then((s) => s.connected > 0 && s.framesEncoded > 10)`, 30*time.Second, "the camera to publish over WHIP")

	// The viewer: the room plays, chat connects and carries her message.
	room := "/shows/" + w.showID
	alice.nav("/")
	alice.nav(room)
	alice.waitJS(`window.__stats().then((s) => s.framesDecoded > 5)`, 30*time.Second, "the public video to play over WHEP")
	alice.waitJS(`document.querySelector('[data-camkit-chat]').getAttribute('data-chat-state') === 'open'`, 15*time.Second, "chat to connect")
	alice.js(`(() => { const f = document.querySelector('[data-chat-form]'); f.text.value = 'hello from ` + th + `'; f.requestSubmit(); })()`)
	alice.waitJS(`document.querySelector('[data-chat-log]').innerText.includes('hello from `+th+`')`, 10*time.Second, "her chat line")

	// A private show: asked for by the room's form, accepted from the
	// dashboard's request list, followed by the room page to the seat.
	alice.submit(room+"/private", nil)
	model.waitJS(`document.querySelector('[data-accept]') !== null`, 15*time.Second, "the request on the dashboard")
	model.js(`document.querySelector('[data-accept]').click()`)
	alice.waitJS(`location.pathname.startsWith('/seats/')`, 20*time.Second, "the private show page")
	alice.settle()
	seat := strings.TrimPrefix(alice.path(), "/seats/")
	alice.waitJS(`window.__stats().then((s) => s.framesDecoded > 5)`, 30*time.Second, "the private video to play")
	// Billing runs once her video plays, and the page says so (the status
	// line camkit-site.js adds in every theme).
	alice.waitJS(`document.documentElement.dataset.camkitBilling === 'running' &&
		[...document.querySelectorAll('[data-billing-status]')].some((e) => e.textContent.startsWith('Billing runs'))`,
		15*time.Second, "the page to say billing runs")
	alice.submit("/seats/"+seat+"/end", nil)
	if p := alice.path(); p != "/receipts/"+seat {
		t.Fatalf("after ending the show alice is on %s", p)
	}
	alice.nav("/receipts")
	alice.nav("/wallet")
	alice.nav("/wallet/card")
	pay := alice.str(`[...document.querySelectorAll('a')].map((a) => a.getAttribute('href')).find((h) => h && h.startsWith('/pay/')) || ''`)
	if pay == "" {
		t.Fatal("the checkout page has no link to the processor's page")
	}
	alice.nav(pay) // the sandbox's own page, under its own policy
	alice.nav("/models/" + w.modelID)
	// A checkout that posts to the processor's own origin: the theme's
	// script submits the form, the policy lets it go there and nowhere else.
	hosted.on.Store(true)
	alice.nav("/wallet/card")
	select {
	case f := <-hosted.posts:
		if f.Get("pi_code") != "credit-starter" {
			t.Fatalf("the processor's page got %v", f)
		}
	case <-time.After(15 * time.Second):
		alice.collect()
		t.Fatalf("the checkout form never reached the processor's page; at %s\n%s", alice.str(`location.href`), strings.Join(alice.problems(), "\n"))
	}
	alice.waitJS(fmt.Sprintf(`location.origin === %q`, hosted.srv.URL), 10*time.Second, "the processor's page")

	model.nav("/dashboard")
	admin.nav("/admin")
	admin.nav("/dashboard") // a 403, themed

	for _, tab := range []*tab{visitor, model, alice, admin} {
		tab.collect()
	}
	var all []string
	images := 0
	for _, tab := range []*tab{visitor, model, alice, admin} {
		all = append(all, tab.problems()...)
		images += tab.images
	}
	// The home grid with the model on air has her card's picture at least.
	if images == 0 {
		all = append(all, "no page had an image to check")
	}
	if len(all) > 0 {
		t.Fatalf("%s theme: %d problems under the policy:\n%s", th, len(all), strings.Join(all, "\n"))
	}
}

// probe runs before any script of every document a tab loads: it records
// policy violations and keeps the page's RTCPeerConnections for their stats.
const probe = `(() => {
  if (window.__cspProbe) return;
  window.__cspProbe = true;
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__csp.push(e.effectiveDirective + ' refused ' + (e.blockedURI || 'inline') + ' on ' + e.documentURI +
      (e.sourceFile ? ' (' + e.sourceFile + ':' + e.lineNumber + ')' : '') + (e.sample ? ' "' + e.sample + '"' : ''));
  }, true);
  const Orig = window.RTCPeerConnection;
  window.__pcs = [];
  if (Orig) {
    window.RTCPeerConnection = class extends Orig {
      constructor(...args) { super(...args); window.__pcs.push(this); }
    };
  }
  window.__stats = async () => {
    const out = { framesDecoded: 0, framesEncoded: 0, connected: 0 };
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'connected') out.connected++;
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') out.framesDecoded += s.framesDecoded || 0;
        if (s.type === 'outbound-rtp' && s.kind === 'video') out.framesEncoded += s.framesEncoded || 0;
      });
    }
    return out;
  };
})();`

// tab is one person's page in a browser context of their own, with the
// cookies of their harness browser.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	name string

	mu       sync.Mutex
	found    []string // violations, uncaught exceptions and broken images, where they happened
	forgetTo int
	images   int // images checked, all pages together
	// consoleErrs are console.error calls and error-level browser log
	// entries, kept apart from found: only the tests that ask (consoleErrors)
	// fail on them.
	consoleErrs []string
}

func openTab(t *testing.T, parent context.Context, s *site, who *browser, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	b := &tab{t: t, ctx: ctx, base: s.url, name: name}
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: probe}); err != nil {
			return err
		}
		if who == nil {
			return nil
		}
		for _, c := range who.c.Jar.Cookies(mustURL(s.url)) {
			if _, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: c.Name, Value: c.Value, URL: s.url + "/"}); err != nil {
				return err
			}
		}
		return nil
	}))
	if err != nil {
		t.Fatalf("open %s's tab: %v", name, err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		var line string
		switch ev := ev.(type) {
		case *cdplog.EventEntryAdded:
			e := ev.Entry
			if e.Source == cdplog.EntrySourceSecurity || e.Source == cdplog.EntrySourceViolation || strings.Contains(e.Text, "Content Security Policy") {
				line = fmt.Sprintf("browser log (%s): %s at %s", e.Source, e.Text, e.URL)
			} else if e.Level == cdplog.EntryLevelError {
				b.mu.Lock()
				b.consoleErrs = append(b.consoleErrs, fmt.Sprintf("%s: browser log (%s): %s at %s", b.name, e.Source, e.Text, e.URL))
				b.mu.Unlock()
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					if a.Description != "" {
						parts = append(parts, a.Description)
					} else {
						parts = append(parts, string(a.Value))
					}
				}
				b.mu.Lock()
				b.consoleErrs = append(b.consoleErrs, b.name+": console.error: "+strings.Join(parts, " "))
				b.mu.Unlock()
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			line = fmt.Sprintf("uncaught exception: %s at %s:%d", msg, d.URL, d.LineNumber+1)
		}
		if line != "" {
			b.mu.Lock()
			b.found = append(b.found, line)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// nav opens a page and gathers what its previous one reported.
func (b *tab) nav(path string) {
	b.t.Helper()
	b.collect()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(b.base+path)); err != nil {
		b.t.Fatalf("%s: open %s: %v", b.name, path, err)
	}
	b.settle()
	// Let the page's modules run and connect (chat, player, polling).
	time.Sleep(500 * time.Millisecond)
	b.checkImages()
}

// brokenImages lists the <img> of the page that did not load (no natural
// width), after making lazy ones load and waiting for those in flight.
const brokenImages = `(async () => {
  const imgs = [...document.images];
  imgs.forEach((i) => { if (i.loading === 'lazy') i.loading = 'eager'; });
  const settled = (i) => i.complete ? null : new Promise((r) => {
    i.addEventListener('load', r, { once: true });
    i.addEventListener('error', r, { once: true });
  });
  await Promise.race([Promise.all(imgs.map(settled)), new Promise((r) => setTimeout(r, 5000))]);
  return imgs.filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.getAttribute('src') || '(no src)');
})()`

// checkImages records every image of the page that did not load: no page
// of either theme may show a broken image.
func (b *tab) checkImages() {
	b.t.Helper()
	broken, err := evalOn[[]string](b, brokenImages)
	if err != nil {
		b.t.Fatalf("%s: checking images: %v", b.name, err)
	}
	path, _ := evalOn[string](b, `location.pathname`)
	n, _ := evalOn[int](b, `document.images.length`)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, src := range broken {
		b.found = append(b.found, fmt.Sprintf("broken image %s on %s", src, path))
	}
	b.images += n
}

// collect moves the page's recorded violations into found.
func (b *tab) collect() {
	b.t.Helper()
	v, err := evalOn[[]string](b, `(window.__csp || []).splice(0)`)
	if err != nil {
		return // no document yet
	}
	b.mu.Lock()
	for _, s := range v {
		b.found = append(b.found, "securitypolicyviolation: "+s)
	}
	b.mu.Unlock()
}

// forget drops what was recorded so far (the test's own injection).
func (b *tab) forget() {
	b.t.Helper()
	time.Sleep(300 * time.Millisecond) // the browser's log entry of it
	b.collect()
	b.mu.Lock()
	b.forgetTo = len(b.found)
	b.mu.Unlock()
}

func (b *tab) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, s := range b.found[b.forgetTo:] {
		out = append(out, b.name+": "+s)
	}
	return out
}

func evalOn[T any](b *tab, js string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

func (b *tab) js(js string) {
	b.t.Helper()
	if _, err := evalOn[any](b, js); err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, js, err)
	}
}

func (b *tab) str(js string) string {
	b.t.Helper()
	v, err := evalOn[string](b, js)
	if err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, js, err)
	}
	return v
}

func (b *tab) path() string { return b.str(`location.pathname`) }
func (b *tab) text() string {
	return b.str(`document.body ? document.body.innerText.slice(0, 2000) : ''`)
}

func (b *tab) settle() {
	b.t.Helper()
	b.waitJS(`document.readyState === 'complete'`, 30*time.Second, "page load")
}

func (b *tab) waitJS(js string, d time.Duration, what string) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := evalOn[bool](b, js)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.collect()
			loc, _ := evalOn[string](b, `location.href`)
			b.t.Fatalf("%s: waiting for %s: %v; at %s\n%s\nreported so far:\n%s", b.name, what, err, loc, b.text(), strings.Join(b.problems(), "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// submit posts the page's form with that action as a click on its button
// would (the browser applies form-action), and waits for the next page.
func (b *tab) submit(action string, fields map[string]string) {
	b.t.Helper()
	b.collect()
	set := ""
	for k, v := range fields {
		set += fmt.Sprintf("f.querySelector('[name=%q]').value = %q;", k, v)
	}
	b.js(fmt.Sprintf(`(() => {
  const f = [...document.querySelectorAll('form')].find((f) => f.getAttribute('action') === %q);
  if (!f) throw new Error('no form with action ' + %q);
  %s
  window.__leaving = true;
  f.requestSubmit();
})()`, action, action, set))
	b.waitJS(`!window.__leaving && document.readyState === 'complete'`, 30*time.Second, "the page after "+action)
	time.Sleep(300 * time.Millisecond)
	if strings.HasPrefix(b.str(`location.origin`), b.base) {
		b.checkImages()
	}
}
