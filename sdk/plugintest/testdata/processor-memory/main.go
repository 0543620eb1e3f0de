// Command processor-memory is a minimal in-memory processor plugin used to
// test the processor conformance suite itself. Settings {"break": "<mode>"}
// make it break one rule, and the suite must notice; with no mode it keeps
// every rule, and the suite must pass.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
)

// Secret signs webhooks as hex HMAC-SHA256 of the body in X-Mem-Signature.
const Secret = "processor-memory-secret"

type mem struct {
	mu       sync.Mutex
	mode     string
	n        int
	holds    map[string]*holdRec
	payments map[string]*payRec
	idem     map[string]idemRec
}

type holdRec struct {
	amount money.Money
	done   bool
}

type payRec struct {
	amount   money.Money
	refunded int64
}

type idemRec struct {
	fp  string
	res any
	err error
}

var currencies = []string{"USD", "EUR"}

func main() {
	processor.Serve(&mem{holds: map[string]*holdRec{}, payments: map[string]*payRec{}, idem: map[string]idemRec{}})
}

func (m *mem) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindProcessor, Name: "memory", Version: "0"}, nil
}

func (m *mem) Configure(_ context.Context, b []byte) error {
	var s struct {
		Break string `json:"break"`
	}
	if err := pluginkit.DecodeSettings(b, &s); err != nil {
		return err
	}
	m.mode = s.Break
	return nil
}

func (m *mem) Capabilities(context.Context) (processor.Capabilities, error) {
	switch m.mode {
	case "hold_only": // a hold it can neither capture in part nor void, and no charge
		return processor.Capabilities{AuthCapture: true, Refund: true, WebhookAuth: processor.WebhookHMAC, Currencies: currencies, MaxHoldDays: 7}, nil
	case "sells_nothing": // neither holds nor charges, and no hosted sale
		return processor.Capabilities{Refund: true, WebhookAuth: processor.WebhookHMAC, Currencies: currencies}, nil
	}
	return processor.Capabilities{AuthCapture: true, PartialCapture: true, Void: true, Refund: true, PartialRefund: true,
		ChargeStoredCredential: true, WebhookAuth: processor.WebhookHMAC, Currencies: currencies, MaxHoldDays: 7}, nil
}

func (m *mem) ref(p string) string { m.n++; return fmt.Sprintf("%s_%d", p, m.n) }

// once runs do at most once per key, unless the mode breaks idempotency.
func once[T any](m *mem, key string, fp string, do func() (T, error)) (T, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.idem[key]; ok && m.mode != "idempotency" {
		if r.fp != fp {
			var zero T
			return zero, errs.E(errs.Conflict, "key reused")
		}
		v, _ := r.res.(T)
		return v, r.err
	}
	v, err := do()
	if err == nil || errs.IsDecline(err) {
		m.idem[key] = idemRec{fp: fp, res: v, err: err}
	}
	return v, err
}

func (m *mem) check(key string, a money.Money) error {
	if err := processor.ValidateIdempotencyKey(key); err != nil {
		return err
	}
	if m.mode == "any_currency" {
		if a.Amount <= 0 {
			return errs.E(errs.Invalid, "amount")
		}
		return nil
	}
	return processor.ValidateAmount(a, currencies)
}

func (m *mem) approve(token string) error {
	var code errs.Code
	switch token {
	case "mem_approve":
		return nil
	case "mem_decline":
		code = errs.Declined
	case "mem_insufficient":
		code = errs.InsufficientFunds
	default:
		code = errs.InvalidCard
	}
	if m.mode == "untyped_decline" {
		return errors.New("card refused")
	}
	return errs.E(code, "test card")
}

func (m *mem) Authorize(_ context.Context, r processor.AuthorizeRequest) (processor.Authorization, error) {
	if err := m.check(r.IdempotencyKey, r.Amount); err != nil {
		return processor.Authorization{}, err
	}
	return once(m, r.IdempotencyKey, fmt.Sprint("auth", r.Credential.Token, r.Amount), func() (processor.Authorization, error) {
		if err := m.approve(r.Credential.Token); err != nil {
			return processor.Authorization{}, err
		}
		ref := m.ref("auth")
		m.holds[ref] = &holdRec{amount: r.Amount}
		return processor.Authorization{Reference: ref, Amount: r.Amount, ExpiresAt: time.Now().Add(7 * 24 * time.Hour)}, nil
	})
}

func (m *mem) Capture(_ context.Context, r processor.CaptureRequest) (processor.CaptureResult, error) {
	if err := m.check(r.IdempotencyKey, r.Amount); err != nil {
		return processor.CaptureResult{}, err
	}
	return once(m, r.IdempotencyKey, fmt.Sprint("capture", r.AuthorizationReference, r.Amount), func() (processor.CaptureResult, error) {
		h := m.holds[r.AuthorizationReference]
		if h == nil || (h.done && m.mode != "second_capture") {
			return processor.CaptureResult{}, errs.E(errs.Conflict, "not capturable")
		}
		if r.Amount.Amount > h.amount.Amount || r.Amount.Currency != h.amount.Currency {
			return processor.CaptureResult{}, errs.E(errs.Invalid, "too much")
		}
		h.done = true
		ref := m.ref("cap")
		m.payments[ref] = &payRec{amount: r.Amount}
		return processor.CaptureResult{Reference: ref, Amount: r.Amount, Released: money.Money{Amount: h.amount.Amount - r.Amount.Amount, Currency: r.Amount.Currency}}, nil
	})
}

func (m *mem) Void(_ context.Context, r processor.VoidRequest) (processor.VoidResult, error) {
	if err := processor.ValidateIdempotencyKey(r.IdempotencyKey); err != nil {
		return processor.VoidResult{}, err
	}
	return once(m, r.IdempotencyKey, "void"+r.AuthorizationReference, func() (processor.VoidResult, error) {
		h := m.holds[r.AuthorizationReference]
		if h == nil || h.done {
			return processor.VoidResult{}, errs.E(errs.Conflict, "not voidable")
		}
		h.done = true
		return processor.VoidResult{Reference: m.ref("void"), Amount: h.amount}, nil
	})
}

func (m *mem) Charge(_ context.Context, r processor.ChargeRequest) (processor.ChargeResult, error) {
	if err := m.check(r.IdempotencyKey, r.Amount); err != nil {
		return processor.ChargeResult{}, err
	}
	return once(m, r.IdempotencyKey, fmt.Sprint("charge", r.Credential.Token, r.Amount), func() (processor.ChargeResult, error) {
		if err := m.approve(r.Credential.Token); err != nil {
			return processor.ChargeResult{}, err
		}
		ref := m.ref("ch")
		m.payments[ref] = &payRec{amount: r.Amount}
		return processor.ChargeResult{Reference: ref, Amount: r.Amount}, nil
	})
}

func (m *mem) Refund(_ context.Context, r processor.RefundRequest) (processor.RefundResult, error) {
	if err := m.check(r.IdempotencyKey, r.Amount); err != nil {
		return processor.RefundResult{}, err
	}
	return once(m, r.IdempotencyKey, fmt.Sprint("refund", r.Reference, r.Amount), func() (processor.RefundResult, error) {
		p := m.payments[r.Reference]
		if p == nil || r.Amount.Amount > p.amount.Amount-p.refunded {
			return processor.RefundResult{}, errs.E(errs.Invalid, "not refundable")
		}
		p.refunded += r.Amount.Amount
		return processor.RefundResult{Reference: m.ref("rf"), Amount: r.Amount}, nil
	})
}

func (m *mem) CancelRecurring(context.Context, processor.CancelRecurringRequest) error {
	return errs.E(errs.Unsupported, "no recurring")
}

// StartCheckout offers a (pretend) card page, so a viewer could store a
// credential; modes no_checkout and sells_nothing take it away.
func (m *mem) StartCheckout(context.Context, processor.StartCheckoutRequest) (processor.Checkout, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mode == "no_checkout" || m.mode == "sells_nothing" {
		return processor.Checkout{}, errs.E(errs.Unsupported, "no checkout")
	}
	ref := m.ref("co")
	return processor.Checkout{Reference: ref, URL: "/pay/memory/card?ref=" + ref, Method: http.MethodGet, ExpiresAt: time.Now().Add(time.Hour)}, nil
}

func (m *mem) CompleteCheckout(context.Context, processor.CompleteCheckoutRequest) (processor.CheckoutResult, error) {
	return processor.CheckoutResult{}, errs.E(errs.Unsupported, "no checkout")
}

func (m *mem) ParseWebhook(_ context.Context, r processor.WebhookRequest) (processor.WebhookResult, error) {
	mac := hmac.New(sha256.New, []byte(Secret))
	mac.Write(r.Body)
	got, _ := hex.DecodeString(r.Headers.Get("X-Mem-Signature"))
	if !hmac.Equal(got, mac.Sum(nil)) && m.mode != "forged_webhook" {
		return processor.WebhookResult{}, errs.E(errs.Unauthenticated, "bad signature")
	}
	var ev struct{ ID, Type string }
	if err := json.Unmarshal(r.Body, &ev); err != nil {
		return processor.WebhookResult{}, errs.E(errs.Invalid, "body: %v", err)
	}
	return processor.WebhookResult{
		Events:   []processor.Event{{ID: ev.ID, Type: processor.EventType(ev.Type)}},
		Response: processor.HTTPResponse{Status: 200, Body: []byte("OK")},
	}, nil
}

func (m *mem) ServeHTTP(context.Context, processor.HTTPRequest) (processor.HTTPResponse, error) {
	return processor.HTTPResponse{Status: 404}, nil
}

func (m *mem) Transactions(context.Context, processor.TransactionsRequest) (processor.TransactionReport, error) {
	return processor.TransactionReport{}, errs.E(errs.Unsupported, "no report")
}
