// Package live is the broadcast layer between the site and the core
// services: a model's public broadcast (its stream key, its mode), viewers'
// private requests, and the seat of a private show while it runs. It joins
// the pieces no single core package owns:
//
//   - the SFU's show id (the broadcast) to core/shows' paid show, so stream
//     liveness reaches the seat's meter through shows.Service.Handle;
//   - seats to the WHEP admission token of their viewer (stream.Admission);
//   - billing's funding warnings and seat ends to the chat and the page.
//
// It decides nothing about money: seats are opened by core/shows (which
// locks the price policy in core/billing), ended by core/billing or through
// core/shows, and priced by billing alone. The running figures it shows
// come from a display copy of the seat's meter fed the same events; the
// receipt is billing's.
//
// Broadcasts and pending requests live in memory: after a restart models go
// live again, and billing's Recover closes the seats that were open.
package live

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/httperror"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/web"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/split"
	"github.com/camkit/camkit/sdk/theme"
)

// Config wires a Service. Attach supplies the parts built after it.
type Config struct {
	DB       *store.DB
	Clock    clock.Clock
	Accounts *accounts.Service
	Cards    *accounts.PaymentMethods
	Wallets  *accounts.Wallets
	Ledger   Ledger
	Chat     *chat.Service
	// Policy is the operator's template: everything but the model's rate.
	Policy billing.PricePolicy
	// PreferWallet pays a private show from wallet credits when they cover a
	// block, before the card on file.
	PreferWallet bool
	// CardStrategy is what billing does with the default processor's card:
	// card_hold or prepaid_blocks (from its capabilities).
	CardStrategy billing.Strategy
	// Strategies is the same per active processor, for a card at another
	// one than the default (routing); a processor missing here gets
	// CardStrategy.
	Strategies map[string]billing.Strategy
	Log        *slog.Logger
}

// Service is safe for concurrent use.
type Service struct {
	cfg   Config
	log   *slog.Logger
	shows PaidShows
	bill  Receipts
	media Media

	mu       sync.Mutex
	byModel  map[string]*broadcast
	byID     map[string]*broadcast
	byKey    map[string]*broadcast
	requests map[string]*request
	seats    map[string]*seat
	// onAir counts changes of who is on air and in what mode (LiveVersion).
	onAir atomic.Uint64
}

type broadcast struct {
	id, model, key string
	since          time.Time
	mode           theme.ShowMode
	media          bool
	paid           string // core/shows' show id while private
	seat           string
}

type request struct {
	web.Request
}

type seat struct {
	id, show, paid, viewer, viewerName, model, token string
	policy                                           billing.PricePolicy
	funding                                          string
	opened                                           time.Time
	m                                                *meter.Meter
	open                                             bool
	fundedSecs                                       int64
	warnings                                         []theme.FundingWarning
	// bill is billing's view of the seat as last seen; final is set once it
	// holds the close decision, which a view read before the close must not
	// replace.
	bill  billing.LiveSeat
	final bool
}

// New returns the service; call Attach before serving.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Service{cfg: cfg, log: cfg.Log, byModel: map[string]*broadcast{}, byID: map[string]*broadcast{},
		byKey: map[string]*broadcast{}, requests: map[string]*request{}, seats: map[string]*seat{}}
}

// SetChat supplies the chat, which is built after this service (it takes
// it as its shows directory).
func (s *Service) SetChat(c *chat.Service) { s.cfg.Chat = c }

// Attach supplies the paid-show service, billing's receipts and the SFU,
// which are built after this service (they take it as their rate source,
// event sink and admission).
func (s *Service) Attach(paid PaidShows, bill Receipts, media Media) {
	s.shows, s.bill, s.media = paid, bill, media
}

var (
	_ web.Shows           = (*Service)(nil)
	_ web.LiveVersioner   = (*Service)(nil)
	_ stream.Admission    = (*Service)(nil)
	_ stream.LivenessSink = (*Service)(nil)
	_ chat.Shows          = (*Service)(nil)
	_ billing.EventSink   = (*Service)(nil)
	_ shows.RateSource    = (*Service)(nil)
	_ PaidShows           = (*shows.Service)(nil)
	_ Receipts            = (*billing.Engine)(nil)
	_ Media               = stream.Service(nil)
)

func (s *Service) now() time.Time { return s.cfg.Clock.Now() }

func randomID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func (b *broadcast) show(viewers int) web.Show {
	return web.Show{ID: b.id, ModelID: b.model, Mode: b.mode, Since: b.since, Viewers: viewers}
}

// ---- broadcasts ----

// LiveVersion changes whenever a broadcast starts or ends or changes mode,
// so the host's shared home page never shows an older line-up.
func (s *Service) LiveVersion() uint64 { return s.onAir.Load() }

// Live lists broadcasts on air, newest first.
func (s *Service) Live(context.Context) ([]web.Show, error) {
	s.mu.Lock()
	out := make([]web.Show, 0, len(s.byID))
	for _, b := range s.byID {
		out = append(out, b.show(0))
	}
	s.mu.Unlock()
	for i := range out {
		out[i].Viewers = s.cfg.Chat.Viewers(out[i].ID)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.After(out[j].Since)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Show returns a broadcast on air.
func (s *Service) Show(_ context.Context, id string) (web.Show, error) {
	s.mu.Lock()
	b := s.byID[id]
	var out web.Show
	if b != nil {
		out = b.show(0)
	}
	s.mu.Unlock()
	if b == nil {
		return web.Show{}, errs.E(errs.NotFound, "this show is not on air")
	}
	out.Viewers = s.cfg.Chat.Viewers(id)
	return out, nil
}

// ShowOfModel returns the model's broadcast on air.
func (s *Service) ShowOfModel(_ context.Context, modelID string) (web.Show, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.byModel[modelID]
	if b == nil {
		return web.Show{}, false, nil
	}
	return b.show(0), true, nil
}

// GoLive puts an approved model on air (or returns her broadcast on air).
func (s *Service) GoLive(ctx context.Context, modelID string) (web.Show, error) {
	if err := s.cfg.Accounts.CheckCanBroadcast(ctx, modelID); err != nil {
		return web.Show{}, err
	}
	s.mu.Lock()
	b := s.byModel[modelID]
	if b == nil {
		b = &broadcast{id: randomID("b", 8), model: modelID, key: randomID("sk_", 24), since: s.now().UTC(), mode: theme.ModePublic}
		s.byModel[modelID], s.byID[b.id], s.byKey[b.key] = b, b, b
		s.onAir.Add(1)
	}
	out := b.show(0)
	s.mu.Unlock()
	return out, nil
}

// StreamKey is the WHIP key of the model's broadcast.
func (s *Service) StreamKey(_ context.Context, modelID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.byModel[modelID]
	if b == nil {
		return "", errs.E(errs.NotFound, "you are not on air")
	}
	return b.key, nil
}

// EndShow takes a model off air; a private show in progress ends with it.
func (s *Service) EndShow(ctx context.Context, modelID string) error {
	s.mu.Lock()
	b := s.byModel[modelID]
	if b == nil {
		s.mu.Unlock()
		return errs.E(errs.NotFound, "you are not on air")
	}
	delete(s.byModel, modelID)
	delete(s.byID, b.id)
	delete(s.byKey, b.key)
	s.onAir.Add(1)
	for id, r := range s.requests {
		if r.ShowID == b.id {
			delete(s.requests, id)
		}
	}
	paid, seatID := b.paid, b.seat
	s.mu.Unlock()
	var first error
	if paid != "" {
		first = s.shows.EndShow(ctx, paid, "model went off air")
		s.closeSeat(seatID)
	}
	if s.media != nil {
		s.media.EndShow(b.id)
	}
	s.say(b.id, chat.SystemEvent{Kind: "show_ended", Text: "The show has ended."})
	return first
}

// ---- prices and requests ----

// CurrentPolicy is the operator's template with the model's current rate:
// what core/shows locks on a seat opened now.
func (s *Service) CurrentPolicy(ctx context.Context, modelID string, _ shows.Mode) (billing.PricePolicy, error) {
	p, err := s.cfg.Accounts.Profile(ctx, modelID)
	if err != nil {
		return billing.PricePolicy{}, err
	}
	if p.RatePerMinute.Amount <= 0 {
		return billing.PricePolicy{}, errs.E(errs.Invalid, "%s has not set a private rate yet", p.User.DisplayName)
	}
	pol := s.cfg.Policy
	pol.RatePerMinute = p.RatePerMinute
	if pol.MinimumCharge.Currency == "" {
		pol.MinimumCharge.Currency = p.RatePerMinute.Currency
	}
	return pol, nil
}

// funding decides how viewerID would pay for a seat under pol: the card on
// file or wallet credits, as the operator prefers, falling back to the
// other. ok is false with a reason when neither can.
func (s *Service) funding(ctx context.Context, viewerID string, pol billing.PricePolicy) (billing.Funding, string, bool, string, error) {
	block, err := billing.BlockAmountInPaymentCurrency(pol)
	if err != nil {
		return billing.Funding{}, "", false, "", err
	}
	bal, err := s.cfg.Wallets.Balance(ctx, viewerID)
	if err != nil {
		return billing.Funding{}, "", false, "", err
	}
	walletOK := bal.Available.Currency == block.Currency && bal.Available.Amount >= block.Amount
	// A new seat is funded at the processor routing picks among the
	// viewer's cards; the seat then stays with it for its whole life.
	procName, cred, err := s.cfg.Cards.Credential(ctx, viewerID)
	cardOK := err == nil
	var need *accounts.NeedCard
	if err != nil && errs.CodeOf(err) != errs.NotFound {
		return billing.Funding{}, "", false, "", err
	}
	errors.As(err, &need)
	card := billing.Funding{Processor: procName, Credential: &cred}
	switch {
	case walletOK && (s.cfg.PreferWallet || !cardOK):
		return billing.Funding{}, string(billing.Wallet), true, "", nil
	case cardOK:
		return card, string(s.strategy(procName)), true, "", nil
	case need != nil:
		return billing.Funding{}, "", false, "Your saved card was with " + need.Was.Processor + "; add a card to continue (or buy credits): the first block costs " + display(block) + ".", nil
	}
	return billing.Funding{}, "", false, "Add a card or buy credits to go private: the first block costs " + display(block) + ".", nil
}

// strategy is what billing does with a card at processor name.
func (s *Service) strategy(name string) billing.Strategy {
	if st, ok := s.cfg.Strategies[name]; ok {
		return st
	}
	return s.cfg.CardStrategy
}

func display(m money.Money) string {
	d, err := money.FormatDecimal(m)
	if err != nil {
		return m.String()
	}
	return d + " " + m.Currency
}

// Quote is what a private seat would lock now, and whether viewerID can pay.
func (s *Service) Quote(ctx context.Context, modelID, viewerID string) (web.Quote, error) {
	pol, err := s.CurrentPolicy(ctx, modelID, shows.Private)
	if errs.CodeOf(err) == errs.Invalid {
		// No rate yet: show the template at zero, not allowed.
		p := s.cfg.Policy
		p.RatePerMinute = money.Money{Currency: s.cfg.Accounts.Currency()}
		p.MinimumCharge.Currency = p.RatePerMinute.Currency
		return web.Quote{Policy: p, Reason: httperror.Message(err)}, nil
	}
	if err != nil {
		return web.Quote{}, err
	}
	q := web.Quote{Policy: pol, Funding: string(s.cfg.CardStrategy)}
	if viewerID == "" {
		return q, nil
	}
	_, how, ok, reason, err := s.funding(ctx, viewerID, pol)
	if err != nil {
		return web.Quote{}, err
	}
	if ok {
		q.Funding = how
	}
	q.Allowed, q.Reason = ok, reason
	return q, nil
}

// RequestPrivate records a viewer's request to the model of showID.
func (s *Service) RequestPrivate(ctx context.Context, viewerID, showID string) (web.Request, error) {
	u, err := s.cfg.Accounts.User(ctx, viewerID)
	if err != nil {
		return web.Request{}, err
	}
	if u.Role != accounts.RoleViewer {
		return web.Request{}, errs.E(errs.Forbidden, "only viewers ask for private shows")
	}
	s.mu.Lock()
	b := s.byID[showID]
	if b == nil {
		s.mu.Unlock()
		return web.Request{}, errs.E(errs.NotFound, "this show is not on air")
	}
	model, mode := b.model, b.mode
	for _, r := range s.requests {
		if r.ShowID == showID && r.ViewerID == viewerID {
			out := r.Request
			s.mu.Unlock()
			return out, nil
		}
	}
	s.mu.Unlock()
	if mode != theme.ModePublic {
		return web.Request{}, errs.E(errs.Conflict, "the model is in a private show; try again when she is back")
	}
	q, err := s.Quote(ctx, model, viewerID)
	if err != nil {
		return web.Request{}, err
	}
	if !q.Allowed {
		return web.Request{}, errs.E(errs.Limit, "%s", q.Reason)
	}
	r := &request{web.Request{ID: randomID("rq", 8), ShowID: showID, ViewerID: viewerID, ViewerName: u.DisplayName, ModelID: model,
		At: s.now().UTC(), Rate: q.Policy.RatePerMinute}}
	s.mu.Lock()
	// A concurrent twin (a double click without a key) may have asked
	// while the quote was read: it is the request, this one is not another.
	for _, o := range s.requests {
		if o.ShowID == showID && o.ViewerID == viewerID {
			out := o.Request
			s.mu.Unlock()
			return out, nil
		}
	}
	s.requests[r.ID] = r
	s.mu.Unlock()
	s.say(showID, chat.SystemEvent{Kind: "private_request", To: model, Text: u.DisplayName + " asks for a private show at " + display(r.Rate) + " a minute."})
	return r.Request, nil
}

// Requests lists a model's pending requests, oldest first.
func (s *Service) Requests(_ context.Context, modelID string) ([]web.Request, error) {
	s.mu.Lock()
	var out []web.Request
	for _, r := range s.requests {
		if r.ModelID == modelID {
			out = append(out, r.Request)
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		return out[i].At.Before(out[j].At) || out[i].At.Equal(out[j].At) && out[i].ID < out[j].ID
	})
	return out, nil
}

// PendingRequest is the viewer's pending request to showID.
func (s *Service) PendingRequest(_ context.Context, viewerID, showID string) (web.Request, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.requests {
		if r.ShowID == showID && r.ViewerID == viewerID {
			return r.Request, true, nil
		}
	}
	return web.Request{}, false, nil
}

func (s *Service) takeRequest(modelID, requestID string) (*request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests[requestID]
	if r == nil || r.ModelID != modelID {
		return nil, errs.E(errs.NotFound, "no such request (the viewer may have left)")
	}
	delete(s.requests, requestID)
	return r, nil
}

// Accept opens the private show of a request: core/shows opens a paid show
// and the seat (locking the price), the broadcast turns private, and the
// other requests are declined.
func (s *Service) Accept(ctx context.Context, modelID, requestID string) (web.Seat, error) {
	r, err := s.takeRequest(modelID, requestID)
	if err != nil {
		return web.Seat{}, err
	}
	s.mu.Lock()
	b := s.byID[r.ShowID]
	if b == nil || b.model != modelID {
		s.mu.Unlock()
		return web.Seat{}, errs.E(errs.NotFound, "you are not on air")
	}
	if b.mode != theme.ModePublic || b.paid != "" {
		s.mu.Unlock()
		return web.Seat{}, errs.E(errs.Conflict, "you are already in a private show")
	}
	b.mode = theme.ModePrivate // reserved while the seat is funded
	s.onAir.Add(1)
	media := b.media
	s.mu.Unlock()
	seat, err := s.openSeat(ctx, b, r, media)
	if err != nil {
		s.mu.Lock()
		b.mode = theme.ModePublic
		s.onAir.Add(1)
		s.mu.Unlock()
		s.say(b.id, chat.SystemEvent{Kind: "private_failed", To: r.ViewerID, Text: "The private show could not start: " + httperror.Message(err)})
		return web.Seat{}, err
	}
	s.mu.Lock()
	var others []*request
	for id, o := range s.requests {
		if o.ShowID == b.id {
			others = append(others, o)
			delete(s.requests, id)
		}
	}
	s.mu.Unlock()
	for _, o := range others {
		s.say(b.id, chat.SystemEvent{Kind: "private_declined", To: o.ViewerID, Text: "The model went private with someone else."})
	}
	if s.media != nil {
		s.media.SetMode(b.id, stream.ModePrivate)
	}
	s.say(b.id, chat.SystemEvent{Kind: "show_private", Text: "The show went private."})
	return seat, nil
}

func (s *Service) openSeat(ctx context.Context, b *broadcast, r *request, media bool) (web.Seat, error) {
	prof, err := s.cfg.Accounts.Profile(ctx, b.model)
	if err != nil {
		return web.Seat{}, err
	}
	pol, err := s.CurrentPolicy(ctx, b.model, shows.Private)
	if err != nil {
		return web.Seat{}, err
	}
	fund, how, ok, reason, err := s.funding(ctx, r.ViewerID, pol)
	if err != nil {
		return web.Seat{}, err
	}
	if !ok {
		return web.Seat{}, errs.E(errs.Limit, "the viewer cannot pay: %s", reason)
	}
	paid, err := s.shows.OpenShow(ctx, shows.OpenShowRequest{ModelID: b.model, StudioID: prof.StudioID, Mode: shows.Private})
	if err != nil {
		return web.Seat{}, err
	}
	if media {
		// The paid show is new to core/shows: tell it the model's media flows
		// already, so the seat is live on her side from its first second.
		if err := s.shows.Handle(shows.ModelMediaFlowing{ShowID: paid.ID, Since: s.now()}); err != nil {
			s.log.Warn("live: media state of a new paid show", "show", paid.ID, "err", err)
		}
	}
	info, err := s.shows.OpenSeat(ctx, paid.ID, shows.SeatRequest{ViewerID: r.ViewerID, Funding: fund})
	if err != nil {
		if e := s.shows.EndShow(context.Background(), paid.ID, "seat not funded"); e != nil {
			s.log.Warn("live: ending an unfunded paid show", "show", paid.ID, "err", e)
		}
		return web.Seat{}, err
	}
	if fund.Processor != "" && info.Strategy != "" {
		how = string(info.Strategy)
	}
	st := &seat{id: info.ID, show: b.id, paid: paid.ID, viewer: r.ViewerID, viewerName: r.ViewerName, model: b.model,
		token: randomID("st_", 24), policy: pol, funding: how, opened: info.OpenedAt, m: meter.New(), open: true, fundedSecs: info.FundedSeconds}
	_ = st.m.SeatOpened(info.OpenedAt)
	s.mu.Lock()
	if media {
		_ = st.m.ModelMediaFlowing(clampAt(info.OpenedAt, s.now()))
	}
	s.seats[st.id] = st
	b.paid, b.seat = paid.ID, st.id
	s.mu.Unlock()
	return s.view(st, true), nil
}

func clampAt(at, now time.Time) time.Time {
	if at.After(now) {
		return now
	}
	return at
}

// Decline refuses a request and tells the viewer.
func (s *Service) Decline(_ context.Context, modelID, requestID string) error {
	r, err := s.takeRequest(modelID, requestID)
	if err != nil {
		return err
	}
	s.say(r.ShowID, chat.SystemEvent{Kind: "private_declined", To: r.ViewerID, Text: "The model declined your private request."})
	return nil
}

// ---- seats ----

// view is a seat as the page shows it. The running figures and the pause are
// billing's (billed so far: monotone, never above the receipt). Call it
// without s.mu: billing's seat lock is taken first, as billing's events
// (which take s.mu) do.
func (s *Service) view(st *seat, withToken bool) web.Seat {
	ls, ok := billing.LiveSeat{}, false
	if s.bill != nil {
		ls, ok = s.bill.LiveSeat(st.id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok && !(st.final && ls.Open) {
		st.bill, st.final = ls, !ls.Open
	}
	b := st.bill
	cost := b.BilledCost
	if cost.Currency == "" {
		cost = money.Money{Currency: st.policy.PaymentCurrency()}
	}
	out := web.Seat{ID: st.id, ShowID: st.show, ViewerID: st.viewer, ViewerName: st.viewerName, ModelID: st.model,
		Mode: theme.ModePrivate, Policy: st.policy, Funding: st.funding, OpenedAt: st.opened, Open: st.open,
		BillableSeconds: b.BilledSeconds, RunningCost: cost, FundedSeconds: st.fundedSecs, Billing: st.open && b.Billing,
		Warnings: append([]theme.FundingWarning(nil), st.warnings...)}
	if st.open && b.Open {
		out.PauseReason, out.EndsAt = string(b.PauseReason), b.EndsAt
	}
	if withToken {
		out.Token = st.token
	}
	return out
}

func (s *Service) isAdmin(ctx context.Context, userID string) bool {
	u, err := s.cfg.Accounts.User(ctx, userID)
	return err == nil && u.Role == accounts.RoleAdmin
}

// Seat shows a seat to its viewer (with the video token), its model or an
// admin. Anyone else is told there is no such seat.
func (s *Service) Seat(ctx context.Context, actorID, seatID string) (web.Seat, error) {
	s.mu.Lock()
	st := s.seats[seatID]
	party := st != nil && (actorID == st.viewer || actorID == st.model)
	isViewer := st != nil && actorID == st.viewer
	s.mu.Unlock()
	if party {
		return s.view(st, isViewer), nil
	}
	if st != nil && s.isAdmin(ctx, actorID) {
		return s.view(st, false), nil
	}
	if st != nil {
		return web.Seat{}, errs.E(errs.NotFound, "no such seat")
	}
	// Not in memory (ended before a restart): its receipt says what it was.
	r, err := s.Receipt(ctx, actorID, seatID)
	if errs.CodeOf(err) == errs.Conflict {
		return web.Seat{ID: seatID, Open: false}, nil
	}
	if err != nil {
		return web.Seat{}, err
	}
	return web.Seat{ID: r.SeatID, ShowID: r.ShowID, ViewerID: r.ViewerID, ModelID: r.ModelID, Mode: theme.ShowMode(r.Kind),
		Policy: r.Policy, Funding: string(r.Strategy), OpenedAt: r.OpenedAt, BillableSeconds: r.BillableSeconds, RunningCost: r.Price}, nil
}

// OpenSeatOf is the viewer's open seat.
func (s *Service) OpenSeatOf(_ context.Context, viewerID string) (web.Seat, bool, error) {
	s.mu.Lock()
	var mine *seat
	for _, st := range s.seats {
		if st.viewer == viewerID && st.open {
			mine = st
			break
		}
	}
	s.mu.Unlock()
	if mine == nil {
		return web.Seat{}, false, nil
	}
	return s.view(mine, true), true, nil
}

// EndSeat ends a seat for its viewer or its model (or an admin, as the
// model's side): billing's receipt, or its close decision while settlement
// waits (see billing.SeatEnd). Billing's end is idempotent, so a repeat, or
// an end racing the first, gets the same answer, also once the seat has
// left this service's memory.
func (s *Service) EndSeat(ctx context.Context, actorID, seatID string) (billing.SeatEnd, error) {
	s.mu.Lock()
	st := s.seats[seatID]
	viewer, model := "", ""
	if st != nil {
		viewer, model = st.viewer, st.model
	}
	s.mu.Unlock()
	notFound := errs.E(errs.NotFound, "no such seat in progress") // the same to a stranger whether it exists or not
	if st == nil {
		var err error
		if viewer, model, err = s.seatParties(ctx, seatID); err != nil {
			return billing.SeatEnd{}, notFound
		}
	}
	var reason billing.CloseReason
	switch {
	case actorID == viewer:
		reason = billing.ClosedByViewer
	case actorID == model || s.isAdmin(ctx, actorID):
		reason = billing.ClosedByModel
	default:
		return billing.SeatEnd{}, notFound
	}
	end, err := s.shows.EndSeat(ctx, seatID, reason)
	s.closeSeat(seatID)
	return end, err
}

// closeSeat ends the private show around a seat that billing has closed:
// the paid show ends, the viewer's video stops, the broadcast is public again.
func (s *Service) closeSeat(seatID string) {
	s.mu.Lock()
	st := s.seats[seatID]
	if st == nil || !st.open {
		s.mu.Unlock()
		return
	}
	st.open = false
	_ = st.m.SeatClosed(s.now())
	b := s.byID[st.show]
	back := b != nil && b.seat == seatID
	if back {
		b.paid, b.seat, b.mode = "", "", theme.ModePublic
		s.onAir.Add(1)
	}
	paid, show, viewer := st.paid, st.show, st.viewer
	s.mu.Unlock()
	go func() {
		// Seats linger a while so the page can show "ended" and link the receipt.
		time.Sleep(10 * time.Minute)
		s.mu.Lock()
		delete(s.seats, seatID)
		s.mu.Unlock()
	}()
	if err := s.shows.EndShow(context.Background(), paid, "private show over"); err != nil && errs.CodeOf(err) != errs.NotFound {
		s.log.Warn("live: ending a paid show", "show", paid, "err", err)
	}
	if s.media != nil {
		s.media.EndSeat(seatID)
		if back {
			s.media.SetMode(show, stream.ModePublic)
		}
	}
	s.say(PrivateRoomOf(seatID), chat.SystemEvent{Kind: "seat_ended", Text: "The private show has ended."})
	s.say(show, chat.SystemEvent{Kind: "seat_ended", To: viewer, Text: "Your private show has ended; the receipt is in your wallet."})
	if back {
		s.say(show, chat.SystemEvent{Kind: "show_public", Text: "The show is public again."})
	}
}

// PrivateRoomOf is web.PrivateRoom, kept here so the package stands alone.
func PrivateRoomOf(seatID string) string { return web.PrivateRoom(seatID) }

// OpenSeats lists seats in progress, for admins.
func (s *Service) OpenSeats(ctx context.Context, actorID string) ([]web.Seat, error) {
	if !s.isAdmin(ctx, actorID) {
		return nil, errs.E(errs.Forbidden, "only admins list every seat")
	}
	s.mu.Lock()
	var open []*seat
	for _, st := range s.seats {
		if st.open {
			open = append(open, st)
		}
	}
	s.mu.Unlock()
	var out []web.Seat
	for _, st := range open {
		out = append(out, s.view(st, false))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OpenedAt.Before(out[j].OpenedAt) })
	return out, nil
}

// say speaks in a room; a failure is logged (chat is not the source of truth).
func (s *Service) say(room string, ev chat.SystemEvent) {
	if s.cfg.Chat == nil {
		return
	}
	if err := s.cfg.Chat.Broadcast(room, ev); err != nil {
		s.log.Debug("live: chat notice", "room", room, "kind", ev.Kind, "err", err)
	}
}

// ---- media: admission and liveness ----

// ResolveStreamKey maps a model's stream key to her broadcast.
func (s *Service) ResolveStreamKey(_ context.Context, key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.byKey[key]
	if b == nil {
		return "", errs.E(errs.Unauthenticated, "unknown stream key: go live from your dashboard first")
	}
	return b.id, nil
}

// AdmitViewer lets anyone watch a public broadcast and only the seat's
// viewer (by token) watch a private one.
func (s *Service) AdmitViewer(_ context.Context, showID, token string) (stream.Admit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.byID[showID]
	if b == nil {
		return stream.Admit{}, errs.E(errs.NotFound, "this show is not on air")
	}
	if token != "" {
		for _, st := range s.seats {
			// Constant time: a seat token is a bearer capability.
			if subtle.ConstantTimeCompare([]byte(st.token), []byte(token)) != 1 {
				continue
			}
			if st.show != showID {
				return stream.Admit{}, errs.E(errs.Forbidden, "this seat is for another show")
			}
			if !st.open {
				return stream.Admit{}, errs.E(errs.Forbidden, "this private show has ended")
			}
			return stream.Admit{SeatID: st.id}, nil
		}
		return stream.Admit{}, errs.E(errs.Unauthenticated, "unknown seat token")
	}
	if b.mode != theme.ModePublic {
		return stream.Admit{}, errs.E(errs.Forbidden, "the show is private")
	}
	return stream.Admit{}, nil
}

// Liveness takes the SFU's events: the broadcast's media state is kept, and
// events that concern a paid show go to core/shows (and the display meter).
func (s *Service) Liveness(ev stream.LivenessEvent) {
	var (
		out  shows.Event
		seat *seat
	)
	s.mu.Lock()
	now := s.now()
	switch e := ev.(type) {
	case stream.ModelMediaFlowing:
		b := s.byID[e.ShowID]
		if b == nil {
			break
		}
		b.media = true
		if b.paid != "" {
			out = shows.ModelMediaFlowing{ShowID: b.paid, Since: e.Since}
			if st := s.seats[b.seat]; st != nil && st.open {
				_ = st.m.ModelMediaFlowing(clampAt(e.Since, now))
			}
		}
	case stream.ModelMediaStopped:
		b := s.byID[e.ShowID]
		if b == nil {
			break
		}
		b.media = false
		if b.paid != "" {
			out = shows.ModelMediaStopped{ShowID: b.paid, LastPacketAt: e.LastPacketAt}
			if st := s.seats[b.seat]; st != nil && st.open {
				_ = st.m.ModelMediaStopped(clampAt(e.LastPacketAt, now))
			}
		}
	case stream.ViewerConnected:
		if seat = s.seats[e.SeatID]; seat != nil && seat.open {
			out = shows.ViewerConnected{ShowID: seat.paid, SeatID: seat.id, At: e.At}
			_ = seat.m.ViewerConnected(clampAt(e.At, now))
		}
	case stream.ViewerDisconnected:
		if seat = s.seats[e.SeatID]; seat != nil && seat.open {
			out = shows.ViewerDisconnected{ShowID: seat.paid, SeatID: seat.id, LastEvidenceAt: e.LastEvidenceAt}
			_ = seat.m.ViewerDisconnected(clampAt(e.LastEvidenceAt, now))
		}
	}
	s.mu.Unlock()
	if out == nil || s.shows == nil {
		return
	}
	if err := s.shows.Handle(out); err != nil {
		s.log.Debug("live: liveness not applied", "event", out, "err", err)
	}
}

// BillingEvent takes billing's notifications: funding warnings go to the
// seat's viewer, a seat billing closed (funding ran out, the pause was too
// long) ends its private show.
func (s *Service) BillingEvent(ev billing.Event) {
	switch ev.Type {
	case billing.EventFundingWarning:
		w := theme.FundingWarning{Level: theme.FlashWarning, Message: "We could not extend your payment (" + httperror.Message(ev.Err) +
			"). The show ends when the time already paid for runs out unless a retry succeeds."}
		s.mu.Lock()
		st := s.seats[ev.SeatID]
		if st != nil {
			st.warnings = append(st.warnings, w)
		}
		s.mu.Unlock()
		go s.say(PrivateRoomOf(ev.SeatID), chat.SystemEvent{Kind: "funding_warning", To: ev.ViewerID, Text: w.Message})
	case billing.EventFundingExtended:
		s.mu.Lock()
		if st := s.seats[ev.SeatID]; st != nil {
			st.fundedSecs = ev.FundedSeconds
			st.warnings = nil
		}
		s.mu.Unlock()
	case billing.EventSeatClosed:
		s.mu.Lock()
		if st := s.seats[ev.SeatID]; st != nil {
			// The close decision: the figures a page shows from now on.
			st.bill = billing.LiveSeat{SeatID: ev.SeatID, BilledSeconds: ev.BillableSeconds, BilledCost: ev.Price, FundedSeconds: ev.FundedSeconds}
			st.final = true
		}
		s.mu.Unlock()
		go s.closeSeat(ev.SeatID)
	}
}

// TipParties names who a tip in room goes to: the broadcast's model (or, in
// a seat's room, the seat's model) and her studio.
func (s *Service) TipParties(ctx context.Context, room, viewerID string) (split.Parties, error) {
	var model string
	s.mu.Lock()
	if id, ok := strings.CutPrefix(room, "seat-"); ok {
		if st := s.seats[id]; st != nil && st.viewer == viewerID {
			model = st.model
		}
	} else if b := s.byID[room]; b != nil {
		model = b.model
	}
	s.mu.Unlock()
	if model == "" {
		return split.Parties{}, errs.E(errs.NotFound, "this show is not on air")
	}
	p, err := s.cfg.Accounts.Profile(ctx, model)
	if err != nil {
		return split.Parties{}, err
	}
	return split.Parties{ModelID: model, StudioID: p.StudioID}, nil
}
