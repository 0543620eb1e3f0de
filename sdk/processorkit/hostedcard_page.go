package processorkit

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// CardPageCSP lets the card page load nothing and run no script: its form
// posts to itself and the answer redirects to the host's own return URL.
const CardPageCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxCardForm bounds the post: a card form is a few hundred bytes.
const maxCardForm = 4 << 10

// ServeHTTP serves the card page: GET /pay/<Name>/card?ref=… shows the form,
// POST stores the card and redirects (303) to the checkout's ReturnURL with
// checkout=<ref> and status=approved. Any other path is 404.
func (h *HostedCardPage) ServeHTTP(ctx context.Context, req processor.HTTPRequest) (processor.HTTPResponse, error) {
	if h.route(req.Path) != "/card" {
		return h.text(http.StatusNotFound, "not found"), nil
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		return h.page(req.Query.Get("ref"), ""), nil
	case http.MethodPost:
		return h.post(ctx, req), nil
	}
	r := h.text(http.StatusMethodNotAllowed, "method not allowed")
	r.Headers.Set("Allow", "GET, POST")
	return r, nil
}

var cardPageTmpl = template.Must(template.New("card").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1.2rem;padding:.6rem 1.2rem}.err{color:#b00020}.note{color:#555;font-size:.9rem}</style></head>
<body><h1>{{.Title}}</h1>
{{if .Description}}<p>{{.Description}}</p>{{end}}
<p class="note">Your card is stored for later payments; nothing is charged now.</p>
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}" autocomplete="off">
<input type="hidden" name="ref" value="{{.Ref}}">
<label for="card_number">Card number</label><input id="card_number" name="card_number" inputmode="numeric" autocomplete="cc-number" required>
<label for="exp">Expiry (MM/YY)</label><input id="exp" name="exp" placeholder="12/34" autocomplete="cc-exp" required>
<label for="cvc">CVC</label><input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" required>
<button type="submit">Save card</button>
</form>
{{if .CancelURL}}<p><a href="{{.CancelURL}}">Cancel</a></p>{{end}}
</body></html>`))

// openLocked finds checkout ref and says why it cannot take a card ("" when it can).
func (h *HostedCardPage) openLocked(ref string) (*hostedCheckout, int, string) {
	if h.store == nil {
		return nil, http.StatusServiceUnavailable, "the card page is not configured yet; try again in a moment"
	}
	co := h.store.State().Checkouts[ref]
	switch {
	case co == nil:
		return nil, http.StatusNotFound, "unknown checkout"
	case co.Credential != nil:
		return nil, http.StatusGone, "this checkout is already complete"
	case !h.now().Before(co.ExpiresAt):
		return nil, http.StatusGone, "this checkout has expired; start again"
	}
	return co, 0, ""
}

// page renders the form of checkout ref with problem, never with what was
// typed: the number does not travel back to the browser.
func (h *HostedCardPage) page(ref, problem string) processor.HTTPResponse {
	h.mu.Lock()
	co, status, why := h.openLocked(ref)
	var data map[string]any
	if co != nil {
		title := h.Title
		if title == "" {
			title = "Add a card"
		}
		data = map[string]any{"Title": title, "Action": h.prefix() + "/card", "Ref": ref, "Error": problem,
			"Description": co.Description, "CancelURL": co.CancelURL}
	}
	h.mu.Unlock()
	if co == nil {
		return h.text(status, why)
	}
	var buf bytes.Buffer
	if err := cardPageTmpl.Execute(&buf, data); err != nil {
		return h.text(http.StatusInternalServerError, "page error")
	}
	status = http.StatusOK
	if problem != "" {
		status = http.StatusUnprocessableEntity
	}
	return processor.HTTPResponse{Status: status, Headers: PageHeaders("text/html; charset=utf-8", CardPageCSP), Body: buf.Bytes()}
}

func (h *HostedCardPage) post(ctx context.Context, req processor.HTTPRequest) processor.HTTPResponse {
	// Browsers say where a post comes from; another site's form is refused
	// before anything is read.
	if site := HeaderValue(req.Headers, "Sec-Fetch-Site"); site == "cross-site" {
		return h.text(http.StatusForbidden, "this form can only be sent from its own page")
	}
	if len(req.Body) > maxCardForm {
		return h.text(http.StatusRequestEntityTooLarge, "form too large")
	}
	form, err := url.ParseQuery(string(req.Body))
	if err != nil {
		return h.text(http.StatusBadRequest, "malformed form")
	}
	ref := form.Get("ref")
	card, problem := ParseCard(form.Get("card_number"), form.Get("exp"), form.Get("cvc"), h.now())
	if problem != "" {
		return h.page(ref, problem)
	}

	h.mu.Lock()
	co, status, why := h.openLocked(ref)
	if co != nil && h.inflight[ref] {
		co, status, why = nil, http.StatusConflict, "this card is being saved already; wait a moment"
	}
	if co != nil {
		h.inflight[ref] = true
	}
	h.mu.Unlock()
	if co == nil {
		return h.text(status, why)
	}
	defer func() { h.mu.Lock(); delete(h.inflight, ref); h.mu.Unlock() }()

	cred, err := h.Tokenize(ctx, card)
	switch {
	case errs.IsDecline(err):
		return h.page(ref, "The card was refused: "+declineWords(err)+". Check it or try another card.")
	case err != nil && errs.IsRetryable(err):
		return h.page(ref, "The card could not be saved just now. Try again.")
	case err != nil:
		return h.text(http.StatusBadGateway, "the card could not be saved; start again later")
	}
	if problem := checkTokenized(&cred, card); problem != "" {
		return h.text(http.StatusBadGateway, problem)
	}

	h.mu.Lock()
	co, status, why = h.openLocked(ref)
	if co == nil {
		h.mu.Unlock()
		return h.text(status, why)
	}
	co.Credential = &cred
	h.store.Touch("card_checkouts", ref)
	tk, err := h.store.Stage()
	back := co.ReturnURL
	h.mu.Unlock()
	if err == nil {
		err = tk.Wait()
	}
	if err != nil { // undone: nothing was stored, the viewer may post again
		return h.page(ref, "The card could not be saved just now. Try again.")
	}
	resp := h.text(http.StatusSeeOther, "card saved")
	resp.Headers.Set("Location", WithQuery(back, url.Values{"checkout": {ref}, "status": {"approved"}}))
	return resp
}

// checkTokenized fills what the hook left empty from the card and refuses a
// credential that carries the card number: the host stores credentials.
func checkTokenized(c *processor.StoredCredential, card Card) string {
	if c.Token == "" {
		return "the processor returned no token for the card"
	}
	for _, f := range []string{c.Token, c.Brand, c.Last4, c.CustomerRef, c.Country} {
		if strings.Contains(strings.NewReplacer(" ", "", "-", "").Replace(f), card.Number) {
			return "the processor returned a token that holds the card number: refused"
		}
	}
	if c.Last4 == "" {
		c.Last4 = card.Last4()
	}
	if c.Brand == "" {
		c.Brand = card.Brand()
	}
	if c.ExpMonth == 0 && c.ExpYear == 0 {
		c.ExpMonth, c.ExpYear = card.ExpMonth, card.ExpYear
	}
	return ""
}

func declineWords(err error) string {
	switch errs.CodeOf(err) {
	case errs.ExpiredCard:
		return "it has expired"
	case errs.InvalidCard:
		return "the details are not valid"
	case errs.InsufficientFunds:
		return "insufficient funds"
	case errs.FraudSuspected:
		return "it was flagged by the bank"
	}
	return "declined by the bank"
}

func (h *HostedCardPage) text(status int, msg string) processor.HTTPResponse {
	return processor.HTTPResponse{Status: status, Headers: PageHeaders("text/plain; charset=utf-8", CardPageCSP), Body: []byte(msg + "\n")}
}
