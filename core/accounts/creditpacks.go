package accounts

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/routing"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// Pack is a credit pack on offer, from config. The card pays Price; the
// wallet receives Price + Bonus (see the package doc for the ledger side).
type Pack struct {
	ID    string // [a-z0-9-], 1-32: what the buy form posts
	Name  string
	Price money.Money
	Bonus money.Money // zero for no bonus; same currency as Price
	Badge string      // "Best value", may be empty
}

// Credits is what the wallet receives.
func (p Pack) Credits() money.Money {
	return money.Money{Amount: p.Price.Amount + p.Bonus.Amount, Currency: p.Price.Currency}
}

// PurchaseState is where a purchase stands.
type PurchaseState string

const (
	PurchasePending   PurchaseState = "pending"   // charging, or the outcome is unknown: Resume finishes it
	PurchaseSucceeded PurchaseState = "succeeded" // charged and credited
	PurchaseDeclined  PurchaseState = "declined"  // the card said no: nothing moved
	PurchaseFailed    PurchaseState = "failed"    // refused for another final reason: nothing credited
)

// Purchase is one credit-pack purchase.
type Purchase struct {
	ID           string
	UserID       string
	PackID       string
	Price, Bonus money.Money
	// Processor took the charge (or is being asked, while pending): the
	// one whose clearing account the ledger debits.
	Processor       string
	State           PurchaseState
	ChargeReference string
	ErrorCode       errs.Code
	Error           string
	CreatedAt       time.Time
	DoneAt          time.Time
}

// CreditPacks sells the configured packs, charged to the card on file.
type CreditPacks struct {
	svc   *Service
	cards *PaymentMethods
	book  Book
	packs []Pack
	byID  map[string]Pack
}

// NewCreditPacks checks packs (unique ids, positive prices in the site
// currency, bonuses >= 0) and returns the service.
func NewCreditPacks(svc *Service, cards *PaymentMethods, book Book, packs []Pack) (*CreditPacks, error) {
	c := &CreditPacks{svc: svc, cards: cards, book: book, byID: map[string]Pack{}}
	for i, p := range packs {
		switch {
		case p.ID == "" || len(p.ID) > 32 || strings.Trim(p.ID, "abcdefghijklmnopqrstuvwxyz0123456789-") != "":
			return nil, errs.E(errs.Invalid, "credit pack %d: id %q: use 1-32 of a-z, 0-9 and -", i, p.ID)
		case p.ID == TopUpPackID:
			return nil, errs.E(errs.Invalid, "credit pack id %q is the card payments' own", p.ID)
		case c.byID[p.ID].ID != "":
			return nil, errs.E(errs.Invalid, "credit pack %q is defined twice", p.ID)
		case strings.TrimSpace(p.Name) == "":
			return nil, errs.E(errs.Invalid, "credit pack %q has no name", p.ID)
		case p.Price.Currency != svc.currency:
			return nil, errs.E(errs.UnknownCurrency, "credit pack %q is priced in %q, the site currency is %s", p.ID, p.Price.Currency, svc.currency)
		case p.Price.Amount <= 0:
			return nil, errs.E(errs.Invalid, "credit pack %q: price must be positive", p.ID)
		}
		if p.Bonus.Currency == "" {
			p.Bonus.Currency = p.Price.Currency
		}
		if p.Bonus.Currency != p.Price.Currency || p.Bonus.Amount < 0 {
			return nil, errs.E(errs.Invalid, "credit pack %q: bonus must be >= 0 in %s", p.ID, p.Price.Currency)
		}
		if _, ok := money.AddInt64(p.Price.Amount, p.Bonus.Amount); !ok {
			return nil, errs.E(errs.Invalid, "credit pack %q: price + bonus overflows", p.ID)
		}
		c.packs = append(c.packs, p)
		c.byID[p.ID] = p
	}
	return c, nil
}

// Packs lists the packs in config order.
func (c *CreditPacks) Packs() []Pack { return append([]Pack(nil), c.packs...) }

// Pack returns one pack, errs.NotFound for an unknown id.
func (c *CreditPacks) Pack(id string) (Pack, error) {
	p, ok := c.byID[id]
	if !ok {
		return Pack{}, errs.E(errs.NotFound, "no credit pack %q", id)
	}
	return p, nil
}

// ClearingCode is the processor's clearing account: what it owes us.
func ClearingCode(processorName string) string { return "processor:" + processorName + ":clearing" }

// Buy charges the viewer's card on file for pack packID and credits the
// wallet. A decline is returned as the processor's decline error, with the
// purchase recorded as declined and nothing moved. An unknown outcome
// (processor unavailable, a timeout) leaves the purchase pending: Resume, or
// a retry under the same key, finishes it with the same idempotency keys,
// so it is charged once.
//
// key is the client's idempotency key (idempotency.Key of the request), ""
// for none. Under a key the purchase is derived from (user, key) and unique
// on it: a retry after a 503, a timeout or a host crash finds the first
// purchase and finishes it, or answers its outcome, instead of charging
// again; the same key for another pack is errs.Conflict. Without a key
// every call is a new purchase.
func (c *CreditPacks) Buy(ctx context.Context, userID, packID, key string) (Purchase, error) {
	pack, err := c.Pack(packID)
	if err != nil {
		return Purchase{}, err
	}
	return c.buy(ctx, userID, pack, key)
}

// TopUpPackID is the pack id of TopUp's purchases; no configured pack may
// take it.
const TopUpPackID = "card-top-up"

// topUpName names a top-up on the statement, the same on a first attempt
// and on Resume (a ledger retry must carry the same memo).
const topUpName = "card payment"

// TopUp charges the card on file exactly amount and credits it to the
// wallet: a purchase like a credit pack's (routing, cascade, Resume, the
// same ledger keys), of that price and no bonus. It pays a one-off purchase
// by card (a ticket) whose money the wallet then holds. key as Buy's; under
// a key used for another amount it is errs.Conflict.
func (c *CreditPacks) TopUp(ctx context.Context, userID string, amount money.Money, key string) (Purchase, error) {
	if amount.Currency != c.svc.currency || amount.Amount <= 0 {
		return Purchase{}, errs.E(errs.Invalid, "a card payment is above zero in %s", c.svc.currency)
	}
	return c.buy(ctx, userID, Pack{ID: TopUpPackID, Name: topUpName, Price: amount, Bonus: money.Money{Currency: amount.Currency}}, key)
}

func (c *CreditPacks) buy(ctx context.Context, userID string, pack Pack, key string) (Purchase, error) {
	if len(key) > maxClientKeyLen {
		return Purchase{}, errs.E(errs.Invalid, "idempotency key longer than %d characters", maxClientKeyLen)
	}
	u, err := c.svc.User(ctx, userID)
	if err != nil {
		return Purchase{}, err
	}
	if u.Role != RoleViewer || u.Status != StatusActive {
		return Purchase{}, errs.E(errs.Forbidden, "only viewer accounts buy credits")
	}
	if key != "" {
		if p, found, err := c.again(ctx, userID, key, pack); found || err != nil {
			return p, err
		}
	}
	routes, err := c.cards.Routes(ctx, userID, pack.Price.Currency)
	if err != nil {
		return Purchase{}, err
	}
	p := Purchase{ID: newID(), UserID: userID, PackID: pack.ID, Price: pack.Price, Bonus: pack.Bonus,
		Processor: routes[0].Processor, State: PurchasePending, CreatedAt: c.svc.now()}
	if key != "" {
		p.ID = idempotency.ID("creditpack", userID, key)
	}
	first := attempt{processor: routes[0].Processor, cred: routes[0].Credential,
		key: routing.AttemptKey("creditpack/"+p.ID, routes[0].Processor)}
	// Under a key, a concurrent first call may have written the row: then
	// this one finds it and finishes the same purchase.
	res := c.svc.db.Gorm().WithContext(ctx).Exec(`INSERT INTO credit_pack_purchases
		(id, user_id, pack_id, processor, credential, charge_key, price_amount, bonus_amount, currency, state, created_at, client_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING`,
		p.ID, userID, pack.ID, first.processor, first.cred.Token, first.key, p.Price.Amount, p.Bonus.Amount, p.Price.Currency, p.CreatedAt, key)
	if res.Error != nil {
		return Purchase{}, dbErr("record purchase", res.Error)
	}
	if res.RowsAffected == 0 {
		if key == "" {
			return Purchase{}, errs.E(errs.Internal, "accounts: purchase id %s taken", p.ID)
		}
		first, found, err := c.again(ctx, userID, key, pack)
		if !found && err == nil {
			err = errs.E(errs.Internal, "accounts: purchase %s neither written nor found", p.ID)
		}
		return first, err
	}
	return c.finish(ctx, p, pack.Name, first, routes[1:])
}

// attempt is one processor's try at a purchase: its credential and its own
// processor idempotency key (routing.AttemptKey; creditpack/<id> on rows
// written before routing).
type attempt struct {
	processor, key string
	cred           processor.StoredCredential
}

// maxClientKeyLen bounds a key a service accepts (the middleware's keys
// are far shorter).
const maxClientKeyLen = 300

// again is Buy for a key used before: the purchase made under it, finished
// if it is still pending (with its own credential and processor key), or
// its recorded outcome. found is false when the key is new.
func (c *CreditPacks) again(ctx context.Context, userID, key string, pack Pack) (Purchase, bool, error) {
	var at attempt
	var declined string
	p, err := scanPurchase(c.svc.db.Gorm().WithContext(ctx).Raw(`SELECT `+purchaseCols+`, credential, charge_key, declined_via
		FROM credit_pack_purchases WHERE user_id = ? AND client_key = ?`, userID, key).Row(), &at.cred.Token, &at.key, &declined)
	if errors.Is(err, sql.ErrNoRows) {
		return Purchase{}, false, nil
	}
	if err != nil {
		return Purchase{}, true, dbErr("purchase by key", err)
	}
	if p.PackID != pack.ID {
		return Purchase{}, true, errs.E(errs.Conflict, "this idempotency key was used to buy credit pack %q, not %q", p.PackID, pack.ID)
	}
	if pack.ID == TopUpPackID && p.Price != pack.Price {
		return Purchase{}, true, errs.E(errs.Conflict, "this idempotency key was used for a payment of another amount")
	}
	switch p.State {
	case PurchaseSucceeded:
		return p, true, nil
	case PurchaseDeclined, PurchaseFailed:
		return p, true, errs.E(p.ErrorCode, "%s", strings.TrimPrefix(p.Error, string(p.ErrorCode)+": "))
	}
	at.processor = p.Processor
	if c.cards.client(at.processor) == nil {
		return p, true, errs.E(errs.Conflict, "this purchase was started with processor %s, which is no longer loaded", at.processor)
	}
	p, err = c.finish(ctx, p, pack.Name, at.legacy(p.ID), c.rest(ctx, p, declined))
	return p, true, err
}

// legacy gives a row written before routing its one key, creditpack/<id>.
func (a attempt) legacy(id string) attempt {
	if a.key == "" {
		a.key = "creditpack/" + id
	}
	return a
}

// rest is where a pending purchase may still cascade to after its current
// attempt: the viewer's routes now, less the processors tried already.
func (c *CreditPacks) rest(ctx context.Context, p Purchase, declined string) []Route {
	routes, err := c.cards.Routes(ctx, p.UserID, p.Price.Currency)
	if err != nil {
		return nil // no card to cascade to: the current attempt is the last
	}
	tried := strings.Split(declined, ",")
	i := slices.IndexFunc(routes, func(r Route) bool { return r.Processor == p.Processor })
	if i < 0 {
		return nil
	}
	return slices.DeleteFunc(routes[i+1:], func(r Route) bool { return slices.Contains(tried, r.Processor) })
}

// finish charges (or re-asks the processor for the first result of) the
// current attempt. A soft decline (core/routing) moves the purchase on to
// the next route, recorded before that processor is asked, under that
// processor's own key; a hard decline or any final refusal ends it; an
// unknown outcome leaves it pending at the same processor. On success the
// ledger batch debits that processor's clearing account and the purchase
// is marked done.
func (c *CreditPacks) finish(ctx context.Context, p Purchase, name string, at attempt, next []Route) (Purchase, error) {
	for {
		ch, err := c.charge(ctx, p, name, at)
		switch routing.Classify(err) {
		case routing.Done:
			return c.credit(ctx, p, name, at, ch)
		case routing.Unknown:
			return p, err // outcome unknown: stays pending at this processor
		case routing.Next:
			if len(next) > 0 {
				nx := attempt{processor: next[0].Processor, cred: next[0].Credential, key: routing.AttemptKey("creditpack/"+p.ID, next[0].Processor)}
				// Recorded first: a crash from here on resumes at the next
				// processor, and a repeat at this one is answered its decline.
				res := c.svc.db.Gorm().WithContext(ctx).Exec(`UPDATE credit_pack_purchases
					SET processor = ?, credential = ?, charge_key = ?,
					    declined_via = CASE WHEN declined_via = '' THEN ? ELSE declined_via || ',' || ? END
					WHERE id = ? AND state = 'pending' AND processor = ?`,
					nx.processor, nx.cred.Token, nx.key, at.processor, at.processor, p.ID, at.processor)
				if res.Error != nil {
					return p, dbErr("cascade purchase", res.Error)
				}
				if res.RowsAffected == 0 {
					return p, errs.Retry(errs.Conflict, "purchase %s moved on meanwhile: retry", p.ID)
				}
				at, next, p.Processor = nx, next[1:], nx.processor
				continue
			}
		}
		state := PurchaseFailed
		if errs.IsDecline(err) {
			state = PurchaseDeclined
		}
		if uerr := c.markDone(ctx, &p, state, "", err); uerr != nil {
			return p, uerr
		}
		return p, err
	}
}

func (c *CreditPacks) charge(ctx context.Context, p Purchase, name string, at attempt) (processor.ChargeResult, error) {
	client := c.cards.client(at.processor)
	if client == nil {
		return processor.ChargeResult{}, errs.Retry(errs.Unavailable, "processor %s is not loaded", at.processor)
	}
	return client.Charge(ctx, processor.ChargeRequest{IdempotencyKey: at.key, Credential: at.cred, Amount: p.Price,
		Description: "Credit pack " + name})
}

// credit books a successful charge and marks the purchase done.
func (c *CreditPacks) credit(ctx context.Context, p Purchase, name string, at attempt, ch processor.ChargeResult) (Purchase, error) {
	if err := processor.CheckMoved(p.Price, ch.Amount); err != nil {
		// The processor took another amount: the books must not guess. An
		// operator reconciles; the wallet is not credited.
		_ = c.markDone(ctx, &p, PurchaseFailed, ch.Reference, err)
		return p, err
	}
	// The ledger keys stay creditpack/<id>/…: one purchase credits once,
	// whichever processor took it.
	key := "creditpack/" + p.ID
	reqs := []ledger.Request{{
		Key: key + "/credits", Debit: ClearingCode(at.processor), Credit: WalletCode(p.UserID), Amount: p.Price,
		Memo: "Credit pack " + name + " via " + at.processor,
	}}
	if p.Bonus.Amount > 0 {
		reqs = append(reqs, ledger.Request{
			Key: key + "/bonus", Debit: "platform:revenue", Credit: WalletCode(p.UserID), Amount: p.Bonus,
			Memo: "Credit pack " + name + ": bonus",
		})
	}
	if _, err := c.book.Batch(ctx, reqs); err != nil {
		return p, err // charged but not credited yet: stays pending for Resume
	}
	if ch.NewCredential != nil && checkCredential(*ch.NewCredential) == nil {
		// The processor rotated the token (CCBill createNewPaymentToken).
		_ = c.svc.db.Gorm().WithContext(ctx).Exec(`UPDATE payment_methods SET token = ? WHERE user_id = ? AND processor = ? AND token = ?`,
			ch.NewCredential.Token, p.UserID, at.processor, at.cred.Token).Error
	}
	if err := c.markDone(ctx, &p, PurchaseSucceeded, ch.Reference, nil); err != nil {
		return p, err
	}
	return p, nil
}

func (c *CreditPacks) markDone(ctx context.Context, p *Purchase, st PurchaseState, ref string, cause error) error {
	p.State, p.ChargeReference, p.DoneAt = st, ref, c.svc.now()
	if cause != nil {
		p.ErrorCode, p.Error = errs.CodeOf(cause), cause.Error()
	}
	return dbErr("finish purchase", c.svc.db.Gorm().WithContext(ctx).Exec(`UPDATE credit_pack_purchases
		SET state = ?, charge_reference = ?, error_code = ?, error = ?, done_at = ? WHERE id = ? AND state = 'pending'`,
		string(st), ref, string(p.ErrorCode), p.Error, p.DoneAt, p.ID).Error)
}

// Resume finishes purchases left pending by a crash or an unknown outcome,
// with their original keys and credential. It returns how many it finished.
func (c *CreditPacks) Resume(ctx context.Context) (int, error) {
	rows, err := c.svc.db.Gorm().WithContext(ctx).Raw(`SELECT ` + purchaseCols + `, credential, charge_key, declined_via FROM credit_pack_purchases
		WHERE state = 'pending' ORDER BY created_at`).Rows()
	if err != nil {
		return 0, dbErr("pending purchases", err)
	}
	type todo struct {
		p        Purchase
		at       attempt
		declined string
	}
	var list []todo
	for rows.Next() {
		var t todo
		if t.p, err = scanPurchase(rows, &t.at.cred.Token, &t.at.key, &t.declined); err != nil {
			rows.Close()
			return 0, dbErr("pending purchases", err)
		}
		list = append(list, t)
	}
	rows.Close()
	done := 0
	for _, t := range list {
		t.at.processor = t.p.Processor
		if c.cards.client(t.at.processor) == nil {
			continue // charged through a processor no longer loaded: an operator's case
		}
		name := t.p.PackID
		if pk, ok := c.byID[t.p.PackID]; ok {
			name = pk.Name
		} else if t.p.PackID == TopUpPackID {
			name = topUpName
		}
		if _, err := c.finish(ctx, t.p, name, t.at.legacy(t.p.ID), c.rest(ctx, t.p, t.declined)); err != nil && errs.IsRetryable(err) {
			return done, err
		}
		done++
	}
	return done, nil
}

const purchaseCols = `id, user_id, pack_id, processor, price_amount, bonus_amount, currency, state, charge_reference, error_code, error, created_at, done_at`

func scanPurchase(row interface{ Scan(...any) error }, extra ...any) (Purchase, error) {
	var (
		p    Purchase
		cur  string
		done sql.NullTime
	)
	dst := append([]any{&p.ID, &p.UserID, &p.PackID, &p.Processor, &p.Price.Amount, &p.Bonus.Amount, &cur, &p.State, &p.ChargeReference,
		&p.ErrorCode, &p.Error, &p.CreatedAt, &done}, extra...)
	err := row.Scan(dst...)
	p.Price.Currency, p.Bonus.Currency = cur, cur
	p.CreatedAt, p.DoneAt = p.CreatedAt.UTC(), nullTime(done)
	return p, err
}

// Purchases lists a viewer's purchases, newest first.
func (c *CreditPacks) Purchases(ctx context.Context, userID string, limit int) ([]Purchase, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := c.svc.db.Gorm().WithContext(ctx).Raw(`SELECT `+purchaseCols+` FROM credit_pack_purchases
		WHERE user_id = ? ORDER BY created_at DESC, id LIMIT ?`, userID, limit).Rows()
	if err != nil {
		return nil, dbErr("purchases", err)
	}
	defer rows.Close()
	var out []Purchase
	for rows.Next() {
		p, err := scanPurchase(rows)
		if err != nil {
			return nil, dbErr("purchases", err)
		}
		out = append(out, p)
	}
	return out, dbErr("purchases", rows.Err())
}
