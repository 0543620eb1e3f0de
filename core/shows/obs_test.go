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
)

// obsHost is the lifecycle with a real SFU behind whiphttp on loopback: a
// pion publisher stands in for OBS and speaks WHIP to it.
type obsHost struct {
	*lifecycle
	url string
}

func newOBSHost(t *testing.T, liveOnPublish bool) *obsHost {
	l := newLifecycle(t)
	h := &obsHost{lifecycle: l}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	var sfu *stream.SFU
	l.liveOnPublish = liveOnPublish
	l.media = func(adm stream.Admission, lv stream.LivenessSink) (shows.Media, error) {
		var err error
		sfu, err = stream.New(stream.Config{Admission: adm, Liveness: lv, MediaTimeout: time.Second})
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
	var extra http.Header
	if replace {
		extra = http.Header{whiphttp.HeaderReplace: {"1"}}
	}
	var hdr http.Header
	return streamtest.Publish(ctx, streamtest.HTTPSignalExtra(h.url+"/whip", key, extra, &hdr), streamtest.PublisherOptions{})
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
	key, err := l.svc.StreamKey(l.ctx, l.model)
	if err != nil || !strings.HasPrefix(key, "sk_") {
		t.Fatalf("first use: %q %v", key, err)
	}
	// The same key before, during and after a show, and after a restart.
	sh, err := l.svc.GoLive(l.ctx, l.model)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := l.svc.StreamKey(l.ctx, l.model); got != key {
		t.Fatalf("on air the key is %q, want %q", got, key)
	}
	if id, err := l.svc.ResolveStreamKey(l.ctx, key); err != nil || id != sh.ID {
		t.Fatalf("resolve: %q %v, want %s", id, err, sh.ID)
	}
	if err := l.svc.EndShow(l.ctx, l.model); err != nil {
		t.Fatal(err)
	}
	l.start()
	if got, _ := l.svc.StreamKey(l.ctx, l.model); got != key {
		t.Fatalf("after a show and a restart the key is %q, want %q", got, key)
	}
	sh, err = l.svc.GoLive(l.ctx, l.model)
	if err != nil {
		t.Fatal(err)
	}

	fresh, err := l.svc.RotateStreamKey(l.ctx, l.model)
	if err != nil || fresh == key || fresh == "" {
		t.Fatalf("rotate: %q %v", fresh, err)
	}
	if _, err := l.svc.ResolveStreamKey(l.ctx, key); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("the old key after rotation: %v, want unauthenticated", err)
	}
	if id, err := l.svc.ResolveStreamKey(l.ctx, fresh); err != nil || id != sh.ID {
		t.Fatalf("the new key: %q %v, want %s", id, err, sh.ID)
	}
	l.start() // the rotation is kept, and the show on air holds the new key
	if got, _ := l.svc.StreamKey(l.ctx, l.model); got != fresh {
		t.Fatalf("after a restart the key is %q, want %q", got, fresh)
	}
	if _, err := l.svc.ResolveStreamKey(l.ctx, key); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("the old key after a restart: %v", err)
	}
	if id, err := l.svc.ResolveStreamKey(l.ctx, fresh); err != nil || id != sh.ID {
		t.Fatalf("the new key after a restart: %q %v", id, err)
	}
}

func TestWHIPPublishGoesLiveOnlyWithLiveOnPublish(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t.Run("off", func(t *testing.T) {
		h := newOBSHost(t, false)
		key, _ := h.svc.StreamKey(h.ctx, h.model)
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
		key, _ := h.svc.StreamKey(h.ctx, h.model)
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
		key, err := h.svc.StreamKey(h.ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.publish(ctx, key, false); func() int { s, _ := httpStatus(err); return s }() != http.StatusForbidden {
			t.Fatalf("an unapproved model's publish: %v", err)
		}
	})
}

func TestSecondPublisherIsRefusedUnlessSheSwitchesDevice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	h := newOBSHost(t, true)
	key, _ := h.svc.StreamKey(h.ctx, h.model)
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
