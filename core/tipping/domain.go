// Package tipping owns a model's tip goal and tip menu: what they are, their
// limits, the goal's progress and its announcements, and the tip a viewer
// makes by choosing a menu item. The tip itself moves money in core/chat
// (one tip path, one idempotency key scheme down to the ledger); the show
// lifecycle stays in core/shows.
package tipping

import (
	"time"

	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/sdk/money"
)

// OnReach is what a goal does once reached.
type OnReach string

const (
	// Reset starts the same goal again from zero; tips beyond the goal
	// count towards the next round.
	Reset OnReach = "reset"
	// Stay keeps the goal reached until the model sets another.
	Stay OnReach = "stay"
)

// Goal is a model's tip goal. Its progress is every tip she received, in
// any of her rooms, since SetAt.
type Goal struct {
	ModelID string
	Title   string
	Amount  money.Money
	OnReach OnReach
	SetAt   time.Time
	// Reached is how many times the goal has been announced as reached (at
	// most 1 for Stay).
	Reached int
}

// Progress is a goal with what it has received.
type Progress struct {
	Goal
	// Received counts towards the goal now: for Reset, since it last reset;
	// for Stay, capped at the goal's amount.
	Received money.Money
	// Done is true while a Stay goal is reached.
	Done bool
	// Rounds is how many times the goal was reached, in full.
	Rounds int
	// Percent is Received as a whole percentage of Amount, 0-100.
	Percent int
}

// Item is one line of a model's tip menu.
type Item struct {
	ID    string
	Name  string
	Price money.Money
}

// ItemInput is a menu line as the model edits it: ID is empty for a new
// item and kept for one she already had, so a viewer's open page still
// names a valid item.
type ItemInput struct {
	ID    string
	Name  string
	Price money.Money
}

// Room is what a room shows of its model's tipping: her goal (nil when she
// has none) and her menu.
type Room struct {
	ModelID string
	Goal    *Progress
	Menu    []Item
}

// Limits of the goal and the menu.
const (
	MaxItems      = 30
	MaxItemName   = chat.MaxItemLen // characters, after trimming: what chat carries
	MaxGoalTitle  = 80
	goalRoundsCap = 1 << 20 // a goal tiny beside the tips still announces sanely
)

// progress derives a goal's state from the sum of tips since it was set.
func progress(g Goal, total int64) Progress {
	p := Progress{Goal: g, Received: money.Money{Currency: g.Amount.Currency}}
	amt := g.Amount.Amount
	if amt <= 0 {
		return p
	}
	rounds := total / amt
	if rounds > goalRoundsCap {
		rounds = goalRoundsCap
	}
	switch g.OnReach {
	case Stay:
		if rounds > 0 {
			p.Rounds, p.Done, p.Received.Amount = 1, true, amt
		} else {
			p.Received.Amount = total
		}
	default:
		p.Rounds, p.Received.Amount = int(rounds), total%amt
	}
	p.Percent = int(p.Received.Amount * 100 / amt)
	return p
}
