package main

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

func (s *Sandbox) StartCheckout(ctx context.Context, req processor.StartCheckoutRequest) (processor.Checkout, error) {
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
		if err := processor.ValidateAmount(*req.Purchase, currencies); err != nil {
			return processor.Checkout{}, err
		}
	}
	if r := req.Recurring; r != nil {
		if err := processor.ValidateAmount(r.Amount, currencies); err != nil {
			return processor.Checkout{}, err
		}
		if r.PeriodDays < 1 {
			return processor.Checkout{}, errs.E(errs.Invalid, "recurring period must be at least one day, got %d", r.PeriodDays)
		}
	}
	return run(ctx, s, req.IdempotencyKey, processorkit.Fingerprint("checkout", req.CustomerRef, req.ReturnURL, req.CancelURL, req.Purchase, req.Recurring, req.Description), "",
		func(st *state, now time.Time) (processor.Checkout, error) {
			ref := processorkit.NewRef("sbx_co_")
			co := &checkoutRec{CustomerRef: req.CustomerRef, ReturnURL: req.ReturnURL, CancelURL: req.CancelURL,
				Description: req.Description, Purchase: req.Purchase, Recurring: req.Recurring, ExpiresAt: now.Add(checkoutTTL).UTC()}
			st.Checkouts[ref] = co
			s.store.Touch(tCheckouts, ref)
			return processor.Checkout{Reference: ref, URL: s.prefixLocked() + "/checkout?ref=" + ref, Method: http.MethodGet, ExpiresAt: co.ExpiresAt}, nil
		})
}

func (s *Sandbox) CompleteCheckout(_ context.Context, req processor.CompleteCheckoutRequest) (processor.CheckoutResult, error) {
	s.mu.Lock()
	if s.st == nil {
		s.mu.Unlock()
		return processor.CheckoutResult{}, errNotConfigured
	}
	res, err := s.completeCheckoutLocked(req)
	pending := s.store.Pending()
	s.mu.Unlock()
	// What is answered was written by the page's post: answer once it is durable.
	if werr := pending.Wait(); werr != nil {
		return processor.CheckoutResult{}, werr
	}
	return res, err
}

func (s *Sandbox) completeCheckoutLocked(req processor.CompleteCheckoutRequest) (processor.CheckoutResult, error) {
	co := s.st.Checkouts[req.CheckoutReference]
	switch {
	case co == nil:
		return processor.CheckoutResult{}, errs.E(errs.NotFound, "sandbox: no checkout %q", req.CheckoutReference)
	case req.CustomerRef != "" && req.CustomerRef != co.CustomerRef:
		return processor.CheckoutResult{}, errs.E(errs.Forbidden, "sandbox: checkout %s belongs to another customer", req.CheckoutReference)
	case co.Token == "":
		return processor.CheckoutResult{}, errs.E(errs.NotFound, "sandbox: no card was entered on checkout %s", req.CheckoutReference)
	case req.Params.Get("token") != "" && req.Params.Get("token") != co.Token:
		return processor.CheckoutResult{}, errs.E(errs.Invalid, "sandbox: the token returned does not belong to checkout %s", req.CheckoutReference)
	case co.Decline != nil:
		e := *co.Decline
		return processor.CheckoutResult{}, &e
	}
	c := s.st.Cards[co.Token]
	res := processor.CheckoutResult{
		Credential: &processor.StoredCredential{Token: co.Token, Brand: c.Brand, Last4: c.Last4,
			ExpMonth: c.ExpMonth, ExpYear: c.ExpYear, CustomerRef: c.CustomerRef},
		SubscriptionReference: co.SubscriptionRef,
	}
	if p := s.st.Payments[co.ChargeRef]; p != nil {
		res.Charge = &processor.ChargeResult{Reference: co.ChargeRef, Amount: p.Amount}
	}
	return res, nil
}

func (s *Sandbox) ServeHTTP(_ context.Context, req processor.HTTPRequest) (processor.HTTPResponse, error) {
	// The host may pass the full path or the part under /pay/sandbox.
	route := strings.TrimPrefix(req.Path, s.routePrefix())
	if route != "/checkout" {
		return textResponse(http.StatusNotFound, "not found"), nil
	}
	switch req.Method {
	case http.MethodGet:
		return s.checkoutPage(req.Path, req.Query.Get("ref"), ""), nil
	case http.MethodPost:
		return s.checkoutPost(req)
	}
	r := textResponse(http.StatusMethodNotAllowed, "method not allowed")
	r.Headers.Set("Allow", "GET, POST")
	return r, nil
}

var pageTmpl = template.Must(template.New("checkout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sandbox card payment</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1.2rem;padding:.6rem 1.2rem}.err{color:#b00020}.note{color:#555;font-size:.9rem}</style></head>
<body><h1>Sandbox card payment</h1>
{{if .Description}}<p>{{.Description}}</p>{{end}}
{{if .Amount}}<p>Amount: <strong>{{.Amount}}</strong>{{if .Recurring}} then {{.Recurring}}{{end}}</p>{{else}}<p>Your card is stored for later payments; nothing is charged now.</p>{{end}}
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}" autocomplete="off">
<input type="hidden" name="ref" value="{{.Ref}}">
<label for="card_number">Card number</label><input id="card_number" name="card_number" inputmode="numeric" required>
<label for="exp">Expiry (MM/YY)</label><input id="exp" name="exp" placeholder="12/34" required>
<label for="cvc">CVC</label><input id="cvc" name="cvc" inputmode="numeric" required>
<button type="submit">Pay with sandbox card</button>
</form>
{{if .CancelURL}}<p><a href="{{.CancelURL}}">Cancel</a></p>{{end}}
<p class="note">Sandbox: no real money moves. Test card 4242 4242 4242 4242 approves.</p>
</body></html>`))

// checkoutPage renders the card form of checkout ref, or an error page.
func (s *Sandbox) checkoutPage(action, ref, problem string) processor.HTTPResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	var co *checkoutRec
	if s.st != nil {
		co = s.st.Checkouts[ref]
	}
	return renderPage(action, ref, co, s.now(), problem)
}

func renderPage(action, ref string, co *checkoutRec, now time.Time, problem string) processor.HTTPResponse {
	switch {
	case co == nil:
		return textResponse(http.StatusNotFound, "unknown checkout")
	case co.Token != "":
		return textResponse(http.StatusGone, "this checkout is already complete")
	case !now.Before(co.ExpiresAt):
		return textResponse(http.StatusGone, "this checkout has expired; start again")
	}
	data := map[string]any{"Action": action, "Ref": ref, "Error": problem, "Description": co.Description, "CancelURL": co.CancelURL}
	if co.Purchase != nil {
		data["Amount"] = co.Purchase.String()
	}
	if co.Recurring != nil {
		data["Recurring"] = co.Recurring.Amount.String() + " every " + strconv.Itoa(co.Recurring.PeriodDays) + " days"
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, data); err != nil {
		return textResponse(http.StatusInternalServerError, "page error")
	}
	status := http.StatusOK
	if problem != "" {
		status = http.StatusUnprocessableEntity
	}
	return processor.HTTPResponse{Status: status, Headers: pageHeaders("text/html; charset=utf-8"), Body: buf.Bytes()}
}

// checkoutPost tokenises the card typed on the page, charges the purchase if
// the checkout has one, and sends the viewer back to the host's return URL
// with the checkout and token references (never the card).
func (s *Sandbox) checkoutPost(req processor.HTTPRequest) (processor.HTTPResponse, error) {
	form, err := url.ParseQuery(string(req.Body))
	if err != nil {
		return textResponse(http.StatusBadRequest, "malformed form"), nil
	}
	ref := form.Get("ref")
	now := s.now()
	// The same checks and words as every HostedCardPage (processorkit).
	card, problem := processorkit.ParseCard(form.Get("card_number"), form.Get("exp"), form.Get("cvc"), now)
	if problem != "" {
		return s.checkoutPage(req.Path, ref, problem), nil
	}
	number, month, year := card.Number, card.ExpMonth, card.ExpYear
	oc := outcomeOf(number)

	// The purchase is charged here, on the processor's side, as a hosted page
	// does; the host learns the outcome from CompleteCheckout.
	s.mu.Lock()
	if s.st == nil {
		s.mu.Unlock()
		return textResponse(http.StatusServiceUnavailable, errNotConfigured.Message), nil
	}
	resp, tk, err := s.tokeniseLocked(req, ref, number, month, year, oc, now)
	s.mu.Unlock()
	if err != nil {
		return processor.HTTPResponse{}, err
	}
	if err := tk.Wait(); err != nil {
		return processor.HTTPResponse{}, err // undone: nothing was stored or charged
	}
	return resp, nil
}

// tokeniseLocked stores the card, charges the purchase and stages both; the
// caller waits on the ticket before sending the viewer on.
func (s *Sandbox) tokeniseLocked(req processor.HTTPRequest, ref, number string, month, year int, oc outcome, now time.Time) (processor.HTTPResponse, processorkit.Ticket, error) {
	var none processorkit.Ticket
	last4 := number[len(number)-4:]
	brand := brandOf(number)
	co := s.st.Checkouts[ref]
	switch {
	case co == nil:
		return textResponse(http.StatusNotFound, "unknown checkout"), none, nil
	case co.Token != "":
		return textResponse(http.StatusGone, "this checkout is already complete"), none, nil
	case !now.Before(co.ExpiresAt):
		return textResponse(http.StatusGone, "this checkout has expired; start again"), none, nil
	}
	if oc == unavailable && co.Purchase != nil {
		// Nothing is stored or charged; the viewer may try again.
		return renderPage(req.Path, ref, co, now, "The sandbox processor is unavailable (test card). Try again."), none, nil
	}
	token := processorkit.NewRef("sbx_tok_")
	s.st.Cards[token] = &card{Brand: brand, Last4: last4, ExpMonth: month, ExpYear: year, CustomerRef: co.CustomerRef, Outcome: oc, CreatedAt: now.UTC()}
	co.Token = token
	s.store.Touch(tCards, token)
	s.store.Touch(tCheckouts, ref)
	status := "approved"
	if co.Purchase != nil {
		ch, err := chargeCard(s.st, token, *co.Purchase, now)
		if err != nil {
			co.Decline = processorkit.AsError(err)
			status = "declined"
		} else {
			co.ChargeRef = ch.Reference
			s.store.Touch(tPayments, ch.Reference)
		}
	}
	if co.Recurring != nil && co.Decline == nil {
		sub := processorkit.NewRef("sbx_sub_")
		s.st.Subscriptions[sub] = &subscription{Token: token, CustomerRef: co.CustomerRef, Amount: co.Recurring.Amount, PeriodDays: co.Recurring.PeriodDays}
		co.SubscriptionRef = sub
		s.store.Touch(tSubscriptions, sub)
	}
	tk, err := s.store.Stage()
	if err != nil {
		return processor.HTTPResponse{}, none, err
	}
	back := processorkit.WithQuery(co.ReturnURL, url.Values{"checkout": {ref}, "token": {token}, "status": {status}})
	h := pageHeaders("text/plain; charset=utf-8")
	h.Set("Location", back)
	return processor.HTTPResponse{Status: http.StatusSeeOther, Headers: h}, tk, nil
}

// pageHeaders keep the card page out of caches and frames and let it load nothing.
func pageHeaders(contentType string) http.Header {
	return processorkit.PageHeaders(contentType, "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
}

func textResponse(status int, msg string) processor.HTTPResponse {
	return processor.HTTPResponse{Status: status, Headers: pageHeaders("text/plain; charset=utf-8"), Body: []byte(msg + "\n")}
}
