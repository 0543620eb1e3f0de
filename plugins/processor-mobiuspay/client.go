package main

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processorkit"
)

// nmiClient speaks NMI's Direct Post API (transact.php) and Query API
// (query.php), which MobiusPay resells under its own host name.
type nmiClient struct {
	http        *http.Client
	apiURL      string
	queryURL    string
	securityKey string
}

// directResponse is transact.php's answer, a query string such as
// response=1&responsetext=SUCCESS&authcode=123456&transactionid=...&response_code=100.
type directResponse struct {
	Response      string // 1 approved, 2 declined, 3 error
	Text          string
	AuthCode      string
	TransactionID string
	OrderID       string
	ResponseCode  string
	VaultID       string
}

// transact posts one Direct Post request. The error is an *errs.Error:
// retryable when the outcome is unknown (timeout, transport failure, 5xx,
// an unreadable answer), a decline code for response=2, final otherwise.
func (c *nmiClient) transact(ctx context.Context, form url.Values) (directResponse, error) {
	form.Set("security_key", c.securityKey)
	body, err := c.post(ctx, c.apiURL, form)
	if err != nil {
		return directResponse{}, err
	}
	q, perr := url.ParseQuery(strings.TrimSpace(string(body)))
	if perr != nil || q.Get("response") == "" {
		// NMI answered 200 with something else: whether it acted is unknown.
		return directResponse{}, errs.Retry(errs.Unavailable, "mobiuspay: unreadable answer from transact.php: %.120q", body)
	}
	r := directResponse{
		Response: q.Get("response"), Text: q.Get("responsetext"), AuthCode: q.Get("authcode"),
		TransactionID: q.Get("transactionid"), OrderID: q.Get("orderid"), ResponseCode: q.Get("response_code"),
		VaultID: q.Get("customer_vault_id"),
	}
	return r, r.err()
}

func (c *nmiClient) post(ctx context.Context, endpoint string, form url.Values) ([]byte, error) {
	status, body, err := processorkit.PostForm(ctx, c.http, endpoint, form, nil)
	if err != nil {
		return nil, err
	}
	if err := processorkit.CheckStatus("mobiuspay gateway", status, body); err != nil {
		return nil, err
	}
	return body, nil
}

// err maps NMI's response and response_code to the SDK's vocabulary.
func (r directResponse) err() error {
	switch r.Response {
	case "1":
		return nil
	case "2", "3":
		return codeError(r.Response, r.ResponseCode, r.Text)
	}
	return errs.Retry(errs.Unavailable, "mobiuspay: unknown response %q (%s)", r.Response, r.Text)
}

// outcome is what one documented response_code means for camkit.
type outcome struct {
	code  errs.Code
	retry bool // the gateway could not reach the processor: unknown, look up before resending
}

// responseCodes is NMI's documented response_code table (Payment API
// "Response Codes"; an NMI white-label copy is in
// merchantprotocol/documentation …/97_Response_Codes.md): 2xx are the
// issuer's declines, 3xx the gateway's refusals, 4xx the processor's errors.
var responseCodes = map[string]outcome{
	"200": {errs.Declined, false},          // declined by processor
	"201": {errs.Declined, false},          // do not honor
	"202": {errs.InsufficientFunds, false}, // insufficient funds
	"203": {errs.InsufficientFunds, false}, // over limit
	"204": {errs.Declined, false},          // transaction not allowed
	"220": {errs.InvalidCard, false},       // incorrect payment information
	"221": {errs.InvalidCard, false},       // no such card issuer
	"222": {errs.InvalidCard, false},       // no card number on file with issuer
	"223": {errs.ExpiredCard, false},       // expired card
	"224": {errs.InvalidCard, false},       // invalid expiration date
	"225": {errs.InvalidCard, false},       // invalid card security code
	"226": {errs.InvalidCard, false},       // invalid PIN
	"240": {errs.Declined, false},          // call issuer for further information
	"250": {errs.FraudSuspected, false},    // pick up card
	"251": {errs.FraudSuspected, false},    // lost card
	"252": {errs.FraudSuspected, false},    // stolen card
	"253": {errs.FraudSuspected, false},    // fraudulent card
	"260": {errs.Declined, false},          // declined with further instructions (response text)
	"261": {errs.Declined, false},          // stop all recurring payments
	"262": {errs.Declined, false},          // stop this recurring program
	"263": {errs.InvalidCard, false},       // update cardholder data available: the stored card is stale
	"264": {errs.Declined, false},          // retry in a few days
	"300": {errs.Invalid, false},           // rejected by gateway
	"400": {errs.Invalid, false},           // transaction error returned by processor
	"410": {errs.Forbidden, false},         // invalid merchant configuration
	"411": {errs.Forbidden, false},         // merchant account is inactive
	"420": {errs.Unavailable, true},        // communication error (processor unavailable)
	"421": {errs.Unavailable, true},        // communication error with issuer
	"430": {errs.Conflict, false},          // duplicate transaction at processor
	"440": {errs.Invalid, false},           // processor format error
	"441": {errs.Invalid, false},           // invalid transaction information
	"460": {errs.Unsupported, false},       // processor feature not available
	"461": {errs.InvalidCard, false},       // unsupported card type
}

// codeError maps a refused request (response 2 or 3). A code outside the
// table falls back on the response: 2 is a decline, 3 a final refusal.
// Only a communication error leaves the outcome open: the request stays
// pending and its orderid is looked up before anything is sent again.
func codeError(response, code, text string) error {
	o, known := responseCodes[code]
	if !known {
		o = outcome{code: errs.Declined}
		if response != "2" {
			o.code = errs.Invalid
			if strings.Contains(strings.ToLower(text), "authentication failed") {
				return errs.E(errs.Forbidden, "mobiuspay: gateway error (%s %s): check settings.security_key", code, text)
			}
		}
	}
	what := "declined"
	if !errs.IsDecline(&errs.Error{Code: o.code}) {
		what = "gateway error"
	}
	if o.retry {
		return errs.Retry(o.code, "mobiuspay: %s (%s %s)", what, code, text)
	}
	return errs.E(o.code, "mobiuspay: %s (%s %s)", what, code, text)
}

// declineError maps the response_code of a failed action (a query.php
// action or a webhook) to a decline code: what the attempt's "no" was.
func declineError(code, text string) error {
	err := codeError("2", code, text)
	if !errs.IsDecline(err) {
		return errs.E(errs.Declined, "mobiuspay: declined (%s %s)", code, text)
	}
	return err
}

// movedNothing reports whether a failed action's code says the gateway or
// the processor refused the request as a whole (3xx, 4xx), as opposed to an
// issuer's decline (2xx): such a request may be sent again.
func movedNothing(code string) bool {
	return code >= "300" && code < "500" && len(code) == 3
}

// queryResponse is query.php's XML answer.
type queryResponse struct {
	XMLName      xml.Name           `xml:"nm_response"`
	Error        string             `xml:"error_response"`
	Transactions []queryTransaction `xml:"transaction"`
	Customers    []vaultCustomer    `xml:"customer_vault>customer"`
}

type queryTransaction struct {
	TransactionID         string        `xml:"transaction_id"`
	OriginalTransactionID string        `xml:"original_transaction_id"`
	OrderID               string        `xml:"order_id"`
	Condition             string        `xml:"condition"`
	Currency              string        `xml:"currency"`
	CCNumber              string        `xml:"cc_number"` // masked
	CCBin                 string        `xml:"cc_bin"`
	CCType                string        `xml:"cc_type"`
	Actions               []queryAction `xml:"action"`
}

type queryAction struct {
	Amount       string `xml:"amount"`
	ActionType   string `xml:"action_type"`
	Date         string `xml:"date"`
	Success      string `xml:"success"`
	ResponseText string `xml:"response_text"`
	ResponseCode string `xml:"response_code"`
}

type vaultCustomer struct {
	ID       string `xml:"id,attr"`
	CCNumber string `xml:"cc_number"` // masked: 4xxxxxxxxxxx1111
	CCExp    string `xml:"cc_exp"`    // MMYY
	CCType   string `xml:"cc_type"`
	CCBin    string `xml:"cc_bin"`
}

// query asks query.php; params narrow it (order_id, transaction_id, report_type...).
func (c *nmiClient) query(ctx context.Context, params url.Values) (queryResponse, error) {
	params.Set("security_key", c.securityKey)
	body, err := c.post(ctx, c.queryURL, params)
	if err != nil {
		return queryResponse{}, err
	}
	var q queryResponse
	if err := xml.Unmarshal(body, &q); err != nil {
		return queryResponse{}, errs.Retry(errs.Unavailable, "mobiuspay: unreadable answer from query.php: %v", err)
	}
	if q.Error != "" {
		return queryResponse{}, errs.Retry(errs.Unavailable, "mobiuspay: query.php: %s", q.Error)
	}
	return q, nil
}

// findAction returns an action of type kind in the transactions, and its
// transaction: a successful one if there is one, else the last failed one.
func findAction(ts []queryTransaction, kind string) (queryTransaction, queryAction, bool) {
	var ft queryTransaction
	var fa queryAction
	found := false
	for _, t := range ts {
		for _, a := range t.Actions {
			if a.ActionType != kind {
				continue
			}
			if a.Success == "1" {
				return t, a, true
			}
			ft, fa, found = t, a, true
		}
	}
	return ft, fa, found
}
