package processor

import (
	"context"

	"github.com/camkit/camkit/sdk/errs"
)

// Unsupported answers errs.Unsupported to every operation. Embed it in a
// plugin that offers only some of them (a charge-only processor, a
// hosted-page-only one) and override what it does offer; the host never calls
// what Capabilities does not declare, and a caller that does gets a clear error.
type Unsupported struct{}

func (Unsupported) StartCheckout(context.Context, StartCheckoutRequest) (Checkout, error) {
	return Checkout{}, errs.E(errs.Unsupported, "checkout is not offered")
}
func (Unsupported) CompleteCheckout(context.Context, CompleteCheckoutRequest) (CheckoutResult, error) {
	return CheckoutResult{}, errs.E(errs.Unsupported, "checkout is not offered")
}
func (Unsupported) Authorize(context.Context, AuthorizeRequest) (Authorization, error) {
	return Authorization{}, errs.E(errs.Unsupported, "authorisation is not offered")
}
func (Unsupported) Capture(context.Context, CaptureRequest) (CaptureResult, error) {
	return CaptureResult{}, errs.E(errs.Unsupported, "capture is not offered")
}
func (Unsupported) Void(context.Context, VoidRequest) (VoidResult, error) {
	return VoidResult{}, errs.E(errs.Unsupported, "void is not offered")
}
func (Unsupported) Charge(context.Context, ChargeRequest) (ChargeResult, error) {
	return ChargeResult{}, errs.E(errs.Unsupported, "charging a stored credential is not offered")
}
func (Unsupported) Refund(context.Context, RefundRequest) (RefundResult, error) {
	return RefundResult{}, errs.E(errs.Unsupported, "refund is not offered")
}
func (Unsupported) CancelRecurring(context.Context, CancelRecurringRequest) error {
	return errs.E(errs.Unsupported, "recurring billing is not offered")
}
func (Unsupported) ParseWebhook(context.Context, WebhookRequest) (WebhookResult, error) {
	return WebhookResult{}, errs.E(errs.Unsupported, "webhooks are not offered")
}
func (Unsupported) ServeHTTP(context.Context, HTTPRequest) (HTTPResponse, error) {
	return HTTPResponse{Status: 404, Body: []byte("not found")}, nil
}
func (Unsupported) Transactions(context.Context, TransactionsRequest) (TransactionReport, error) {
	return TransactionReport{}, errs.E(errs.Unsupported, "no transaction report is offered")
}
