package tipping_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/core/tipping"
)

// eachStore runs f on the in-memory store and on SQLStore over PostgreSQL
// and SQLite: the three keep one contract.
func eachStore(t *testing.T, f func(t *testing.T, st tipping.Store)) {
	t.Run("memory", func(t *testing.T) { f(t, tipping.NewMemStore()) })
	storetest.Each(t, func(t *testing.T, db *store.DB) { f(t, tipping.NewSQLStore(db)) })
}

func TestStoreKeepsGoalsAndMenus(t *testing.T) {
	eachStore(t, func(t *testing.T, st tipping.Store) {
		ctx := context.Background()
		at := time.Date(2026, 12, 4, 20, 0, 0, 123000, time.UTC)
		if _, ok, err := st.Goal(ctx, "mia"); ok || err != nil {
			t.Fatalf("no goal yet: %v %v", ok, err)
		}
		g := tipping.Goal{ModelID: "mia", Title: "Oil show", Amount: usd(5000), OnReach: tipping.Reset, SetAt: at}
		if err := st.PutGoal(ctx, g); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := st.Goal(ctx, "mia"); !ok || err != nil || !reflect.DeepEqual(got, g) {
			t.Fatalf("goal %+v %v %v, want %+v", got, ok, err, g)
		}
		// Reached only grows, and only for the goal set at that time.
		if ok, err := st.MarkReached(ctx, "mia", at, 1); !ok || err != nil {
			t.Fatalf("first mark: %v %v", ok, err)
		}
		if ok, err := st.MarkReached(ctx, "mia", at, 1); ok || err != nil {
			t.Fatalf("the same mark twice: %v %v", ok, err)
		}
		if ok, err := st.MarkReached(ctx, "mia", at.Add(time.Second), 2); ok || err != nil {
			t.Fatalf("a mark for another goal: %v %v", ok, err)
		}
		if ok, err := st.MarkReached(ctx, "mia", at, 3); !ok || err != nil {
			t.Fatalf("a later mark: %v %v", ok, err)
		}
		if got, _, _ := st.Goal(ctx, "mia"); got.Reached != 3 {
			t.Fatalf("reached %d, want 3", got.Reached)
		}
		next := tipping.Goal{ModelID: "mia", Title: "Dance", Amount: usd(900), OnReach: tipping.Stay, SetAt: at.Add(time.Hour)}
		if err := st.PutGoal(ctx, next); err != nil { // a replacement, not a second row
			t.Fatal(err)
		}
		if got, _, _ := st.Goal(ctx, "mia"); !reflect.DeepEqual(got, next) {
			t.Fatalf("replaced goal %+v, want %+v", got, next)
		}
		if err := st.DeleteGoal(ctx, "mia"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := st.Goal(ctx, "mia"); ok {
			t.Fatal("a deleted goal is still there")
		}
		if err := st.DeleteGoal(ctx, "mia"); err != nil {
			t.Fatalf("deleting no goal: %v", err)
		}

		menu := []tipping.Item{{ID: "item-b", Name: "Dance", Price: usd(500)}, {ID: "item-a", Name: "Flash", Price: usd(1500)}}
		if err := st.PutMenu(ctx, "mia", menu); err != nil {
			t.Fatal(err)
		}
		if err := st.PutMenu(ctx, "zoe", []tipping.Item{{ID: "item-b", Name: "Song", Price: usd(100)}}); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Menu(ctx, "mia"); err != nil || !reflect.DeepEqual(got, menu) {
			t.Fatalf("menu %+v %v, want %+v in her order", got, err, menu)
		}
		menu = menu[1:]
		if err := st.PutMenu(ctx, "mia", menu); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Menu(ctx, "mia"); !reflect.DeepEqual(got, menu) {
			t.Fatalf("replaced menu %+v, want %+v", got, menu)
		}
		if err := st.PutMenu(ctx, "mia", nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Menu(ctx, "mia"); len(got) != 0 {
			t.Fatalf("an emptied menu: %+v", got)
		}
		if got, _ := st.Menu(ctx, "zoe"); len(got) != 1 {
			t.Fatalf("another model's menu was touched: %+v", got)
		}
	})
}
