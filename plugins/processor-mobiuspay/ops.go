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

// wireAmount renders m the way transact.php wants it: major units with the
// currency's exponent of decimals (12.34 USD, 5000 JPY, 1.005 BHD).
func wireAmount(m money.Money) (string, error) {
	s, err := money.FormatDecimal(m)
	if err != nil {
		return "", errs.E(errs.UnknownCurrency, "%q is not an ISO 4217 currency", m.Currency)
	}
	return s, nil
}

// parseWireAmount reads an amount NMI reports back, exactly.
func parseWireAmount(s, currency string) (money.Money, error) {
	m, err := money.ParseDecimal(strings.TrimSpace(s), currency)
	if err != nil {
		return money.Money{}, errs.Retry(errs.Unavailable, "mobiuspay: amount %q in %s: %v", s, currency, err)
	}
	return m, nil
}

func (m *MobiusPay) checkMoney(key string, amt money.Money) error {
	if err := processor.ValidateIdempotencyKey(key); err != nil {
		return err
	}
	return processor.ValidateAmount(amt, m.currencies())
}

// checkVaultID refuses anything that does not look like a customer vault id:
// above all a card number, which must never be sent from here.
func checkVaultID(c processor.StoredCredential) error {
	if err := processor.ValidateCredential(c); err != nil {
		return err
	}
	if len(c.Token) > 64 || strings.ContainsAny(c.Token, " &=\r\n\t") {
		return errs.E(errs.InvalidCard, "mobiuspay: %q is not a customer vault id", c.Token)
	}
	return nil
}

// holdExpiry is when an authorisation placed at t stops being capturable.
func (m *MobiusPay) holdExpiry(t time.Time) time.Time {
	m.mu.Lock()
	days := m.cfg.MaxHoldDays
	m.mu.Unlock()
	return t.Add(time.Duration(days) * 24 * time.Hour).UTC()
}

// dateLayouts are the ways NMI writes an action date: YYYYMMDDhhmmss in
// query.php and its documentation, 2006-01-02T15:04:05 in its webhook
// sample. Both are read as UTC (to confirm with MobiusPay).
var dateLayouts = []string{"20060102150405", "2006-01-02T15:04:05", time.RFC3339, "2006-01-02 15:04:05"}

// actionTime reads an action date; zero if unreadable.
func actionTime(s string) time.Time {
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// newTransaction is a request that creates an NMI transaction on a vaulted
// card (auth or sale). It returns the transaction id and the amount taken.
func (m *MobiusPay) newTransaction(ctx context.Context, kind, vaultID, orderID, desc string, amt money.Money) (string, time.Time, error) {
	a, err := wireAmount(amt)
	if err != nil {
		return "", time.Time{}, err
	}
	form := url.Values{
		"type": {kind}, "customer_vault_id": {vaultID}, "amount": {a}, "currency": {amt.Currency},
		"orderid": {orderID}, "initiated_by": {"customer"}, "stored_credential_indicator": {"used"},
		// The gateway's own duplicate check compares card and amount: it
		// would refuse a second block of the same price. Idempotency keys and
		// orderid lookups do that job exactly.
		"dup_seconds": {"0"},
	}
	if desc != "" {
		form.Set("order_description", desc)
	}
	r, err := m.nmi().transact(ctx, form)
	if err != nil {
		return "", time.Time{}, err
	}
	if r.TransactionID == "" {
		return "", time.Time{}, errs.Retry(errs.Unavailable, "mobiuspay: %s approved without a transactionid", kind)
	}
	return r.TransactionID, m.now(), nil
}

// lookupNew finds the auth or sale sent under orderID.
func (m *MobiusPay) lookupNew(ctx context.Context, kind, orderID string) (string, time.Time, bool, error) {
	q, err := m.nmi().query(ctx, url.Values{"order_id": {orderID}})
	if err != nil {
		return "", time.Time{}, false, err
	}
	t, a, ok := findAction(q.Transactions, kind)
	if !ok {
		return "", time.Time{}, false, nil
	}
	if a.Success != "1" {
		if movedNothing(a.ResponseCode) {
			// The gateway or the processor refused it as a whole (a
			// communication error, a format error): nothing was authorised,
			// so the same orderid may go again.
			return "", time.Time{}, false, nil
		}
		return "", time.Time{}, true, declineError(a.ResponseCode, a.ResponseText)
	}
	at := actionTime(a.Date)
	if at.IsZero() {
		at = m.now()
	}
	return t.TransactionID, at, true, nil
}

func (m *MobiusPay) Authorize(ctx context.Context, req processor.AuthorizeRequest) (processor.Authorization, error) {
	if err := m.checkMoney(req.IdempotencyKey, req.Amount); err != nil {
		return processor.Authorization{}, err
	}
	if err := checkVaultID(req.Credential); err != nil {
		return processor.Authorization{}, err
	}
	auth := func(id string, at time.Time) processor.Authorization {
		return processor.Authorization{Reference: id, Amount: req.Amount, ExpiresAt: m.holdExpiry(at)}
	}
	return run(ctx, m, call[processor.Authorization]{
		key: req.IdempotencyKey, fingerprint: processorkit.Fingerprint("authorize", req.Credential.Token, req.Amount),
		check: func(*state) error { return nil },
		send: func(ctx context.Context, orderID string) (processor.Authorization, error) {
			id, at, err := m.newTransaction(ctx, "auth", req.Credential.Token, orderID, req.Description, req.Amount)
			return auth(id, at), err
		},
		lookup: func(ctx context.Context, orderID string) (processor.Authorization, bool, error) {
			id, at, found, err := m.lookupNew(ctx, "auth", orderID)
			return auth(id, at), found, err
		},
		apply: func(st *state, a processor.Authorization) {
			st.Holds[a.Reference] = &hold{VaultID: req.Credential.Token, Amount: a.Amount, Status: holdOpen, ExpiresAt: a.ExpiresAt}
		},
	})
}

func (m *MobiusPay) Charge(ctx context.Context, req processor.ChargeRequest) (processor.ChargeResult, error) {
	if err := m.checkMoney(req.IdempotencyKey, req.Amount); err != nil {
		return processor.ChargeResult{}, err
	}
	if err := checkVaultID(req.Credential); err != nil {
		return processor.ChargeResult{}, err
	}
	return run(ctx, m, m.saleCall(req.IdempotencyKey, req.Credential.Token, req.Description, req.Amount))
}

// saleCall charges a vaulted card now; a checkout's purchase uses it too.
func (m *MobiusPay) saleCall(key, vaultID, desc string, amt money.Money) call[processor.ChargeResult] {
	return call[processor.ChargeResult]{
		key: key, fingerprint: processorkit.Fingerprint("charge", vaultID, amt),
		check: func(*state) error { return nil },
		send: func(ctx context.Context, orderID string) (processor.ChargeResult, error) {
			id, _, err := m.newTransaction(ctx, "sale", vaultID, orderID, desc, amt)
			return processor.ChargeResult{Reference: id, Amount: amt}, err
		},
		lookup: func(ctx context.Context, orderID string) (processor.ChargeResult, bool, error) {
			id, _, found, err := m.lookupNew(ctx, "sale", orderID)
			return processor.ChargeResult{Reference: id, Amount: amt}, found, err
		},
		apply: func(st *state, c processor.ChargeResult) {
			st.Payments[c.Reference] = &payment{Amount: c.Amount}
		},
	}
}

// openHold finds a hold that can still be captured or voided.
func openHold(st *state, ref string) (*hold, error) {
	h := st.Holds[ref]
	switch {
	case h == nil:
		return nil, errs.E(errs.NotFound, "mobiuspay: no authorisation %q", ref)
	case h.Status == holdCaptured:
		return nil, errs.E(errs.Conflict, "mobiuspay: authorisation %s was already captured; its remainder is released", ref)
	case h.Status == holdVoided:
		return nil, errs.E(errs.Conflict, "mobiuspay: authorisation %s was voided", ref)
	}
	return h, nil
}

// holdAmount is the amount of the hold ref, as recorded when it was placed.
func (m *MobiusPay) holdAmount(ref string) (money.Money, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := m.st.Holds[ref]; h != nil {
		return h.Amount, true
	}
	return money.Money{}, false
}

func (m *MobiusPay) Capture(ctx context.Context, req processor.CaptureRequest) (processor.CaptureResult, error) {
	if err := m.checkMoney(req.IdempotencyKey, req.Amount); err != nil {
		return processor.CaptureResult{}, err
	}
	result := func(id string, captured money.Money) (processor.CaptureResult, error) {
		held, ok := m.holdAmount(req.AuthorizationReference)
		if !ok {
			return processor.CaptureResult{}, errs.E(errs.NotFound, "mobiuspay: no authorisation %q", req.AuthorizationReference)
		}
		released, err := held.Sub(captured)
		if err != nil || released.Amount < 0 {
			return processor.CaptureResult{}, errs.E(errs.Internal, "mobiuspay: captured %s of a hold of %s", captured, held)
		}
		return processor.CaptureResult{Reference: id, Amount: captured, Released: released}, nil
	}
	return run(ctx, m, call[processor.CaptureResult]{
		key: req.IdempotencyKey, fingerprint: processorkit.Fingerprint("capture", req.AuthorizationReference, req.Amount),
		check: func(st *state) error {
			h, err := openHold(st, req.AuthorizationReference)
			if err != nil {
				return err
			}
			switch {
			case !m.now().Before(h.ExpiresAt):
				return errs.E(errs.AuthExpired, "mobiuspay: authorisation %s expired at %s", req.AuthorizationReference, h.ExpiresAt.Format(time.RFC3339))
			case req.Amount.Currency != h.Amount.Currency:
				return errs.E(errs.Invalid, "mobiuspay: capture in %s of a hold in %s", req.Amount.Currency, h.Amount.Currency)
			case req.Amount.Amount > h.Amount.Amount:
				return errs.E(errs.Invalid, "mobiuspay: capture of %s exceeds the hold of %s", req.Amount, h.Amount)
			}
			return nil
		},
		send: func(ctx context.Context, orderID string) (processor.CaptureResult, error) {
			a, err := wireAmount(req.Amount)
			if err != nil {
				return processor.CaptureResult{}, err
			}
			r, err := m.nmi().transact(ctx, url.Values{"type": {"capture"}, "transactionid": {req.AuthorizationReference}, "amount": {a}, "orderid": {orderID}})
			if err != nil {
				return processor.CaptureResult{}, err
			}
			id := r.TransactionID
			if id == "" {
				id = req.AuthorizationReference // NMI captures on the authorisation's transaction
			}
			return result(id, req.Amount)
		},
		lookup: func(ctx context.Context, _ string) (processor.CaptureResult, bool, error) {
			q, err := m.nmi().query(ctx, url.Values{"transaction_id": {req.AuthorizationReference}})
			if err != nil {
				return processor.CaptureResult{}, false, err
			}
			t, a, ok := findAction(q.Transactions, "capture")
			if !ok || a.Success != "1" {
				return processor.CaptureResult{}, false, nil // a failed capture moved nothing: send again
			}
			captured, err := parseWireAmount(a.Amount, req.Amount.Currency)
			if err != nil {
				return processor.CaptureResult{}, false, err
			}
			res, err := result(t.TransactionID, captured)
			return res, true, err
		},
		apply: func(st *state, c processor.CaptureResult) {
			if h := st.Holds[req.AuthorizationReference]; h != nil {
				h.Status = holdCaptured
			}
			st.Payments[c.Reference] = &payment{Amount: c.Amount}
		},
	})
}

func (m *MobiusPay) Void(ctx context.Context, req processor.VoidRequest) (processor.VoidResult, error) {
	if err := processor.ValidateIdempotencyKey(req.IdempotencyKey); err != nil {
		return processor.VoidResult{}, err
	}
	result := func(id string) (processor.VoidResult, error) {
		held, ok := m.holdAmount(req.AuthorizationReference)
		if !ok {
			return processor.VoidResult{}, errs.E(errs.NotFound, "mobiuspay: no authorisation %q", req.AuthorizationReference)
		}
		return processor.VoidResult{Reference: id, Amount: held}, nil
	}
	return run(ctx, m, call[processor.VoidResult]{
		key: req.IdempotencyKey, fingerprint: processorkit.Fingerprint("void", req.AuthorizationReference),
		check: func(st *state) error {
			_, err := openHold(st, req.AuthorizationReference)
			return err
		},
		send: func(ctx context.Context, _ string) (processor.VoidResult, error) {
			r, err := m.nmi().transact(ctx, url.Values{"type": {"void"}, "transactionid": {req.AuthorizationReference}, "void_reason": {"user_cancel"}})
			if err != nil {
				return processor.VoidResult{}, err
			}
			id := r.TransactionID
			if id == "" {
				id = req.AuthorizationReference
			}
			return result(id)
		},
		lookup: func(ctx context.Context, _ string) (processor.VoidResult, bool, error) {
			q, err := m.nmi().query(ctx, url.Values{"transaction_id": {req.AuthorizationReference}})
			if err != nil {
				return processor.VoidResult{}, false, err
			}
			t, a, ok := findAction(q.Transactions, "void")
			if !ok || a.Success != "1" {
				return processor.VoidResult{}, false, nil
			}
			res, err := result(t.TransactionID)
			return res, true, err
		},
		apply: func(st *state, _ processor.VoidResult) {
			if h := st.Holds[req.AuthorizationReference]; h != nil {
				h.Status = holdVoided
			}
		},
	})
}

func (m *MobiusPay) Refund(ctx context.Context, req processor.RefundRequest) (processor.RefundResult, error) {
	if err := m.checkMoney(req.IdempotencyKey, req.Amount); err != nil {
		return processor.RefundResult{}, err
	}
	return run(ctx, m, call[processor.RefundResult]{
		key: req.IdempotencyKey, fingerprint: processorkit.Fingerprint("refund", req.Reference, req.Amount),
		check: func(st *state) error {
			p := st.Payments[req.Reference]
			switch {
			case p == nil:
				return errs.E(errs.NotFound, "mobiuspay: no capture or sale %q", req.Reference)
			case req.Amount.Currency != p.Amount.Currency:
				return errs.E(errs.Invalid, "mobiuspay: refund in %s of a payment in %s", req.Amount.Currency, p.Amount.Currency)
			case req.Amount.Amount > p.Amount.Amount-p.Refunded:
				return errs.E(errs.Invalid, "mobiuspay: refund of %s exceeds the %d minor units left to refund", req.Amount, p.Amount.Amount-p.Refunded)
			}
			return nil
		},
		send: func(ctx context.Context, orderID string) (processor.RefundResult, error) {
			a, err := wireAmount(req.Amount)
			if err != nil {
				return processor.RefundResult{}, err
			}
			r, err := m.nmi().transact(ctx, url.Values{"type": {"refund"}, "transactionid": {req.Reference}, "amount": {a}, "orderid": {orderID}})
			if err != nil {
				return processor.RefundResult{}, err
			}
			if r.TransactionID == "" {
				return processor.RefundResult{}, errs.Retry(errs.Unavailable, "mobiuspay: refund approved without a transactionid")
			}
			return processor.RefundResult{Reference: r.TransactionID, Amount: req.Amount}, nil
		},
		lookup: func(ctx context.Context, orderID string) (processor.RefundResult, bool, error) {
			q, err := m.nmi().query(ctx, url.Values{"order_id": {orderID}})
			if err != nil {
				return processor.RefundResult{}, false, err
			}
			t, a, ok := findAction(q.Transactions, "refund")
			if !ok || a.Success != "1" {
				return processor.RefundResult{}, false, nil
			}
			amt, err := parseWireAmount(a.Amount, req.Amount.Currency)
			return processor.RefundResult{Reference: t.TransactionID, Amount: amt}, true, err
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
// charging the vaulted card, so no NMI recurring plan is ever created.
func (m *MobiusPay) CancelRecurring(context.Context, processor.CancelRecurringRequest) error {
	return errs.E(errs.Unsupported, "mobiuspay: native recurring billing is not used; nothing to cancel")
}
