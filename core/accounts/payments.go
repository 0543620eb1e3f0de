package accounts

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"regexp"
	"time"

	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
	"gorm.io/gorm"
)

// Card is the card on file as it may be shown: never a number.
type Card struct {
	Processor string
	Brand     string
	Last4     string
	ExpMonth  int
	ExpYear   int
	AddedAt   time.Time
}

// PaymentMethods keeps one card on file per viewer, through the active
// processor's own checkout. Adding a card again replaces the old one.
type PaymentMethods struct {
	svc  *Service
	name string // the processor's name in config, "sandbox"
	proc Checkouts
}

// NewPaymentMethods serves cards through proc, the processor configured as name.
func NewPaymentMethods(svc *Service, name string, proc Checkouts) *PaymentMethods {
	return &PaymentMethods{svc: svc, name: name, proc: proc}
}

// ReturnParam is the query parameter BeginAddCard adds to the return URL:
// CompleteAddCard finds the checkout by it.
const ReturnParam = "card_checkout"

const checkoutTTL = time.Hour

// BeginAddCard starts the processor's checkout for storing a card (nothing is
// charged) and says where to send the viewer. returnURL is where the
// processor sends them back (absolute, or a path on this site); it gets
// ?card_checkout=<id> added.
//
// key is the client's idempotency key ("" for none): under a key the
// checkout is derived from (user, key), so a retry starts the same checkout
// at the processor (same processor idempotency key) instead of another.
func (p *PaymentMethods) BeginAddCard(ctx context.Context, userID, returnURL, key string) (processor.Checkout, error) {
	u, err := p.svc.User(ctx, userID)
	if err != nil {
		return processor.Checkout{}, err
	}
	if u.Role != RoleViewer || u.Status != StatusActive {
		return processor.Checkout{}, errs.E(errs.Forbidden, "only viewer accounts keep a card on file")
	}
	ru, err := url.Parse(returnURL)
	if err != nil || returnURL == "" {
		return processor.Checkout{}, errs.E(errs.Invalid, "return URL %q is not a URL", returnURL)
	}
	if len(key) > maxClientKeyLen {
		return processor.Checkout{}, errs.E(errs.Invalid, "idempotency key longer than %d characters", maxClientKeyLen)
	}
	id := newID()
	if key != "" {
		id = idempotency.ID("cardcheckout", userID, key)
	}
	q := ru.Query()
	q.Set(ReturnParam, id)
	ru.RawQuery = q.Encode()
	now := p.svc.now()
	// A retry under the key finds its row (ON CONFLICT) and asks the
	// processor again under the same key, which answers the same checkout.
	if err := p.svc.db.Gorm().WithContext(ctx).Exec(`INSERT INTO card_checkouts (id, user_id, processor, created_at, expires_at, client_key)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		id, userID, p.name, now, now.Add(checkoutTTL), key).Error; err != nil {
		return processor.Checkout{}, dbErr("start card checkout", err)
	}
	co, err := p.proc.StartCheckout(ctx, processor.StartCheckoutRequest{
		IdempotencyKey: "card/" + userID + "/" + id,
		CustomerRef:    userID,
		ReturnURL:      ru.String(),
		Description:    "Save a card for later payments",
	})
	if err != nil {
		return processor.Checkout{}, err
	}
	if err := p.svc.db.Gorm().WithContext(ctx).Exec(`UPDATE card_checkouts SET reference = ? WHERE id = ?`, co.Reference, id).Error; err != nil {
		return processor.Checkout{}, dbErr("start card checkout", err)
	}
	return co, nil
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
	case proc != p.name:
		return Card{}, errs.E(errs.Conflict, "this checkout was started with processor %s, the site now uses %s: add the card again", proc, p.name)
	case !now.Before(expires):
		return Card{}, errs.E(errs.Invalid, "this card checkout has expired: start again")
	case ref == "":
		return Card{}, errs.E(errs.Invalid, "this card checkout never reached the processor: start again")
	}
	res, err := p.proc.CompleteCheckout(ctx, processor.CompleteCheckoutRequest{CheckoutReference: ref, CustomerRef: userID, Params: params})
	if err != nil {
		return Card{}, err
	}
	if res.Pending {
		return Card{}, errs.Retry(errs.Unavailable, "the processor is still confirming the card: try again in a moment")
	}
	if res.Credential == nil {
		return Card{}, errs.E(errs.Internal, "processor %s completed checkout %s without a credential", p.name, ref)
	}
	c := *res.Credential
	if err := checkCredential(c); err != nil {
		return Card{}, err
	}
	card := Card{Processor: p.name, Brand: c.Brand, Last4: c.Last4, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear, AddedAt: now}
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
		if err := tx.Exec(`DELETE FROM payment_methods WHERE user_id = ?`, userID).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO payment_methods (user_id, processor, token, brand, last4, exp_month, exp_year, customer_ref, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, userID, p.name, c.Token, c.Brand, c.Last4, c.ExpMonth, c.ExpYear, c.CustomerRef, now).Error
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
// opaque, but a Luhn-valid 13-19 digit run in it is treated as a number.
func checkCredential(c processor.StoredCredential) error {
	if err := processor.ValidateCredential(c); err != nil {
		return err
	}
	for _, f := range []string{c.Token, c.Brand, c.Last4, c.CustomerRef} {
		for _, m := range panLike.FindAllString(f, -1) {
			if luhn(m) {
				return errs.E(errs.Internal, "the processor returned a credential that looks like a card number: refused, nothing stored")
			}
		}
	}
	if c.Last4 != "" && (len(c.Last4) != 4 || !allDigits(c.Last4)) {
		return errs.E(errs.Internal, "the processor returned last4 %q: want 4 digits", c.Last4)
	}
	return nil
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

// Card returns the viewer's card on file, errs.NotFound when none.
func (p *PaymentMethods) Card(ctx context.Context, userID string) (Card, error) {
	var c Card
	err := p.svc.db.Gorm().WithContext(ctx).Raw(`SELECT processor, brand, last4, exp_month, exp_year, created_at FROM payment_methods WHERE user_id = ?`,
		userID).Row().Scan(&c.Processor, &c.Brand, &c.Last4, &c.ExpMonth, &c.ExpYear, &c.AddedAt)
	if err == sql.ErrNoRows {
		return Card{}, errs.E(errs.NotFound, "no card on file: add one first")
	}
	if err != nil {
		return Card{}, dbErr("card on file", err)
	}
	c.AddedAt = c.AddedAt.UTC()
	return c, nil
}

// Credential is the stored credential to charge or authorise, for billing
// and credit packs. A card stored with another processor than the active one
// cannot be used (errs.NotFound, asking for the card again).
func (p *PaymentMethods) Credential(ctx context.Context, userID string) (processor.StoredCredential, error) {
	var (
		c    processor.StoredCredential
		proc string
	)
	err := p.svc.db.Gorm().WithContext(ctx).Raw(`SELECT processor, token, brand, last4, exp_month, exp_year, customer_ref FROM payment_methods WHERE user_id = ?`,
		userID).Row().Scan(&proc, &c.Token, &c.Brand, &c.Last4, &c.ExpMonth, &c.ExpYear, &c.CustomerRef)
	if err == sql.ErrNoRows {
		return processor.StoredCredential{}, errs.E(errs.NotFound, "no card on file: add one first")
	}
	if err != nil {
		return processor.StoredCredential{}, dbErr("card on file", err)
	}
	if proc != p.name {
		return processor.StoredCredential{}, errs.E(errs.NotFound, "the card on file was stored with %s; the site now uses %s: add it again", proc, p.name)
	}
	return c, nil
}

// Processor is the name of the processor cards are stored with.
func (p *PaymentMethods) Processor() string { return p.name }

// Remove forgets the viewer's card on file.
func (p *PaymentMethods) Remove(ctx context.Context, userID string) error {
	return dbErr("remove card", p.svc.db.Gorm().WithContext(ctx).Exec(`DELETE FROM payment_methods WHERE user_id = ?`, userID).Error)
}
