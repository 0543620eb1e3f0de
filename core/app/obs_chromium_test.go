package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/internal/testbin"
)

// TestOBSStaysOnAirWhenSheOpensHerDashboardInChromium is issue 12's
// OBS-first done-when, in both themes: the model is off air; a pion WHIP
// client stands in for OBS, set up with the absolute WHIP URL and the
// persistent stream key her dashboard shows, and its publish takes her live
// (stream.live_on_publish). She then opens her dashboard in Chromium (fake
// camera): after 5 s the pion publisher is still the one on air (its
// PeerConnection connected, the same show live, a WHEP viewer still
// receiving its media) and the page has started no camera. Only her
// explicit "Go live with this browser" moves the show to the browser.
func TestOBSStaysOnAirWhenSheOpensHerDashboardInChromium(t *testing.T) {
	browser := testbin.Browser(t)
	for _, th := range []string{"default", "midnight"} {
		t.Run(th, func(t *testing.T) {
			w := newWorldOn(t, newSiteOn(t, storetest.Postgres(t), func(c *config.Config) { c.Plugins.Theme = th }))
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			w.model.form("/dashboard/end", nil, true).must(t, http.StatusSeeOther, "go off air")

			// What she copies into OBS, from her dashboard.
			dash := w.model.get("/dashboard").must(t, http.StatusOK, "dashboard")
			whipURL := htmlUnescape(mustRE(`id="whip-url" value="([^"]+)"`).FindStringSubmatch(dash.body + `id="whip-url" value="-"`)[1])
			key := htmlUnescape(mustRE(`id="stream-key" value="([^"]+)"`).FindStringSubmatch(dash.body + `id="stream-key" value="-"`)[1])
			if whipURL != w.url+"/whip" || !strings.HasPrefix(key, "sk_") {
				t.Fatalf("the dashboard shows WHIP URL %q and key %q, want %s/whip and her key", whipURL, key, w.url)
			}
			obs, err := streamtest.Publish(ctx, streamtest.HTTPSignal(whipURL, key, nil), streamtest.PublisherOptions{})
			if err != nil {
				t.Fatalf("OBS publishes: %v", err)
			}
			defer obs.Close()
			sh, live, err := w.app.Shows.ShowOfModel(ctx, w.modelID)
			if err != nil || !live {
				t.Fatalf("OBS's publish did not take her live: %v", err)
			}
			if !streamtest.WaitFor(15*time.Second, func() bool { s, _, _ := w.app.Shows.ShowOfModel(ctx, w.modelID); return s.Publishing }) {
				t.Fatal("OBS's media never flowed")
			}
			viewer, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+"/whep/"+sh.ID, "", nil))
			if err != nil {
				t.Fatal(err)
			}
			defer viewer.Close()
			if !streamtest.WaitFor(15*time.Second, func() bool { return viewer.Video.Keyframes.Load() > 0 && viewer.Video.Packets.Load() > 30 }) {
				t.Fatal("the viewer receives nothing of OBS")
			}

			model := openTab(t, browser, w.site, w.model, "model")
			model.nav("/dashboard")
			model.waitJS(`document.querySelector('[data-camkit-switch]') !== null`, 10*time.Second, "the switch button")
			before := viewer.Video.Packets.Load()
			time.Sleep(5 * time.Second)
			if s := obs.PC.ConnectionState(); s != webrtc.PeerConnectionStateConnected {
				t.Fatalf("OBS after she opened her dashboard: %s", s)
			}
			if now, ok, _ := w.app.Shows.ShowOfModel(ctx, w.modelID); !ok || now.ID != sh.ID || !now.Publishing {
				t.Fatalf("the show after she opened her dashboard: %+v live=%v, want %s publishing", now, ok, sh.ID)
			}
			if got := viewer.Video.Packets.Load() - before; got < 60 {
				t.Fatalf("the viewer got %d video packets in 5 s after she opened her dashboard", got)
			}
			if n := model.str(`window.__stats().then((s) => String(window.__pcs.length))`); n != "0" {
				t.Fatalf("the dashboard opened %s peer connections of its own while OBS was on air", n)
			}

			// Her explicit switch: the browser's camera takes the show, OBS is cut.
			model.js(`document.querySelector('[data-camkit-switch]').click()`)
			model.waitJS(`window.__stats().then((s) => s.connected > 0 && s.framesEncoded > 10)`, 30*time.Second, "the camera to publish after the switch")
			if !streamtest.WaitFor(15*time.Second, func() bool { return obs.PC.ConnectionState() != webrtc.PeerConnectionStateConnected }) {
				t.Fatal("OBS is still connected after she switched to the browser")
			}
			if now, ok, _ := w.app.Shows.ShowOfModel(ctx, w.modelID); !ok || now.ID != sh.ID {
				t.Fatalf("the show after the switch: %+v live=%v, want %s", now, ok, sh.ID)
			}
			model.collect()
			if p := model.problems(); len(p) > 0 {
				t.Fatalf("%s theme: problems on the dashboard:\n%s", th, strings.Join(p, "\n"))
			}
		})
	}
}
