package processor

import (
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

// ValidateAmount is the check every money-moving call starts with: a positive
// amount (errs.Invalid) in a known currency the processor accepts
// (errs.UnknownCurrency). accepted may be nil to allow any ISO 4217 code.
func ValidateAmount(m money.Money, accepted []string) error {
	if err := m.Validate(false); err != nil {
		return errs.E(errs.UnknownCurrency, "%q is not an ISO 4217 currency", m.Currency)
	}
	if accepted != nil && !(Capabilities{Currencies: accepted}).Accepts(m.Currency) {
		return errs.E(errs.UnknownCurrency, "currency %s is not accepted (accepted: %v)", m.Currency, accepted)
	}
	if m.Amount <= 0 {
		return errs.E(errs.Invalid, "amount must be positive, got %d minor units of %s", m.Amount, m.Currency)
	}
	return nil
}

// ValidateIdempotencyKey rejects an empty key: without one a retry could move money twice.
func ValidateIdempotencyKey(key string) error {
	if key == "" {
		return errs.E(errs.Invalid, "idempotency key is required")
	}
	if len(key) > 255 {
		return errs.E(errs.Invalid, "idempotency key is longer than 255 bytes")
	}
	return nil
}

// ValidateCredential rejects a request without a credential token.
func ValidateCredential(c StoredCredential) error {
	if c.Token == "" {
		return errs.E(errs.Invalid, "credential token is required")
	}
	return nil
}

// CheckMoved is the host's check that a processor moved exactly what it was
// asked: a different amount or currency is an errs.Internal error, because the
// books would no longer match the processor's.
func CheckMoved(asked, moved money.Money) error {
	if asked != moved {
		return errs.E(errs.Internal, "processor moved %s, asked %s", moved, asked)
	}
	return nil
}
