package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/camkit/camkit/sdk/processorkit"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
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

// accessToken returns a cached OAuth token of the back-end (or, with
// frontend, the widget's) credentials, asking CCBill for a new one when it is
// missing or about to expire.
func (c *CCBill) accessToken(ctx context.Context, frontend bool) (string, error) {
	c.mu.Lock()
	cfg := c.cfg
	cache := &c.backend
	id, secret := cfg.AppID, cfg.Secret
	if frontend {
		cache, id, secret = &c.frontend, cfg.FrontendAppID, cfg.FrontendSecret
	}
	if cache.value != "" && c.now().Add(tokenMargin).Before(cache.expires) {
		v := cache.value
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
	c.mu.Lock()
	*cache = oauthToken{value: tok.AccessToken, expires: c.now().Add(time.Duration(tok.ExpiresIn) * time.Second)}
	c.mu.Unlock()
	return tok.AccessToken, nil
}

func (c *CCBill) dropToken(frontend bool, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cache := &c.backend
	if frontend {
		cache = &c.frontend
	}
	if cache.value == value {
		*cache = oauthToken{}
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
			c.dropToken(false, tok)
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

// legacyCall sends one request to billingApi.cgi or DataLink's
// subscriptionManagement.cgi. Both answer a tiny CSV: a header line
// `"results"` and a value line; 1 is success, 0 or a negative number a
// failure code.
func (c *CCBill) legacyCall(ctx context.Context, endpoint string, params url.Values) (int, string, error) {
	cfg, err := c.configured()
	if err != nil {
		return 0, "", err
	}
	params.Set("clientAccnum", strconv.Itoa(cfg.ClientAccnum))
	params.Set("clientSubacc", strconv.Itoa(cfg.subacc()))
	params.Set("username", cfg.DatalinkUsername)
	params.Set("password", cfg.DatalinkPassword)
	params.Set("returnXML", "0")
	u, err := url.Parse(endpoint)
	if err != nil {
		return 0, "", errs.E(errs.Internal, "ccbill: %v", err)
	}
	u.RawQuery = params.Encode()
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, "", errs.E(errs.Internal, "ccbill: %v", err)
	}
	status, _, body, err := processorkit.RoundTrip(ctx, c.client, req)
	if err != nil {
		return 0, "", err
	}
	what := "ccbill " + params.Get("action")
	if status >= 500 {
		return 0, "", processorkit.ServerError(what, status, body)
	}
	if status != http.StatusOK {
		return 0, "", errs.E(errs.Internal, "%s: unexpected HTTP %d: %s", what, status, processorkit.Snippet(body))
	}
	lines := strings.FieldsFunc(strings.TrimSpace(string(body)), func(r rune) bool { return r == '\n' || r == '\r' })
	if len(lines) < 2 || !strings.EqualFold(strings.Trim(lines[0], `" `), "results") {
		return 0, "", errs.Retry(errs.Unavailable, "%s: malformed answer %q", what, processorkit.Snippet(body))
	}
	val := strings.Trim(lines[1], `" `)
	n, err := strconv.Atoi(val)
	if err != nil {
		return 0, val, errs.Retry(errs.Unavailable, "%s: malformed result %q", what, val)
	}
	return n, val, nil
}

// legacyFailure names the documented failure results of billingApi.cgi and DataLink.
func legacyFailure(what string, n int) error {
	switch n {
	case 0:
		return errs.E(errs.Conflict, "%s: CCBill refused the action (result 0)", what)
	case -1:
		return errs.E(errs.Forbidden, "%s: CCBill refused the DataLink credentials or this server's address (result -1)", what)
	case -2:
		return errs.E(errs.NotFound, "%s: unknown subscription (result -2)", what)
	case -3:
		return errs.E(errs.Invalid, "%s: CCBill found the request malformed (result -3)", what)
	}
	return errs.E(errs.Conflict, "%s: CCBill answered result %d", what, n)
}
