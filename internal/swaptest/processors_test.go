package swaptest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/camkit/camkit/core/billing"
	ccbillgw "github.com/camkit/camkit/plugins/processor-ccbill/fakegw"
	epochgw "github.com/camkit/camkit/plugins/processor-epoch/fakegw"
	nmigw "github.com/camkit/camkit/plugins/processor-mobiuspay/fakegw"
	nbgw "github.com/camkit/camkit/plugins/processor-netbilling/fakegw"
	segpaygw "github.com/camkit/camkit/plugins/processor-segpay/fakegw"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// swap is one processor configuration of the scenario.
type swap struct {
	name     string           // plugin processor-<name>
	strategy billing.Strategy // what the engine must choose from its declared capabilities
	start    func(t *testing.T) *fake
}

// fake is a processor's test-side: its gateway (started by the test), the
// plugin settings pointing at it, and how a viewer pays and how the
// processor notifies reversals — each through the processor's own formats.
type fake struct {
	settings []byte
	// pay gives the viewer the means to pay as a viewer would, on the
	// processor's page: a stored credential, or wallet credits bought there.
	pay func(w *world) billing.Funding
	// settled checks at the gateway itself that the seat cost exactly one
	// final capture (or, prepaid, one charge per block and nothing more).
	settled func(w *world, r billing.Receipt)
	// refund and chargeback have the gateway reverse amount of transaction
	// ref and return the notification the processor then sends.
	refund, chargeback func(w *world, ref string, amount money.Money) (processor.WebhookRequest, error)
	// noNotice says why a processor sends no refund or chargeback
	// notification at all; refusesReversalNotice then proves the plugin
	// does not pretend to understand one.
	noNotice              string
	refusesReversalNotice func(w *world)
	// Wallet funding: the credits bought and the hosted sale's reference.
	walletBought int64
	sale         string
}

// The processors, in the order the issue names them, after the sandbox.
var swaps = []swap{
	{"sandbox", billing.CardHold, startSandbox},
	{"mobiuspay", billing.CardHold, startMobiusPay},
	{"netbilling", billing.CardHold, startNETbilling},
	{"segpay", billing.CardHold, startSegpay},
	{"ccbill", billing.PrepaidBlocks, startCCBill},
	{"epoch", billing.Wallet, startEpoch},
}

// mustJSON(t)(b, err) is b, or the test fails with err.
func mustJSON(t *testing.T) func([]byte, error) []byte {
	return func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// complete finishes a card-on-file checkout the way the host does after the
// viewer comes back to the return URL.
func complete(w *world, co processor.Checkout, location string) *processor.StoredCredential {
	w.t.Helper()
	back, err := url.Parse(location)
	if err != nil || back.Query().Get("checkout") != co.Reference {
		w.t.Fatalf("the viewer is sent back to %q", location)
	}
	res, err := w.proc.CompleteCheckout(w.ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: viewer, Params: back.Query()})
	if err != nil || res.Credential == nil || res.Credential.Token == "" {
		w.t.Fatalf("CompleteCheckout: %+v, %v", res, err)
	}
	return res.Credential
}

func startCheckout(w *world, purchase *money.Money) processor.Checkout {
	w.t.Helper()
	co, err := w.proc.StartCheckout(w.ctx, processor.StartCheckoutRequest{IdempotencyKey: uniq("card/" + viewer), CustomerRef: viewer,
		ReturnURL: "https://camkit.test/account/cards/return", Purchase: purchase, Description: "credits"})
	if err != nil {
		w.t.Fatalf("StartCheckout: %v", err)
	}
	return co
}

func postToPlugin(w *world, path, body string) string {
	w.t.Helper()
	resp, err := w.proc.ServeHTTP(w.ctx, httpForm(path, body))
	if err != nil || resp.Status != http.StatusSeeOther {
		w.t.Fatalf("POST %s: %d %v\n%s", path, resp.Status, err, resp.Body)
	}
	return resp.Headers.Get("Location")
}

// ---- sandbox: the reference plugin is its own gateway ----

const sandboxSecret = "swap-test-secret-0123456789abcdef"

func startSandbox(t *testing.T) *fake {
	state := filepath.Join(t.TempDir(), "sandbox.json")
	fk := &fake{settings: mustJSON(t)(json.Marshal(map[string]any{"state_file": state, "webhook_secret": sandboxSecret}))}
	fk.pay = func(w *world) billing.Funding {
		co := startCheckout(w, nil)
		u, _ := url.Parse(co.URL)
		form := url.Values{"ref": {co.Reference}, "card_number": {"4242424242424242"}, "exp": {"12/40"}, "cvc": {"123"}}
		return billing.Funding{Processor: "sandbox", Credential: complete(w, co, postToPlugin(w, u.Path, form.Encode()))}
	}
	fk.settled = func(w *world, r billing.Receipt) {
		// The sandbox is its own gateway: the engine's calls reached it
		// through the counting client, and it is asked directly whether any
		// hold is still open or the captured one could be taken twice.
		if n := w.calls.count("capture"); n != 1 {
			w.t.Fatalf("%d capture calls reached the sandbox, want 1", n)
		}
		var captured string
		for _, f := range r.Funding {
			if f.Kind != "card_hold" {
				continue
			}
			_, err := w.proc.Void(w.ctx, processor.VoidRequest{IdempotencyKey: uniq("probe/void"), AuthorizationReference: f.Reference})
			if errs.CodeOf(err) != errs.Conflict {
				w.t.Fatalf("hold %s (%s) is still open at the sandbox: a void probe got %v", f.Reference, f.Status, err)
			}
			if f.Status == "captured" {
				captured = f.Reference
			}
		}
		_, err := w.proc.Capture(w.ctx, processor.CaptureRequest{IdempotencyKey: uniq("probe/capture"), AuthorizationReference: captured, Amount: usd(1)})
		if captured == "" || errs.CodeOf(err) != errs.Conflict {
			w.t.Fatalf("capturing hold %q again: %v, want a conflict", captured, err)
		}
	}
	notify := func(typ processor.EventType) func(*world, string, money.Money) (processor.WebhookRequest, error) {
		return func(w *world, ref string, amount money.Money) (processor.WebhookRequest, error) {
			n := uniq("sbx")
			return sandboxWebhook(map[string]any{"id": "evt_" + strconv.Itoa(seq), "type": string(typ), "reference": "sbx_" + n,
				"related_reference": ref, "amount": amount, "occurred_at": time.Now().UTC(), "reason": "10.4"})
		}
	}
	fk.refund, fk.chargeback = notify(processor.EventRefund), notify(processor.EventChargeback)
	return fk
}

// sandboxWebhook signs an event as the sandbox documents:
// X-Sandbox-Signature: t=<unix>,s=<hex HMAC-SHA256 of "<t>.<body>">.
func sandboxWebhook(ev map[string]any) (processor.WebhookRequest, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return processor.WebhookRequest{}, err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(sandboxSecret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/sandbox", Body: body, RemoteAddr: "127.0.0.1:40000",
		Headers: http.Header{"Content-Type": {"application/json"}, "X-Sandbox-Signature": {"t=" + ts + ",s=" + hex.EncodeToString(mac.Sum(nil))}}}, nil
}

// ---- MobiusPay: NMI Direct Post, Collect.js tokens, HMAC webhooks ----

func startMobiusPay(t *testing.T) *fake {
	g := nmigw.New(t, "USD")
	fk := &fake{settings: mustJSON(t)(g.Settings(filepath.Join(t.TempDir(), "state.json"), []string{"USD"}, nil))}
	fk.pay = func(w *world) billing.Funding {
		co := startCheckout(w, nil)
		u, _ := url.Parse(co.URL)
		token := g.Tokenize(nmigw.CardApprove, "1240") // Collect.js, in the viewer's browser
		form := url.Values{"ref": {co.Reference}, "payment_token": {token}}
		return billing.Funding{Processor: "mobiuspay", Credential: complete(w, co, postToPlugin(w, u.Path, form.Encode()))}
	}
	fk.settled = func(w *world, r billing.Receipt) {
		if g.Requests("capture") != 1 || g.Count("capture") != 1 || g.Requests("sale") != 0 || g.Count("auth") != 3 || g.Count("void") != 2 {
			w.t.Fatalf("at the gateway: %d capture requests (%d applied), %d sales, %d auths, %d voids; want 1, 1, 0, 3, 2",
				g.Requests("capture"), g.Count("capture"), g.Requests("sale"), g.Count("auth"), g.Count("void"))
		}
		g.Set(func() {
			var captured []int64
			for _, tx := range g.Txns {
				if tx.Captured > 0 {
					captured = append(captured, tx.Captured)
				}
			}
			if len(captured) != 1 || captured[0] != price.Amount {
				w.t.Errorf("the gateway captured %v, want one capture of %d", captured, price.Amount)
			}
		})
	}
	fk.refund = func(_ *world, ref string, amount money.Money) (processor.WebhookRequest, error) {
		return g.RefundWebhook(ref, amount)
	}
	fk.chargeback = func(_ *world, ref string, amount money.Money) (processor.WebhookRequest, error) {
		return g.ChargebackWebhook(ref, amount, "10.4", "Other Fraud")
	}
	return fk
}

// ---- NETbilling: Direct Mode 3.1, hosted form, MD5 postbacks ----

func startNETbilling(t *testing.T) *fake {
	g := nbgw.New(t)
	fk := &fake{settings: mustJSON(t)(g.Settings(filepath.Join(t.TempDir(), "state.json"), nil))}
	fk.pay = func(w *world) billing.Funding {
		co := startCheckout(w, nil)
		back := g.Pay(co.Fields, nbgw.CardApprove) // typed on NETbilling's page, posted back with its hashes
		return billing.Funding{Processor: "netbilling", Credential: complete(w, co, postToPlugin(w, "/pay/netbilling/return", back.Encode()))}
	}
	fk.settled = func(w *world, r billing.Receipt) {
		// The hosted form's card check (an AUTH, voided) stored the card;
		// then three holds, two voided by the extensions. The last is
		// captured whole (D) or, for a price below it, voided and the price
		// sold (S) on the stored card: one charge of exactly the price.
		takes, applied := g.Requests("D")+g.Requests("S"), g.Count("D")+g.Count("S")
		if takes != 1 || applied != 1 || g.Count("form-A") != 1 || g.Count("A") != 3 || g.Count("U") != 3+g.Count("S") {
			w.t.Fatalf("at the gateway: %d capture or sale requests (%d applied), %d form auths, %d auths, %d voids; want 1, 1, 1, 3, %d",
				takes, applied, g.Count("form-A"), g.Count("A"), g.Count("U"), 3+g.Count("S"))
		}
		g.Set(func() {
			var charged int64
			for _, tx := range g.Txns {
				if tx.Type == "D" || tx.Type == "S" {
					charged += tx.Captured
				}
			}
			if charged != price.Amount {
				w.t.Errorf("the card paid %d, want exactly %d", charged, price.Amount)
			}
		})
	}
	fk.noNotice = "NETbilling posts back only its hosted form's answers (AUTH and SALE, MD5-hashed); it documents no refund or " +
		"chargeback notification, so reversals reach camkit from its reports, not from a webhook"
	fk.refusesReversalNotice = func(w *world) {
		// A correctly hashed postback claiming a refund is refused as
		// malformed, not taken for a sale and not dropped silently.
		for _, kind := range []string{"REFUND", "CHARGEBACK"} {
			req := processor.WebhookRequest{Method: http.MethodPost, Path: "/webhooks/netbilling", RemoteAddr: "127.0.0.1:40000",
				Body:    []byte(g.Postback(uniq("order"), kind, "3.00", time.Now().UTC()).Encode()),
				Headers: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}
			if _, err := w.proc.ParseWebhook(w.ctx, req); errs.CodeOf(err) != errs.Invalid {
				w.t.Fatalf("a %s postback: %v, want errs.Invalid", kind, err)
			}
		}
		caps, err := w.proc.Capabilities(w.ctx)
		if err != nil || caps.WebhookAuth != processor.WebhookHash {
			w.t.Fatalf("capabilities %+v, %v", caps, err)
		}
	}
	return fk
}

// ---- Segpay: hosted first purchase, PostPay auth/capture, TransPosts ----

func startSegpay(t *testing.T) *fake {
	g := segpaygw.New(t)
	// This run funds its seat with Post Pay holds (card_hold), which the
	// plugin offers only when the operator vouches that a 0.00 capture
	// releases one: by default it funds with prepaid one-click blocks.
	fk := &fake{settings: g.Settings(t, filepath.Join(t.TempDir(), "state.json"), map[string]any{"void_by_zero_capture": true})}
	fk.pay = func(w *world) billing.Funding {
		// Segpay stores a card only with a first purchase on its page: a credit pack.
		pack := usd(995)
		co := startCheckout(w, &pack)
		w.deliver(g.Purchase(w.t, co.URL, segpaygw.CardApprove, true)) // the TransPost of the sale
		res, err := w.proc.CompleteCheckout(w.ctx, processor.CompleteCheckoutRequest{CheckoutReference: co.Reference, CustomerRef: viewer})
		if err != nil || res.Credential == nil || res.Charge == nil || res.Charge.Amount != pack {
			w.t.Fatalf("CompleteCheckout: %+v, %v", res, err)
		}
		return billing.Funding{Processor: "segpay", Credential: res.Credential}
	}
	fk.settled = func(w *world, r billing.Receipt) {
		func() {
			g.Mu.Lock()
			defer g.Mu.Unlock()
			var captured []int64
			voided := 0
			for _, a := range g.Auths {
				if a.Captured != nil {
					captured = append(captured, a.Captured.Amount)
				}
				if a.Voided {
					voided++
				}
			}
			if g.Captures != 1 || len(captured) != 1 || captured[0] != price.Amount || len(g.Auths) != 3 || voided != 2 || g.Oneclicks != 0 {
				w.t.Errorf("at Segpay: %d captures %v, %d auths (%d voided), %d one-click sales; want one capture of %d, 3 auths, 2 voided, none",
					g.Captures, captured, len(g.Auths), voided, g.Oneclicks, price.Amount)
			}
		}()
	}
	fk.refund = func(_ *world, ref string, amount money.Money) (processor.WebhookRequest, error) {
		return g.RefundPostback(ref, amount)
	}
	fk.chargeback = func(_ *world, ref string, amount money.Money) (processor.WebhookRequest, error) {
		return g.ChargebackPostback(ref, amount, "4837")
	}
	return fk
}

// ---- CCBill: widget payment tokens, OAuth REST charges, webhooks ----

func startCCBill(t *testing.T) *fake {
	g := ccbillgw.New(t)
	fk := &fake{settings: g.Settings(t, filepath.Join(t.TempDir(), "state.json"), nil)}
	var token string
	fk.pay = func(w *world) billing.Funding {
		co := startCheckout(w, nil)
		u, _ := url.Parse(co.URL)
		page, err := w.proc.ServeHTTP(w.ctx, processor.HTTPRequest{Method: http.MethodGet, Path: u.Path, Query: u.Query(), RemoteAddr: "198.51.100.7:5555"})
		if err != nil || page.Status != http.StatusOK {
			w.t.Fatalf("card page: %d %v", page.Status, err)
		}
		token = g.CreateToken(ccbillgw.CardApprove) // the Advanced Widget, in the viewer's browser
		form := url.Values{"ref": {co.Reference}, "payment_token_id": {token}}
		return billing.Funding{Processor: "ccbill", Credential: complete(w, co, postToPlugin(w, u.Path, form.Encode()))}
	}
	fk.settled = func(w *world, r billing.Receipt) {
		charges := g.ChargesOf(token)
		func() {
			g.Mu.Lock()
			defer g.Mu.Unlock()
			if len(charges) != 3 || g.RefundCalls != 0 {
				w.t.Errorf("at CCBill: %d charges of the token, %d refunds; want one per block (3) and none", len(charges), g.RefundCalls)
			}
			for _, c := range charges {
				if c.Amount != usd(blockCents) || c.RawPrice != "6.00" || c.CurrencyCode != 840 {
					w.t.Errorf("block charge %+v, want 6.00 in currency 840", c)
				}
			}
		}()
	}
	fk.refund = func(_ *world, ref string, amount money.Money) (processor.WebhookRequest, error) {
		return g.RefundWebhook(ref, amount, "customer request")
	}
	fk.chargeback = func(_ *world, ref string, amount money.Money) (processor.WebhookRequest, error) {
		return g.ChargebackWebhook(ref, amount, "10.4 Other Fraud")
	}
	return fk
}

// ---- Epoch: hosted credit packs only; postbacks and DataPlus ----

func startEpoch(t *testing.T) *fake {
	g := epochgw.New(t)
	fk := &fake{settings: mustJSON(t)(g.Settings(filepath.Join(t.TempDir(), "state.json"), nil))}
	fk.pay = func(w *world) billing.Funding {
		caps, err := w.proc.Capabilities(w.ctx)
		if err != nil || caps.AuthCapture || caps.ChargeStoredCredential {
			w.t.Fatalf("Epoch declares %+v, %v: want hosted purchases only", caps, err)
		}
		// Credits bought on Epoch's page; the postback books them in the wallet.
		pack := usd(2999)
		co := startCheckout(w, &pack)
		pb, err := g.Purchase(co, "4111111111111111")
		if err != nil {
			w.t.Fatal(err)
		}
		evs := w.deliver(pb)
		if len(evs) != 1 || evs[0].Type != processor.EventSale || evs[0].Amount != pack {
			w.t.Fatalf("postback events %+v", evs)
		}
		w.deliver(pb) // Epoch redelivers: the credits are booked once
		fk.walletBought, fk.sale = pack.Amount, evs[0].Reference
		if got := w.posted("viewer:" + viewer + ":wallet"); got != pack.Amount {
			w.t.Fatalf("wallet %d after buying %v", got, pack)
		}
		return billing.Funding{} // wallet credits
	}
	fk.settled = func(w *world, r billing.Receipt) {
		g.Mu.Lock()
		defer g.Mu.Unlock()
		if g.Posts != 1 || len(g.Sales) != 1 {
			w.t.Errorf("at Epoch: %d hosted posts, %d sales; want the one credit pack", g.Posts, len(g.Sales))
		}
	}
	fk.refund = func(_ *world, ref string, amount money.Money) (processor.WebhookRequest, error) {
		return g.CreditPostback(ref, amount, "customer request")
	}
	fk.chargeback = func(_ *world, ref string, amount money.Money) (processor.WebhookRequest, error) {
		return g.ChargebackPostback(ref, amount, "4837")
	}
	return fk
}
