package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/camkit/camkit/sdk/processorkit"
	"net/http"
	"net/url"
	"strings"

	"github.com/camkit/camkit/sdk/errs"
)

// nbClient speaks NETbilling's Direct Mode: form posts to direct3.1 answered
// with a query string, or with HTTP 400 and a line of text when the request
// itself is wrong; getid hands out a transaction id before a request is sent
// and poll tells whether a transaction id was processed.
type nbClient struct {
	http      *http.Client
	directURL string
	getIDURL  string
	pollURL   string
	accountID string
	siteTag   string
}

// directResponse is direct3.1's answer:
// status_code=1&trans_id=...&auth_code=...&auth_date=...&auth_msg=...&avs_code=...&cvv2_code=...
type directResponse struct {
	StatusCode string // 1 approved, T approved in test mode, 0 declined, F failed, D duplicate, I pending
	TransID    string
	AuthCode   string
	AuthMsg    string
}

func (c *nbClient) do(ctx context.Context, method, endpoint string, form url.Values) ([]byte, error) {
	header := http.Header{"User-Agent": {"camkit-processor-netbilling/" + pluginVersion}}
	var status int
	var b []byte
	var err error
	if method == http.MethodPost {
		status, b, err = processorkit.PostForm(ctx, c.http, endpoint, form, header)
	} else {
		status, b, err = processorkit.Get(ctx, c.http, endpoint, form, header)
	}
	if err != nil {
		return nil, err
	}
	// Direct Mode's documented error is HTTP 400 and a line of text: the
	// request was refused as a whole and nothing moved (errs.Invalid).
	if err := processorkit.CheckStatus("netbilling", status, b); err != nil {
		if errs.CodeOf(err) == errs.Forbidden {
			return nil, errs.E(errs.Forbidden, "%v (is this server's address on the account's trusted IP list?)", err)
		}
		return nil, err
	}
	return bytes.TrimSpace(b), nil
}

// getID fetches a fresh transaction id to send with a request, so its
// outcome can be polled if the answer is lost.
func (c *nbClient) getID(ctx context.Context) (string, error) {
	b, err := c.do(ctx, http.MethodGet, c.getIDURL, url.Values{"account_id": {c.accountID}})
	if err != nil {
		return "", err
	}
	id := strings.Fields(string(b))
	if len(id) == 0 || strings.Trim(id[0], "0123456789") != "" {
		return "", errs.Retry(errs.Unavailable, "netbilling: getid answered %.60q", b)
	}
	return id[0], nil
}

// direct posts one Direct Mode request. The error is an *errs.Error:
// retryable when the outcome is unknown, a decline code for a "no", final
// for a refused request.
func (c *nbClient) direct(ctx context.Context, form url.Values) (directResponse, error) {
	form.Set("account_id", c.accountID)
	form.Set("site_tag", c.siteTag)
	b, err := c.do(ctx, http.MethodPost, c.directURL, form)
	if err != nil {
		return directResponse{}, err
	}
	r, err := parseDirect(b)
	if err != nil {
		return directResponse{}, err
	}
	return r, r.err()
}

func parseDirect(b []byte) (directResponse, error) {
	q, err := url.ParseQuery(string(b))
	if err != nil || q.Get("status_code") == "" {
		return directResponse{}, errs.Retry(errs.Unavailable, "netbilling: unreadable answer: %.120q", b)
	}
	return directResponse{StatusCode: q.Get("status_code"), TransID: q.Get("trans_id"), AuthCode: q.Get("auth_code"), AuthMsg: q.Get("auth_msg")}, nil
}

// poll asks whether transID was processed; found false means NETbilling never
// saw it, so the request may be sent again with the same id.
func (c *nbClient) poll(ctx context.Context, transID string) (directResponse, bool, error) {
	b, err := c.do(ctx, http.MethodPost, c.pollURL, url.Values{"account_id": {c.accountID}, "trans_id": {transID}})
	if err != nil {
		return directResponse{}, false, err
	}
	if strings.TrimSpace(string(b)) == "found=N" {
		return directResponse{}, false, nil
	}
	r, err := parseDirect(b)
	if err != nil {
		return directResponse{}, false, err
	}
	return r, true, r.err()
}

func (r directResponse) err() error {
	switch r.StatusCode {
	case "1", "T":
		return nil
	case "0", "F":
		return declineError(r.AuthMsg)
	case "I":
		return errs.Retry(errs.Unavailable, "netbilling: transaction %s is pending", r.TransID)
	case "D":
		return errs.Retry(errs.Unavailable, "netbilling: transaction id %s was already used (duplicate); poll it", r.TransID)
	}
	return errs.Retry(errs.Unavailable, "netbilling: unknown status_code %q (%s)", r.StatusCode, r.AuthMsg)
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
