package shows_test

import (
	"testing"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/split"
	"github.com/camkit/camkit/sdk/theme"
)

func (l *lifecycle) spyRate(cents int64) {
	l.t.Helper()
	var r *money.Money
	if cents > 0 {
		r = &money.Money{Amount: cents, Currency: "USD"}
	}
	if _, err := l.acc.SetSpyRate(l.ctx, l.model, l.model, r); err != nil {
		l.t.Fatal(err)
	}
}

// privateWith opens who's private show on sh (the model accepts).
func (l *lifecycle) privateWith(sh shows.Show, who string) shows.Seat {
	l.t.Helper()
	rq := l.ask(sh.ID, who)
	seat, err := l.svc.Accept(l.ctx, l.model, rq.ID, shows.AcceptOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	return seat
}

func (l *lifecycle) spy(sh shows.Show, who string) shows.Seat {
	l.t.Helper()
	st, err := l.svc.Spy(l.ctx, l.viewers[who], sh.ID)
	if err != nil {
		l.t.Fatalf("%s spies: %v", who, err)
	}
	return st
}

// A private show with two spies on a fake clock: each spy seat locks the
// spy rate of ITS join, is paused by the model's media loss (every seat) and
// by its own connection loss (backdated, only its own), and ends and settles
// once when the private viewer leaves. The private seat's receipt is what
// it would be alone. A spy has no chat, no tips, never the viewer's camera
// and never publishes; the private viewer sees the spy count only when the
// operator shows it, the model always.
func TestSpy_MeteredLikeAnySeatAndEndsWithThePrivateShow(t *testing.T) {
	l, clk, sh := groupWorld(t)
	if _, err := l.svc.Spy(l.ctx, l.viewers["Bob"], sh.ID); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("spying on a public show: %v", err)
	}
	t0 := clk.Now()
	priv := l.privateWith(sh, "Ann")
	l.svc.Liveness(stream.ViewerConnected{ShowID: sh.ID, SeatID: priv.ID, At: t0})
	if _, err := l.svc.Spy(l.ctx, l.viewers["Bob"], sh.ID); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("spying while the model refuses spies: %v", err)
	}
	if _, ok, _ := l.svc.SpyOffer(l.ctx, sh.ID, ""); ok {
		t.Fatal("a spy offer while she refuses spies")
	}
	l.spyRate(300)
	if q, ok, err := l.svc.SpyOffer(l.ctx, sh.ID, l.viewers["Bob"]); !ok || err != nil || !q.Allowed || q.Policy.RatePerMinute != usd(300) {
		t.Fatalf("the spy offer: %+v %v %v", q, ok, err)
	}
	if _, err := l.svc.Spy(l.ctx, l.viewers["Ann"], sh.ID); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("the private viewer spies on her own show: %v", err)
	}
	if _, err := l.svc.Spy(l.ctx, l.model, sh.ID); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("the model spies: %v", err)
	}

	clk.Advance(10 * time.Second) // t0+10: Bob spies at 3.00
	bob := l.spy(sh, "Bob")
	if !bob.Spy || !bob.Open || bob.Room != "" || bob.Token == "" || bob.Policy.RatePerMinute != usd(300) || bob.Mode != theme.ModePrivate {
		t.Fatalf("Bob's spy seat: %+v", bob)
	}
	if again := l.spy(sh, "Bob"); again.ID != bob.ID {
		t.Fatalf("spying twice: %s, want %s", again.ID, bob.ID)
	}
	l.svc.Liveness(stream.ViewerConnected{ShowID: sh.ID, SeatID: bob.ID, At: clk.Now()})
	l.spyRate(360)                // reaches only later spies
	clk.Advance(10 * time.Second) // t0+20: Cy spies at 3.60
	cy := l.spy(sh, "Cy")
	if cy.Policy.RatePerMinute != usd(360) {
		t.Fatalf("Cy's rate: %v", cy.Policy.RatePerMinute)
	}
	if got, _ := l.svc.Seat(l.ctx, l.viewers["Bob"], bob.ID); got.Policy.RatePerMinute != usd(300) {
		t.Fatalf("Bob's open seat after the spy rate changed: %v", got.Policy.RatePerMinute)
	}
	l.svc.Liveness(stream.ViewerConnected{ShowID: sh.ID, SeatID: cy.ID, At: clk.Now()})

	// Media: the spy watches the broadcast with its token; never the private
	// viewer's camera, and its token publishes nothing.
	if a, err := l.svc.AdmitViewer(l.ctx, sh.ID, bob.Token); err != nil || a.SeatID != bob.ID {
		t.Fatalf("the spy's token: %+v %v", a, err)
	}
	if _, err := l.svc.AdmitViewer(l.ctx, shows.Cam2camRoom(priv.ID), bob.Token); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("the spy's token on the viewer's camera: %v", err)
	}
	if _, err := l.svc.ResolveStreamKey(l.ctx, bob.Token); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("a WHIP publish with the spy's token: %v", err)
	}
	if _, err := l.svc.AdmitViewer(l.ctx, sh.ID, ""); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("a public viewer of a private show with spies: %v", err)
	}
	// No chat, no tips in the private room.
	if _, err := l.svc.Seat(l.ctx, l.viewers["Bob"], priv.ID); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("the spy reads the private seat (its chat): %v", err)
	}
	tips := &shows.Tips{Store: l.live, Accounts: l.acc}
	if _, err := tips.TipParties(l.ctx, priv.Room, l.viewers["Bob"]); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("the spy tips in the private room: %v", err)
	}
	if _, err := tips.TipParties(l.ctx, shows.PrivateRoom(bob.ID), l.viewers["Bob"]); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("the spy tips in a room of its own seat: %v", err)
	}
	if p, err := tips.TipParties(l.ctx, priv.Room, l.viewers["Ann"]); err != nil || p.ModelID != l.model {
		t.Fatalf("the private viewer's tip: %+v %v", p, err)
	}
	// The spy count: the model's always, the viewer's only when shown.
	if m, _ := l.svc.Seat(l.ctx, l.model, priv.ID); m.Spies != 2 || !m.SpiesShown {
		t.Fatalf("the model's view of the private seat: %d spies, shown %v", m.Spies, m.SpiesShown)
	}
	if v, _ := l.svc.Seat(l.ctx, l.viewers["Ann"], priv.ID); v.Spies != 0 || v.SpiesShown {
		t.Fatalf("the viewer's view with the count off: %d spies, shown %v", v.Spies, v.SpiesShown)
	}
	if ss, _ := l.svc.SpySeats(l.ctx, l.model); len(ss) != 2 || ss[0].ID != bob.ID || ss[1].ID != cy.ID {
		t.Fatalf("her spies: %+v", ss)
	}

	clk.Advance(25 * time.Second) // t0+45: Bob's connection was lost at t0+40
	l.svc.Liveness(stream.ViewerDisconnected{ShowID: sh.ID, SeatID: bob.ID, LastEvidenceAt: t0.Add(40 * time.Second)})
	clk.Advance(5 * time.Second) // t0+50
	l.svc.Liveness(stream.ViewerConnected{ShowID: sh.ID, SeatID: bob.ID, At: clk.Now()})
	clk.Advance(10 * time.Second) // t0+60: her media was lost at t0+57
	l.svc.Liveness(stream.ModelMediaStopped{ShowID: sh.ID, LastPacketAt: t0.Add(57 * time.Second)})
	if b, _ := l.svc.Seat(l.ctx, l.viewers["Bob"], bob.ID); b.Billing || b.PauseReason != string(billing.PausedModelMedia) {
		t.Fatalf("Bob's seat while her media is lost: billing %v, %q", b.Billing, b.PauseReason)
	}
	clk.Advance(10 * time.Second) // t0+70
	l.svc.Liveness(stream.ModelMediaFlowing{ShowID: sh.ID, Since: clk.Now()})
	clk.Advance(10 * time.Second) // t0+80: Cy leaves
	if end, err := l.svc.EndSeat(l.ctx, l.viewers["Cy"], cy.ID); err != nil || !end.Settled {
		t.Fatalf("Cy leaves: %+v %v", end, err)
	}
	if cur, _ := l.svc.Show(l.ctx, sh.ID); cur.Mode != theme.ModePrivate {
		t.Fatalf("the private show after a spy left: %s", cur.Mode)
	}
	clk.Advance(20 * time.Second) // t0+100: Ann leaves, the private show ends
	if end, err := l.svc.EndSeat(l.ctx, l.viewers["Ann"], priv.ID); err != nil || !end.Settled {
		t.Fatalf("Ann leaves: %+v %v", end, err)
	}
	waitFor(t, "Bob's spy seat to settle", func() bool { _, err := l.eng.Receipt(l.ctx, bob.ID); return err == nil })

	want := map[string]struct {
		seat    string
		secs    int64
		rate    int64
		reason  billing.CloseReason
		payment int64
	}{
		"Ann": {priv.ID, 87, 200, billing.ClosedByViewer, 290}, // t0..t0+57, t0+70..t0+100: as without spies
		"Bob": {bob.ID, 67, 300, billing.ClosedByModel, 335},   // t0+10..t0+40, t0+50..t0+57, t0+70..t0+100
		"Cy":  {cy.ID, 47, 360, billing.ClosedByViewer, 282},   // t0+20..t0+57, t0+70..t0+80
	}
	for who, w := range want {
		r, err := l.eng.Receipt(l.ctx, w.seat)
		if err != nil {
			t.Fatalf("%s's receipt: %v", who, err)
		}
		if r.Kind != split.KindPrivate || r.BillableSeconds != w.secs || r.Policy.RatePerMinute != usd(w.rate) ||
			r.Price != usd(w.payment) || r.CloseReason != w.reason || r.ShowID != sh.ID {
			t.Fatalf("%s's receipt: kind %s, %d s at %v, %v, %s; want private, %d s at %d, %d, %s", who, r.Kind, r.BillableSeconds,
				r.Policy.RatePerMinute, r.Price, r.CloseReason, w.secs, w.rate, w.payment, w.reason)
		}
		if b := l.wallet(who); b.Posted().Amount != 5000-w.payment || b.DebitsPending != 0 {
			t.Fatalf("%s's wallet %+v after paying %d", who, b, w.payment)
		}
		// Ending again answers the same receipt: settled exactly once.
		if end, err := l.svc.EndSeat(l.ctx, l.viewers[who], w.seat); err != nil || !end.Settled || end.Receipt.Price != usd(w.payment) {
			t.Fatalf("%s ends again: %+v %v", who, end, err)
		}
	}
	if _, err := l.svc.AdmitViewer(l.ctx, sh.ID, bob.Token); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("an ended spy seat's token: %v", err)
	}
	if cur, _ := l.svc.Show(l.ctx, sh.ID); cur.Mode != theme.ModePublic {
		t.Fatalf("mode after the private show: %s", cur.Mode)
	}
	if _, err := l.svc.Spy(l.ctx, l.viewers["Bob"], sh.ID); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("spying once she is public again: %v", err)
	}
	if seats, _ := l.live.Seats(l.ctx); len(seats) != 0 {
		t.Fatalf("ended seats stay in the store: %+v", seats)
	}
	if rep, err := l.led.Verify(l.ctx); err != nil || !rep.Clean() {
		t.Fatalf("ledger verify: %+v %v", rep, err)
	}
}

// The private viewer sees the spy count when the operator shows it.
func TestSpy_CountShownToTheViewerWhenTheOperatorEnablesIt(t *testing.T) {
	l, _, sh := groupWorld(t)
	l.showSpyCount = true
	if err := l.eng.Close(); err != nil {
		t.Fatal(err)
	}
	l.start()
	l.svc.Liveness(stream.ModelMediaFlowing{ShowID: sh.ID, Since: l.clk.Now()})
	l.spyRate(300)
	priv := l.privateWith(sh, "Ann")
	if v, _ := l.svc.Seat(l.ctx, l.viewers["Ann"], priv.ID); v.Spies != 0 || !v.SpiesShown {
		t.Fatalf("no spies yet: %d shown %v", v.Spies, v.SpiesShown)
	}
	l.spy(sh, "Bob")
	if v, _ := l.svc.Seat(l.ctx, l.viewers["Ann"], priv.ID); v.Spies != 1 || !v.SpiesShown {
		t.Fatalf("one spy: %d shown %v", v.Spies, v.SpiesShown)
	}
	if _, err := l.svc.EndSeat(l.ctx, l.model, priv.ID); err != nil {
		t.Fatal(err)
	}
}

// A spy seat follows the funding rules of every seat: a wallet covering
// one block ends that spy exactly when its funded time runs out, while the
// private show and the other spy go on, extended before exhaustion; the
// model ending the private show ends the spy that is left.
func TestSpy_ShortWalletEndsOnTimeOthersAreExtendedTheModelEndsTheRest(t *testing.T) {
	l, clk, sh := groupWorld(t)
	dan := l.user("dan@example.com", "Dan", accounts.RoleViewer)
	l.viewers["Dan"] = dan
	if _, err := l.led.Batch(l.ctx, []ledger.Request{{Key: "test/credits/" + dan, Debit: "platform:revenue", Credit: accounts.WalletCode(dan),
		Amount: usd(1000)}}); err != nil {
		t.Fatal(err)
	}
	l.spyRate(200) // a 5-minute block is 10.00, all Dan has
	t0 := clk.Now()
	priv := l.privateWith(sh, "Ann")
	d, b := l.spy(sh, "Dan"), l.spy(sh, "Bob")
	for _, s := range []shows.Seat{priv, d, b} {
		l.svc.Liveness(stream.ViewerConnected{ShowID: sh.ID, SeatID: s.ID, At: t0})
	}
	for i := 0; i < 8; i++ {
		clk.Advance(time.Minute)
	}
	waitFor(t, "Dan's spy seat to settle", func() bool { _, err := l.eng.Receipt(l.ctx, d.ID); return err == nil })
	rd, err := l.eng.Receipt(l.ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rd.CloseReason != billing.ClosedFundingExhausted || rd.BillableSeconds != 300 || rd.Price != usd(1000) || !rd.ClosedAt.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("Dan's spy seat: %s at t0+%v, %d s, %v; want funding_exhausted at t0+5m, 300 s, 10.00", rd.CloseReason, rd.ClosedAt.Sub(t0),
			rd.BillableSeconds, rd.Price)
	}
	bs, ok, _ := l.svc.OpenSeatOf(l.ctx, l.viewers["Bob"])
	if !ok || !bs.Open || bs.FundedSeconds < 600 {
		t.Fatalf("Bob's spy seat goes on, extended: %+v %v", bs, ok)
	}
	if cur, _ := l.svc.Show(l.ctx, sh.ID); cur.Mode != theme.ModePrivate {
		t.Fatalf("the private show after a spy's funding ran out: %s", cur.Mode)
	}
	if _, err := l.svc.EndSeat(l.ctx, l.model, priv.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Bob's spy seat to settle", func() bool { _, err := l.eng.Receipt(l.ctx, b.ID); return err == nil })
	rb, err := l.eng.Receipt(l.ctx, b.ID)
	if err != nil || rb.BillableSeconds != 480 || rb.Price != usd(1600) || rb.CloseReason != billing.ClosedByModel {
		t.Fatalf("Bob's receipt: %+v %v, want 480 s, 16.00 by the model", rb, err)
	}
	rp, err := l.eng.Receipt(l.ctx, priv.ID)
	if err != nil || rp.BillableSeconds != 480 || rp.Price != usd(1600) {
		t.Fatalf("Ann's receipt: %+v %v, want 480 s, 16.00", rp, err)
	}
	if w := l.wallet("Dan"); w.Posted().Amount != 0 || w.DebitsPending != 0 {
		t.Fatalf("Dan's wallet %+v", w)
	}
	if rep, err := l.led.Verify(l.ctx); err != nil || !rep.Clean() {
		t.Fatalf("ledger verify: %+v %v", rep, err)
	}
}

// A restart with a spy watching: billing's Recover settles the spy seat
// once at its last checkpoint, like the private seat, and the show comes
// back public.
func TestSpy_RestartSettlesTheSpySeatOnce(t *testing.T) {
	l, clk, sh := groupWorld(t)
	l.spyRate(300)
	priv := l.privateWith(sh, "Ann")
	bob := l.spy(sh, "Bob")
	for _, s := range []shows.Seat{priv, bob} {
		l.svc.Liveness(stream.ViewerConnected{ShowID: sh.ID, SeatID: s.ID, At: clk.Now()})
	}
	clk.Advance(90 * time.Second)
	if err := l.eng.Close(); err != nil {
		t.Fatal(err)
	}
	l.start()
	if cur, err := l.svc.Show(l.ctx, sh.ID); err != nil || cur.Mode != theme.ModePublic {
		t.Fatalf("after the restart: %+v %v", cur, err)
	}
	r, err := l.eng.Receipt(l.ctx, bob.ID)
	if err != nil || r.Kind != split.KindPrivate || r.BillableSeconds < 80 || r.BillableSeconds > 90 || r.Policy.RatePerMinute != usd(300) {
		t.Fatalf("Bob's receipt after the restart: %+v %v", r, err)
	}
	end, err := l.svc.EndSeat(l.ctx, l.viewers["Bob"], bob.ID)
	if err != nil || !end.Settled || end.Receipt.Price != r.Price {
		t.Fatalf("Bob ends after the restart: %+v %v", end, err)
	}
	if w := l.wallet("Bob"); w.Posted().Amount != 5000-r.Price.Amount || w.DebitsPending != 0 {
		t.Fatalf("Bob's wallet %+v after a seat of %v", w, r.Price)
	}
	if seats, _ := l.live.Seats(l.ctx); len(seats) != 0 {
		t.Fatalf("seats stay in the store: %+v", seats)
	}
}

// Paid takes spy seats only beside a private show's viewer, and never
// counts one as the viewer: the private show still takes one.
func TestPrivateShow_SpySeatsBesideItsOneViewer(t *testing.T) {
	w := newWorld(t)
	sh, err := w.svc.OpenShow(w.ctx, shows.OpenShowRequest{ModelID: "m1", Mode: shows.Private})
	if err != nil {
		t.Fatal(err)
	}
	fund := func() billing.Funding { return billing.Funding{Processor: "sandbox", Credential: w.card()} }
	if _, err := w.svc.OpenSeat(w.ctx, sh.ID, shows.SeatRequest{ViewerID: "vs", Funding: fund(), Spy: true}); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("a spy before the private viewer: %v", err)
	}
	a := w.seat(sh.ID, "va")
	spy, err := w.svc.OpenSeat(w.ctx, sh.ID, shows.SeatRequest{ViewerID: "vs", Funding: fund(), Spy: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.OpenSeat(w.ctx, sh.ID, shows.SeatRequest{ViewerID: "vb", Funding: fund()}); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("a second viewer beside a spy: %v", err)
	}
	grp, err := w.svc.OpenShow(w.ctx, shows.OpenShowRequest{ModelID: "m1", Mode: shows.Group})
	if err != nil {
		t.Fatal(err)
	}
	w.seat(grp.ID, "vg")
	if _, err := w.svc.OpenSeat(w.ctx, grp.ID, shows.SeatRequest{ViewerID: "vs2", Funding: fund(), Spy: true}); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("a spy in a group show: %v", err)
	}
	if err := w.svc.EndShow(w.ctx, sh.ID, "over"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a.ID, spy.ID} {
		if r, err := w.eng.Receipt(w.ctx, id); err != nil || r.CloseReason != billing.ClosedByModel {
			t.Fatalf("seat %s after the private show ended: %+v %v", id, r, err)
		}
	}
	if err := w.svc.EndShow(w.ctx, grp.ID, "over"); err != nil {
		t.Fatal(err)
	}
}

// Her spy rate obeys the private rate's rule, only she (or her studio, an
// admin) sets it, nil refuses spies again, and a spy seat open meanwhile
// keeps the rate it locked.
func TestSpy_RateIsHersUnderTheRateRuleAndNilRefusesSpies(t *testing.T) {
	l, _, sh := groupWorld(t)
	for _, bad := range []money.Money{usd(0), usd(-5), {Amount: 100, Currency: "EUR"}, usd(1_000_000)} {
		if _, err := l.acc.SetSpyRate(l.ctx, l.model, l.model, &bad); err == nil {
			t.Fatalf("spy rate %v accepted", bad)
		}
	}
	r := usd(150)
	if _, err := l.acc.SetSpyRate(l.ctx, l.viewers["Ann"], l.model, &r); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("a viewer sets her spy rate: %v", err)
	}
	if p, err := l.acc.SetSpyRate(l.ctx, l.model, l.model, &r); err != nil || p.SpyRatePerMinute == nil || *p.SpyRatePerMinute != usd(150) || p.RatePerMinute != usd(200) {
		t.Fatalf("set spy rate: %+v %v", p, err)
	}
	priv := l.privateWith(sh, "Ann")
	bob := l.spy(sh, "Bob")
	l.spyRate(0) // she refuses spies from now on
	if _, err := l.svc.Spy(l.ctx, l.viewers["Cy"], sh.ID); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("spying after she refused spies: %v", err)
	}
	if got, err := l.svc.Seat(l.ctx, l.viewers["Bob"], bob.ID); err != nil || !got.Open || got.Policy.RatePerMinute != usd(150) {
		t.Fatalf("Bob's open spy seat after she refused spies: %+v %v", got, err)
	}
	if p, _ := l.acc.Profile(l.ctx, l.model); p.SpyRatePerMinute != nil {
		t.Fatalf("her spy rate after refusing: %v", p.SpyRatePerMinute)
	}
	if _, err := l.svc.EndSeat(l.ctx, l.model, priv.ID); err != nil {
		t.Fatal(err)
	}
}
