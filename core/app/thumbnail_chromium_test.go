package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/internal/testbin"
)

// TestHomeGridThumbnailAndCountInChromium is issue 12's done-when in
// headless Chromium, in both themes: a model streams from a pion WHIP
// client standing in for OBS (VP8 under one theme, H.264 under the other),
// a viewer watches her room (WHEP and chat), and a visitor's home grid
// shows, within 10 s of the publish, her card with the decoded picture
// (a JPEG of the stream's size, loaded by the browser) and a count above
// zero.
func TestHomeGridThumbnailAndCountInChromium(t *testing.T) {
	testbin.Need(t, "ffmpeg", "ffmpeg")
	browser := testbin.Browser(t)
	for _, c := range []struct {
		theme, count string
		h264         bool
	}{
		{"default", `.card .viewers`, false},
		{"midnight", `.plate .plate-watch`, true},
	} {
		t.Run(c.theme, func(t *testing.T) {
			w := newWorldOn(t, newSiteOn(t, storetest.Postgres(t), func(cfg *config.Config) {
				cfg.Plugins.Theme = c.theme
				cfg.Stream.ThumbnailEvery = config.Duration{Duration: time.Second}
			}))
			alice := openTab(t, browser, w.site, w.alice, "alice")
			visitor := openTab(t, browser, w.site, nil, "visitor")
			visitor.nav("/age")
			visitor.submit("/age", nil)

			start := time.Now()
			w.publishPattern(t, c.h264)
			alice.nav("/shows/" + w.showID)
			alice.waitJS(`window.__stats().then((s) => s.framesDecoded > 5)`, 15*time.Second, "the room's video to play")

			thumb := "/shows/" + w.showID + "/thumbnail"
			// The card's picture: the host's JPEG of the stream (320 wide),
			// not its placeholder, loaded by the browser.
			loaded := `(() => {
  const img = [...document.images].find((i) => i.getAttribute('src') === '` + thumb + `');
  return !!img && img.complete && img.naturalWidth === 320;
})()`
			count := `(() => {
  const el = document.querySelector('` + c.count + `');
  return el ? parseInt(el.innerText.replace(/[^0-9]/g, ''), 10) || 0 : 0;
})()`
			deadline := start.Add(10 * time.Second)
			for {
				visitor.nav("/")
				ok, _ := evalOn[bool](visitor, loaded)
				n, _ := evalOn[int](visitor, count)
				if ok && n > 0 {
					t.Logf("%s: thumbnail and a count of %d on the grid %v after the publish began", c.theme, n, time.Since(start).Round(time.Millisecond))
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: after 10 s the grid has picture %v and count %d:\n%s", c.theme, ok, n, visitor.text())
				}
				time.Sleep(300 * time.Millisecond)
			}
			visitor.collect()
			alice.collect()
			if p := append(visitor.problems(), alice.problems()...); len(p) > 0 {
				t.Fatalf("%s: %s", c.theme, strings.Join(p, "\n"))
			}
		})
	}
}
