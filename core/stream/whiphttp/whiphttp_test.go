package whiphttp_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/core/stream/whiphttp"
)

type server struct {
	url string
	sfu *stream.SFU
	adm *streamtest.Admission
	rec *streamtest.Recorder
	reg *prometheus.Registry
	app *fiber.App
}

// startServer runs a fiber app with the adapter mounted on a loopback port.
// extra may add routes (the Chromium test serves its pages).
func startServer(t *testing.T, extra func(*fiber.App)) *server {
	t.Helper()
	return startServerWith(t, serverOptions{extra: extra})
}

type serverOptions struct {
	tune  func(*stream.Config) // caps, timeouts
	use   []fiber.Handler      // middleware before the adapter (clientaddr)
	extra func(*fiber.App)
}

func startServerWith(t *testing.T, o serverOptions) *server {
	t.Helper()
	s := &server{adm: streamtest.NewAdmission(), rec: streamtest.NewRecorder(), reg: prometheus.NewRegistry()}
	cfg := stream.Config{Admission: s.adm, Liveness: s.rec, Registerer: s.reg}
	if o.tune != nil {
		o.tune(&cfg)
	}
	sfu, err := stream.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.sfu = sfu
	s.app = fiber.New(fiber.Config{DisableStartupMessage: true})
	for _, h := range o.use {
		s.app.Use(h)
	}
	whiphttp.Mount(s.app, sfu, whiphttp.Options{ICEServers: []stream.ICEServer{{URLs: []string{"stun:stun.example.net:3478"}}}})
	if o.extra != nil {
		o.extra(s.app)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.app.Listener(ln) }()
	s.url = "http://" + ln.Addr().String()
	t.Cleanup(func() {
		_ = s.app.ShutdownWithTimeout(2 * time.Second)
		_ = sfu.Close()
	})
	return s
}

// gauge reads a gauge of the server's registry (0 when absent).
func (s *server) gauge(t *testing.T, name string) float64 {
	t.Helper()
	fams, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			sum := 0.0
			for _, m := range f.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
			return sum
		}
	}
	return 0
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func do(t *testing.T, method, url, ctype, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestWHIPAndWHEPOverHTTP(t *testing.T) {
	s := startServer(t, nil)
	s.adm.AddShow("show-1", "key-1")
	var pubLoc, subLoc string
	pub, err := streamtest.Publish(ctx(t), streamtest.HTTPSignal(s.url+"/whip", "key-1", &pubLoc), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatalf("WHIP with the key as bearer: %v", err)
	}
	defer pub.Close()
	if !strings.HasPrefix(pubLoc, "/stream/sessions/") {
		t.Fatalf("WHIP Location %q", pubLoc)
	}
	var subHdr http.Header
	v, err := streamtest.Subscribe(ctx(t), streamtest.HTTPSignalHeaders(s.url+"/whep/show-1", "", &subHdr))
	if err != nil {
		t.Fatalf("WHEP: %v", err)
	}
	// A client that sends its API session bearer with every request is a
	// public viewer of a public show, not refused as an unknown seat token.
	sv, err := streamtest.Subscribe(ctx(t), streamtest.HTTPSignal(s.url+"/whep/show-1", "sess_0123456789abcdef", nil))
	if err != nil {
		t.Fatalf("public WHEP with a session bearer: %v", err)
	}
	sv.Close()
	subLoc = subHdr.Get("Location")
	subToken := subHdr.Get(whiphttp.HeaderSessionToken)
	if subToken == "" || subHdr.Get(whiphttp.HeaderWatchID) == "" || subHdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("a public viewer's 201 lacks its session token, watch id or no-store: %v", subHdr)
	}
	defer v.Close()
	if !streamtest.WaitFor(10*time.Second, func() bool { return v.Video.Keyframes.Load() > 0 && v.Audio.Packets.Load() > 5 }) {
		t.Fatal("WHEP viewer receives nothing")
	}

	// Trickle: a candidate for the current ICE session is taken (204); a
	// new ufrag (an ICE restart) is refused with 422 as RFC 9725 allows.
	ufrag := regexp.MustCompile(`a=ice-ufrag:(\S+)`).FindStringSubmatch(pub.PC.LocalDescription().SDP)[1]
	frag := "a=ice-ufrag:" + ufrag + "\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\na=end-of-candidates\r\n"
	if resp, body := do(t, "PATCH", s.url+pubLoc, "application/trickle-ice-sdpfrag", frag, "Authorization", "Bearer key-1"); resp.StatusCode != 204 {
		t.Fatalf("trickle PATCH: %d %s", resp.StatusCode, body)
	}
	restart := strings.Replace(frag, ufrag, "newufrag", 1)
	if resp, body := do(t, "PATCH", s.url+pubLoc, "application/trickle-ice-sdpfrag", restart, "Authorization", "Bearer key-1"); resp.StatusCode != 422 || !strings.Contains(body, "ICE restart") {
		t.Fatalf("ICE restart PATCH: %d %s", resp.StatusCode, body)
	}

	// DELETE on the viewer's Location, with its minted token, ends its media.
	if resp, body := do(t, "DELETE", s.url+subLoc, "", "", "Authorization", "Bearer "+subToken); resp.StatusCode != 200 {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
	}
	time.Sleep(time.Second)
	at := v.Video.Packets.Load()
	time.Sleep(500 * time.Millisecond)
	if v.Video.Packets.Load() != at {
		t.Fatal("viewer still receives after DELETE")
	}
	if resp, _ := do(t, "DELETE", s.url+subLoc, "", "", "Authorization", "Bearer "+subToken); resp.StatusCode != 404 {
		t.Fatalf("second DELETE: %d, want 404", resp.StatusCode)
	}
}

func TestBadInputGetsA4xxWithAReasonWhileOtherShowsStream(t *testing.T) {
	s := startServer(t, nil)
	s.adm.AddShow("show-1", "key-1")
	s.adm.AddShow("show-2", "key-2")
	s.adm.SetMode("show-2", stream.ModePrivate)
	s.adm.AddSeat("tok-1", "show-1", "seat-1")
	s.adm.AddSeat("tok-old", "show-2", "seat-old")
	s.adm.AddSeat("tok-2", "show-2", "seat-2")
	s.adm.ExpireToken("tok-old")
	pub, err := streamtest.Publish(ctx(t), streamtest.HTTPSignal(s.url+"/whip/key-1", "", nil), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	v, err := streamtest.Subscribe(ctx(t), streamtest.HTTPSignal(s.url+"/whep/show-1", "", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if !streamtest.WaitFor(10*time.Second, func() bool { return v.Video.Packets.Load() > 20 }) {
		t.Fatal("show-1 viewer receives nothing")
	}

	noMedia := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	huge := "v=0\r\n" + strings.Repeat("a=x-padding:0123456789\r\n", 4000)
	raw := []struct {
		name, method, path, ctype, body string
		hdr                             []string
		status                          int
		says                            string
	}{
		{"malformed SDP", "POST", "/whip/key-1", "application/sdp", "hello", nil, 400, "malformed SDP"},
		{"SDP without media", "POST", "/whip/key-1", "application/sdp", noMedia, nil, 400, "no audio or video"},
		{"no stream key", "POST", "/whip", "application/sdp", noMedia, nil, 401, "stream key is required"},
		{"oversized body", "POST", "/whip/key-1", "application/sdp", huge, nil, 413, "limit"},
		{"wrong content type", "POST", "/whep/show-1", "text/plain", noMedia, nil, 415, "application/sdp"},
		{"DELETE without a bearer", "DELETE", "/stream/sessions/nope", "", "", nil, 401, "bearer token that created it"},
		{"unknown session DELETE", "DELETE", "/stream/sessions/nope", "", "", []string{"Authorization", "Bearer x"}, 404, "no such stream session"},
		{"PATCH with a wrong type", "PATCH", "/stream/sessions/nope", "application/sdp", "a=candidate:x", nil, 415, "trickle-ice-sdpfrag"},
		{"PATCH without a bearer", "PATCH", "/stream/sessions/nope", "application/trickle-ice-sdpfrag", "a=end-of-candidates", nil, 401, "bearer token that created it"},
		{"PATCH of an unknown session", "PATCH", "/stream/sessions/nope", "application/trickle-ice-sdpfrag", "a=end-of-candidates", []string{"Authorization", "Bearer x"}, 404, "no such stream session"},
	}
	for _, tc := range raw {
		resp, body := do(t, tc.method, s.url+tc.path, tc.ctype, tc.body, tc.hdr...)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %q, want %d saying %q", tc.name, resp.StatusCode, body, tc.status, tc.says)
		}
	}
	// Real offers refused for who is asking.
	offers := []struct {
		name   string
		signal streamtest.Signal
		status int
		says   string
	}{
		{"wrong stream key", streamtest.HTTPSignal(s.url+"/whip/nope", "", nil), 401, "unknown stream key"},
		{"unknown show", streamtest.HTTPSignal(s.url+"/whep/show-x", "", nil), 404, "no show"},
		{"public visitor of a private show", streamtest.HTTPSignal(s.url+"/whep/show-2", "", nil), 403, "seat token is required"},
		{"expired token", streamtest.HTTPSignal(s.url+"/whep/show-2", "tok-old", nil), 401, "expired"},
		// The query string is not read: a valid seat token there is no token.
		{"seat token in the query", streamtest.HTTPSignal(s.url+"/whep/show-2?token=tok-2", "", nil), 403, "seat token is required"},
		{"foreign token", streamtest.HTTPSignal(s.url+"/whep/show-2", "tok-1", nil), 403, "another show"},
		{"session bearer on a private show", streamtest.HTTPSignal(s.url+"/whep/show-2", "sess_0123456789abcdef", nil), 401, "unknown seat token"},
	}
	for _, tc := range offers {
		var err error
		if strings.Contains(tc.name, "stream key") {
			_, err = streamtest.Publish(ctx(t), tc.signal, streamtest.PublisherOptions{})
		} else {
			_, err = streamtest.Subscribe(ctx(t), tc.signal)
		}
		he, ok := err.(*streamtest.HTTPError)
		if !ok || he.Status != tc.status || !strings.Contains(he.Body, tc.says) {
			t.Errorf("%s: %v, want %d saying %q", tc.name, err, tc.status, tc.says)
		}
	}
	before := v.Video.Packets.Load()
	if !streamtest.WaitFor(3*time.Second, func() bool { return v.Video.Packets.Load() > before+30 }) {
		t.Fatal("show-1 stopped streaming while bad requests were refused")
	}
}

func TestPreflightAndDiscovery(t *testing.T) {
	s := startServer(t, nil)
	resp, _ := do(t, "OPTIONS", s.url+"/whip/key-1", "", "", "Origin", "https://studio.example", "Access-Control-Request-Method", "POST")
	if resp.StatusCode != 204 {
		t.Fatalf("OPTIONS: %d", resp.StatusCode)
	}
	for h, want := range map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match, " + whiphttp.HeaderReplace,
		"Accept-Post":                  "application/sdp",
		"Link":                         `<stun:stun.example.net:3478>; rel="ice-server"`,
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("Allow-Methods %q", resp.Header.Get("Access-Control-Allow-Methods"))
	}
}

func TestEventsTellAPublicViewerTheShowWentPrivate(t *testing.T) {
	s := startServer(t, nil)
	s.adm.AddShow("show-1", "key-1")
	var hdr http.Header
	v, err := streamtest.Subscribe(ctx(t), streamtest.HTTPSignalHeaders(s.url+"/whep/show-1", "", &hdr))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	req, _ := http.NewRequestWithContext(ctx(t), "GET", s.url+"/stream/events/show-1?watch="+hdr.Get(whiphttp.HeaderWatchID), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expect := func(want string) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("stream closed before %q", want)
				}
				if strings.Contains(l, want) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q in the event stream", want)
			}
		}
	}
	expect(`"mode":"public"`)
	s.sfu.SetMode("show-1", stream.ModePrivate)
	expect(`"mode":"private"`)
	expect(`"reason":"show_private"`)
}
