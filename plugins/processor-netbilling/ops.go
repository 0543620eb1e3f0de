package main

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

func checkMoney(key string, amt money.Money) error {
	if err := processor.ValidateIdempotencyKey(key); err != nil {
		return err
	}
	return processor.ValidateAmount(amt, currencies)
}

// checkStoredCard accepts only NETbilling's stored-card reference,
// CS:<trans_id>: above all never a card number.
func checkStoredCard(c processor.StoredCredential) error {
	if err := processor.ValidateCredential(c); err != nil {
		return err
	}
	id, ok := strings.CutPrefix(c.Token, "CS:")
	if !ok || id == "" || len(id) > 32 || strings.Trim(id, "0123456789") != "" {
		return errs.E(errs.InvalidCard, "netbilling: %q is not a stored card reference (CS:<trans_id>)", c.Token)
	}
	return nil
}

func (n *NETbilling) holdExpiry() time.Time {
	n.mu.Lock()
	days := n.cfg.MaxHoldDays
	n.mu.Unlock()
	return n.now().Add(time.Duration(days) * 24 * time.Hour).UTC()
}

// approved returns the trans_id of an approved answer.
func approved(r directResponse) (string, error) {
	if r.TransID == "" {
		return "", errs.Retry(errs.Unavailable, "netbilling: approved without a trans_id")
	}
	return r.TransID, nil
}

// cardForm is an A or S request on a stored card.
func cardForm(tranType string, cred processor.StoredCredential, amt money.Money, desc string) func() (url.Values, error) {
	return func() (url.Values, error) {
		a, err := wireAmount(amt)
		if err != nil {
			return nil, err
		}
		f := url.Values{"tran_type": {tranType}, "pay_type": {"C"}, "card_number": {cred.Token}, "amount": {a}}
		if desc != "" {
			f.Set("description", desc)
		}
		return f, nil
	}
}

func noCheck(*state) error { return nil }

func (n *NETbilling) Authorize(ctx context.Context, req processor.AuthorizeRequest) (processor.Authorization, error) {
	if err := checkMoney(req.IdempotencyKey, req.Amount); err != nil {
		return processor.Authorization{}, err
	}
	if err := checkStoredCard(req.Credential); err != nil {
		return processor.Authorization{}, err
	}
	return run(ctx, n, call[processor.Authorization]{
		key: req.IdempotencyKey, fingerprint: processorkit.Fingerprint("authorize", req.Credential.Token, req.Amount), check: noCheck,
		form: cardForm("A", req.Credential, req.Amount, req.Description),
		result: func(r directResponse) (processor.Authorization, error) {
			id, err := approved(r)
			return processor.Authorization{Reference: id, Amount: req.Amount, ExpiresAt: n.holdExpiry()}, err
		},
		apply: func(st *state, a processor.Authorization) {
			st.Holds[a.Reference] = &hold{Token: req.Credential.Token, Amount: a.Amount, Status: holdOpen, ExpiresAt: a.ExpiresAt}
		},
	})
}

func (n *NETbilling) Charge(ctx context.Context, req processor.ChargeRequest) (processor.ChargeResult, error) {
	if err := checkMoney(req.IdempotencyKey, req.Amount); err != nil {
		return processor.ChargeResult{}, err
	}
	if err := checkStoredCard(req.Credential); err != nil {
		return processor.ChargeResult{}, err
	}
	return run(ctx, n, call[processor.ChargeResult]{
		key: req.IdempotencyKey, fingerprint: processorkit.Fingerprint("charge", req.Credential.Token, req.Amount), check: noCheck,
		form: cardForm("S", req.Credential, req.Amount, req.Description),
		result: func(r directResponse) (processor.ChargeResult, error) {
			id, err := approved(r)
			return processor.ChargeResult{Reference: id, Amount: req.Amount}, err
		},
		apply: func(st *state, c processor.ChargeResult) { st.Payments[c.Reference] = &payment{Amount: c.Amount} },
	})
}

func openHold(st *state, ref string) (*hold, error) {
	h := st.Holds[ref]
	switch {
	case h == nil:
		return nil, errs.E(errs.NotFound, "netbilling: no authorisation %q", ref)
	case h.Status == holdCaptured:
		return nil, errs.E(errs.Conflict, "netbilling: authorisation %s was already captured; its remainder is released", ref)
	case h.Status == holdVoided:
		return nil, errs.E(errs.Conflict, "netbilling: authorisation %s was voided", ref)
	case h.InDoubt != "":
		return nil, errs.E(errs.Conflict, "netbilling: authorisation %s has a capture of unknown outcome (idempotency key %q): "+
			"nothing more is sent for it until it is settled by hand in NETbilling's transaction report", ref, h.InDoubt)
	}
	return h, nil
}

func (n *NETbilling) holdAmount(ref string) (money.Money, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if h := n.st.Holds[ref]; h != nil {
		return h.Amount, true
	}
	return money.Money{}, false
}

// capturable checks that req may take money from hold h.
func (n *NETbilling) capturable(st *state, req processor.CaptureRequest) error {
	h, err := openHold(st, req.AuthorizationReference)
	if err != nil {
		return err
	}
	switch {
	case !n.now().Before(h.ExpiresAt):
		return errs.E(errs.AuthExpired, "netbilling: authorisation %s expired at %s", req.AuthorizationReference, h.ExpiresAt.Format(time.RFC3339))
	case req.Amount.Amount > h.Amount.Amount:
		return errs.E(errs.Invalid, "netbilling: capture of %s exceeds the hold of %s", req.Amount, h.Amount)
	}
	return nil
}

// Capture takes the price from a hold. Direct Mode's capture (tran_type D)
// is sent only for the whole authorised amount: no NETbilling document
// confirms that it honours a smaller amount (ActiveMerchant's netbilling.rb
// sends none with D, NETbilling's own WooCommerce plugin sends one), and if
// it is ignored the viewer pays the whole hold. A smaller price voids the
// hold (U) and charges exactly the price as a sale (S) on the stored card
// the hold was made on: one charge of the price, the hold released. Void
// first, so the sale does not compete with the hold for the card's limit.
func (n *NETbilling) Capture(ctx context.Context, req processor.CaptureRequest) (processor.CaptureResult, error) {
	if err := checkMoney(req.IdempotencyKey, req.Amount); err != nil {
		return processor.CaptureResult{}, err
	}
	n.mu.Lock()
	if n.st == nil {
		n.mu.Unlock()
		return processor.CaptureResult{}, errs.Retry(errs.Unavailable, "netbilling processor is not configured yet")
	}
	var h hold
	if p := n.st.Holds[req.AuthorizationReference]; p != nil {
		h = *p
	}
	n.mu.Unlock()
	if h.Amount.Currency == "" || req.Amount == h.Amount {
		return n.captureWhole(ctx, req)
	}
	released, err := h.Amount.Sub(req.Amount)
	if err != nil || released.Amount < 0 {
		return processor.CaptureResult{}, errs.E(errs.Invalid, "netbilling: capture of %s exceeds the hold of %s", req.Amount, h.Amount)
	}
	ref := req.AuthorizationReference
	if h.CaptureKey != req.IdempotencyKey {
		if _, err := run(ctx, n, call[processor.VoidResult]{
			key: req.IdempotencyKey + "/void-hold", fingerprint: processorkit.Fingerprint("capture-void", ref, req.Amount),
			check: func(st *state) error { return n.capturable(st, req) },
			form: func() (url.Values, error) {
				return url.Values{"tran_type": {"U"}, "pay_type": {"C"}, "orig_id": {ref}}, nil
			},
			result: func(r directResponse) (processor.VoidResult, error) {
				id, err := approved(r)
				return processor.VoidResult{Reference: id, Amount: h.Amount}, err
			},
			apply: func(st *state, _ processor.VoidResult) {
				if p := st.Holds[ref]; p != nil {
					p.Status, p.CaptureKey = holdVoided, req.IdempotencyKey
				}
			},
			unknown: func(st *state) {
				if p := st.Holds[ref]; p != nil {
					p.InDoubt = req.IdempotencyKey
				}
			},
		}); err != nil {
			return processor.CaptureResult{}, err
		}
	}
	cred := processor.StoredCredential{Token: h.Token}
	return run(ctx, n, call[processor.CaptureResult]{
		key: req.IdempotencyKey + "/sale", fingerprint: processorkit.Fingerprint("capture-sale", ref, req.Amount),
		check: func(st *state) error {
			if p := st.Holds[ref]; p == nil || p.CaptureKey != req.IdempotencyKey {
				return errs.E(errs.Conflict, "netbilling: authorisation %s was not voided for capture %s", ref, req.IdempotencyKey)
			}
			return nil
		},
		form: cardForm("S", cred, req.Amount, ""),
		result: func(r directResponse) (processor.CaptureResult, error) {
			id, err := approved(r)
			return processor.CaptureResult{Reference: id, Amount: req.Amount, Released: released}, err
		},
		apply: func(st *state, c processor.CaptureResult) {
			if p := st.Holds[ref]; p != nil {
				p.Status = holdCaptured
			}
			st.Payments[c.Reference] = &payment{Amount: c.Amount}
		},
	})
}

// captureWhole captures the whole hold with tran_type D.
func (n *NETbilling) captureWhole(ctx context.Context, req processor.CaptureRequest) (processor.CaptureResult, error) {
	return run(ctx, n, call[processor.CaptureResult]{
		key: req.IdempotencyKey, fingerprint: processorkit.Fingerprint("capture", req.AuthorizationReference, req.Amount),
		check: func(st *state) error { return n.capturable(st, req) },
		form: func() (url.Values, error) {
			a, err := wireAmount(req.Amount)
			return url.Values{"tran_type": {"D"}, "pay_type": {"C"}, "orig_id": {req.AuthorizationReference}, "amount": {a}}, err
		},
		result: func(r directResponse) (processor.CaptureResult, error) {
			id, err := approved(r)
			return processor.CaptureResult{Reference: id, Amount: req.Amount, Released: money.Money{Currency: req.Amount.Currency}}, err
		},
		apply: func(st *state, c processor.CaptureResult) {
			if h := st.Holds[req.AuthorizationReference]; h != nil {
				h.Status = holdCaptured
			}
			st.Payments[c.Reference] = &payment{Amount: c.Amount}
		},
		unknown: func(st *state) {
			if h := st.Holds[req.AuthorizationReference]; h != nil {
				h.InDoubt = req.IdempotencyKey
			}
		},
	})
}

func (n *NETbilling) Void(ctx context.Context, req processor.VoidRequest) (processor.VoidResult, error) {
	if err := processor.ValidateIdempotencyKey(req.IdempotencyKey); err != nil {
		return processor.VoidResult{}, err
	}
	return run(ctx, n, n.voidCall(req.IdempotencyKey, req.AuthorizationReference))
}

func (n *NETbilling) voidCall(key, ref string) call[processor.VoidResult] {
	return call[processor.VoidResult]{
		key: key, fingerprint: processorkit.Fingerprint("void", ref),
		check: func(st *state) error {
			_, err := openHold(st, ref)
			return err
		},
		form: func() (url.Values, error) {
			return url.Values{"tran_type": {"U"}, "pay_type": {"C"}, "orig_id": {ref}}, nil
		},
		result: func(r directResponse) (processor.VoidResult, error) {
			id, err := approved(r)
			if err != nil {
				return processor.VoidResult{}, err
			}
			held, _ := n.holdAmount(ref)
			return processor.VoidResult{Reference: id, Amount: held}, nil
		},
		apply: func(st *state, _ processor.VoidResult) {
			if h := st.Holds[ref]; h != nil {
				h.Status = holdVoided
			}
		},
	}
}

func (n *NETbilling) Refund(ctx context.Context, req processor.RefundRequest) (processor.RefundResult, error) {
	if err := checkMoney(req.IdempotencyKey, req.Amount); err != nil {
		return processor.RefundResult{}, err
	}
	return run(ctx, n, call[processor.RefundResult]{
		key: req.IdempotencyKey, fingerprint: processorkit.Fingerprint("refund", req.Reference, req.Amount),
		check: func(st *state) error {
			p := st.Payments[req.Reference]
			switch {
			case p == nil:
				return errs.E(errs.NotFound, "netbilling: no capture or sale %q", req.Reference)
			case req.Amount.Amount > p.Amount.Amount-p.Refunded:
				return errs.E(errs.Invalid, "netbilling: refund of %s exceeds the %d cents left to refund", req.Amount, p.Amount.Amount-p.Refunded)
			}
			return nil
		},
		form: func() (url.Values, error) {
			a, err := wireAmount(req.Amount)
			return url.Values{"tran_type": {"R"}, "pay_type": {"C"}, "orig_id": {req.Reference}, "amount": {a}}, err
		},
		result: func(r directResponse) (processor.RefundResult, error) {
			id, err := approved(r)
			return processor.RefundResult{Reference: id, Amount: req.Amount}, err
		},
		apply: func(st *state, r processor.RefundResult) {
			if p := st.Payments[req.Reference]; p != nil {
				p.Refunded += r.Amount.Amount
			}
			st.Refunds[r.Reference] = req.Reference
		},
	})
}

// CancelRecurring is not offered: camkit bills subscriptions itself by
// charging the stored card, so no NETbilling membership rebills.
func (n *NETbilling) CancelRecurring(context.Context, processor.CancelRecurringRequest) error {
	return errs.E(errs.Unsupported, "netbilling: native recurring billing is not used; nothing to cancel")
}
