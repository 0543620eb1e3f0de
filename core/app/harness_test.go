package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/app"
	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/core/web"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/prometheus/client_golang/prometheus"
)

// site is the whole product on PostgreSQL with the real plugin processes,
// served on a loopback port, as `camkit serve` assembles it.
type site struct {
	t    testing.TB
	url  string
	app  *app.App
	srv  *web.Server
	acc  *accounts.Service
	host *pluginhost.Host
	// state is the sandbox processor's state file.
	state string
}

func newSite(t testing.TB, tweak func(*config.Config)) *site {
	t.Helper()
	return newSiteOn(t, storetest.Postgres(t), tweak)
}

// newSiteOn is newSite on a given database (the embedded SQLite default too).
func newSiteOn(t testing.TB, db *store.DB, tweak func(*config.Config)) *site {
	t.Helper()
	return newSiteWith(t, db, tweak, siteOptions{})
}

// siteOptions change how newSiteWith builds a site.
type siteOptions struct {
	// PluginPath gives each plugin's binary by file name (a test that takes a
	// plugin's binary away to keep it from restarting); nil: the built ones.
	PluginPath func(file string) string
	// Wrap gets the plugin clients before the site is built (a test that
	// puts something in front of a plugin).
	Wrap func(*app.Plugins)
	// Sandboxes are more processors, each the sandbox binary run under its
	// own name (sandbox-b, …) with its own state file: routing and cascade
	// between real plugin processes. The tweak sets plugins.processors.
	Sandboxes []string
	// Default, one of Sandboxes, is plugins.processor instead of sandbox,
	// which the site then keeps loaded as retired (the tweak says so in
	// plugins.retired_processors): a site after a swap.
	Default string
	// StateFile is the sandbox processor's state file; empty: a new one.
	// A restarted site reuses its predecessor's (its card holds).
	StateFile string
}

// newSiteWith is newSiteOn built as o says.
func newSiteWith(t testing.TB, db *store.DB, tweak func(*config.Config), o siteOptions) *site {
	t.Helper()
	pluginPath := o.PluginPath
	if pluginPath == nil {
		pluginPath = func(file string) string { return testbin.Plugin(t, file) }
	}
	ctx := context.Background()
	// The host's log is kept and printed when the test fails: a 500 seen by a
	// test client says nothing of its cause by design (core/httperror).
	logs := &testbin.Output{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	t.Cleanup(func() {
		if t.Failed() {
			out := logs.String()
			if len(out) > 8000 {
				out = "…" + out[len(out)-8000:]
			}
			t.Logf("host log:\n%s", out)
		}
	})
	cfg := config.Default()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP.PublicURL = "http://" + ln.Addr().String()
	cfg.Security.CookieSecure = "false"
	if tweak != nil {
		tweak(&cfg)
	}
	host := pluginhost.NewHost(log, nil)
	t.Cleanup(host.Close)
	launch := func(kind pluginkit.Kind, name, settings string) *pluginhost.Instance {
		in, err := host.Launch(ctx, pluginhost.Spec{Kind: kind, Name: name, Path: pluginPath(string(kind) + "-" + name),
			Settings: []byte(settings), CallTimeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("launch %s-%s: %v", kind, name, err)
		}
		return in
	}
	state := o.StateFile
	if state == "" {
		state = filepath.Join(t.TempDir(), "sandbox.json")
	}
	pls := app.Plugins{
		ProcessorName: "sandbox",
		Processor:     pluginhost.NewProcessor(launch(pluginkit.KindProcessor, "sandbox", `{"state_file":"`+state+`","webhook_secret":"web-test-secret-0123456789abcdef"}`)),
		Currency:      pluginhost.NewCurrency(launch(pluginkit.KindCurrency, "fixed", `{}`)),
		Split:         pluginhost.NewSplit(launch(pluginkit.KindSplit, "percentage", `{}`)),
		Theme:         pluginhost.NewTheme(launch(pluginkit.KindTheme, cfg.Plugins.Theme, `{}`)), // "default" unless tweak picks another
	}
	for _, name := range o.Sandboxes {
		st := filepath.Join(t.TempDir(), name+".json")
		in, err := host.Launch(ctx, pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: name, Path: pluginPath("processor-sandbox"),
			Settings: []byte(`{"state_file":"` + st + `","webhook_secret":"web-test-secret-0123456789abcdef","name":"` + name + `"}`), CallTimeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("launch processor-%s: %v", name, err)
		}
		if pls.Processors == nil {
			pls.Processors = map[string]processor.Processor{}
		}
		pls.Processors[name] = pluginhost.NewProcessor(in)
	}
	if o.Default != "" {
		pls.Processors["sandbox"] = pls.Processor
		pls.ProcessorName, pls.Processor = o.Default, pls.Processors[o.Default]
	}
	pls.Statuses = func() []theme.PluginStatus {
		var out []theme.PluginStatus
		for _, st := range host.Statuses() {
			out = append(out, theme.PluginStatus{Name: st.Spec.Name, Kind: string(st.Spec.Kind), Version: st.Info.Version, Healthy: st.Healthy})
		}
		return out
	}
	if o.Wrap != nil {
		o.Wrap(&pls)
	}
	reg := prometheus.NewRegistry()
	a, err := app.Build(ctx, cfg, log, db, pls, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	srv := web.New(web.Options{Log: log, Registry: reg, PublicURL: cfg.HTTP.PublicURL, PageError: a.Web.PageError})
	a.Mount(srv.App(), pls)
	go func() { _ = srv.App().Listener(ln) }()
	t.Cleanup(func() {
		// An open server-sent events stream holds Shutdown until its next
		// heartbeat fails (up to 30 s); a test does not wait for it.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return &site{t: t, url: cfg.HTTP.PublicURL, app: a, srv: srv, acc: a.Web.Accounts, host: host, state: state}
}

// stop shuts the site down as `camkit serve` does on SIGTERM: the server,
// then the app (billing checkpoints its open seats), then the plugins.
func (s *site) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	s.app.Close()
	s.host.Close()
}

// browser is one person with a cookie jar. It never follows redirects by
// itself: tests look at each answer.
type browser struct {
	s    *site
	c    *http.Client
	name string
}

func (s *site) browser(name string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{s: s, name: name, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	code int
	body string
	hdr  http.Header
}

func (b *browser) do(req *http.Request) resp {
	b.s.t.Helper()
	r, err := b.c.Do(req)
	if err != nil {
		b.s.t.Fatalf("%s %s %s: %v", b.name, req.Method, req.URL, err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return resp{code: r.StatusCode, body: string(body), hdr: r.Header}
}

func (b *browser) get(path string) resp {
	req, _ := http.NewRequest(http.MethodGet, b.s.url+path, nil)
	return b.do(req)
}

// csrf is the token the browser's pages carry.
func (b *browser) csrf() string {
	b.s.t.Helper()
	var out struct{ Token string }
	r := b.api(http.MethodGet, "/csrf", nil, "")
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || out.Token == "" {
		b.s.t.Fatalf("csrf: %d %s", r.code, r.body)
	}
	return out.Token
}

// form posts a form as the page would, with the CSRF field unless withCSRF is false.
func (b *browser) form(path string, v url.Values, withCSRF bool) resp {
	if v == nil {
		v = url.Values{}
	}
	if withCSRF {
		v.Set("_csrf", b.csrf())
	}
	req, _ := http.NewRequest(http.MethodPost, b.s.url+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// api calls /api/v1 with the cookie session (and its CSRF header on unsafe
// methods) or, when bearer is set, with that token only.
func (b *browser) api(method, path string, body any, bearer string) resp {
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		j, _ := json.Marshal(v)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.s.url+web.APIBase+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
		c := &http.Client{Timeout: 30 * time.Second}
		r, err := c.Do(req)
		if err != nil {
			b.s.t.Fatal(err)
		}
		defer r.Body.Close()
		out, _ := io.ReadAll(r.Body)
		return resp{code: r.StatusCode, body: string(out), hdr: r.Header}
	}
	if method != http.MethodGet && path != "/csrf" {
		req.Header.Set("X-CSRF-Token", b.csrf())
	}
	return b.do(req)
}

// passAge confirms the 18+ gate.
func (b *browser) passAge() {
	b.s.t.Helper()
	if r := b.form("/age", url.Values{"return_to": {"/"}}, true); r.code != http.StatusSeeOther {
		b.s.t.Fatalf("age gate: %d %s", r.code, r.body)
	}
}

func (b *browser) signup(email, name, role string) {
	b.s.t.Helper()
	b.passAge()
	r := b.form("/signup", url.Values{"email": {email}, "display_name": {name}, "password": {"correct horse battery"},
		"role": {role}, "adult": {"on"}}, true)
	if r.code != http.StatusSeeOther {
		b.s.t.Fatalf("signup %s: %d %s", email, r.code, r.body)
	}
}

func (b *browser) login(email string) {
	b.s.t.Helper()
	b.passAge()
	r := b.form("/login", url.Values{"email": {email}, "password": {"correct horse battery"}}, true)
	if r.code != http.StatusSeeOther {
		b.s.t.Fatalf("login %s: %d %s", email, r.code, r.body)
	}
}

// must fails the test unless the answer has the status.
func (r resp) must(t testing.TB, code int, what string) resp {
	t.Helper()
	if r.code != code {
		body := r.body
		if len(body) > 600 {
			body = body[:600] + "…"
		}
		t.Fatalf("%s: status %d, want %d\n%s", what, r.code, code, body)
	}
	return r
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

var hrefRE = regexp.MustCompile(`(?:href|action|data-src|data-token)="([^"]*)"`)

// attrs lists the values of href/action/data-src/data-token attributes in a page.
func attrs(body string) []string {
	var out []string
	for _, m := range hrefRE.FindAllStringSubmatch(body, -1) {
		out = append(out, htmlUnescape(m[1]))
	}
	return out
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&quot;", `"`).Replace(s)
}

func findAttr(body, prefix string) string {
	for _, a := range attrs(body) {
		if strings.HasPrefix(a, prefix) {
			return a
		}
	}
	return ""
}

func mustRE(expr string) *regexp.Regexp { return regexp.MustCompile(expr) }

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
