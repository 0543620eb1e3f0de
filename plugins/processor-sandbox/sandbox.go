package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

const (
	pluginName     = "sandbox"
	pluginVersion  = "0.1.0"
	slowDelay      = 2 * time.Second
	checkoutTTL    = time.Hour
	defaultHold    = 7
	minSecretBytes = 16
)

// errNotConfigured answers calls that arrive before Configure; the host
// configures every plugin right after (re)starting it, so a retry succeeds.
var errNotConfigured = errs.Retry(errs.Unavailable, "sandbox processor is not configured yet")

// publishedSecrets are webhook secrets printed in camkit's repository (the
// embedded default and the example file of earlier releases): anyone can
// sign webhooks with them, so a sandbox configured with one refuses to start.
var publishedSecrets = []string{"camkit-sandbox-development-secret", "change-me"}

// currencies the sandbox accepts: zero- and two-decimal ones, so hosts exercise both.
var currencies = []string{"USD", "EUR", "GBP", "JPY", "CAD"}

type settings struct {
	StateFile     string `json:"state_file"`
	WebhookSecret string `json:"webhook_secret"`
	MaxHoldDays   int    `json:"max_hold_days"`
	// Name is the name the host runs this sandbox under: a site trying
	// routing and cascade runs the binary twice (plugins.processors =
	// ["sandbox-b"], its binary a copy named processor-sandbox-b), and each
	// serves its pages under /pay/<name>/.
	Name string `json:"name"`
}

// Sandbox implements processor.Processor. One mutex guards the state, held
// only while it is read or changed in memory; every change is journaled by
// the store and durable before the call that made it returns (concurrent
// calls share the journal's fsync).
type Sandbox struct {
	now func() time.Time

	mu    sync.Mutex
	cfg   settings
	st    *state                     // nil until Configure; store.State()
	store *processorkit.Store[state] // nil until Configure
}

var _ processor.Processor = (*Sandbox)(nil)

func newSandbox(now func() time.Time) *Sandbox { return &Sandbox{now: now} }

func (s *Sandbox) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindProcessor, Name: pluginName, Version: pluginVersion}, nil
}

func (s *Sandbox) Configure(_ context.Context, settingsJSON []byte) error {
	cfg := settings{StateFile: "./data/sandbox-processor.json", MaxHoldDays: defaultHold, Name: pluginName}
	if err := pluginkit.DecodeSettings(settingsJSON, &cfg); err != nil {
		return err
	}
	switch {
	case cfg.StateFile == "":
		return errs.E(errs.Invalid, "settings.state_file must not be empty")
	case cfg.WebhookSecret == "":
		return errs.E(errs.Invalid, "settings.webhook_secret is required (the host generates one per deployment and passes it; a configured one must be at least %d bytes)", minSecretBytes)
	case slices.Contains(publishedSecrets, cfg.WebhookSecret):
		return errs.E(errs.Invalid, "settings.webhook_secret is a value published in camkit's repository: remove it (the host then generates one per deployment) or choose your own")
	case len(cfg.WebhookSecret) < minSecretBytes:
		return errs.E(errs.Invalid, "settings.webhook_secret must be at least %d bytes", minSecretBytes)
	case cfg.Name == "" || len(cfg.Name) > 32 || strings.Trim(cfg.Name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "":
		return errs.E(errs.Invalid, "settings.name %q: use 1-32 of a-z, 0-9 and -", cfg.Name)
	case cfg.MaxHoldDays < 1 || cfg.MaxHoldDays > 30:
		return errs.E(errs.Invalid, "settings.max_hold_days must be between 1 and 30, got %d", cfg.MaxHoldDays)
	}
	// One writer per state file: the old store is closed (its staged
	// changes written) before the file is opened again.
	s.mu.Lock()
	old := s.store
	s.st, s.store = nil, nil
	s.mu.Unlock()
	if old != nil {
		if err := old.Close(); err != nil {
			return errs.Retry(errs.Unavailable, "sandbox: closing the state journal: %v", err)
		}
	}
	store, err := processorkit.OpenStore(cfg.StateFile, newState, &s.mu, processorkit.StoreOptions{Name: pluginName})
	if err != nil {
		return errs.E(errs.Invalid, "settings.state_file: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg, s.st, s.store = cfg, store.State(), store
	return nil
}

// routePrefix is where the host serves this sandbox's pages: /pay/<name>.
func (s *Sandbox) routePrefix() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prefixLocked()
}

func (s *Sandbox) prefixLocked() string {
	if s.cfg.Name == "" {
		return "/pay/" + pluginName
	}
	return "/pay/" + s.cfg.Name
}

func (s *Sandbox) Capabilities(context.Context) (processor.Capabilities, error) {
	s.mu.Lock()
	days := s.cfg.MaxHoldDays
	s.mu.Unlock()
	if days == 0 {
		days = defaultHold
	}
	return processor.Capabilities{
		AuthCapture: true, PartialCapture: true, Void: true, Refund: true, PartialRefund: true,
		ChargeStoredCredential: true, HostedCheckoutRequired: true, NativeRecurring: true,
		WebhookAuth: processor.WebhookHMAC, Currencies: append([]string(nil), currencies...), MaxHoldDays: days,
	}, nil
}

// run executes one money-moving request at most once per idempotency key.
// With a card token it first plays the card's latency outcomes (unavailable,
// slow) without holding the lock, then applies do under the lock, records the
// result (or a decline) under key and stages the records do touched with
// it; the call answers once they are durable. A repeat of the key with the
// same fingerprint gets the recorded outcome (once that is durable); with
// another, Conflict.
func run[T any](ctx context.Context, s *Sandbox, key, fingerprint, token string, do func(st *state, now time.Time) (T, error)) (T, error) {
	var zero T
	s.mu.Lock()
	if s.st == nil {
		s.mu.Unlock()
		return zero, errNotConfigured
	}
	_, out, done, err := processorkit.Lookup[T](s.st.Idempotency, key, fingerprint)
	var oc outcome
	if c := s.st.Cards[token]; c != nil {
		oc = c.Outcome
	}
	pending := s.store.Pending()
	s.mu.Unlock()
	if done {
		if werr := pending.Wait(); werr != nil {
			return zero, werr
		}
		return out, err
	}

	switch oc {
	case unavailable:
		return zero, errs.Retry(errs.Unavailable, "sandbox: processor unavailable (test card), nothing was moved")
	case slow:
		t := time.NewTimer(slowDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return zero, errs.Retry(errs.Timeout, "sandbox: gave up on a slow response (test card): %v", ctx.Err())
		}
	}
	if err := ctx.Err(); err != nil {
		return zero, errs.Retry(errs.Timeout, "sandbox: %v before anything moved", err)
	}

	s.mu.Lock()
	if s.st == nil { // reconfigured meanwhile
		s.mu.Unlock()
		return zero, errNotConfigured
	}
	if _, out, done, err := processorkit.Lookup[T](s.st.Idempotency, key, fingerprint); done { // a concurrent repeat won
		pending := s.store.Pending()
		s.mu.Unlock()
		if werr := pending.Wait(); werr != nil {
			return zero, werr
		}
		return out, err
	}
	now := s.now()
	out, err = do(s.st, now)
	switch {
	case err == nil:
		rec, rerr := processorkit.DoneRecord(fingerprint, out, now, now)
		if rerr != nil {
			s.mu.Unlock()
			return zero, rerr
		}
		s.st.Idempotency[key] = rec
	case errs.IsDecline(err):
		s.st.Idempotency[key] = processorkit.DeclinedRecord(fingerprint, err, now, now)
	default:
		s.mu.Unlock()
		return zero, err // nothing changed: a retry under the same key decides afresh
	}
	s.store.Touch("idempotency", key)
	tk, serr := s.store.Stage()
	s.mu.Unlock()
	if serr != nil {
		return zero, serr
	}
	if werr := tk.Wait(); werr != nil {
		return zero, werr // undone: a retry under the same key decides afresh
	}
	return out, err
}

// Record names for the store's journal: the state's JSON field names.
const (
	tCards         = "cards"
	tCheckouts     = "checkouts"
	tHolds         = "holds"
	tPayments      = "payments"
	tSubscriptions = "subscriptions"
)

// checkMoney is the shared validation of every amount the sandbox moves.
func checkMoney(key string, m money.Money) error {
	if err := processor.ValidateIdempotencyKey(key); err != nil {
		return err
	}
	return processor.ValidateAmount(m, currencies)
}

// approveCard applies a card's outcome at the moment money would move.
func approveCard(st *state, token string, now time.Time) (*card, error) {
	c := st.Cards[token]
	if c == nil {
		return nil, errs.E(errs.InvalidCard, "sandbox: unknown credential token")
	}
	switch c.Outcome {
	case decline:
		return nil, errs.E(errs.Declined, "sandbox: card declined (test card)")
	case insufficient:
		return nil, errs.E(errs.InsufficientFunds, "sandbox: insufficient funds (test card)")
	case expired:
		return nil, errs.E(errs.ExpiredCard, "sandbox: card expired (test card)")
	case invalidCard:
		return nil, errs.E(errs.InvalidCard, "sandbox: invalid card (test card)")
	case fraud:
		return nil, errs.E(errs.FraudSuspected, "sandbox: suspected fraud (test card)")
	case firstOnly:
		if usedBefore(st, token) {
			return nil, errs.E(errs.Declined, "sandbox: card declined after its first use (test card)")
		}
	}
	if y, m := now.Year(), int(now.Month()); c.ExpYear < y || (c.ExpYear == y && c.ExpMonth < m) {
		return nil, errs.E(errs.ExpiredCard, "sandbox: card expired %02d/%d", c.ExpMonth, c.ExpYear)
	}
	return c, nil
}

func (s *Sandbox) Authorize(ctx context.Context, req processor.AuthorizeRequest) (processor.Authorization, error) {
	if err := checkMoney(req.IdempotencyKey, req.Amount); err != nil {
		return processor.Authorization{}, err
	}
	if err := processor.ValidateCredential(req.Credential); err != nil {
		return processor.Authorization{}, err
	}
	return run(ctx, s, req.IdempotencyKey, processorkit.Fingerprint("authorize", req.Credential.Token, req.Amount), req.Credential.Token,
		func(st *state, now time.Time) (processor.Authorization, error) {
			if _, err := approveCard(st, req.Credential.Token, now); err != nil {
				return processor.Authorization{}, err
			}
			ref := processorkit.NewRef("sbx_auth_")
			h := &hold{Token: req.Credential.Token, Amount: req.Amount, Status: holdOpen,
				ExpiresAt: now.Add(time.Duration(s.cfg.MaxHoldDays) * 24 * time.Hour).UTC()}
			st.Holds[ref] = h
			s.store.Touch(tHolds, ref)
			return processor.Authorization{Reference: ref, Amount: h.Amount, ExpiresAt: h.ExpiresAt}, nil
		})
}

// openHold finds a hold that can still be captured or voided.
func openHold(st *state, ref string) (*hold, error) {
	h := st.Holds[ref]
	switch {
	case h == nil:
		return nil, errs.E(errs.NotFound, "sandbox: no authorisation %q", ref)
	case h.Status == holdCaptured:
		return nil, errs.E(errs.Conflict, "sandbox: authorisation %s was already captured; its remainder is released", ref)
	case h.Status == holdVoided:
		return nil, errs.E(errs.Conflict, "sandbox: authorisation %s was voided", ref)
	}
	return h, nil
}

func (s *Sandbox) Capture(ctx context.Context, req processor.CaptureRequest) (processor.CaptureResult, error) {
	if err := checkMoney(req.IdempotencyKey, req.Amount); err != nil {
		return processor.CaptureResult{}, err
	}
	return run(ctx, s, req.IdempotencyKey, processorkit.Fingerprint("capture", req.AuthorizationReference, req.Amount), "",
		func(st *state, now time.Time) (processor.CaptureResult, error) {
			h, err := openHold(st, req.AuthorizationReference)
			if err != nil {
				return processor.CaptureResult{}, err
			}
			if !now.Before(h.ExpiresAt) {
				return processor.CaptureResult{}, errs.E(errs.AuthExpired, "sandbox: authorisation %s expired at %s", req.AuthorizationReference, h.ExpiresAt.Format(time.RFC3339))
			}
			if req.Amount.Currency != h.Amount.Currency {
				return processor.CaptureResult{}, errs.E(errs.Invalid, "sandbox: capture in %s of a hold in %s", req.Amount.Currency, h.Amount.Currency)
			}
			if req.Amount.Amount > h.Amount.Amount {
				return processor.CaptureResult{}, errs.E(errs.Invalid, "sandbox: capture of %s exceeds the hold of %s", req.Amount, h.Amount)
			}
			released, _ := h.Amount.Sub(req.Amount) // same currency, 0 < req <= hold: cannot fail
			h.Status = holdCaptured
			ref := processorkit.NewRef("sbx_cap_")
			st.Payments[ref] = &payment{Token: h.Token, Amount: req.Amount, At: now.UTC()}
			s.store.Touch(tHolds, req.AuthorizationReference)
			s.store.Touch(tPayments, ref)
			return processor.CaptureResult{Reference: ref, Amount: req.Amount, Released: released}, nil
		})
}

func (s *Sandbox) Void(ctx context.Context, req processor.VoidRequest) (processor.VoidResult, error) {
	if err := processor.ValidateIdempotencyKey(req.IdempotencyKey); err != nil {
		return processor.VoidResult{}, err
	}
	return run(ctx, s, req.IdempotencyKey, processorkit.Fingerprint("void", req.AuthorizationReference), "",
		func(st *state, now time.Time) (processor.VoidResult, error) {
			h, err := openHold(st, req.AuthorizationReference)
			if err != nil {
				return processor.VoidResult{}, err
			}
			// An expired hold is released already; voiding it is harmless and tidies up.
			h.Status = holdVoided
			s.store.Touch(tHolds, req.AuthorizationReference)
			return processor.VoidResult{Reference: processorkit.NewRef("sbx_void_"), Amount: h.Amount}, nil
		})
}

// chargeCard takes amount from a stored card now and records the payment
// (the caller touches it for the journal).
func chargeCard(st *state, token string, amount money.Money, now time.Time) (processor.ChargeResult, error) {
	if _, err := approveCard(st, token, now); err != nil {
		return processor.ChargeResult{}, err
	}
	ref := processorkit.NewRef("sbx_ch_")
	st.Payments[ref] = &payment{Token: token, Amount: amount, At: now.UTC()}
	return processor.ChargeResult{Reference: ref, Amount: amount}, nil
}

func (s *Sandbox) Charge(ctx context.Context, req processor.ChargeRequest) (processor.ChargeResult, error) {
	if err := checkMoney(req.IdempotencyKey, req.Amount); err != nil {
		return processor.ChargeResult{}, err
	}
	if err := processor.ValidateCredential(req.Credential); err != nil {
		return processor.ChargeResult{}, err
	}
	return run(ctx, s, req.IdempotencyKey, processorkit.Fingerprint("charge", req.Credential.Token, req.Amount), req.Credential.Token,
		func(st *state, now time.Time) (processor.ChargeResult, error) {
			ch, err := chargeCard(st, req.Credential.Token, req.Amount, now)
			if err == nil {
				s.store.Touch(tPayments, ch.Reference)
			}
			return ch, err
		})
}

func (s *Sandbox) Refund(ctx context.Context, req processor.RefundRequest) (processor.RefundResult, error) {
	if err := checkMoney(req.IdempotencyKey, req.Amount); err != nil {
		return processor.RefundResult{}, err
	}
	return run(ctx, s, req.IdempotencyKey, processorkit.Fingerprint("refund", req.Reference, req.Amount), "",
		func(st *state, now time.Time) (processor.RefundResult, error) {
			p := st.Payments[req.Reference]
			if p == nil {
				return processor.RefundResult{}, errs.E(errs.NotFound, "sandbox: no capture or charge %q", req.Reference)
			}
			if req.Amount.Currency != p.Amount.Currency {
				return processor.RefundResult{}, errs.E(errs.Invalid, "sandbox: refund in %s of a payment in %s", req.Amount.Currency, p.Amount.Currency)
			}
			if left := p.Amount.Amount - p.Refunded; req.Amount.Amount > left {
				return processor.RefundResult{}, errs.E(errs.Invalid, "sandbox: refund of %s exceeds the %d minor units left to refund", req.Amount, left)
			}
			ref := processorkit.NewRef("sbx_rf_")
			p.Refunded += req.Amount.Amount
			p.Refunds = append(p.Refunds, paymentRefund{Reference: ref, Amount: req.Amount.Amount, At: now.UTC()})
			s.store.Touch(tPayments, req.Reference)
			return processor.RefundResult{Reference: ref, Amount: req.Amount}, nil
		})
}

func (s *Sandbox) CancelRecurring(ctx context.Context, req processor.CancelRecurringRequest) error {
	if err := processor.ValidateIdempotencyKey(req.IdempotencyKey); err != nil {
		return err
	}
	_, err := run(ctx, s, req.IdempotencyKey, processorkit.Fingerprint("cancel", req.SubscriptionReference), "",
		func(st *state, now time.Time) (struct{}, error) {
			sub := st.Subscriptions[req.SubscriptionReference]
			if sub == nil {
				return struct{}{}, errs.E(errs.NotFound, "sandbox: no subscription %q", req.SubscriptionReference)
			}
			sub.Cancelled = true // cancelling twice is not an error: the outcome is the same
			s.store.Touch(tSubscriptions, req.SubscriptionReference)
			return struct{}{}, nil
		})
	return err
}
