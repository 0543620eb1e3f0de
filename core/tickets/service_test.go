package tickets_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/tickets"
	"github.com/camkit/camkit/sdk/errs"
)

func TestScheduleRefusesWhatCannotBeSold(t *testing.T) {
	e := newEnv(t, tickets.Policy{})
	ok := tickets.ScheduleRequest{Title: "Late show", Price: usd(5_00), StartsAt: t0.Add(time.Hour), Duration: 30 * time.Minute}
	for name, c := range map[string]struct {
		edit func(*tickets.ScheduleRequest)
		want errs.Code
	}{
		"start now":          {func(r *tickets.ScheduleRequest) { r.StartsAt = t0 }, errs.Invalid},
		"no title":           {func(r *tickets.ScheduleRequest) { r.Title = "  " }, errs.Invalid},
		"free":               {func(r *tickets.ScheduleRequest) { r.Price = usd(0) }, errs.Invalid},
		"over the maximum":   {func(r *tickets.ScheduleRequest) { r.Price = usd(100_01) }, errs.Invalid},
		"other currency":     {func(r *tickets.ScheduleRequest) { r.Price.Currency = "EUR" }, errs.UnknownCurrency},
		"too short":          {func(r *tickets.ScheduleRequest) { r.Duration = 30 * time.Second }, errs.Invalid},
		"too long":           {func(r *tickets.ScheduleRequest) { r.Duration = 13 * time.Hour }, errs.Invalid},
		"doors before start": {func(r *tickets.ScheduleRequest) { r.DoorsCloseAt = r.StartsAt.Add(-time.Second) }, errs.Invalid},
		"doors after end":    {func(r *tickets.ScheduleRequest) { r.DoorsCloseAt = r.StartsAt.Add(31 * time.Minute) }, errs.Invalid},
		"negative capacity":  {func(r *tickets.ScheduleRequest) { r.Capacity = -1 }, errs.Invalid},
	} {
		r := ok
		c.edit(&r)
		_, err := e.svc.Schedule(e.ctx, "mia", r)
		wantCode(t, err, c.want, name)
	}
	sh, err := e.svc.Schedule(e.ctx, "mia", ok)
	if err != nil {
		t.Fatal(err)
	}
	if sh.State != tickets.Scheduled || !sh.DoorsCloseAt.Equal(sh.StartsAt) {
		t.Fatalf("scheduled %+v: want scheduled, doors closing at the start by default", sh)
	}
	if up, found, err := e.svc.Upcoming(e.ctx, "mia"); err != nil || !found || up.ID != sh.ID {
		t.Fatalf("upcoming %+v %v %v, want %s", up, found, err, sh.ID)
	}
}

// A ticket's price is held on the wallet (not spent) until the show ran,
// then posted and split 70/10/20 by the split plugin.
func TestTicketHeldUntilTheShowThenPostedAndSplit(t *testing.T) {
	e := newEnv(t, tickets.Policy{RefundBelowBps: 5000})
	e.fund("ann", 50_00)
	sh := e.schedule(0)
	tk := e.buy("ann", sh.ID)
	if tk.State != tickets.Held || tk.Price != usd(10_00) {
		t.Fatalf("ticket %+v, want held at $10", tk)
	}
	if posted, held := e.wallet("ann"); posted != 50_00 || held != 10_00 {
		t.Fatalf("wallet posted %d held %d, want 5000 held 1000", posted, held)
	}
	if _, err := e.svc.Start(e.ctx, "mia", sh.ID); errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), "starts at") {
		t.Fatalf("start an hour early: %v, want refused", err)
	}
	if _, err := e.svc.End(e.ctx, "mia", sh.ID); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("end before start: %v, want refused", err)
	}
	if _, err := e.svc.Start(e.ctx, "ben", sh.ID); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("another model starts it: %v, want not found", err)
	}
	e.clk.Advance(time.Hour)
	if _, err := e.svc.Start(e.ctx, "mia", sh.ID); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	ended, err := e.svc.End(e.ctx, "mia", sh.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ended.State != tickets.Ended || ended.EndedAt.Sub(ended.StartedAt) != time.Hour {
		t.Fatalf("ended %+v", ended)
	}
	if posted, held := e.wallet("ann"); posted != 40_00 || held != 0 {
		t.Fatalf("wallet posted %d held %d after the show, want 4000 and nothing held", posted, held)
	}
	for code, want := range map[string]int64{"model:mia:earnings": 7_00, "studio:agency:earnings": 1_00, "platform:revenue": 2_00} {
		if got, _ := e.balance(code); got != want {
			t.Errorf("%s = %d, want %d", code, got, want)
		}
	}
	got, err := e.st.Ticket(e.ctx, tk.ID)
	if err != nil || got.State != tickets.Posted || got.Posted != usd(10_00) || got.Refunded != usd(0) {
		t.Fatalf("ticket after the show %+v %v, want posted in full", got, err)
	}
	// A retried end moves nothing again.
	if _, err := e.svc.End(e.ctx, "mia", sh.ID); err != nil {
		t.Fatal(err)
	}
	if posted, _ := e.wallet("ann"); posted != 40_00 {
		t.Fatalf("a retried end charged again: wallet %d", posted)
	}
	e.verify()
}

func TestDoorsCloseLateBuyers(t *testing.T) {
	e := newEnv(t, tickets.Policy{})
	for _, v := range []string{"ann", "ben", "cat", "dan"} {
		e.fund(v, 20_00)
	}
	sh := e.schedule(0)
	e.buy("ann", sh.ID)
	e.clk.Advance(time.Hour)
	if _, err := e.svc.Start(e.ctx, "mia", sh.ID); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(5 * time.Minute)
	late := e.buy("ben", sh.ID) // running, doors still open: the same price
	if late.Price != usd(10_00) || late.State != tickets.Held {
		t.Fatalf("late ticket %+v", late)
	}
	e.clk.Advance(5 * time.Minute) // exactly at the doors
	_, err := e.svc.Buy(e.ctx, "cat", sh.ID, "k", tickets.PayWallet)
	if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), "doors") {
		t.Fatalf("buy at the doors: %v, want the doors closed", err)
	}
	if posted, held := e.wallet("cat"); posted != 20_00 || held != 0 {
		t.Fatalf("a refused buyer was charged: %d held %d", posted, held)
	}
	// Holding a ticket already is not a new sale: its holder gets it back.
	if again, err := e.svc.Buy(e.ctx, "ann", sh.ID, "other-key", tickets.PayWallet); err != nil || again.State != tickets.Held {
		t.Fatalf("ann's ticket after the doors: %+v %v", again, err)
	}
	e.clk.Advance(50 * time.Minute)
	if _, err := e.svc.End(e.ctx, "mia", sh.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Buy(e.ctx, "dan", sh.ID, "k", tickets.PayWallet)
	wantCode(t, err, errs.Invalid, "buy after the end")
	if n, err := e.svc.Sold(e.ctx, sh.ID); err != nil || n != 2 {
		t.Fatalf("sold %d %v, want 2", n, err)
	}
	e.verify()
}

func TestCapacityAndShortWallets(t *testing.T) {
	e := newEnv(t, tickets.Policy{})
	e.fund("ann", 10_00)
	e.fund("ben", 9_99)
	e.fund("cat", 30_00)
	e.fund("dan", 30_00)
	sh := e.schedule(2)
	e.buy("ann", sh.ID)
	_, err := e.svc.Buy(e.ctx, "ben", sh.ID, "k", tickets.PayWallet)
	if errs.CodeOf(err) != errs.Limit || !strings.Contains(err.Error(), "not enough credits") {
		t.Fatalf("a $9.99 wallet buys a $10 ticket: %v, want refused", err)
	}
	if posted, held := e.wallet("ben"); posted != 9_99 || held != 0 {
		t.Fatalf("refused buyer: posted %d held %d", posted, held)
	}
	e.buy("cat", sh.ID) // ben's refused purchase did not take a seat
	_, err = e.svc.Buy(e.ctx, "dan", sh.ID, "k", tickets.PayWallet)
	if errs.CodeOf(err) != errs.Limit || !strings.Contains(err.Error(), "sold out") {
		t.Fatalf("third buyer of two seats: %v, want sold out", err)
	}
	if again, err := e.svc.Buy(e.ctx, "ann", sh.ID, "k2", tickets.PayWallet); err != nil || again.State != tickets.Held {
		t.Fatalf("a holder of a sold-out show: %+v %v", again, err)
	}
	_, err = e.svc.Buy(e.ctx, "mia", sh.ID, "k", tickets.PayWallet)
	wantCode(t, err, errs.Invalid, "the model buys her own ticket")
	e.verify()
}

// A double click, a retry with another key and ten buyers' tabs at once
// buy one ticket: one hold of the price.
func TestBuyIsIdempotent(t *testing.T) {
	e := newEnv(t, tickets.Policy{})
	e.fund("ann", 100_00)
	sh := e.schedule(0)
	var wg sync.WaitGroup
	ids := make([]string, 10)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "same-key"
			if i%2 == 1 {
				key = "another-key"
			}
			tk, err := e.svc.Buy(e.ctx, "ann", sh.ID, key, tickets.PayWallet)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = tk.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("tickets %v: want one", ids)
		}
	}
	if posted, held := e.wallet("ann"); posted != 100_00 || held != 10_00 {
		t.Fatalf("wallet posted %d held %d, want one $10 hold", posted, held)
	}
	if mine, err := e.svc.Tickets(e.ctx, "ann"); err != nil || len(mine) != 1 {
		t.Fatalf("ann's tickets %+v %v, want 1", mine, err)
	}
	e.verify()
}

// A cancelled show refunds every ticket exactly (scheduled or running),
// and a retried cancel refunds nothing twice.
func TestCancelRefundsExactlyOnce(t *testing.T) {
	for _, started := range []bool{false, true} {
		e := newEnv(t, tickets.Policy{})
		sh := e.schedule(0)
		for _, v := range []string{"ann", "ben", "cat"} {
			e.fund(v, 25_00)
			e.buy(v, sh.ID)
		}
		if started {
			e.clk.Advance(time.Hour)
			if _, err := e.svc.Start(e.ctx, "mia", sh.ID); err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(59 * time.Minute)
		}
		for range 3 {
			c, err := e.svc.Cancel(e.ctx, "mia", sh.ID)
			if err != nil || c.State != tickets.Cancelled {
				t.Fatalf("cancel: %+v %v", c, err)
			}
		}
		for _, v := range []string{"ann", "ben", "cat"} {
			if posted, held := e.wallet(v); posted != 25_00 || held != 0 {
				t.Fatalf("started %v: %s after cancel: posted %d held %d, want 2500 and nothing held", started, v, posted, held)
			}
			tk, _, err := e.svc.TicketOf(e.ctx, v, sh.ID)
			if err != nil || tk.State != tickets.Refunded || tk.Refunded != usd(10_00) || tk.Posted != usd(0) {
				t.Fatalf("%s's ticket %+v %v, want refunded $10", v, tk, err)
			}
			if tr, err := e.book.TransferByKey(e.ctx, "ticket/"+tk.ID+"/refund"); err != nil || tr.Amount != usd(10_00) {
				t.Fatalf("refund transfer %+v %v", tr, err)
			}
		}
		if got, _ := e.balance("platform:revenue"); got != 0 {
			t.Fatalf("revenue %d after a cancel", got)
		}
		if _, err := e.svc.End(e.ctx, "mia", sh.ID); errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("end after cancel: %v", err)
		}
		if _, err := e.svc.Start(e.ctx, "mia", sh.ID); errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("start after cancel: %v", err)
		}
		e.verify()
	}
}

// The operator's policy for a show that ran shorter than announced.
func TestShorterThanAnnouncedPolicy(t *testing.T) {
	for name, c := range map[string]struct {
		pol            tickets.Policy
		ran            time.Duration
		kept, refunded int64
	}{
		"full length":                  {tickets.Policy{RefundBelowBps: 5000}, time.Hour, 10_00, 0},
		"longer":                       {tickets.Policy{RefundBelowBps: 5000, Prorate: true}, 70 * time.Minute, 10_00, 0},
		"under half: full refund":      {tickets.Policy{RefundBelowBps: 5000}, 29*time.Minute + 59*time.Second, 0, 10_00},
		"exactly half: kept":           {tickets.Policy{RefundBelowBps: 5000}, 30 * time.Minute, 10_00, 0},
		"two thirds, no prorate":       {tickets.Policy{RefundBelowBps: 5000}, 40 * time.Minute, 10_00, 0},
		"two thirds, prorated":         {tickets.Policy{RefundBelowBps: 5000, Prorate: true}, 40 * time.Minute, 6_67, 3_33},
		"no threshold, prorated":       {tickets.Policy{Prorate: true}, 10 * time.Minute, 1_67, 8_33},
		"no threshold, a minute, kept": {tickets.Policy{}, time.Minute, 10_00, 0},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, c.pol)
			e.fund("ann", 10_00)
			sh := e.schedule(0)
			tk := e.buy("ann", sh.ID)
			e.clk.Advance(time.Hour + 3*time.Minute) // she starts a little late: what counts is what ran
			if _, err := e.svc.Start(e.ctx, "mia", sh.ID); err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(c.ran)
			if _, err := e.svc.End(e.ctx, "mia", sh.ID); err != nil {
				t.Fatal(err)
			}
			got, err := e.st.Ticket(e.ctx, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Posted != usd(c.kept) || got.Refunded != usd(c.refunded) {
				t.Fatalf("posted %v refunded %v, want %d and %d", got.Posted, got.Refunded, c.kept, c.refunded)
			}
			if posted, held := e.wallet("ann"); posted != 10_00-c.kept || held != 0 {
				t.Fatalf("wallet %d held %d, want %d", posted, held, 10_00-c.kept)
			}
			var earned int64
			for _, code := range []string{"model:mia:earnings", "studio:agency:earnings", "platform:revenue"} {
				b, _ := e.balance(code)
				earned += b
			}
			if earned != c.kept {
				t.Fatalf("the parties earned %d of a kept %d", earned, c.kept)
			}
			e.verify()
		})
	}
}

func TestAdmitTicketHoldersOnly(t *testing.T) {
	e := newEnv(t, tickets.Policy{})
	e.fund("ann", 20_00)
	e.fund("ben", 20_00)
	sh := e.schedule(0)
	tk := e.buy("ann", sh.ID)
	token := e.svc.Token(tk)
	if _, running, err := e.svc.AdmitTicket(e.ctx, "mia", ""); running || err != nil {
		t.Fatalf("before the start: running %v %v, want the usual rules", running, err)
	}
	e.clk.Advance(time.Hour)
	if _, err := e.svc.Start(e.ctx, "mia", sh.ID); err != nil {
		t.Fatal(err)
	}
	seat, running, err := e.svc.AdmitTicket(e.ctx, "mia", token)
	if err != nil || !running || seat != tk.SeatID() {
		t.Fatalf("holder: seat %q running %v %v", seat, running, err)
	}
	_, running, err = e.svc.AdmitTicket(e.ctx, "mia", "")
	if !running || errs.CodeOf(err) != errs.Forbidden || !strings.Contains(err.Error(), "buy a ticket") {
		t.Fatalf("non-holder: running %v %v, want forbidden", running, err)
	}
	forged := tickets.Ticket{ID: tickets.TicketID(sh.ID, "ben")}
	for name, tok := range map[string]string{
		"tampered":        token[:len(token)-2] + "xx",
		"unsold ticket":   e.svc.Token(forged),
		"no mac":          "tt_" + tk.ID,
		"another's token": strings.Replace(token, tk.ID, forged.ID, 1),
	} {
		if _, running, err := e.svc.AdmitTicket(e.ctx, "mia", tok); !running || errs.CodeOf(err) != errs.Unauthenticated {
			t.Errorf("%s: running %v %v, want refused", name, running, err)
		}
	}
	if _, running, err := e.svc.AdmitTicket(e.ctx, "mia", "seat-token-of-core-shows"); running || err != nil {
		t.Fatalf("a seat token is core/shows' to judge: running %v %v", running, err)
	}
	// A ticket to another of her shows does not open this one.
	other, err := e.svc.Schedule(e.ctx, "mia", tickets.ScheduleRequest{Title: "Next week", Price: usd(5_00),
		StartsAt: e.clk.Now().Add(time.Minute), Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	benTk := e.buy("ben", other.ID)
	if _, _, err := e.svc.AdmitTicket(e.ctx, "mia", e.svc.Token(benTk)); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("ticket of another show: %v, want forbidden", err)
	}
	e.clk.Advance(time.Minute)
	if _, err := e.svc.Start(e.ctx, "mia", other.ID); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("a second ticket show starts while one runs: %v, want conflict", err)
	}
	e.clk.Advance(time.Hour)
	if _, err := e.svc.End(e.ctx, "mia", sh.ID); err != nil {
		t.Fatal(err)
	}
	if _, running, err := e.svc.AdmitTicket(e.ctx, "mia", ""); running || err != nil {
		t.Fatalf("after the end: running %v %v, want the usual rules", running, err)
	}
}

func TestPaymentChoices(t *testing.T) {
	e := newEnv(t, tickets.Policy{})
	e.fund("ann", 20_00)
	sh := e.schedule(0)
	_, err := e.svc.Buy(e.ctx, "ann", sh.ID, "k", tickets.PayCard)
	wantCode(t, err, errs.Unsupported, "card without a card path")
	_, err = e.svc.Buy(e.ctx, "ann", sh.ID, "k", "cash")
	wantCode(t, err, errs.Invalid, "cash")
	if tk, err := e.svc.Buy(e.ctx, "ann", sh.ID, "k", ""); err != nil || tk.State != tickets.Held {
		t.Fatalf("the default payment: %+v %v, want the wallet", tk, err)
	}
}

// A show its model never starts is cancelled at its announced end and every
// ticket refunded; a show she started, or one not yet over, is left alone.
func TestNoShowsAreCancelledAndRefunded(t *testing.T) {
	e := newEnv(t, tickets.Policy{})
	e.fund("ann", 30_00)
	missed := e.schedule(0) // t0+1h, one hour long
	later, err := e.svc.Schedule(e.ctx, "mia", tickets.ScheduleRequest{Title: "Tomorrow", Price: usd(5_00),
		StartsAt: t0.Add(26 * time.Hour), Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	e.buy("ann", missed.ID)
	e.buy("ann", later.ID)
	e.clk.Advance(2*time.Hour - time.Second)
	if n, err := e.svc.CancelNoShows(e.ctx); err != nil || n != 0 {
		t.Fatalf("before the announced end: %d cancelled %v", n, err)
	}
	e.clk.Advance(time.Second)
	if n, err := e.svc.CancelNoShows(e.ctx); err != nil || n != 1 {
		t.Fatalf("at the announced end: %d cancelled %v, want 1", n, err)
	}
	if sh, _ := e.svc.Show(e.ctx, missed.ID); sh.State != tickets.Cancelled {
		t.Fatalf("the missed show is %s", sh.State)
	}
	if posted, held := e.wallet("ann"); posted != 30_00 || held != 5_00 {
		t.Fatalf("wallet posted %d held %d, want the missed ticket refunded and tomorrow's held", posted, held)
	}
	if n, err := e.svc.CancelNoShows(e.ctx); err != nil || n != 0 {
		t.Fatalf("a second sweep: %d %v", n, err)
	}
	e.verify()
}

// A purchase the host stopped in the middle of (its seat reserved, its hold
// placed or not) is finished by the show's settlement: with a hold it is a
// ticket like any other, without one it is dropped and nothing moves.
func TestSettlementFinishesInterruptedPurchases(t *testing.T) {
	e := newEnv(t, tickets.Policy{})
	e.fund("ann", 20_00)
	e.fund("ben", 20_00)
	sh := e.schedule(0)
	for _, v := range []string{"ann", "ben"} {
		tk := tickets.Ticket{ID: tickets.TicketID(sh.ID, v), ShowID: sh.ID, ViewerID: v, ModelID: "mia", Price: usd(10_00),
			State: tickets.Buying, Posted: usd(0), Refunded: usd(0), BoughtAt: e.clk.Now()}
		if _, _, err := e.st.ReserveTicket(e.ctx, tk, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Ann's hold was placed just before the stop; Ben's never was.
	if _, err := e.book.Transfer(e.ctx, ledger.Request{Key: "ticket/" + tickets.TicketID(sh.ID, "ann") + "/hold", Kind: ledger.Pending,
		Debit: "viewer:ann:wallet", Credit: "platform:revenue", Amount: usd(10_00), Memo: "Ticket held: Friday night"}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	if _, err := e.svc.Start(e.ctx, "mia", sh.ID); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	if _, err := e.svc.End(e.ctx, "mia", sh.ID); err != nil {
		t.Fatal(err)
	}
	if tk, ok, err := e.svc.TicketOf(e.ctx, "ann", sh.ID); err != nil || !ok || tk.State != tickets.Posted {
		t.Fatalf("ann's interrupted purchase: %+v %v %v, want posted", tk, ok, err)
	}
	if _, ok, err := e.svc.TicketOf(e.ctx, "ben", sh.ID); err != nil || ok {
		t.Fatalf("ben's purchase without a hold survived: %v %v", ok, err)
	}
	if posted, held := e.wallet("ann"); posted != 10_00 || held != 0 {
		t.Fatalf("ann: %d held %d", posted, held)
	}
	if posted, held := e.wallet("ben"); posted != 20_00 || held != 0 {
		t.Fatalf("ben: %d held %d", posted, held)
	}
	e.verify()
}

// A purchase retried after the host stopped between the reservation and
// the hold finishes it: one hold, one ticket.
func TestRetriedPurchaseFinishesTheReservation(t *testing.T) {
	e := newEnv(t, tickets.Policy{})
	e.fund("ann", 20_00)
	sh := e.schedule(0)
	tk := tickets.Ticket{ID: tickets.TicketID(sh.ID, "ann"), ShowID: sh.ID, ViewerID: "ann", ModelID: "mia", Price: usd(10_00),
		State: tickets.Buying, Posted: usd(0), Refunded: usd(0), BoughtAt: e.clk.Now()}
	if _, _, err := e.st.ReserveTicket(e.ctx, tk, 0); err != nil {
		t.Fatal(err)
	}
	got := e.buy("ann", sh.ID)
	if got.ID != tk.ID || got.State != tickets.Held {
		t.Fatalf("retry: %+v", got)
	}
	if _, held := e.wallet("ann"); held != 10_00 {
		t.Fatalf("held %d, want one hold", held)
	}
}
