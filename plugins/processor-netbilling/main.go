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
//	getid_url             default https://secure.netbilling.com/gw/native/getid1.0
//	poll_url              default https://secure.netbilling.com/gw/native/poll1.0
//	form_url              default https://secure.netbilling.com/gw/native/interactive2.2
//	card_check_amount     cents authorised (then voided) to store a card without a purchase, default 100
//	max_hold_days         how long an authorisation is capturable, default 7
//	state_file            default ./data/netbilling-processor.json
//	postback_max_age      oldest issue date accepted in a postback, default 24h
//	postback_allowed_cidrs optional source ranges for postbacks (default: any; the hashes decide)
//	request_timeout       per-request limit when the host set no deadline, default 60s
//
// Idempotency: before a request is sent, a transaction id is fetched from
// getid and written with the host's idempotency key; the request carries it.
// A retry after an unknown outcome polls that id and sends the request again
// (with the same id) only if NETbilling never saw it.
//
// Test mode: NETbilling approves with status_code T ("TEST APPROVED");
// 1 and T are both approvals.
package main

import (
	"time"

	"github.com/camkit/camkit/sdk/processor"
)

func main() {
	processor.Serve(newNETbilling(time.Now))
}
