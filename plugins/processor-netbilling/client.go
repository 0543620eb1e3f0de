package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processorkit"
)

// nbClient speaks NETbilling's Direct Mode 3: form posts to direct3.1
// answered with a query string. Refusals come as HTTP status codes of
// NETbilling's own (directmode3protocol.html section 4.2, as NETbilling's
// WooCommerce plugin quotes it): 600-698 invalid input, 700-798 processing
// error, 699 and 799 exception; Direct Mode 2.1 documents HTTP 400 and a
// line of text for a refused request.
type nbClient struct {
	http      *http.Client
	directURL string
	accountID string
	siteTag   string
}

// directResponse is direct3.1's answer:
// status_code=1&trans_id=...&auth_code=...&auth_date=...&auth_msg=...&avs_code=...&cvv2_code=...
type directResponse struct {
	StatusCode string // 0 and F are refusals; every other code is a success (see err)
	TransID    string
	AuthCode   string
	AuthMsg    string
}

// outcome says what a failed exchange means for the money.
type outcome int

const (
	moved        outcome = iota // an answer was read: err says what it was
	notMoved                    // NETbilling refused to process it: sending it again is safe
	maybeMoved                  // no usable answer: the money may have moved
	notSentAtAll                // the request never left
)

// direct posts one Direct Mode request. The error is an *errs.Error: a
// decline code for a "no", errs.Invalid or errs.Forbidden for a refused
// request, retryable when nothing moved or the outcome is unknown; the
// outcome tells those two apart.
func (c *nbClient) direct(ctx context.Context, form url.Values) (directResponse, outcome, error) {
	form.Set("account_id", c.accountID)
	form.Set("site_tag", c.siteTag)
	if err := ctx.Err(); err != nil {
		return directResponse{}, notSentAtAll, errs.Retry(errs.Timeout, "netbilling: deadline passed before the request was sent")
	}
	header := http.Header{"User-Agent": {"camkit-processor-netbilling/" + pluginVersion}}
	status, b, err := processorkit.PostForm(ctx, c.http, c.directURL, form, header)
	if err != nil {
		return directResponse{}, maybeMoved, err // a timeout or a dropped connection: it may have been processed
	}
	if o, err := httpOutcome(status, b); err != nil {
		return directResponse{}, o, err
	}
	r, err := parseDirect(bytes.TrimSpace(b))
	if err != nil {
		return directResponse{}, maybeMoved, err
	}
	return r, moved, r.err()
}

// httpOutcome maps direct3.1's HTTP status.
func httpOutcome(status int, b []byte) (outcome, error) {
	text := processorkit.Snippet(b)
	switch {
	case status == http.StatusOK:
		return moved, nil
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return notMoved, errs.E(errs.Forbidden, "netbilling: refused (HTTP %d): %s (is this server's address on the account's trusted IP list?)", status, text)
	case status == http.StatusBadRequest, status >= 600 && status <= 698:
		return notMoved, errs.E(errs.Invalid, "netbilling: request refused (HTTP %d): %s", status, text)
	case status >= 700 && status <= 798:
		return notMoved, errs.Retry(errs.Unavailable, "netbilling: processing error, nothing was processed (HTTP %d): %s", status, text)
	}
	// 699/799 ("exception"), a 5xx from whatever stands in front of the
	// gateway, anything undocumented: whether it was processed is unknown.
	return maybeMoved, errs.Retry(errs.Unavailable, "netbilling: HTTP %d, outcome unknown: %s", status, text)
}

func parseDirect(b []byte) (directResponse, error) {
	q, err := url.ParseQuery(string(b))
	if err != nil || q.Get("status_code") == "" {
		return directResponse{}, errs.Retry(errs.Unavailable, "netbilling: unreadable answer, outcome unknown: %.120q", b)
	}
	return directResponse{StatusCode: q.Get("status_code"), TransID: q.Get("trans_id"), AuthCode: q.Get("auth_code"), AuthMsg: q.Get("auth_msg")}, nil
}

// err reads status_code as NETbilling documents it: "Any unexpected status
// code other than 0 and F should be interpreted as a successful
// transaction" (quoted by NETbilling's WooCommerce plugin, Response.php). So
// 1, T (test approval), I (pending), D (duplicate: the first one stands)
// and any code not listed are successes.
func (r directResponse) err() error {
	switch r.StatusCode {
	case "0", "F":
		return declineError(r.AuthMsg)
	case "":
		return errs.Retry(errs.Unavailable, "netbilling: answer without a status_code, outcome unknown")
	}
	return nil
}

// declineError maps auth_msg texts. NETbilling's fraud defense prefixes its
// refusals with a letter (A/DECLINED, B/DECLINED, L/DECLINED...).
func declineError(msg string) error {
	m := strings.ToUpper(msg)
	text := fmt.Sprintf("netbilling: declined (%s)", msg)
	switch {
	case strings.Contains(m, "INSUFF") || strings.Contains(m, "NSF") || strings.Contains(m, "OVER LIMIT"):
		return errs.E(errs.InsufficientFunds, "%s", text)
	case strings.Contains(m, "EXPIR"):
		return errs.E(errs.ExpiredCard, "%s", text)
	case strings.Contains(m, "PICK UP") || strings.Contains(m, "STOLEN") || strings.Contains(m, "LOST") || strings.Contains(m, "FRAUD") ||
		len(m) > 2 && m[1] == '/' && strings.Contains(m, "DECLINED"):
		return errs.E(errs.FraudSuspected, "%s", text)
	case strings.Contains(m, "CVV") || strings.Contains(m, "INVALID CARD") || strings.Contains(m, "BAD CARD") || strings.Contains(m, "INVALID ACCOUNT"):
		return errs.E(errs.InvalidCard, "%s", text)
	}
	return errs.E(errs.Declined, "%s", text)
}
