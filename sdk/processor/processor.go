// Package processor is the contract between the camkit host and a payment
// processor plugin: the Go interface a plugin author implements, the gRPC glue
// that carries it across the process boundary in both directions, and a few
// checks every processor needs.
//
// The contract is shaped by what real processors offer (see PROCESSORS.md):
// auth/capture/void (Segpay PostPay, NETbilling, NMI/MobiusPay), charges of a
// stored token only (CCBill), hosted pages with postbacks only (Epoch). A
// processor declares which of these it has in Capabilities and returns
// errs.Unsupported for the rest; the host picks a funding strategy from them.
//
// Rules every implementation keeps:
//   - Money is money.Money (int64 minor units). Amounts must be positive and in
//     a currency listed in Capabilities.Currencies (errs.Invalid / errs.UnknownCurrency).
//   - Every money-moving request carries an IdempotencyKey chosen by the host
//     ("seat/<id>/auth/<n>"). A repeat with the same key returns the first result
//     (or the first decline) and moves no money twice; the same key with other
//     content is errs.Conflict.
//   - Every result names the processor's Reference and the Amount actually
//     moved; the host checks it with CheckMoved.
//   - Errors are *errs.Error: decline codes for a "no" from the processor,
//     retryable Unavailable/Timeout when the outcome is unknown.
package processor

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
)

// Processor is implemented by a processor plugin and called by the host.
type Processor interface {
	pluginkit.Module

	// Capabilities describes what this processor can do with its current settings.
	Capabilities(ctx context.Context) (Capabilities, error)

	// StartCheckout begins collecting a payment method (and, with Purchase set,
	// an immediate payment): it says where to send the viewer.
	StartCheckout(ctx context.Context, req StartCheckoutRequest) (Checkout, error)
	// CompleteCheckout turns what the viewer came back with into a stored
	// credential and, when the checkout carried a purchase, its charge.
	CompleteCheckout(ctx context.Context, req CompleteCheckoutRequest) (CheckoutResult, error)

	// Authorize holds Amount on a stored credential.
	Authorize(ctx context.Context, req AuthorizeRequest) (Authorization, error)
	// Capture takes up to the authorised amount; the remainder is released and
	// the authorisation cannot be captured again.
	Capture(ctx context.Context, req CaptureRequest) (CaptureResult, error)
	// Void releases an authorisation that has not been captured.
	Void(ctx context.Context, req VoidRequest) (VoidResult, error)
	// Charge takes Amount from a stored credential now (merchant-initiated).
	Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error)
	// Refund returns money of a capture or a charge, partially if declared.
	Refund(ctx context.Context, req RefundRequest) (RefundResult, error)
	// CancelRecurring stops a native subscription from rebilling.
	CancelRecurring(ctx context.Context, req CancelRecurringRequest) error

	// ParseWebhook verifies a postback/webhook and normalises it. A forged one
	// (bad signature or hash, a source address off the allow-list) or a stale
	// one (a signed timestamp outside the allowed window) is
	// errs.Unauthenticated. An authentic redelivery of an event already seen is
	// NOT an error: processors redeliver until the host answers 2xx, and the
	// host drops duplicates by Event.ID after it has recorded the first — a
	// plugin that refused redeliveries would lose every event whose first
	// delivery the host failed to record. The result carries the exact HTTP
	// response the processor expects back.
	ParseWebhook(ctx context.Context, req WebhookRequest) (WebhookResult, error)
	// ServeHTTP answers the plugin's own routes under /pay/<name>/ (return
	// URLs, a hosted card page), which the host proxies without reading.
	ServeHTTP(ctx context.Context, req HTTPRequest) (HTTPResponse, error)
	// Transactions lists what the processor's own records show moved in
	// [From, To), read from its reporting API (CCBill DataLink, NMI
	// query.php, …): `camkit reconcile` compares it with the ledger and the
	// receipts. References are the ones the plugin returned from Capture,
	// Charge, Refund and CompleteCheckout or put in Events. A processor
	// without a report answers errs.Unsupported; the host then reconciles
	// with the events it recorded.
	Transactions(ctx context.Context, req TransactionsRequest) (TransactionReport, error)
}

// WebhookAuth says how a processor's notifications are authenticated.
type WebhookAuth string

const (
	WebhookHMAC        WebhookAuth = "hmac"         // keyed signature over the body (NMI, sandbox)
	WebhookHash        WebhookAuth = "hash"         // digest over posted fields with a shared secret (NETbilling, Epoch)
	WebhookIPAllowlist WebhookAuth = "ip_allowlist" // only the source address (CCBill, Segpay)
	WebhookNone        WebhookAuth = "none"
)

// Capabilities decide which funding strategy the host may use.
type Capabilities struct {
	AuthCapture            bool // authorise then capture: card_hold funding
	PartialCapture         bool
	Void                   bool
	Refund                 bool
	PartialRefund          bool
	ChargeStoredCredential bool // merchant-initiated charges: prepaid_blocks funding
	HostedCheckoutRequired bool // card data may only be typed on the processor's page
	NativeRecurring        bool
	WebhookAuth            WebhookAuth
	Currencies             []string // ISO 4217 codes accepted
	MaxHoldDays            int      // an authorisation is capturable this long
}

// Accepts reports whether currency is among Currencies.
func (c Capabilities) Accepts(currency string) bool {
	for _, x := range c.Currencies {
		if x == currency {
			return true
		}
	}
	return false
}

// StoredCredential is a reusable reference to a payment method the processor
// holds. It never carries a card number, so the host may store it.
type StoredCredential struct {
	Token       string `json:"token"` // opaque, processor-specific
	Brand       string `json:"brand,omitempty"`
	Last4       string `json:"last4,omitempty"`
	ExpMonth    int    `json:"exp_month,omitempty"`
	ExpYear     int    `json:"exp_year,omitempty"`
	CustomerRef string `json:"customer_ref,omitempty"`
	// Country is the issuing bank's country (ISO 3166-1 alpha-2, from the
	// card's BIN) when the processor reports it; routing rules may use it.
	Country string `json:"country,omitempty"`
}

// RecurringTerms asks the processor to rebill by itself.
type RecurringTerms struct {
	Amount     money.Money
	PeriodDays int
}

type StartCheckoutRequest struct {
	IdempotencyKey string
	CustomerRef    string
	ReturnURL      string // absolute; the viewer comes back here with the checkout outcome
	CancelURL      string // optional
	Purchase       *money.Money
	Description    string
	Recurring      *RecurringTerms // optional; needs NativeRecurring
	Locale         string
}

// Checkout says where to send the viewer: a redirect (GET URL) or an
// auto-submitted form (POST URL with Fields), as Epoch's fpost.cgi wants.
type Checkout struct {
	Reference string
	URL       string
	Method    string // http.MethodGet or http.MethodPost
	Fields    map[string]string
	ExpiresAt time.Time
}

type CompleteCheckoutRequest struct {
	CheckoutReference string
	CustomerRef       string
	Params            url.Values // what the viewer came back with on the return URL
}

type CheckoutResult struct {
	Credential            *StoredCredential
	Charge                *ChargeResult
	SubscriptionReference string
	Pending               bool // the processor confirms later by webhook
}

type AuthorizeRequest struct {
	IdempotencyKey string
	Credential     StoredCredential
	Amount         money.Money
	Description    string
}

type Authorization struct {
	Reference string
	Amount    money.Money
	ExpiresAt time.Time
}

type CaptureRequest struct {
	IdempotencyKey         string
	AuthorizationReference string
	Amount                 money.Money
}

type CaptureResult struct {
	Reference string
	Amount    money.Money // captured
	Released  money.Money // the rest of the hold
}

type VoidRequest struct {
	IdempotencyKey         string
	AuthorizationReference string
}

type VoidResult struct {
	Reference string
	Amount    money.Money // released
}

type ChargeRequest struct {
	IdempotencyKey string
	Credential     StoredCredential
	Amount         money.Money
	Description    string
}

type ChargeResult struct {
	Reference     string
	Amount        money.Money
	NewCredential *StoredCredential // set when the processor rotated the token (CCBill createNewPaymentToken)
}

type RefundRequest struct {
	IdempotencyKey string
	Reference      string // of a capture or a charge
	Amount         money.Money
	Reason         string
}

type RefundResult struct {
	Reference string
	Amount    money.Money
}

type CancelRecurringRequest struct {
	IdempotencyKey        string
	SubscriptionReference string
}

// HTTPRequest is a request the host received for the plugin and passes on untouched.
type HTTPRequest struct {
	Method     string
	Path       string // full path, e.g. /pay/sandbox/checkout
	Query      url.Values
	Headers    http.Header
	Body       []byte
	RemoteAddr string // ip:port of the client as the host resolved it: the direct peer, or behind the host's trusted proxies the client they name (port 0)
}

// WebhookRequest is the notification as the host received it: the same shape
// as any other proxied request.
type WebhookRequest = HTTPRequest

type HTTPResponse struct {
	Status  int
	Headers http.Header
	Body    []byte
}

// EventType is a normalised notification kind.
type EventType string

const (
	EventSale       EventType = "sale"
	EventRebill     EventType = "rebill"
	EventAuth       EventType = "auth"
	EventCapture    EventType = "capture"
	EventRefund     EventType = "refund"
	EventVoid       EventType = "void"
	EventChargeback EventType = "chargeback"
	EventCancel     EventType = "cancel"
	EventExpire     EventType = "expire"
)

// EventTypes lists every normalised type.
var EventTypes = []EventType{EventSale, EventRebill, EventAuth, EventCapture, EventRefund, EventVoid, EventChargeback, EventCancel, EventExpire}

// Event is one verified, normalised notification.
type Event struct {
	ID                    string // the processor's id, so the host can drop duplicates
	Type                  EventType
	Reference             string
	RelatedReference      string // the original transaction of a refund, chargeback, capture or void
	SubscriptionReference string
	CheckoutReference     string
	CustomerRef           string
	Amount                money.Money
	Credential            *StoredCredential
	OccurredAt            time.Time
	DeclineCode           errs.Code // an errs decline code when the attempt failed (a failed rebill)
	Reason                string    // e.g. a chargeback reason code
}

type WebhookResult struct {
	Events   []Event
	Response HTTPResponse // exactly what the processor expects back, e.g. 200 "OK"
}

type TransactionsRequest struct {
	From time.Time // inclusive
	To   time.Time // exclusive
}

// TransactionKind is what a reported transaction did with the viewer's money.
type TransactionKind string

const (
	TxSale       TransactionKind = "sale"       // money taken: a capture, a charge, a hosted-page purchase, a rebill
	TxRefund     TransactionKind = "refund"     // money given back by the merchant
	TxChargeback TransactionKind = "chargeback" // money taken back by the card's bank
)

// Transaction is one movement of money in the processor's own records.
type Transaction struct {
	Reference        string
	Kind             TransactionKind
	Amount           money.Money // positive
	RelatedReference string      // the sale a refund or chargeback takes back
	OccurredAt       time.Time
}

// TransactionReport is what the processor's report listed.
type TransactionReport struct {
	Transactions []Transaction
	Source       string // e.g. "CCBill DataLink"
}
