package billing

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/split"
)

// The batched checkpoint upsert behaves the same on both dialects: one
// statement writes many seats, and an older checkpoint (lower seq) never
// overwrites a newer one.
func TestCheckpointUpsertIsBatchedAndNeverGoesBackOnBothDialects(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		ctx := context.Background()
		d := newDB(s)
		now := time.Now().UTC()
		var cks []checkpoint
		for i := 0; i < 2500; i++ { // more than one chunk of the portable path
			id := fmt.Sprintf("s%d", i)
			if err := d.insertSeat(ctx, &seatRow{ID: id, ShowID: "sh", Kind: split.KindGroup, ViewerID: "v", ModelID: "m", State: stateOpen,
				Strategy: Wallet, Currency: "USD", Policy: pricing.DefaultPolicy(money.Money{Amount: 60, Currency: "USD"}), OpenedAt: now}); err != nil {
				t.Fatal(err)
			}
			cks = append(cks, checkpoint{SeatID: id, Seq: 2, AtMs: 2000, Snap: []byte(`{"v":2}`)})
		}
		if err := d.upsertCheckpoints(ctx, d.sql, cks); err != nil {
			t.Fatal(err)
		}
		stale := []checkpoint{{SeatID: "s1", Seq: 1, AtMs: 1000, Snap: []byte(`{"v":1}`)}, {SeatID: "s2", Seq: 3, AtMs: 3000, Snap: []byte(`{"v":3}`)}}
		if err := d.upsertCheckpoints(ctx, d.sql, stale); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]int64{"s1": 2000, "s2": 3000, "s2499": 2000} {
			var at int64
			if err := d.sql.QueryRowContext(ctx, d.q(`SELECT checkpoint_at_ms FROM billing_checkpoints WHERE seat_id = ?`), id).Scan(&at); err != nil {
				t.Fatal(err)
			}
			if at != want {
				t.Errorf("%s: checkpoint at %d, want %d", id, at, want)
			}
		}
	})
}
