package plugintest

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
)

// recorder collects what a check reports; Fatalf stops the check as
// testing.T does.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(f string, a ...any) {
	r.mu.Lock()
	r.msgs = append(r.msgs, fmt.Sprintf(f, a...))
	r.mu.Unlock()
}
func (r *recorder) Fatalf(f string, a ...any) { r.Errorf(f, a...); runtime.Goexit() }

func (r *recorder) run(check func(themeReporter)) []string {
	done := make(chan struct{})
	go func() { defer close(done); check(r) }()
	<-done
	return r.msgs
}

var testManifest = theme.Manifest{
	Name: "t", BrandName: "Acme", LogoPath: "logo.svg", Assets: []string{"site.css", "logo.svg"},
	Colors: theme.Colors{Primary: "#e91e63", Accent: "#123", Background: "#000000", Text: "#fff"},
}

// testSample is an error page: small enough to write its HTML by hand.
func testSample() theme.Sample {
	return theme.Sample{
		Name: "t", Status: 404,
		Page: &theme.ErrorPage{
			Layout: theme.Layout{CSRFToken: "tok", IdempotencyKey: "idem-key-1", Flashes: []theme.Flash{{Message: "Saved " + theme.HostileText}},
				User: &theme.User{Name: "Vic", Role: theme.RoleViewer, Wallet: moneyUSD(4250)}},
			Status: 404, Message: "Gone " + theme.HostileText,
		},
		Text:    []string{"Gone " + theme.HostileText, "404"},
		Attrs:   []theme.Attr{{Name: "data-x", Value: "1"}},
		Scripts: []string{theme.PlayerScript},
	}
}

const goodPage = `<!DOCTYPE html>
<html><head><title>Not found · Acme</title><link rel="stylesheet" href="/theme/site.css">
<script type="module" src="/static/camkit-player.js"></script></head>
<body><header>Acme <span>Vic</span> $<b>42</b>.50</header>
<p>Saved &lt;script&gt;alert(1)&lt;/script&gt;</p>
<h1>404</h1><p data-x="1">Gone &lt;script&gt;alert(1)&lt;/script&gt;</p>
<form method="post" action="/logout"><input type="hidden" name="_csrf" value="tok"><input type="hidden" name="idempotency_key" value="idem-key-1"><button>Log out</button></form>
<form method="post" action="https://pay.example.test/"><button>Pay</button></form>
</body></html>`

func checkPage(html string) []string {
	r := &recorder{}
	return r.run(func(t themeReporter) {
		themeCheckPage(t, testSample(), theme.Rendered{HTML: []byte(html), Status: 404, Title: "Not found · Acme"}, testManifest)
	})
}

func TestThemeCheckPageAcceptsAConformingPage(t *testing.T) {
	if msgs := checkPage(goodPage); len(msgs) > 0 {
		t.Fatalf("a conforming page was reported:\n%s", strings.Join(msgs, "\n"))
	}
}

func TestThemeCheckPageReportsEachBreach(t *testing.T) {
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"unescaped text", "<p data-x=\"1\">Gone &lt;script&gt;alert(1)&lt;/script&gt;</p>", "<p data-x=\"1\">Gone <script>alert(1)</script></p>", "hostile text became a script"},
		{"event handler", "<h1>404</h1>", "<h1 onclick=\"alert(1)\">404</h1>", "event handler"},
		{"javascript url", "<h1>404</h1>", "<h1>404</h1><a href=\"javascript:alert(2)\">x</a>", "javascript: URL"},
		{"missing csrf", `<input type="hidden" name="_csrf" value="tok">`, "", "has no hidden _csrf"},
		{"wrong csrf", `value="tok"`, `value="other"`, "has no hidden _csrf"},
		{"missing idempotency key", `<input type="hidden" name="idempotency_key" value="idem-key-1">`, "", "has no hidden idempotency_key"},
		{"wrong idempotency key", `value="idem-key-1"`, `value="idem-key-2"`, "has no hidden idempotency_key"},
		{"missing flash", "<p>Saved &lt;script&gt;alert(1)&lt;/script&gt;</p>", "", "does not show \"Saved"},
		{"missing wallet", "$<b>42</b>.50", "", `does not show "42.50"`},
		{"missing user", "<span>Vic</span>", "", `does not show "Vic"`},
		{"missing brand", "<header>Acme", "<header>", `does not show "Acme"`},
		{"missing attr", ` data-x="1"`, "", `no element carries data-x="1"`},
		{"missing script", `<script type="module" src="/static/camkit-player.js"></script>`, "", "no <script type=\"module\""},
		{"classic script", `<script type="module" src=`, `<script src=`, "no <script type=\"module\""},
		{"missing stylesheet", `<link rel="stylesheet" href="/theme/site.css">`, "", "no <link rel=stylesheet>"},
		{"stylesheet outside the asset base", `href="/theme/site.css"`, `href="/site.css"`, "no <link rel=stylesheet>"},
		{"wrong title", "<title>Not found · Acme</title>", "<title>Other</title>", "<title> is"},
		{"no doctype", "<!DOCTYPE html>\n", "", "doctype"},
		{"unclosed element", "<h1>404</h1>", "<h1><div>404</h1>", "not well-formed"},
		{"implicit body", "<body>", "", "not well-formed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(goodPage, c.from) {
				t.Fatalf("test bug: %q not in the page", c.from)
			}
			msgs := checkPage(strings.Replace(goodPage, c.from, c.to, 1))
			joined := strings.Join(msgs, "\n")
			if !strings.Contains(joined, c.want) {
				t.Fatalf("want a report containing %q, got:\n%s", c.want, joined)
			}
		})
	}
}

func TestThemeCheckPageStatus(t *testing.T) {
	r := &recorder{}
	msgs := r.run(func(t themeReporter) {
		themeCheckPage(t, testSample(), theme.Rendered{HTML: []byte(goodPage), Status: 200, Title: "Not found · Acme"}, testManifest)
	})
	if len(msgs) != 1 || !strings.Contains(msgs[0], "status 200, want 404") {
		t.Fatalf("got %q", msgs)
	}
}

func TestThemeCheckManifest(t *testing.T) {
	if msgs := (&recorder{}).run(func(t themeReporter) { themeCheckManifest(t, testManifest) }); len(msgs) > 0 {
		t.Fatalf("good manifest reported: %q", msgs)
	}
	for name, mutate := range map[string]func(*theme.Manifest){
		"no brand":        func(m *theme.Manifest) { m.BrandName = "" },
		"css colour name": func(m *theme.Manifest) { m.Colors.Primary = "red" },
		"logo not served": func(m *theme.Manifest) { m.LogoPath = "other.svg" },
		"absolute asset":  func(m *theme.Manifest) { m.Assets = append(m.Assets, "/etc/passwd") },
		"climbing asset":  func(m *theme.Manifest) { m.Assets = append(m.Assets, "../x.css") },
		"duplicate asset": func(m *theme.Manifest) { m.Assets = append(m.Assets, "site.css") },
	} {
		m := testManifest
		m.Assets = append([]string(nil), testManifest.Assets...)
		mutate(&m)
		if msgs := (&recorder{}).run(func(t themeReporter) { themeCheckManifest(t, m) }); len(msgs) == 0 {
			t.Errorf("%s: not reported", name)
		}
	}
}

func moneyUSD(minor int64) money.Money { return money.Money{Amount: minor, Currency: "USD"} }
