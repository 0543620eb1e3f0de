package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processorkit"
)

// The media type CCBill's transaction service answers in (version 2: string subscription ids).
const acceptV2 = "application/vnd.mcn.transaction-service.api.v.2+json"

// tokenMargin renews an OAuth token this long before CCBill says it expires,
// so a token never dies in flight.
const tokenMargin = 30 * time.Second

var paymentTokenRE = regexp.MustCompile(`^[a-zA-Z0-9]{1,128}$`)

type oauthToken struct {
	value   string
	expires time.Time
}

// accessToken returns an OAuth token of the back-end credentials (cached,
// renewed when about to expire) or, with frontend, a fresh token of the
// widget's credentials. A front-end token goes into a page the viewer's
// browser holds, and CCBill's guide says an access token is valid "for a
// single request or until it expires": each card page gets its own, never a
// cached one.
func (c *CCBill) accessToken(ctx context.Context, frontend bool) (string, error) {
	c.mu.Lock()
	cfg := c.cfg
	id, secret := cfg.AppID, cfg.Secret
	if frontend {
		id, secret = cfg.FrontendAppID, cfg.FrontendSecret
	} else if c.backend.value != "" && c.now().Add(tokenMargin).Before(c.backend.expires) {
		v := c.backend.value
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()

	req, err := http.NewRequest(http.MethodPost, strings.TrimRight(cfg.APIBaseURL, "/")+"/ccbill-auth/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		return "", errs.E(errs.Internal, "ccbill: %v", err)
	}
	req.SetBasicAuth(id, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	status, _, body, err := processorkit.RoundTrip(ctx, c.client, req)
	switch {
	case err != nil:
		return "", err
	case status >= 500:
		return "", processorkit.ServerError("ccbill OAuth token", status, body)
	case status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden:
		return "", errs.E(errs.Unauthenticated, "ccbill: the OAuth credentials (settings.app_id/secret or frontend_*) were refused: HTTP %d %s", status, processorkit.Snippet(body))
	case status != http.StatusOK:
		return "", errs.Retry(errs.Unavailable, "ccbill OAuth token: unexpected HTTP %d %s", status, processorkit.Snippet(body))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return "", errs.Retry(errs.Unavailable, "ccbill OAuth token: malformed answer %s", processorkit.Snippet(body))
	}
	if !frontend {
		c.mu.Lock()
		c.backend = oauthToken{value: tok.AccessToken, expires: c.now().Add(time.Duration(tok.ExpiresIn) * time.Second)}
		c.mu.Unlock()
	}
	return tok.AccessToken, nil
}

// dropToken forgets the cached back-end token if it is still value.
func (c *CCBill) dropToken(value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.backend.value == value {
		c.backend = oauthToken{}
	}
}

// restCall sends one request to the transaction API with the back-end token.
// A 401 means the token expired or was revoked before we knew: the request
// was not processed, so it is sent once more with a fresh token.
func (c *CCBill) restCall(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	cfg, err := c.configured()
	if err != nil {
		return 0, nil, err
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.accessToken(ctx, false)
		if err != nil {
			return 0, nil, err
		}
		var rd *bytes.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, err := http.NewRequest(method, strings.TrimRight(cfg.APIBaseURL, "/")+path, rd)
		if err != nil {
			return 0, nil, errs.E(errs.Internal, "ccbill: %v", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", acceptV2)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		status, _, resp, err := processorkit.RoundTrip(ctx, c.client, req)
		if err != nil {
			return 0, nil, err
		}
		if status == http.StatusUnauthorized && attempt == 0 {
			c.dropToken(tok)
			continue
		}
		return status, resp, nil
	}
}

// ccbillError is the JSON error body of the transaction API.
type ccbillError struct {
	GeneralMessage string          `json:"generalMessage"`
	ErrorCode      json.RawMessage `json:"errorCode"` // a string in some versions, a number in others
	Errors         []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// apiError turns a non-200 answer of the transaction API into a typed error.
func apiError(what string, status int, body []byte) error {
	var e ccbillError
	_ = json.Unmarshal(body, &e)
	msg := e.GeneralMessage
	for _, f := range e.Errors {
		msg += "; " + f.Field + ": " + f.Message
	}
	if msg == "" {
		msg = processorkit.Snippet(body)
	}
	code := strings.Trim(string(e.ErrorCode), `"`)
	switch {
	case status >= 500:
		return errs.Retry(errs.Unavailable, "%s: HTTP %d (CCBill error %s): %s", what, status, code, msg)
	case status == http.StatusNotFound:
		return errs.E(errs.InvalidCard, "%s: CCBill does not know this payment token (error %s): %s", what, code, msg)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return errs.E(errs.Forbidden, "%s: HTTP %d (CCBill error %s): %s", what, status, code, msg)
	case status == http.StatusBadRequest:
		return errs.E(errs.Invalid, "%s: CCBill refused the request (error %s): %s", what, code, msg)
	}
	return errs.E(errs.Internal, "%s: unexpected HTTP %d (CCBill error %s): %s", what, status, code, msg)
}

type passThrough struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// chargeRequest is the body of POST /transactions/payment-tokens/{id}.
// initialPrice is a JSON number in CCBill's schema: it is written from the
// exact decimal text, never through a float.
type chargeRequest struct {
	ClientAccnum          int           `json:"clientAccnum"`
	ClientSubacc          int           `json:"clientSubacc"`
	InitialPrice          json.Number   `json:"initialPrice"`
	InitialPeriod         int           `json:"initialPeriod"`
	CurrencyCode          int           `json:"currencyCode"`
	RecurringPrice        json.Number   `json:"recurringPrice,omitempty"`
	RecurringPeriod       int           `json:"recurringPeriod,omitempty"`
	Rebills               int           `json:"rebills,omitempty"`
	CreateNewPaymentToken bool          `json:"createNewPaymentToken"`
	PassThroughInfo       []passThrough `json:"passThroughInfo,omitempty"`
}

type chargeResponse struct {
	Approved          bool            `json:"approved"`
	DeclineCode       json.RawMessage `json:"declineCode"`
	DeclineText       *string         `json:"declineText"`
	DenialID          json.RawMessage `json:"denialId"`
	PaymentUniqueID   *string         `json:"paymentUniqueId"`
	SubscriptionID    json.RawMessage `json:"subscriptionId"` // a string in v2, a number in v1
	NewPaymentTokenID *string         `json:"newPaymentTokenId"`
}

// decimalJSON renders m as a JSON number with the currency's exact decimals.
func decimalJSON(m money.Money) (json.Number, int, error) {
	cur, err := money.Lookup(m.Currency)
	if err != nil {
		return "", 0, errs.E(errs.UnknownCurrency, "%v", err)
	}
	d, err := money.FormatDecimal(m)
	if err != nil {
		return "", 0, errs.E(errs.UnknownCurrency, "%v", err)
	}
	return json.Number(d), cur.Numeric, nil
}

func buildCharge(cfg *settings, amount money.Money, recurring *recurringTerms, key, customerRef string) ([]byte, error) {
	price, numeric, err := decimalJSON(amount)
	if err != nil {
		return nil, err
	}
	req := chargeRequest{ClientAccnum: cfg.ClientAccnum, ClientSubacc: cfg.subacc(), InitialPrice: price,
		InitialPeriod: cfg.InitialPeriodDays, CurrencyCode: numeric,
		PassThroughInfo: []passThrough{{Name: "camkitKey", Value: key}}}
	if customerRef != "" {
		req.PassThroughInfo = append(req.PassThroughInfo, passThrough{Name: "camkitCustomer", Value: customerRef})
	}
	if recurring != nil {
		rp, _, err := decimalJSON(recurring.Amount)
		if err != nil {
			return nil, err
		}
		req.InitialPeriod = recurring.PeriodDays
		req.RecurringPrice, req.RecurringPeriod, req.Rebills = rp, recurring.PeriodDays, 99
	}
	return json.Marshal(req)
}

type recurringTerms struct {
	Amount     money.Money `json:"amount"`
	PeriodDays int         `json:"period_days"`
}

// rawID reads an id CCBill sends as a JSON string or number ("" for null).
func rawID(r json.RawMessage) string {
	s := strings.TrimSpace(string(r))
	if s == "" || s == "null" {
		return ""
	}
	var str string
	if json.Unmarshal(r, &str) == nil {
		return str
	}
	return s // a number: its digits, not a float64 that would lose them
}

// listCharges returns the subscription ids CCBill has charged with token
// (GET /transactions/payment-tokens/{id}), to find out after an unknown
// outcome whether a charge went through.
func (c *CCBill) listCharges(ctx context.Context, token string) ([]string, error) {
	cfg, err := c.configured()
	if err != nil {
		return nil, err
	}
	q := url.Values{"clientAccnum": {strconv.Itoa(cfg.ClientAccnum)}, "clientSubacc": {strconv.Itoa(cfg.subacc())}}
	status, body, err := c.restCall(ctx, http.MethodGet, "/transactions/payment-tokens/"+url.PathEscape(token)+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNotFound {
		return nil, nil // no charge with this token yet
	}
	if status != http.StatusOK {
		return nil, apiError("ccbill: looking up charges of a payment token", status, body)
	}
	var list []struct {
		ClientAccnum   int             `json:"clientAccnum"`
		ClientSubacc   int             `json:"clientSubacc"`
		SubscriptionID json.RawMessage `json:"subscriptionId"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, errs.Retry(errs.Unavailable, "ccbill: malformed charge list: %s", processorkit.Snippet(body))
	}
	ids := make([]string, 0, len(list))
	for _, e := range list {
		if id := rawID(e.SubscriptionID); id != "" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// datalinkCall sends one action to DataLink's subscriptionManagement.cgi.
// It answers a tiny CSV (returnXML=0): a header line "results" and a value
// line; 1 is success, 0 or a negative number one of the documented failure
// codes (datalinkFailure).
func (c *CCBill) datalinkCall(ctx context.Context, params url.Values) (int, error) {
	cfg, err := c.configured()
	if err != nil {
		return 0, err
	}
	params.Set("clientAccnum", strconv.Itoa(cfg.ClientAccnum))
	params.Set("clientSubacc", strconv.Itoa(cfg.subacc()))
	params.Set("username", cfg.DatalinkUsername)
	params.Set("password", cfg.DatalinkPassword)
	params.Set("returnXML", "0")
	u, err := url.Parse(cfg.DatalinkURL)
	if err != nil {
		return 0, errs.E(errs.Internal, "ccbill: %v", err)
	}
	u.RawQuery = params.Encode()
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, errs.E(errs.Internal, "ccbill: %v", err)
	}
	status, _, body, err := processorkit.RoundTrip(ctx, c.client, req)
	if err != nil {
		return 0, err
	}
	what := "ccbill DataLink " + params.Get("action")
	if status >= 500 {
		return 0, processorkit.ServerError(what, status, body)
	}
	if status != http.StatusOK {
		return 0, errs.Retry(errs.Unavailable, "%s: unexpected HTTP %d: %s", what, status, processorkit.Snippet(body))
	}
	lines := strings.FieldsFunc(strings.TrimSpace(string(body)), func(r rune) bool { return r == '\n' || r == '\r' })
	if len(lines) < 2 || !strings.EqualFold(strings.Trim(lines[0], `" `), "results") {
		return 0, errs.Retry(errs.Unavailable, "%s: malformed answer %q", what, processorkit.Snippet(body))
	}
	val := strings.Trim(lines[1], `" `)
	n, err := strconv.Atoi(val)
	if err != nil {
		return 0, errs.Retry(errs.Unavailable, "%s: malformed result %q", what, val)
	}
	return n, nil
}

// resultInternalError is DataLink's -7: "an internal error or a database
// error and the requested action could not complete". CCBill's "-7 error
// explained" page lists temporary system errors among its causes, and also
// bad arguments and credentials, so it never proves that nothing happened:
// it is the one retryable code, and never for a refund (Refund waits for
// CCBill's Refund webhook instead).
const resultInternalError = -7

// datalinkFailure names DataLink's documented results (the table of the
// CCBill API guide, as datinglibre/ccbill CcBillClient.php carries it) as
// errs codes. Only -7 is retryable.
func datalinkFailure(what string, n int) error {
	msg := func(text string) string { return fmt.Sprintf("%s: CCBill DataLink result %d: %s", what, n, text) }
	switch n {
	case 0:
		return errs.E(errs.Conflict, "%s", msg("the requested action failed"))
	case -1:
		return errs.E(errs.Unauthenticated, "%s", msg("the login arguments are invalid or missing (settings.datalink_username/datalink_password)"))
	case -2:
		return errs.E(errs.Invalid, "%s", msg("the subscription id is invalid or its type is not supported by this action"))
	case -3:
		return errs.E(errs.NotFound, "%s", msg("no record was found for the subscription"))
	case -4:
		return errs.E(errs.Forbidden, "%s", msg("the subscription is not for the account this DataLink user authenticated on (settings.client_accnum/client_subacc)"))
	case -5:
		return errs.E(errs.Invalid, "%s", msg("the arguments of the action are invalid or missing"))
	case -6:
		return errs.E(errs.Unsupported, "%s", msg("the requested action is invalid (is it enabled for this DataLink user?)"))
	case resultInternalError:
		return errs.Retry(errs.Unavailable, "%s", msg("internal or database error; the action may or may not have completed"))
	case -8:
		return errs.E(errs.Forbidden, "%s", msg("this server's IP address is not allowed: add it to the DataLink user in CCBill's admin"))
	case -9:
		return errs.E(errs.Forbidden, "%s", msg("the account is deactivated for DataLink or not permitted to perform this action"))
	case -10:
		return errs.E(errs.Forbidden, "%s", msg("the merchant is not set up to use DataLink"))
	case -11:
		return errs.E(errs.Invalid, "%s", msg("the subscription is not eligible for a discount"))
	case -12:
		return errs.E(errs.Limit, "%s", msg("three or more failed log-ins in the last hour: wait an hour and check the DataLink credentials"))
	case -15:
		return errs.E(errs.Limit, "%s", msg("the merchant is over its refund threshold"))
	case -16:
		return errs.E(errs.Limit, "%s", msg("the merchant is over its void threshold"))
	case -23:
		return errs.E(errs.Limit, "%s", msg("transaction limit reached"))
	case -24:
		return errs.E(errs.Limit, "%s", msg("purchase limit reached"))
	}
	return errs.E(errs.Internal, "%s", msg("a result CCBill does not document"))
}
