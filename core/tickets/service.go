package tickets

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/split"
)

// revenueAccount is where a ticket's hold points: the posted price lands
// there and the split moves the other parties' shares out of it, as
// billing does for a seat.
const revenueAccount = "platform:revenue"

// Policy is the operator's refund rule for a show that ran shorter than
// its model announced.
type Policy struct {
	// RefundBelowBps: a show that ran less than this share of its announced
	// duration, in basis points (5000 = half), refunds every ticket in
	// full. 0: a show that ran at all is never refunded for being short.
	RefundBelowBps int64
	// Prorate: a show that ran at least that share but less than announced
	// keeps the share it ran (price × ran / announced, rounded half up) and
	// refunds the rest; false keeps the whole price.
	Prorate bool
}

// Config builds a Service.
type Config struct {
	Store    Store
	Book     Book
	Splitter Allocator
	Parties  Parties
	// Cards, optional, lets a viewer pay a ticket by card.
	Cards Cards
	Clock clock.Clock
	// Currency is the site currency: ticket prices are in it.
	Currency string
	// MaxPrice caps a ticket's price, in minor units (like a tip).
	MaxPrice int64
	// MaxDuration caps the announced duration; default 12 h.
	MaxDuration time.Duration
	// Secret keys ticket tokens (at least 16 bytes).
	Secret []byte
	Policy Policy
	Log    *slog.Logger
}

// Service schedules ticket shows, sells their tickets, admits their
// holders and settles their money.
type Service struct {
	cfg   Config
	locks sync.Map // show id -> *sync.Mutex: a show's buys, start, end and cancel one at a time

	mu         sync.Mutex
	broadcasts Broadcasts
}

// New checks cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Book == nil || cfg.Parties == nil {
		return nil, errs.E(errs.Invalid, "tickets: a store, a ledger and the model's parties are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if _, err := money.Lookup(cfg.Currency); err != nil {
		return nil, err
	}
	if cfg.MaxPrice <= 0 {
		return nil, errs.E(errs.Invalid, "tickets: the maximum ticket price must be above zero")
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = 12 * time.Hour
	}
	if len(cfg.Secret) < 16 {
		return nil, errs.E(errs.Invalid, "tickets: the token secret must be at least 16 bytes")
	}
	if cfg.Policy.RefundBelowBps < 0 || cfg.Policy.RefundBelowBps > 10000 {
		return nil, errs.E(errs.Invalid, "tickets: refund_if_shorter_than must be between 0 and 1")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg}, nil
}

// Attach gives the Service the model's broadcasts once core/shows is built
// (shows takes the Service as its ticket admission, so it is built after):
// starting a ticket show then cuts the viewers watching her without one.
func (s *Service) Attach(b Broadcasts) {
	s.mu.Lock()
	s.broadcasts = b
	s.mu.Unlock()
}

func (s *Service) now() time.Time { return s.cfg.Clock.Now().UTC() }

func (s *Service) lock(showID string) func() {
	m, _ := s.locks.LoadOrStore(showID, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// ScheduleRequest is what a model announces.
type ScheduleRequest struct {
	Title    string
	Price    money.Money
	StartsAt time.Time
	Duration time.Duration
	// DoorsCloseAt is when sales stop; zero is StartsAt (no late buyers).
	DoorsCloseAt time.Time
	// Capacity caps the tickets; 0 is no cap.
	Capacity int
}

const maxTitle = 120

// Schedule announces a ticket show of modelID.
func (s *Service) Schedule(ctx context.Context, modelID string, r ScheduleRequest) (Show, error) {
	now := s.now()
	title := strings.TrimSpace(r.Title)
	if title == "" || utf8.RuneCountInString(title) > maxTitle {
		return Show{}, errs.E(errs.Invalid, "a ticket show needs a title of 1 to %d characters", maxTitle)
	}
	if r.Price.Currency != s.cfg.Currency {
		return Show{}, errs.E(errs.UnknownCurrency, "tickets are sold in %s, not %q", s.cfg.Currency, r.Price.Currency)
	}
	if r.Price.Amount <= 0 || r.Price.Amount > s.cfg.MaxPrice {
		return Show{}, errs.E(errs.Invalid, "a ticket price must be above zero and at most %s", money.Money{Amount: s.cfg.MaxPrice, Currency: s.cfg.Currency})
	}
	if !r.StartsAt.After(now) {
		return Show{}, errs.E(errs.Invalid, "a ticket show must start in the future")
	}
	if r.Duration < time.Minute || r.Duration > s.cfg.MaxDuration {
		return Show{}, errs.E(errs.Invalid, "a ticket show lasts from 1 minute to %s", s.cfg.MaxDuration)
	}
	doors := r.DoorsCloseAt
	if doors.IsZero() {
		doors = r.StartsAt
	}
	if doors.Before(r.StartsAt) || doors.After(r.StartsAt.Add(r.Duration)) {
		return Show{}, errs.E(errs.Invalid, "the doors close between the start and the announced end of the show")
	}
	if r.Capacity < 0 || r.Capacity > 100_000 {
		return Show{}, errs.E(errs.Invalid, "capacity is 0 (no cap) to 100000 tickets")
	}
	sh := Show{ID: "ts_" + randomID(), ModelID: modelID, Title: title, Price: r.Price, StartsAt: r.StartsAt.UTC().Truncate(time.Second),
		Duration: r.Duration.Truncate(time.Second), DoorsCloseAt: doors.UTC().Truncate(time.Second), Capacity: r.Capacity,
		State: Scheduled, CreatedAt: now}
	if err := s.cfg.Store.CreateShow(ctx, sh); err != nil {
		return Show{}, err
	}
	return sh, nil
}

// Show returns one ticket show.
func (s *Service) Show(ctx context.Context, id string) (Show, error) {
	return s.cfg.Store.Show(ctx, id)
}

// ShowsOfModel lists a model's ticket shows, soonest first.
func (s *Service) ShowsOfModel(ctx context.Context, modelID string) ([]Show, error) {
	return s.cfg.Store.ShowsOfModel(ctx, modelID)
}

// Upcoming is the model's next show still on sale or running, if any: what
// her profile and room offer.
func (s *Service) Upcoming(ctx context.Context, modelID string) (Show, bool, error) {
	all, err := s.cfg.Store.ShowsOfModel(ctx, modelID, Running, Scheduled)
	if err != nil {
		return Show{}, false, err
	}
	now := s.now()
	for _, sh := range all {
		if sh.State == Running || (sh.State == Scheduled && now.Before(sh.DoorsCloseAt)) {
			return sh, true, nil
		}
	}
	return Show{}, false, nil
}

// Sold counts a show's tickets that are held or posted.
func (s *Service) Sold(ctx context.Context, showID string) (int, error) {
	ts, err := s.cfg.Store.Tickets(ctx, showID)
	n := 0
	for _, t := range ts {
		if t.State == Held || t.State == Posted {
			n++
		}
	}
	return n, err
}

func (s *Service) owned(ctx context.Context, modelID, showID string) (Show, error) {
	sh, err := s.cfg.Store.Show(ctx, showID)
	if err != nil {
		return Show{}, err
	}
	if sh.ModelID != modelID {
		return Show{}, errs.E(errs.NotFound, "no such ticket show")
	}
	return sh, nil
}

// Start opens the doors of a scheduled show at or after its start time; from
// now on only ticket holders watch her broadcast. One ticket show runs at a
// time per model.
func (s *Service) Start(ctx context.Context, modelID, showID string) (Show, error) {
	sh, err := s.owned(ctx, modelID, showID)
	if err != nil {
		return Show{}, err
	}
	if sh.State == Running {
		return sh, nil
	}
	now := s.now()
	if sh.State == Scheduled && now.Before(sh.StartsAt) {
		return Show{}, errs.E(errs.Invalid, "this ticket show starts at %s", sh.StartsAt.Format(time.RFC3339))
	}
	if _, ok, err := s.running(ctx, modelID); err != nil {
		return Show{}, err
	} else if ok {
		return Show{}, errs.E(errs.Conflict, "another ticket show of yours is running: end it first")
	}
	if s.private(ctx, modelID) {
		// Her private seat's show is its viewer's: ticket holders are not
		// let into it.
		return Show{}, errs.E(errs.Conflict, "you are in a private show: end it before you start the ticket show")
	}
	unlock := s.lock(showID)
	sh, ok, err := s.cfg.Store.Transition(ctx, showID, []State{Scheduled}, Running, now)
	unlock()
	if err != nil {
		return Show{}, err
	}
	if !ok {
		return Show{}, errs.E(errs.Invalid, "this ticket show is %s", sh.State)
	}
	s.cutNonHolders(ctx, modelID)
	return sh, nil
}

// cutNonHolders drops every viewer of her broadcast that holds no seat: a
// ticket holder reconnects with the ticket's token (admitted by
// AdmitTicket), everyone else is refused from now on.
func (s *Service) cutNonHolders(ctx context.Context, modelID string) {
	s.mu.Lock()
	b := s.broadcasts
	s.mu.Unlock()
	if b == nil {
		return
	}
	on, ok, err := b.ShowOfModel(ctx, modelID)
	if err != nil || !ok {
		return
	}
	if m := b.Media(); m != nil {
		m.SetMode(on.ID, stream.ModeGroup)
	}
}

// reopen puts her broadcast back in public after a ticket show, unless she
// went private or group in the meantime (core/shows then owns the mode).
func (s *Service) reopen(ctx context.Context, modelID string) {
	s.mu.Lock()
	b := s.broadcasts
	s.mu.Unlock()
	if b == nil {
		return
	}
	on, ok, err := b.ShowOfModel(ctx, modelID)
	if err != nil || !ok || string(on.Mode) != string(stream.ModePublic) {
		return
	}
	if m := b.Media(); m != nil {
		m.SetMode(on.ID, stream.ModePublic)
	}
}

func (s *Service) running(ctx context.Context, modelID string) (Show, bool, error) {
	running, err := s.cfg.Store.ShowsOfModel(ctx, modelID, Running)
	if err != nil || len(running) == 0 {
		return Show{}, false, err
	}
	return running[0], true, nil
}

// End ends a running show: its tickets are posted and split, or refunded
// in full or in part by the operator's policy for a show shorter than
// announced. A retry settles whatever the first attempt left.
func (s *Service) End(ctx context.Context, modelID, showID string) (Show, error) {
	return s.finish(ctx, modelID, showID, Ended, []State{Running})
}

// Cancel cancels a scheduled or running show and refunds every ticket in
// full. A retry refunds nothing twice.
func (s *Service) Cancel(ctx context.Context, modelID, showID string) (Show, error) {
	return s.finish(ctx, modelID, showID, Cancelled, []State{Scheduled, Running})
}

func (s *Service) finish(ctx context.Context, modelID, showID string, to State, from []State) (Show, error) {
	if _, err := s.owned(ctx, modelID, showID); err != nil {
		return Show{}, err
	}
	unlock := s.lock(showID)
	defer unlock()
	sh, ok, err := s.cfg.Store.Transition(ctx, showID, from, to, s.now())
	if err != nil {
		return Show{}, err
	}
	if !ok && sh.State != to {
		return Show{}, errs.E(errs.Invalid, "this ticket show is %s", sh.State)
	}
	if ok && !sh.StartedAt.IsZero() {
		s.reopen(ctx, modelID)
	}
	if err := s.settle(ctx, sh); err != nil {
		return Show{}, err
	}
	return sh, nil
}

// CancelNoShows cancels, and refunds in full, every show whose model never
// started it by its announced end: a viewer's money is not held for a show
// that did not happen. It returns how many it cancelled.
func (s *Service) CancelNoShows(ctx context.Context) (int, error) {
	now := s.now()
	due, err := s.cfg.Store.ScheduledBefore(ctx, now)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, sh := range due {
		if now.Before(sh.StartsAt.Add(sh.Duration)) {
			continue
		}
		if _, err := s.finish(ctx, sh.ModelID, sh.ID, Cancelled, []State{Scheduled}); err != nil {
			return n, err
		}
		s.cfg.Log.Info("tickets: cancelled a show its model never started", "show", sh.ID, "model", sh.ModelID)
		n++
	}
	return n, nil
}

// Run cancels no-shows every interval until ctx ends (and once at once:
// shows that passed while the host was down).
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := s.cfg.Clock.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.CancelNoShows(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Log.Warn("tickets: cancelling no-shows", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// Kept is what a show that is over keeps of one ticket's price under p:
// nothing when cancelled or never started, else by how long it ran.
func (p Policy) Kept(sh Show) (money.Money, error) {
	zero := money.Money{Currency: sh.Price.Currency}
	if sh.State != Ended || sh.StartedAt.IsZero() {
		return zero, nil
	}
	ran := int64(sh.EndedAt.Sub(sh.StartedAt) / time.Second)
	ann := int64(sh.Duration / time.Second)
	if ran >= ann {
		return sh.Price, nil
	}
	// ran*10000 < bps*ann, in integers: no fraction is ever a float.
	if ran*10000 < p.RefundBelowBps*ann {
		return zero, nil
	}
	if !p.Prorate {
		return sh.Price, nil
	}
	amt, err := pricing.MulDiv(sh.Price.Amount, max(ran, 0), ann, pricing.RoundHalfUp)
	if err != nil {
		return money.Money{}, err
	}
	return money.Money{Amount: amt, Currency: sh.Price.Currency}, nil
}

// settle posts or refunds every ticket of a show that is over that is not
// yet; each ticket's transfers have keys of their own, so a retry (or a
// crash between tickets) moves each ticket's money once.
func (s *Service) settle(ctx context.Context, sh Show) error {
	all, err := s.cfg.Store.Tickets(ctx, sh.ID)
	if err != nil {
		return err
	}
	kept, err := s.cfg.Policy.Kept(sh)
	if err != nil {
		return err
	}
	var first error
	for _, t := range all {
		if err := s.settleTicket(ctx, sh, t, kept); err != nil {
			s.cfg.Log.Warn("tickets: settling a ticket", "ticket", t.ID, "show", sh.ID, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

func holdKey(t Ticket) string { return "ticket/" + t.ID + "/hold" }

func (s *Service) settleTicket(ctx context.Context, sh Show, t Ticket, kept money.Money) error {
	switch t.State {
	case Posted, Refunded:
		return nil
	case Buying:
		// A purchase that stopped between its reservation and its hold: no
		// hold, no ticket; a hold, a ticket like any other.
		if _, err := s.cfg.Book.TransferByKey(ctx, holdKey(t)); errs.CodeOf(err) == errs.NotFound {
			return s.cfg.Store.DeleteTicket(ctx, t.ID)
		} else if err != nil {
			return err
		}
	}
	var reqs []ledger.Request
	if kept.Amount == 0 {
		reqs = []ledger.Request{{Key: "ticket/" + t.ID + "/refund", Kind: ledger.Void, PendingKey: holdKey(t),
			Memo: "Ticket refunded: " + sh.Title}}
	} else {
		reqs = []ledger.Request{{Key: "ticket/" + t.ID + "/post", Kind: ledger.Post, PendingKey: holdKey(t), Amount: kept,
			Memo: "Ticket: " + sh.Title}}
		shares, err := s.allocate(ctx, sh, t, kept)
		if err != nil {
			return err
		}
		for _, sh2 := range shares {
			if sh2.Amount.Amount == 0 || sh2.Role == split.RolePlatform {
				continue // the platform's share stays in platform:revenue
			}
			reqs = append(reqs, ledger.Request{Key: "ticket/" + t.ID + "/split/" + string(sh2.Role), Kind: ledger.Single,
				Debit: revenueAccount, Credit: string(sh2.Role) + ":" + sh2.PartyID + ":earnings", Amount: sh2.Amount,
				Memo: "Ticket show " + sh.ID})
		}
	}
	if _, err := s.cfg.Book.Batch(ctx, reqs); err != nil {
		return err
	}
	t.Posted = kept
	t.Refunded = money.Money{Amount: t.Price.Amount - kept.Amount, Currency: t.Price.Currency}
	t.State, t.SettledAt = Posted, s.now()
	if kept.Amount == 0 {
		t.State = Refunded
	}
	return s.cfg.Store.PutTicket(ctx, t)
}

// allocate asks the split plugin for the shares of a posted ticket. The
// plugin answers the same request with the same shares (sdk/split), so a
// retried settlement books the transfers the first attempt would have.
func (s *Service) allocate(ctx context.Context, sh Show, t Ticket, amount money.Money) ([]split.Share, error) {
	parties, err := s.cfg.Parties.PartiesOf(ctx, sh.ModelID)
	if err != nil {
		return nil, err
	}
	if s.cfg.Splitter == nil {
		return []split.Share{{Role: split.RoleModel, PartyID: sh.ModelID, Amount: amount}}, nil
	}
	areq := split.AllocateRequest{Kind: split.KindTicket, Amount: amount, Parties: parties, Reference: "ticket/" + t.ID}
	alloc, err := s.cfg.Splitter.Allocate(ctx, areq)
	if err != nil {
		return nil, err
	}
	if err := split.Check(areq, alloc); err != nil {
		return nil, errs.E(errs.Internal, "the ticket could not be split: %v", err)
	}
	return alloc.Shares, nil
}

// Payment is how a viewer pays a ticket.
type Payment string

const (
	// PayWallet holds the price on the wallet's credits.
	PayWallet Payment = "wallet"
	// PayCard charges the card on file the price into the wallet first,
	// then holds it there: refunds return to the wallet.
	PayCard Payment = "card"
)

// TicketID is the one ticket a viewer can hold to a show: a double click,
// a retry after a lost answer or a crash all find it.
func TicketID(showID, viewerID string) string {
	return "tk_" + idempotency.ID("ticket", showID, viewerID)
}

// Buy sells viewerID a ticket to showID, held on the wallet until the show
// is over. A viewer holds at most one ticket per show: a repeat (same or
// another client key) returns it. A short wallet is errs.Limit, a sold-out
// show errs.Limit, closed doors errs.Invalid; none of them moves money.
// clientKey is the request's idempotency key (core/idempotency); the ticket
// id is derived from the show and the viewer, which a key's retry shares.
//
// Paid by card, the card on file is charged exactly the price into the
// wallet (under a key derived from the ticket and clientKey, so a retry
// with the key charges once) once the seat is reserved, and the ticket is then held
// there; a decline is the processor's error and reserves nothing.
func (s *Service) Buy(ctx context.Context, viewerID, showID, clientKey string, pay Payment) (Ticket, error) {
	switch {
	case pay == "":
		pay = PayWallet
	case pay == PayCard && s.cfg.Cards == nil:
		return Ticket{}, errs.E(errs.Unsupported, "tickets are paid from the wallet here")
	case pay != PayWallet && pay != PayCard:
		return Ticket{}, errs.E(errs.Invalid, "pay with wallet or card, not %q", pay)
	}
	sh, err := s.cfg.Store.Show(ctx, showID)
	if err != nil {
		return Ticket{}, err
	}
	if sh.ModelID == viewerID {
		return Ticket{}, errs.E(errs.Invalid, "you cannot buy a ticket to your own show")
	}
	unlock := s.lock(showID)
	defer unlock()
	t := Ticket{ID: TicketID(showID, viewerID), ShowID: showID, ViewerID: viewerID, ModelID: sh.ModelID, Price: sh.Price,
		State: Buying, BoughtAt: s.now()}
	t, _, err = s.cfg.Store.ReserveTicket(ctx, t, sh.Capacity)
	if err != nil {
		return Ticket{}, err
	}
	if t.State != Buying {
		return t, nil
	}
	if pay == PayCard {
		// Without a client key nothing protects a retry: as with credit
		// packs, each call is a new charge.
		key := ""
		if clientKey != "" {
			key = "ticket/" + t.ID + "/card/" + clientKey
		}
		if _, err := s.cfg.Cards.TopUp(ctx, viewerID, t.Price, key); err != nil {
			// Nothing was charged, or (an unknown outcome) the top-up
			// finishes by itself into the wallet: the seat goes back on sale.
			if derr := s.cfg.Store.DeleteTicket(ctx, t.ID); derr != nil {
				s.cfg.Log.Warn("tickets: releasing a seat whose card payment failed", "ticket", t.ID, "err", derr)
			}
			return Ticket{}, err
		}
	}
	_, err = s.cfg.Book.Batch(ctx, []ledger.Request{{Key: holdKey(t), Kind: ledger.Pending, Debit: "viewer:" + viewerID + ":wallet",
		Credit: revenueAccount, Amount: t.Price, Memo: "Ticket held: " + sh.Title}})
	if err != nil {
		// Nothing was held: the seat goes back on sale.
		if derr := s.cfg.Store.DeleteTicket(ctx, t.ID); derr != nil {
			s.cfg.Log.Warn("tickets: releasing a seat whose hold failed", "ticket", t.ID, "err", derr)
		}
		if errs.CodeOf(err) == errs.Limit {
			return Ticket{}, errs.E(errs.Limit, "not enough credits in your wallet for this ticket (%s): buy a credit pack", t.Price)
		}
		return Ticket{}, err
	}
	t.State = Held
	if err := s.cfg.Store.PutTicket(ctx, t); err != nil {
		return Ticket{}, err
	}
	return t, nil
}

// TicketOf is the viewer's ticket to a show, if any.
func (s *Service) TicketOf(ctx context.Context, viewerID, showID string) (Ticket, bool, error) {
	t, err := s.cfg.Store.Ticket(ctx, TicketID(showID, viewerID))
	if errs.CodeOf(err) == errs.NotFound {
		return Ticket{}, false, nil
	}
	if err != nil {
		return Ticket{}, false, err
	}
	return t, t.ViewerID == viewerID, nil
}

// Tickets lists a viewer's tickets, newest first.
func (s *Service) Tickets(ctx context.Context, viewerID string) ([]Ticket, error) {
	return s.cfg.Store.TicketsOfViewer(ctx, viewerID)
}

// Token is the bearer that admits a ticket's holder to the show's video
// (WHEP): the ticket id and its MAC under the deployment's secret, so
// nothing but the secret is stored and only the holder is given it.
func (s *Service) Token(t Ticket) string {
	return "tt_" + t.ID + "." + s.mac(t.ID)
}

func (s *Service) mac(id string) string {
	h := hmac.New(sha256.New, s.cfg.Secret)
	h.Write([]byte("ticket-token\x00" + id))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}

// AdmitTicket is core/shows' TicketAdmission: while modelID runs a ticket
// show, token must be a held ticket to it (the seat is the ticket's);
// running is false when she runs none and core/shows decides as usual.
//
// Before the show, on her public broadcast, a ticket token is served as a
// public viewer's (any visitor may watch it; the room page hands a holder
// her token from the moment she buys). It is not given the ticket's seat
// then: a seat survives her going private, and the private show is not
// the ticket holders'. So starting the show cuts a holder watching since
// before it too, and her player reconnects under the ticket's seat. On a
// broadcast that is not public core/shows decides.
func (s *Service) AdmitTicket(ctx context.Context, modelID, token string) (string, bool, error) {
	sh, ok, err := s.running(ctx, modelID)
	if err != nil {
		return "", true, err
	}
	rest, isTicket := strings.CutPrefix(token, "tt_")
	if !ok {
		if !isTicket || !s.public(ctx, modelID) {
			return "", false, nil
		}
		return "", true, nil
	}
	if token == "" {
		return "", true, errs.E(errs.Forbidden, "this is a ticket show: buy a ticket to watch")
	}
	if !isTicket {
		// A seat token: core/shows admits its seat or refuses it.
		return "", false, nil
	}
	t, err := s.ticketOfToken(ctx, rest)
	if err != nil {
		return "", true, err
	}
	if t.ShowID != sh.ID {
		return "", true, errs.E(errs.Forbidden, "this ticket is for another show")
	}
	if t.State != Held {
		return "", true, errs.E(errs.Forbidden, "this ticket is %s", t.State)
	}
	return t.SeatID(), true, nil
}

// TicketShowRunning is core/shows' question before she goes private: a
// running ticket show is its holders', so she ends it first.
func (s *Service) TicketShowRunning(ctx context.Context, modelID string) (bool, error) {
	_, ok, err := s.running(ctx, modelID)
	return ok, err
}

// ticketOfToken is the ticket a token (less its tt_ prefix) names, when its
// MAC is good; errs.Unauthenticated otherwise.
func (s *Service) ticketOfToken(ctx context.Context, rest string) (Ticket, error) {
	id, mac, ok := strings.Cut(rest, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(s.mac(id))) {
		return Ticket{}, errs.E(errs.Unauthenticated, "unknown ticket")
	}
	t, err := s.cfg.Store.Ticket(ctx, id)
	if errs.CodeOf(err) == errs.NotFound {
		return Ticket{}, errs.E(errs.Unauthenticated, "unknown ticket")
	}
	return t, err
}

// private says whether the model's broadcast is on air in a mode other
// than public (a private or group show of core/shows).
func (s *Service) private(ctx context.Context, modelID string) bool {
	s.mu.Lock()
	b := s.broadcasts
	s.mu.Unlock()
	if b == nil {
		return false
	}
	on, ok, err := b.ShowOfModel(ctx, modelID)
	return err == nil && ok && string(on.Mode) != string(stream.ModePublic)
}

// public says whether the model's broadcast is on air in public; false
// when the broadcasts are not attached.
func (s *Service) public(ctx context.Context, modelID string) bool {
	s.mu.Lock()
	b := s.broadcasts
	s.mu.Unlock()
	if b == nil {
		return false
	}
	on, ok, err := b.ShowOfModel(ctx, modelID)
	return err == nil && ok && string(on.Mode) == string(stream.ModePublic)
}
