package shows

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/httperror"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/sdk/currency"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
)

// Config wires a Service. Everything in it is built before the Service;
// nothing is handed to it afterwards.
type Config struct {
	DB       *store.DB
	Clock    clock.Clock
	Store    Store
	Accounts *accounts.Service
	Cards    *accounts.PaymentMethods
	Wallets  *accounts.Wallets
	Ledger   Ledger
	Chat     Chat
	// Billing opens, feeds and ends seats and keeps their receipts.
	Billing Engine
	// BillingEvents is the feed billing publishes its events to; the
	// Service subscribes to it.
	BillingEvents *billing.Feed
	// FX quotes a rate when a viewer pays in another currency. Optional.
	FX currency.Converter
	// Media builds the SFU with this Service as its admission and liveness
	// sink (the SFU is the Service's media plane and takes the Service as its
	// gatekeeper: built here, the two are made in one direction). Optional:
	// without it the Service follows no media.
	Media func(stream.Admission, stream.LivenessSink) (Media, error)
	// Policy is the operator's template: everything but the model's rate.
	Policy pricing.Policy
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
	// LiveOnPublish: a WHIP publish with a model's stream key takes her show
	// live when she is not on air yet (config stream.live_on_publish), so
	// OBS alone is enough; false, she goes live from her dashboard first.
	LiveOnPublish bool
	// Tickets admits only ticket holders while a model runs a ticket show.
	// Optional: without it there are no ticket shows.
	Tickets TicketAdmission
	// ShowSpyCount shows a private seat's viewer how many spies watch
	// (config shows.show_spy_count); its model always sees them.
	ShowSpyCount bool
	Log          *slog.Logger
}

// Service is the show lifecycle: broadcasts, requests, the paid show and
// seat of a private show, and the SFU's admission and liveness. Its state is
// cached in memory and written through to the Store. Safe for concurrent use.
type Service struct {
	cfg   Config
	log   *slog.Logger
	paid  *Paid
	media Media
	store Store

	mu       sync.Mutex
	byModel  map[string]*broadcast
	byID     map[string]*broadcast
	byKey    map[string]*broadcast // by key digest
	requests map[string]*request
	seats    map[string]*seat
	// reveal holds a model's key just made or rotated until her dashboard
	// shows it once (StreamKey); camPass are the passes of her dashboards'
	// own cameras (CameraPass). Both live in this process only, never in
	// the store.
	reveal  map[string]revealed
	camPass map[string][]camPass // by model
	// onAir counts changes of who is on air and in what mode (LiveVersion).
	onAir atomic.Uint64

	// groups are the group shows models opened (waiting for their minimum,
	// or running), by broadcast; under mu, made on first use.
	groups map[string]*group

	c2c cam2camSeats
}

type broadcast struct {
	id, model string
	key       string // the stream key's digest
	since     time.Time
	mode      theme.ShowMode
	media     bool
	paid      string // the paid show's id while private
	seat      string
	// feed serialises handing the model's media state to the paid show:
	// Liveness forwards each media event under it, and a paid show being
	// attached (private or group) takes the state under it, so no event
	// falls between reading b.media and the paid show's first event, nor
	// overtakes it. Taken before s.mu, never while holding it.
	feed *sync.Mutex
}

func (b *broadcast) record() Broadcast {
	return Broadcast{ID: b.id, ModelID: b.model, KeyDigest: b.key, Since: b.since, Mode: b.mode, Media: b.media, PaidShowID: b.paid, SeatID: b.seat}
}

type request struct {
	Request
}

type seat struct {
	id, show, paid, viewer, viewerName, model, token string
	mode                                             theme.ShowMode // private or group
	spy                                              bool           // a spy seat on a private show (spy.go)
	policy                                           pricing.Policy
	funding                                          string
	opened                                           time.Time
	open                                             bool
	fundedSecs                                       int64
	warnings                                         []theme.FundingWarning
	// bill is billing's view of the seat as last seen; final is set once it
	// holds the close decision, which a view read before the close must not
	// replace.
	bill  billing.LiveSeat
	final bool
}

func (st *seat) record() LiveSeat {
	return LiveSeat{ID: st.id, ShowID: st.show, PaidShowID: st.paid, ViewerID: st.viewer, ViewerName: st.viewerName, ModelID: st.model,
		TokenHash: tokenHash(st.token), Policy: st.policy, Funding: st.funding, OpenedAt: st.opened, FundedSeconds: st.fundedSecs}
}

// tokenHash is what the store keeps of a bearer token.
func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// StreamKeyDigest is all the store keeps of a stream key, and what a publish
// is looked up by: SHA-256 (hex), the same as a seat token. A fast hash is
// enough because the key is 24 random bytes (192 bits) the host made, not
// something a person chose: nobody can guess or brute-force it from its
// digest, so a slow password KDF would only cost every publish time.
func StreamKeyDigest(key string) string { return tokenHash(key) }

// StreamKeyHint is what her dashboard shows of a key once it can no longer
// show the key itself: its first characters ("sk_" and 5 hex digits, 20 of
// its 192 bits), enough to tell two keys apart, far too little to publish.
func StreamKeyHint(key string) string {
	const n = 8
	if len(key) > n {
		key = key[:n]
	}
	return key + "…"
}

// New builds the Service (and, through cfg.Media, the SFU) and restores the
// live state a previous run left in the store. Billing's Recover must have
// run: a seat of a private show open at the last stop is settled by it, so
// here its show only goes back to public and its viewer is told.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Store == nil || cfg.Accounts == nil || cfg.Billing == nil {
		return nil, errs.E(errs.Invalid, "shows: Store, Accounts and Billing are required")
	}
	s := &Service{cfg: cfg, log: cfg.Log, store: cfg.Store, byModel: map[string]*broadcast{}, byID: map[string]*broadcast{},
		byKey: map[string]*broadcast{}, requests: map[string]*request{}, seats: map[string]*seat{},
		reveal: map[string]revealed{}, camPass: map[string][]camPass{}}
	paid, err := NewPaid(PaidConfig{DB: cfg.DB, Clock: cfg.Clock, Billing: cfg.Billing, Rates: s, FX: cfg.FX})
	if err != nil {
		return nil, err
	}
	s.paid = paid
	if err := s.restore(ctx); err != nil {
		return nil, err
	}
	if cfg.Media != nil {
		m, err := cfg.Media(s, s)
		if err != nil {
			return nil, err
		}
		s.media = m
	}
	if cfg.BillingEvents != nil {
		cfg.BillingEvents.Subscribe(s)
	}
	return s, nil
}

// Media returns the SFU built through Config.Media (nil without one).
func (s *Service) Media() Media { return s.media }

// restore loads the store. A broadcast comes back on air with its key (its
// encoder reconnects with it) and without media until the SFU sees some;
// requests come back as they were; a seat that was open is over (billing's
// Recover closed and settled it at its last checkpoint, exactly once), so
// its paid show ends and the broadcast is public again, with its held
// requests waiting again.
func (s *Service) restore(ctx context.Context) error {
	bs, err := s.store.Broadcasts(ctx)
	if err != nil {
		return err
	}
	rs, err := s.store.Requests(ctx)
	if err != nil {
		return err
	}
	seats, err := s.store.Seats(ctx)
	if err != nil {
		return err
	}
	for _, r := range bs {
		b := &broadcast{id: r.ID, model: r.ModelID, key: r.KeyDigest, since: r.Since, mode: r.Mode, paid: r.PaidShowID, seat: r.SeatID, feed: &sync.Mutex{}}
		// A broadcast from before persistent keys: its key becomes hers (her
		// encoder publishes with it); one she already holds wins.
		key, err := s.store.CreateStreamKey(ctx, b.model, StoredKey{Digest: b.key}, s.now().UTC())
		if err != nil {
			return err
		}
		if key.Digest != b.key {
			b.key = key.Digest
			if err := s.store.PutBroadcast(ctx, b.record()); err != nil {
				return err
			}
		}
		s.byModel[b.model], s.byID[b.id], s.byKey[b.key] = b, b, b
	}
	for _, r := range rs {
		if s.byID[r.ShowID] == nil { // its broadcast ended in a crash between two writes
			_ = s.store.DeleteRequest(ctx, r.ID)
			continue
		}
		s.requests[r.ID] = &request{r}
	}
	for _, st := range seats {
		if err := s.paid.EndRecovered(ctx, st.PaidShowID, "host restarted"); err != nil {
			return err
		}
		if err := s.store.DeleteSeat(ctx, st.ID); err != nil {
			return err
		}
		s.say(st.ShowID, chat.SystemEvent{Kind: "seat_ended", To: st.ViewerID, Text: "Your paid show has ended; the receipt is in your wallet."})
	}
	for _, b := range s.byID {
		if b.paid == "" && b.mode == theme.ModePublic {
			continue
		}
		if b.paid != "" {
			if err := s.paid.EndRecovered(ctx, b.paid, "host restarted"); err != nil {
				return err
			}
		}
		b.paid, b.seat, b.mode = "", "", theme.ModePublic
		if err := s.store.PutBroadcast(ctx, b.record()); err != nil {
			return err
		}
		s.backInPublic(b.id)
	}
	s.onAir.Add(1)
	return nil
}

func (s *Service) now() time.Time { return s.cfg.Clock.Now() }

func randomID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func (b *broadcast) show(viewers int) Show {
	return Show{ID: b.id, ModelID: b.model, Mode: b.mode, Since: b.since, Viewers: viewers, Publishing: b.media}
}

// PrivateRoom is the chat room of a seat: only its viewer and its model
// are let in.
func PrivateRoom(seatID string) string { return "seat-" + seatID }

// ---- broadcasts ----

// LiveVersion changes whenever a broadcast starts or ends or changes mode,
// so the host's shared home page never shows an older line-up.
func (s *Service) LiveVersion() uint64 { return s.onAir.Load() }

// Live lists broadcasts on air, newest first.
func (s *Service) Live(context.Context) ([]Show, error) {
	s.mu.Lock()
	out := make([]Show, 0, len(s.byID))
	for _, b := range s.byID {
		out = append(out, b.show(0))
	}
	s.mu.Unlock()
	for i := range out {
		out[i].Viewers = s.viewers(out[i].ID)
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
func (s *Service) Show(_ context.Context, id string) (Show, error) {
	s.mu.Lock()
	b := s.byID[id]
	var out Show
	if b != nil {
		out = b.show(0)
	}
	s.mu.Unlock()
	if b == nil {
		return Show{}, errs.E(errs.NotFound, "this show is not on air")
	}
	out.Viewers = s.viewers(id)
	return out, nil
}

// ShowOfModel returns the model's broadcast on air.
func (s *Service) ShowOfModel(_ context.Context, modelID string) (Show, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.byModel[modelID]
	if b == nil {
		return Show{}, false, nil
	}
	return b.show(0), true, nil
}

// GoLive puts an approved model on air (or returns her broadcast on air).
// Her show publishes with her persistent stream key.
func (s *Service) GoLive(ctx context.Context, modelID string) (Show, error) {
	if err := s.cfg.Accounts.CheckCanBroadcast(ctx, modelID); err != nil {
		return Show{}, err
	}
	key, err := s.storedKey(ctx, modelID)
	if err != nil {
		return Show{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.byModel[modelID]
	if b == nil {
		b = &broadcast{id: randomID("b", 8), model: modelID, key: key.Digest, since: s.now().UTC(), mode: theme.ModePublic, feed: &sync.Mutex{}}
		if err := s.store.PutBroadcast(ctx, b.record()); err != nil {
			return Show{}, err
		}
		s.byModel[modelID], s.byID[b.id], s.byKey[b.key] = b, b, b
		s.onAir.Add(1)
	}
	return b.show(0), nil
}

// StreamKeyView is what her dashboard may show of her stream key.
type StreamKeyView struct {
	// Hint tells which key is hers (StreamKeyHint); it cannot publish.
	Hint string
	// Key is the key itself, only on the first view after it was made or
	// rotated: the store keeps its digest alone, so it is never shown again
	// (she rotates to get a new one).
	Key string
}

// revealed is a key waiting for its one showing.
type revealed struct {
	key   string
	until time.Time
}

// revealFor is how long a key just made or rotated waits to be shown.
const revealFor = 10 * time.Minute

// StreamKey is the model's persistent WHIP key as her dashboard shows it,
// made on its first use: the one key her encoder is set up with, for every
// show, until she rotates it. The whole key comes once (see StreamKeyView).
func (s *Service) StreamKey(ctx context.Context, modelID string) (StreamKeyView, error) {
	k, err := s.storedKey(ctx, modelID)
	if err != nil {
		return StreamKeyView{}, err
	}
	out := StreamKeyView{Hint: k.Hint}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.reveal[modelID]; ok {
		delete(s.reveal, modelID)
		if s.now().Before(r.until) && StreamKeyDigest(r.key) == k.Digest {
			out.Key = r.key
		}
	}
	return out, nil
}

// storedKey is the model's key as stored, made when she has none (the new
// key then waits for its one showing, whoever made it: GoLive or a publish
// may come before her first dashboard).
func (s *Service) storedKey(ctx context.Context, modelID string) (StoredKey, error) {
	k, err := s.store.StreamKey(ctx, modelID)
	if err == nil && k.Digest == "" {
		key := newStreamKey()
		mine := StoredKey{Digest: StreamKeyDigest(key), Hint: StreamKeyHint(key)}
		if k, err = s.store.CreateStreamKey(ctx, modelID, mine, s.now().UTC()); err == nil && k.Digest == mine.Digest {
			s.mu.Lock()
			s.reveal[modelID] = revealed{key: key, until: s.now().Add(revealFor)}
			s.mu.Unlock()
		}
	}
	if err != nil {
		return StoredKey{}, err
	}
	if k.Hint == "" {
		// Adopted from a broadcast saved before keys had hints.
		k.Hint = StreamKeyHint("sk_")
	}
	return k, nil
}

func newStreamKey() string { return randomID("sk_", 24) }

// RotateStreamKey gives the model a new stream key and returns it (and her
// dashboard shows it once more). The old one is refused from then on, and
// the publisher on air is cut off as by its DELETE, whatever it published
// with: a leaked key must stop streaming now. Her show stays on air (seats
// paused, not billed) for her to reconnect OBS with the new key within
// stream.reconnect_grace. The passes of her dashboards' cameras end too.
func (s *Service) RotateStreamKey(ctx context.Context, modelID string) (string, error) {
	key := newStreamKey()
	k := StoredKey{Digest: StreamKeyDigest(key), Hint: StreamKeyHint(key)}
	// Under mu: a publish resolving the old key meanwhile sees either the
	// old state or the new, never the old key on the new broadcast.
	s.mu.Lock()
	if err := s.store.PutStreamKey(ctx, modelID, k, s.now().UTC()); err != nil {
		s.mu.Unlock()
		return "", err
	}
	showID := ""
	if b := s.byModel[modelID]; b != nil {
		old := *b
		old.key = k.Digest
		if err := s.store.PutBroadcast(ctx, old.record()); err != nil {
			s.mu.Unlock()
			return "", err
		}
		delete(s.byKey, b.key)
		b.key = k.Digest
		s.byKey[b.key] = b
		showID = b.id
	}
	delete(s.camPass, modelID)
	s.reveal[modelID] = revealed{key: key, until: s.now().Add(revealFor)}
	s.mu.Unlock()
	if showID != "" && s.media != nil {
		s.media.EndPublisher(showID)
	}
	return key, nil
}

// camPass is one pass of a dashboard's own camera.
type camPass struct {
	digest string
	until  time.Time
}

const (
	// camPassFor is how long a dashboard page's camera may start publishing
	// after the page was made: a working day; a reload makes a new pass.
	camPassFor = 12 * time.Hour
	// camPassesKept bounds a model's passes: the oldest pages lose theirs.
	camPassesKept = 16
)

// CameraPass is the WHIP bearer her dashboard hands its own browser camera,
// since the page can no longer hand it her stream key. It publishes to her
// show as the key does (the same one-publisher rule), for camPassFor, and is
// refused after she rotates her key. It is kept in this process only, as a
// digest: a page made before a restart reloads for a new one.
func (s *Service) CameraPass(_ context.Context, modelID string) (string, error) {
	pass := randomID("cp_", 24)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.camPass[modelID][:0]
	for _, p := range s.camPass[modelID] {
		if now.Before(p.until) {
			kept = append(kept, p)
		}
	}
	if len(kept) >= camPassesKept {
		kept = kept[len(kept)-camPassesKept+1:]
	}
	s.camPass[modelID] = append(kept, camPass{digest: tokenHash(pass), until: now.Add(camPassFor)})
	return pass, nil
}

// cameraOwner is the model whose camera pass has digest d ("" for none);
// call with s.mu held.
func (s *Service) cameraOwner(d string) string {
	now := s.now()
	for model, ps := range s.camPass {
		for _, p := range ps {
			if subtle.ConstantTimeCompare([]byte(p.digest), []byte(d)) == 1 && now.Before(p.until) {
				return model
			}
		}
	}
	return ""
}

// EndShow takes a model off air; a private show in progress ends with it.
func (s *Service) EndShow(ctx context.Context, modelID string) error {
	s.mu.Lock()
	b := s.byModel[modelID]
	if b == nil {
		s.mu.Unlock()
		return errs.E(errs.NotFound, "you are not on air")
	}
	if err := s.store.DeleteBroadcast(ctx, b.id); err != nil {
		s.mu.Unlock()
		return err
	}
	delete(s.byModel, modelID)
	delete(s.byID, b.id)
	delete(s.byKey, b.key)
	s.onAir.Add(1)
	var asked []string
	for id, r := range s.requests {
		if r.ShowID == b.id {
			delete(s.requests, id)
			asked = append(asked, r.ViewerID)
		}
	}
	paid, seatID := b.paid, b.seat
	g := s.groups[b.id]
	delete(s.groups, b.id)
	groupSeats := append(s.groupSeatsLocked(g), s.spySeatsLocked(paid)...)
	s.mu.Unlock()
	for _, v := range asked {
		s.say(b.id, chat.SystemEvent{Kind: "private_declined", To: v, Text: "The model went off air; your private request is closed."})
	}
	s.cancelWaiting(b.id, g, "The model went off air; the group show is cancelled and you were not charged.")
	var first error
	if paid != "" {
		first = s.paid.EndShow(ctx, paid, "model went off air")
		if seatID != "" {
			s.closeSeat(seatID)
		}
		for _, id := range groupSeats {
			s.closeSeat(id)
		}
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
func (s *Service) CurrentPolicy(ctx context.Context, modelID string, _ Mode) (pricing.Policy, error) {
	p, err := s.cfg.Accounts.Profile(ctx, modelID)
	if err != nil {
		return pricing.Policy{}, err
	}
	return s.privatePolicy(p)
}

// privatePolicy is the policy a private seat with her locks now, from a
// profile already read.
func (s *Service) privatePolicy(p accounts.ModelProfile) (pricing.Policy, error) {
	if p.RatePerMinute.Amount <= 0 {
		return pricing.Policy{}, errs.E(errs.Invalid, "%s has not set a private rate yet", p.User.DisplayName)
	}
	return s.policyAt(p.RatePerMinute), nil
}

// policyAt is the operator's template at a per-minute rate.
func (s *Service) policyAt(rate money.Money) pricing.Policy {
	pol := s.cfg.Policy
	pol.RatePerMinute = rate
	if pol.MinimumCharge.Currency == "" {
		pol.MinimumCharge.Currency = rate.Currency
	}
	return pol
}

// funding decides how viewerID would pay for a seat under pol: the card on
// file or wallet credits, as the operator prefers, falling back to the
// other. ok is false with a reason when neither can.
func (s *Service) funding(ctx context.Context, viewerID string, pol pricing.Policy) (billing.Funding, string, bool, string, error) {
	block, err := pricing.BlockAmountInPaymentCurrency(pol)
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
func (s *Service) Quote(ctx context.Context, modelID, viewerID string) (Quote, error) {
	pol, err := s.CurrentPolicy(ctx, modelID, Private)
	if errs.CodeOf(err) == errs.Invalid {
		// No rate yet: show the template at zero, not allowed.
		p := s.cfg.Policy
		p.RatePerMinute = money.Money{Currency: s.cfg.Accounts.Currency()}
		p.MinimumCharge.Currency = p.RatePerMinute.Currency
		return Quote{Policy: p, Reason: httperror.Message(err)}, nil
	}
	if err != nil {
		return Quote{}, err
	}
	q := Quote{Policy: pol, Funding: string(s.cfg.CardStrategy)}
	if viewerID == "" {
		return q, nil
	}
	_, how, ok, reason, err := s.funding(ctx, viewerID, pol)
	if err != nil {
		return Quote{}, err
	}
	if ok {
		q.Funding = how
	}
	q.Allowed, q.Reason = ok, reason
	return q, nil
}

// RequestPrivate records a viewer's request to the model of showID. While
// she is private with someone else it is kept (Held) for her return.
func (s *Service) RequestPrivate(ctx context.Context, viewerID, showID string) (Request, error) {
	u, err := s.viewer(ctx, viewerID, "ask for private shows")
	if err != nil {
		return Request{}, err
	}
	s.mu.Lock()
	b := s.byID[showID]
	if b == nil {
		s.mu.Unlock()
		return Request{}, errs.E(errs.NotFound, "this show is not on air")
	}
	model := b.model
	for _, r := range s.requests {
		if r.ShowID == showID && r.ViewerID == viewerID {
			out := r.Request
			s.mu.Unlock()
			return out, nil
		}
	}
	s.mu.Unlock()
	q, err := s.Quote(ctx, model, viewerID)
	if err != nil {
		return Request{}, err
	}
	if !q.Allowed {
		return Request{}, errs.E(errs.Limit, "%s", q.Reason)
	}
	r := &request{Request{ID: randomID("rq", 8), ShowID: showID, ViewerID: viewerID, ViewerName: u.DisplayName, ModelID: model,
		At: s.now().UTC(), Rate: q.Policy.RatePerMinute, State: Waiting}}
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
	if b = s.byID[showID]; b == nil {
		s.mu.Unlock()
		return Request{}, errs.E(errs.NotFound, "this show is not on air")
	}
	if b.mode == theme.ModePrivate {
		// She is private with someone else: the request joins the queue
		// kept for her return, like those she kept when she accepted. In a
		// group show it waits for her: accepting it ends the group show.
		r.State = Held
	}
	if err := s.store.PutRequest(ctx, r.Request); err != nil {
		s.mu.Unlock()
		return Request{}, err
	}
	s.requests[r.ID] = r
	s.mu.Unlock()
	s.say(showID, chat.SystemEvent{Kind: "private_request", To: model, Text: u.DisplayName + " asks for a private show at " + display(r.Rate) + " a minute."})
	if r.State == Held {
		s.say(showID, chat.SystemEvent{Kind: "private_held", To: viewerID, Text: "The model is in a private show. Your request is kept: you will be told when she is back."})
	}
	return r.Request, nil
}

// Requests lists a model's pending requests, oldest first.
func (s *Service) Requests(_ context.Context, modelID string) ([]Request, error) {
	s.mu.Lock()
	var out []Request
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
func (s *Service) PendingRequest(_ context.Context, viewerID, showID string) (Request, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.requests {
		if r.ShowID == showID && r.ViewerID == viewerID {
			return r.Request, true, nil
		}
	}
	return Request{}, false, nil
}

func (s *Service) takeRequest(ctx context.Context, modelID, requestID string) (*request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests[requestID]
	if r == nil || r.ModelID != modelID {
		return nil, errs.E(errs.NotFound, "no such request (the viewer may have left)")
	}
	if r.State == Held {
		return nil, errs.E(errs.Conflict, "this request waits until you are back in public")
	}
	if err := s.store.DeleteRequest(ctx, requestID); err != nil {
		return nil, err
	}
	delete(s.requests, requestID)
	return r, nil
}

// AcceptOptions is what the model chooses when she accepts a request.
type AcceptOptions struct {
	// DeclineOthers declines every other request waiting for her; by
	// default they are kept (held until she is back in public).
	DeclineOthers bool
	// Cam2cam grants the viewer's cam2cam ask (Request.Cam2cam); false
	// refuses it, and the seat locks the rate without its surcharge.
	Cam2cam bool
}

// Accept opens the private show of a request: core/shows opens a paid show
// and the seat (locking the price), the broadcast turns private, and every
// other requester is told: their request is held until the model is back in
// public (and they are told again then), or declined, as she chose.
func (s *Service) Accept(ctx context.Context, modelID, requestID string, opt AcceptOptions) (Seat, error) {
	if s.cfg.Tickets != nil {
		if on, err := s.cfg.Tickets.TicketShowRunning(ctx, modelID); err != nil || on {
			if err == nil {
				err = errs.E(errs.Conflict, "your ticket show is running: end it before you go private")
			}
			return Seat{}, err
		}
	}
	s.mu.Lock()
	pending := s.requests[requestID]
	inGroup := pending != nil && pending.ModelID == modelID && pending.State == Waiting &&
		s.byModel[modelID] != nil && s.groups[s.byModel[modelID].id] != nil
	s.mu.Unlock()
	if inGroup {
		// Group to private: every group seat ends and settles at the price
		// its viewer accepted; the private viewer accepted the new one.
		if err := s.EndGroup(ctx, modelID); err != nil && errs.CodeOf(err) != errs.NotFound {
			return Seat{}, err
		}
	}
	r, err := s.takeRequest(ctx, modelID, requestID)
	if err != nil {
		return Seat{}, err
	}
	r.Cam2cam = r.Cam2cam && opt.Cam2cam // r is ours now: the seat opens with her answer
	s.mu.Lock()
	b := s.byID[r.ShowID]
	if b == nil || b.model != modelID {
		s.mu.Unlock()
		return Seat{}, errs.E(errs.NotFound, "you are not on air")
	}
	if b.mode != theme.ModePublic || b.paid != "" || s.groups[b.id] != nil {
		s.mu.Unlock()
		return Seat{}, errs.E(errs.Conflict, "you are already in a private show")
	}
	b.mode = theme.ModePrivate // reserved while the seat is funded
	s.onAir.Add(1)
	s.mu.Unlock()
	seat, err := s.openSeat(ctx, b, r)
	if err != nil {
		s.mu.Lock()
		b.mode = theme.ModePublic
		s.onAir.Add(1)
		s.mu.Unlock()
		s.say(b.id, chat.SystemEvent{Kind: "private_failed", To: r.ViewerID, Text: "The private show could not start: " + httperror.Message(err)})
		return Seat{}, err
	}
	s.mu.Lock()
	var others []*request
	for id, o := range s.requests {
		if o.ShowID != b.id {
			continue
		}
		others = append(others, o)
		if opt.DeclineOthers {
			if err := s.store.DeleteRequest(ctx, id); err != nil {
				s.log.Warn("shows: declining a request", "request", id, "err", err)
			}
			delete(s.requests, id)
			continue
		}
		o.State = Held
		if err := s.store.PutRequest(ctx, o.Request); err != nil {
			s.log.Warn("shows: holding a request", "request", id, "err", err)
		}
	}
	s.mu.Unlock()
	for _, o := range others {
		if opt.DeclineOthers {
			s.say(b.id, chat.SystemEvent{Kind: "private_declined", To: o.ViewerID, Text: "The model went private with someone else and declined your request."})
		} else {
			s.say(b.id, chat.SystemEvent{Kind: "private_held", To: o.ViewerID, Text: "The model went private with someone else. Your request is kept: you will be told when she is back."})
		}
	}
	if s.media != nil {
		s.media.SetMode(b.id, stream.ModePrivate)
	}
	s.say(b.id, chat.SystemEvent{Kind: "show_private", Text: "The show went private."})
	return seat, nil
}

func (s *Service) openSeat(ctx context.Context, b *broadcast, r *request) (Seat, error) {
	prof, err := s.cfg.Accounts.Profile(ctx, b.model)
	if err != nil {
		return Seat{}, err
	}
	// The rate is read once, here, with her studio: the funding decision,
	// the lock in billing and the seat's page all use this policy.
	pol, err := s.privatePolicy(prof)
	if err != nil {
		return Seat{}, err
	}
	pol, c2c := withCam2cam(pol, &r.Request)
	fund, how, ok, reason, err := s.funding(ctx, r.ViewerID, pol)
	if err != nil {
		return Seat{}, err
	}
	if !ok {
		return Seat{}, errs.E(errs.Limit, "the viewer cannot pay: %s", reason)
	}
	paid, err := s.paid.OpenShow(ctx, OpenShowRequest{ModelID: b.model, StudioID: prof.StudioID, Mode: Private})
	if err != nil {
		return Seat{}, err
	}
	// From here the broadcast's media events reach the paid show; it is told
	// the state they start from.
	s.attachPaid(b, paid.ID, nil)
	info, locked, err := s.paid.OpenSeatLocked(ctx, paid.ID, SeatRequest{ViewerID: r.ViewerID, BroadcastID: b.id, Funding: fund, Policy: &pol})
	if err != nil {
		s.mu.Lock()
		if b.paid == paid.ID {
			b.paid = ""
		}
		s.mu.Unlock()
		if e := s.paid.EndShow(context.Background(), paid.ID, "seat not funded"); e != nil {
			s.log.Warn("shows: ending an unfunded paid show", "show", paid.ID, "err", e)
		}
		return Seat{}, err
	}
	if fund.Processor != "" && info.Strategy != "" {
		how = string(info.Strategy)
	}
	st := &seat{id: info.ID, show: b.id, paid: paid.ID, viewer: r.ViewerID, viewerName: r.ViewerName, model: b.model,
		token: randomID(seatTokenPrefix, 24), mode: theme.ModePrivate, policy: locked, funding: how, opened: info.OpenedAt, open: true, fundedSecs: info.FundedSeconds}
	s.openCam2cam(st, c2c)
	s.mu.Lock()
	s.seats[st.id] = st
	b.paid, b.seat = paid.ID, st.id
	if err := s.store.PutSeat(ctx, st.record()); err != nil {
		s.log.Warn("shows: saving a seat", "seat", st.id, "err", err)
	}
	if err := s.store.PutBroadcast(ctx, b.record()); err != nil {
		s.log.Warn("shows: saving a broadcast", "show", b.id, "err", err)
	}
	s.mu.Unlock()
	return s.view(st, true), nil
}

// attachPaid makes paidID the paid show b's model media events reach and
// hands it the media state they start from, under b.feed, so every event
// lands on one side of the attachment: one before it is in b.media (the
// state handed over), one after is forwarded by Liveness. under, when set,
// runs under s.mu with the attachment (the caller's own bookkeeping); it
// reports false to refuse (nothing is attached then).
func (s *Service) attachPaid(b *broadcast, paidID string, under func() bool) bool {
	b.feed.Lock()
	defer b.feed.Unlock()
	s.mu.Lock()
	if under != nil && !under() {
		s.mu.Unlock()
		return false
	}
	b.paid = paidID
	media := b.media
	s.mu.Unlock()
	if media {
		if err := s.paid.Handle(ModelMediaFlowing{ShowID: paidID, Since: s.now()}); err != nil {
			s.log.Warn("shows: media state of a new paid show", "show", paidID, "err", err)
		}
	}
	return true
}

// Decline refuses a request and tells the viewer.
func (s *Service) Decline(ctx context.Context, modelID, requestID string) error {
	r, err := s.takeRequest(ctx, modelID, requestID)
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
func (s *Service) view(st *seat, withToken bool) Seat {
	ls, ok := s.cfg.Billing.LiveSeat(st.id)
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
	out := Seat{ID: st.id, ShowID: st.show, ViewerID: st.viewer, ViewerName: st.viewerName, ModelID: st.model,
		Mode: st.mode, Room: st.room(), Policy: st.policy, Funding: st.funding, OpenedAt: st.opened, Open: st.open,
		BillableSeconds: b.BilledSeconds, RunningCost: cost, FundedSeconds: st.fundedSecs, Billing: st.open && b.Billing,
		Warnings: append([]theme.FundingWarning(nil), st.warnings...)}
	if st.open && b.Open {
		out.PauseReason, out.EndsAt = string(b.PauseReason), b.EndsAt
	}
	out.Spy = st.spy
	if st.mode == theme.ModePrivate && !st.spy {
		out.Spies = len(s.spySeatsLocked(st.paid))
		out.SpiesShown = !withToken || s.cfg.ShowSpyCount
		if !out.SpiesShown {
			out.Spies = 0
		}
	}
	if withToken {
		out.Token = st.token
	}
	return out
}

// viewer is the user, refused what only viewers do ("only viewers " + what)
// when she is not one.
func (s *Service) viewer(ctx context.Context, userID, what string) (accounts.User, error) {
	u, err := s.cfg.Accounts.User(ctx, userID)
	if err != nil {
		return accounts.User{}, err
	}
	if u.Role != accounts.RoleViewer {
		return accounts.User{}, errs.E(errs.Forbidden, "only viewers %s", what)
	}
	return u, nil
}

func (s *Service) isAdmin(ctx context.Context, userID string) bool {
	u, err := s.cfg.Accounts.User(ctx, userID)
	return err == nil && u.Role == accounts.RoleAdmin
}

// Seat shows a seat to its viewer (with the video token), its model or an
// admin. Anyone else is told there is no such seat.
func (s *Service) Seat(ctx context.Context, actorID, seatID string) (Seat, error) {
	s.mu.Lock()
	st := s.seats[seatID]
	party := st != nil && (actorID == st.viewer || actorID == st.model)
	isViewer := st != nil && actorID == st.viewer
	spy := !party && s.spyOfLocked(st, actorID)
	s.mu.Unlock()
	if party {
		return s.view(st, isViewer), nil
	}
	if spy {
		return Seat{}, errSpyOnly()
	}
	if st != nil && s.isAdmin(ctx, actorID) {
		return s.view(st, false), nil
	}
	if st != nil {
		return Seat{}, errs.E(errs.NotFound, "no such seat")
	}
	// Not in memory (ended before a restart): its receipt says what it was.
	r, err := s.Receipt(ctx, actorID, seatID)
	if errs.CodeOf(err) == errs.Conflict {
		return Seat{ID: seatID, Open: false}, nil
	}
	if err != nil {
		return Seat{}, err
	}
	return Seat{ID: r.SeatID, ShowID: r.ShowID, ViewerID: r.ViewerID, ModelID: r.ModelID, Mode: theme.ShowMode(r.Kind),
		Policy: r.Policy, Funding: string(r.Strategy), OpenedAt: r.OpenedAt, BillableSeconds: r.BillableSeconds, RunningCost: r.Price}, nil
}

// OpenSeatOf is the viewer's open seat.
func (s *Service) OpenSeatOf(_ context.Context, viewerID string) (Seat, bool, error) {
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
		return Seat{}, false, nil
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
	end, err := s.paid.EndSeat(ctx, seatID, reason)
	s.closeSeat(seatID)
	if end.Settled {
		end.Receipt = s.receiptFor(actorID, end.Receipt, reason == billing.ClosedByModel && actorID != model)
	}
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
	b := s.byID[st.show]
	grouped, spy := st.mode == theme.ModeGroup, st.spy
	back := !grouped && !spy && b != nil && b.seat == seatID
	ctx := context.Background()
	if (grouped || spy) && s.media != nil {
		// Billing has closed the seat (its close event brings us here while
		// settlement runs): the video stops now, not after the store write
		// and the settlement, so the receipt is the video received.
		s.mu.Unlock()
		s.media.EndSeat(seatID)
		s.mu.Lock()
		b = s.byID[st.show]
	}
	if err := s.store.DeleteSeat(ctx, seatID); err != nil {
		s.log.Warn("shows: forgetting a seat", "seat", seatID, "err", err)
	}
	if back {
		b.paid, b.seat, b.mode = "", "", theme.ModePublic
		s.onAir.Add(1)
		if err := s.store.PutBroadcast(ctx, b.record()); err != nil {
			s.log.Warn("shows: saving a broadcast", "show", b.id, "err", err)
		}
	}
	paid, show, viewer, name := st.paid, st.show, st.viewer, st.viewerName
	var spies []string
	if !grouped && !spy {
		spies = s.spySeatsLocked(paid)
	}
	s.mu.Unlock()
	go func() {
		// Seats linger a while so the page can show "ended" and link the receipt.
		time.Sleep(10 * time.Minute)
		s.mu.Lock()
		delete(s.seats, seatID)
		s.mu.Unlock()
	}()
	if grouped {
		// One seat of a group show: the show goes on for the others.
		// Billing ended the seat already (its viewer, the model, funding,
		// or the group's end): here it leaves the show.
		if s.media != nil {
			s.media.EndSeat(seatID)
		}
		s.say(GroupRoom(paid), chat.SystemEvent{Kind: "group_left", Text: name + " left the group show."})
		s.say(show, chat.SystemEvent{Kind: "seat_ended", To: viewer, Text: "Your seat in the group show has ended; the receipt is in your wallet."})
		return
	}
	if spy {
		// A spy leaves (or its funding ran out, or the private show ended):
		// the private show goes on without it.
		s.paid.dropSeat(seatID)
		s.say(show, chat.SystemEvent{Kind: "seat_ended", To: viewer, Text: "Your spy seat has ended; the receipt is in your wallet."})
		return
	}
	// Ending the paid show ends and settles every spy seat on it too.
	if err := s.paid.EndShow(context.Background(), paid, "private show over"); err != nil && errs.CodeOf(err) != errs.NotFound {
		s.log.Warn("shows: ending a paid show", "show", paid, "err", err)
	}
	for _, id := range spies {
		s.closeSeat(id)
	}
	s.endCam2cam(seatID)
	if s.media != nil {
		s.media.EndSeat(seatID)
		if back {
			s.media.SetMode(show, stream.ModePublic)
		}
	}
	s.say(PrivateRoom(seatID), chat.SystemEvent{Kind: "seat_ended", Text: "The private show has ended."})
	s.say(show, chat.SystemEvent{Kind: "seat_ended", To: viewer, Text: "Your private show has ended; the receipt is in your wallet."})
	if back {
		s.say(show, chat.SystemEvent{Kind: "show_public", Text: "The show is public again."})
		s.backInPublic(show)
	}
}

// backInPublic puts the requests held while the model was private back in
// her queue and tells each requester; call without s.mu.
func (s *Service) backInPublic(showID string) {
	ctx := context.Background()
	var told []string
	s.mu.Lock()
	for _, r := range s.requests {
		if r.ShowID != showID || r.State != Held {
			continue
		}
		r.State = Waiting
		if err := s.store.PutRequest(ctx, r.Request); err != nil {
			s.log.Warn("shows: releasing a held request", "request", r.ID, "err", err)
		}
		told = append(told, r.ViewerID)
	}
	s.mu.Unlock()
	for _, v := range told {
		s.say(showID, chat.SystemEvent{Kind: "private_waiting", To: v, Text: "The model is back in public; your private request is waiting for her again."})
	}
}

// OpenSeats lists seats in progress, for admins.
func (s *Service) OpenSeats(ctx context.Context, actorID string) ([]Seat, error) {
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
	var out []Seat
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
		s.log.Debug("shows: chat notice", "room", room, "kind", ev.Kind, "err", err)
	}
}

// ---- media: admission and liveness ----

// ResolveStreamKey maps a model's stream key (or her dashboard camera's
// pass, CameraPass) to her broadcast, taking her live first when
// LiveOnPublish is on. Both are looked up by digest. A show has one
// publisher: while one is on air (its media really flows, as the SFU sees
// it: stream.PublisherActive), another is refused unless the publish is her
// explicit switch of device (stream.WithReplacePublisher). An encoder whose
// connection dropped is let back in as soon as its media has stalled (about
// a second, stream.Config.PublisherStall), replacing its dead session, with
// the show and its seats kept (paused for the gap).
func (s *Service) ResolveStreamKey(ctx context.Context, key string) (string, error) {
	if isSeatToken(key) {
		return s.resolveCam2cam(key)
	}
	d := StreamKeyDigest(key)
	s.mu.Lock()
	b := s.byKey[d]
	model := ""
	if b == nil {
		if model = s.cameraOwner(d); model != "" {
			b = s.byModel[model]
		}
	}
	var id string
	media := false
	if b != nil {
		id, media = b.id, b.media
	}
	s.mu.Unlock()
	if id != "" {
		if !stream.ReplacesPublisher(ctx) && s.publisherOnAir(id, media) {
			return "", errs.E(errs.Conflict, "another device is already streaming this show; stop it first, "+
				"or choose \"Go live with this browser\" on your dashboard to switch to it")
		}
		return id, nil
	}
	if model == "" {
		var err error
		if model, err = s.store.ModelOfStreamKey(ctx, d); err != nil {
			return "", err
		}
	}
	if model == "" {
		return "", errs.E(errs.Unauthenticated, "unknown stream key: copy the current one from your dashboard")
	}
	if !s.cfg.LiveOnPublish {
		return "", errs.E(errs.Forbidden, "you are not on air: go live from your dashboard first")
	}
	sh, err := s.GoLive(ctx, model)
	if err != nil {
		return "", err
	}
	// A rotation between the lookup and GoLive leaves this key stale.
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.byID[sh.ID]; b == nil || (b.key != d && s.cameraOwner(d) != model) {
		return "", errs.E(errs.Unauthenticated, "unknown stream key: copy the current one from your dashboard")
	}
	return sh.ID, nil
}

// publisherOnAir says whether show's publisher holds it: the SFU's own
// view when there is one (RTP this very second), else the last liveness
// event (media). Call without s.mu.
func (s *Service) publisherOnAir(showID string, media bool) bool {
	if s.media != nil {
		return s.media.PublisherActive(showID)
	}
	return media
}

// AdmitViewer lets anyone watch a public broadcast and only the seat's
// viewer (by token) watch a private one.
func (s *Service) AdmitViewer(ctx context.Context, showID, token string) (stream.Admit, error) {
	if seatID, ok := cam2camSeatOf(showID); ok {
		return s.admitCam2cam(seatID, token)
	}
	if s.cfg.Tickets != nil {
		if admit, ok, err := s.admitTicket(ctx, showID, token); ok {
			return admit, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.byID[showID]
	if b == nil {
		return stream.Admit{}, errs.E(errs.NotFound, "this show is not on air")
	}
	if token != "" {
		st := s.seatByTokenLocked(token)
		switch {
		case st == nil:
			return stream.Admit{}, errs.E(errs.Unauthenticated, "unknown seat token")
		case st.show != showID:
			return stream.Admit{}, errs.E(errs.Forbidden, "this seat is for another show")
		case !st.open:
			return stream.Admit{}, errs.E(errs.Forbidden, "this private show has ended")
		}
		return stream.Admit{SeatID: st.id}, nil
	}
	if b.mode == theme.ModeGroup {
		return stream.Admit{}, errs.E(errs.Forbidden, "the show is a group show: join it to watch")
	}
	if b.mode != theme.ModePublic {
		return stream.Admit{}, errs.E(errs.Forbidden, "the show is private")
	}
	return stream.Admit{}, nil
}

// seatByTokenLocked is the seat whose bearer token is token, or nil; call
// under s.mu. Compared in constant time: a seat token is a bearer capability.
func (s *Service) seatByTokenLocked(token string) *seat {
	for _, st := range s.seats {
		if subtle.ConstantTimeCompare([]byte(st.token), []byte(token)) == 1 {
			return st
		}
	}
	return nil
}

// admitTicket asks core/tickets about the model of showID, outside s.mu
// (it reads the database); ok is false when she runs no ticket show.
func (s *Service) admitTicket(ctx context.Context, showID, token string) (stream.Admit, bool, error) {
	s.mu.Lock()
	b := s.byID[showID]
	var model string
	if b != nil {
		model = b.model
	}
	s.mu.Unlock()
	if model == "" {
		return stream.Admit{}, false, nil
	}
	seat, running, err := s.cfg.Tickets.AdmitTicket(ctx, model, token)
	return stream.Admit{SeatID: seat}, running, err
}

// Liveness takes the SFU's events: the broadcast's media state is kept, and
// events that concern a paid show go to core/shows (and the display meter).
func (s *Service) Liveness(ev stream.LivenessEvent) {
	if isCam2camEvent(ev) {
		return // the viewer's camera is no part of any meter
	}
	var (
		out  Event
		seat *seat
	)
	if feed := s.feedOf(ev); feed != nil {
		feed.Lock()
		defer feed.Unlock()
	}
	s.mu.Lock()
	switch e := ev.(type) {
	case stream.ModelMediaFlowing:
		b := s.byID[e.ShowID]
		if b == nil {
			break
		}
		b.media = true
		if b.paid != "" {
			out = ModelMediaFlowing{ShowID: b.paid, Since: e.Since}
		}
	case stream.ModelMediaStopped:
		b := s.byID[e.ShowID]
		if b == nil {
			break
		}
		b.media = false
		if b.paid != "" {
			out = ModelMediaStopped{ShowID: b.paid, LastPacketAt: e.LastPacketAt}
		}
	case stream.ViewerConnected:
		if seat = s.seats[e.SeatID]; seat != nil && seat.open {
			out = ViewerConnected{ShowID: seat.paid, SeatID: seat.id, At: e.At}
		}
	case stream.ViewerDisconnected:
		if seat = s.seats[e.SeatID]; seat != nil && seat.open {
			out = ViewerDisconnected{ShowID: seat.paid, SeatID: seat.id, LastEvidenceAt: e.LastEvidenceAt}
		}
	}
	s.mu.Unlock()
	if out == nil {
		return
	}
	if err := s.paid.Handle(out); err != nil {
		s.log.Debug("shows: liveness not applied", "event", out, "err", err)
	}
}

// feedOf is the feed lock of the broadcast a model media event is about
// (nil for a viewer's event, or a show not on air).
func (s *Service) feedOf(ev stream.LivenessEvent) *sync.Mutex {
	var id string
	switch e := ev.(type) {
	case stream.ModelMediaFlowing:
		id = e.ShowID
	case stream.ModelMediaStopped:
		id = e.ShowID
	default:
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.byID[id]; b != nil {
		return b.feed
	}
	return nil
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
		go s.say(PrivateRoom(ev.SeatID), chat.SystemEvent{Kind: "funding_warning", To: ev.ViewerID, Text: w.Message})
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

// viewers is how many watch a room (0 without a chat).
func (s *Service) viewers(room string) int {
	if s.cfg.Chat == nil {
		return 0
	}
	return s.cfg.Chat.Viewers(room)
}
