package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/sdk/money"
)

type groupSeatJSON struct {
	ID      string `json:"id"`
	ShowID  string `json:"show_id"`
	Mode    string `json:"mode"`
	Token   string `json:"token"`
	ChatURL string `json:"chat_url"`
	Policy  struct {
		RatePerMinute money.Money `json:"rate_per_minute"`
	} `json:"policy"`
}

type groupJoinJSON struct {
	Waiting bool           `json:"waiting"`
	Seat    *groupSeatJSON `json:"seat"`
	Group   struct {
		Started bool   `json:"started"`
		Waiting int    `json:"waiting"`
		ChatURL string `json:"chat_url"`
	} `json:"group"`
}

type groupReceiptJSON struct {
	SeatID          string      `json:"seat_id"`
	Kind            string      `json:"kind"`
	ShowID          string      `json:"show_id"`
	CloseReason     string      `json:"close_reason"`
	BillableSeconds int64       `json:"billable_seconds"`
	Price           money.Money `json:"price"`
	Policy          struct {
		RatePerMinute money.Money `json:"rate_per_minute"`
	} `json:"policy"`
	Intervals []struct {
		StartMS int64 `json:"start_ms"`
		EndMS   int64 `json:"end_ms"`
	} `json:"intervals"`
	Allocation []struct {
		Role   string
		Amount money.Money
	} `json:"allocation"`
	LedgerTransfers []struct {
		Key    string      `json:"key"`
		Amount money.Money `json:"amount"`
	} `json:"ledger_transfers"`
}

// groupViewer is one paying viewer of the end-to-end group show: a browser
// session and, once seated, a real pion WHEP client on the seat's token.
type groupViewer struct {
	name string
	b    *browser
	id   string
	seat groupSeatJSON
	sub  *streamtest.Subscriber
}

// Issue 13's group show on the assembled product (real plugin processes,
// PostgreSQL, the SFU) with real pion clients: the model publishes over
// WHIP and opens a group show (3.00 a minute, at least 2 paying viewers);
// a public viewer without a seat watches until it starts and is cut then
// (and refused after); five paying viewers join and leave at different
// times, the first waiting unbilled for the second; two of them tip in the
// group's room, where every holder reads the tips and a non-holder can
// neither read nor post; the model ends it for the rest. Every receipt
// matches the video its viewer received within 1 s, is kind group at the
// rate locked at its join, its split sums exactly to what was charged, each
// tip's ledger transfers sum exactly to the tip, and ledger verify is clean.
func TestGroupShowWithFivePayingViewersThroughTheHost(t *testing.T) {
	db := storetest.Postgres(t)
	w := newWorldOn(t, newSiteOn(t, db, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	w.publishAsModel(ctx)
	public, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+"/whep/"+w.showID, "", nil))
	if err != nil {
		t.Fatalf("public WHEP: %v", err)
	}
	defer public.Close()
	if !streamtest.WaitFor(15*time.Second, func() bool { return public.Video.Keyframes.Load() > 0 && public.Video.Packets.Load() > 30 }) {
		t.Fatal("the public viewer receives nothing")
	}

	viewers := w.groupViewers(5, 1, 2) // v2 and v3 tip: they have credits

	// The dashboard's form: 3.00 a minute, at least two paying viewers.
	w.model.form("/dashboard/group", url.Values{"rate": {"3.00"}, "currency": {"USD"}, "minimum": {"2"}}, true).
		must(t, http.StatusSeeOther, "start group")
	room := w.alice.get("/shows/"+w.showID).must(t, http.StatusOK, "room with a group offer")
	if findAttr(room.body, "/shows/"+w.showID+"/group/join") == "" || !containsText(room.body, "Join group show") {
		t.Fatalf("the room offers no group show:\n%s", room.body)
	}
	var offer struct {
		Group struct {
			Policy struct {
				RatePerMinute money.Money `json:"rate_per_minute"`
			} `json:"policy"`
			Minimum int  `json:"minimum"`
			Started bool `json:"started"`
		} `json:"group"`
		Allowed bool `json:"allowed"`
	}
	viewers[0].b.api(http.MethodGet, "/shows/"+w.showID+"/group", nil, "").must(t, http.StatusOK, "group offer").json(t, &offer)
	if offer.Group.Policy.RatePerMinute.Amount != 300 || offer.Group.Minimum != 2 || offer.Group.Started || !offer.Allowed {
		t.Fatalf("group offer %+v", offer)
	}

	join := w.joinGroup
	watch := func(v *groupViewer) { w.watchGroupSeat(ctx, v, 300) }
	// v1 waits for the minimum: no seat, nothing held.
	if j := join(viewers[0]); !j.Waiting || j.Seat != nil || j.Group.Started {
		t.Fatalf("v1 before the minimum: %+v", j)
	}
	viewers[0].b.api(http.MethodGet, "/me/seat", nil, "").must(t, http.StatusNotFound, "v1's seat while waiting")
	// v2 reaches it: the show turns group, both seats open.
	j2 := join(viewers[1])
	if j2.Waiting || j2.Seat == nil || !j2.Group.Started || j2.Seat.ChatURL == "" {
		t.Fatalf("v2 reaching the minimum: %+v", j2)
	}
	viewers[1].seat = *j2.Seat
	viewers[0].b.api(http.MethodGet, "/me/seat", nil, "").must(t, http.StatusOK, "v1's seat once started").json(t, &viewers[0].seat)
	watch(viewers[0])
	watch(viewers[1])

	// The public viewer without a seat is cut, and refused from now on.
	cutAt := public.Video.Packets.Load()
	time.Sleep(1500 * time.Millisecond)
	settled := public.Video.Packets.Load()
	time.Sleep(1500 * time.Millisecond)
	if got := public.Video.Packets.Load(); got != settled {
		t.Fatalf("the public viewer still receives video in the group show: %d packets, then %d, then %d", cutAt, settled, got)
	}
	_, err = streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+"/whep/"+w.showID, "", nil))
	var he *streamtest.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusForbidden {
		t.Fatalf("a public WHEP during the group show: %v, want 403", err)
	}

	// The room told everyone, and offers the seat at its price.
	var roomChat []struct {
		Text   string `json:"text"`
		System bool   `json:"system"`
	}
	w.bob.api(http.MethodGet, "/shows/"+w.showID+"/chat", nil, "").must(t, http.StatusOK, "the room's chat").json(t, &roomChat)
	told := false
	for _, m := range roomChat {
		told = told || m.System && strings.Contains(m.Text, "now a group show at 3.00 USD")
	}
	if !told {
		t.Fatalf("the room was not told the show turned group: %+v", roomChat)
	}
	if room := w.alice.get("/shows/"+w.showID).must(t, http.StatusOK, "room in a group show"); !containsText(room.body, "Join group show — $3.00/min") {
		t.Fatalf("the room does not offer the group show at its price:\n%s", room.body)
	}

	j3 := join(viewers[2])
	viewers[2].seat = *j3.Seat
	watch(viewers[2])
	time.Sleep(2 * time.Second)

	endSeat := func(v *groupViewer) { w.leaveSeat(v.b, v.seat.ID, v.name) }
	endSeat(viewers[0]) // v1 leaves first
	j4 := join(viewers[3])
	viewers[3].seat = *j4.Seat
	watch(viewers[3])

	// Shared tipping: v2 and v3 tip in the group's room; every holder reads it.
	groupRoom := viewers[1].seat.ChatURL[len("/ws/chat/"):]
	tips := map[string]money.Money{}
	for i, v := range viewers[1:3] {
		amt := money.Money{Amount: int64(100 * (i + 1)), Currency: "USD"}
		tips[w.groupTip(v, groupRoom, "grouptip-"+v.name, amt)] = amt
	}
	var hist []struct {
		Author string       `json:"author"`
		Tip    *money.Money `json:"tip"`
	}
	viewers[3].b.api(http.MethodGet, "/shows/"+groupRoom+"/chat", nil, "").must(t, http.StatusOK, "v4 reads the group chat").json(t, &hist)
	seen := 0
	for _, m := range hist {
		if m.Tip != nil {
			seen++
		}
	}
	if seen != 2 {
		t.Fatalf("v4 sees %d tips in the group's chat, want 2: %+v", seen, hist)
	}
	w.bob.api(http.MethodGet, "/shows/"+groupRoom+"/chat", nil, "").must(t, http.StatusNotFound, "a non-holder reads the group chat")
	w.bob.api(http.MethodPost, "/shows/"+groupRoom+"/chat", map[string]any{"text": "let me in"}, "").must(t, http.StatusNotFound, "a non-holder posts")
	viewers[0].b.api(http.MethodPost, "/shows/"+groupRoom+"/chat", map[string]any{"text": "back?"}, "").must(t, http.StatusNotFound, "a viewer who left posts")
	viewers[3].b.api(http.MethodPost, "/shows/"+groupRoom+"/chat", map[string]any{"text": "hi all"}, "").must(t, http.StatusCreated, "a holder posts")

	j5 := join(viewers[4])
	viewers[4].seat = *j5.Seat
	watch(viewers[4])
	time.Sleep(2 * time.Second)
	endSeat(viewers[2]) // v3 leaves
	time.Sleep(2 * time.Second)

	// The dashboard shows the group running, with its seats.
	dash := w.model.get("/dashboard").must(t, http.StatusOK, "dashboard")
	if findAttr(dash.body, "/dashboard/group/end") == "" || !containsText(dash.body, "Viewer v2") {
		t.Fatalf("the dashboard does not show the group show:\n%s", dash.body)
	}
	w.model.api(http.MethodDelete, "/me/group", nil, "").must(t, http.StatusOK, "model ends the group")

	for _, v := range viewers {
		r := w.receiptOf(v.name, v.seat.ID)
		received := billedAsReceived(t, v.name, r, v.sub)
		if r.Kind != "group" || r.ShowID != w.showID || r.Policy.RatePerMinute.Amount != 300 || r.Price.Amount != (300*r.BillableSeconds+30)/60 {
			t.Errorf("%s's receipt: kind %s show %s rate %v, %d s for %v", v.name, r.Kind, r.ShowID, r.Policy.RatePerMinute, r.BillableSeconds, r.Price)
		}
		wantReason := "model"
		if v == viewers[0] || v == viewers[2] {
			wantReason = "viewer"
		}
		if r.CloseReason != wantReason {
			t.Errorf("%s's seat closed by %s, want %s", v.name, r.CloseReason, wantReason)
		}
		seatSplitExact(t, v.name, v.seat.ID, r)
		t.Logf("%s: billed %d s (%v), received %v of video", v.name, r.BillableSeconds, r.Price, received.Round(time.Millisecond))
	}
	tipsSplitExact(t, ctx, db, tips)
	// Public again: the video is anyone's.
	again, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+"/whep/"+w.showID, "", nil))
	if err != nil {
		t.Fatalf("public WHEP after the group show: %v", err)
	}
	defer again.Close()
	if rep, err := w.app.Ledger.Verify(ctx); err != nil || !rep.Clean() {
		t.Fatalf("ledger verify: %s %+v %v", rep.Summary(), rep.Faults, err)
	}
}

// containsText reports whether a page's text holds s once entities are
// decoded (themes escape the dash and the dollar sign as they like).
func containsText(body, s string) bool { return strings.Contains(htmlUnescape(body), s) }
