// Command processor-acme is the README's quickstart: a processor that only
// charges stored tokens (so camkit funds its shows as prepaid blocks). It keeps
// its idempotency records in memory; a real one keeps them where a restart
// cannot lose them and asks its processor before re-sending an unknown outcome.
package main

import (
	"context"
	"sync"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
)

type acme struct {
	processor.Unsupported // everything but Charge answers errs.Unsupported
	mu                    sync.Mutex
	done                  map[string]processor.ChargeRequest // idempotency key -> first request
}

func (*acme) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindProcessor, Name: "acme", Version: "0.1.0"}, nil
}
func (*acme) Configure(context.Context, []byte) error { return nil }
func (*acme) Capabilities(context.Context) (processor.Capabilities, error) {
	return processor.Capabilities{ChargeStoredCredential: true, Currencies: []string{"USD"}, WebhookAuth: processor.WebhookNone}, nil
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

func main() { processor.Serve(&acme{done: map[string]processor.ChargeRequest{}}) }
