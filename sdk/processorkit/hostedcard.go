package processorkit

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// HostedCardPage gives a processor that can only charge (or hold on) a token
// a card checkout of its own: a page under /pay/<Name>/card where the viewer
// types the card once, which the plugin turns into the processor's token
// through Tokenize and sends the viewer back to the host's ReturnURL.
// Embed *HostedCardPage in the plugin instead of processor.Unsupported: it
// supplies StartCheckout, CompleteCheckout and ServeHTTP, and answers
// errs.Unsupported to whatever else the plugin does not define. Call Open
// from Configure.
//
// The card number and CVC live only in memory during the POST that carries
// them: the host proxies /pay/<name>/ without reading it and only ever sees
// the checkout reference and the StoredCredential Tokenize returned. The
// checkout itself (who, where back to, the credential once made) is kept in
// the state file given to Open, so a viewer coming back after a plugin
// restart still completes.
//
// The page is its own origin's: a strict Content-Security-Policy (no script
// at all, styles inline, posts only to itself), never cached or framed. A
// forged post cannot store a card for someone else: it must name a checkout
// reference (96 random bits, handed only to the viewer's browser), which
// works once and expires after TTL; cross-site posts are refused outright.
type HostedCardPage struct {
	processor.Unsupported

	// Name is the plugin's name, as in /pay/<Name>/.
	Name string
	// Tokenize turns the card into the processor's reusable credential (a
	// vault or "store card" call). A decline error (errs.InvalidCard,
	// errs.ExpiredCard, errs.Declined…) is shown on the page and the viewer
	// may type the card again; a retryable error asks them to try again. Brand,
	// Last4, ExpMonth and ExpYear are filled from the card when left empty.
	Tokenize func(ctx context.Context, c Card) (processor.StoredCredential, error)
	// Title heads the page; default "Add a card".
	Title string
	// TTL is how long a checkout may be completed; default 30 minutes.
	TTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time

	mu       sync.Mutex
	path     string
	store    *Store[cardPageState]
	inflight map[string]bool // checkouts whose card is being tokenised now
}

type cardPageState struct {
	Checkouts map[string]*hostedCheckout `json:"card_checkouts"` // by reference
	Keys      map[string]string          `json:"card_keys"`      // idempotency key -> reference
}

type hostedCheckout struct {
	Key         string                      `json:"key"`
	Fingerprint string                      `json:"fingerprint"`
	CustomerRef string                      `json:"customer_ref"`
	ReturnURL   string                      `json:"return_url"`
	CancelURL   string                      `json:"cancel_url,omitempty"`
	Description string                      `json:"description,omitempty"`
	ExpiresAt   time.Time                   `json:"expires_at"`
	Credential  *processor.StoredCredential `json:"credential,omitempty"` // set once, by the page's post
}

func freshCardPageState() *cardPageState {
	return &cardPageState{Checkouts: map[string]*hostedCheckout{}, Keys: map[string]string{}}
}

// keepFinished is how long a checkout is kept after it expired, so the host's
// late or repeated CompleteCheckout still gets its answer.
const keepFinished = 24 * time.Hour

// Open loads (or creates) the page's state file at path and keeps it locked
// for the process's life. Calling it again with the same path does nothing;
// with another path it closes the first.
func (h *HostedCardPage) Open(path string) error {
	if h.Tokenize == nil || h.Name == "" {
		return errs.E(errs.Internal, "processorkit: HostedCardPage needs a Name and a Tokenize hook")
	}
	h.mu.Lock()
	if h.store != nil && h.path == path {
		h.mu.Unlock()
		return nil
	}
	old := h.store
	h.store, h.path = nil, ""
	h.mu.Unlock()
	if old != nil {
		old.Close()
	}
	s, err := OpenStore(path, freshCardPageState, &h.mu, StoreOptions{Name: h.Name})
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.store, h.path, h.inflight = s, path, map[string]bool{}
	h.mu.Unlock()
	return nil
}

// Close writes what is pending and releases the state file.
func (h *HostedCardPage) Close() error {
	h.mu.Lock()
	s := h.store
	h.store, h.path = nil, ""
	h.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.Close()
}

func (h *HostedCardPage) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *HostedCardPage) ttl() time.Duration {
	if h.TTL > 0 {
		return h.TTL
	}
	return 30 * time.Minute
}

func (h *HostedCardPage) prefix() string { return "/pay/" + h.Name }

func (h *HostedCardPage) notOpen() error {
	return errs.Retry(errs.Unavailable, "%s: the card page is not configured yet", h.Name)
}

// StartCheckout opens a card checkout and sends the viewer to the page. A
// repeat with the same idempotency key answers the same checkout; a purchase
// or recurring terms are refused: this page stores a card, and the host
// charges it afterwards.
func (h *HostedCardPage) StartCheckout(_ context.Context, req processor.StartCheckoutRequest) (processor.Checkout, error) {
	if err := processor.ValidateIdempotencyKey(req.IdempotencyKey); err != nil {
		return processor.Checkout{}, err
	}
	if err := CheckReturnURL("return URL", req.ReturnURL, true); err != nil {
		return processor.Checkout{}, err
	}
	if err := CheckReturnURL("cancel URL", req.CancelURL, false); err != nil {
		return processor.Checkout{}, err
	}
	if req.Purchase != nil || req.Recurring != nil {
		return processor.Checkout{}, errs.E(errs.Unsupported, "%s: the card page stores a card only; charge it once stored", h.Name)
	}
	fp := Fingerprint("card-checkout", req.CustomerRef, req.ReturnURL, req.CancelURL, req.Description)
	h.mu.Lock()
	if h.store == nil {
		h.mu.Unlock()
		return processor.Checkout{}, h.notOpen()
	}
	st, now := h.store.State(), h.now()
	if ref, seen := st.Keys[req.IdempotencyKey]; seen && st.Checkouts[ref] != nil {
		co := st.Checkouts[ref]
		pending := h.store.Pending()
		h.mu.Unlock()
		if co.Fingerprint != fp {
			return processor.Checkout{}, errs.E(errs.Conflict, "%s: key %s started another checkout", h.Name, req.IdempotencyKey)
		}
		if err := pending.Wait(); err != nil {
			return processor.Checkout{}, err
		}
		return h.checkout(ref, co), nil
	}
	h.purgeLocked(now)
	ref := NewRef("co_")
	co := &hostedCheckout{Key: req.IdempotencyKey, Fingerprint: fp, CustomerRef: req.CustomerRef, ReturnURL: req.ReturnURL,
		CancelURL: req.CancelURL, Description: req.Description, ExpiresAt: now.Add(h.ttl()).UTC()}
	st.Checkouts[ref], st.Keys[req.IdempotencyKey] = co, ref
	h.store.Touch("card_checkouts", ref)
	h.store.Touch("card_keys", req.IdempotencyKey)
	tk, err := h.store.Stage()
	h.mu.Unlock()
	if err == nil {
		err = tk.Wait()
	}
	if err != nil {
		return processor.Checkout{}, err
	}
	return h.checkout(ref, co), nil
}

func (h *HostedCardPage) checkout(ref string, co *hostedCheckout) processor.Checkout {
	return processor.Checkout{Reference: ref, URL: h.prefix() + "/card?ref=" + ref, Method: http.MethodGet, ExpiresAt: co.ExpiresAt}
}

// purgeLocked forgets checkouts long expired, so the state stays small.
func (h *HostedCardPage) purgeLocked(now time.Time) {
	st := h.store.State()
	for ref, co := range st.Checkouts {
		if now.After(co.ExpiresAt.Add(keepFinished)) {
			delete(st.Checkouts, ref)
			h.store.Touch("card_checkouts", ref)
			if st.Keys[co.Key] == ref {
				delete(st.Keys, co.Key)
				h.store.Touch("card_keys", co.Key)
			}
		}
	}
}

// CompleteCheckout answers the credential the page stored for the checkout.
// It is a read: the host may ask again (a reloaded return page) and gets the
// same credential.
func (h *HostedCardPage) CompleteCheckout(_ context.Context, req processor.CompleteCheckoutRequest) (processor.CheckoutResult, error) {
	h.mu.Lock()
	if h.store == nil {
		h.mu.Unlock()
		return processor.CheckoutResult{}, h.notOpen()
	}
	co := h.store.State().Checkouts[req.CheckoutReference]
	var cred *processor.StoredCredential
	if co != nil && co.Credential != nil {
		c := *co.Credential
		cred = &c
	}
	pending := h.store.Pending()
	h.mu.Unlock()
	switch back := req.Params.Get("checkout"); {
	case co == nil:
		return processor.CheckoutResult{}, errs.E(errs.NotFound, "%s: no checkout %q", h.Name, req.CheckoutReference)
	case req.CustomerRef != co.CustomerRef:
		return processor.CheckoutResult{}, errs.E(errs.Forbidden, "%s: checkout %s belongs to another customer", h.Name, req.CheckoutReference)
	case back != "" && back != req.CheckoutReference:
		return processor.CheckoutResult{}, errs.E(errs.Invalid, "%s: the viewer came back from another checkout", h.Name)
	case cred == nil:
		return processor.CheckoutResult{}, errs.E(errs.NotFound, "%s: no card was entered on checkout %s", h.Name, req.CheckoutReference)
	}
	// The credential was written by the page's post: answer once it is durable.
	if err := pending.Wait(); err != nil {
		return processor.CheckoutResult{}, err
	}
	return processor.CheckoutResult{Credential: cred}, nil
}

// route is the part of the path under /pay/<Name>; the host passes the full
// path, a test may pass the rest only.
func (h *HostedCardPage) route(path string) string {
	if r, ok := strings.CutPrefix(path, h.prefix()); ok {
		return r
	}
	return path
}
