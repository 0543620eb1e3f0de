// Command processor-mobiuspay is camkit's MobiusPay processor plugin.
// MobiusPay resells NMI's gateway: server calls go to NMI's Direct Post API
// (transact.php: sale, auth, capture, void, refund), outcomes are looked up
// with the Query API (query.php), cards live in NMI's customer vault, and
// webhooks are signed with HMAC-SHA256. It offers auth/capture/void, so the
// host funds private shows with card_hold.
//
// Settings ([plugin.processor-mobiuspay.settings] in camkit's config):
//
//	security_key          private API key (required)
//	tokenization_key      public Collect.js tokenization key (required)
//	webhook_signing_key   the webhook signing key from the merchant portal (required, >= 16 bytes)
//	api_url               default https://secure.mobiusgateway.com/api/transact.php
//	query_url             default https://secure.mobiusgateway.com/api/query.php
//	collectjs_url         default https://secure.mobiusgateway.com/token/Collect.js
//	                      (the host secure.mobiusgateway.com is not confirmed by any
//	                      public source: to confirm with MobiusPay; set all three)
//	currencies            ISO 4217 codes the merchant account settles, default ["USD"]
//	max_hold_days         how long an authorisation is capturable, default 7
//	state_file            idempotency records, holds and checkouts, default ./data/mobiuspay-processor.json
//	webhook_max_age       an authentic webhook whose action is older is still accepted
//	                      (NMI redelivers after outages) and logged; default 72h
//	webhook_allowed_cidrs optional source ranges for webhooks (default: any; the signature decides)
//	request_timeout       per-request limit when the host set no deadline, default 60s
//
// Card entry: the plugin's page /pay/mobiuspay/checkout hosts Collect.js
// fields, which are iframes of the gateway; camkit only ever sees the
// one-time payment_token and the customer_vault_id NMI returns, which is the
// stored credential's token.
//
// Idempotency: every money-moving request carries an orderid derived from
// the host's idempotency key, and a pending record is written before it is
// sent. A retry after an unknown outcome (timeout, 5xx, response_code
// 420/421) asks query.php whether NMI already acted before sending anything
// again.
//
// Webhooks: verified by their HMAC only (t is a nonce, not a time); never
// refused for their age; Event.ID is NMI's event_id, by which the host
// drops redeliveries; types camkit does not book are answered 200 and
// logged. Reconciliation: Transactions reads query.php by date.
package main

import (
	"time"

	"github.com/camkit/camkit/sdk/processor"
)

func main() {
	processor.Serve(newMobiusPay(time.Now))
}
