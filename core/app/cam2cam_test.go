package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
)

// Cam2cam through the whole host, in each theme: the model offers it from
// her dashboard, the room and the quote show the surcharge, the viewer asks
// for it, the model grants it, the viewer's camera (WHIP with the seat token)
// reaches the model's player (WHEP with her bearer from the API) and nobody
// else, and the receipt reads the surcharge out of the one price.
func TestCam2camThroughTheHost(t *testing.T) {
	for _, th := range []string{"default", "midnight"} {
		t.Run(th, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			w := newWorldOn(t, newSiteOn(t, storetest.Postgres(t), func(c *config.Config) { c.Plugins.Theme = th }))
			w.model.form("/dashboard/cam2cam", url.Values{"surcharge": {"1.50"}}, true).must(t, http.StatusSeeOther, "offer cam2cam")
			// Her key is shown once, when made: her encoder takes it before she
			// opens her dashboard.
			var my struct {
				StreamKey string `json:"stream_key"`
				WHIPURL   string `json:"whip_url"`
			}
			w.model.api(http.MethodGet, "/me/show", nil, "").must(t, http.StatusOK, "my show").json(t, &my)
			dash := w.model.get("/dashboard").must(t, http.StatusOK, "dashboard")
			if !strings.Contains(dash.body, `name="surcharge" value="1.50"`) {
				t.Fatalf("the dashboard does not show her cam2cam offer:\n%s", trim(dash.body))
			}
			pub, err := streamtest.Publish(ctx, streamtest.HTTPSignal(my.WHIPURL, my.StreamKey, nil), streamtest.PublisherOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			// Her media flows before the seat opens, as in the other host tests.
			if !streamtest.WaitFor(10*time.Second, func() bool {
				s, _, _ := w.site.app.Shows.ShowOfModel(ctx, w.modelID)
				return s.Publishing
			}) {
				t.Fatal("the model's media never flowed")
			}

			var q struct {
				Cam2cam *money.Money `json:"cam2cam_surcharge_per_minute"`
			}
			w.alice.api(http.MethodGet, "/shows/"+w.showID+"/quote", nil, "").must(t, http.StatusOK, "quote").json(t, &q)
			if q.Cam2cam == nil || *q.Cam2cam != (money.Money{Amount: 150, Currency: "USD"}) {
				t.Fatalf("quote's cam2cam: %+v", q.Cam2cam)
			}
			room := w.alice.get("/shows/"+w.showID).must(t, http.StatusOK, "room")
			if !strings.Contains(room.body, `name="cam2cam"`) || !strings.Contains(room.body, "1.50") {
				t.Fatalf("the room offers no cam2cam:\n%s", trim(room.body))
			}
			// She asks from the room's form, with the box ticked.
			w.alice.form("/shows/"+w.showID+"/private", url.Values{"cam2cam": {"1"}}, true).must(t, http.StatusSeeOther, "ask")
			var reqs []struct {
				ID      string
				Cam2cam bool `json:"cam2cam"`
			}
			w.model.api(http.MethodGet, "/me/requests", nil, "").must(t, http.StatusOK, "requests").json(t, &reqs)
			if len(reqs) != 1 || !reqs[0].Cam2cam {
				t.Fatalf("requests: %+v", reqs)
			}
			if dash := w.model.get("/dashboard"); !strings.Contains(dash.body, `value="grant"`) {
				t.Fatalf("the dashboard offers no accept with cam2cam:\n%s", trim(dash.body))
			}
			type c2c struct {
				Granted bool        `json:"granted"`
				Sur     money.Money `json:"surcharge_per_minute"`
				WHIPURL string      `json:"whip_url"`
				WHEPURL string      `json:"whep_url"`
				Token   string      `json:"token"`
			}
			var seat struct {
				ID     string
				Token  string
				Policy struct {
					Rate money.Money `json:"rate_per_minute"`
				}
				Cam2cam *c2c `json:"cam2cam"`
			}
			w.model.api(http.MethodPost, "/requests/"+reqs[0].ID+"/accept?cam2cam=grant", nil, "").must(t, http.StatusCreated, "accept").json(t, &seat)
			if seat.Policy.Rate.Amount != 350 || seat.Cam2cam == nil || !seat.Cam2cam.Granted || seat.Cam2cam.Token == "" || seat.Cam2cam.WHIPURL != "" {
				t.Fatalf("the model's seat: %+v %+v", seat, seat.Cam2cam)
			}
			model := *seat.Cam2cam
			seat.Cam2cam, seat.Token = nil, "" // decoded afresh: the viewer's copy omits the model's fields
			w.alice.api(http.MethodGet, "/seats/"+seat.ID, nil, "").must(t, http.StatusOK, "viewer's seat").json(t, &seat)
			if seat.Cam2cam == nil || seat.Cam2cam.WHIPURL != "/whip" || seat.Cam2cam.Token != "" || seat.Token == "" {
				t.Fatalf("the viewer's seat: %+v", seat.Cam2cam)
			}
			w.bob.api(http.MethodGet, "/seats/"+seat.ID, nil, "").must(t, http.StatusNotFound, "another viewer reads the seat")
			// An admin reads the seat, without its camera.
			var adm struct{ Cam2cam *c2c }
			w.admin.api(http.MethodGet, "/seats/"+seat.ID, nil, "").must(t, http.StatusOK, "an admin reads the seat").json(t, &adm)
			w.admin.get("/seats/"+seat.ID).must(t, http.StatusOK, "an admin opens the seat's page")
			if adm.Cam2cam != nil {
				t.Fatalf("an admin is given the seat's camera: %+v", adm.Cam2cam)
			}

			// Her page has the toggle (the host e2e tests use the theme
			// attributes, whatever the theme); the model's dashboard her camera.
			page := w.alice.get("/seats/"+seat.ID).must(t, http.StatusOK, "private page")
			for _, a := range []string{theme.Cam2camToggleAttr, theme.Cam2camAttr, `data-src="/whip"`, `data-token="` + seat.Token + `"`} {
				if !strings.Contains(page.body, a) {
					t.Fatalf("the private page lacks %s:\n%s", a, trim(page.body))
				}
			}
			dash = w.model.get("/dashboard").must(t, http.StatusOK, "dashboard")
			if !strings.Contains(dash.body, `data-src="`+model.WHEPURL+`"`) || !strings.Contains(dash.body, `data-token="`+model.Token+`"`) {
				t.Fatalf("the dashboard does not play the viewer's camera:\n%s", trim(dash.body))
			}

			v, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+"/whep/"+w.showID, seat.Token, nil))
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			cam, err := streamtest.Publish(ctx, streamtest.HTTPSignal(w.url+"/whip", seat.Token, nil), streamtest.PublisherOptions{})
			if err != nil {
				t.Fatalf("the viewer's camera through the host: %v", err)
			}
			defer cam.Close()
			mv, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+model.WHEPURL, model.Token, nil))
			if err != nil {
				t.Fatalf("the model's player: %v", err)
			}
			defer mv.Close()
			if !streamtest.WaitFor(15*time.Second, func() bool { return mv.Video.Keyframes.Load() > 0 }) {
				t.Fatal("the model never sees the viewer's camera")
			}
			for name, bearer := range map[string]string{"visitor": "", "seat token": seat.Token, "forged": "c2m_" + strings.Repeat("0", 48)} {
				_, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+model.WHEPURL, bearer, nil))
				if he, ok := err.(*streamtest.HTTPError); !ok || he.Status != http.StatusForbidden {
					t.Errorf("%s plays the viewer's camera: %v, want 403", name, err)
				}
			}
			// The viewer's camera room has no picture on the site.
			if th := w.alice.get("/shows/" + strings.TrimPrefix(model.WHEPURL, "/whep/") + "/thumbnail"); th.code == http.StatusOK &&
				strings.HasPrefix(th.hdr.Get("Content-Type"), "image/jpeg") {
				t.Fatal("a thumbnail of the viewer's camera was served")
			}
			// The seat bills on the model's media and the viewer's player, as any seat.
			if !streamtest.WaitFor(15*time.Second, func() bool {
				var st struct{ Billing bool }
				w.alice.api(http.MethodGet, "/seats/"+seat.ID, nil, "").json(t, &st)
				return st.Billing
			}) {
				st := w.alice.api(http.MethodGet, "/seats/"+seat.ID, nil, "")
				t.Fatalf("the seat never billed: %s; viewer keyframes %d packets %d", st.body, v.Video.Keyframes.Load(), v.Video.Packets.Load())
			}
			time.Sleep(2 * time.Second)

			var rec struct {
				Billable int64       `json:"billable_seconds"`
				Price    money.Money `json:"price"`
				Policy   pricing.Policy
				Cam2cam  *struct {
					Sur    money.Money `json:"surcharge_per_minute"`
					Amount money.Money `json:"amount"`
				} `json:"cam2cam"`
			}
			w.alice.api(http.MethodPost, "/seats/"+seat.ID+"/end", nil, "").must(t, http.StatusOK, "end").json(t, &rec)
			want, _ := pricing.Price(rec.Policy, rec.Billable)
			base, _ := pricing.Price(rec.Policy.WithoutCam2cam(), rec.Billable)
			if rec.Billable < 1 || rec.Price != want || rec.Policy.RatePerMinute.Amount != 350 || rec.Cam2cam == nil ||
				rec.Cam2cam.Amount.Amount != want.Amount-base.Amount || rec.Cam2cam.Sur.Amount != 150 {
				t.Fatalf("receipt: %d s, price %v (want %v), cam2cam %+v", rec.Billable, rec.Price, want, rec.Cam2cam)
			}
			if r := w.alice.get("/receipts/"+seat.ID).must(t, http.StatusOK, "receipt page"); !strings.Contains(r.body, "cam2cam-line") {
				t.Fatalf("the receipt page does not say the surcharge:\n%s", trim(r.body))
			}
		})
	}
}
