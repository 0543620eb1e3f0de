// Command processor-netbilling is camkit's NETbilling processor plugin. Server
// calls are Direct Mode 3.1 form posts (tran_type A authorise, S sale,
// D capture, U void, R refund) on the stored card CS:<trans_id>; the first
// card entry happens on NETbilling's hosted payment form; its answers are
// verified by MD5 hashes with the site's integrity key. It offers
// auth/capture/void, so the host funds private shows with card_hold.
//
// Settings ([plugin.processor-netbilling.settings] in camkit's config):
//
//	account_id            numeric NETbilling account id (required)
//	site_tag              the site tag (required)
//	integrity_key         Fraud Defense integrity key, for the form and postback hashes (required)
//	direct_url            default https://secure.netbilling.com:1402/gw/sas/direct3.1
//	form_url              default https://secure.netbilling.com/gw/native/interactive2.2
//	card_check_amount     cents authorised (then voided) to store a card without a purchase, default 100
//	max_hold_days         how long an authorisation is capturable, default 7
//	state_file            default ./data/netbilling-processor.json
//	postback_allowed_cidrs optional source ranges for postbacks (default: any; the hashes decide)
//	request_timeout       per-request limit when the host set no deadline, default 60s
//
// Idempotency: every money-moving request is recorded as pending under the
// host's idempotency key before it is sent, and is never sent twice unless
// NETbilling answered that it processed nothing (a 7xx processing error).
// Direct Mode 3 documents no de-duplication and no lookup by a merchant's
// reference, so an unknown outcome (timeout, dropped connection, exception,
// unreadable answer) is left for the operator: retries of the key answer a
// final errs.Conflict naming it. A capture below the authorised amount is a
// void of the hold and a sale of exactly the price (see Capture).
//
// Test mode: NETbilling approves with status_code T ("TEST APPROVED");
// 1 and T are both approvals.
package main

import (
	"time"

	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
)

func main() {
	processor.Serve(newNETbilling(time.Now, pluginkit.Logger("processor-netbilling")))
}
