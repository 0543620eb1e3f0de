package pluginhost

import (
	"context"

	"github.com/camkit/camkit/sdk/currency"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/hashicorp/go-plugin"
)

// Factory returns the go-plugin Plugin that dispenses a kind's typed client.
func Factory(kind pluginkit.Kind) (plugin.Plugin, bool) {
	switch kind {
	case pluginkit.KindProcessor:
		return &processor.Plugin{}, true
	case pluginkit.KindCurrency:
		return &currency.Plugin{}, true
	case pluginkit.KindSplit:
		return &split.Plugin{}, true
	case pluginkit.KindTheme:
		return &theme.Plugin{}, true
	}
	return nil, false
}

// The wrappers below give core services a stable typed client for a plugin
// whose process may be replaced underneath: each call goes through Call, so it
// has a deadline, is measured, and fails fast while the process restarts.

type module struct{ in *Instance }

func (m module) Info(ctx context.Context) (pluginkit.Info, error) {
	return Call(ctx, m.in, "Info", func(ctx context.Context, c pluginkit.Module) (pluginkit.Info, error) { return c.Info(ctx) })
}

// Configure is done by the instance itself after every launch; a later call
// reconfigures the running process only.
func (m module) Configure(ctx context.Context, settings []byte) error {
	_, err := Call(ctx, m.in, "Configure", func(ctx context.Context, c pluginkit.Module) (struct{}, error) {
		return struct{}{}, c.Configure(ctx, settings)
	})
	return err
}

// Processor is the supervised processor client.
type Processor struct{ module }

var _ processor.Processor = Processor{}

// NewProcessor wraps an instance launched with KindProcessor.
func NewProcessor(in *Instance) Processor { return Processor{module{in}} }

type proc = processor.Processor

func (p Processor) Capabilities(ctx context.Context) (processor.Capabilities, error) {
	return Call(ctx, p.in, "Capabilities", func(ctx context.Context, c proc) (processor.Capabilities, error) { return c.Capabilities(ctx) })
}
func (p Processor) StartCheckout(ctx context.Context, r processor.StartCheckoutRequest) (processor.Checkout, error) {
	return Call(ctx, p.in, "StartCheckout", func(ctx context.Context, c proc) (processor.Checkout, error) { return c.StartCheckout(ctx, r) })
}
func (p Processor) CompleteCheckout(ctx context.Context, r processor.CompleteCheckoutRequest) (processor.CheckoutResult, error) {
	return Call(ctx, p.in, "CompleteCheckout", func(ctx context.Context, c proc) (processor.CheckoutResult, error) { return c.CompleteCheckout(ctx, r) })
}
func (p Processor) Authorize(ctx context.Context, r processor.AuthorizeRequest) (processor.Authorization, error) {
	return Call(ctx, p.in, "Authorize", func(ctx context.Context, c proc) (processor.Authorization, error) { return c.Authorize(ctx, r) })
}
func (p Processor) Capture(ctx context.Context, r processor.CaptureRequest) (processor.CaptureResult, error) {
	return Call(ctx, p.in, "Capture", func(ctx context.Context, c proc) (processor.CaptureResult, error) { return c.Capture(ctx, r) })
}
func (p Processor) Void(ctx context.Context, r processor.VoidRequest) (processor.VoidResult, error) {
	return Call(ctx, p.in, "Void", func(ctx context.Context, c proc) (processor.VoidResult, error) { return c.Void(ctx, r) })
}
func (p Processor) Charge(ctx context.Context, r processor.ChargeRequest) (processor.ChargeResult, error) {
	return Call(ctx, p.in, "Charge", func(ctx context.Context, c proc) (processor.ChargeResult, error) { return c.Charge(ctx, r) })
}
func (p Processor) Refund(ctx context.Context, r processor.RefundRequest) (processor.RefundResult, error) {
	return Call(ctx, p.in, "Refund", func(ctx context.Context, c proc) (processor.RefundResult, error) { return c.Refund(ctx, r) })
}
func (p Processor) CancelRecurring(ctx context.Context, r processor.CancelRecurringRequest) error {
	_, err := Call(ctx, p.in, "CancelRecurring", func(ctx context.Context, c proc) (struct{}, error) { return struct{}{}, c.CancelRecurring(ctx, r) })
	return err
}
func (p Processor) ParseWebhook(ctx context.Context, r processor.WebhookRequest) (processor.WebhookResult, error) {
	return Call(ctx, p.in, "ParseWebhook", func(ctx context.Context, c proc) (processor.WebhookResult, error) { return c.ParseWebhook(ctx, r) })
}
func (p Processor) ServeHTTP(ctx context.Context, r processor.HTTPRequest) (processor.HTTPResponse, error) {
	return Call(ctx, p.in, "ServeHTTP", func(ctx context.Context, c proc) (processor.HTTPResponse, error) { return c.ServeHTTP(ctx, r) })
}
func (p Processor) Transactions(ctx context.Context, r processor.TransactionsRequest) (processor.TransactionReport, error) {
	return Call(ctx, p.in, "Transactions", func(ctx context.Context, c proc) (processor.TransactionReport, error) { return c.Transactions(ctx, r) })
}

// Currency is the supervised currency client.
type Currency struct{ module }

var _ currency.Converter = Currency{}

// NewCurrency wraps an instance launched with KindCurrency.
func NewCurrency(in *Instance) Currency { return Currency{module{in}} }

func (x Currency) Quote(ctx context.Context, r currency.QuoteRequest) (currency.Quote, error) {
	return Call(ctx, x.in, "Quote", func(ctx context.Context, c currency.Converter) (currency.Quote, error) { return c.Quote(ctx, r) })
}

// Split is the supervised split client.
type Split struct{ module }

var _ split.Splitter = Split{}

// NewSplit wraps an instance launched with KindSplit.
func NewSplit(in *Instance) Split { return Split{module{in}} }

func (x Split) Allocate(ctx context.Context, r split.AllocateRequest) (split.Allocation, error) {
	return Call(ctx, x.in, "Allocate", func(ctx context.Context, c split.Splitter) (split.Allocation, error) { return c.Allocate(ctx, r) })
}

// Theme is the supervised theme client.
type Theme struct{ module }

var _ theme.Theme = Theme{}

// NewTheme wraps an instance launched with KindTheme.
func NewTheme(in *Instance) Theme { return Theme{module{in}} }

func (x Theme) Manifest(ctx context.Context) (theme.Manifest, error) {
	return Call(ctx, x.in, "Manifest", func(ctx context.Context, c theme.Theme) (theme.Manifest, error) { return c.Manifest(ctx) })
}
func (x Theme) Render(ctx context.Context, p theme.Page) (theme.Rendered, error) {
	return Call(ctx, x.in, "Render", func(ctx context.Context, c theme.Theme) (theme.Rendered, error) { return c.Render(ctx, p) })
}
func (x Theme) Asset(ctx context.Context, path string) (theme.Asset, error) {
	return Call(ctx, x.in, "Asset", func(ctx context.Context, c theme.Theme) (theme.Asset, error) { return c.Asset(ctx, path) })
}
