package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/sdk/money"
)

// The steps and checks the show-mode host tests share (group, spy, tickets
// and their end-to-end sequence), so each mode is driven and judged the
// same way wherever it runs.

// publishAsModel has the model publish a pion WHIP stream with her stream
// key, as her encoder would.
func (w *world) publishAsModel(ctx context.Context) *streamtest.Publisher {
	t := w.t
	t.Helper()
	var my struct {
		StreamKey string `json:"stream_key"`
		WHIPURL   string `json:"whip_url"`
	}
	w.model.api(http.MethodGet, "/me/show", nil, "").must(t, http.StatusOK, "my show").json(t, &my)
	pub, err := streamtest.Publish(ctx, streamtest.HTTPSignal(my.WHIPURL, my.StreamKey, nil), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatalf("WHIP through the host: %v", err)
	}
	t.Cleanup(pub.Close)
	return pub
}

// watchWith is a pion WHEP viewer of path (a show's /whep/...) with a
// seat's or ticket's token, once its first keyframe arrived: the start of
// the video a receipt is held to.
func (w *world) watchWith(ctx context.Context, name, path, token string) *streamtest.Subscriber {
	t := w.t
	t.Helper()
	sub, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+path, token, nil))
	if err != nil {
		t.Fatalf("%s's WHEP: %v", name, err)
	}
	t.Cleanup(sub.Close)
	if !streamtest.WaitFor(10*time.Second, func() bool { return sub.Video.FirstKeyAt.Load() != 0 }) {
		t.Fatalf("%s receives no keyframe", name)
	}
	return sub
}

// groupViewers signs up n paying viewers with a card on file; the tippers
// (by index) also buy a credit pack.
func (w *world) groupViewers(n int, tippers ...int) []*groupViewer {
	t := w.t
	viewers := make([]*groupViewer, n)
	for i := range viewers {
		name := "v" + strconv.Itoa(i+1)
		v := &groupViewer{name: name, b: w.site.browser(name)}
		v.b.signup(name+"@example.com", "Viewer "+name, "viewer")
		w.addCard(v.b)
		var me struct {
			ID string `json:"id"`
		}
		v.b.api(http.MethodGet, "/me", nil, "").must(t, http.StatusOK, "me").json(t, &me)
		v.id = me.ID
		viewers[i] = v
	}
	for _, i := range tippers {
		viewers[i].b.form("/wallet/packs", url.Values{"pack": {"starter"}}, true).must(t, http.StatusSeeOther, "buy pack")
	}
	return viewers
}

// joinGroup is v's join of the model's group show.
func (w *world) joinGroup(v *groupViewer) groupJoinJSON {
	var j groupJoinJSON
	v.b.api(http.MethodPost, "/shows/"+w.showID+"/group/seats", nil, "").must(w.t, http.StatusCreated, v.name+" joins").json(w.t, &j)
	return j
}

// watchGroupSeat checks v's seat is a group seat at rate and starts its
// WHEP viewer.
func (w *world) watchGroupSeat(ctx context.Context, v *groupViewer, rate int64) {
	t := w.t
	t.Helper()
	if v.seat.Token == "" || v.seat.Mode != "group" || v.seat.Policy.RatePerMinute.Amount != rate {
		t.Fatalf("%s's seat %+v", v.name, v.seat)
	}
	v.sub = w.watchWith(ctx, v.name, "/whep/"+w.showID, v.seat.Token)
}

// leaveSeat is a viewer's own end of her seat.
func (w *world) leaveSeat(b *browser, seatID, name string) {
	b.api(http.MethodPost, "/seats/"+seatID+"/end", nil, "").must(w.t, http.StatusOK, name+" leaves")
}

// groupTip has v tip amount in room (the group's chat room) and returns
// the key its ledger transfers start with.
func (w *world) groupTip(v *groupViewer, room, tipID string, amount money.Money) string {
	v.b.api(http.MethodPost, "/shows/"+room+"/tips", map[string]any{"tip_id": tipID, "amount": amount, "text": "for the group"}, "").
		must(w.t, http.StatusCreated, v.name+" tips")
	return "tip/" + v.id + "/" + tipID
}

// spySeatJSON is a private or spy seat as the API answers it.
type spySeatJSON struct {
	ID      string `json:"id"`
	Token   string `json:"token"`
	ChatURL string `json:"chat_url"`
	Spy     bool   `json:"spy"`
	Spies   *int   `json:"spies"`
	Policy  struct {
		Rate money.Money `json:"rate_per_minute"`
	} `json:"policy"`
	Cam2cam *struct {
		WHEPURL string `json:"whep_url"`
		Token   string `json:"token"`
	} `json:"cam2cam"`
}

// goPrivate has b ask for a private show (ask: the request's body) and the
// model accept it (acceptQuery: "?cam2cam=grant" or ""): the model's answer
// and b's own view of the seat, which carries her token.
func (w *world) goPrivate(b *browser, ask any, acceptQuery string) (models, viewers spySeatJSON) {
	t := w.t
	t.Helper()
	b.api(http.MethodPost, "/shows/"+w.showID+"/private-requests", ask, "").must(t, http.StatusCreated, b.name+" asks")
	var reqs []struct{ ID string }
	w.model.api(http.MethodGet, "/me/requests", nil, "").must(t, http.StatusOK, "requests").json(t, &reqs)
	if len(reqs) != 1 {
		t.Fatalf("requests: %+v", reqs)
	}
	w.model.api(http.MethodPost, "/requests/"+reqs[0].ID+"/accept"+acceptQuery, nil, "").must(t, http.StatusCreated, "accept").json(t, &models)
	b.api(http.MethodGet, "/seats/"+models.ID, nil, "").must(t, http.StatusOK, b.name+"'s seat").json(t, &viewers)
	return models, viewers
}

// spyOn is b's spy seat on the model's private show.
func (w *world) spyOn(b *browser) spySeatJSON {
	var spy spySeatJSON
	b.api(http.MethodPost, "/shows/"+w.showID+"/spy-seats", nil, "").must(w.t, http.StatusCreated, b.name+" spies").json(w.t, &spy)
	return spy
}

// receiptOf waits for a seat's settlement and answers its receipt.
func (w *world) receiptOf(name, seatID string) groupReceiptJSON {
	t := w.t
	t.Helper()
	var r groupReceiptJSON
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := w.model.api(http.MethodGet, "/receipts/"+seatID, nil, "")
		if res.code == http.StatusOK {
			res.json(t, &r)
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's receipt: %d %s", name, res.code, res.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// receivedVideo is how long sub received video: its first keyframe to its
// last packet.
func receivedVideo(sub *streamtest.Subscriber) time.Duration {
	return time.Unix(0, sub.Video.LastAt.Load()).Sub(time.Unix(0, sub.Video.FirstKeyAt.Load()))
}

// billedAsReceived checks the truth of a receipt: the seconds billed are
// the video its viewer received within 1 s. It answers what was received.
func billedAsReceived(t testing.TB, name string, r groupReceiptJSON, sub *streamtest.Subscriber) time.Duration {
	t.Helper()
	received := receivedVideo(sub)
	if diff := time.Duration(r.BillableSeconds)*time.Second - received; diff < -time.Second || diff > time.Second {
		t.Errorf("%s: billed %d s, received %v of video (first key %d ms, last %d ms; intervals %+v)", name, r.BillableSeconds, received,
			sub.Video.FirstKeyAt.Load()/1e6, sub.Video.LastAt.Load()/1e6, r.Intervals)
	}
	return received
}

// seatSplitExact checks a seat's money: its allocation and the processor's
// fee sum exactly to its price.
func seatSplitExact(t testing.TB, name, seatID string, r groupReceiptJSON) {
	t.Helper()
	var split, fee int64
	for _, sh := range r.Allocation {
		split += sh.Amount.Amount
	}
	for _, tr := range r.LedgerTransfers {
		if tr.Key == "seat/"+seatID+"/fee" {
			fee += tr.Amount.Amount
		}
	}
	if r.Price.Amount > 0 && (len(r.Allocation) == 0 || split+fee != r.Price.Amount) {
		t.Errorf("%s: allocation %d + fee %d for a price of %v: %+v", name, split, fee, r.Price, r.Allocation)
	}
}

// tipsSplitExact checks that each tip's ledger transfers (by key prefix,
// as groupTip answers it) sum exactly to the tip.
func tipsSplitExact(t testing.TB, ctx context.Context, db *store.DB, tips map[string]money.Money) {
	t.Helper()
	for key, amt := range tips {
		var sum int64
		if err := db.SQL().QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM ledger_transfers WHERE idempotency_key LIKE $1`,
			key+"/%").Scan(&sum); err != nil {
			t.Fatal(err)
		}
		if sum != amt.Amount {
			t.Errorf("tip %s: transfers sum to %d, want %d", key, sum, amt.Amount)
		}
	}
}
