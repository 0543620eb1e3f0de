package app_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/internal/testbin"
)

// publishPattern streams ffmpeg's test pattern in H.264 (or VP8) from a
// pion WHIP client with the model's stream key, as OBS would.
func (w *world) publishPattern(t *testing.T, h264 bool) *streamtest.MediaPublisher {
	t.Helper()
	var my struct {
		StreamKey string `json:"stream_key"`
		WHIPURL   string `json:"whip_url"`
	}
	w.model.api(http.MethodGet, "/me/show", nil, "").must(t, http.StatusOK, "my show").json(t, &my)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := streamtest.MediaOptions{H264: h264}
	frames, err := streamtest.EncodeTestPattern(ctx, t.TempDir(), o, 3)
	if err != nil {
		t.Fatal(err)
	}
	whip := my.WHIPURL
	if strings.HasPrefix(whip, "/") {
		whip = w.url + whip
	}
	p, err := streamtest.PublishMedia(ctx, streamtest.HTTPSignal(whip, my.StreamKey, nil), o, frames)
	if err != nil {
		t.Fatalf("WHIP through the host: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// fetch GETs path as b and returns the status, content type and body.
func (b *browser) fetch(t *testing.T, path string) (int, string, []byte) {
	t.Helper()
	resp, err := b.c.Get(b.s.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// The done-when of issue 12 on the assembled host: a model streams H.264
// from a pion WHIP client; within 10 s a visitor's home grid links a
// thumbnail that is the decoded picture; counts take WHEP viewers and
// chat (the larger of the two) on the grid, the room, the API and
// /metrics; a private show serves no frame; a show whose publisher left
// drops off the grid within media_timeout + reconnect_grace.
func TestThumbnailsCountsAndPresenceThroughTheHost(t *testing.T) {
	testbin.Need(t, "ffmpeg", "ffmpeg")
	w := newWorldOn(t, newSite(t, func(c *config.Config) {
		c.Stream.MediaTimeout = config.Duration{Duration: time.Second}
		c.Stream.ReconnectGrace = config.Duration{Duration: 2 * time.Second}
		c.Stream.ThumbnailEvery = config.Duration{Duration: time.Second}
	}))
	visitor := w.site.browser("visitor")
	visitor.passAge()
	start := time.Now()
	pub := w.publishPattern(t, true)

	thumb := "/shows/" + w.showID + "/thumbnail"
	var pic []byte
	if !streamtest.WaitFor(10*time.Second-time.Since(start), func() bool {
		if !strings.Contains(visitor.get("/").body, thumb) {
			return false
		}
		st, ct, body := visitor.fetch(t, thumb)
		pic = body
		return st == http.StatusOK && ct == "image/jpeg"
	}) {
		t.Fatal("no thumbnail on the home grid within 10 s")
	}
	t.Logf("thumbnail on the grid %v after the publish began", time.Since(start).Round(time.Millisecond))
	if img, err := jpeg.Decode(bytes.NewReader(pic)); err != nil || img.Bounds().Dx() != 320 {
		t.Fatalf("the thumbnail is not the stream's picture: %v", err)
	}
	if room := visitor.get("/shows/"+w.showID).must(t, http.StatusOK, "room").body; !strings.Contains(room, `poster="`+thumb+`"`) {
		t.Fatal("the room's player has no poster")
	}

	// Counts: two WHEP viewers, then three chat connections as well.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 2; i++ {
		v, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+"/whep/"+w.showID, "", nil))
		if err != nil {
			t.Fatalf("WHEP: %v", err)
		}
		defer v.Close()
	}
	viewers := func() int {
		var shows []struct {
			ID      string `json:"id"`
			Viewers int    `json:"viewers"`
		}
		visitor.api(http.MethodGet, "/shows", nil, "").must(t, http.StatusOK, "shows").json(t, &shows)
		for _, s := range shows {
			if s.ID == w.showID {
				return s.Viewers
			}
		}
		return -1
	}
	if !streamtest.WaitFor(5*time.Second, func() bool { return viewers() == 2 }) {
		t.Fatalf("two WHEP viewers count %d", viewers())
	}
	var chats []*socket
	for _, b := range []*browser{visitor, w.alice, w.bob} {
		chats = append(chats, b.chat(t, w.showID))
	}
	if !streamtest.WaitFor(5*time.Second, func() bool { return viewers() == 3 }) {
		t.Fatalf("two WHEP viewers and three chat connections count %d, want 3", viewers())
	}
	metrics := visitor.get("/metrics").must(t, http.StatusOK, "metrics").body
	for _, want := range []string{`camkit_show_viewers{show="` + w.showID + `"} 3`, `camkit_show_whep_viewers{show="` + w.showID + `"} 2`,
		`camkit_show_chat_connections{show="` + w.showID + `"} 3`, `camkit_shows_on_grid 1`, `camkit_thumbnails_total{result="ok"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, c := range chats {
		_ = c.Close()
	}
	if !streamtest.WaitFor(5*time.Second, func() bool { return viewers() == 2 }) {
		t.Fatalf("after the chats closed the count is %d, want 2", viewers())
	}

	// Private: the frame goes at once, and none comes while it lasts.
	seat := w.openSeat()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if st, ct, _ := visitor.fetch(t, thumb); st != http.StatusOK || ct != "image/svg+xml" {
			t.Fatalf("a private show's thumbnail: %d %s", st, ct)
		}
	}
	w.alice.api(http.MethodPost, "/seats/"+seat+"/end", nil, "").must(t, http.StatusOK, "end seat")
	if !streamtest.WaitFor(10*time.Second, func() bool { _, ct, _ := visitor.fetch(t, thumb); return ct == "image/jpeg" }) {
		t.Fatal("no thumbnail once the show is public again")
	}

	// The publisher leaves without a word: the show is still on air for the
	// host, but leaves the grid within media_timeout + reconnect_grace.
	pub.Close()
	left := time.Now()
	window := 3 * time.Second
	if !streamtest.WaitFor(window+2*time.Second, func() bool { return !strings.Contains(visitor.get("/").body, "/shows/"+w.showID) }) {
		t.Fatalf("the show is still on the grid %v after its publisher left", time.Since(left))
	}
	t.Logf("off the grid %v after the publisher left (window %v)", time.Since(left).Round(time.Millisecond), window)
	if _, err := w.app.Shows.Show(context.Background(), w.showID); err != nil {
		t.Fatalf("the show itself ended: %v", err)
	}
	if st, ct, _ := visitor.fetch(t, thumb); st != http.StatusOK || ct != "image/svg+xml" {
		t.Fatalf("a show without media: thumbnail %d %s", st, ct)
	}
}
