package tipping_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/clock/clocktest"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/tipping"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/split"
	"github.com/camkit/camkit/sdk/theme"
)

func usd(a int64) money.Money { return money.Money{Amount: a, Currency: "USD"} }

// room is chat for one model's rooms, in memory: the tips it took, the
// notices and events it sent. Tips are heard by the observer as chat does
// after recording one.
type room struct {
	mu       sync.Mutex
	clk      *clocktest.Fake
	observer chat.TipObserver
	tips     []chat.Tipped
	byID     map[string]theme.ChatMessage
	notices  []string
	events   []tipping.GoalEvent
	// where notices and events went
	noticeRooms, eventRooms []string
}

func (r *room) Tip(ctx context.Context, showID string, m chat.Member, req chat.TipRequest) (theme.ChatMessage, error) {
	r.mu.Lock()
	if prev, ok := r.byID[m.UserID+"/"+req.TipID]; ok {
		r.mu.Unlock()
		return prev, nil
	}
	amt := req.Amount
	msg := theme.ChatMessage{ID: fmt.Sprint("m", len(r.tips)), At: r.clk.Now().UTC(), Author: m.Name, Text: req.Text, Tip: &amt}
	t := chat.Tipped{Room: showID, ModelID: "mia", Amount: amt, At: msg.At, Message: msg}
	r.tips = append(r.tips, t)
	r.byID[m.UserID+"/"+req.TipID] = msg
	r.mu.Unlock()
	r.observer.Tipped(ctx, t)
	return msg, nil
}

func (r *room) TipByID(_ context.Context, viewerID, tipID string) (theme.ChatMessage, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.byID[viewerID+"/"+tipID]
	return m, ok, nil
}

func (r *room) ReceivedSince(_ context.Context, modelID, currency string, since time.Time) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var sum int64
	for _, t := range r.tips {
		if t.ModelID == modelID && t.Amount.Currency == currency && !t.At.Before(since) {
			sum += t.Amount.Amount
		}
	}
	return sum, nil
}

func (r *room) Broadcast(showID string, ev chat.SystemEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notices = append(r.notices, ev.Text)
	r.noticeRooms = append(r.noticeRooms, showID)
	return nil
}

func (r *room) Notify(showID, kind string, data any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if kind == "goal" {
		r.events = append(r.events, data.(tipping.GoalEvent))
		r.eventRooms = append(r.eventRooms, showID)
	}
}

func (r *room) TipParties(context.Context, string, string) (split.Parties, error) {
	return split.Parties{ModelID: "mia"}, nil
}

type fixture struct {
	svc  *tipping.Service
	chat *room
	clk  *clocktest.Fake
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := clocktest.NewFake(time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC))
	r := &room{clk: clk, byID: map[string]theme.ChatMessage{}}
	svc, err := tipping.New(tipping.NewMemStore(), r, r, tipping.Options{Currency: "USD", MaxTip: 10_000, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	r.observer = svc
	return &fixture{svc: svc, chat: r, clk: clk}
}

func (f *fixture) tip(t *testing.T, viewer string, cents int64) {
	t.Helper()
	f.clk.Advance(time.Second)
	if _, err := f.chat.Tip(context.Background(), "show-1", chat.Member{UserID: viewer, Name: viewer, Role: theme.RoleViewer},
		chat.TipRequest{TipID: fmt.Sprintf("tip-%s-%d", viewer, f.clk.Now().Unix()), Amount: usd(cents)}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) goal(t *testing.T) tipping.Progress {
	t.Helper()
	p, err := f.svc.Goal(context.Background(), "mia")
	if err != nil || p == nil {
		t.Fatalf("goal: %+v %v", p, err)
	}
	return *p
}

func TestGoalCountsTipsSinceItWasSetAndResets(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.tip(t, "ann", 700) // before the goal: not counted
	f.clk.Advance(time.Second)
	if _, err := f.svc.SetGoal(ctx, "mia", tipping.GoalInput{Title: "Oil show", Amount: usd(1000)}); err != nil {
		t.Fatal(err)
	}
	if p := f.goal(t); p.Received.Amount != 0 || p.Rounds != 0 || p.OnReach != tipping.Reset {
		t.Fatalf("a new goal: %+v", p)
	}
	f.tip(t, "ann", 400)
	f.tip(t, "bob", 500)
	if p := f.goal(t); p.Received.Amount != 900 || p.Percent != 90 || len(f.chat.notices) != 0 {
		t.Fatalf("at 9.00 of 10.00: %+v, notices %q", p, f.chat.notices)
	}
	f.tip(t, "bob", 300) // crosses: 12.00, the goal resets with 2.00 carried
	p := f.goal(t)
	if p.Received.Amount != 200 || p.Rounds != 1 || p.Reached != 1 || p.Done {
		t.Fatalf("after reaching a resetting goal: %+v", p)
	}
	if len(f.chat.notices) != 1 || !strings.Contains(f.chat.notices[0], "Goal reached: Oil show!") || !strings.Contains(f.chat.notices[0], "starts again") {
		t.Fatalf("notices %q", f.chat.notices)
	}
	last := f.chat.events[len(f.chat.events)-1]
	if last.Percent != 20 || last.Display != "2.00 / 10.00 USD" || last.Rounds != 1 {
		t.Fatalf("the room's last goal event: %+v", last)
	}
	f.tip(t, "ann", 2500) // 37.00: two more rounds in one tip, one announcement
	if p := f.goal(t); p.Rounds != 3 || p.Received.Amount != 700 || len(f.chat.notices) != 2 {
		t.Fatalf("a tip worth two rounds: %+v, notices %q", p, f.chat.notices)
	}

	// A new goal starts from zero, whatever came before.
	f.clk.Advance(time.Second)
	if _, err := f.svc.SetGoal(ctx, "mia", tipping.GoalInput{Title: "Dance", Amount: usd(500), OnReach: tipping.Stay}); err != nil {
		t.Fatal(err)
	}
	if p := f.goal(t); p.Received.Amount != 0 || p.Reached != 0 {
		t.Fatalf("the next goal: %+v", p)
	}
}

func TestGoalThatStaysReached(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.SetGoal(ctx, "mia", tipping.GoalInput{Title: "Dance", Amount: usd(500), OnReach: tipping.Stay}); err != nil {
		t.Fatal(err)
	}
	f.tip(t, "ann", 600)
	f.tip(t, "bob", 600)
	p := f.goal(t)
	if !p.Done || p.Received.Amount != 500 || p.Percent != 100 || p.Rounds != 1 {
		t.Fatalf("a reached goal that stays: %+v", p)
	}
	if len(f.chat.notices) != 1 || strings.Contains(f.chat.notices[0], "again") {
		t.Fatalf("a staying goal is announced once and not as starting again: %q", f.chat.notices)
	}
	if err := f.svc.ClearGoal(ctx, "mia"); err != nil {
		t.Fatal(err)
	}
	if p, err := f.svc.Goal(ctx, "mia"); err != nil || p != nil {
		t.Fatalf("a cleared goal: %+v %v", p, err)
	}
	f.tip(t, "ann", 100) // no goal: nothing to follow
	if len(f.chat.notices) != 1 {
		t.Fatalf("notices %q", f.chat.notices)
	}
}

// Two tips crossing a goal at once announce it once: the store's
// compare-and-set decides.
func TestGoalCrossedConcurrentlyIsAnnouncedOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.SetGoal(ctx, "mia", tipping.GoalInput{Title: "Song", Amount: usd(1000)}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Second)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.chat.Tip(ctx, "show-1", chat.Member{UserID: fmt.Sprint("v", i), Role: theme.RoleViewer},
				chat.TipRequest{TipID: fmt.Sprint("tip-concurrent-", i), Amount: usd(250)})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if p := f.goal(t); p.Rounds != 2 || p.Reached != 2 || p.Received.Amount != 0 {
		t.Fatalf("8 × 2.50 on a 10.00 goal: %+v", p)
	}
	if len(f.chat.notices) != 2 {
		t.Fatalf("two rounds, %d announcements: %q", len(f.chat.notices), f.chat.notices)
	}
}

func TestGoalLimits(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for name, in := range map[string]tipping.GoalInput{
		"no title":       {Amount: usd(100)},
		"long title":     {Title: strings.Repeat("x", tipping.MaxGoalTitle+1), Amount: usd(100)},
		"zero":           {Title: "x", Amount: usd(0)},
		"negative":       {Title: "x", Amount: usd(-5)},
		"above the cap":  {Title: "x", Amount: usd(1000*10_000 + 1)},
		"other currency": {Title: "x", Amount: money.Money{Amount: 100, Currency: "EUR"}},
		"unknown reach":  {Title: "x", Amount: usd(100), OnReach: "explode"},
	} {
		if _, err := f.svc.SetGoal(ctx, "mia", in); errs.CodeOf(err) != errs.Invalid && errs.CodeOf(err) != errs.UnknownCurrency {
			t.Errorf("%s: %v, want refused", name, err)
		}
	}
	if p, _ := f.svc.Goal(ctx, "mia"); p != nil {
		t.Fatalf("a refused goal was kept: %+v", p)
	}
	if _, err := f.svc.SetGoal(ctx, "mia", tipping.GoalInput{Title: strings.Repeat("é", tipping.MaxGoalTitle), Amount: usd(1000 * 10_000)}); err != nil {
		t.Fatalf("a goal at the limits: %v", err)
	}
}

func TestMenuLimitsAndIDs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	items := make([]tipping.ItemInput, tipping.MaxItems)
	for i := range items {
		items[i] = tipping.ItemInput{Name: fmt.Sprint("Item ", i), Price: usd(100)}
	}
	items[0].Name = strings.Repeat("n", tipping.MaxItemName)
	items[1].Price = usd(10_000) // the tip cap itself
	menu, err := f.svc.SetMenu(ctx, "mia", items)
	if err != nil || len(menu) != tipping.MaxItems {
		t.Fatalf("a full menu at the limits: %d %v", len(menu), err)
	}
	bad := map[string][]tipping.ItemInput{
		"31 items":       append(append([]tipping.ItemInput{}, items...), tipping.ItemInput{Name: "one more", Price: usd(1)}),
		"empty name":     {{Name: "  ", Price: usd(100)}},
		"long name":      {{Name: strings.Repeat("n", tipping.MaxItemName+1), Price: usd(100)}},
		"control":        {{Name: "a\x00b", Price: usd(100)}},
		"zero price":     {{Name: "Dance", Price: usd(0)}},
		"above tip cap":  {{Name: "Dance", Price: usd(10_001)}},
		"other currency": {{Name: "Dance", Price: money.Money{Amount: 100, Currency: "EUR"}}},
		"twice":          {{Name: "Dance", Price: usd(100)}, {Name: "dance", Price: usd(200)}},
	}
	for name, in := range bad {
		if _, err := f.svc.SetMenu(ctx, "mia", in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if got, _ := f.svc.Menu(ctx, "mia"); len(got) != tipping.MaxItems {
		t.Fatalf("a refused menu replaced the old one: %d items", len(got))
	}

	// An item she keeps keeps its id; an id not hers is not taken.
	next, err := f.svc.SetMenu(ctx, "mia", []tipping.ItemInput{{ID: menu[3].ID, Name: "Dance", Price: usd(500)}, {ID: "item-forged", Name: "Flash", Price: usd(900)}})
	if err != nil {
		t.Fatal(err)
	}
	if next[0].ID != menu[3].ID || next[1].ID == "item-forged" || next[1].ID == "" {
		t.Fatalf("ids: %+v (kept %s)", next, menu[3].ID)
	}
}

// A menu tip pays the menu's price, names the item, and a repeat of its id
// pays nothing more even after the model repriced the item.
func TestMenuTipPaysTheMenuPrice(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	menu, err := f.svc.SetMenu(ctx, "mia", []tipping.ItemInput{{Name: "Dance", Price: usd(500)}})
	if err != nil {
		t.Fatal(err)
	}
	alice := chat.Member{UserID: "alice", Name: "Alice", Role: theme.RoleViewer}
	msg, err := f.svc.MenuTip(ctx, "show-1", alice, "tip-menu-0001", menu[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Tip == nil || *msg.Tip != usd(500) || msg.Text != "for Dance" {
		t.Fatalf("menu tip message %+v", msg)
	}
	if _, err := f.svc.SetMenu(ctx, "mia", []tipping.ItemInput{{ID: menu[0].ID, Name: "Dance", Price: usd(800)}}); err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.MenuTip(ctx, "show-1", alice, "tip-menu-0001", menu[0].ID)
	if err != nil || again.ID != msg.ID || len(f.chat.tips) != 1 {
		t.Fatalf("the repeat: %+v %v, %d tips", again, err, len(f.chat.tips))
	}
	if _, err := f.svc.MenuTip(ctx, "show-1", alice, "tip-menu-0002", "item-nope"); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("an unknown item: %v", err)
	}
	if _, err := f.svc.MenuTip(ctx, "show-1", alice, "x", menu[0].ID); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("a bad tip id: %v", err)
	}
}

// homes says Mia is on air in show-1.
type homes struct{}

func (homes) ShowOfModel(_ context.Context, modelID string) (shows.Show, bool, error) {
	return shows.Show{ID: "show-1", ModelID: modelID}, modelID == "mia", nil
}

// A tip in a seat's room moves the bar and announces the goal there and in
// her show's room; a tip in her show's room, there once.
func TestGoalReachesHerShowsRoomFromASeat(t *testing.T) {
	clk := clocktest.NewFake(time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC))
	r := &room{clk: clk, byID: map[string]theme.ChatMessage{}}
	svc, err := tipping.New(tipping.NewMemStore(), r, r, tipping.Options{Currency: "USD", MaxTip: 10_000, Clock: clk, Homes: homes{}})
	if err != nil {
		t.Fatal(err)
	}
	r.observer = svc
	ctx := context.Background()
	if _, err := svc.SetGoal(ctx, "mia", tipping.GoalInput{Title: "Song", Amount: usd(500)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	vic := chat.Member{UserID: "vic", Name: "Vic", Role: theme.RoleViewer}
	if _, err := r.Tip(ctx, "seat-9", vic, chat.TipRequest{TipID: "tip-seat-0001", Amount: usd(600)}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.eventRooms, ","); got != "seat-9,show-1" {
		t.Fatalf("goal events went to %s", got)
	}
	if got := strings.Join(r.noticeRooms, ","); got != "seat-9,show-1" {
		t.Fatalf("the announcement went to %s", got)
	}
	if _, err := r.Tip(ctx, "show-1", vic, chat.TipRequest{TipID: "tip-show-0001", Amount: usd(100)}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.eventRooms, ","); got != "seat-9,show-1,show-1" {
		t.Fatalf("goal events went to %s", got)
	}
}
