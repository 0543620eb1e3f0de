// Command processor-acme is a camkit processor plugin that only charges
// stored tokens (so camkit funds its shows as prepaid blocks), with a card
// page of its own (processorkit.HostedCardPage) where a viewer types a card
// once and the plugin turns it into Acme's token. It keeps its charges'
// idempotency records in memory; a real one keeps them where a restart cannot
// lose them and asks its processor before re-sending an unknown outcome.
// `camkit plugin new processor <name>` writes this file; it is the README's
// quickstart.
package main

import (
	"context"
	"sync"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

type acme struct {
	*processorkit.HostedCardPage // the card checkout; everything but it and Charge answers errs.Unsupported
	mu                           sync.Mutex
	done                         map[string]processor.ChargeRequest // idempotency key -> first request
}

func (*acme) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindProcessor, Name: "acme", Version: "0.1.0"}, nil
}
func (a *acme) Configure(_ context.Context, settings []byte) error {
	s := struct {
		StateFile string `json:"state_file"`
	}{StateFile: "data/acme-processor.json"}
	if err := pluginkit.DecodeSettings(settings, &s); err != nil {
		return err
	}
	return a.Open(s.StateFile) // the card page's checkouts survive a restart
}
func (*acme) Capabilities(context.Context) (processor.Capabilities, error) {
	return processor.Capabilities{ChargeStoredCredential: true, Currencies: []string{"USD"}, WebhookAuth: processor.WebhookNone}, nil
}

// tokenize stands for Acme's card vault: a real plugin sends the card to its
// processor here and gets the processor's token back.
func tokenize(_ context.Context, c processorkit.Card) (processor.StoredCredential, error) {
	switch c.Number { // Acme's test cards
	case "4000000000000002":
		return processor.StoredCredential{Token: "tok_decline"}, nil
	case "4000000000009995":
		return processor.StoredCredential{Token: "tok_nsf"}, nil
	}
	return processor.StoredCredential{Token: "tok_ok"}, nil
}

func (a *acme) Charge(_ context.Context, r processor.ChargeRequest) (processor.ChargeResult, error) {
	if err := processor.ValidateAmount(r.Amount, []string{"USD"}); err != nil {
		return processor.ChargeResult{}, err
	}
	if err := processor.ValidateIdempotencyKey(r.IdempotencyKey); err != nil {
		return processor.ChargeResult{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if first, seen := a.done[r.IdempotencyKey]; seen && first != r {
		return processor.ChargeResult{}, errs.E(errs.Conflict, "key %s was used for another charge", r.IdempotencyKey)
	}
	a.done[r.IdempotencyKey] = r
	switch r.Credential.Token { // Acme's test tokens
	case "tok_decline":
		return processor.ChargeResult{}, errs.E(errs.Declined, "do not honour")
	case "tok_nsf":
		return processor.ChargeResult{}, errs.E(errs.InsufficientFunds, "insufficient funds")
	}
	return processor.ChargeResult{Reference: "acme-" + r.IdempotencyKey, Amount: r.Amount}, nil
}

func main() {
	page := &processorkit.HostedCardPage{Name: "acme", Tokenize: tokenize}
	processor.Serve(&acme{HostedCardPage: page, done: map[string]processor.ChargeRequest{}})
}
