package tickets_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/core/tickets"
	"github.com/camkit/camkit/sdk/errs"
)

// eachStore runs f on the in-memory store and on SQLStore over PostgreSQL
// and SQLite: the three keep one contract.
func eachStore(t *testing.T, f func(t *testing.T, st tickets.Store)) {
	t.Run("memory", func(t *testing.T) { f(t, tickets.NewMemStore()) })
	storetest.Each(t, func(t *testing.T, db *store.DB) { f(t, tickets.NewSQLStore(db)) })
}

func TestStoreKeepsShowsAndTickets(t *testing.T) {
	eachStore(t, func(t *testing.T, st tickets.Store) {
		ctx := context.Background()
		at := time.Date(2026, 12, 4, 18, 0, 0, 123000, time.UTC)
		sh := tickets.Show{ID: "ts1", ModelID: "mia", Title: "Friday", Price: usd(10_00), StartsAt: at.Add(time.Hour),
			Duration: 90 * time.Minute, DoorsCloseAt: at.Add(70 * time.Minute), Capacity: 2, State: tickets.Scheduled, CreatedAt: at}
		early := sh
		early.ID, early.StartsAt, early.Capacity = "ts0", at.Add(30*time.Minute), 0
		for _, s := range []tickets.Show{sh, early} {
			if err := st.CreateShow(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := st.Show(ctx, "ts1"); err != nil || !reflect.DeepEqual(got, sh) {
			t.Fatalf("show %+v %v, want %+v", got, err, sh)
		}
		if _, err := st.Show(ctx, "nope"); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("missing show: %v", err)
		}
		if got, err := st.ShowsOfModel(ctx, "mia"); err != nil || len(got) != 2 || got[0].ID != "ts0" || got[1].ID != "ts1" {
			t.Fatalf("shows of mia %+v %v, want soonest first", got, err)
		}

		if got, err := st.ScheduledBefore(ctx, at.Add(time.Hour)); err != nil || len(got) != 1 || got[0].ID != "ts0" {
			t.Fatalf("scheduled before the hour: %+v %v, want ts0 only", got, err)
		}
		if got, err := st.ScheduledBefore(ctx, at.Add(2*time.Hour)); err != nil || len(got) != 2 || got[0].ID != "ts0" {
			t.Fatalf("scheduled before two hours: %+v %v, want both, soonest first", got, err)
		}
		tk := func(id, viewer string, bought time.Time) tickets.Ticket {
			return tickets.Ticket{ID: id, ShowID: "ts1", ViewerID: viewer, ModelID: "mia", Price: usd(10_00), State: tickets.Buying,
				Posted: usd(0), Refunded: usd(0), BoughtAt: bought}
		}
		a := tk("t-ann", "ann", at)
		if got, fresh, err := st.ReserveTicket(ctx, a, 2); err != nil || !fresh || !reflect.DeepEqual(got, a) {
			t.Fatalf("reserve %+v %v %v", got, fresh, err)
		}
		again := tk("t-ann-2", "ann", at.Add(time.Second))
		if got, fresh, err := st.ReserveTicket(ctx, again, 2); err != nil || fresh || got.ID != "t-ann" {
			t.Fatalf("second reservation of ann: %+v fresh %v %v, want the first", got, fresh, err)
		}
		b := tk("t-ben", "ben", at.Add(2*time.Second))
		if _, fresh, err := st.ReserveTicket(ctx, b, 2); err != nil || !fresh {
			t.Fatal(fresh, err)
		}
		if _, _, err := st.ReserveTicket(ctx, tk("t-cat", "cat", at.Add(3*time.Second)), 2); errs.CodeOf(err) != errs.Limit {
			t.Fatalf("third of two: %v, want limit", err)
		}
		if _, _, err := st.ReserveTicket(ctx, tk("t-dan", "dan", at.Add(70*time.Minute)), 0); errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("at the doors: %v, want invalid", err)
		}
		a.State, a.Posted, a.Refunded, a.SettledAt = tickets.Posted, usd(6_67), usd(3_33), at.Add(3*time.Hour)
		if err := st.PutTicket(ctx, a); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Ticket(ctx, "t-ann"); err != nil || !reflect.DeepEqual(got, a) {
			t.Fatalf("ticket %+v %v, want %+v", got, err, a)
		}
		if err := st.PutTicket(ctx, tk("t-none", "x", at)); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("update of a missing ticket: %v", err)
		}
		if got, err := st.Tickets(ctx, "ts1"); err != nil || !reflect.DeepEqual(got, []tickets.Ticket{a, b}) {
			t.Fatalf("tickets %+v %v, want oldest first", got, err)
		}
		if got, err := st.TicketsOfViewer(ctx, "ben"); err != nil || !reflect.DeepEqual(got, []tickets.Ticket{b}) {
			t.Fatalf("ben's tickets %+v %v", got, err)
		}
		if err := st.DeleteTicket(ctx, "t-ben"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Ticket(ctx, "t-ben"); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("deleted ticket: %v", err)
		}

		started := at.Add(61 * time.Minute)
		got, ok, err := st.Transition(ctx, "ts1", []tickets.State{tickets.Scheduled}, tickets.Running, started)
		if err != nil || !ok || got.State != tickets.Running || !got.StartedAt.Equal(started) {
			t.Fatalf("start %+v %v %v", got, ok, err)
		}
		if got, ok, err := st.Transition(ctx, "ts1", []tickets.State{tickets.Scheduled}, tickets.Running, started); err != nil || ok || got.State != tickets.Running {
			t.Fatalf("second start %+v %v %v, want not applied", got, ok, err)
		}
		ended := started.Add(time.Hour)
		if got, ok, err := st.Transition(ctx, "ts1", []tickets.State{tickets.Running}, tickets.Ended, ended); err != nil || !ok || !got.EndedAt.Equal(ended) {
			t.Fatalf("end %+v %v %v", got, ok, err)
		}
		if got, err := st.ScheduledBefore(ctx, at.Add(2*time.Hour)); err != nil || len(got) != 1 || got[0].ID != "ts0" {
			t.Fatalf("scheduled after ts1 ran: %+v %v, want ts0 only", got, err)
		}
		sh.State, sh.StartedAt, sh.EndedAt = tickets.Ended, started, ended
		if got, err := st.Show(ctx, "ts1"); err != nil || !reflect.DeepEqual(got, sh) {
			t.Fatalf("ended show %+v %v, want %+v", got, err, sh)
		}
		if _, _, err := st.ReserveTicket(ctx, tk("t-eve", "eve", at), 0); errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("reservation for an ended show: %v", err)
		}
	})
}
