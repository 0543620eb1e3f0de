package chat_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/clock/clocktest"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/sdk/theme"
)

type heard struct {
	mu   sync.Mutex
	tips []chat.Tipped
}

func (h *heard) Tipped(_ context.Context, t chat.Tipped) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tips = append(h.tips, t)
}

// The tip observer hears each tip once (a repeat of its id is not a tip),
// a menu tip's item is in its ledger memo, and ReceivedSince sums a model's
// tips from an instant on, to the microsecond, on both dialects.
func TestTipObserverItemsAndReceivedSince(t *testing.T) {
	alloc := splitPlugin(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := clocktest.NewFake(t0)
		book := ledger.New(db, ledger.Options{Clock: clk})
		h, feed := &heard{}, &chat.TipFeed{}
		feed.Subscribe(h)
		svc, err := chat.New(db, book, alloc, shows{"show-1": {ModelID: "mia"}, "show-2": {ModelID: "zoe"}},
			chat.Options{Currency: "USD", Clock: clk, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Tips: feed})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := book.Transfer(ctx, ledger.Request{Key: "test/fund/ann", Debit: "processor:test:clearing",
			Credit: "viewer:ann:wallet", Amount: usd(10_000)}); err != nil {
			t.Fatal(err)
		}
		ann := chat.Member{UserID: "ann", Name: "Ann", Role: theme.RoleViewer}
		tip := func(show, id string, cents int64, item string) theme.ChatMessage {
			t.Helper()
			m, err := svc.Tip(ctx, show, ann, chat.TipRequest{TipID: id, Amount: usd(cents), Item: item, Text: "x"})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		clk.Advance(1500 * time.Microsecond) // t0 + 0.0015 s
		tip("show-1", "tip-obs-0001", 100, "")
		clk.Advance(7 * time.Microsecond) // a shorter fraction sorts after a longer one only as a time
		since := clk.Now()
		first := tip("show-1", "tip-obs-0002", 250, "Dance")
		clk.Advance(time.Second - 1507*time.Microsecond) // t0 + 1 s: no fraction at all
		tip("show-1", "tip-obs-0003", 400, "")
		tip("show-2", "tip-obs-0004", 900, "") // another model's
		if again := tip("show-1", "tip-obs-0002", 250, "Dance"); again.ID != first.ID {
			t.Fatalf("a repeat is another message: %+v", again)
		}
		if len(h.tips) != 4 {
			t.Fatalf("the observer heard %d tips, want 4 (a repeat is not heard): %+v", len(h.tips), h.tips)
		}
		if got := h.tips[1]; got.ModelID != "mia" || got.Room != "show-1" || got.Amount != usd(250) || !got.At.Equal(since) {
			t.Fatalf("heard %+v", got)
		}
		for at, want := range map[time.Time]int64{t0: 750, since: 650, since.Add(time.Microsecond): 400, t0.Add(time.Second): 400, t0.Add(2 * time.Second): 0} {
			if got, err := svc.ReceivedSince(ctx, "mia", "USD", at); err != nil || got != want {
				t.Errorf("ReceivedSince(%s) = %d %v, want %d", at.Format(time.RFC3339Nano), got, err, want)
			}
		}
		if got, _ := svc.ReceivedSince(ctx, "mia", "EUR", t0); got != 0 {
			t.Errorf("tips in EUR: %d", got)
		}
		prev, ok, err := svc.TipByID(ctx, "ann", "tip-obs-0002")
		if err != nil || !ok || prev.ID != first.ID {
			t.Fatalf("TipByID: %+v %v %v", prev, ok, err)
		}
		if _, ok, _ := svc.TipByID(ctx, "ann", "tip-obs-none"); ok {
			t.Fatal("TipByID found a tip never made")
		}
		st, err := book.Statement(ctx, "viewer:ann:wallet", "USD", "", ledger.MaxStatementPage)
		if err != nil {
			t.Fatal(err)
		}
		var memos []string
		for _, e := range st.Entries {
			if strings.HasPrefix(e.Transfer.Key, "tip/ann/tip-obs-0002/") {
				memos = append(memos, e.Transfer.Memo)
			}
		}
		if len(memos) == 0 || memos[0] != "Tip in show show-1 for Dance" {
			t.Fatalf("the menu tip's memos: %q", memos)
		}
	})
}
