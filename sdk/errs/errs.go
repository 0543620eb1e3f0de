// Package errs is camkit's one error vocabulary, shared by the host and its
// plugins. An *Error carries a machine-readable Code, whether a retry with the
// same idempotency key may succeed, and a message for people. It survives the
// gRPC boundary between host and plugin (see ToStatus / FromStatus), so a
// decline raised inside a processor plugin reaches billing as the same value.
package errs

import (
	"errors"
	"fmt"
)

// Code names a class of failure. The decline codes follow what card processors
// report; the others are the host's.
type Code string

const (
	// Declines: the processor answered and said no.
	Declined          Code = "declined"
	InsufficientFunds Code = "insufficient_funds"
	ExpiredCard       Code = "expired_card"
	InvalidCard       Code = "invalid_card"
	FraudSuspected    Code = "fraud_suspected"
	AuthExpired       Code = "authorization_expired"

	// Requests that are wrong and will stay wrong.
	Invalid         Code = "invalid"          // malformed or out-of-range input
	UnknownCurrency Code = "unknown_currency" // not an ISO 4217 code, or not accepted
	NotFound        Code = "not_found"
	Conflict        Code = "conflict"        // e.g. an idempotency key reused with other content
	Unsupported     Code = "unsupported"     // capability not offered
	Forbidden       Code = "forbidden"       // authenticated but not allowed
	Unauthenticated Code = "unauthenticated" // e.g. a forged webhook signature
	Limit           Code = "limit"           // an account limit or balance constraint would be broken

	// Failures where nothing is known to be wrong with the request.
	Unavailable Code = "unavailable" // processor or plugin down; retry with the same key
	Timeout     Code = "timeout"     // deadline passed; the outcome is unknown, retry with the same key
	Internal    Code = "internal"
)

// Error is the one error type that crosses package and process boundaries.
type Error struct {
	Code      Code
	Retryable bool
	Message   string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

// Is makes errors.Is(err, &Error{Code: X}) match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// E builds a final (not retryable) error.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Retry builds a retryable error.
func Retry(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Retryable: true, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, Internal for any
// other non-nil error, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// IsRetryable reports whether a retry with the same idempotency key may succeed.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// IsDecline reports whether the processor declined (as opposed to failing).
func IsDecline(err error) bool {
	switch CodeOf(err) {
	case Declined, InsufficientFunds, ExpiredCard, InvalidCard, FraudSuspected, AuthExpired:
		return true
	}
	return false
}
