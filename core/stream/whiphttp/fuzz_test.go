package whiphttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/core/stream/whiphttp"
)

// These fuzz targets send WHIP/WHEP offers and trickle PATCHes through the
// adapter's routes (fiber's app.Test, no socket) to a real SFU. Every
// candidate address in a fuzzed body is rewritten to 127.0.0.1 first: the
// SFU's ICE agent sends connectivity checks to the candidates it is given,
// and a fuzzer must not make it send packets to random hosts.

const fuzzMaxBody = 64 << 10 // the adapter's default Options.MaxBody

type fuzzServer struct {
	app *fiber.App
	adm *streamtest.Admission
}

func newFuzzServer(f *testing.F) *fuzzServer {
	s := &fuzzServer{adm: streamtest.NewAdmission()}
	sfu, err := stream.New(stream.Config{Admission: s.adm, Liveness: streamtest.NewRecorder()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = sfu.Close() })
	s.app = fiber.New(fiber.Config{DisableStartupMessage: true})
	whiphttp.Mount(s.app, sfu, whiphttp.Options{})
	return s
}

// do sends one request through the app and returns status, headers and body.
func (s *fuzzServer) do(t testing.TB, method, path, ctype, bearer string, body []byte) (int, http.Header, string) {
	req := httptest.NewRequest(method, path, strings.NewReader(string(body)))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := s.app.Test(req, 20_000)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// signal is a streamtest.Signal through the app: a real pion client's offer.
func (s *fuzzServer) signal(t testing.TB, path, bearer string, offer, location *string) streamtest.Signal {
	return func(_ context.Context, sdpOffer string) (string, error) {
		status, h, body := s.do(t, http.MethodPost, path, "application/sdp", bearer, []byte(sdpOffer))
		if status != http.StatusCreated {
			return "", &streamtest.HTTPError{Status: status, Body: body}
		}
		if offer != nil {
			*offer = sdpOffer
		}
		if location != nil {
			*location = h.Get("Location")
		}
		return body, nil
	}
}

// loopbackCandidates rewrites the connection address of every a=candidate
// line to 127.0.0.1 (see above).
func loopbackCandidates(b []byte) []byte {
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if !strings.HasPrefix(t, "a=candidate:") {
			continue
		}
		f := strings.Split(t, " ")
		if len(f) >= 5 {
			f[4] = "127.0.0.1"
		}
		lines[i] = strings.Join(f, " ")
		if strings.HasSuffix(l, "\r") {
			lines[i] += "\r"
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// FuzzWHIPOffer posts fuzzed offers to WHIP (/whip with the stream key as
// bearer) and WHEP (/whep/<show>): a body over the limit is 413, a wrong
// content type 415, nothing is ever a 5xx (the offer is the client's fault
// or it is answered), and a 201 has a Location, an SDP answer pion reads
// with an audio or a video section, and can be ended by its creator's
// bearer (the stream key, or the session token minted for a public viewer).
func FuzzWHIPOffer(f *testing.F) {
	s := newFuzzServer(f)
	s.adm.AddShow("show-fuzz", "key-fuzz")
	// A real offer from a pion publisher and one from a pion viewer.
	var pubOffer, subOffer string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pub, err := streamtest.Publish(ctx, s.signal(f, "/whip", "key-fuzz", &pubOffer, nil), streamtest.PublisherOptions{})
	if err != nil {
		f.Fatalf("a real WHIP offer: %v", err)
	}
	sub, err := streamtest.Subscribe(ctx, s.signal(f, "/whep/show-fuzz", "", &subOffer, nil))
	if err != nil {
		f.Fatalf("a real WHEP offer: %v", err)
	}
	pub.Close()
	sub.Close()
	for _, o := range []string{pubOffer, subOffer} {
		f.Add([]byte(o), "application/sdp", false)
		f.Add([]byte(o), "application/sdp", true)
		f.Add([]byte(strings.ReplaceAll(o, "\r\n", "\n")), "application/SDP; charset=utf-8", false)
		f.Add([]byte(o), "text/plain", true)
	}
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"), "application/sdp", false)
	f.Add([]byte("v=0\r\n"+strings.Repeat("a=x-padding:0123456789\r\n", 2800)), "application/sdp", false)
	f.Add([]byte("hello"), "application/sdp", true)
	var mu sync.Mutex // one offer at a time: each accepted WHIP offer replaces the show's publisher
	f.Fuzz(func(t *testing.T, body []byte, ctype string, whep bool) {
		mu.Lock()
		defer mu.Unlock()
		body = loopbackCandidates(body)
		path, bearer := "/whip", "key-fuzz"
		if whep {
			path, bearer = "/whep/show-fuzz", ""
		}
		status, h, answer := s.do(t, http.MethodPost, path, ctype, bearer, body)
		switch {
		case status >= 500:
			t.Fatalf("POST %s (%s, %d bytes): %d %q", path, ctype, len(body), status, answer)
		case len(body) > fuzzMaxBody && status != http.StatusRequestEntityTooLarge:
			t.Fatalf("POST %s with %d bytes (limit %d): %d", path, len(body), fuzzMaxBody, status)
		case status == http.StatusCreated && !regexp.MustCompile(`(?i)^application/sdp($|;)`).MatchString(strings.TrimSpace(ctype)):
			t.Fatalf("POST %s with Content-Type %q was answered 201", path, ctype)
		case status != http.StatusCreated:
			return
		}
		var d sdp.SessionDescription
		media := false
		if err := d.UnmarshalString(answer); err == nil {
			for _, m := range d.MediaDescriptions {
				media = media || m.MediaName.Media == "audio" || m.MediaName.Media == "video"
			}
		}
		loc := h.Get("Location")
		if !media || loc == "" || !strings.HasPrefix(h.Get("Content-Type"), "application/sdp") {
			t.Fatalf("201 for %.300q: Location %q, Content-Type %q, answer %q", body, loc, h.Get("Content-Type"), answer)
		}
		if bearer == "" { // a public viewer's session: its bearer is the token minted for it
			bearer = h.Get(whiphttp.HeaderSessionToken)
		}
		if status, _, msg := s.do(t, http.MethodDelete, loc, "", bearer, nil); status != http.StatusOK {
			t.Fatalf("DELETE %s by its creator: %d %q", loc, status, msg)
		}
	})
}

// FuzzWHIPTrickle PATCHes fuzzed sdpfrags (RFC 8840) onto a live WHIP
// session (a pion publisher through the same app; "UFRAG" in a fragment
// stands for the session's ICE ufrag): a body over the limit is 413, a wrong
// content type 415, no answer is a 5xx, and a PATCH is taken (2xx) only if
// it names no other ufrag (an ICE restart is 422) and carries at most 64
// candidates; with any other bearer than the stream key it is refused. The
// publisher is still connected afterwards.
func FuzzWHIPTrickle(f *testing.F) {
	s := newFuzzServer(f)
	s.adm.AddShow("show-1", "key-1")
	var loc string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pub, err := streamtest.Publish(ctx, s.signal(f, "/whip", "key-1", nil, &loc), streamtest.PublisherOptions{VideoBitrate: 50_000, FPS: 5, NoAudio: true})
	if err != nil {
		f.Fatalf("publish: %v", err)
	}
	f.Cleanup(pub.Close)
	if !streamtest.WaitFor(15*time.Second, func() bool { return pub.PC.ConnectionState() == webrtc.PeerConnectionStateConnected }) {
		f.Fatalf("the publisher did not connect: %s", pub.PC.ConnectionState())
	}
	ufrag := regexp.MustCompile(`a=ice-ufrag:(\S+)`).FindStringSubmatch(pub.PC.LocalDescription().SDP)[1]
	for _, fr := range []string{
		"a=ice-ufrag:UFRAG\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\na=end-of-candidates\r\n",
		"a=ice-ufrag:UFRAG\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n" +
			"a=candidate:1 1 UDP 2130706431 127.0.0.1 39132 typ host\r\na=candidate:2 1 UDP 1694498815 127.0.0.1 45664 typ srflx raddr 10.0.1.1 rport 8998\r\n",
		"a=candidate:842163049 1 udp 1677729535 127.0.0.1 54321 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag UFRAG network-cost 999\na=mid:0\n",
		"a=candidate:3 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active\r\n",
		"a=ice-ufrag:newufrag\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n",
		"a=end-of-candidates\r\n", "a=candidate:\r\n", "a=candidate:x\r\n", "hello\r\n", "",
		strings.Repeat("a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n", 65),
	} {
		f.Add([]byte(fr), "application/trickle-ice-sdpfrag", "")
	}
	f.Add([]byte("a=end-of-candidates\r\n"), "application/sdp", "key-2")
	f.Add([]byte("a=end-of-candidates\r\n"), "application/trickle-ice-sdpfrag", "key-1 ")
	f.Add([]byte(strings.Repeat("a=x:0123456789\r\n", 4100)), "application/trickle-ice-sdpfrag", "")
	f.Fuzz(func(t *testing.T, frag []byte, ctype, other string) {
		frag = loopbackCandidates([]byte(strings.ReplaceAll(string(frag), "UFRAG", ufrag)))
		// Anyone but the creator is refused, whatever the body.
		if strings.TrimSpace(other) != "key-1" && strings.Trim(other, " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") == "" {
			if status, _, msg := s.do(t, http.MethodPatch, loc, ctype, other, frag); status < 400 || status >= 500 {
				t.Fatalf("PATCH with bearer %q (not the stream key): %d %q", other, status, msg)
			}
		}
		status, _, msg := s.do(t, http.MethodPatch, loc, ctype, "key-1", frag)
		restart, cands := false, 0
		for _, l := range strings.Split(string(frag), "\n") {
			l = strings.TrimSpace(l)
			if u, ok := strings.CutPrefix(l, "a=ice-ufrag:"); ok && u != ufrag {
				restart = true
			}
			if strings.HasPrefix(l, "a=candidate:") {
				cands++
			}
		}
		switch {
		case status >= 500:
			t.Fatalf("PATCH (%s) %.300q: %d %q", ctype, frag, status, msg)
		case len(frag) > fuzzMaxBody && status != http.StatusRequestEntityTooLarge:
			t.Fatalf("PATCH with %d bytes (limit %d): %d", len(frag), fuzzMaxBody, status)
		case status < 300 && (restart || cands > 64):
			t.Fatalf("PATCH %.300q (a restart: %v, %d candidates) was taken: %d", frag, restart, cands, status)
		case status < 300 && !regexp.MustCompile(`(?i)^application/trickle-ice-sdpfrag($|;)`).MatchString(strings.TrimSpace(ctype)):
			t.Fatalf("PATCH with Content-Type %q was taken: %d", ctype, status)
		}
		if st := pub.PC.ConnectionState(); st != webrtc.PeerConnectionStateConnected {
			t.Fatalf("after PATCH %.300q the publisher is %s", frag, st)
		}
	})
}
