package billing

import (
	"context"

	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// HandleWebhookEvents is the sink for a processor's verified webhook events:
// it books the wallet credits of hosted sales (BookTopUps), then records
// every event once and books refunds and chargebacks
// (HandleProcessorEvents). Top-ups go first so that a failure leaves the
// event unrecorded: the web layer answers 503, the processor redelivers and
// the booking, idempotent under TopUpKey, is tried again.
func (e *Engine) HandleWebhookEvents(ctx context.Context, processorName string, events []processor.Event) error {
	if err := e.BookTopUps(ctx, processorName, events); err != nil {
		return err
	}
	return e.HandleProcessorEvents(ctx, processorName, events)
}

// WithTopUps adapts the engine to the web layer's webhook sink (its
// HandleProcessorEvents shape) so that hosted sales are booked as top-ups
// too: wire web.ProcessorRoutes{Sink: billing.WithTopUps{Engine: e}}.
type WithTopUps struct{ Engine *Engine }

func (s WithTopUps) HandleProcessorEvents(ctx context.Context, processorName string, events []processor.Event) error {
	return s.Engine.HandleWebhookEvents(ctx, processorName, events)
}

// BookTopUps books each approved sale of a wallet-only processor (one that
// declares neither auth/capture nor stored-credential charges, like Epoch:
// its money reaches camkit only through hosted purchases of credit packs
// and their postbacks) as wallet credits: processor:<name>:clearing ->
// viewer:<CustomerRef>:wallet, under TopUpKey(name, Reference). A
// redelivery, or the same sale reported again (Epoch's DataPlus repeats the
// FlexPost postback), books nothing more. Sales of processors that can
// charge or hold are not top-ups: camkit asked for that money itself (a
// seat's block, a credit pack bought with the card on file) and booked it
// then, so they are left alone. A sale that names no valid viewer is left
// for an operator: HandleProcessorEvents records it with its amount.
func (e *Engine) BookTopUps(ctx context.Context, processorName string, events []processor.Event) error {
	var sales []processor.Event
	for _, ev := range events {
		if ev.Type == processor.EventSale && ev.DeclineCode == "" && ev.Amount.Amount > 0 {
			sales = append(sales, ev)
		}
	}
	if len(sales) == 0 {
		return nil
	}
	if err := checkID("processor", processorName, true); err != nil {
		return err
	}
	p, ok := e.processors[processorName]
	if !ok {
		return errs.E(errs.NotFound, "billing: no processor %q", processorName)
	}
	cctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout)
	caps, err := p.Capabilities(cctx)
	cancel()
	if err != nil {
		return err
	}
	if caps.AuthCapture || caps.ChargeStoredCredential {
		return nil
	}
	if e.ledger == nil {
		return errs.E(errs.Internal, "billing: booking %s top-ups needs a ledger", processorName)
	}
	for _, ev := range sales {
		if ev.Reference == "" || checkID("viewer id", ev.CustomerRef, true) != nil {
			e.log.Warn("billing: a hosted sale names no viewer or no reference; its credits are left for an operator",
				"processor", processorName, "event", ev.ID, "customer", ev.CustomerRef, "amount", ev.Amount.String())
			continue
		}
		if err := ev.Amount.Validate(false); err != nil {
			return errs.E(errs.Invalid, "billing: %s sale %s: %v", processorName, ev.ID, err)
		}
		_, err := e.ledger.Batch(ctx, []ledger.Request{{Key: TopUpKey(processorName, ev.Reference), Kind: ledger.Single,
			Debit: clearingAccount(processorName), Credit: walletAccount(ev.CustomerRef), Amount: ev.Amount,
			Memo: "credits bought with " + processorName + " sale " + ev.Reference}})
		if err != nil {
			return err
		}
		if err := e.replanUnmatched(ctx, processorName, ev.Reference); err != nil {
			return err
		}
	}
	return nil
}
