package app_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/core/stream/whiphttp"
	"github.com/pion/webrtc/v4"
)

// TestAnonymousCannotEndABroadcastThroughTheHost is issue 10's symptom 2 on
// the assembled product (real plugin processes, PostgreSQL): the model goes
// live from her dashboard and publishes over WHIP with her stream key, a
// visitor plays over WHEP, and an anonymous client DELETEs and PATCHes
// /stream/sessions/<id> with every id it can read from the public endpoints
// (the event feed, the show API, the pages) and with guesses. Every request
// is refused and the visitor keeps receiving media.
func TestAnonymousCannotEndABroadcastThroughTheHost(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var my struct {
		StreamKey string `json:"stream_key"`
		WHIPURL   string `json:"whip_url"`
	}
	w.model.api(http.MethodGet, "/me/show", nil, "").must(t, http.StatusOK, "my show").json(t, &my)
	if my.StreamKey == "" {
		t.Fatal("the model's show has no stream key")
	}

	// The public feed, open before anything flows, as a room page opens it.
	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	req, _ := http.NewRequestWithContext(feedCtx, http.MethodGet, w.url+"/stream/events/"+w.showID, nil)
	feedResp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer feedResp.Body.Close()
	var feedMu sync.Mutex
	var feed strings.Builder
	go func() {
		sc := bufio.NewScanner(feedResp.Body)
		for sc.Scan() {
			feedMu.Lock()
			feed.WriteString(sc.Text() + "\n")
			feedMu.Unlock()
		}
	}()
	feedText := func() string { feedMu.Lock(); defer feedMu.Unlock(); return feed.String() }

	var pubHdr, subHdr http.Header
	pub, err := streamtest.Publish(ctx, streamtest.HTTPSignalHeaders(my.WHIPURL, my.StreamKey, &pubHdr), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatalf("WHIP through the host: %v", err)
	}
	defer pub.Close()
	v, err := streamtest.Subscribe(ctx, streamtest.HTTPSignalHeaders(w.url+"/whep/"+w.showID, "", &subHdr))
	if err != nil {
		t.Fatalf("WHEP through the host: %v", err)
	}
	defer v.Close()
	if !streamtest.WaitFor(15*time.Second, func() bool { return v.Video.Keyframes.Load() > 0 && v.Video.Packets.Load() > 30 }) {
		t.Fatal("the visitor receives nothing")
	}
	if !streamtest.WaitFor(5*time.Second, func() bool { return strings.Contains(feedText(), "event: live") }) {
		t.Fatalf("the feed never said live:\n%s", feedText())
	}

	// What an outsider can read: the feed, the show in the API, the pages.
	public := feedText()
	visitor := w.site.browser("visitor")
	visitor.passAge()
	for _, path := range []string{"/", "/shows/" + w.showID, "/models/" + w.modelID} {
		public += visitor.get(path).must(t, http.StatusOK, path).body
	}
	for _, path := range []string{"/shows", "/shows/" + w.showID} {
		public += visitor.api(http.MethodGet, path, nil, "").must(t, http.StatusOK, "api "+path).body
	}
	for name, secret := range map[string]string{
		"model's session URL": pubHdr.Get("Location"), "visitor's session URL": subHdr.Get("Location"),
		"visitor's session token": subHdr.Get(whiphttp.HeaderSessionToken), "stream key": my.StreamKey,
	} {
		id := strings.TrimPrefix(secret, "/stream/sessions/")
		if id == "" || strings.Contains(public, id) {
			t.Errorf("the %s is readable from the public endpoints (or empty)", name)
		}
	}

	candidates := map[string]bool{}
	for _, word := range regexp.MustCompile(`[A-Za-z0-9_-]{6,}`).FindAllString(public, -1) {
		candidates[word] = true
	}
	for i := 0; i < 10; i++ {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		candidates[hex.EncodeToString(b)] = true
	}
	anonymous := &http.Client{Timeout: 10 * time.Second}
	try := func(method, path, ctype, body string) int {
		r, _ := http.NewRequest(method, w.url+path, strings.NewReader(body))
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		resp, err := anonymous.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for id := range candidates {
		if st := try(http.MethodDelete, "/stream/sessions/"+id, "", ""); st != http.StatusUnauthorized {
			t.Errorf("anonymous DELETE /stream/sessions/%s: %d, want 401", id, st)
		}
		if st := try(http.MethodPatch, "/stream/sessions/"+id, "application/trickle-ice-sdpfrag", "a=end-of-candidates\r\n"); st != http.StatusUnauthorized {
			t.Errorf("anonymous PATCH /stream/sessions/%s: %d, want 401", id, st)
		}
	}
	t.Logf("%d ids from the public endpoints and guesses tried", len(candidates))
	// Even the real session URLs, leaked, are refused without their bearer.
	for _, loc := range []string{pubHdr.Get("Location"), subHdr.Get("Location")} {
		if st := try(http.MethodDelete, loc, "", ""); st != http.StatusUnauthorized {
			t.Errorf("anonymous DELETE of a real session: %d, want 401", st)
		}
	}

	before := v.Video.Packets.Load()
	if !streamtest.WaitFor(3*time.Second, func() bool { return v.Video.Packets.Load() > before+60 }) {
		t.Fatalf("media stopped after the anonymous requests (%d -> %d packets)", before, v.Video.Packets.Load())
	}
	if st := pub.PC.ConnectionState(); st != webrtc.PeerConnectionStateConnected {
		t.Fatalf("the model's connection is %s", st)
	}
	// The refusals are counted on /metrics.
	m := visitor.get("/metrics").must(t, http.StatusOK, "metrics").body
	if !strings.Contains(m, `camkit_stream_session_requests_refused_total{code="unauthenticated",method="delete"}`) {
		t.Error("refused session DELETEs are not counted on /metrics")
	}
}

// The caps hold through the host's configuration and its client address.
func TestViewerCapThroughTheHost(t *testing.T) {
	w := newWorldOn(t, newSite(t, func(c *config.Config) { c.Stream.MaxViewersPerClient = 2 }))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var hdrs []http.Header
	for i := 0; i < 2; i++ {
		var h http.Header
		v, err := streamtest.Subscribe(ctx, streamtest.HTTPSignalHeaders(w.url+"/whep/"+w.showID, "", &h))
		if err != nil {
			t.Fatalf("viewer %d: %v", i+1, err)
		}
		defer v.Close()
		hdrs = append(hdrs, h)
	}
	_, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+"/whep/"+w.showID, "", nil))
	if he, ok := err.(*streamtest.HTTPError); !ok || he.Status != http.StatusTooManyRequests || !strings.Contains(he.Body, "too many streams") {
		t.Fatalf("a third stream from one address: %v, want 429", err)
	}
	del, _ := http.NewRequest(http.MethodDelete, w.url+hdrs[0].Get("Location"), nil)
	del.Header.Set("Authorization", "Bearer "+hdrs[0].Get(whiphttp.HeaderSessionToken))
	resp, err := http.DefaultClient.Do(del)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE with the session token: %v %v", resp, err)
	}
	resp.Body.Close()
	v, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+"/whep/"+w.showID, "", nil))
	if err != nil {
		t.Fatalf("after closing one, a new stream: %v", err)
	}
	v.Close()
}
