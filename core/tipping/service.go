package tipping

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"time"

	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
)

// Options tune a Service.
type Options struct {
	// Currency is the site currency: tips, goals and prices are in it
	// (required).
	Currency string
	// MaxTip is the operator's cap on one tip (chat.max_tip), in minor
	// units: a menu price is above zero and at most this (required).
	MaxTip int64
	// MaxGoal caps a goal's amount (default 1000 × MaxTip).
	MaxGoal int64
	// Homes, when set, finds the model's show on air, whose room also
	// hears her goal move when a tip is made in another room of hers.
	Homes Homes
	Clock clock.Clock
	Log   *slog.Logger
	// Tips is chat's tip feed: the service subscribes to it, so goals see
	// every tip. Without it nothing moves a goal.
	Tips *chat.TipFeed
}

// Service keeps models' goals and menus and follows tips into them.
type Service struct {
	store Store
	chat  Chat
	rooms Rooms
	o     Options
}

// New returns the service, subscribed to o.Tips.
func New(st Store, ch Chat, rooms Rooms, o Options) (*Service, error) {
	if _, err := money.Lookup(o.Currency); err != nil {
		return nil, errs.E(errs.UnknownCurrency, "tipping: site currency %q is not an ISO 4217 code", o.Currency)
	}
	if o.MaxTip <= 0 {
		return nil, errs.E(errs.Invalid, "tipping: the tip cap must be above zero")
	}
	if o.MaxGoal <= 0 {
		o.MaxGoal = 1000 * o.MaxTip
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	s := &Service{store: st, chat: ch, rooms: rooms, o: o}
	if o.Tips != nil {
		o.Tips.Subscribe(s)
	}
	return s, nil
}

func (s *Service) now() time.Time { return s.o.Clock.Now().UTC().Truncate(time.Microsecond) }

// GoalInput is a goal as the model sets it.
type GoalInput struct {
	Title   string
	Amount  money.Money
	OnReach OnReach // empty is Reset
}

// SetGoal replaces the model's goal; its progress starts from zero now.
func (s *Service) SetGoal(ctx context.Context, modelID string, in GoalInput) (Progress, error) {
	title, err := chat.CleanText(in.Title, MaxGoalTitle, false)
	if err != nil {
		return Progress{}, errs.E(errs.Invalid, "the goal's title must be 1 to %d characters of text", MaxGoalTitle)
	}
	if in.OnReach == "" {
		in.OnReach = Reset
	}
	if in.OnReach != Reset && in.OnReach != Stay {
		return Progress{}, errs.E(errs.Invalid, "on_reach %q: want reset or stay", in.OnReach)
	}
	if err := s.checkAmount("goal", in.Amount, s.o.MaxGoal); err != nil {
		return Progress{}, err
	}
	g := Goal{ModelID: modelID, Title: title, Amount: in.Amount, OnReach: in.OnReach, SetAt: s.now()}
	if err := s.store.PutGoal(ctx, g); err != nil {
		return Progress{}, err
	}
	return progress(g, 0), nil
}

// ClearGoal removes the model's goal.
func (s *Service) ClearGoal(ctx context.Context, modelID string) error {
	return s.store.DeleteGoal(ctx, modelID)
}

func (s *Service) checkAmount(what string, m money.Money, max int64) error {
	if m.Currency != s.o.Currency {
		return errs.E(errs.UnknownCurrency, "a %s is in %s, not %q", what, s.o.Currency, m.Currency)
	}
	if m.Amount <= 0 || m.Amount > max {
		return errs.E(errs.Invalid, "a %s must be above zero and at most %s", what, money.Money{Amount: max, Currency: s.o.Currency})
	}
	return nil
}

// Goal is the model's goal with its progress; nil when she has none.
func (s *Service) Goal(ctx context.Context, modelID string) (*Progress, error) {
	g, ok, err := s.store.Goal(ctx, modelID)
	if err != nil || !ok {
		return nil, err
	}
	total, err := s.chat.ReceivedSince(ctx, modelID, g.Amount.Currency, g.SetAt)
	if err != nil {
		return nil, err
	}
	p := progress(g, total)
	return &p, nil
}

// SetMenu replaces the model's menu: at most MaxItems items, names of 1 to
// MaxItemName characters and distinct, prices within the tip bounds. An
// item keeps its id when the input gives one of hers; others get new ids.
func (s *Service) SetMenu(ctx context.Context, modelID string, in []ItemInput) ([]Item, error) {
	if len(in) > MaxItems {
		return nil, errs.E(errs.Invalid, "a tip menu has at most %d items, not %d", MaxItems, len(in))
	}
	old, err := s.store.Menu(ctx, modelID)
	if err != nil {
		return nil, err
	}
	had := map[string]bool{}
	for _, it := range old {
		had[it.ID] = true
	}
	names := map[string]bool{}
	ids := map[string]bool{}
	out := make([]Item, 0, len(in))
	for i, it := range in {
		name, err := chat.CleanText(it.Name, MaxItemName, false)
		if err != nil {
			return nil, errs.E(errs.Invalid, "menu item %d: the name must be 1 to %d characters of text", i+1, MaxItemName)
		}
		if key := strings.ToLower(name); names[key] {
			return nil, errs.E(errs.Invalid, "menu item %d: %q is on the menu twice", i+1, name)
		} else {
			names[key] = true
		}
		if err := s.checkAmount("menu price", it.Price, s.o.MaxTip); err != nil {
			return nil, errs.E(errs.CodeOf(err), "menu item %d (%s): %s", i+1, name, errText(err))
		}
		id := it.ID
		if id == "" || !had[id] || ids[id] {
			id = newItemID()
		}
		ids[id] = true
		out = append(out, Item{ID: id, Name: name, Price: it.Price})
	}
	if err := s.store.PutMenu(ctx, modelID, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Menu is the model's menu.
func (s *Service) Menu(ctx context.Context, modelID string) ([]Item, error) {
	return s.store.Menu(ctx, modelID)
}

// Room is the model's goal and menu, as her room shows them.
func (s *Service) Room(ctx context.Context, modelID string) (Room, error) {
	g, err := s.Goal(ctx, modelID)
	if err != nil {
		return Room{}, err
	}
	menu, err := s.store.Menu(ctx, modelID)
	if err != nil {
		return Room{}, err
	}
	return Room{ModelID: modelID, Goal: g, Menu: menu}, nil
}

// MenuTip is a viewer's tip of a menu item in a room: the item's price as
// the menu says it now (a client never names the price), announced with the
// item's name. The tip id is chat's: a repeat answers the first tip, even
// after the model repriced or removed the item, and moves nothing.
func (s *Service) MenuTip(ctx context.Context, room string, m chat.Member, tipID, itemID string) (theme.ChatMessage, error) {
	if !chat.TipIDValid(tipID) {
		return theme.ChatMessage{}, errs.E(errs.Invalid, "tip id %q: want 8-64 letters, digits, - or _", tipID)
	}
	if m.UserID != "" {
		if prev, ok, err := s.chat.TipByID(ctx, m.UserID, tipID); err != nil || ok {
			return prev, err
		}
	}
	parties, err := s.rooms.TipParties(ctx, room, m.UserID)
	if err != nil {
		return theme.ChatMessage{}, err
	}
	menu, err := s.store.Menu(ctx, parties.ModelID)
	if err != nil {
		return theme.ChatMessage{}, err
	}
	for _, it := range menu {
		if it.ID == itemID {
			return s.chat.Tip(ctx, room, m, chat.TipRequest{TipID: tipID, Amount: it.Price, Text: "for " + it.Name, Item: it.Name})
		}
	}
	return theme.ChatMessage{}, errs.E(errs.NotFound, "that item is not on the tip menu (any more)")
}

// GoalEvent is the room's "goal" event: the goal bar's state.
type GoalEvent struct {
	Title    string      `json:"title"`
	Amount   money.Money `json:"amount"`
	Received money.Money `json:"received"`
	Percent  int         `json:"percent"`
	Done     bool        `json:"done"`
	Rounds   int         `json:"rounds"`
	// Display is "12.00 / 50.00 USD", so the script does no money arithmetic.
	Display string `json:"display"`
}

// EventOf is a goal's state as the room's event carries it.
func EventOf(p Progress) GoalEvent {
	a, _ := money.FormatDecimal(p.Amount)
	r, _ := money.FormatDecimal(p.Received)
	return GoalEvent{Title: p.Title, Amount: p.Amount, Received: p.Received, Percent: p.Percent, Done: p.Done, Rounds: p.Rounds,
		Display: r + " / " + a + " " + p.Amount.Currency}
}

// Tipped follows a tip into the model's goal: the bar moves in the room of
// the tip and in her show's room, and a goal reached is announced there
// once per time it is reached (compare-and-set in the store, so two tips
// crossing it together announce once; a crash between the tip and the
// mark is caught up by her next tip).
func (s *Service) Tipped(ctx context.Context, t chat.Tipped) {
	g, ok, err := s.store.Goal(ctx, t.ModelID)
	if err != nil {
		s.o.Log.Warn("tip goal: reading the goal", "model", t.ModelID, "err", err)
		return
	}
	if !ok || t.At.Before(g.SetAt) || t.Amount.Currency != g.Amount.Currency {
		return
	}
	total, err := s.chat.ReceivedSince(ctx, t.ModelID, g.Amount.Currency, g.SetAt)
	if err != nil {
		s.o.Log.Warn("tip goal: summing tips", "model", t.ModelID, "err", err)
		return
	}
	p := progress(g, total)
	rooms := []string{t.Room}
	if s.o.Homes != nil {
		if sh, ok, err := s.o.Homes.ShowOfModel(ctx, t.ModelID); err != nil {
			s.o.Log.Warn("tip goal: finding her show", "model", t.ModelID, "err", err)
		} else if ok && sh.ID != t.Room {
			rooms = append(rooms, sh.ID)
		}
	}
	if p.Rounds > g.Reached {
		won, err := s.store.MarkReached(ctx, t.ModelID, g.SetAt, p.Rounds)
		if err != nil {
			s.o.Log.Warn("tip goal: marking it reached", "model", t.ModelID, "err", err)
		} else if won {
			text := "Goal reached: " + g.Title + "!"
			if g.OnReach == Reset {
				text += " The goal starts again."
			}
			for _, r := range rooms {
				if err := s.chat.Broadcast(r, chat.SystemEvent{Kind: "goal_reached", Text: text}); err != nil {
					s.o.Log.Warn("tip goal: announcing it", "room", r, "err", err)
				}
			}
		}
	}
	for _, r := range rooms {
		s.chat.Notify(r, "goal", EventOf(p))
	}
}

// errText is an error's message without its code.
func errText(err error) string {
	if e, ok := err.(*errs.Error); ok {
		return e.Message
	}
	return err.Error()
}

func newItemID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "item-" + hex.EncodeToString(b[:])
}
