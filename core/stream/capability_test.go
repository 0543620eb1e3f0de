package stream_test

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/camkit/camkit/core/httperror"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/sdk/errs"
)

// randomBits is how many bits of randomness a URL-safe base64 value carries.
func randomBits(t *testing.T, what, v string) int {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("%s %q is not URL-safe base64: %v", what, v, err)
	}
	return 8 * len(b)
}

func TestSessionsAreUnguessableAndDistinctFromTheirWatchIDs(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	f.adm.AddSeat("tok", "show-1", "seat-1")
	var pub stream.Session
	p, err := streamtest.Publish(ctx(t), streamtest.PublishSession(f.sfu, "key-1", &pub), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	_, free := f.subscribeSession(t, "show-1", "")
	_, seat := f.subscribeSession(t, "show-1", "tok")

	seen := map[string]string{}
	for name, v := range map[string]string{
		"publisher id": pub.ID, "publisher watch id": pub.WatchID,
		"free viewer id": free.ID, "free viewer watch id": free.WatchID, "free viewer token": free.Token,
		"seat id": seat.ID, "seat watch id": seat.WatchID,
	} {
		if bits := randomBits(t, name, v); bits < 128 {
			t.Errorf("%s has %d random bits, want at least 128", name, bits)
		}
		if other, dup := seen[v]; dup {
			t.Errorf("%s equals %s", name, other)
		}
		seen[v] = name
	}
	// Only a viewer who sent no bearer gets one minted: the others hold theirs.
	if pub.Token != "" || seat.Token != "" {
		t.Errorf("a token was minted for a session created with a bearer: publisher %q, seat %q", pub.Token, seat.Token)
	}
}

// Every session can be ended only with the bearer that created it; a refusal
// leaves the media flowing.
func TestPatchAndEndNeedTheCreatorsBearer(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	f.adm.AddSeat("tok-a", "show-1", "seat-a")
	f.adm.AddSeat("tok-b", "show-1", "seat-b")
	var pub stream.Session
	p, err := streamtest.Publish(ctx(t), streamtest.PublishSession(f.sfu, "key-1", &pub), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	free, freeSess := f.subscribeSession(t, "show-1", "")
	other, otherSess := f.subscribeSession(t, "show-1", "")
	seat, seatSess := f.subscribeSession(t, "show-1", "tok-a")
	for _, v := range []*streamtest.Subscriber{free, other, seat} {
		receiving(t, v)
	}

	c := ctx(t)
	frag := []byte("a=end-of-candidates\r\n")
	type attempt struct {
		session, bearer string
		want            errs.Code
	}
	var tries []attempt
	for _, s := range []struct{ id, own string }{{pub.ID, "key-1"}, {freeSess.ID, freeSess.Token}, {seatSess.ID, "tok-a"}} {
		tries = append(tries, attempt{s.id, "", errs.Unauthenticated})
		for _, wrong := range []string{"key-1", freeSess.Token, otherSess.Token, "tok-a", "tok-b", pub.WatchID, freeSess.WatchID, s.id, "guess"} {
			if wrong != s.own {
				tries = append(tries, attempt{s.id, wrong, errs.Forbidden})
			}
		}
	}
	for _, a := range tries {
		if err := f.sfu.End(c, a.session, a.bearer); errs.CodeOf(err) != a.want {
			t.Errorf("End with bearer %q: %v, want %s", a.bearer, err, a.want)
		}
		if _, err := f.sfu.Patch(c, a.session, a.bearer, frag); errs.CodeOf(err) != a.want {
			t.Errorf("Patch with bearer %q: %v, want %s", a.bearer, err, a.want)
		}
	}
	if got := f.metric(t, "camkit_stream_session_requests_refused_total"); got != float64(2*len(tries)) {
		t.Errorf("refused session requests counted %v, want %d", got, 2*len(tries))
	}
	for name, v := range map[string]*streamtest.Subscriber{"free viewer": free, "other viewer": other, "seat": seat} {
		stillReceiving(t, name, v)
	}

	// The right bearers work: trickle on the seat, then each ends its own.
	if _, err := f.sfu.Patch(c, seatSess.ID, "tok-a", frag); err != nil {
		t.Fatalf("Patch with the seat token: %v", err)
	}
	if err := f.sfu.End(c, freeSess.ID, freeSess.Token); err != nil {
		t.Fatalf("End with the minted token: %v", err)
	}
	stopsWithin(t, "free viewer", free, time.Now(), time.Second)
	stillReceiving(t, "other viewer", other)
	if err := f.sfu.End(c, pub.ID, "key-1"); err != nil {
		t.Fatalf("End with the stream key: %v", err)
	}
	stopsWithin(t, "seat, its model gone", seat, time.Now(), time.Second)
}

func TestICERestartIsRefusedWith422(t *testing.T) {
	f := newFixture(t, nil)
	f.adm.AddShow("show-1", "key-1")
	_, sess := f.subscribeSession(t, "show-1", "")
	_, err := f.sfu.Patch(ctx(t), sess.ID, sess.Token, []byte("a=ice-ufrag:brandnew\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"))
	if errs.CodeOf(err) != errs.Unsupported || httperror.Status(err) != 422 {
		t.Fatalf("ICE restart: %v (status %d), want unsupported with 422", err, httperror.Status(err))
	}
}

func subscribeFrom(t *testing.T, f *fixture, show, token string, client netip.Addr) (*streamtest.Subscriber, stream.Session, error) {
	t.Helper()
	var sess stream.Session
	v, err := streamtest.Subscribe(ctx(t), streamtest.SubscribeRequest(f.sfu, stream.SubscribeRequest{ShowID: show, Token: token, Client: client}, &sess))
	if err == nil {
		t.Cleanup(v.Close)
	}
	return v, sess, err
}

// tooMany asserts err is the cap refusal of scope, answered 429 with a
// Retry-After.
func tooMany(t *testing.T, what string, err error, scope string) {
	t.Helper()
	var full *stream.TooManyViewersError
	if !errors.As(err, &full) || full.Scope != scope {
		t.Fatalf("%s: %v, want too many viewers per %s", what, err, scope)
	}
	if httperror.Status(err) != 429 || httperror.RetryAfterHeader(err) == "" || errs.CodeOf(err) != errs.Limit {
		t.Fatalf("%s: status %d, Retry-After %q, code %s; want 429 with Retry-After, errs.Limit",
			what, httperror.Status(err), httperror.RetryAfterHeader(err), errs.CodeOf(err))
	}
}

func TestViewerCapsPerClientAndPerShow(t *testing.T) {
	f := newFixture(t, func(c *stream.Config) { c.MaxViewersPerClient = 2; c.MaxViewersPerShow = 4 })
	f.adm.AddShow("show-1", "key-1")
	f.adm.AddShow("show-2", "key-2")
	f.adm.AddSeat("tok", "show-1", "seat-1")
	a := netip.MustParseAddr("198.51.100.7")
	b := netip.MustParseAddr("203.0.113.9")
	v6 := netip.MustParseAddr("2001:db8:1:2::10")
	v6Neighbour := netip.MustParseAddr("2001:db8:1:2:ffff::99") // same /64
	v6Elsewhere := netip.MustParseAddr("2001:db8:1:3::10")      // another /64

	// Per client: two from a; the third is refused, on any show.
	_, a1, err := subscribeFrom(t, f, "show-1", "", a)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := subscribeFrom(t, f, "show-2", "", a); err != nil {
		t.Fatal(err)
	}
	_, _, err = subscribeFrom(t, f, "show-1", "", a)
	tooMany(t, "third stream from one address", err, "client")

	// An IPv6 client counts by its /64.
	for _, addr := range []netip.Addr{v6, v6Neighbour} {
		if _, _, err := subscribeFrom(t, f, "show-2", "", addr); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = subscribeFrom(t, f, "show-2", "", netip.MustParseAddr("2001:db8:1:2::abcd"))
	tooMany(t, "third stream from one /64", err, "client")
	if _, _, err := subscribeFrom(t, f, "show-2", "", v6Elsewhere); err != nil {
		t.Fatalf("another /64 is another client: %v", err)
	}

	// Per show: show-1 has a1; b brings it to 2, and a seat to 3.
	if _, _, err := subscribeFrom(t, f, "show-1", "", b); err != nil {
		t.Fatal(err)
	}
	if _, _, err := subscribeFrom(t, f, "show-1", "tok", a); err != nil {
		t.Fatalf("a seat from an address at its cap: %v", err)
	}
	if _, _, err := subscribeFrom(t, f, "show-1", "", b); err != nil {
		t.Fatal(err)
	}
	_, _, err = subscribeFrom(t, f, "show-1", "", v6Elsewhere)
	tooMany(t, "fifth viewer of a show capped at 4", err, "show")
	// A paying seat is never locked out by free viewers: its new session
	// replaces its old one, still over the cap.
	if _, _, err := subscribeFrom(t, f, "show-1", "tok", v6Elsewhere); err != nil {
		t.Fatalf("the seat reconnecting to a full show: %v", err)
	}

	// Closing a session frees its slot, per client and per show.
	if err := f.sfu.End(ctx(t), a1.ID, a1.Token); err != nil {
		t.Fatal(err)
	}
	if _, _, err := subscribeFrom(t, f, "show-1", "", a); err != nil {
		t.Fatalf("after closing one, the address gets a stream again: %v", err)
	}
	if got := f.metric(t, "camkit_stream_refused_total"); got != 3 {
		t.Errorf("refused offers counted %v, want 3", got)
	}
}

// Offers that fail after their slot was taken (an SDP pion cannot answer) and
// viewers the SFU cuts give it back: the cap counts live sessions only.
func TestFailedAndClosedViewersGiveTheirSlotBack(t *testing.T) {
	f := newFixture(t, func(c *stream.Config) { c.MaxViewersPerClient = 1 })
	f.adm.AddShow("show-1", "key-1")
	a := netip.MustParseAddr("198.51.100.7")
	// Parses (it has a video section) but pion cannot answer it: no ICE
	// credentials, no fingerprint.
	bad := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=rtpmap:96 VP8/90000\r\n"
	for i := 0; i < 3; i++ {
		_, err := f.sfu.Subscribe(ctx(t), stream.SubscribeRequest{ShowID: "show-1", OfferSDP: bad, Client: a})
		if errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("bad offer: %v, want invalid", err)
		}
	}
	if _, _, err := subscribeFrom(t, f, "show-1", "", a); err != nil {
		t.Fatalf("after failed offers the address still gets its stream: %v", err)
	}
	// The show turns private: the free viewer is cut and its slot frees
	// without any DELETE.
	f.sfu.SetMode("show-1", stream.ModePrivate)
	f.sfu.SetMode("show-1", stream.ModePublic)
	if _, _, err := subscribeFrom(t, f, "show-1", "", a); err != nil {
		t.Fatalf("a viewer cut by the show going private still holds its slot: %v", err)
	}
}
