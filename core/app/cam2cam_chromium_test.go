package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/internal/testbin"
)

// TestCam2camToggleInChromium: in both themes, the viewer of a private show
// granted cam2cam turns her (fake) camera on from the private page's toggle;
// it publishes over WHIP with her seat token, the model's dashboard in
// another tab plays it, and the toggle turns it off again.
func TestCam2camToggleInChromium(t *testing.T) {
	browser := testbin.Browser(t)
	for _, th := range []string{"default", "midnight"} {
		t.Run(th, func(t *testing.T) {
			w := newWorldOn(t, newSiteOn(t, storetest.Postgres(t), func(c *config.Config) { c.Plugins.Theme = th }))
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			w.model.api(http.MethodPut, "/me/cam2cam", map[string]any{"surcharge_per_minute": map[string]any{"amount": 0, "currency": "USD"}}, "").
				must(t, http.StatusOK, "offer cam2cam free")
			var my struct {
				StreamKey string `json:"stream_key"`
				WHIPURL   string `json:"whip_url"`
			}
			w.model.api(http.MethodGet, "/me/show", nil, "").must(t, http.StatusOK, "my show").json(t, &my)
			obs, err := streamtest.Publish(ctx, streamtest.HTTPSignal(my.WHIPURL, my.StreamKey, nil), streamtest.PublisherOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer obs.Close()
			if !streamtest.WaitFor(10*time.Second, func() bool { s, _, _ := w.app.Shows.ShowOfModel(ctx, w.modelID); return s.Publishing }) {
				t.Fatal("the model's media never flowed")
			}
			w.alice.api(http.MethodPost, "/shows/"+w.showID+"/private-requests", `{"cam2cam":true}`, "").must(t, http.StatusCreated, "ask")
			var reqs []struct{ ID string }
			w.model.api(http.MethodGet, "/me/requests", nil, "").must(t, http.StatusOK, "requests").json(t, &reqs)
			var seat struct{ ID string }
			w.model.api(http.MethodPost, "/requests/"+reqs[0].ID+"/accept?cam2cam=grant", nil, "").must(t, http.StatusCreated, "accept").json(t, &seat)
			room := shows.Cam2camRoom(seat.ID)
			publishing := func() bool { st, ok := w.app.SFU.ShowState(room); return ok && st.Flowing }

			alice := openTab(t, browser, w.site, w.alice, "alice")
			alice.nav("/seats/" + seat.ID)
			alice.waitJS(`document.querySelector('[data-camkit-cam2cam-toggle]') !== null`, 10*time.Second, "the camera toggle")
			if publishing() {
				t.Fatal("her camera publishes before she turned it on")
			}
			alice.js(`document.querySelector('[data-camkit-cam2cam-toggle]').click()`)
			alice.waitJS(`window.__stats().then((s) => s.framesEncoded > 10)`, 30*time.Second, "her camera to publish over WHIP")
			if !streamtest.WaitFor(10*time.Second, publishing) {
				t.Fatal("the SFU receives nothing of her camera")
			}

			model := openTab(t, browser, w.site, w.model, "model")
			model.nav("/dashboard")
			model.waitJS(`document.querySelector('video[data-camkit-cam2cam][data-role=viewer]') !== null`, 10*time.Second, "the viewer's camera on the dashboard")
			model.waitJS(`window.__stats().then((s) => s.framesDecoded > 5)`, 30*time.Second, "the dashboard to play her camera")

			alice.js(`document.querySelector('[data-camkit-cam2cam-toggle]').click()`)
			if !streamtest.WaitFor(10*time.Second, func() bool { st, _ := w.app.SFU.ShowState(room); return !st.Publisher }) {
				t.Fatal("her camera still publishes after she turned it off")
			}
			for _, tb := range []*tab{alice, model} {
				tb.collect()
				if p := tb.problems(); len(p) > 0 {
					t.Fatalf("%s theme: problems on %s's page:\n%s", th, tb.name, strings.Join(p, "\n"))
				}
			}
		})
	}
}
