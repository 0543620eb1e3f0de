package main

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

// checkout is one hosted purchase; Segpay's TransPost fills in its outcome.
type checkout struct {
	Key         string       `json:"key"`
	CustomerRef string       `json:"customer_ref"`
	ReturnURL   string       `json:"return_url"`
	Purchase    money.Money  `json:"purchase"`
	ExpiresAt   time.Time    `json:"expires_at"`
	PurchaseID  string       `json:"purchase_id,omitempty"` // the OCToken
	TranID      string       `json:"tran_id,omitempty"`
	Decline     *errs.Error  `json:"decline,omitempty"`
	Card        *cardSummary `json:"card,omitempty"`
}

type cardSummary struct {
	Brand string `json:"brand,omitempty"`
	Last4 string `json:"last4,omitempty"`
}

// StartCheckout sends the viewer to Segpay's hosted page with a dynamic
// price. Segpay stores a card only with a purchase: the first credit pack
// (or any first purchase) is what later Post Pay and one-click charges use.
func (s *Segpay) StartCheckout(ctx context.Context, req processor.StartCheckoutRequest) (processor.Checkout, error) {
	cfg, err := s.configured()
	if err != nil {
		return processor.Checkout{}, err
	}
	if err := processor.ValidateIdempotencyKey(req.IdempotencyKey); err != nil {
		return processor.Checkout{}, err
	}
	if err := processorkit.CheckReturnURL("return URL", req.ReturnURL, true); err != nil {
		return processor.Checkout{}, err
	}
	if req.Purchase == nil {
		return processor.Checkout{}, errs.E(errs.Invalid, "segpay: a card is stored only with a first purchase; give the checkout a Purchase")
	}
	if req.Recurring != nil {
		return processor.Checkout{}, errs.E(errs.Unsupported, "segpay: this plugin starts no recurring memberships")
	}
	if err := processor.ValidateAmount(*req.Purchase, []string{cfg.Currency}); err != nil {
		return processor.Checkout{}, err
	}
	key := req.IdempotencyKey
	fp := processorkit.Fingerprint("checkout", req.CustomerRef, req.ReturnURL, req.Purchase, req.Description)
	_, out, done, err := beginOp[processor.Checkout](s, key, fp)
	if done {
		return out, err
	}
	amt, err := amountText(*req.Purchase)
	if err != nil {
		return processor.Checkout{}, err
	}
	hash, err := s.pricingHash(ctx, amt)
	if err != nil {
		return processor.Checkout{}, err
	}
	now := s.now().UTC()
	ref := processorkit.NewRef("seg_co_")
	back := processorkit.WithQuery(req.ReturnURL, url.Values{"checkout": {ref}})
	desc := req.Description
	if desc == "" {
		desc = "Purchase"
	}
	q := url.Values{"x-eticketid": {cfg.EticketID}, "amount": {amt}, "dynamictrans": {hash}, "dynamicdesc": {desc},
		"x-auth-link": {back}, "x-decl-link": {back}, "camkit_ref": {ref}}
	co := &checkout{Key: key, CustomerRef: req.CustomerRef, ReturnURL: req.ReturnURL, Purchase: *req.Purchase, ExpiresAt: now.Add(checkoutTTL)}
	res := processor.Checkout{Reference: ref, URL: cfg.HostedURL + "?" + q.Encode(), Method: http.MethodGet, ExpiresAt: co.ExpiresAt}
	return res, s.finish(key, fp, now, res, func(st *state) { st.Checkouts[ref] = co })
}

// CompleteCheckout reads what Segpay's TransPost said about the purchase.
// The viewer's return link carries nothing trusted: until the postback has
// arrived the result is Pending.
func (s *Segpay) CompleteCheckout(_ context.Context, req processor.CompleteCheckoutRequest) (processor.CheckoutResult, error) {
	if _, err := s.configured(); err != nil {
		return processor.CheckoutResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	co := s.st.Checkouts[req.CheckoutReference]
	switch {
	case co == nil:
		return processor.CheckoutResult{}, errs.E(errs.NotFound, "segpay: no checkout %q", req.CheckoutReference)
	case req.CustomerRef != "" && req.CustomerRef != co.CustomerRef:
		return processor.CheckoutResult{}, errs.E(errs.Forbidden, "segpay: checkout %s belongs to another customer", req.CheckoutReference)
	case co.Decline != nil:
		e := *co.Decline
		return processor.CheckoutResult{}, &e
	case co.PurchaseID == "":
		return processor.CheckoutResult{Pending: true}, nil
	}
	cred := &processor.StoredCredential{Token: co.PurchaseID, CustomerRef: co.CustomerRef}
	if co.Card != nil {
		cred.Brand, cred.Last4 = co.Card.Brand, co.Card.Last4
	}
	return processor.CheckoutResult{Credential: cred, Charge: &processor.ChargeResult{Reference: co.TranID, Amount: co.Purchase}}, nil
}

// ServeHTTP: the card page is Segpay's own; the plugin serves no routes.
func (s *Segpay) ServeHTTP(context.Context, processor.HTTPRequest) (processor.HTTPResponse, error) {
	return processorkit.PlainResponse(http.StatusNotFound, "not found"), nil
}
