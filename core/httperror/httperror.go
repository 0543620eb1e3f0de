// Package httperror is the host's one table from the error vocabulary
// (sdk/errs) to HTTP: the status a client gets, the message it may read and
// how long it should wait before a retry. Pages, the JSON API, WHIP/WHEP and
// chat all answer through it, so one code never means two statuses.
package httperror

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

// Status is the HTTP status of err. An error that names its own status (a
// rate limit's 429, WHIP's 422 for an ICE restart) keeps it.
func Status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var own interface{ HTTPStatus() int }
	if errors.As(err, &own) {
		return own.HTTPStatus()
	}
	switch errs.CodeOf(err) {
	case errs.Invalid, errs.UnknownCurrency:
		return http.StatusBadRequest
	case errs.Unauthenticated:
		return http.StatusUnauthorized
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict:
		return http.StatusConflict
	case errs.Unsupported:
		return http.StatusNotImplemented
	// A limit is a balance or account constraint (a short wallet): the
	// viewer must pay first. Throttling is not a Limit but a 429 of its own.
	case errs.Limit, errs.Declined, errs.InsufficientFunds, errs.ExpiredCard, errs.InvalidCard, errs.FraudSuspected, errs.AuthExpired:
		return http.StatusPaymentRequired
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	case errs.Timeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// Message is what a client may be told. Typed errors the host raises for
// people keep their words; anything about the host's own machinery (a
// database, a plugin's socket, a deadline) is said in general terms, because
// its message was written for the log and can name paths, SQL or addresses.
func Message(err error) string {
	if err == nil {
		return ""
	}
	var own interface{ PublicMessage() string }
	if errors.As(err, &own) {
		return own.PublicMessage()
	}
	var e *errs.Error
	if !errors.As(err, &e) {
		return "internal error"
	}
	switch e.Code {
	case errs.Internal:
		return "internal error"
	case errs.Unavailable:
		return "a service this needs is unavailable for a moment; try again shortly"
	case errs.Timeout:
		return "this took too long and its outcome is not known yet; try again (with the same Idempotency-Key)"
	}
	if e.Message == "" {
		return string(e.Code)
	}
	return e.Message
}

// RetryAfter is how long a client should wait before trying again, when the
// error says (rate limits do; so does a retryable unavailability).
func RetryAfter(err error) (time.Duration, bool) {
	var wait interface{ RetryAfter() time.Duration }
	if errors.As(err, &wait) {
		return wait.RetryAfter(), true
	}
	if errs.CodeOf(err) == errs.Unavailable && errs.IsRetryable(err) {
		return time.Second, true
	}
	return 0, false
}

// RetryAfterHeader is RetryAfter in whole seconds, rounded up, for the
// Retry-After header; "" when there is nothing to say.
func RetryAfterHeader(err error) string {
	d, ok := RetryAfter(err)
	if !ok {
		return ""
	}
	secs := int64((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return strconv.FormatInt(secs, 10)
}
