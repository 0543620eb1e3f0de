package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

// checkout is one visit to the card page: what to charge, and what came of it.
type checkout struct {
	Key          string          `json:"key"` // StartCheckout's idempotency key; the purchase is charged under key+"/purchase"
	CustomerRef  string          `json:"customer_ref"`
	ReturnURL    string          `json:"return_url"`
	CancelURL    string          `json:"cancel_url,omitempty"`
	Description  string          `json:"description,omitempty"`
	Purchase     *money.Money    `json:"purchase,omitempty"`
	Recurring    *recurringTerms `json:"recurring,omitempty"`
	ExpiresAt    time.Time       `json:"expires_at"`
	Token        string          `json:"token,omitempty"` // the paymentTokenId the widget created
	ChargeRef    string          `json:"charge_ref,omitempty"`
	Subscription string          `json:"subscription,omitempty"`
	Decline      *errs.Error     `json:"decline,omitempty"`
}

func (c *CCBill) StartCheckout(_ context.Context, req processor.StartCheckoutRequest) (processor.Checkout, error) {
	cfg, err := c.configured()
	if err != nil {
		return processor.Checkout{}, err
	}
	if err := processor.ValidateIdempotencyKey(req.IdempotencyKey); err != nil {
		return processor.Checkout{}, err
	}
	if err := processorkit.CheckReturnURL("return URL", req.ReturnURL, true); err != nil {
		return processor.Checkout{}, err
	}
	if err := processorkit.CheckReturnURL("cancel URL", req.CancelURL, false); err != nil {
		return processor.Checkout{}, err
	}
	if req.Purchase != nil {
		if err := processor.ValidateAmount(*req.Purchase, cfg.Currencies); err != nil {
			return processor.Checkout{}, err
		}
	}
	var rec *recurringTerms
	if r := req.Recurring; r != nil {
		if req.Purchase == nil {
			return processor.Checkout{}, errs.E(errs.Invalid, "ccbill: recurring terms need an initial purchase")
		}
		if err := processor.ValidateAmount(r.Amount, cfg.Currencies); err != nil {
			return processor.Checkout{}, err
		}
		if r.Amount.Currency != req.Purchase.Currency {
			return processor.Checkout{}, errs.E(errs.Invalid, "ccbill: recurring price in %s, initial price in %s", r.Amount.Currency, req.Purchase.Currency)
		}
		if r.PeriodDays < 1 || r.PeriodDays > 365 {
			return processor.Checkout{}, errs.E(errs.Invalid, "ccbill: recurring period must be 1-365 days, got %d", r.PeriodDays)
		}
		rec = &recurringTerms{Amount: r.Amount, PeriodDays: r.PeriodDays}
	}
	key := req.IdempotencyKey
	fp := processorkit.Fingerprint("checkout", req.CustomerRef, req.ReturnURL, req.CancelURL, req.Purchase, rec, req.Description)
	_, out, done, err := beginOp[processor.Checkout](c, key, fp)
	if done {
		return out, err
	}
	now := c.now().UTC()
	ref := processorkit.NewRef("ccb_co_")
	co := &checkout{Key: key, CustomerRef: req.CustomerRef, ReturnURL: req.ReturnURL, CancelURL: req.CancelURL,
		Description: req.Description, Purchase: req.Purchase, Recurring: rec, ExpiresAt: now.Add(checkoutTTL)}
	res := processor.Checkout{Reference: ref, URL: routePrefix + "/checkout?ref=" + ref, Method: http.MethodGet, ExpiresAt: co.ExpiresAt}
	return res, c.finish(key, fp, now, res, func(st *state) { st.Checkouts[ref] = co })
}

func (c *CCBill) CompleteCheckout(_ context.Context, req processor.CompleteCheckoutRequest) (processor.CheckoutResult, error) {
	if _, err := c.configured(); err != nil {
		return processor.CheckoutResult{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	co := c.st.Checkouts[req.CheckoutReference]
	switch {
	case co == nil:
		return processor.CheckoutResult{}, errs.E(errs.NotFound, "ccbill: no checkout %q", req.CheckoutReference)
	case req.CustomerRef != "" && req.CustomerRef != co.CustomerRef:
		return processor.CheckoutResult{}, errs.E(errs.Forbidden, "ccbill: checkout %s belongs to another customer", req.CheckoutReference)
	case co.Token == "":
		return processor.CheckoutResult{}, errs.E(errs.NotFound, "ccbill: no card was entered on checkout %s", req.CheckoutReference)
	case req.Params.Get("token") != "" && req.Params.Get("token") != co.Token:
		return processor.CheckoutResult{}, errs.E(errs.Invalid, "ccbill: the token returned does not belong to checkout %s", req.CheckoutReference)
	case co.Decline != nil:
		e := *co.Decline
		return processor.CheckoutResult{}, &e
	}
	res := processor.CheckoutResult{Credential: &processor.StoredCredential{Token: co.Token, CustomerRef: co.CustomerRef},
		SubscriptionReference: co.Subscription}
	if co.ChargeRef != "" {
		res.Charge = &processor.ChargeResult{Reference: co.ChargeRef, Amount: *co.Purchase}
	}
	return res, nil
}

func (c *CCBill) ServeHTTP(ctx context.Context, req processor.HTTPRequest) (processor.HTTPResponse, error) {
	route := strings.TrimPrefix(req.Path, routePrefix)
	if route != "/checkout" {
		return processorkit.PlainResponse(http.StatusNotFound, "not found"), nil
	}
	if _, err := c.configured(); err != nil {
		return processorkit.PlainResponse(http.StatusServiceUnavailable, "the CCBill processor is not configured yet"), nil
	}
	switch req.Method {
	case http.MethodGet:
		return c.cardPage(ctx, req, req.Query.Get("ref"), ""), nil
	case http.MethodPost:
		return c.tokenPosted(ctx, req)
	}
	r := processorkit.PlainResponse(http.StatusMethodNotAllowed, "method not allowed")
	r.Headers.Set("Allow", "GET, POST")
	return r, nil
}

// The card fields carry data-ccbill attributes for CCBill's Advanced Widget
// and no name attributes: the browser never submits them to camkit. Only the
// paymentTokenId the widget returns is posted back.
var pageTmpl = template.Must(template.New("card").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Card payment</title>
<link rel="preload" href="{{.WidgetURL}}" as="script">
<script src="{{.WidgetURL}}"></script>
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1.2rem;padding:.6rem 1.2rem}.err{color:#b00020}</style></head>
<body><h1>Card payment</h1>
{{if .Description}}<p>{{.Description}}</p>{{end}}
{{if .Amount}}<p>Amount: <strong>{{.Amount}}</strong>{{if .Recurring}} then {{.Recurring}}{{end}}</p>{{else}}<p>Your card is stored with CCBill for later payments; nothing is charged now.</p>{{end}}
<p class="err" id="err" role="alert">{{.Error}}</p>
<form id="pay" method="post" action="{{.Action}}" autocomplete="on"
 data-app="{{.AppID}}" data-token="{{.AuthToken}}" data-accnum="{{.Accnum}}" data-subacc="{{.Subacc}}">
<input type="hidden" name="ref" value="{{.Ref}}">
<input type="hidden" name="payment_token_id" id="ptid" value="">
<input type="hidden" data-ccbill="currencyCode" value="{{.CurrencyCode}}">
<input type="hidden" data-ccbill="ipAddress" value="{{.IPAddress}}">
<label for="n">Name on card</label><input id="n" data-ccbill="nameOnCard" autocomplete="cc-name" required>
<label for="fn">First name</label><input id="fn" data-ccbill="firstName" autocomplete="given-name" required>
<label for="ln">Last name</label><input id="ln" data-ccbill="lastName" autocomplete="family-name" required>
<label for="cn">Card number</label><input id="cn" data-ccbill="cardNumber" inputmode="numeric" autocomplete="cc-number" required>
<label for="em">Expiry month</label><input id="em" data-ccbill="expMonth" inputmode="numeric" placeholder="MM" autocomplete="cc-exp-month" required>
<label for="ey">Expiry year</label><input id="ey" data-ccbill="expYear" inputmode="numeric" placeholder="YYYY" autocomplete="cc-exp-year" required>
<label for="cv">CVV</label><input id="cv" data-ccbill="cvv2" inputmode="numeric" autocomplete="cc-csc" required>
<label for="e">Email</label><input id="e" data-ccbill="email" type="email" autocomplete="email" required>
<label for="c">Country (2 letters)</label><input id="c" data-ccbill="country" maxlength="2" autocomplete="country" required>
<label for="z">Postal code</label><input id="z" data-ccbill="postalCode" autocomplete="postal-code" required>
<button type="submit">Pay</button>
</form>
{{if .CancelURL}}<p><a href="{{.CancelURL}}">Cancel</a></p>{{end}}
<script nonce="{{.Nonce}}">
document.getElementById("pay").addEventListener("submit", async function (ev) {
  ev.preventDefault();
  var f = ev.target, out = document.getElementById("err");
  out.textContent = "";
  try {
    var widget = new ccbill.CCBillAdvancedWidget(f.dataset.app);
    var resp = await widget.createPaymentToken(f.dataset.token, Number(f.dataset.accnum), Number(f.dataset.subacc));
    var body = await resp.json();
    if (!body || !body.paymentTokenId) { throw new Error("no payment token"); }
    document.getElementById("ptid").value = body.paymentTokenId;
    f.submit();
  } catch (e) {
    out.textContent = "CCBill could not accept this card. Check the details and try again.";
  }
});
</script>
</body></html>`))

// cardPage renders the widget's form for checkout ref, or an error page.
func (c *CCBill) cardPage(ctx context.Context, req processor.HTTPRequest, ref, problem string) processor.HTTPResponse {
	c.mu.Lock()
	cfg := c.cfg
	var co checkout
	found := false
	if p := c.st.Checkouts[ref]; p != nil {
		co, found = *p, true
	}
	now := c.now()
	c.mu.Unlock()
	switch {
	case !found:
		return processorkit.PlainResponse(http.StatusNotFound, "unknown checkout")
	case co.Token != "" && co.Decline == nil:
		return processorkit.PlainResponse(http.StatusGone, "this checkout is already complete")
	case !now.Before(co.ExpiresAt):
		return processorkit.PlainResponse(http.StatusGone, "this checkout has expired; start again")
	}
	tok, err := c.accessToken(ctx, true)
	if err != nil {
		return processorkit.PlainResponse(http.StatusServiceUnavailable, "CCBill cannot be reached right now; try again in a minute")
	}
	nonceB := make([]byte, 16)
	_, _ = rand.Read(nonceB)
	nonce := base64.StdEncoding.EncodeToString(nonceB)
	currency := cfg.Currencies[0]
	data := map[string]any{"Action": routePrefix + "/checkout", "Ref": ref, "Error": problem, "Description": co.Description,
		"CancelURL": co.CancelURL, "WidgetURL": cfg.WidgetURL, "Nonce": nonce, "AppID": cfg.FrontendAppID, "AuthToken": tok,
		"Accnum": cfg.ClientAccnum, "Subacc": cfg.subacc(), "IPAddress": clientIP(req)}
	if co.Purchase != nil {
		data["Amount"] = co.Purchase.String()
		currency = co.Purchase.Currency
	}
	if co.Recurring != nil {
		data["Recurring"] = co.Recurring.Amount.String() + " every " + strconv.Itoa(co.Recurring.PeriodDays) + " days"
	}
	if cur, err := money.Lookup(currency); err == nil {
		data["CurrencyCode"] = strconv.Itoa(cur.Numeric)
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, data); err != nil {
		return processorkit.PlainResponse(http.StatusInternalServerError, "page error")
	}
	status := http.StatusOK
	if problem != "" {
		status = http.StatusUnprocessableEntity
	}
	widget, _ := url.Parse(cfg.WidgetURL)
	api, _ := url.Parse(cfg.APIBaseURL)
	h := http.Header{}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"' "+origin(widget)+
		"; style-src 'nonce-"+nonce+"'; connect-src "+origin(api)+" "+origin(widget)+"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	return processor.HTTPResponse{Status: status, Headers: h, Body: buf.Bytes()}
}

func origin(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// clientIP is the viewer's address for CCBill's ipAddress field: the client
// as the host resolved it (past its trusted proxies). A forwarding header's
// first entry is whatever the client wrote, so it is never read here.
func clientIP(req processor.HTTPRequest) string {
	if h, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		return h
	}
	return req.RemoteAddr
}

// tokenPosted receives the paymentTokenId the widget created, charges the
// checkout's purchase with it (if any) and sends the viewer back to the host.
func (c *CCBill) tokenPosted(ctx context.Context, req processor.HTTPRequest) (processor.HTTPResponse, error) {
	form, err := url.ParseQuery(string(req.Body))
	if err != nil {
		return processorkit.PlainResponse(http.StatusBadRequest, "malformed form"), nil
	}
	ref, token := form.Get("ref"), form.Get("payment_token_id")
	if !paymentTokenRE.MatchString(token) {
		return c.cardPage(ctx, req, ref, "CCBill did not return a payment token. Try again."), nil
	}
	c.mu.Lock()
	p := c.st.Checkouts[ref]
	var co checkout
	if p != nil {
		co = *p
	}
	now := c.now()
	c.mu.Unlock()
	switch {
	case p == nil:
		return processorkit.PlainResponse(http.StatusNotFound, "unknown checkout"), nil
	case co.Token != "" && co.Decline == nil:
		return processorkit.PlainResponse(http.StatusGone, "this checkout is already complete"), nil
	case !now.Before(co.ExpiresAt):
		return processorkit.PlainResponse(http.StatusGone, "this checkout has expired; start again"), nil
	}
	status := "approved"
	var chargeRef, sub string
	var decline *errs.Error
	if co.Purchase != nil {
		// One purchase per checkout: a new card after a decline is a new attempt.
		key := co.Key + "/purchase/" + token
		res, s, err := c.charge(ctx, key, token, *co.Purchase, co.Recurring, co.CustomerRef)
		switch {
		case err == nil:
			chargeRef, sub = res.Reference, s
		case errs.IsDecline(err):
			decline, status = processorkit.AsError(err), "declined"
		default:
			return c.cardPage(ctx, req, ref, "The payment could not be completed right now ("+string(errs.CodeOf(err))+"). Try again."), nil
		}
	}
	c.mu.Lock()
	if p := c.st.Checkouts[ref]; p != nil {
		p.Token, p.ChargeRef, p.Subscription, p.Decline = token, chargeRef, sub, decline
	}
	err = c.saveLocked()
	c.mu.Unlock()
	if err != nil {
		return processor.HTTPResponse{}, err
	}
	back := processorkit.WithQuery(co.ReturnURL, url.Values{"checkout": {ref}, "token": {token}, "status": {status}})
	h := http.Header{"Location": {back}, "Cache-Control": {"no-store"}}
	return processor.HTTPResponse{Status: http.StatusSeeOther, Headers: h}, nil
}
