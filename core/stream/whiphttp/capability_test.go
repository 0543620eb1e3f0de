package whiphttp_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/pion/webrtc/v4"

	"github.com/camkit/camkit/core/clientaddr"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/core/stream/whiphttp"
)

// feed follows /stream/events/<show> as a page would and keeps every line.
type feed struct {
	mu    sync.Mutex
	lines []string
	wake  chan struct{}
}

func openFeed(t *testing.T, url string) *feed {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(c, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events feed: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	f := &feed{wake: make(chan struct{}, 1)}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			f.mu.Lock()
			f.lines = append(f.lines, sc.Text())
			f.mu.Unlock()
			select {
			case f.wake <- struct{}{}:
			default:
			}
		}
	}()
	return f
}

func (f *feed) text() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.lines, "\n")
}

// waitFor waits until the feed holds a line containing want.
func (f *feed) waitFor(t *testing.T, want string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for !strings.Contains(f.text(), want) {
		select {
		case <-f.wake:
		case <-deadline:
			t.Fatalf("no %q in the feed:\n%s", want, f.text())
		}
	}
}

// events parses the feed's data lines.
func (f *feed) events(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(f.text(), "\n") {
		if data, ok := strings.CutPrefix(l, "data: "); ok {
			var ev map[string]any
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatalf("event data %q: %v", data, err)
			}
			out = append(out, ev)
		}
	}
	return out
}

func randomID(n int, enc func([]byte) string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return enc(b)
}

// TestAnonymousDeleteCannotEndALiveBroadcast is issue 10's attack: a model
// publishes, a viewer plays, and an anonymous client tries to end the
// broadcast with every id the public endpoints give out and with guesses.
// Nothing it sends ends anything and the viewer's media keeps flowing.
func TestAnonymousDeleteCannotEndALiveBroadcast(t *testing.T) {
	s := startServer(t, nil)
	s.adm.AddShow("show-1", "key-1")
	public := openFeed(t, s.url+"/stream/events/show-1")

	var pubHdr, subHdr, attackerHdr http.Header
	pub, err := streamtest.Publish(ctx(t), streamtest.HTTPSignalHeaders(s.url+"/whip", "key-1", &pubHdr), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	v, err := streamtest.Subscribe(ctx(t), streamtest.HTTPSignalHeaders(s.url+"/whep/show-1", "", &subHdr))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if !streamtest.WaitFor(10*time.Second, func() bool { return v.Video.Keyframes.Load() > 0 && v.Video.Packets.Load() > 20 }) {
		t.Fatal("viewer receives nothing")
	}
	// The attacker is a viewer too: it holds its own session and token.
	attacker, err := streamtest.Subscribe(ctx(t), streamtest.HTTPSignalHeaders(s.url+"/whep/show-1", "", &attackerHdr))
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	public.waitFor(t, "event: live", 10*time.Second)
	// A feed naming a watch id it does not own learns nothing more.
	nosy := openFeed(t, s.url+"/stream/events/show-1?watch="+randomID(16, base64.RawURLEncoding.EncodeToString))
	nosy.waitFor(t, "event: mode", 5*time.Second)

	secrets := map[string]string{
		"model's session URL":  pubHdr.Get("Location"),
		"viewer's session URL": subHdr.Get("Location"),
		"viewer's token":       subHdr.Get(whiphttp.HeaderSessionToken),
		"viewer's watch id":    subHdr.Get(whiphttp.HeaderWatchID),
		"model's watch id":     pubHdr.Get(whiphttp.HeaderWatchID),
		"stream key":           "key-1",
	}
	for name, v := range secrets {
		id := strings.TrimPrefix(v, "/stream/sessions/")
		if strings.Contains(public.text(), id) || strings.Contains(nosy.text(), id) {
			t.Errorf("the public feed carries the %s", name)
		}
	}
	// Parse the feed: its events carry only these fields.
	allowed := map[string]bool{"type": true, "show": true, "mode": true, "reason": true, "at": true}
	for _, ev := range append(public.events(t), nosy.events(t)...) {
		for k := range ev {
			if !allowed[k] {
				t.Errorf("public event %v has field %q", ev, k)
			}
		}
	}

	// Everything an outsider can collect: every word of the feed, the show
	// id, its own session's watch id and location, and guesses shaped like
	// old and new session ids.
	candidates := map[string]bool{"show-1": true, "1": true, "0": true, "live": true, "": true}
	for _, w := range regexp.MustCompile(`[A-Za-z0-9_-]{1,}`).FindAllString(public.text()+nosy.text(), -1) {
		candidates[w] = true
	}
	candidates[attackerHdr.Get(whiphttp.HeaderWatchID)] = true
	for i := 0; i < 20; i++ {
		candidates[randomID(16, hex.EncodeToString)] = true
		candidates[randomID(24, base64.RawURLEncoding.EncodeToString)] = true
	}
	attackerToken := attackerHdr.Get(whiphttp.HeaderSessionToken)
	frag := "a=end-of-candidates\r\n"
	for id := range candidates {
		for _, bearer := range []string{"", attackerToken} {
			var hdr []string
			if bearer != "" {
				hdr = []string{"Authorization", "Bearer " + bearer}
			}
			if resp, body := do(t, "DELETE", s.url+"/stream/sessions/"+id, "", "", hdr...); resp.StatusCode < 400 {
				t.Errorf("DELETE /stream/sessions/%s (bearer %t) answered %d %s", id, bearer != "", resp.StatusCode, body)
			}
			if resp, body := do(t, "PATCH", s.url+"/stream/sessions/"+id, "application/trickle-ice-sdpfrag", frag, hdr...); resp.StatusCode < 400 {
				t.Errorf("PATCH /stream/sessions/%s (bearer %t) answered %d %s", id, bearer != "", resp.StatusCode, body)
			}
		}
	}
	// Even holding the real session URLs (leaked somehow), neither nothing
	// nor the attacker's own token nor the public watch id opens them.
	for _, loc := range []string{pubHdr.Get("Location"), subHdr.Get("Location")} {
		for bearer, want := range map[string]int{"": 401, attackerToken: 403, subHdr.Get(whiphttp.HeaderWatchID): 403, "show-1": 403} {
			var hdr []string
			if bearer != "" {
				hdr = []string{"Authorization", "Bearer " + bearer}
			}
			if resp, body := do(t, "DELETE", s.url+loc, "", "", hdr...); resp.StatusCode != want {
				t.Errorf("DELETE on a real session with bearer %q: %d %s, want %d", bearer, resp.StatusCode, body, want)
			}
		}
	}
	// The model's key does not end the viewer, nor the viewer's token the model.
	if resp, _ := do(t, "DELETE", s.url+subHdr.Get("Location"), "", "", "Authorization", "Bearer key-1"); resp.StatusCode != 403 {
		t.Errorf("the stream key ended a viewer's session: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "DELETE", s.url+pubHdr.Get("Location"), "", "", "Authorization", "Bearer "+subHdr.Get(whiphttp.HeaderSessionToken)); resp.StatusCode != 403 {
		t.Errorf("a viewer's token ended the model's session: %d", resp.StatusCode)
	}

	// The broadcast is untouched: packets keep arriving, the model is
	// connected, the feed never said paused.
	before := v.Video.Packets.Load()
	if !streamtest.WaitFor(3*time.Second, func() bool { return v.Video.Packets.Load() > before+60 }) {
		t.Fatalf("the viewer's media stopped after the attack (%d -> %d packets)", before, v.Video.Packets.Load())
	}
	if st := pub.PC.ConnectionState(); st != webrtc.PeerConnectionStateConnected {
		t.Fatalf("model's connection %s after the attack", st)
	}
	_, afterLive, _ := strings.Cut(public.text(), "event: live")
	if strings.Contains(afterLive, "event: paused") || strings.Contains(public.text(), "event: ended") {
		t.Fatalf("the public feed reports a pause or an end after going live:\n%s", public.text())
	}

	// The model's own key ends her broadcast.
	if resp, body := do(t, "DELETE", s.url+pubHdr.Get("Location"), "", "", "Authorization", "Bearer key-1"); resp.StatusCode != 200 {
		t.Fatalf("the model's DELETE with her key: %d %s", resp.StatusCode, body)
	}
	public.waitFor(t, "event: paused", 5*time.Second)
}

// A session's end is told to its own watcher only; the public feed and other
// watchers never hear it.
func TestSessionEndedGoesOnlyToItsWatcher(t *testing.T) {
	s := startServer(t, nil)
	s.adm.AddShow("show-1", "key-1")
	var a, b http.Header
	va, err := streamtest.Subscribe(ctx(t), streamtest.HTTPSignalHeaders(s.url+"/whep/show-1", "", &a))
	if err != nil {
		t.Fatal(err)
	}
	defer va.Close()
	vb, err := streamtest.Subscribe(ctx(t), streamtest.HTTPSignalHeaders(s.url+"/whep/show-1", "", &b))
	if err != nil {
		t.Fatal(err)
	}
	defer vb.Close()
	own := openFeed(t, s.url+"/stream/events/show-1?watch="+a.Get(whiphttp.HeaderWatchID))
	other := openFeed(t, s.url+"/stream/events/show-1?watch="+b.Get(whiphttp.HeaderWatchID))
	public := openFeed(t, s.url+"/stream/events/show-1")
	for _, f := range []*feed{own, other, public} {
		f.waitFor(t, "event: paused", 5*time.Second)
	}
	if resp, body := do(t, "DELETE", s.url+a.Get("Location"), "", "", "Authorization", "Bearer "+a.Get(whiphttp.HeaderSessionToken)); resp.StatusCode != 200 {
		t.Fatalf("DELETE with the session token: %d %s", resp.StatusCode, body)
	}
	own.waitFor(t, `"reason":"closed"`, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	for name, f := range map[string]*feed{"another viewer's feed": other, "the public feed": public} {
		if strings.Contains(f.text(), "event: ended") {
			t.Errorf("%s was told of another session's end:\n%s", name, f.text())
		}
	}
}

// signalFrom posts a WHEP offer as a client behind a proxy: X-Forwarded-For
// carries what the client claims followed by what the trusted proxy saw.
func signalFrom(url, xff string, hdr *http.Header) streamtest.Signal {
	return func(ctx context.Context, offer string) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		*hdr = resp.Header.Clone()
		if resp.StatusCode != http.StatusCreated {
			return "", &streamtest.HTTPError{Status: resp.StatusCode, Body: string(body)}
		}
		return string(body), nil
	}
}

func TestViewerCapsAnswer429WithRetryAfter(t *testing.T) {
	proxy, err := clientaddr.New([]string{"127.0.0.1"}, clientaddr.XForwardedFor)
	if err != nil {
		t.Fatal(err)
	}
	s := startServerWith(t, serverOptions{
		tune: func(c *stream.Config) { c.MaxViewersPerClient = 2; c.MaxViewersPerShow = 3 },
		use:  []fiber.Handler{proxy.Middleware()},
	})
	s.adm.AddShow("show-1", "key-1")
	join := func(xff string) (http.Header, error) {
		var hdr http.Header
		v, err := streamtest.Subscribe(ctx(t), signalFrom(s.url+"/whep/show-1", xff, &hdr))
		if err == nil {
			t.Cleanup(v.Close)
		}
		return hdr, err
	}
	refused := func(what string, hdr http.Header, err error, says, retry string) {
		t.Helper()
		he, ok := err.(*streamtest.HTTPError)
		if !ok || he.Status != 429 || !strings.Contains(he.Body, says) || hdr.Get("Retry-After") != retry {
			t.Fatalf("%s: %v (Retry-After %q), want 429 saying %q with Retry-After %s", what, err, hdr.Get("Retry-After"), says, retry)
		}
	}

	first, err := join("198.51.100.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := join("198.51.100.1"); err != nil {
		t.Fatal(err)
	}
	hdr, err := join("198.51.100.1")
	refused("a third stream from one address", hdr, err, "too many streams from your address", "5")
	// Claiming another address on the left of X-Forwarded-For does not
	// help: the client is what the trusted proxy saw.
	hdr, err = join("203.0.113.50, 198.51.100.1")
	refused("a third stream with a forged first hop", hdr, err, "too many streams", "5")

	if _, err := join("198.51.100.2"); err != nil {
		t.Fatalf("another address while the show has room: %v", err)
	}
	hdr, err = join("198.51.100.3")
	refused("a fourth viewer of a show capped at 3", hdr, err, "this show is full", "15")

	// Closing one frees its slot at once.
	if resp, body := do(t, "DELETE", s.url+first.Get("Location"), "", "", "Authorization", "Bearer "+first.Get(whiphttp.HeaderSessionToken)); resp.StatusCode != 200 {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
	}
	if _, err := join("198.51.100.3"); err != nil {
		t.Fatalf("after a viewer left, a new one gets in: %v", err)
	}
}
