package plugintest

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// fundingReturnURL is where the suite's checkouts say the viewer comes back:
// absolute, as processors that post the viewer back need it.
const fundingReturnURL = "https://camkit.invalid/wallet/card/return?card_checkout=plugintest"

// funding fails a plugin whose capabilities let no viewer pay for a seat the
// way the host funds one (DESIGN.md, "Funding strategies"):
//   - card_hold needs auth_capture, partial_capture and void together;
//   - card_hold and prepaid_blocks move money on a stored credential, which
//     only a checkout can give the host: StartCheckout must be offered;
//   - a processor that neither holds nor charges is left with wallet credits
//     bought on its hosted checkout: StartCheckout with a purchase.
//
// A checkout counts as offered unless StartCheckout answers errs.Unsupported
// (a processor may refuse the suite's amount or want a purchase with the
// card: that is an answer about the request, not a missing checkout).
func (s *processorSuite) funding(t *testing.T) {
	c := s.caps
	canHold := c.AuthCapture && c.PartialCapture && c.Void
	if c.AuthCapture && !canHold && !c.ChargeStoredCredential {
		t.Fatalf("auth_capture without partial_capture and void, and no charge_stored_credential: the host holds a block only when it can capture part of it and void the rest, so no seat can be funded")
	}
	if canHold || c.ChargeStoredCredential {
		if !s.checkoutOffered(t, false) && !s.checkoutOffered(t, true) {
			t.Fatalf("the plugin moves money on stored credentials (auth_capture %v, charge_stored_credential %v) but StartCheckout is unsupported: no viewer can ever store one, so no seat can be funded; offer a checkout (processorkit.HostedCardPage for a token-only processor)",
				c.AuthCapture, c.ChargeStoredCredential)
		}
		return
	}
	if !s.checkoutOffered(t, true) {
		t.Fatal("the plugin neither holds nor charges a stored credential and StartCheckout with a purchase is unsupported: viewers cannot even buy wallet credits with it, so no seat can be funded")
	}
	if c.WebhookAuth == processor.WebhookNone {
		t.Log("a hosted sale is credited from the processor's notification or CompleteCheckout's charge; webhook_auth is none, so CompleteCheckout must carry it")
	}
}

// checkoutOffered starts a checkout (with a purchase of the suite's amount
// when purchase is set) and checks what came back is somewhere to send a
// viewer. It reports false only for errs.Unsupported.
func (s *processorSuite) checkoutOffered(t *testing.T, purchase bool) bool {
	t.Helper()
	req := processor.StartCheckoutRequest{IdempotencyKey: s.key("funding-checkout"), CustomerRef: "plugintest-viewer",
		ReturnURL: fundingReturnURL, Description: "plugintest card"}
	what := "StartCheckout to store a card"
	if purchase {
		amt := s.amount(s.opts.Amount)
		req.Purchase, req.Description, what = &amt, "plugintest credits", "StartCheckout with a purchase of "+amt.String()
	}
	co, err := s.p.StartCheckout(ctxT(t), req)
	switch {
	case errs.CodeOf(err) == errs.Unsupported:
		t.Logf("%s: %v", what, err)
		return false
	case err != nil:
		var e *errs.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %v (%T), want a checkout or an *errs.Error", what, err, err)
		}
		t.Logf("%s: %v (offered, refused for the suite's request)", what, err)
		return true
	}
	if co.Reference == "" || co.URL == "" {
		t.Fatalf("%s answered %+v: want a reference and a URL to send the viewer to", what, co)
	}
	if co.Method != http.MethodGet && co.Method != http.MethodPost {
		t.Fatalf("%s answered method %q: want GET or POST", what, co.Method)
	}
	if u, err := url.Parse(co.URL); err != nil || !strings.HasPrefix(co.URL, "/pay/") && !((u.Scheme == "https" || u.Scheme == "http") && u.Host != "") {
		t.Fatalf("%s sends the viewer to %q: want the plugin's own /pay/<name>/ page or the processor's absolute URL", what, co.URL)
	}
	return true
}
