package plugintest

import (
	"fmt"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/processor"
)

// CheckWebhookResult reports what is wrong with the result of a webhook a
// processor plugin accepted, by the rules the host relies on: a 2xx answer,
// and events of a known type with an id, an amount that is either absent or
// a non-negative amount in a known currency, a decline code that is one, and
// a stored credential only with a token. Plugins' fuzz targets check every
// result they get with it.
func CheckWebhookResult(res processor.WebhookResult) error {
	if res.Response.Status < 200 || res.Response.Status > 299 {
		return fmt.Errorf("an accepted webhook is answered with HTTP %d, want 2xx", res.Response.Status)
	}
	for i, e := range res.Events {
		if err := checkEvent(e); err != nil {
			return fmt.Errorf("event %d %+v: %w", i, e, err)
		}
	}
	return nil
}

func checkEvent(e processor.Event) error {
	known := false
	for _, k := range processor.EventTypes {
		known = known || e.Type == k
	}
	switch {
	case !known:
		return fmt.Errorf("unknown type %q", e.Type)
	case e.ID == "":
		return fmt.Errorf("no id (the host drops redeliveries by id)")
	case e.Amount.Amount < 0:
		return fmt.Errorf("negative amount %d", e.Amount.Amount)
	case e.DeclineCode != "" && !errs.IsDecline(&errs.Error{Code: e.DeclineCode}):
		return fmt.Errorf("decline code %q is not one of errs' decline codes", e.DeclineCode)
	case e.Credential != nil && e.Credential.Token == "":
		return fmt.Errorf("a stored credential without a token")
	}
	if e.Amount.Amount != 0 || e.Amount.Currency != "" {
		if err := e.Amount.Validate(false); err != nil {
			return fmt.Errorf("amount: %w", err)
		}
	}
	return nil
}
