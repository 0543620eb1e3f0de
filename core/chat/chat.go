package chat

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/split"
	"github.com/camkit/camkit/sdk/theme"
	"gorm.io/gorm"
)

// Options tune a Service; zero values take the defaults.
type Options struct {
	Currency string // the site currency: tips are in it (required)
	Clock    clock.Clock
	Log      *slog.Logger
	// MaxMessageLen caps a message, in characters after trimming (default 500).
	MaxMessageLen int
	// HistoryCap is how many messages a show keeps in the database (default 500).
	HistoryCap int
	// Flood limits each user's messages and tips (default 5 per 5 s).
	Flood FloodLimit
	// MaxTip caps one tip, in minor units (default 100,000: 1,000.00 in a
	// two-decimal currency).
	MaxTip int64
	// SendQueue is each client's queue of outgoing frames (default 256). A
	// client whose queue fills is disconnected instead of slowing the room.
	SendQueue int
	// Tips, when set, hears every tip once, after its money moved.
	Tips *TipFeed
}

// Member is who is in a room: a signed-in user, or an anonymous visitor
// (UserID "") who may read but not write.
type Member struct {
	UserID string
	Name   string
	Role   theme.Role
}

// SystemEvent is a notice from the site into a room.
type SystemEvent struct {
	// Kind names the event for scripts: "show_private", "show_ended",
	// "funding_warning", ...
	Kind string
	Text string
	// To, when set, is the only user who sees it (a funding warning for the
	// viewer whose seat it is); such events are not kept in history.
	To string
}

// TipRequest is a tip as the sender's client sends it.
type TipRequest struct {
	// TipID is chosen by the client (8-64 of [A-Za-z0-9_-]) and makes the tip
	// idempotent: a retry after a lost answer never pays twice.
	TipID  string
	Amount money.Money
	Text   string // an optional message with the tip
	// Item names the tip-menu item the tip pays for (core/tipping sets it
	// with the item's price); the ledger memo and the wallet line name it.
	Item string
}

// Tipped is a tip that has just moved money, as a TipObserver hears it.
type Tipped struct {
	Room    string // the room (show id, or seat-<id>) it was sent in
	ModelID string
	Amount  money.Money
	At      time.Time
	Message theme.ChatMessage
}

// TipObserver hears every tip once, after its money moved and its message
// was recorded: a repeat of a tip id is not heard again. core/tipping counts
// goals with it.
type TipObserver interface {
	Tipped(ctx context.Context, t Tipped)
}

// Service is the chat of every room. It is safe for concurrent use.
type Service struct {
	db     *store.DB
	book   Book
	alloc  Allocator
	shows  Shows
	clock  clock.Clock
	log    *slog.Logger
	o      Options
	flood  *flood
	mu     sync.Mutex
	rooms  map[string]*room
	closed bool
}

// TipFeed is a TipObserver that hands each tip to every subscriber, in the
// order they subscribed (billing.Feed's pattern). It lets chat be built
// before the services that follow its tips (core/tipping takes chat, so chat
// cannot take it): chat is given the feed, and each subscriber is given the
// feed and subscribes itself while it is built.
type TipFeed struct {
	mu   sync.RWMutex
	subs []TipObserver
}

var _ TipObserver = (*TipFeed)(nil)

// Subscribe adds a subscriber; it is called on the tipping request's
// goroutine, after the money moved.
func (f *TipFeed) Subscribe(o TipObserver) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, o)
}

// Tipped hands t to every subscriber.
func (f *TipFeed) Tipped(ctx context.Context, t Tipped) {
	f.mu.RLock()
	subs := f.subs
	f.mu.RUnlock()
	for _, o := range subs {
		o.Tipped(ctx, t)
	}
}

// New returns the chat service. db must be migrated.
func New(db *store.DB, book Book, alloc Allocator, shows Shows, o Options) (*Service, error) {
	if _, err := money.Lookup(o.Currency); err != nil {
		return nil, errs.E(errs.UnknownCurrency, "chat: site currency %q is not an ISO 4217 code", o.Currency)
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.MaxMessageLen <= 0 {
		o.MaxMessageLen = 500
	}
	if o.HistoryCap <= 0 {
		o.HistoryCap = 500
	}
	if o.Flood.Burst <= 0 || o.Flood.Every <= 0 {
		o.Flood = DefaultFloodLimit
	}
	if o.MaxTip <= 0 {
		o.MaxTip = 100_000
	}
	if o.SendQueue <= 0 {
		o.SendQueue = 256
	}
	return &Service{db: db, book: book, alloc: alloc, shows: shows, clock: o.Clock, log: o.Log, o: o,
		flood: newFlood(o.Clock, o.Flood), rooms: map[string]*room{}}, nil
}

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newID() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}

const maxShowIDLen = 64

func checkShowID(id string) error {
	if id == "" || len(id) > maxShowIDLen || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		return errs.E(errs.Invalid, "show id %q is malformed", id)
	}
	return nil
}

// CleanText trims a message and checks it: valid UTF-8, not empty, at most
// max characters, no control or invisible formatting characters (which could
// reorder or hide text around it). It does not escape anything: text is
// data, and every renderer escapes it.
func CleanText(raw string, max int, allowEmpty bool) (string, error) {
	if !utf8.ValidString(raw) {
		return "", errs.E(errs.Invalid, "the message is not valid UTF-8")
	}
	t := strings.TrimSpace(raw)
	if t == "" && !allowEmpty {
		return "", errs.E(errs.Invalid, "the message is empty")
	}
	if n := utf8.RuneCountInString(t); n > max {
		return "", errs.E(errs.Invalid, "the message is %d characters long; the limit is %d", n, max)
	}
	for _, r := range t {
		if !unicode.IsPrint(r) && r != ' ' {
			return "", errs.E(errs.Invalid, "the message contains a control or invisible character")
		}
	}
	return t, nil
}

func mayWrite(m Member) error {
	if m.UserID == "" {
		return errs.E(errs.Unauthenticated, "log in to chat")
	}
	return nil
}

// Post sends a message to a room: checked, flood-limited, stored, then
// delivered to everyone in it.
func (s *Service) Post(ctx context.Context, showID string, m Member, text string) (theme.ChatMessage, error) {
	if err := checkShowID(showID); err != nil {
		return theme.ChatMessage{}, err
	}
	if err := mayWrite(m); err != nil {
		return theme.ChatMessage{}, err
	}
	t, err := CleanText(text, s.o.MaxMessageLen, false)
	if err != nil {
		return theme.ChatMessage{}, err
	}
	if err := s.flood.take(m.UserID); err != nil {
		return theme.ChatMessage{}, err
	}
	msg := theme.ChatMessage{ID: newID(), At: s.now(), Author: m.Name, Role: m.Role, Text: t}
	if err := s.store(ctx, showID, m.UserID, "message", msg); err != nil {
		return theme.ChatMessage{}, err
	}
	s.room(showID).broadcast(frameMessage(msg), "")
	return msg, nil
}

// TipIDValid reports whether id is an acceptable client tip id.
func TipIDValid(id string) bool {
	return len(id) >= 8 && len(id) <= 64 && strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == ""
}

// Tip moves a tip from the viewer's wallet to the show's parties as the
// split plugin allocates it, then announces it in the room. A repeat of a
// tip id returns the first tip and announces nothing; the same id with
// another amount is errs.Conflict. A short wallet is errs.Limit and moves
// nothing.
func (s *Service) Tip(ctx context.Context, showID string, m Member, r TipRequest) (theme.ChatMessage, error) {
	if err := checkShowID(showID); err != nil {
		return theme.ChatMessage{}, err
	}
	if err := mayWrite(m); err != nil {
		return theme.ChatMessage{}, err
	}
	if m.Role != theme.RoleViewer {
		return theme.ChatMessage{}, errs.E(errs.Forbidden, "only viewers tip")
	}
	if !TipIDValid(r.TipID) {
		return theme.ChatMessage{}, errs.E(errs.Invalid, "tip id %q: want 8-64 letters, digits, - or _", r.TipID)
	}
	if r.Amount.Currency != s.o.Currency {
		return theme.ChatMessage{}, errs.E(errs.UnknownCurrency, "tips are in %s, not %q", s.o.Currency, r.Amount.Currency)
	}
	if r.Amount.Amount <= 0 || r.Amount.Amount > s.o.MaxTip {
		max, _ := money.FormatDecimal(money.Money{Amount: s.o.MaxTip, Currency: s.o.Currency})
		return theme.ChatMessage{}, errs.E(errs.Invalid, "a tip must be above zero and at most %s %s", max, s.o.Currency)
	}
	text, err := CleanText(r.Text, s.o.MaxMessageLen, true)
	if err != nil {
		return theme.ChatMessage{}, err
	}
	// A repeat is answered before the flood limit: retrying is not flooding.
	if prev, ok, err := s.findTip(ctx, m.UserID, r); err != nil || ok {
		return prev, err
	}
	if err := s.flood.take(m.UserID); err != nil {
		return theme.ChatMessage{}, err
	}
	parties, err := s.shows.TipParties(ctx, showID, m.UserID)
	if err != nil {
		return theme.ChatMessage{}, err
	}
	if parties.ModelID == m.UserID {
		return theme.ChatMessage{}, errs.E(errs.Invalid, "you cannot tip yourself")
	}
	ref := "tip/" + m.UserID + "/" + r.TipID
	areq := split.AllocateRequest{Kind: split.KindTip, Amount: r.Amount, Parties: parties, Reference: ref}
	alloc, err := s.alloc.Allocate(ctx, areq)
	if err != nil {
		return theme.ChatMessage{}, err
	}
	if err := split.Check(areq, alloc); err != nil {
		s.log.Error("split plugin returned a bad allocation; the tip was refused", "ref", ref, "err", err)
		return theme.ChatMessage{}, errs.E(errs.Internal, "the tip could not be split: nothing was charged (%v)", err)
	}
	item, err := CleanText(r.Item, MaxItemLen, true)
	if err != nil {
		return theme.ChatMessage{}, err
	}
	memo := TipMemo(showID, item)
	reqs := make([]ledger.Request, 0, len(alloc.Shares))
	for _, sh := range alloc.Shares {
		if sh.Amount.Amount == 0 {
			continue
		}
		reqs = append(reqs, ledger.Request{Key: ref + "/" + string(sh.Role), Debit: "viewer:" + m.UserID + ":wallet",
			Credit: shareAccount(sh), Amount: sh.Amount, Memo: memo})
	}
	if _, err := s.book.Batch(ctx, reqs); err != nil {
		if errs.CodeOf(err) == errs.Limit {
			return theme.ChatMessage{}, errs.E(errs.Limit, "not enough credits in your wallet for this tip: buy a credit pack")
		}
		return theme.ChatMessage{}, err
	}
	tip := r.Amount
	msg := theme.ChatMessage{ID: newID(), At: s.now(), Author: m.Name, Role: m.Role, Text: text, Tip: &tip}
	var fresh bool
	err = s.db.Gorm().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`INSERT INTO chat_tips (viewer_id, tip_id, show_id, model_id, amount, currency, message_id, created_at, item)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (viewer_id, tip_id) DO NOTHING`,
			m.UserID, r.TipID, showID, parties.ModelID, tip.Amount, tip.Currency, msg.ID, msg.At, item)
		if res.Error != nil {
			return res.Error
		}
		if fresh = res.RowsAffected == 1; !fresh {
			return nil
		}
		return insertMessage(tx, showID, m.UserID, "tip", msg)
	})
	if err != nil {
		// The money moved; a retry of the same tip id finds the transfers and records it.
		return theme.ChatMessage{}, dbErr("record tip", err)
	}
	if !fresh {
		prev, _, err := s.findTip(ctx, m.UserID, r)
		return prev, err
	}
	s.afterInsert(ctx, showID)
	s.room(showID).broadcast(frameMessage(msg), "")
	if s.o.Tips != nil {
		s.o.Tips.Tipped(ctx, Tipped{Room: showID, ModelID: parties.ModelID, Amount: tip, At: msg.At, Message: msg})
	}
	return msg, nil
}

// MaxItemLen caps a tip-menu item's name, in characters.
const MaxItemLen = 60

// TipMemo is a tip's ledger memo: "Tip in show <id>", and " for <item>"
// when it paid for a tip-menu item. The wallet's line reads the item back
// from it (TipItemOf, used by accounts.Wallets): the ledger is the one
// source of a wallet's history.
func TipMemo(showID, item string) string {
	if item == "" {
		return tipMemoPrefix + showID
	}
	return tipMemoPrefix + showID + tipItemSep + item
}

// TipItemOf is the tip-menu item a TipMemo names ("" for none; show ids
// have no spaces).
func TipItemOf(memo string) string {
	rest, ok := strings.CutPrefix(memo, tipMemoPrefix)
	if !ok {
		return ""
	}
	_, item, _ := strings.Cut(rest, tipItemSep)
	return item
}

const (
	tipMemoPrefix = "Tip in show "
	tipItemSep    = " for "
)

// TipByID is the message of a viewer's earlier tip under tipID, whatever
// its amount: a menu tip's repeat is answered with it even when the model
// has repriced the item since.
func (s *Service) TipByID(ctx context.Context, viewerID, tipID string) (theme.ChatMessage, bool, error) {
	var (
		amount int64
		cur    string
	)
	err := s.db.Gorm().WithContext(ctx).Raw(`SELECT amount, currency FROM chat_tips WHERE viewer_id = ? AND tip_id = ?`,
		viewerID, tipID).Row().Scan(&amount, &cur)
	if errors.Is(err, errNoRows) {
		return theme.ChatMessage{}, false, nil
	}
	if err != nil {
		return theme.ChatMessage{}, false, dbErr("look up tip", err)
	}
	return s.findTip(ctx, viewerID, TipRequest{TipID: tipID, Amount: money.Money{Amount: amount, Currency: cur}})
}

// ReceivedSince is the sum of a model's tips in currency at or after since,
// in every room of hers.
func (s *Service) ReceivedSince(ctx context.Context, modelID, currency string, since time.Time) (int64, error) {
	var sum int64
	err := s.db.Gorm().WithContext(ctx).Raw(`SELECT COALESCE(SUM(amount), 0) FROM chat_tips
		WHERE model_id = ? AND currency = ? AND created_at >= ?`, modelID, currency, since.UTC()).Row().Scan(&sum)
	if err != nil {
		return 0, dbErr("sum tips", err)
	}
	return sum, nil
}

// Notify sends an event that is not a message (a tip goal's progress) to
// everyone in a room, as {"type":"event","kind":kind,"data":data}; it is
// not kept in history: a page load reads the state itself.
func (s *Service) Notify(showID, kind string, data any) {
	if checkShowID(showID) != nil {
		return
	}
	s.room(showID).broadcast(prepare(Frame{Type: "event", Kind: kind, Data: data}), "")
}

// shareAccount is where a role's share is credited.
func shareAccount(sh split.Share) string {
	if sh.Role == split.RolePlatform {
		return "platform:revenue"
	}
	return string(sh.Role) + ":" + sh.PartyID + ":earnings"
}

// findTip returns the message of an earlier tip with the same id; another
// amount under the id is errs.Conflict.
func (s *Service) findTip(ctx context.Context, viewerID string, r TipRequest) (theme.ChatMessage, bool, error) {
	var (
		amount   int64
		cur, mid string
	)
	err := s.db.Gorm().WithContext(ctx).Raw(`SELECT amount, currency, message_id FROM chat_tips WHERE viewer_id = ? AND tip_id = ?`,
		viewerID, r.TipID).Row().Scan(&amount, &cur, &mid)
	if errors.Is(err, errNoRows) {
		return theme.ChatMessage{}, false, nil
	}
	if err != nil {
		return theme.ChatMessage{}, false, dbErr("look up tip", err)
	}
	if amount != r.Amount.Amount || cur != r.Amount.Currency {
		return theme.ChatMessage{}, false, errs.E(errs.Conflict, "tip id %s was already used for another amount", r.TipID)
	}
	msg, err := s.message(ctx, mid)
	if errs.CodeOf(err) == errs.NotFound { // pruned from history: rebuild what it said
		t := money.Money{Amount: amount, Currency: cur}
		return theme.ChatMessage{ID: mid, Tip: &t}, true, nil
	}
	return msg, err == nil, err
}

// Broadcast speaks in a room as the site. Public events are kept in history.
func (s *Service) Broadcast(showID string, ev SystemEvent) error {
	if err := checkShowID(showID); err != nil {
		return err
	}
	text, err := CleanText(ev.Text, 1000, false)
	if err != nil {
		return err
	}
	msg := theme.ChatMessage{ID: newID(), At: s.now(), Text: text, System: true}
	var stored error
	if ev.To == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stored = s.store(ctx, showID, "", "system", msg)
	}
	// The people in the room are told even when the history could not keep
	// the notice (a busy database): "the show ended" or "she went private"
	// matters now, and CloseRoom drops them right after.
	s.room(showID).broadcast(frameSystem(msg, ev.Kind), ev.To)
	return stored
}

// History returns a show's latest messages, oldest first (what a page shows
// before the socket connects).
func (s *Service) History(ctx context.Context, showID string, limit int) ([]theme.ChatMessage, error) {
	if err := checkShowID(showID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > s.o.HistoryCap {
		limit = s.o.HistoryCap
	}
	rows, err := s.db.Gorm().WithContext(ctx).Raw(`SELECT `+msgCols+` FROM chat_messages WHERE show_id = ?
		ORDER BY seq DESC LIMIT ?`, showID, limit).Rows()
	if err != nil {
		return nil, dbErr("history", err)
	}
	defer rows.Close()
	var out []theme.ChatMessage
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, dbErr("history", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("history", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

const msgCols = `id, author, role, kind, text, tip_amount, tip_currency, created_at`

func scanMessage(row interface{ Scan(...any) error }) (theme.ChatMessage, error) {
	var (
		m         theme.ChatMessage
		kind, cur string
		amount    int64
		role      string
	)
	if err := row.Scan(&m.ID, &m.Author, &role, &kind, &m.Text, &amount, &cur, &m.At); err != nil {
		return m, err
	}
	m.Role, m.At = theme.Role(role), m.At.UTC()
	m.System = kind == "system"
	if kind == "tip" {
		m.Tip = &money.Money{Amount: amount, Currency: cur}
	}
	return m, nil
}

func (s *Service) message(ctx context.Context, id string) (theme.ChatMessage, error) {
	m, err := scanMessage(s.db.Gorm().WithContext(ctx).Raw(`SELECT `+msgCols+` FROM chat_messages WHERE id = ?`, id).Row())
	if err != nil {
		return theme.ChatMessage{}, dbErr("message "+id, err)
	}
	return m, nil
}

func insertMessage(tx *gorm.DB, showID, userID, kind string, m theme.ChatMessage) error {
	var amount int64
	var cur string
	if m.Tip != nil {
		amount, cur = m.Tip.Amount, m.Tip.Currency
	}
	return tx.Exec(`INSERT INTO chat_messages (id, show_id, user_id, author, role, kind, text, tip_amount, tip_currency, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.ID, showID, userID, m.Author, string(m.Role), kind, m.Text, amount, cur, m.At).Error
}

func (s *Service) store(ctx context.Context, showID, userID, kind string, m theme.ChatMessage) error {
	if err := insertMessage(s.db.Gorm().WithContext(ctx), showID, userID, kind, m); err != nil {
		return dbErr("store message", err)
	}
	s.afterInsert(ctx, showID)
	return nil
}

// pruneEvery is how many inserts a room takes between trims of its history.
const pruneEvery = 64

// afterInsert trims a show's history to HistoryCap now and then: the cap is
// exceeded by at most pruneEvery rows between trims.
func (s *Service) afterInsert(ctx context.Context, showID string) {
	r := s.room(showID)
	if r.inserts.Add(1)%pruneEvery != 0 {
		return
	}
	err := s.db.Gorm().WithContext(ctx).Exec(`DELETE FROM chat_messages WHERE show_id = ? AND seq <=
		(SELECT seq FROM chat_messages WHERE show_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`, showID, showID, s.o.HistoryCap).Error
	if err != nil {
		s.log.Warn("chat history trim failed", "show", showID, "err", err)
	}
}
