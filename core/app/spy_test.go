package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/sdk/money"
)

// Spy on private through the assembled host with real pion clients: the
// model allows spies at 1.20 a minute and offers cam2cam; Alice's private
// show runs with her camera granted and published; Bob spies. Bob receives
// the model's video, never Alice's camera (its room refuses his token), and
// publishes nothing with his token; he can neither read, post nor tip in
// the private room (403). Alice does not see the spy count (the operator's
// default), the model does. Alice leaves: Bob's seat ends with the private
// show, and each receipt matches the video its viewer received within 1 s,
// at the price locked at each one's own seat; ledger verify is clean.
// The pages, in each theme: the room offers "Spy on this private show —
// $1.20/min" while she is private, the spy's seat page is video only (no
// chat, no tip form), her dashboard lists the spy and what it earned.
func TestSpyOnPrivateThroughTheHost(t *testing.T) {
	for _, th := range []string{"default", "midnight"} {
		t.Run(th, func(t *testing.T) { testSpyOnPrivate(t, th) })
	}
}

func testSpyOnPrivate(t *testing.T, th string) {
	db := storetest.Postgres(t)
	w := newWorldOn(t, newSiteOn(t, db, func(c *config.Config) { c.Plugins.Theme = th }))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	w.addCard(w.bob)
	w.model.api(http.MethodPut, "/me/spy-rate", map[string]any{"rate_per_minute": money.Money{Amount: 120, Currency: "USD"}}, "").
		must(t, http.StatusOK, "allow spies")
	w.model.form("/dashboard/cam2cam", url.Values{"surcharge": {"1.50"}}, true).must(t, http.StatusSeeOther, "offer cam2cam")

	w.publishAsModel(ctx)
	if !streamtest.WaitFor(10*time.Second, func() bool { s, _, _ := w.site.app.Shows.ShowOfModel(ctx, w.modelID); return s.Publishing }) {
		t.Fatal("the model's media never flowed")
	}
	// Nothing to spy on while she is public.
	w.bob.api(http.MethodGet, "/shows/"+w.showID+"/spy", nil, "").must(t, http.StatusNotFound, "spy offer of a public show")

	priv, mine := w.goPrivate(w.alice, map[string]any{"cam2cam": true}, "?cam2cam=grant")
	if priv.Cam2cam == nil || priv.Cam2cam.Token == "" {
		t.Fatalf("the model's private seat: %+v", priv)
	}
	camRoom, camBearer := priv.Cam2cam.WHEPURL, priv.Cam2cam.Token
	alice, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+"/whep/"+w.showID, mine.Token, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	cam, err := streamtest.Publish(ctx, streamtest.HTTPSignal(w.url+"/whip", mine.Token, nil), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatalf("Alice's camera: %v", err)
	}
	defer cam.Close()
	modelPlayer, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+camRoom, camBearer, nil))
	if err != nil {
		t.Fatalf("the model's player of Alice's camera: %v", err)
	}
	defer modelPlayer.Close()

	var offer struct {
		Policy struct {
			Rate money.Money `json:"rate_per_minute"`
		} `json:"policy"`
		Allowed bool `json:"allowed"`
	}
	w.bob.api(http.MethodGet, "/shows/"+w.showID+"/spy", nil, "").must(t, http.StatusOK, "spy offer").json(t, &offer)
	if offer.Policy.Rate.Amount != 120 || !offer.Allowed {
		t.Fatalf("spy offer: %+v", offer)
	}
	room := w.bob.get("/shows/"+w.showID).must(t, http.StatusOK, "room while private")
	spyAction := findAttr(room.body, "/shows/"+w.showID+"/spy")
	if spyAction == "" || !containsText(room.body, "Spy on this private show — $1.20/min") {
		t.Fatalf("the room offers no spy seat:\n%s", trim(room.body))
	}
	// Bob spies from the room's form (the API answers the same seat).
	w.bob.form(spyAction, nil, true).must(t, http.StatusSeeOther, "Bob spies")
	spy := w.spyOn(w.bob) // again
	page := w.bob.get("/seats/"+spy.ID).must(t, http.StatusOK, "the spy's seat page")
	if !strings.Contains(page.body, "data-camkit-spy") || strings.Contains(page.body, "data-camkit-chat") ||
		strings.Contains(page.body, "/seats/"+spy.ID+"/tip") || !strings.Contains(page.body, `data-token="`+spy.Token+`"`) {
		t.Fatalf("the spy's page is not video only:\n%s", trim(page.body))
	}
	if page := w.alice.get("/seats/"+priv.ID).must(t, http.StatusOK, "the private page"); strings.Contains(page.body, "data-camkit-spies") {
		t.Fatalf("the private viewer's page shows the spy count with it off:\n%s", trim(page.body))
	}
	if dash := w.model.get("/dashboard").must(t, http.StatusOK, "dashboard"); !strings.Contains(dash.body, `data-camkit-spies="1"`) || !containsText(dash.body, "Bob") {
		t.Fatalf("the dashboard does not list the spy:\n%s", trim(dash.body))
	}
	if !spy.Spy || spy.Token == "" || spy.ChatURL != "" || spy.Cam2cam != nil || spy.Policy.Rate.Amount != 120 {
		t.Fatalf("Bob's spy seat: %+v", spy)
	}
	// A later spy rate reaches neither Bob's seat nor Alice's.
	w.model.api(http.MethodPut, "/me/spy-rate", map[string]any{"rate_per_minute": money.Money{Amount: 600, Currency: "USD"}}, "").
		must(t, http.StatusOK, "raise the spy rate")
	bob, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+"/whep/"+w.showID, spy.Token, nil))
	if err != nil {
		t.Fatalf("Bob's WHEP: %v", err)
	}
	defer bob.Close()
	if !streamtest.WaitFor(10*time.Second, func() bool { return bob.Video.FirstKeyAt.Load() != 0 && alice.Video.FirstKeyAt.Load() != 0 }) {
		t.Fatal("the spy or the private viewer receives no keyframe")
	}
	if !streamtest.WaitFor(10*time.Second, func() bool { return modelPlayer.Video.FirstKeyAt.Load() != 0 }) {
		t.Fatal("the model does not receive Alice's camera")
	}
	// Alice's camera is live (the model plays it); never for the spy, and
	// the spy's token publishes nothing.
	var he *streamtest.HTTPError
	if _, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+camRoom, spy.Token, nil)); !errors.As(err, &he) || he.Status != http.StatusForbidden {
		t.Fatalf("the spy's WHEP of Alice's camera: %v, want 403", err)
	}
	if _, err := streamtest.Publish(ctx, streamtest.HTTPSignal(w.url+"/whip", spy.Token, nil), streamtest.PublisherOptions{}); !errors.As(err, &he) || he.Status != http.StatusForbidden {
		t.Fatalf("the spy's WHIP: %v, want 403", err)
	}
	// No chat, no tips.
	privRoom := "seat-" + priv.ID
	w.bob.api(http.MethodGet, "/shows/"+privRoom+"/chat", nil, "").must(t, http.StatusForbidden, "the spy reads the private chat")
	w.bob.api(http.MethodPost, "/shows/"+privRoom+"/chat", map[string]any{"text": "hi"}, "").must(t, http.StatusForbidden, "the spy posts")
	w.bob.api(http.MethodPost, "/shows/"+privRoom+"/tips", map[string]any{"tip_id": "spytip-0001", "amount": money.Money{Amount: 100, Currency: "USD"}}, "").
		must(t, http.StatusForbidden, "the spy tips")
	w.bob.api(http.MethodPost, "/shows/seat-"+spy.ID+"/chat", map[string]any{"text": "hi"}, "").must(t, http.StatusForbidden, "the spy posts in its own seat's room")
	w.bob.api(http.MethodPost, "/shows/seat-"+spy.ID+"/tips", map[string]any{"tip_id": "spytip-0002", "amount": money.Money{Amount: 100, Currency: "USD"}}, "").
		must(t, http.StatusForbidden, "the spy tips in its own seat's room")
	w.alice.api(http.MethodPost, "/shows/"+privRoom+"/chat", map[string]any{"text": "hello"}, "").must(t, http.StatusCreated, "Alice posts")
	// The count: the model's, not Alice's (shows.show_spy_count is off).
	var got spySeatJSON
	w.alice.api(http.MethodGet, "/seats/"+priv.ID, nil, "").must(t, http.StatusOK, "Alice's seat").json(t, &got)
	if got.Spies != nil {
		t.Fatalf("Alice sees %d spies with the count off", *got.Spies)
	}
	got = spySeatJSON{}
	w.model.api(http.MethodGet, "/seats/"+priv.ID, nil, "").must(t, http.StatusOK, "the model's seat").json(t, &got)
	if got.Spies == nil || *got.Spies != 1 {
		t.Fatalf("the model's spy count: %v", got.Spies)
	}
	var spies []spySeatJSON
	w.model.api(http.MethodGet, "/me/spies", nil, "").must(t, http.StatusOK, "her spies").json(t, &spies)
	if len(spies) != 1 || spies[0].ID != spy.ID || spies[0].Token != "" {
		t.Fatalf("her spies: %+v", spies)
	}

	time.Sleep(4 * time.Second)
	w.alice.api(http.MethodPost, "/seats/"+priv.ID+"/end", nil, "").must(t, http.StatusOK, "Alice leaves")

	for _, c := range []struct {
		name, seat, reason string
		rate               int64
		sub                *streamtest.Subscriber
	}{{"Alice", priv.ID, "viewer", 350, alice}, {"Bob", spy.ID, "model", 120, bob}} {
		r := w.receiptOf(c.name, c.seat)
		received := billedAsReceived(t, c.name, r, c.sub)
		if r.BillableSeconds < 3 || r.Kind != "private" || r.ShowID != w.showID || r.Policy.RatePerMinute.Amount != c.rate || r.CloseReason != c.reason {
			t.Errorf("%s's receipt: kind %s show %s rate %v closed by %s, %d s for %v", c.name, r.Kind, r.ShowID, r.Policy.RatePerMinute,
				r.CloseReason, r.BillableSeconds, r.Price)
		}
		t.Logf("%s: billed %d s (%v), received %v of video", c.name, r.BillableSeconds, r.Price, received.Round(time.Millisecond))
	}
	// Bob's video stopped with the private show.
	stopped := bob.Video.Packets.Load()
	time.Sleep(1500 * time.Millisecond)
	if n := bob.Video.Packets.Load(); n != stopped {
		t.Fatalf("the spy still receives video after the private show: %d then %d packets", stopped, n)
	}
	w.bob.api(http.MethodPost, "/shows/"+w.showID+"/spy-seats", nil, "").must(t, http.StatusConflict, "spying once she is public")
	if rep, err := w.app.Ledger.Verify(ctx); err != nil || !rep.Clean() {
		t.Fatalf("ledger verify: %s %+v %v", rep.Summary(), rep.Faults, err)
	}
}
