package shows_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/pion/webrtc/v4"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/core/stream/whiphttp"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/theme"
)

// obsHost is the lifecycle with a real SFU behind whiphttp on loopback: a
// pion publisher stands in for OBS and speaks WHIP to it.
type obsHost struct {
	*lifecycle
	url string
}

func newOBSHost(t *testing.T, liveOnPublish bool) *obsHost {
	return newOBSHostWith(t, liveOnPublish, time.Second)
}

// newOBSHostWith is newOBSHost with the SFU's stream.media_timeout.
func newOBSHostWith(t *testing.T, liveOnPublish bool, mediaTimeout time.Duration) *obsHost {
	l := newLifecycle(t)
	h := &obsHost{lifecycle: l}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	var sfu *stream.SFU
	l.liveOnPublish = liveOnPublish
	l.media = func(adm stream.Admission, lv stream.LivenessSink) (shows.Media, error) {
		var err error
		sfu, err = stream.New(stream.Config{Admission: adm, Liveness: lv, MediaTimeout: mediaTimeout})
		return sfu, err
	}
	l.start()
	t.Cleanup(func() { _ = sfu.Close() })
	whiphttp.Mount(app, sfu, whiphttp.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	h.url = "http://" + ln.Addr().String()
	return h
}

// publish is OBS (or, with replace, the dashboard's "go live with this
// browser") publishing with key.
func (h *obsHost) publish(ctx context.Context, key string, replace bool) (*streamtest.Publisher, error) {
	p, _, err := h.publishAt(ctx, key, replace)
	return p, err
}

// publishAt is publish returning the session's URL too.
func (h *obsHost) publishAt(ctx context.Context, key string, replace bool) (*streamtest.Publisher, string, error) {
	var extra http.Header
	if replace {
		extra = http.Header{whiphttp.HeaderReplace: {"1"}}
	}
	var hdr http.Header
	p, err := streamtest.Publish(ctx, streamtest.HTTPSignalExtra(h.url+"/whip", key, extra, &hdr), streamtest.PublisherOptions{})
	if err != nil {
		return nil, "", err
	}
	return p, h.url + hdr.Get("Location"), nil
}

func gone(pc *webrtc.PeerConnection) bool {
	s := pc.ConnectionState()
	return s == webrtc.PeerConnectionStateClosed || s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateDisconnected
}

func (h *obsHost) publishing(t *testing.T) bool {
	sh, ok, err := h.svc.ShowOfModel(h.ctx, h.model)
	if err != nil {
		t.Fatal(err)
	}
	return ok && sh.Publishing
}

func httpStatus(err error) (int, string) {
	var he *streamtest.HTTPError
	if errors.As(err, &he) {
		return he.Status, he.Body
	}
	return 0, ""
}

func TestStreamKeyIsPersistentAndRotationRefusesTheOldOne(t *testing.T) {
	l := newLifecycle(t)
	first, err := l.svc.StreamKey(l.ctx, l.model)
	key := first.Key
	if err != nil || !strings.HasPrefix(key, "sk_") || first.Hint != shows.StreamKeyHint(key) {
		t.Fatalf("first use: %+v %v", first, err)
	}
	// Shown once: from then on the hint only, the same key before, during
	// and after a show, and after a restart.
	hidden := shows.StreamKeyView{Hint: first.Hint}
	sh, err := l.svc.GoLive(l.ctx, l.model)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := l.svc.StreamKey(l.ctx, l.model); got != hidden {
		t.Fatalf("on air the dashboard sees %+v, want %+v", got, hidden)
	}
	if id, err := l.svc.ResolveStreamKey(l.ctx, key); err != nil || id != sh.ID {
		t.Fatalf("resolve: %q %v, want %s", id, err, sh.ID)
	}
	if err := l.svc.EndShow(l.ctx, l.model); err != nil {
		t.Fatal(err)
	}
	l.start()
	if got, _ := l.svc.StreamKey(l.ctx, l.model); got != hidden {
		t.Fatalf("after a show and a restart the dashboard sees %+v, want %+v", got, hidden)
	}
	sh, err = l.svc.GoLive(l.ctx, l.model)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := l.svc.ResolveStreamKey(l.ctx, key); err != nil || id != sh.ID {
		t.Fatalf("the key after a restart: %q %v, want %s", id, err, sh.ID)
	}

	fresh, err := l.svc.RotateStreamKey(l.ctx, l.model)
	if err != nil || fresh == key || fresh == "" {
		t.Fatalf("rotate: %q %v", fresh, err)
	}
	// The dashboard the rotation redirects to shows the new key, once.
	if got, _ := l.svc.StreamKey(l.ctx, l.model); got.Key != fresh || got.Hint != shows.StreamKeyHint(fresh) {
		t.Fatalf("after rotating the dashboard sees %+v, want the new key %q", got, fresh)
	}
	if got, _ := l.svc.StreamKey(l.ctx, l.model); got.Key != "" {
		t.Fatalf("the new key is shown a second time: %+v", got)
	}
	if _, err := l.svc.ResolveStreamKey(l.ctx, key); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("the old key after rotation: %v, want unauthenticated", err)
	}
	if id, err := l.svc.ResolveStreamKey(l.ctx, fresh); err != nil || id != sh.ID {
		t.Fatalf("the new key: %q %v, want %s", id, err, sh.ID)
	}
	l.start() // the rotation is kept, and the show on air holds the new key
	if got, _ := l.svc.StreamKey(l.ctx, l.model); got != (shows.StreamKeyView{Hint: shows.StreamKeyHint(fresh)}) {
		t.Fatalf("after a restart the dashboard sees %+v", got)
	}
	if _, err := l.svc.ResolveStreamKey(l.ctx, key); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("the old key after a restart: %v", err)
	}
	if id, err := l.svc.ResolveStreamKey(l.ctx, fresh); err != nil || id != sh.ID {
		t.Fatalf("the new key after a restart: %q %v", id, err)
	}
}

// The live tables hold digests only: nothing read from the database
// publishes, while the key itself does.
func TestTheDatabaseHoldsNoUsableStreamKey(t *testing.T) {
	l := newLifecycle(t)
	l.live = shows.NewSQLStore(l.db)
	l.start()
	key := l.keyOf()
	sh, err := l.svc.GoLive(l.ctx, l.model)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := l.svc.RotateStreamKey(l.ctx, l.model)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, q := range []string{
		"SELECT model_id || ' ' || key_digest || ' ' || key_hint || ' ' || CAST(created_at AS TEXT) FROM shows_stream_keys",
		"SELECT id || ' ' || model_id || ' ' || key_digest FROM shows_broadcasts",
	} {
		rows, err := l.db.SQL().QueryContext(l.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			stored = append(stored, v)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(stored) != 2 {
		t.Fatalf("rows: %q, want her key and her broadcast", stored)
	}
	for _, v := range stored {
		for _, k := range []string{key, fresh, key[3:], fresh[3:]} {
			if strings.Contains(v, k) {
				t.Fatalf("a stream key is in the database: %q", v)
			}
		}
		if !strings.Contains(v, shows.StreamKeyDigest(fresh)) {
			t.Fatalf("row %q does not hold the current key's digest", v)
		}
		// What the database holds does not publish.
		for _, word := range strings.Fields(v) {
			if _, err := l.svc.ResolveStreamKey(l.ctx, word); errs.CodeOf(err) != errs.Unauthenticated {
				t.Fatalf("the stored %q publishes: %v", word, err)
			}
		}
	}
	if id, err := l.svc.ResolveStreamKey(l.ctx, fresh); err != nil || id != sh.ID {
		t.Fatalf("the key itself: %q %v", id, err)
	}
}

func TestWHIPPublishGoesLiveOnlyWithLiveOnPublish(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t.Run("off", func(t *testing.T) {
		h := newOBSHost(t, false)
		key := h.keyOf()
		_, err := h.publish(ctx, key, false)
		if st, body := httpStatus(err); st != http.StatusForbidden || !strings.Contains(body, "go live from your dashboard") {
			t.Fatalf("publish while offline without live_on_publish: %d %q %v", st, body, err)
		}
		if _, ok, _ := h.svc.ShowOfModel(h.ctx, h.model); ok {
			t.Fatal("she went live")
		}
	})
	t.Run("on", func(t *testing.T) {
		h := newOBSHost(t, true)
		key := h.keyOf()
		if _, err := h.publish(ctx, "sk_nobody", false); func() int { s, _ := httpStatus(err); return s }() != http.StatusUnauthorized {
			t.Fatalf("an unknown key: %v", err)
		}
		pub, err := h.publish(ctx, key, false)
		if err != nil {
			t.Fatalf("OBS publishes: %v", err)
		}
		defer pub.Close()
		sh, ok, err := h.svc.ShowOfModel(h.ctx, h.model)
		if err != nil || !ok {
			t.Fatalf("the publish did not take her live: %v", err)
		}
		if !streamtest.WaitFor(10*time.Second, func() bool { return h.publishing(t) }) {
			t.Fatal("her media never flowed")
		}
		v, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(h.url+"/whep/"+sh.ID, "", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		if !streamtest.WaitFor(10*time.Second, func() bool { return v.Video.Keyframes.Load() > 0 }) {
			t.Fatal("a viewer sees nothing of the OBS stream")
		}
	})
	t.Run("unapproved", func(t *testing.T) {
		h := newOBSHost(t, true)
		other := h.user("new@example.com", "New", accounts.RoleModel)
		v, err := h.svc.StreamKey(h.ctx, other)
		if err != nil || v.Key == "" {
			t.Fatalf("her key: %+v %v", v, err)
		}
		key := v.Key
		if _, err := h.publish(ctx, key, false); func() int { s, _ := httpStatus(err); return s }() != http.StatusForbidden {
			t.Fatalf("an unapproved model's publish: %v", err)
		}
	})
}

func TestSecondPublisherIsRefusedUnlessSheSwitchesDevice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	h := newOBSHost(t, true)
	key := h.keyOf()
	obs, err := h.publish(ctx, key, false)
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	if !streamtest.WaitFor(10*time.Second, func() bool { return h.publishing(t) }) {
		t.Fatal("OBS media never flowed")
	}

	// A second device (the dashboard's camera, opened without asking) is
	// refused with a reason, and OBS stays on air.
	_, err = h.publish(ctx, key, false)
	st, body := httpStatus(err)
	if st != http.StatusConflict || !strings.Contains(body, "another device is already streaming") {
		t.Fatalf("second publisher: %d %q %v", st, body, err)
	}
	time.Sleep(500 * time.Millisecond)
	if s := obs.PC.ConnectionState(); s != webrtc.PeerConnectionStateConnected {
		t.Fatalf("OBS after the refused second publisher: %s", s)
	}

	// Her explicit switch replaces OBS.
	cam, err := h.publish(ctx, key, true)
	if err != nil {
		t.Fatalf("switch device: %v", err)
	}
	defer cam.Close()
	if !streamtest.WaitFor(10*time.Second, func() bool {
		s := obs.PC.ConnectionState()
		return s == webrtc.PeerConnectionStateClosed || s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateDisconnected
	}) {
		t.Fatalf("OBS is still connected after the switch: %s", obs.PC.ConnectionState())
	}
	if !streamtest.WaitFor(10*time.Second, func() bool { return cam.PC.ConnectionState() == webrtc.PeerConnectionStateConnected }) {
		t.Fatal("the switched-to publisher never connected")
	}

	// Once the on-air publisher is gone (its media seen stopped), the
	// encoder comes back with the same key: the show and its id are kept.
	sh, _, _ := h.svc.ShowOfModel(h.ctx, h.model)
	cam.Close()
	if !streamtest.WaitFor(10*time.Second, func() bool { return !h.publishing(t) }) {
		t.Fatal("media still flowing after the publisher left")
	}
	back, err := h.publish(ctx, key, false)
	if err != nil {
		t.Fatalf("reconnect after the gap: %v", err)
	}
	defer back.Close()
	if again, ok, _ := h.svc.ShowOfModel(h.ctx, h.model); !ok || again.ID != sh.ID {
		t.Fatalf("the show after the reconnect: %+v %v, want %s", again, ok, sh.ID)
	}
}

// OBS's connection drops (its packets stop: the network went, the encoder
// froze) and it reconnects with the same key at once, well within
// stream.media_timeout (3 s, the default): the stalled session no longer
// holds the show, so the first retry is admitted and replaces it. The show,
// its private seat and its viewer are kept, and the new media reaches the
// viewer. While the first encoder's media flowed, a second device was
// refused.
func TestOBSReconnectIsAdmittedOnceItsMediaStalled(t *testing.T) {
	cuts := map[string]func(*streamtest.Publisher){
		// The network went or the encoder froze: nothing arrives, the
		// connection still looks up.
		"packets stop": func(p *streamtest.Publisher) { p.SetSending(false) },
		// OBS closed its connection without a DELETE.
		"connection closed": func(p *streamtest.Publisher) { _ = p.PC.Close() },
	}
	for name, cut := range cuts {
		t.Run(name, func(t *testing.T) { testOBSReconnect(t, cut) })
	}
}

func testOBSReconnect(t *testing.T, drop func(*streamtest.Publisher)) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	h := newOBSHostWith(t, true, 3*time.Second)
	key := h.keyOf()
	obs, err := h.publish(ctx, key, false)
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	if !streamtest.WaitFor(10*time.Second, func() bool { return h.publishing(t) }) {
		t.Fatal("OBS media never flowed")
	}
	sh, _, _ := h.svc.ShowOfModel(h.ctx, h.model)
	seat, err := h.svc.Accept(h.ctx, h.model, h.ask(sh.ID, "Ann").ID, shows.AcceptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(h.url+"/whep/"+sh.ID, seat.Token, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if !streamtest.WaitFor(10*time.Second, func() bool {
		st, err := h.svc.Seat(h.ctx, h.model, seat.ID)
		return err == nil && st.Billing
	}) {
		t.Fatal("the seat never billed")
	}

	// A live encoder keeps the show: another device is refused.
	if _, err := h.publish(ctx, key, false); func() int { s, _ := httpStatus(err); return s }() != http.StatusConflict {
		t.Fatalf("a second device while OBS streams: %v, want 409", err)
	}
	if gone(obs.PC) {
		t.Fatal("the refused publish cut OBS")
	}

	drop(obs) // no DELETE
	cut := time.Now()
	time.Sleep(1300 * time.Millisecond) // the encoder's reconnect delay
	back, err := h.publish(ctx, key, false)
	if err != nil {
		t.Fatalf("OBS's first reconnect %v after the drop: %v", time.Since(cut).Round(time.Millisecond), err)
	}
	defer back.Close()
	took := time.Since(cut)
	if took > 2500*time.Millisecond {
		t.Fatalf("admitted %v after the drop", took)
	}
	t.Logf("the first reconnect was admitted %v after the drop (media_timeout 3 s)", took.Round(time.Millisecond))
	if again, ok, _ := h.svc.ShowOfModel(h.ctx, h.model); !ok || again.ID != sh.ID || again.Mode != theme.ModePrivate {
		t.Fatalf("the show after the reconnect: %+v %v, want %s kept, private", again, ok, sh.ID)
	}
	if !streamtest.WaitFor(5*time.Second, func() bool { return gone(obs.PC) }) {
		t.Fatalf("the dropped session was not replaced: %s", obs.PC.ConnectionState())
	}
	keys := v.Video.Keyframes.Load()
	if !streamtest.WaitFor(10*time.Second, func() bool { return v.Video.Keyframes.Load() > keys }) {
		t.Fatal("the viewer sees nothing of the reconnected encoder")
	}
	if !streamtest.WaitFor(10*time.Second, func() bool {
		st, err := h.svc.Seat(h.ctx, h.model, seat.ID)
		return err == nil && st.Open && st.Billing
	}) {
		st, err := h.svc.Seat(h.ctx, h.model, seat.ID)
		t.Fatalf("the seat after the reconnect: %+v %v, want open and billing again", st, err)
	}
}

// Rotating the key cuts off the publisher on air with the old one, as its
// DELETE would; the show stays on air for OBS to come back with the new
// key, and the old key is refused.
func TestRotatingTheKeyCutsOffItsPublisher(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	h := newOBSHostWith(t, true, 3*time.Second)
	key := h.keyOf()
	obs, session, err := h.publishAt(ctx, key, false)
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	if !streamtest.WaitFor(10*time.Second, func() bool { return h.publishing(t) }) {
		t.Fatal("OBS media never flowed")
	}
	sh, _, _ := h.svc.ShowOfModel(h.ctx, h.model)

	fresh, err := h.svc.RotateStreamKey(h.ctx, h.model)
	if err != nil {
		t.Fatal(err)
	}
	if !streamtest.WaitFor(3*time.Second, func() bool { return gone(obs.PC) }) {
		t.Fatalf("the publisher with the old key is still on: %s", obs.PC.ConnectionState())
	}
	// Its session is over, as after a DELETE.
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, session, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("DELETE of the cut session: %d, want 404", resp.StatusCode)
	}
	if again, ok, _ := h.svc.ShowOfModel(h.ctx, h.model); !ok || again.ID != sh.ID || again.Publishing {
		t.Fatalf("the show after the rotation: %+v %v, want %s on air without media", again, ok, sh.ID)
	}
	if _, err := h.publish(ctx, key, false); func() int { s, _ := httpStatus(err); return s }() != http.StatusUnauthorized {
		t.Fatalf("OBS reconnecting with the old key: %v, want 401", err)
	}
	back, err := h.publish(ctx, fresh, false)
	if err != nil {
		t.Fatalf("OBS with the new key: %v", err)
	}
	defer back.Close()
	if again, ok, _ := h.svc.ShowOfModel(h.ctx, h.model); !ok || again.ID != sh.ID {
		t.Fatalf("the show with the new key: %+v %v, want %s", again, ok, sh.ID)
	}
	if !streamtest.WaitFor(10*time.Second, func() bool { return h.publishing(t) }) {
		t.Fatal("the new key's media never flowed")
	}
}

// The dashboard's own camera publishes with a pass, not the key (which the
// page can no longer read): the pass publishes to her show like the key,
// another model's show is out of its reach, and rotating her key ends it.
func TestCameraPassPublishesUntilSheRotates(t *testing.T) {
	l := newLifecycle(t)
	sh, err := l.svc.GoLive(l.ctx, l.model)
	if err != nil {
		t.Fatal(err)
	}
	pass, err := l.svc.CameraPass(l.ctx, l.model)
	if err != nil || !strings.HasPrefix(pass, "cp_") {
		t.Fatalf("pass: %q %v", pass, err)
	}
	if id, err := l.svc.ResolveStreamKey(l.ctx, pass); err != nil || id != sh.ID {
		t.Fatalf("the pass resolves to %q %v, want %s", id, err, sh.ID)
	}
	if _, err := l.svc.ResolveStreamKey(l.ctx, pass+"x"); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("a wrong pass: %v", err)
	}
	if _, err := l.svc.RotateStreamKey(l.ctx, l.model); err != nil {
		t.Fatal(err)
	}
	if _, err := l.svc.ResolveStreamKey(l.ctx, pass); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("the pass after a rotation: %v, want unauthenticated", err)
	}
	again, _ := l.svc.CameraPass(l.ctx, l.model)
	if id, err := l.svc.ResolveStreamKey(l.ctx, again); err != nil || id != sh.ID {
		t.Fatalf("a new page's pass: %q %v", id, err)
	}
}
