package thumbnail_test

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/core/thumbnail"
	"github.com/camkit/camkit/internal/testbin"
)

type fixture struct {
	sfu   *stream.SFU
	adm   *streamtest.Admission
	thumb *thumbnail.Service
	reg   *prometheus.Registry
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{adm: streamtest.NewAdmission(), reg: prometheus.NewRegistry()}
	sfu, err := stream.New(stream.Config{Admission: f.adm, LivenessTick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sfu.Close() })
	f.sfu = sfu
	f.thumb, err = thumbnail.New(sfu, thumbnail.Options{Every: time.Second, Tick: 200 * time.Millisecond, Registerer: f.reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.thumb.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func (f *fixture) publish(t *testing.T, show string, o streamtest.MediaOptions) {
	t.Helper()
	f.publishFor(t, show, o, 3)
}

// publishFor loops a pattern of the given seconds.
func (f *fixture) publishFor(t *testing.T, show string, o streamtest.MediaOptions, seconds int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	frames, err := streamtest.EncodeTestPattern(ctx, t.TempDir(), o, seconds)
	if err != nil {
		t.Fatal(err)
	}
	f.adm.AddShow(show, "key-"+show)
	p, err := streamtest.PublishMedia(ctx, streamtest.PublishDirect(f.sfu, "key-"+show), o, frames)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	t.Cleanup(p.Close)
}

// A real pion WHIP publisher sending H.264 or VP8 (ffmpeg's test pattern):
// the show's decoded JPEG is there within 10 s, of the stream's size, and
// served with its ETag; a repeat with If-None-Match is a 304.
func TestLiveShowGetsADecodedJPEGWithinTenSeconds(t *testing.T) {
	testbin.Need(t, "ffmpeg", "ffmpeg")
	for _, c := range []struct {
		name string
		opts streamtest.MediaOptions
	}{
		{"H264", streamtest.MediaOptions{H264: true, Width: 320, Height: 240}},
		{"VP8", streamtest.MediaOptions{Width: 352, Height: 288}},
		// Parameter sets with the first keyframe only: the SFU keeps them.
		{"H264HeadersOnce", streamtest.MediaOptions{H264: true, HeadersOnce: true, Width: 320, Height: 240}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			start := time.Now()
			f.publish(t, "show-1", c.opts)
			var fr thumbnail.Frame
			if !streamtest.WaitFor(10*time.Second-time.Since(start), func() bool {
				var ok bool
				fr, ok = f.thumb.Frame("show-1")
				return ok
			}) {
				t.Fatalf("no thumbnail within 10 s; snapshots: %v", counts(t, f.reg))
			}
			t.Logf("%s thumbnail after %v (%d bytes)", c.name, time.Since(start).Round(time.Millisecond), len(fr.JPEG))
			img, err := jpeg.Decode(bytes.NewReader(fr.JPEG))
			if err != nil {
				t.Fatalf("not a JPEG: %v", err)
			}
			if b := img.Bounds(); b.Dx() != c.opts.Width || b.Dy() != c.opts.Height {
				t.Fatalf("thumbnail is %v, the stream %dx%d", b, c.opts.Width, c.opts.Height)
			}
			// testsrc is colour bars and a gradient, not one flat colour:
			// the decoder really decoded the picture.
			if flat(img) {
				t.Fatal("the thumbnail is one flat colour")
			}

			app := fiber.New()
			app.Get("/t/:show", func(c *fiber.Ctx) error { return f.thumb.Serve(c, c.Params("show"), true) })
			resp, body := get(t, app, "/t/show-1", "")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || resp.Header.Get("ETag") == "" ||
				resp.Header.Get("Cache-Control") != "private, no-cache" {
				t.Fatalf("GET: %d %v", resp.StatusCode, resp.Header)
			}
			if _, err := jpeg.Decode(bytes.NewReader(body)); err != nil {
				t.Fatalf("served body is not a JPEG: %v", err)
			}
			if resp2, _ := get(t, app, "/t/show-1", resp.Header.Get("ETag")); resp2.StatusCode != 304 && resp2.Header.Get("ETag") == resp.Header.Get("ETag") {
				t.Fatalf("If-None-Match with the current ETag: %d", resp2.StatusCode)
			}
		})
	}
}

// A show whose encoder sends a keyframe only every 20 s (and ignores
// keyframe requests, as OBS's x264 does) does not hold back the picture of
// a show that comes on air after it.
func TestSlowKeyframesHoldNoOtherShowBack(t *testing.T) {
	testbin.Need(t, "ffmpeg", "ffmpeg")
	f := newFixture(t)
	f.publishFor(t, "slow", streamtest.MediaOptions{H264: true, KeyframeEvery: 15 * 20}, 21)
	time.Sleep(1500 * time.Millisecond) // its snapshot is waiting now
	start := time.Now()
	f.publish(t, "fast", streamtest.MediaOptions{})
	if !streamtest.WaitFor(10*time.Second, func() bool { _, ok := f.thumb.Frame("fast"); return ok }) {
		t.Fatalf("no thumbnail of the second show within 10 s; snapshots: %v", counts(t, f.reg))
	}
	t.Logf("second show's thumbnail after %v", time.Since(start).Round(time.Millisecond))
}

// A private show exposes no frame: the picture taken while public is
// dropped the moment the mode changes, the SFU hands over no keyframe, the
// handler serves the placeholder; back in public a new one is taken.
func TestPrivateShowServesNoFrame(t *testing.T) {
	testbin.Need(t, "ffmpeg", "ffmpeg")
	f := newFixture(t)
	f.publish(t, "show-1", streamtest.MediaOptions{H264: true})
	if !streamtest.WaitFor(10*time.Second, func() bool { _, ok := f.thumb.Frame("show-1"); return ok }) {
		t.Fatal("no thumbnail of the public show")
	}
	f.sfu.SetMode("show-1", stream.ModePrivate)
	if _, ok := f.thumb.Frame("show-1"); ok {
		t.Fatal("a private show's thumbnail is still served")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := f.sfu.Keyframe(ctx, "show-1"); err == nil {
		t.Fatal("the SFU handed over a private show's keyframe")
	}
	app := fiber.New()
	app.Get("/t/:show", func(c *fiber.Ctx) error { return f.thumb.Serve(c, c.Params("show"), true) })
	// Over several snapshot periods, nothing but the placeholder.
	ph, _, _ := thumbnail.Placeholder()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		resp, body := get(t, app, "/t/show-1", "")
		if resp.Header.Get("Content-Type") != "image/svg+xml" || !bytes.Equal(body, ph) {
			t.Fatalf("a private show served %s", resp.Header.Get("Content-Type"))
		}
	}
	f.sfu.SetMode("show-1", stream.ModePublic)
	if !streamtest.WaitFor(10*time.Second, func() bool { _, ok := f.thumb.Frame("show-1"); return ok }) {
		t.Fatal("no new thumbnail once the show is public again")
	}
	// The host's word wins: a show the host does not call public gets the
	// placeholder even while the SFU has a frame.
	resp, _ := get(t, app, "/t/show-1", "")
	if resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("public again: %s", resp.Header.Get("Content-Type"))
	}
	app2 := fiber.New()
	app2.Get("/t/:show", func(c *fiber.Ctx) error { return f.thumb.Serve(c, c.Params("show"), false) })
	if resp, _ := get(t, app2, "/t/show-1", ""); resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("a show the host calls private served %s", resp.Header.Get("Content-Type"))
	}
}

func get(t *testing.T, app *fiber.App, path, inm string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if inm != "" {
		req.Header.Set("If-None-Match", inm)
	}
	resp, err := app.Test(req, 5000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// flat reports whether every pixel has one colour.
func flat(img image.Image) bool {
	b := img.Bounds()
	r0, g0, b0, _ := img.At(b.Min.X, b.Min.Y).RGBA()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			if r, g, bb, _ := img.At(x, y).RGBA(); r != r0 || g != g0 || bb != b0 {
				return false
			}
		}
	}
	return true
}

// counts reads camkit_thumbnails_total by result.
func counts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "camkit_thumbnails_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}
