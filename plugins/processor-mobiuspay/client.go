package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"github.com/camkit/camkit/sdk/processorkit"
	"net/http"
	"net/url"
	"strings"

	"github.com/camkit/camkit/sdk/errs"
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
	case "2":
		return declineError(r.ResponseCode, r.Text)
	case "3":
		return gatewayError(r.ResponseCode, r.Text)
	}
	return errs.Retry(errs.Unavailable, "mobiuspay: unknown response %q (%s)", r.Response, r.Text)
}

// declineError maps NMI's decline response codes (2xx).
func declineError(code, text string) error {
	msg := fmt.Sprintf("mobiuspay: declined (%s %s)", code, text)
	switch code {
	case "202", "203": // insufficient funds, over limit
		return errs.E(errs.InsufficientFunds, "%s", msg)
	case "223": // expired card
		return errs.E(errs.ExpiredCard, "%s", msg)
	case "220", "221", "222", "224", "225", "226": // bad card data, no such issuer, invalid expiry, CVV, PIN
		return errs.E(errs.InvalidCard, "%s", msg)
	case "250", "251", "252", "253": // pick up, lost, stolen, fraudulent card
		return errs.E(errs.FraudSuspected, "%s", msg)
	}
	return errs.E(errs.Declined, "%s", msg)
}

// gatewayError maps response=3: the gateway or the processor behind it
// refused the request. Only communication errors leave the outcome open.
func gatewayError(code, text string) error {
	msg := fmt.Sprintf("mobiuspay: gateway error (%s %s)", code, text)
	switch code {
	case "420", "421": // communication error with the processor or the issuer
		return errs.Retry(errs.Unavailable, "%s", msg)
	case "410", "411": // invalid merchant configuration, inactive merchant account
		return errs.E(errs.Forbidden, "%s", msg)
	case "460":
		return errs.E(errs.Unsupported, "%s", msg)
	case "461":
		return errs.E(errs.InvalidCard, "%s", msg)
	}
	if strings.Contains(strings.ToLower(text), "authentication failed") {
		return errs.E(errs.Forbidden, "%s: check settings.security_key", msg)
	}
	return errs.E(errs.Invalid, "%s", msg)
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
