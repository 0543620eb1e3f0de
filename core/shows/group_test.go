package shows_test

import (
	"testing"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/clock/clocktest"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/split"
	"github.com/camkit/camkit/sdk/theme"
)

func usd(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }

// groupWorld is the lifecycle on a fake clock with the model live and her
// media flowing.
func groupWorld(t *testing.T) (*lifecycle, *clocktest.Fake, shows.Show) {
	clk := clocktest.NewFake(time.Now().UTC().Truncate(time.Second))
	l := newLifecycleAt(t, clk)
	sh, err := l.svc.GoLive(l.ctx, l.model)
	if err != nil {
		t.Fatal(err)
	}
	l.svc.Liveness(stream.ModelMediaFlowing{ShowID: sh.ID, Since: clk.Now()})
	return l, clk, sh
}

func (l *lifecycle) join(show, who string) shows.GroupJoin {
	l.t.Helper()
	j, err := l.svc.JoinGroup(l.ctx, l.viewers[who], show)
	if err != nil {
		l.t.Fatalf("%s joins: %v", who, err)
	}
	return j
}

func (l *lifecycle) wallet(who string) ledger.Balance {
	l.t.Helper()
	b, err := l.led.Balance(l.ctx, accounts.WalletCode(l.viewers[who]), "USD")
	if err != nil {
		l.t.Fatal(err)
	}
	return b
}

// waitFor polls what billing's events settle in the background.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The whole group lifecycle on a fake clock: joiners wait unbilled for the
// minimum; each seat locks the rate of ITS join (a re-price reaches only
// later joiners); a viewer's drop is backdated and pauses only their seat,
// the model's pauses every seat; a viewer leaves; the model ends it for
// all. Every receipt is the exact live seconds at the locked rate, each
// wallet paid it once, non-holders are kept out of the video and the
// group's room.
func TestGroupShow_WaitsUnbilledForTheMinimumThenEachSeatBillsItsOwnLockedPrice(t *testing.T) {
	l, clk, sh := groupWorld(t)
	dan := l.user("dan@example.com", "Dan", accounts.RoleViewer)
	gs, err := l.svc.StartGroup(l.ctx, l.model, shows.GroupOptions{Rate: usd(300), Minimum: 2})
	if err != nil || gs.Started || gs.Policy.RatePerMinute != usd(300) {
		t.Fatalf("start: %+v %v", gs, err)
	}
	if j := l.join(sh.ID, "Ann"); !j.Waiting || j.Seat.ID != "" || j.Group.Waiting != 1 {
		t.Fatalf("first joiner of a group of 2: %+v", j)
	}
	if again := l.join(sh.ID, "Ann"); !again.Waiting || again.Group.Waiting != 1 {
		t.Fatalf("joining twice: %+v", again)
	}
	// Waiting: the show is still public and nothing of Ann's is held.
	if _, err := l.svc.AdmitViewer(l.ctx, sh.ID, ""); err != nil {
		t.Fatalf("a public viewer while the group waits: %v", err)
	}
	clk.Advance(60 * time.Second)
	if b := l.wallet("Ann"); b.Posted().Amount != 5000 || b.DebitsPending != 0 {
		t.Fatalf("Ann's wallet while waiting: %+v", b)
	}

	t1 := clk.Now()
	bob := l.join(sh.ID, "Bob")
	if bob.Waiting || !bob.Seat.Open || bob.Seat.Mode != theme.ModeGroup || bob.Seat.Policy.RatePerMinute != usd(300) || bob.Seat.Token == "" {
		t.Fatalf("the joiner that reaches the minimum: %+v", bob)
	}
	ann, ok, _ := l.svc.OpenSeatOf(l.ctx, l.viewers["Ann"])
	if !ok || ann.Mode != theme.ModeGroup || ann.Policy.RatePerMinute != usd(300) || ann.Room != bob.Seat.Room {
		t.Fatalf("Ann's seat once the minimum is reached: %+v %v", ann, ok)
	}
	if cur, _ := l.svc.Show(l.ctx, sh.ID); cur.Mode != theme.ModeGroup {
		t.Fatalf("mode once started: %s", cur.Mode)
	}
	if _, err := l.svc.AdmitViewer(l.ctx, sh.ID, ""); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("a public viewer of a group show: %v, want forbidden", err)
	}
	if a, err := l.svc.AdmitViewer(l.ctx, sh.ID, bob.Seat.Token); err != nil || a.SeatID != bob.Seat.ID {
		t.Fatalf("Bob's seat token: %+v %v", a, err)
	}
	l.svc.Liveness(stream.ViewerConnected{ShowID: sh.ID, SeatID: ann.ID, At: t1})
	l.svc.Liveness(stream.ViewerConnected{ShowID: sh.ID, SeatID: bob.Seat.ID, At: t1})

	clk.Advance(30 * time.Second) // t1+30: she raises the group rate; Cy joins at it
	if _, err := l.svc.StartGroup(l.ctx, l.model, shows.GroupOptions{Rate: usd(600), Minimum: 2}); err != nil {
		t.Fatal(err)
	}
	cy := l.join(sh.ID, "Cy")
	if cy.Seat.Policy.RatePerMinute != usd(600) {
		t.Fatalf("Cy's seat after the re-price: %+v", cy.Seat.Policy.RatePerMinute)
	}
	if got, _ := l.svc.Seat(l.ctx, l.viewers["Ann"], ann.ID); got.Policy.RatePerMinute != usd(300) {
		t.Fatalf("Ann's open seat after the re-price: %v, want her locked 3.00", got.Policy.RatePerMinute)
	}
	l.svc.Liveness(stream.ViewerConnected{ShowID: sh.ID, SeatID: cy.Seat.ID, At: clk.Now()})

	// The group's room: its seat holders and its model; not Dan.
	room := ann.Room
	for who, id := range map[string]string{"Ann": l.viewers["Ann"], "model": l.model} {
		if err := l.svc.GroupMember(l.ctx, id, room); err != nil {
			t.Fatalf("%s in the group room: %v", who, err)
		}
	}
	if err := l.svc.GroupMember(l.ctx, dan, room); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("a non-holder in the group room: %v", err)
	}
	tips := &shows.Tips{Store: l.live, Accounts: l.acc}
	if p, err := tips.TipParties(l.ctx, room, l.viewers["Bob"]); err != nil || p.ModelID != l.model {
		t.Fatalf("a holder's tip in the group room goes to %+v %v", p, err)
	}
	if _, err := tips.TipParties(l.ctx, room, dan); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("a non-holder's tip in the group room: %v", err)
	}

	clk.Advance(30 * time.Second) // t1+60
	l.svc.Liveness(stream.ViewerDisconnected{ShowID: sh.ID, SeatID: ann.ID, LastEvidenceAt: t1.Add(55 * time.Second)})
	clk.Advance(5 * time.Second) // t1+65: Ann leaves
	if end, err := l.svc.EndSeat(l.ctx, l.viewers["Ann"], ann.ID); err != nil || !end.Settled {
		t.Fatalf("Ann leaves: %+v %v", end, err)
	}
	if err := l.svc.GroupMember(l.ctx, l.viewers["Ann"], room); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("Ann in the group room after leaving: %v", err)
	}
	if g, _ := l.svc.GroupOf(l.ctx, sh.ID); !g.Started || g.Seats != 2 {
		t.Fatalf("the group after Ann left: %+v", g)
	}
	clk.Advance(15 * time.Second) // t1+80
	l.svc.Liveness(stream.ModelMediaStopped{ShowID: sh.ID, LastPacketAt: t1.Add(78 * time.Second)})
	clk.Advance(10 * time.Second) // t1+90
	l.svc.Liveness(stream.ModelMediaFlowing{ShowID: sh.ID, Since: clk.Now()})
	clk.Advance(10 * time.Second) // t1+100
	if err := l.svc.EndGroup(l.ctx, l.model); err != nil {
		t.Fatal(err)
	}

	want := map[string]struct {
		seat    string
		secs    int64
		rate    int64
		reason  billing.CloseReason
		payment int64
	}{
		"Ann": {ann.ID, 55, 300, billing.ClosedByViewer, 275},     // t1..t1+55
		"Bob": {bob.Seat.ID, 88, 300, billing.ClosedByModel, 440}, // t1..t1+78, t1+90..t1+100
		"Cy":  {cy.Seat.ID, 58, 600, billing.ClosedByModel, 580},  // t1+30..t1+78, t1+90..t1+100
	}
	for who, w := range want {
		r, err := l.eng.Receipt(l.ctx, w.seat)
		if err != nil {
			t.Fatalf("%s's receipt: %v", who, err)
		}
		if r.Kind != split.KindGroup || r.BillableSeconds != w.secs || r.Policy.RatePerMinute != usd(w.rate) ||
			r.Price != usd(w.payment) || r.CloseReason != w.reason || r.ShowID != sh.ID {
			t.Fatalf("%s's receipt: kind %s, %d s at %v, %v, %s; want group, %d s at %d, %d, %s", who, r.Kind, r.BillableSeconds,
				r.Policy.RatePerMinute, r.Price, r.CloseReason, w.secs, w.rate, w.payment, w.reason)
		}
		if b := l.wallet(who); b.Posted().Amount != 5000-w.payment || b.DebitsPending != 0 {
			t.Fatalf("%s's wallet %+v after paying %d", who, b, w.payment)
		}
	}
	// Public again: anyone watches, nobody holds a seat, the group is gone.
	if cur, _ := l.svc.Show(l.ctx, sh.ID); cur.Mode != theme.ModePublic {
		t.Fatalf("mode after the group: %s", cur.Mode)
	}
	if _, err := l.svc.AdmitViewer(l.ctx, sh.ID, ""); err != nil {
		t.Fatalf("a public viewer after the group: %v", err)
	}
	if _, err := l.svc.AdmitViewer(l.ctx, sh.ID, bob.Seat.Token); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("an ended seat's token: %v", err)
	}
	if _, ok := l.svc.GroupOf(l.ctx, sh.ID); ok {
		t.Fatal("the group is still open")
	}
	if seats, _ := l.live.Seats(l.ctx); len(seats) != 0 {
		t.Fatalf("ended seats stay in the store: %+v", seats)
	}
	// Ending again: every seat settled exactly once already.
	if err := l.svc.EndGroup(l.ctx, l.model); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("ending the group twice: %v", err)
	}
	if rep, err := l.led.Verify(l.ctx); err != nil || !rep.Clean() {
		t.Fatalf("ledger verify: %+v %v", rep, err)
	}
}

// A group seat follows the private seat's funding rules: a wallet that
// covers one block ends that seat exactly when its funded time runs out,
// while the group goes on for the others; one whose wallet covers more is
// extended before exhaustion.
func TestGroupShow_ShortWalletEndsOnlyThatSeatOnTimeOthersAreExtended(t *testing.T) {
	l, clk, sh := groupWorld(t)
	dan := l.user("dan@example.com", "Dan", accounts.RoleViewer)
	l.viewers["Dan"] = dan
	if _, err := l.led.Batch(l.ctx, []ledger.Request{{Key: "test/credits/" + dan, Debit: "platform:revenue", Credit: accounts.WalletCode(dan),
		Amount: usd(1000)}}); err != nil {
		t.Fatal(err)
	}
	// 2.00 a minute: a 5-minute block is 10.00, all Dan has.
	if _, err := l.svc.StartGroup(l.ctx, l.model, shows.GroupOptions{Rate: usd(200)}); err != nil {
		t.Fatal(err)
	}
	if cur, _ := l.svc.Show(l.ctx, sh.ID); cur.Mode != theme.ModeGroup {
		t.Fatalf("a group without a minimum starts at once: %s", cur.Mode)
	}
	t0 := clk.Now()
	d, a := l.join(sh.ID, "Dan"), l.join(sh.ID, "Ann")
	for _, s := range []shows.Seat{d.Seat, a.Seat} {
		l.svc.Liveness(stream.ViewerConnected{ShowID: sh.ID, SeatID: s.ID, At: t0})
	}
	for i := 0; i < 8; i++ {
		clk.Advance(time.Minute)
	}
	waitFor(t, "Dan's seat to end", func() bool { _, ok, _ := l.svc.OpenSeatOf(l.ctx, dan); return !ok })
	rd, err := l.eng.Receipt(l.ctx, d.Seat.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rd.CloseReason != billing.ClosedFundingExhausted || rd.BillableSeconds != 300 || rd.Price != usd(1000) || !rd.ClosedAt.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("Dan's seat: %s at t0+%v, %d s, %v; want funding_exhausted at t0+5m, 300 s, 10.00", rd.CloseReason, rd.ClosedAt.Sub(t0),
			rd.BillableSeconds, rd.Price)
	}
	ann, ok, _ := l.svc.OpenSeatOf(l.ctx, l.viewers["Ann"])
	if !ok || !ann.Open || ann.FundedSeconds < 600 {
		t.Fatalf("Ann's seat goes on, extended: %+v %v", ann, ok)
	}
	if g, _ := l.svc.GroupOf(l.ctx, sh.ID); !g.Started || g.Seats != 1 {
		t.Fatalf("the group after Dan's seat ended: %+v", g)
	}
	if err := l.svc.EndGroup(l.ctx, l.model); err != nil {
		t.Fatal(err)
	}
	ra, err := l.eng.Receipt(l.ctx, ann.ID)
	if err != nil || ra.BillableSeconds != 480 || ra.Price != usd(1600) {
		t.Fatalf("Ann's receipt: %+v %v, want 480 s, 16.00", ra, err)
	}
	if b := l.wallet("Dan"); b.Posted().Amount != 0 || b.DebitsPending != 0 {
		t.Fatalf("Dan's wallet %+v", b)
	}
}

// Mode switches never bill at a price not accepted: group to private ends
// every group seat (settled at its group price) before the private seat
// opens at the private rate; a waiting joiner of a group that never started
// pays nothing.
func TestGroupShow_SwitchToPrivateSettlesTheGroupSeatsFirst(t *testing.T) {
	l, clk, sh := groupWorld(t)
	if _, err := l.svc.StartGroup(l.ctx, l.model, shows.GroupOptions{Rate: usd(300)}); err != nil {
		t.Fatal(err)
	}
	ann := l.join(sh.ID, "Ann").Seat
	l.svc.Liveness(stream.ViewerConnected{ShowID: sh.ID, SeatID: ann.ID, At: clk.Now()})
	clk.Advance(40 * time.Second)
	// In a group show a request waits for her (it is not held): accepting
	// it is her switch to private.
	rq := l.ask(sh.ID, "Bob")
	if rq.State != shows.Waiting {
		t.Fatalf("a request during a group show: %+v", rq)
	}
	priv, err := l.svc.Accept(l.ctx, l.model, rq.ID, shows.AcceptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if priv.Mode != theme.ModePrivate || priv.Policy.RatePerMinute != usd(200) {
		t.Fatalf("the private seat: %+v", priv)
	}
	r, err := l.eng.Receipt(l.ctx, ann.ID)
	if err != nil || r.Kind != split.KindGroup || r.BillableSeconds != 40 || r.Price != usd(200) || r.CloseReason != billing.ClosedByModel {
		t.Fatalf("Ann's group seat at the switch: %+v %v, want 40 s at 3.00 = 2.00", r, err)
	}
	if cur, _ := l.svc.Show(l.ctx, sh.ID); cur.Mode != theme.ModePrivate {
		t.Fatalf("mode after the switch: %s", cur.Mode)
	}
	if _, err := l.svc.StartGroup(l.ctx, l.model, shows.GroupOptions{}); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("a group show from a private one: %v", err)
	}
	if _, err := l.svc.EndSeat(l.ctx, l.model, priv.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "public again", func() bool { cur, _ := l.svc.Show(l.ctx, sh.ID); return cur.Mode == theme.ModePublic })

	// A group that never reached its minimum: the joiner paid nothing.
	if _, err := l.svc.StartGroup(l.ctx, l.model, shows.GroupOptions{Rate: usd(300), Minimum: 3}); err != nil {
		t.Fatal(err)
	}
	if j := l.join(sh.ID, "Cy"); !j.Waiting {
		t.Fatalf("Cy: %+v", j)
	}
	// Leaving the queue and joining again: one place, still nothing held.
	if err := l.svc.LeaveGroup(l.ctx, l.viewers["Cy"], sh.ID); err != nil {
		t.Fatal(err)
	}
	if w, _ := l.svc.WaitingForGroup(l.ctx, l.viewers["Cy"], sh.ID); w {
		t.Fatal("Cy still waits after leaving")
	}
	if err := l.svc.LeaveGroup(l.ctx, l.viewers["Cy"], sh.ID); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("leaving twice: %v", err)
	}
	if j := l.join(sh.ID, "Cy"); !j.Waiting || j.Group.Waiting != 1 {
		t.Fatalf("Cy joins again: %+v", j)
	}
	clk.Advance(2 * time.Minute)
	if err := l.svc.EndGroup(l.ctx, l.model); err != nil {
		t.Fatal(err)
	}
	if b := l.wallet("Cy"); b.Posted().Amount != 5000 || b.DebitsPending != 0 {
		t.Fatalf("Cy's wallet after waiting for a group that never started: %+v", b)
	}
	if _, err := l.svc.StartGroup(l.ctx, l.model, shows.GroupOptions{Rate: usd(-1)}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("a negative group rate: %v", err)
	}
	if _, err := l.svc.StartGroup(l.ctx, l.model, shows.GroupOptions{Rate: money.Money{Amount: 100, Currency: "EUR"}}); errs.CodeOf(err) != errs.UnknownCurrency {
		t.Fatalf("a group rate in another currency: %v", err)
	}
	if _, err := l.svc.StartGroup(l.ctx, l.model, shows.GroupOptions{Minimum: -1}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("a negative minimum: %v", err)
	}
}

// A restart with a group show running: billing's Recover settles every seat
// once at its last checkpoint, and the show comes back public.
func TestGroupShow_RestartSettlesEverySeatOnceAndComesBackPublic(t *testing.T) {
	l, clk, sh := groupWorld(t)
	if _, err := l.svc.StartGroup(l.ctx, l.model, shows.GroupOptions{Rate: usd(300)}); err != nil {
		t.Fatal(err)
	}
	seats := map[string]shows.Seat{}
	for _, who := range []string{"Ann", "Bob"} {
		seats[who] = l.join(sh.ID, who).Seat
		l.svc.Liveness(stream.ViewerConnected{ShowID: sh.ID, SeatID: seats[who].ID, At: clk.Now()})
	}
	clk.Advance(90 * time.Second)
	if err := l.eng.Close(); err != nil {
		t.Fatal(err)
	}
	l.start()
	if cur, err := l.svc.Show(l.ctx, sh.ID); err != nil || cur.Mode != theme.ModePublic {
		t.Fatalf("after the restart: %+v %v", cur, err)
	}
	if _, ok := l.svc.GroupOf(l.ctx, sh.ID); ok {
		t.Fatal("the group is back after the restart")
	}
	for who, s := range seats {
		r, err := l.eng.Receipt(l.ctx, s.ID)
		if err != nil || r.Kind != split.KindGroup || r.BillableSeconds < 80 || r.BillableSeconds > 90 {
			t.Fatalf("%s's receipt after the restart: %+v %v", who, r, err)
		}
		end, err := l.svc.EndSeat(l.ctx, l.viewers[who], s.ID)
		if err != nil || !end.Settled || end.Receipt.Price != r.Price {
			t.Fatalf("%s ends after the restart: %+v %v", who, end, err)
		}
		if b := l.wallet(who); b.Posted().Amount != 5000-r.Price.Amount || b.DebitsPending != 0 {
			t.Fatalf("%s's wallet %+v after a seat of %v", who, b, r.Price)
		}
	}
	if seats, _ := l.live.Seats(l.ctx); len(seats) != 0 {
		t.Fatalf("seats stay in the store: %+v", seats)
	}
}

// The rate of a group show opened without one: her profile's group rate,
// or her private rate while she has none; the group rate obeys the private
// rate's rule, and a change reaches only seats opened after it.
func TestGroupShow_RateIsHerGroupRateElseHerPrivateRate(t *testing.T) {
	l, _, sh := groupWorld(t)
	gs, err := l.svc.StartGroup(l.ctx, l.model, shows.GroupOptions{})
	if err != nil || gs.Policy.RatePerMinute != usd(200) {
		t.Fatalf("without a group rate: %+v %v, want her private 2.00", gs.Policy.RatePerMinute, err)
	}
	if err := l.svc.EndGroup(l.ctx, l.model); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []money.Money{usd(0), usd(-5), {Amount: 100, Currency: "EUR"}, usd(1_000_000)} {
		if _, err := l.acc.SetGroupRate(l.ctx, l.model, l.model, bad); err == nil {
			t.Fatalf("group rate %v accepted", bad)
		}
	}
	if _, err := l.acc.SetGroupRate(l.ctx, l.viewers["Ann"], l.model, usd(150)); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("a viewer sets her group rate: %v", err)
	}
	if p, err := l.acc.SetGroupRate(l.ctx, l.model, l.model, usd(150)); err != nil || p.GroupRatePerMinute != usd(150) || p.RatePerMinute != usd(200) {
		t.Fatalf("set group rate: %+v %v", p, err)
	}
	if gs, err = l.svc.StartGroup(l.ctx, l.model, shows.GroupOptions{}); err != nil || gs.Policy.RatePerMinute != usd(150) {
		t.Fatalf("with her group rate: %+v %v", gs.Policy.RatePerMinute, err)
	}
	ann := l.join(sh.ID, "Ann").Seat
	if _, err := l.acc.SetGroupRate(l.ctx, l.model, l.model, usd(900)); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.svc.Seat(l.ctx, l.viewers["Ann"], ann.ID); got.Policy.RatePerMinute != usd(150) {
		t.Fatalf("Ann's open seat after a group rate change: %v", got.Policy.RatePerMinute)
	}
	if err := l.svc.EndGroup(l.ctx, l.model); err != nil {
		t.Fatal(err)
	}
}
