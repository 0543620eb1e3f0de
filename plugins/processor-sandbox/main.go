// Command processor-sandbox is camkit's sandbox payment processor plugin: a
// complete, offline stand-in for a card processor that offers every
// capability, for development, demos and the test suites.
//
// Settings ([plugins.sandbox.settings] in camkit's config):
//
//	state_file      where holds, captures, tokens and idempotency records are
//	                kept across restarts (default ./data/sandbox-processor.json):
//	                a snapshot, and beside it <state_file>.journal, which every
//	                change is appended to (processorkit.Store)
//	webhook_secret  HMAC-SHA256 key of incoming webhooks (>= 16 bytes). camkit
//	                generates one per deployment, keeps it in its database and
//	                passes it here unless the operator configures one; a value
//	                printed in camkit's repository is refused
//	max_hold_days   how long an authorisation stays capturable (default 7)
//
// Cards are entered on the plugin's own hosted page, /pay/sandbox/checkout,
// which the host proxies without reading; the card number never leaves this
// process and is never written down: only a token (sbx_tok_...), the brand,
// the last four digits, the expiry and the test outcome are stored. The test
// card numbers are listed in cards.go.
//
// Webhooks are JSON events (see webhook.go) signed with
// X-Sandbox-Signature: t=<unix seconds>,s=<hex HMAC-SHA256 of "<t>.<body>">.
// A signature older than 5 minutes or an event id seen before is refused.
//
// The sandbox does not rebill subscriptions by itself: a rebill reaches the
// host as a signed "rebill" webhook, like any other event.
package main

import (
	"time"

	"github.com/camkit/camkit/sdk/processor"
)

func main() {
	processor.Serve(newSandbox(time.Now))
}
