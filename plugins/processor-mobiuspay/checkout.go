package main

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

// StartCheckout opens a checkout on the plugin's own page, where the card is
// typed into Collect.js fields: iframes served by the gateway, so the number
// goes from the viewer's browser straight to MobiusPay and only a one-time
// payment_token comes back through camkit.
func (m *MobiusPay) StartCheckout(_ context.Context, req processor.StartCheckoutRequest) (processor.Checkout, error) {
	if err := processor.ValidateIdempotencyKey(req.IdempotencyKey); err != nil {
		return processor.Checkout{}, err
	}
	if err := processorkit.CheckReturnURL("return URL", req.ReturnURL, true); err != nil {
		return processor.Checkout{}, err
	}
	if err := processorkit.CheckReturnURL("cancel URL", req.CancelURL, false); err != nil {
		return processor.Checkout{}, err
	}
	if req.Recurring != nil {
		return processor.Checkout{}, errs.E(errs.Unsupported, "mobiuspay: native recurring billing is not offered; charge the stored card instead")
	}
	if req.Purchase != nil {
		if err := processor.ValidateAmount(*req.Purchase, m.currencies()); err != nil {
			return processor.Checkout{}, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st == nil {
		return processor.Checkout{}, errs.Retry(errs.Unavailable, "mobiuspay processor is not configured yet")
	}
	key, print := "checkout/"+req.IdempotencyKey, processorkit.Fingerprint("checkout", req.CustomerRef, req.ReturnURL, req.CancelURL, req.Purchase, req.Description)
	if _, out, done, err := processorkit.Lookup[processor.Checkout](m.st.Idempotency, key, print); done {
		return out, err
	}
	now := m.now().UTC()
	ref := processorkit.NewRef("mp_co_")
	co := &checkoutRec{CustomerRef: req.CustomerRef, ReturnURL: req.ReturnURL, CancelURL: req.CancelURL,
		Description: req.Description, Purchase: req.Purchase, ExpiresAt: now.Add(checkoutTTL)}
	out := processor.Checkout{Reference: ref, URL: routePrefix + "/checkout?ref=" + ref, Method: http.MethodGet, ExpiresAt: co.ExpiresAt}
	rec, err := processorkit.DoneRecord(print, out, now, now)
	if err != nil {
		return processor.Checkout{}, err
	}
	m.st.Checkouts[ref] = co
	m.st.Idempotency[key] = rec
	if err := m.saveLocked(); err != nil {
		return processor.Checkout{}, err
	}
	return out, nil
}

func (m *MobiusPay) CompleteCheckout(_ context.Context, req processor.CompleteCheckoutRequest) (processor.CheckoutResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st == nil {
		return processor.CheckoutResult{}, errs.Retry(errs.Unavailable, "mobiuspay processor is not configured yet")
	}
	co := m.st.Checkouts[req.CheckoutReference]
	switch {
	case co == nil:
		return processor.CheckoutResult{}, errs.E(errs.NotFound, "mobiuspay: no checkout %q", req.CheckoutReference)
	case req.CustomerRef != "" && req.CustomerRef != co.CustomerRef:
		return processor.CheckoutResult{}, errs.E(errs.Forbidden, "mobiuspay: checkout %s belongs to another customer", req.CheckoutReference)
	case co.VaultID == "" || !co.Done:
		return processor.CheckoutResult{}, errs.E(errs.NotFound, "mobiuspay: checkout %s is not complete", req.CheckoutReference)
	case co.Decline != nil:
		e := *co.Decline
		return processor.CheckoutResult{}, &e
	}
	res := processor.CheckoutResult{Credential: &processor.StoredCredential{Token: co.VaultID, Brand: co.Brand, Last4: co.Last4,
		ExpMonth: co.ExpMonth, ExpYear: co.ExpYear, CustomerRef: co.CustomerRef}}
	if p := m.st.Payments[co.ChargeRef]; p != nil {
		res.Charge = &processor.ChargeResult{Reference: co.ChargeRef, Amount: p.Amount}
	}
	return res, nil
}

func (m *MobiusPay) ServeHTTP(ctx context.Context, req processor.HTTPRequest) (processor.HTTPResponse, error) {
	if strings.TrimPrefix(req.Path, routePrefix) != "/checkout" {
		return textResponse(http.StatusNotFound, "not found"), nil
	}
	switch req.Method {
	case http.MethodGet:
		return m.page(req.Path, req.Query.Get("ref"), "", false), nil
	case http.MethodPost:
		return m.submit(ctx, req)
	}
	r := textResponse(http.StatusMethodNotAllowed, "method not allowed")
	r.Headers.Set("Allow", "GET, POST")
	return r, nil
}

var pageTmpl = template.Must(template.New("checkout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Card payment</title>
<script src="{{.CollectJS}}" data-tokenization-key="{{.TokenizationKey}}" data-variant="inline"></script>
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}
.field{margin:.8rem 0;min-height:2.4rem}button{margin-top:1.2rem;padding:.6rem 1.2rem}.err{color:#b00020}</style></head>
<body><h1>Card payment</h1>
{{if .Description}}<p>{{.Description}}</p>{{end}}
{{if .Amount}}<p>Amount: <strong>{{.Amount}}</strong></p>{{else}}<p>Your card is stored for later payments; nothing is charged now.</p>{{end}}
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
<form id="payform" method="post" action="{{.Action}}">
<input type="hidden" name="ref" value="{{.Ref}}">
<input type="hidden" name="payment_token" id="payment_token" value="">
{{if .Retry}}<input type="hidden" name="retry" value="1"><button type="submit">Try again</button>
{{else}}<label>Card number</label><div class="field" id="ccnumber"></div>
<label>Expiry</label><div class="field" id="ccexp"></div>
<label>CVV</label><div class="field" id="cvv"></div>
<button type="button" id="paybutton">Pay</button>{{end}}
</form>
{{if .CancelURL}}<p><a href="{{.CancelURL}}">Cancel</a></p>{{end}}
{{if not .Retry}}<script nonce="{{.Nonce}}">
CollectJS.configure({variant:"inline",paymentSelector:"#paybutton",
 fields:{ccnumber:{selector:"#ccnumber"},ccexp:{selector:"#ccexp"},cvv:{selector:"#cvv"}},
 callback:function(r){document.getElementById("payment_token").value=r.token;document.getElementById("payform").submit();}});
</script>{{end}}
</body></html>`))

// page renders the card form of checkout ref (or, with retry, a button that
// retries a purchase whose outcome the gateway left unknown).
func (m *MobiusPay) page(action, ref, problem string, retry bool) processor.HTTPResponse {
	m.mu.Lock()
	defer m.mu.Unlock()
	var co *checkoutRec
	if m.st != nil {
		co = m.st.Checkouts[ref]
	}
	switch {
	case co == nil:
		return textResponse(http.StatusNotFound, "unknown checkout")
	case co.Done:
		return textResponse(http.StatusGone, "this checkout is already complete")
	case !m.now().Before(co.ExpiresAt):
		return textResponse(http.StatusGone, "this checkout has expired; start again")
	}
	nonce := processorkit.NewRef("")
	data := map[string]any{"Action": action, "Ref": ref, "Error": problem, "Description": co.Description, "CancelURL": co.CancelURL,
		"CollectJS": m.cfg.CollectJSURL, "TokenizationKey": m.cfg.TokenizationKey, "Nonce": nonce, "Retry": retry || co.VaultID != ""}
	if co.Purchase != nil {
		data["Amount"] = co.Purchase.String()
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, data); err != nil {
		return textResponse(http.StatusInternalServerError, "page error")
	}
	status := http.StatusOK
	if problem != "" {
		status = http.StatusUnprocessableEntity
	}
	h := pageHeaders("text/html; charset=utf-8")
	origin := originOf(m.cfg.CollectJSURL)
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"' "+origin+"; style-src 'nonce-"+nonce+"' 'unsafe-inline'; frame-src "+origin+
		"; connect-src "+origin+"; img-src "+origin+"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	return processor.HTTPResponse{Status: status, Headers: h, Body: buf.Bytes()}
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "'none'"
	}
	return u.Scheme + "://" + u.Host
}

// submit stores the tokenised card in the customer vault, charges the
// purchase if the checkout has one, and sends the viewer back to the host.
func (m *MobiusPay) submit(ctx context.Context, req processor.HTTPRequest) (processor.HTTPResponse, error) {
	form, err := url.ParseQuery(string(req.Body))
	if err != nil {
		return textResponse(http.StatusBadRequest, "malformed form"), nil
	}
	ref, token := form.Get("ref"), strings.TrimSpace(form.Get("payment_token"))
	m.mu.Lock()
	if m.st == nil {
		m.mu.Unlock()
		return textResponse(http.StatusServiceUnavailable, "mobiuspay processor is not configured yet"), nil
	}
	co := m.st.Checkouts[ref]
	switch {
	case co == nil:
		m.mu.Unlock()
		return textResponse(http.StatusNotFound, "unknown checkout"), nil
	case co.Done:
		m.mu.Unlock()
		return textResponse(http.StatusGone, "this checkout is already complete"), nil
	case !m.now().Before(co.ExpiresAt):
		m.mu.Unlock()
		return textResponse(http.StatusGone, "this checkout has expired; start again"), nil
	}
	if m.inflight["checkout/"+ref] {
		m.mu.Unlock()
		return textResponse(http.StatusConflict, "this checkout is being processed; wait a moment and reload"), nil
	}
	m.inflight["checkout/"+ref] = true
	vaultID, purchase, desc := co.VaultID, co.Purchase, co.Description
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.inflight, "checkout/"+ref)
		m.mu.Unlock()
	}()

	if vaultID == "" {
		if token == "" || len(token) > 256 || strings.ContainsAny(token, " \r\n\t") {
			return m.page(req.Path, ref, "The card could not be read. Please enter it again.", false), nil
		}
		r, err := m.nmi().transact(ctx, url.Values{"customer_vault": {"add_customer"}, "payment_token": {token},
			"stored_credential_indicator": {"stored"}, "initiated_by": {"customer"}})
		switch {
		case errs.IsDecline(err) || errs.CodeOf(err) == errs.InvalidCard:
			return m.page(req.Path, ref, "The card was not accepted. Please try another card.", false), nil
		case err != nil:
			return m.page(req.Path, ref, "The payment service did not answer. Please enter the card again.", false), nil
		case r.VaultID == "":
			return m.page(req.Path, ref, "The payment service did not store the card. Please try again.", false), nil
		}
		vaultID = r.VaultID
		c := m.vaultDetails(ctx, vaultID)
		m.mu.Lock()
		co.VaultID, co.Brand, co.Last4, co.ExpMonth, co.ExpYear = vaultID, c.Brand, c.Last4, c.ExpMonth, c.ExpYear
		if err := m.saveLocked(); err != nil {
			m.mu.Unlock()
			return processor.HTTPResponse{}, err
		}
		m.mu.Unlock()
	}

	status := "approved"
	if purchase != nil {
		// The purchase runs under a key of its own: a retry after an unknown
		// outcome looks the order up instead of charging again.
		ch, err := run(ctx, m, m.saleCall("checkout/"+ref+"/purchase", vaultID, desc, *purchase))
		switch {
		case errs.IsDecline(err):
			status = "declined"
			m.mu.Lock()
			co.Decline = processorkit.AsError(err)
			m.mu.Unlock()
		case err != nil:
			return m.page(req.Path, ref, "The payment service did not answer; you have not been charged twice. Press Try again.", true), nil
		default:
			m.mu.Lock()
			co.ChargeRef = ch.Reference
			m.mu.Unlock()
		}
	}
	m.mu.Lock()
	co.Done = true
	back := processorkit.WithQuery(co.ReturnURL, url.Values{"checkout": {ref}, "status": {status}})
	err = m.saveLocked()
	m.mu.Unlock()
	if err != nil {
		return processor.HTTPResponse{}, err
	}
	h := pageHeaders("text/plain; charset=utf-8")
	h.Set("Location", back)
	return processor.HTTPResponse{Status: http.StatusSeeOther, Headers: h}, nil
}

// vaultDetails asks the Query API for the masked card of a vault entry, for
// receipts and the account page. Best effort: the card works without them.
func (m *MobiusPay) vaultDetails(ctx context.Context, vaultID string) processor.StoredCredential {
	q, err := m.nmi().query(ctx, url.Values{"report_type": {"customer_vault"}, "customer_vault_id": {vaultID}})
	if err != nil || len(q.Customers) == 0 {
		return processor.StoredCredential{}
	}
	c := q.Customers[0]
	return cardFrom(c.CCType, c.CCNumber, c.CCBin, c.CCExp)
}

// pageHeaders keep the card page out of caches and frames.
func pageHeaders(contentType string) http.Header {
	return processorkit.PageHeaders(contentType, "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
}

func textResponse(status int, msg string) processor.HTTPResponse {
	return processor.HTTPResponse{Status: status, Headers: pageHeaders("text/plain; charset=utf-8"), Body: []byte(msg + "\n")}
}
