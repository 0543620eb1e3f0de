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

// Issue 13's end-to-end test: one assembled host (real plugin processes,
// PostgreSQL, the SFU) and one model publishing one pion WHIP stream runs
// her three paid modes in turn, with pion WHEP viewers:
//  1. a group show at 3.00 a minute (at least 2): five paying viewers join
//     and leave at different times, two of them tip in the group's room;
//  2. a private show at her 2.00 rate with a spy at 1.20;
//  3. a $5 ticket show with three ticket holders watching and a fourth
//     viewer refused the ticket (sold out) and the media (403).
//
// Then every paying seat's receipt bills the video its viewer received
// within 1 s, at the rate locked at its seat and with its allocation and fee
// summing exactly to its price; each tip's transfers sum to the tip; each
// ticket is posted at its price and split 60/40 to the cent; ledger verify
// is clean.
func TestShowModesEndToEnd(t *testing.T) {
	db := storetest.Postgres(t)
	w := ticketWorldOf(t, newWorldOn(t, newSiteOn(t, db, noShortShowRefund)))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	w.publishAsModel(ctx)
	if !streamtest.WaitFor(10*time.Second, func() bool { s, _, _ := w.site.app.Shows.ShowOfModel(ctx, w.modelID); return s.Publishing }) {
		t.Fatal("the model's media never flowed")
	}

	// A paying seat, its receipt and what its viewer received.
	type paid struct {
		name, seat, kind, reason string
		rate                     int64
		sub                      *streamtest.Subscriber
		r                        groupReceiptJSON
	}
	var seats []*paid
	settle := func(ps ...*paid) {
		for _, p := range ps {
			p.r = w.receiptOf(p.name, p.seat)
			seats = append(seats, p)
		}
	}
	whep := "/whep/" + w.showID

	// 1. The group show.
	viewers := w.groupViewers(5, 1, 2) // v2 and v3 tip: they have credits
	w.model.form("/dashboard/group", url.Values{"rate": {"3.00"}, "currency": {"USD"}, "minimum": {"2"}}, true).
		must(t, http.StatusSeeOther, "start group")
	watch := func(v *groupViewer) { w.watchGroupSeat(ctx, v, 300) }
	if j := w.joinGroup(viewers[0]); !j.Waiting || j.Seat != nil {
		t.Fatalf("v1 before the minimum: %+v", j)
	}
	j2 := w.joinGroup(viewers[1])
	if j2.Waiting || j2.Seat == nil || !j2.Group.Started {
		t.Fatalf("v2 reaching the minimum: %+v", j2)
	}
	viewers[1].seat = *j2.Seat
	viewers[0].b.api(http.MethodGet, "/me/seat", nil, "").must(t, http.StatusOK, "v1's seat once started").json(t, &viewers[0].seat)
	watch(viewers[0])
	watch(viewers[1])
	time.Sleep(time.Second)
	viewers[2].seat = *w.joinGroup(viewers[2]).Seat
	watch(viewers[2])
	time.Sleep(2 * time.Second)
	w.leaveSeat(viewers[0].b, viewers[0].seat.ID, "v1")
	viewers[3].seat = *w.joinGroup(viewers[3]).Seat
	watch(viewers[3])
	groupRoom := viewers[1].seat.ChatURL[len("/ws/chat/"):]
	tips := map[string]money.Money{}
	for i, v := range viewers[1:3] {
		amt := money.Money{Amount: int64(100 * (i + 1)), Currency: "USD"}
		tips[w.groupTip(v, groupRoom, "e2etip-"+v.name, amt)] = amt
	}
	viewers[4].seat = *w.joinGroup(viewers[4]).Seat
	watch(viewers[4])
	time.Sleep(2 * time.Second)
	w.leaveSeat(viewers[2].b, viewers[2].seat.ID, "v3")
	time.Sleep(time.Second)
	w.model.api(http.MethodDelete, "/me/group", nil, "").must(t, http.StatusOK, "model ends the group")
	for i, v := range viewers {
		reason := "model"
		if i == 0 || i == 2 {
			reason = "viewer"
		}
		settle(&paid{name: v.name, seat: v.seat.ID, kind: "group", reason: reason, rate: 300, sub: v.sub})
	}

	// 2. A private show with a spy, the same model and stream.
	w.addCard(w.bob)
	w.model.api(http.MethodPut, "/me/spy-rate", map[string]any{"rate_per_minute": money.Money{Amount: 120, Currency: "USD"}}, "").
		must(t, http.StatusOK, "allow spies")
	priv, mine := w.goPrivate(w.alice, nil, "")
	alice := w.watchWith(ctx, "Alice", whep, mine.Token)
	spy := w.spyOn(w.bob)
	if !spy.Spy || spy.Policy.Rate.Amount != 120 {
		t.Fatalf("Bob's spy seat: %+v", spy)
	}
	bob := w.watchWith(ctx, "Bob (spy)", whep, spy.Token)
	time.Sleep(3 * time.Second)
	w.leaveSeat(w.alice, priv.ID, "Alice")
	settle(&paid{name: "Alice", seat: priv.ID, kind: "private", reason: "viewer", rate: 200, sub: alice},
		&paid{name: "Bob (spy)", seat: spy.ID, kind: "private", reason: "model", rate: 120, sub: bob})

	// 3. A ticket show: three holders, dan refused.
	sh, start := w.schedule(3)
	holders := []*browser{w.alice, w.bob, w.cat}
	tickets := map[*browser]ticketJSON{}
	for _, b := range holders {
		tickets[b] = w.buy(b, sh.ID, b.name+"-e2e-ticket-0001")
	}
	if r := w.dan.post("/ticket-shows/"+sh.ID+"/tickets", "", "dan-e2e-ticket-0001").must(t, http.StatusPaymentRequired, "a fourth ticket of three"); !strings.Contains(r.body, "sold out") {
		t.Fatalf("sold-out refusal says %s", r.body)
	}
	earningsBefore, revenueBefore := w.balance("model:"+w.modelID+":earnings"), w.balance("platform:revenue")
	time.Sleep(time.Until(start))
	if got := w.ticketCall("/me/ticket-shows/"+sh.ID+"/start", ""); got.State != "running" || got.Sold != 3 {
		t.Fatalf("started %+v, want running with 3 sold", got)
	}
	var he *streamtest.HTTPError
	if _, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(w.url+whep, "", nil)); !errors.As(err, &he) || he.Status != http.StatusForbidden {
		t.Fatalf("dan without a ticket: %v, want 403", err)
	}
	holding := map[*browser]*streamtest.Subscriber{}
	for _, b := range holders {
		holding[b] = w.watchWith(ctx, b.name+"'s ticket", tickets[b].WHEPURL, tickets[b].Token)
	}
	time.Sleep(2 * time.Second)
	if got := w.ticketCall("/me/ticket-shows/"+sh.ID+"/end", "e2e-end-0001"); got.State != "ended" {
		t.Fatalf("ended %+v", got)
	}

	// The checks.
	for _, p := range seats {
		received := billedAsReceived(t, p.name, p.r, p.sub)
		if p.r.Kind != p.kind || p.r.ShowID != w.showID || p.r.Policy.RatePerMinute.Amount != p.rate || p.r.CloseReason != p.reason ||
			p.r.Price.Amount != (p.rate*p.r.BillableSeconds+30)/60 {
			t.Errorf("%s's receipt: kind %s show %s rate %v closed by %s, %d s for %v; want %s at %d closed by %s", p.name, p.r.Kind, p.r.ShowID,
				p.r.Policy.RatePerMinute, p.r.CloseReason, p.r.BillableSeconds, p.r.Price, p.kind, p.rate, p.reason)
		}
		seatSplitExact(t, p.name, p.seat, p.r)
		t.Logf("%s (%s at %d/min): billed %d s (%v), received %v of video", p.name, p.kind, p.rate, p.r.BillableSeconds, p.r.Price,
			received.Round(time.Millisecond))
	}
	tipsSplitExact(t, ctx, db, tips)
	// Each ticket: posted at its price, 60% to the model (the default
	// split), the platform keeping the rest.
	for _, b := range holders {
		tk := tickets[b]
		var posted, model int64
		if err := db.SQL().QueryRowContext(ctx, `SELECT
			COALESCE(SUM(amount) FILTER (WHERE idempotency_key = $1), 0),
			COALESCE(SUM(amount) FILTER (WHERE idempotency_key LIKE $2), 0) FROM ledger_transfers`,
			"ticket/"+tk.ID+"/post", "ticket/"+tk.ID+"/split/%").Scan(&posted, &model); err != nil {
			t.Fatal(err)
		}
		if posted != 500 || model != 300 {
			t.Errorf("%s's ticket: posted %d, split %d to the model; want 500 and 300", b.name, posted, model)
		}
		t.Logf("%s's ticket: posted %d (model %d, platform %d), received %v of video", b.name, posted, model, posted-model,
			receivedVideo(holding[b]).Round(time.Millisecond))
	}
	if got := w.balance("model:"+w.modelID+":earnings") - earningsBefore; got != 9_00 {
		t.Errorf("the ticket show earned the model %d, want 900", got)
	}
	if got := w.balance("platform:revenue") - revenueBefore; got != 6_00 {
		t.Errorf("the ticket show left the platform %d, want 600", got)
	}
	if posted, held := w.walletOf(w.dan); posted != 10_00 || held != 0 {
		t.Errorf("dan's wallet: %d held %d, want untouched", posted, held)
	}
	if rep, err := w.app.Ledger.Verify(ctx); err != nil || !rep.Clean() {
		t.Fatalf("ledger verify: %s %+v %v", rep.Summary(), rep.Faults, err)
	}
}
