package processorkit

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

// MaxResponseBytes bounds what is read of a processor's answer.
const MaxResponseBytes = 1 << 20

// NewHTTPClient is the client a plugin talks to its processor with: every
// request is bounded by timeout even when the host's context has no deadline.
func NewHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout}
}

// RoundTrip sends req under ctx and reads the whole answer. Failures where
// the request may or may not have been acted on come back retryable: a passed
// deadline as errs.Timeout, anything else on the way as errs.Unavailable. The
// status code is the caller's to judge (see CheckStatus).
func RoundTrip(ctx context.Context, c *http.Client, req *http.Request) (int, http.Header, []byte, error) {
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		return 0, nil, nil, TransportError(ctx, req.Method+" "+RedactURL(req.URL), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil {
		return 0, nil, nil, TransportError(ctx, req.Method+" "+RedactURL(req.URL), err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// PostForm POSTs form url-encoded to endpoint with the extra headers and
// returns the status and body, as RoundTrip does.
func PostForm(ctx context.Context, c *http.Client, endpoint string, form url.Values, header http.Header) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, errs.E(errs.Internal, "building a request to %s: %v", endpoint, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, _, body, err := RoundTrip(ctx, c, req)
	return status, body, err
}

// Get sends a GET of endpoint with query q (replacing any query it has).
func Get(ctx context.Context, c *http.Client, endpoint string, q url.Values, header http.Header) (int, []byte, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return 0, nil, errs.E(errs.Internal, "building a request to %s: %v", endpoint, err)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, nil, errs.E(errs.Internal, "building a request to %s: %v", endpoint, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	status, _, body, err := RoundTrip(ctx, c, req)
	return status, body, err
}

// TransportError classifies a failed exchange: a deadline (the host's or the
// client's) is errs.Timeout, anything else errs.Unavailable. Both are
// retryable, because the request may have been acted on: retry with the same
// idempotency key, which looks the outcome up before sending again.
func TransportError(ctx context.Context, what string, err error) error {
	cause := err
	if u := errors.Unwrap(err); u != nil {
		cause = u // *url.Error repeats the method and the URL, with its query
	}
	var ne net.Error
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return errs.Retry(errs.Timeout, "%s: no answer in time, the outcome is unknown (retry with the same key): %v", what, cause)
	}
	return errs.Retry(errs.Unavailable, "%s: %v", what, cause)
}

// ServerError is the error of an HTTP 5xx answer: the processor failed and
// the outcome is unknown until looked up.
func ServerError(what string, status int, body []byte) error {
	return errs.Retry(errs.Unavailable, "%s: HTTP %d: %s", what, status, Snippet(body))
}

// CheckStatus maps an HTTP status to the SDK's vocabulary for APIs that
// answer 200 to every request they processed (declines included): nil for
// 200; 5xx is retryable errs.Unavailable (outcome unknown); 401/403 is
// errs.Forbidden (credentials or the server's address are not accepted); any
// other status is errs.Invalid (the request was refused as a whole, nothing
// moved).
func CheckStatus(what string, status int, body []byte) error {
	switch {
	case status == http.StatusOK:
		return nil
	case status >= 500:
		return ServerError(what, status, body)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return errs.E(errs.Forbidden, "%s: refused (HTTP %d): %s", what, status, Snippet(body))
	}
	return errs.E(errs.Invalid, "%s: HTTP %d: %s", what, status, Snippet(body))
}

// Snippet is the start of a body for an error message.
func Snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// RedactURL drops the query string and user info, which may hold
// credentials (CCBill's billingApi.cgi, NMI's security_key on a GET).
func RedactURL(u *url.URL) string {
	c := *u
	c.RawQuery = ""
	c.User = nil
	return c.String()
}
