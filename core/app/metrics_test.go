package app_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camkit/camkit/core/web"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsSurviveMixedKeepAliveTraffic: ordinary traffic (pages, HEAD,
// form posts, API calls with every method, 404s, WHIP preflights) over a
// few keep-alive connections must leave /metrics scrapeable: fiber reuses a
// connection's request buffers, so a label that keeps a request's string
// instead of a copy changes under the registry (a GET counted as "GETT")
// and the scrape fails for good with duplicate series.
func TestMetricsSurviveMixedKeepAliveTraffic(t *testing.T) {
	w := newWorld(t)
	csrf := map[*browser]string{w.alice: w.alice.csrf(), w.model: w.model.csrf(), w.admin: w.admin.csrf()}
	anon := w.site.browser("visitor")
	anon.passAge()
	csrf[anon] = anon.csrf()

	type call struct {
		who          *browser
		method, path string
		body         string
		ctype        string
	}
	api := web.APIBase
	show := "/shows/" + w.showID
	calls := []call{
		{who: anon, method: "GET", path: "/"},
		{who: anon, method: "HEAD", path: "/"},
		{who: anon, method: "GET", path: "/login"},
		{who: anon, method: "GET", path: "/signup?role=model"},
		{who: anon, method: "GET", path: "/models/" + w.modelID},
		{who: anon, method: "GET", path: "/no/such/page"},
		{who: anon, method: "POST", path: "/nowhere", body: "x=1", ctype: "application/x-www-form-urlencoded"},
		{who: anon, method: "GET", path: "/static/camkit-player.js"},
		{who: anon, method: "GET", path: "/static/no-such.js"},
		{who: anon, method: "POST", path: "/age", body: "return_to=%2F", ctype: "application/x-www-form-urlencoded"},
		{who: w.alice, method: "GET", path: show},
		{who: w.alice, method: "HEAD", path: show},
		{who: w.alice, method: "GET", path: "/wallet"},
		{who: w.alice, method: "GET", path: "/receipts"},
		{who: w.alice, method: "GET", path: api + "/shows"},
		{who: w.alice, method: "GET", path: api + "/shows/" + w.showID},
		{who: w.alice, method: "GET", path: api + "/wallet"},
		{who: w.alice, method: "GET", path: api + "/credit-packs"},
		{who: w.alice, method: "POST", path: api + "/shows/" + w.showID + "/chat", body: `{"text":"hi"}`, ctype: "application/json"},
		{who: w.alice, method: "POST", path: api + "/shows/" + w.showID + "/chat", body: `not json`, ctype: "text/plain"},
		{who: w.alice, method: "DELETE", path: api + "/no-such-thing"},
		{who: w.alice, method: "PATCH", path: api + "/me/rate", body: `{}`, ctype: "application/json"},
		{who: w.model, method: "GET", path: "/dashboard"},
		{who: w.model, method: "PUT", path: api + "/me/rate", body: `{"rate":{"amount":200,"currency":"USD"}}`, ctype: "application/json"},
		{who: w.model, method: "GET", path: api + "/me/requests"},
		{who: w.admin, method: "GET", path: "/admin"},
		{who: w.admin, method: "GET", path: api + "/admin/plugins"},
		{who: anon, method: "OPTIONS", path: "/whip"},
		{who: anon, method: "OPTIONS", path: "/stream/sessions/nope"},
		{who: anon, method: "PATCH", path: "/stream/sessions/nope", body: "a=x", ctype: "application/trickle-ice-sdpfrag"},
		{who: anon, method: "DELETE", path: "/stream/sessions/nope"},
		{who: anon, method: "GET", path: "/healthz"},
	}
	used := map[string]bool{}
	for _, c := range calls {
		used[c.method] = true
	}

	// Four workers, each with one keep-alive connection and the cookies of
	// the people above.
	const workers, perWorker = 4, 300
	var sent, reused, failed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}
			defer tr.CloseIdleConnections()
			clients := map[*browser]*http.Client{}
			for n := 0; n < perWorker; n++ {
				c := calls[(i*7+n)%len(calls)]
				cl := clients[c.who]
				if cl == nil {
					cl = &http.Client{Transport: tr, Jar: c.who.c.Jar, Timeout: 30 * time.Second,
						CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
					clients[c.who] = cl
				}
				var body io.Reader
				if c.body != "" {
					body = strings.NewReader(c.body)
				}
				req, _ := http.NewRequest(c.method, w.url+c.path, body)
				if c.ctype != "" {
					req.Header.Set("Content-Type", c.ctype)
				}
				if c.method != "GET" && c.method != "HEAD" && c.method != "OPTIONS" {
					req.Header.Set("X-CSRF-Token", csrf[c.who])
				}
				req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
					GotConn: func(ci httptrace.GotConnInfo) {
						if ci.Reused {
							reused.Add(1)
						}
					},
				}))
				r, err := cl.Do(req)
				if err != nil {
					failed.Add(1)
					t.Errorf("%s %s: %v", c.method, c.path, err)
					return
				}
				_, _ = io.Copy(io.Discard, r.Body)
				r.Body.Close()
				sent.Add(1)
			}
		}(i)
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
	// Keep-alive is what reuses the buffers: most requests must have gone
	// over a connection that served one before.
	if sent.Load() < workers*perWorker || reused.Load() < sent.Load()*9/10 {
		t.Fatalf("%d requests sent, %d over a reused connection: not the keep-alive traffic this test is about", sent.Load(), reused.Load())
	}

	r, err := http.Get(w.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	text, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("/metrics after %d requests: %d\n%s", sent.Load(), r.StatusCode, firstLines(string(text), 12))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(text)))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	// No series twice, in any family (billing's and stream's too).
	for name, f := range families {
		seen := map[string]bool{}
		for _, m := range f.GetMetric() {
			k := labelKey(m)
			if seen[k] {
				t.Errorf("%s{%s} appears twice", name, k)
			}
			seen[k] = true
		}
	}
	routes := map[string]bool{"unmatched": true}
	for _, rt := range w.srv.App().GetRoutes() {
		routes[rt.Path] = true
	}
	reqs := families["camkit_http_requests_total"]
	if reqs == nil {
		t.Fatal("no camkit_http_requests_total family")
	}
	var counted float64
	methods := map[string]bool{}
	for _, m := range reqs.GetMetric() {
		l := labels(m)
		if !used[l["method"]] {
			t.Errorf("method label %q: not a method this test used", l["method"])
		}
		if !routes[l["route"]] {
			t.Errorf("route label %q: not a registered route", l["route"])
		}
		methods[l["method"]] = true
		counted += m.GetCounter().GetValue()
	}
	if len(methods) != len(used) {
		t.Errorf("methods counted %v, sent %v", keys(methods), keys(used))
	}
	// Everything sent is counted (the world's set-up and this scrape add more).
	if counted < float64(sent.Load()) {
		t.Errorf("%v requests counted, %d sent", counted, sent.Load())
	}
	for _, m := range families["camkit_http_request_duration_seconds"].GetMetric() {
		if l := labels(m); !routes[l["route"]] {
			t.Errorf("latency route label %q: not a registered route", l["route"])
		}
	}
	t.Logf("%d requests (%d over reused connections), %d request series, %.0f counted", sent.Load(), reused.Load(), len(reqs.GetMetric()), counted)
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, p := range m.GetLabel() {
		out[p.GetName()] = p.GetValue()
	}
	return out
}

func labelKey(m *dto.Metric) string {
	var parts []string
	for _, p := range m.GetLabel() {
		parts = append(parts, fmt.Sprintf("%s=%q", p.GetName(), p.GetValue()))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
