package idempotency

import (
	"net/http"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

// Error is the middleware's refusal of a request: a bad key (400), a key
// used for another request (422) or one still running (409, with
// RetryAfter). It names its HTTP status (the web error handler honours
// HTTPStatus) and wraps an *errs.Error for the code and the message a
// client is shown.
type Error struct {
	status int
	err    *errs.Error
}

func (e *Error) Error() string   { return e.err.Error() }
func (e *Error) Unwrap() error   { return e.err }
func (e *Error) HTTPStatus() int { return e.status }

// inFlightError is the 409 of a repeat while the first request runs.
type inFlightError struct {
	refusal *Error
	wait    time.Duration
}

func (e *inFlightError) Error() string   { return e.refusal.Error() }
func (e *inFlightError) Unwrap() error   { return e.refusal }
func (e *inFlightError) HTTPStatus() int { return e.refusal.status }

// RetryAfter is when to try again (the error handler sets Retry-After).
func (e *inFlightError) RetryAfter() time.Duration { return e.wait }

func errMismatch() error {
	return &Error{status: http.StatusUnprocessableEntity, err: errs.E(errs.Conflict,
		"this Idempotency-Key was already used for a different request (another method, path or body); use a new key for a new request")}
}

func errInFlight(wait time.Duration) error {
	return &inFlightError{refusal: &Error{status: http.StatusConflict, err: errs.E(errs.Conflict,
		"a request with this Idempotency-Key is still being processed; retry after a moment to get its answer")}, wait: wait}
}

// errFormInFlight is errInFlight for a person at a form: the wait for the
// first submission's answer ran out.
func errFormInFlight(wait time.Duration) error {
	return &inFlightError{refusal: &Error{status: http.StatusConflict, err: errs.E(errs.Conflict,
		"this form is still being processed: reload the page in a moment to see the result (it was sent once)")}, wait: wait}
}

func errNoUser() error {
	return &Error{status: http.StatusUnauthorized, err: errs.E(errs.Unauthenticated, "sign in first")}
}
