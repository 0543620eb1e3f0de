package main

// Segpay's server-to-server formats. The request fields are those of
// Segpay's Post Pay, one-click and SRS documentation; the answer shapes are
// kept in this one file so they can be checked against Segpay's integration
// guide (and the fake in fake_test.go with them) before going live.

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"github.com/camkit/camkit/sdk/processorkit"
	"net/http"
	"net/url"
	"strings"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

// postPayAnswer is the JSON answer of PostPayAuth and PostPayCapture.
type postPayAnswer struct {
	TransactionID json.RawMessage `json:"TransactionId"` // a number or a string
	Result        string          `json:"Result"`        // Approved, Declined or Error
	Message       string          `json:"Message"`
}

func (a postPayAnswer) id() string {
	s := strings.TrimSpace(string(a.TransactionID))
	var str string
	if json.Unmarshal(a.TransactionID, &str) == nil {
		return str
	}
	if s == "null" {
		return ""
	}
	return s
}

// postForm POSTs form to endpoint and returns the status and body.
func (s *Segpay) postForm(ctx context.Context, endpoint string, form url.Values) (int, []byte, error) {
	return processorkit.PostForm(ctx, s.client, endpoint, form, http.Header{"Accept": {"application/json, text/xml"}})
}

func (s *Segpay) get(ctx context.Context, endpoint string, q url.Values) (int, []byte, error) {
	return processorkit.Get(ctx, s.client, endpoint, q, nil)
}

// postPay calls PostPayAuth or PostPayCapture.
func (s *Segpay) postPay(ctx context.Context, op string, form url.Values) (postPayAnswer, error) {
	cfg, err := s.configured()
	if err != nil {
		return postPayAnswer{}, err
	}
	status, body, err := s.postForm(ctx, strings.TrimRight(cfg.PostPayURL, "/")+"/"+op+"/", form)
	if err != nil {
		return postPayAnswer{}, err
	}
	what := "segpay " + op
	switch {
	case status >= 500:
		return postPayAnswer{}, processorkit.ServerError(what, status, body)
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return postPayAnswer{}, errs.E(errs.Forbidden, "%s: Segpay refused this server (HTTP %d): ask Segpay to whitelist its address", what, status)
	case status != http.StatusOK:
		return postPayAnswer{}, errs.E(errs.Invalid, "%s: HTTP %d: %s", what, status, processorkit.Snippet(body))
	}
	var a postPayAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return postPayAnswer{}, errs.Retry(errs.Unavailable, "%s: malformed answer %s", what, processorkit.Snippet(body))
	}
	return a, nil
}

// amountText is the decimal text Segpay's amount fields take.
func amountText(m money.Money) (string, error) {
	d, err := money.FormatDecimal(m)
	if err != nil {
		return "", errs.E(errs.UnknownCurrency, "%v", err)
	}
	return d, nil
}

// declineErr maps Segpay's decline message to camkit's decline codes. Segpay
// answers declines with a bank-style text; its wording carries the reason.
func declineErr(what, msg string) error {
	t := strings.ToLower(msg)
	full := what + ": declined: " + msg
	switch {
	case strings.Contains(t, "try again") || strings.Contains(t, "system error") || strings.Contains(t, "timeout"):
		return errs.Retry(errs.Unavailable, "%s", full)
	case strings.Contains(t, "insufficient") || strings.Contains(t, "funds"):
		return errs.E(errs.InsufficientFunds, "%s", full)
	case strings.Contains(t, "expired card") || strings.Contains(t, "card expired") || strings.Contains(t, "expiration"):
		return errs.E(errs.ExpiredCard, "%s", full)
	case strings.Contains(t, "invalid card") || strings.Contains(t, "card number") || strings.Contains(t, "invalid account"):
		return errs.E(errs.InvalidCard, "%s", full)
	case strings.Contains(t, "fraud") || strings.Contains(t, "stolen") || strings.Contains(t, "lost") || strings.Contains(t, "pick up") || strings.Contains(t, "risk"):
		return errs.E(errs.FraudSuspected, "%s", full)
	}
	return errs.E(errs.Declined, "%s", full)
}

// pricingHash asks Segpay for the dynamictrans hash that authorises a
// dynamic price: Segpay refuses a dynamic amount without it.
func (s *Segpay) pricingHash(ctx context.Context, amount string) (string, error) {
	cfg, err := s.configured()
	if err != nil {
		return "", err
	}
	status, body, err := s.get(ctx, cfg.PricingHashURL, url.Values{"value": {amount}})
	if err != nil {
		return "", err
	}
	if status >= 500 {
		return "", processorkit.ServerError("segpay pricing hash", status, body)
	}
	h := xmlString(body)
	if status != http.StatusOK || h == "" || strings.ContainsAny(h, " <>") {
		return "", errs.Retry(errs.Unavailable, "segpay pricing hash: HTTP %d %s", status, processorkit.Snippet(body))
	}
	return h, nil
}

// xmlString reads an ASMX/WCF <string>value</string> answer, or plain text.
func xmlString(body []byte) string {
	var v struct {
		Value string `xml:",chardata"`
	}
	if xml.Unmarshal(body, &v) == nil {
		return strings.TrimSpace(v.Value)
	}
	return strings.Trim(strings.TrimSpace(string(body)), `"`)
}

// oneClickAnswer is the XML answer of OneClickSales.asmx/SalesServiceDynamic:
// a <TransReturn> with <TransID> (Segpay's QA suite,
// Dimamolchanov/segpay_qa_automation web.py, reads TransReturn/TransID);
// Approved and Message are unconfirmed.
type oneClickAnswer struct {
	Approved   string `xml:"Approved"` // Yes or No
	TransID    string `xml:"TransID"`
	PurchaseID string `xml:"PurchaseID"`
	Message    string `xml:"Message"`
}

// srsCall calls one SRS ADM.asmx method; it answers a <string> with
// "Success" or the reason it refused.
func (s *Segpay) srsCall(ctx context.Context, method string, q url.Values) (string, error) {
	cfg, err := s.configured()
	if err != nil {
		return "", err
	}
	q.Set("Userid", cfg.SRSUserID)
	q.Set("UserAccessKey", cfg.SRSAccessKey)
	status, body, err := s.get(ctx, strings.TrimRight(cfg.SRSURL, "/")+"/"+method, q)
	if err != nil {
		return "", err
	}
	if status >= 500 {
		return "", processorkit.ServerError("segpay SRS "+method, status, body)
	}
	if status != http.StatusOK {
		return "", errs.E(errs.Forbidden, "segpay SRS %s: HTTP %d %s (check srs_user_id/srs_access_key)", method, status, processorkit.Snippet(body))
	}
	return xmlString(body), nil
}
