package shows_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
)

// eachStore runs f on the in-memory store and on SQLStore over both dialects:
// the three must keep the same contract.
func eachStore(t *testing.T, f func(t *testing.T, st shows.Store)) {
	t.Run("memory", func(t *testing.T) { f(t, shows.NewMemStore()) })
	storetest.Each(t, func(t *testing.T, db *store.DB) { f(t, shows.NewSQLStore(db)) })
}

func TestStoreKeepsLiveState(t *testing.T) {
	eachStore(t, func(t *testing.T, st shows.Store) {
		ctx := context.Background()
		at := time.Date(2026, 12, 4, 3, 0, 0, 123000, time.UTC)
		b := shows.Broadcast{ID: "b1", ModelID: "m1", KeyDigest: "d1", Since: at, Mode: theme.ModePublic}
		if err := st.PutBroadcast(ctx, b); err != nil {
			t.Fatal(err)
		}
		b.Mode, b.Media, b.PaidShowID, b.SeatID = theme.ModePrivate, true, "sh1", "seat1"
		if err := st.PutBroadcast(ctx, b); err != nil { // an update, not a second row
			t.Fatal(err)
		}
		other := shows.Broadcast{ID: "b2", ModelID: "m2", KeyDigest: "d2", Since: at, Mode: theme.ModePublic}
		if err := st.PutBroadcast(ctx, other); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Broadcasts(ctx); err != nil || !reflect.DeepEqual(got, []shows.Broadcast{b, other}) {
			t.Fatalf("broadcasts %+v %v, want %+v", got, err, []shows.Broadcast{b, other})
		}

		usd := func(a int64) money.Money { return money.Money{Amount: a, Currency: "USD"} }
		r1 := shows.Request{ID: "r1", ShowID: "b1", ViewerID: "v1", ViewerName: "Ann", ModelID: "m1", At: at.Add(2 * time.Second), Rate: usd(300), State: shows.Waiting}
		r2 := shows.Request{ID: "r2", ShowID: "b1", ViewerID: "v2", ViewerName: "Bob", ModelID: "m1", At: at.Add(time.Second), Rate: usd(300), State: shows.Waiting}
		r3 := shows.Request{ID: "r3", ShowID: "b2", ViewerID: "v1", ViewerName: "Ann", ModelID: "m2", At: at, Rate: usd(200), State: shows.Waiting}
		for _, r := range []shows.Request{r1, r2, r3} {
			if err := st.PutRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		r1.State = shows.Held
		if err := st.PutRequest(ctx, r1); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Requests(ctx); err != nil || !reflect.DeepEqual(got, []shows.Request{r3, r2, r1}) {
			t.Fatalf("requests %+v %v, want oldest first", got, err)
		}
		if err := st.DeleteRequest(ctx, "r2"); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteRequest(ctx, "r2"); err != nil {
			t.Fatalf("deleting twice: %v", err)
		}

		pol := pricing.Policy{RatePerMinute: usd(300), Granularity: pricing.PerSecond, BlockSeconds: 300, MinimumCharge: usd(0)}
		s := shows.LiveSeat{ID: "seat1", ShowID: "b1", PaidShowID: "sh1", ViewerID: "v3", ViewerName: "Cy", ModelID: "m1",
			TokenHash: "ab12", Policy: pol, Funding: "card_hold", OpenedAt: at, FundedSeconds: 300}
		if err := st.PutSeat(ctx, s); err != nil {
			t.Fatal(err)
		}
		s.FundedSeconds = 600
		if err := st.PutSeat(ctx, s); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Seats(ctx); err != nil || !reflect.DeepEqual(got, []shows.LiveSeat{s}) {
			t.Fatalf("seats %+v %v, want %+v", got, err, s)
		}

		// A broadcast that ends takes its requests with it, not another's.
		if err := st.DeleteBroadcast(ctx, "b1"); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Broadcasts(ctx); !reflect.DeepEqual(got, []shows.Broadcast{other}) {
			t.Fatalf("after delete: %+v", got)
		}
		if got, _ := st.Requests(ctx); !reflect.DeepEqual(got, []shows.Request{r3}) {
			t.Fatalf("requests after the broadcast ended: %+v", got)
		}
		if err := st.DeleteSeat(ctx, "seat1"); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Seats(ctx); len(got) != 0 {
			t.Fatalf("seats after delete: %+v", got)
		}
	})
}

func TestStoreKeepsStreamKeys(t *testing.T) {
	eachStore(t, func(t *testing.T, st shows.Store) {
		ctx := context.Background()
		at := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
		a := shows.StoredKey{Digest: "da", Hint: "sk_a…"}
		b := shows.StoredKey{Digest: "db", Hint: "sk_b…"}
		c := shows.StoredKey{Digest: "dc", Hint: "sk_c…"}
		if k, err := st.StreamKey(ctx, "m1"); err != nil || k != (shows.StoredKey{}) {
			t.Fatalf("no key yet: %+v %v", k, err)
		}
		if k, err := st.CreateStreamKey(ctx, "m1", a, at); err != nil || k != a {
			t.Fatalf("create: %+v %v", k, err)
		}
		// A second first use (another request at once) gets the first key.
		if k, err := st.CreateStreamKey(ctx, "m1", b, at); err != nil || k != a {
			t.Fatalf("create again: %+v %v, want %+v", k, err, a)
		}
		if m, err := st.ModelOfStreamKey(ctx, a.Digest); err != nil || m != "m1" {
			t.Fatalf("owner: %q %v", m, err)
		}
		if err := st.PutStreamKey(ctx, "m1", c, at); err != nil {
			t.Fatal(err)
		}
		if m, err := st.ModelOfStreamKey(ctx, a.Digest); err != nil || m != "" {
			t.Fatalf("the rotated key still names %q (%v)", m, err)
		}
		if k, err := st.StreamKey(ctx, "m1"); err != nil || k != c {
			t.Fatalf("after rotation: %+v %v", k, err)
		}
	})
}
