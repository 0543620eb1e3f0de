package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/core/routing"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
	"gorm.io/gorm"
)

// Card is a card on file as it may be shown: never a number.
type Card struct {
	Processor string
	Brand     string
	Last4     string
	Country   string // the card's BIN country where the processor reports it
	ExpMonth  int
	ExpYear   int
	AddedAt   time.Time
	// Retired is true when Processor takes no new funding any more: the card
	// still serves that processor's refunds, chargebacks and open seats, but
	// new funding needs a card at an active processor.
	Retired bool
}

// PaymentMethods keeps a viewer's cards on file, one per processor, each
// through its processor's own checkout. New cards and new funding go to the
// processor core/routing picks among the active ones; a card at a retired
// processor stays on file for what that processor already holds.
type PaymentMethods struct {
	svc     *Service
	router  *routing.Router
	clients map[string]Checkouts // every loaded processor: active and retired
}

// NewPaymentMethods serves cards through one processor, proc, configured as
// name: no routing, nothing retired.
func NewPaymentMethods(svc *Service, name string, proc Checkouts) *PaymentMethods {
	r, err := routing.New(name, nil, nil, nil)
	if err != nil {
		panic(err) // only an empty name: a programming error
	}
	return &PaymentMethods{svc: svc, router: r, clients: map[string]Checkouts{name: proc}}
}

// NewRoutedPaymentMethods serves cards through the processors in clients,
// new ones and new funding as r routes them. clients must hold every active
// processor of r; the others in it are retired.
func NewRoutedPaymentMethods(svc *Service, r *routing.Router, clients map[string]Checkouts) (*PaymentMethods, error) {
	for _, a := range r.Active() {
		if clients[a] == nil {
			return nil, errs.E(errs.Invalid, "accounts: active processor %s is not loaded", a)
		}
	}
	return &PaymentMethods{svc: svc, router: r, clients: clients}, nil
}

// ReturnParam is the query parameter BeginAddCard adds to the return URL:
// CompleteAddCard finds the checkout by it.
const ReturnParam = "card_checkout"

const checkoutTTL = time.Hour

// BeginAddCard starts a processor's checkout for storing a card (nothing is
// charged) and says where to send the viewer. returnURL is where the
// processor sends them back (absolute, or a path on this site); it gets
// ?card_checkout=<id> added.
//
// The processor is routed on the site currency (a card not entered yet has
// no brand or country): the first in the routing order where the viewer has
// no card yet, so that a second card gives the cascade somewhere to go, else
// the first choice (the new card replaces the one there). A processor that
// is unavailable, or refuses the checkout with a soft decline, passes it on
// to the next one in the cascade: starting a checkout moves no money.
//
// key is the client's idempotency key ("" for none): under a key the
// checkout is derived from (user, key), so a retry starts the same checkout
// at the same processor (same processor idempotency key) instead of another.
func (p *PaymentMethods) BeginAddCard(ctx context.Context, userID, returnURL, key string) (CardCheckout, error) {
	u, err := p.svc.User(ctx, userID)
	if err != nil {
		return CardCheckout{}, err
	}
	if u.Role != RoleViewer || u.Status != StatusActive {
		return CardCheckout{}, errs.E(errs.Forbidden, "only viewer accounts keep a card on file")
	}
	ru, err := url.Parse(returnURL)
	if err != nil || returnURL == "" {
		return CardCheckout{}, errs.E(errs.Invalid, "return URL %q is not a URL", returnURL)
	}
	if len(key) > maxClientKeyLen {
		return CardCheckout{}, errs.E(errs.Invalid, "idempotency key longer than %d characters", maxClientKeyLen)
	}
	id := newID()
	if key != "" {
		id = idempotency.ID("cardcheckout", userID, key)
	}
	q := ru.Query()
	q.Set(ReturnParam, id)
	ru.RawQuery = q.Encode()
	order, err := p.checkoutOrder(ctx, userID)
	if err != nil {
		return CardCheckout{}, err
	}
	now := p.svc.now()
	// A retry under the key finds its row (ON CONFLICT) and asks the
	// processor it names again under the same key, which answers the same
	// checkout.
	if err := p.svc.db.Gorm().WithContext(ctx).Exec(`INSERT INTO card_checkouts (id, user_id, processor, created_at, expires_at, client_key)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		id, userID, order[0], now, now.Add(checkoutTTL), key).Error; err != nil {
		return CardCheckout{}, dbErr("start card checkout", err)
	}
	var at string
	if err := p.svc.db.Gorm().WithContext(ctx).Raw(`SELECT processor FROM card_checkouts WHERE id = ?`, id).Row().Scan(&at); err != nil {
		return CardCheckout{}, dbErr("start card checkout", err)
	}
	if i := slices.Index(order, at); i > 0 {
		order = order[i:] // a retry: carry on where the first try got to
	} else if i < 0 {
		// A retry after the processor it got to left the routing (a
		// restart with new config): start again at the first choice.
		if err := p.svc.db.Gorm().WithContext(ctx).Exec(`UPDATE card_checkouts SET processor = ?, reference = '' WHERE id = ? AND processor = ?`,
			order[0], id, at).Error; err != nil {
			return CardCheckout{}, dbErr("start card checkout", err)
		}
	}
	var lastErr error
	for i, name := range order {
		if i > 0 {
			if err := p.svc.db.Gorm().WithContext(ctx).Exec(`UPDATE card_checkouts SET processor = ? WHERE id = ? AND processor = ?`,
				name, id, order[i-1]).Error; err != nil {
				return CardCheckout{}, dbErr("start card checkout", err)
			}
		}
		client := p.clients[name]
		if client == nil {
			return CardCheckout{}, errs.Retry(errs.Unavailable, "processor %s is not loaded", name)
		}
		co, err := client.StartCheckout(ctx, processor.StartCheckoutRequest{
			IdempotencyKey: routing.AttemptKey("card/"+userID+"/"+id, name),
			CustomerRef:    userID,
			ReturnURL:      ru.String(),
			Description:    "Save a card for later payments",
		})
		if err != nil {
			lastErr = err
			if routing.ClassifyStart(err) == routing.Next {
				continue
			}
			return CardCheckout{}, err
		}
		if err := p.svc.db.Gorm().WithContext(ctx).Exec(`UPDATE card_checkouts SET reference = ? WHERE id = ?`, co.Reference, id).Error; err != nil {
			return CardCheckout{}, dbErr("start card checkout", err)
		}
		return CardCheckout{Checkout: co, Processor: name}, nil
	}
	return CardCheckout{}, lastErr
}

// CardCheckout is a started card checkout and the processor it is at.
type CardCheckout struct {
	processor.Checkout
	Processor string
}

// checkoutOrder is the routing order of a new card checkout for userID:
// the first processor where the viewer has no card yet comes first.
func (p *PaymentMethods) checkoutOrder(ctx context.Context, userID string) ([]string, error) {
	order := p.router.Order(routing.Input{Currency: p.svc.currency})
	cards, err := p.Cards(ctx, userID)
	if err != nil {
		return nil, err
	}
	has := map[string]bool{}
	for _, c := range cards {
		has[c.Processor] = true
	}
	candidates := append(slices.Clone(order), p.router.Active()...)
	for i, name := range candidates {
		if !has[name] {
			if i < len(order) {
				return append([]string{name}, slices.DeleteFunc(slices.Clone(order), func(s string) bool { return s == name })...), nil
			}
			return append([]string{name}, order...), nil
		}
	}
	return order, nil
}

// CompleteAddCard finishes a checkout with what the viewer came back with
// (the return URL's query) and stores the processor's credential as the
// viewer's card, replacing any earlier one. A declined or abandoned
// checkout stores nothing.
func (p *PaymentMethods) CompleteAddCard(ctx context.Context, userID string, params url.Values) (Card, error) {
	id := params.Get(ReturnParam)
	if id == "" {
		return Card{}, errs.E(errs.Invalid, "the return link has no %s parameter", ReturnParam)
	}
	var (
		ref, proc string
		expires   time.Time
		completed sql.NullTime
	)
	err := p.svc.db.Gorm().WithContext(ctx).Raw(`SELECT reference, processor, expires_at, completed_at FROM card_checkouts WHERE id = ? AND user_id = ?`,
		id, userID).Row().Scan(&ref, &proc, &expires, &completed)
	if err == sql.ErrNoRows {
		return Card{}, errs.E(errs.NotFound, "no card checkout %s for this account", id)
	}
	if err != nil {
		return Card{}, dbErr("card checkout", err)
	}
	now := p.svc.now()
	switch {
	case completed.Valid:
		return p.Card(ctx, userID)
	case !p.router.IsActive(proc):
		return Card{}, errs.E(errs.Conflict, "this checkout was started with processor %s, which the site no longer uses for new cards: add the card again", proc)
	case !now.Before(expires):
		return Card{}, errs.E(errs.Invalid, "this card checkout has expired: start again")
	case ref == "":
		return Card{}, errs.E(errs.Invalid, "this card checkout never reached the processor: start again")
	}
	res, err := p.clients[proc].CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: ref, CustomerRef: userID, Params: params})
	if err != nil {
		return Card{}, err
	}
	if res.Pending {
		return Card{}, errs.Retry(errs.Unavailable, "the processor is still confirming the card: try again in a moment")
	}
	if res.Credential == nil {
		return Card{}, errs.E(errs.Internal, "processor %s completed checkout %s without a credential", proc, ref)
	}
	c := *res.Credential
	if err := checkCredential(c); err != nil {
		return Card{}, err
	}
	card := Card{Processor: proc, Brand: c.Brand, Last4: c.Last4, Country: strings.ToUpper(c.Country), ExpMonth: c.ExpMonth, ExpYear: c.ExpYear, AddedAt: now}
	err = p.svc.tx(ctx, func(tx *gorm.DB) error {
		// Completing first claims the checkout: of two concurrent returns
		// (a double load of the return page) one stores the card, the other
		// finds it done and answers the card on file.
		res := tx.Exec(`UPDATE card_checkouts SET completed_at = ? WHERE id = ? AND completed_at IS NULL`, now, id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errCheckoutDone
		}
		// One card per (viewer, processor): a new one at this processor
		// replaces the one there; cards at other processors stay.
		if err := tx.Exec(`DELETE FROM payment_methods WHERE user_id = ? AND processor = ?`, userID, proc).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO payment_methods (user_id, processor, token, brand, last4, exp_month, exp_year, customer_ref, country, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, userID, proc, c.Token, c.Brand, c.Last4, c.ExpMonth, c.ExpYear, c.CustomerRef, card.Country, now).Error
	})
	if errors.Is(err, errCheckoutDone) {
		return p.Card(ctx, userID)
	}
	if err != nil {
		return Card{}, dbErr("store card", err)
	}
	return card, nil
}

// errCheckoutDone ends CompleteAddCard's transaction when another return
// completed the checkout first.
var errCheckoutDone = errors.New("card checkout completed meanwhile")

// panLike finds a run of 13-19 digits, optionally split by spaces or dashes:
// the shape of a card number.
var panLike = regexp.MustCompile(`\d(?:[ -]?\d){12,18}`)

// checkCredential refuses a credential that could hold a card number, so a
// misbehaving processor plugin cannot make camkit store one. A token is
// opaque, but a Luhn-valid 13-19 digit run in it that stands on its own
// (not inside a longer word of letters and digits) is treated as a number.
func checkCredential(c processor.StoredCredential) error {
	if err := processor.ValidateCredential(c); err != nil {
		return err
	}
	for _, f := range []string{c.Token, c.Brand, c.Last4, c.CustomerRef} {
		if holdsPAN(f) {
			return errs.E(errs.Internal, "the processor returned a credential that looks like a card number: refused, nothing stored")
		}
	}
	if c.Last4 != "" && (len(c.Last4) != 4 || !allDigits(c.Last4)) {
		return errs.E(errs.Internal, "the processor returned last4 %q: want 4 digits", c.Last4)
	}
	return nil
}

// holdsPAN reports whether s holds a card number: a Luhn-valid run of 13-19
// digits (spaces or dashes allowed between them) that is not part of a longer
// run of letters and digits. A random token holds a Luhn-valid digit run
// now and then (the sandbox's "sbx_tok_" + 24 hex characters: 476 times in
// 400,000, measured), and refusing those failed about one card in 840 with a
// 500; so only a run set apart by punctuation, or the whole field, counts.
func holdsPAN(s string) bool {
	alnum := func(i int) bool {
		if i < 0 || i >= len(s) {
			return false
		}
		ch := s[i]
		return ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z'
	}
	for _, m := range panLike.FindAllStringIndex(s, -1) {
		if !alnum(m[0]-1) && !alnum(m[1]) && luhn(s[m[0]:m[1]]) {
			return true
		}
	}
	return false
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func luhn(s string) bool {
	sum, n, double := 0, 0, false
	for i := len(s) - 1; i >= 0; i-- {
		ch := s[i]
		if ch < '0' || ch > '9' {
			continue
		}
		d := int(ch - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		n++
		double = !double
	}
	return n >= 13 && sum%10 == 0
}

// Cards lists the viewer's cards on file, newest first.
func (p *PaymentMethods) Cards(ctx context.Context, userID string) ([]Card, error) {
	all, err := p.stored(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Card, len(all))
	for i, s := range all {
		out[i] = s.Card
	}
	return out, nil
}

// stored is a card on file with its credential.
type stored struct {
	Card
	cred processor.StoredCredential
}

func (p *PaymentMethods) stored(ctx context.Context, userID string) ([]stored, error) {
	rows, err := p.svc.db.Gorm().WithContext(ctx).Raw(`SELECT processor, token, brand, last4, exp_month, exp_year, customer_ref, country, created_at
		FROM payment_methods WHERE user_id = ? ORDER BY created_at DESC, processor`, userID).Rows()
	if err != nil {
		return nil, dbErr("cards on file", err)
	}
	defer rows.Close()
	var out []stored
	for rows.Next() {
		var s stored
		if err := rows.Scan(&s.Processor, &s.cred.Token, &s.cred.Brand, &s.cred.Last4, &s.cred.ExpMonth, &s.cred.ExpYear, &s.cred.CustomerRef,
			&s.Country, &s.AddedAt); err != nil {
			return nil, dbErr("cards on file", err)
		}
		s.Brand, s.Last4, s.ExpMonth, s.ExpYear, s.cred.Country = s.cred.Brand, s.cred.Last4, s.cred.ExpMonth, s.cred.ExpYear, s.Country
		s.AddedAt = s.AddedAt.UTC()
		s.Retired = !p.router.IsActive(s.Processor)
		out = append(out, s)
	}
	return out, dbErr("cards on file", rows.Err())
}

// Card returns the card new funding would use first (the newest at an
// active processor), else the newest card at a retired one (Retired set),
// errs.NotFound when none.
func (p *PaymentMethods) Card(ctx context.Context, userID string) (Card, error) {
	all, err := p.stored(ctx, userID)
	if err != nil {
		return Card{}, err
	}
	for _, s := range all {
		if !s.Retired {
			return s.Card, nil
		}
	}
	if len(all) > 0 {
		return all[0].Card, nil
	}
	return Card{}, errs.E(errs.NotFound, "no card on file: add one first")
}

// Route is one card on file new funding may charge.
type Route struct {
	Processor  string
	Credential processor.StoredCredential
}

// NeedCard is the answer of Routes when the viewer's only cards are at
// processors that take no new funding: the viewer must add a card at an
// active one. Its code is errs.NotFound, like having no card at all.
type NeedCard struct {
	Was       Card   // the newest card on file, at a retired processor
	Processor string // where a new card would go
}

func (e *NeedCard) Error() string {
	return fmt.Sprintf("not_found: your saved card (%s ending %s) was with %s; add a card to continue", e.Was.Brand, e.Was.Last4, e.Was.Processor)
}

// Unwrap gives errs.CodeOf and core/httperror its code.
func (e *NeedCard) Unwrap() error {
	return errs.E(errs.NotFound, "your saved card was with %s; add a card to continue", e.Was.Processor)
}

// Routes is the viewer's cards on file that new funding in currency tries,
// in order: the routing order (rules on the currency and the newest active
// card's brand and BIN country, then the cascade) restricted to the
// processors the viewer has a card at; when none of those has one, the
// newest card at any active processor alone. No card at all is
// errs.NotFound; cards only at retired processors, *NeedCard.
func (p *PaymentMethods) Routes(ctx context.Context, userID, currency string) ([]Route, error) {
	all, err := p.stored(ctx, userID)
	if err != nil {
		return nil, err
	}
	byProc := map[string]stored{}
	var newest *stored
	for i, s := range all {
		if s.Retired {
			continue
		}
		byProc[s.Processor] = s
		if newest == nil {
			newest = &all[i]
		}
	}
	if newest == nil {
		if len(all) > 0 {
			return nil, &NeedCard{Was: all[0].Card, Processor: p.router.First(routing.Input{Currency: p.svc.currency})}
		}
		return nil, errs.E(errs.NotFound, "no card on file: add one first")
	}
	var out []Route
	for _, name := range p.router.Order(routing.Input{Currency: currency, Brand: newest.Brand, Country: newest.Country}) {
		if s, ok := byProc[name]; ok {
			out = append(out, Route{Processor: name, Credential: s.cred})
		}
	}
	if len(out) == 0 {
		out = []Route{{Processor: newest.Processor, Credential: newest.cred}}
	}
	return out, nil
}

// Credential is the credential new funding in the site currency charges
// first, and its processor.
func (p *PaymentMethods) Credential(ctx context.Context, userID string) (string, processor.StoredCredential, error) {
	rs, err := p.Routes(ctx, userID, p.svc.currency)
	if err != nil {
		return "", processor.StoredCredential{}, err
	}
	return rs[0].Processor, rs[0].Credential, nil
}

// Processor is the default processor: new cards go to it unless routing
// picks another.
func (p *PaymentMethods) Processor() string { return p.router.Default() }

// client is the loaded processor called name (active or retired), nil when
// none is.
func (p *PaymentMethods) client(name string) Checkouts { return p.clients[name] }

// Remove forgets every card the viewer has on file. Open seats keep their
// own copy of the credential they were opened with, and refunds go by the
// charge, so nothing in flight needs the rows.
func (p *PaymentMethods) Remove(ctx context.Context, userID string) error {
	return dbErr("remove card", p.svc.db.Gorm().WithContext(ctx).Exec(`DELETE FROM payment_methods WHERE user_id = ?`, userID).Error)
}

// CardProcessors counts, per processor, the cards on file and the credit
// pack purchases still pending there: each keeps its processor needed (a
// card's refunds and chargebacks, a purchase's finishing) after the operator
// changes plugins.processor.
func CardProcessors(ctx context.Context, db *store.DB) (cards, pending map[string]int, err error) {
	count := func(q string) (map[string]int, error) {
		m, err := db.CountBy(ctx, q)
		return m, dbErr("cards by processor", err)
	}
	if cards, err = count(`SELECT processor, COUNT(*) FROM payment_methods GROUP BY processor`); err != nil {
		return nil, nil, err
	}
	pending, err = count(`SELECT processor, COUNT(*) FROM credit_pack_purchases WHERE state = 'pending' GROUP BY processor`)
	return cards, pending, err
}
