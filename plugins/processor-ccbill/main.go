// Command processor-ccbill is camkit's CCBill payment processor plugin.
//
// CCBill's RESTful Transaction API only charges a stored payment token at
// once: there is no authorise-only, capture or void of an authorisation. So
// this plugin declares charge_stored_credential (the host funds seats with
// prepaid_blocks: one charge per block, the unused part credited back) and
// refunds through DataLink's subscriptionManagement.cgi refundTransaction
// (CCBill API guide; the -15 "over refund threshold" code sits in its table).
//
// Settings ([plugins.processor-ccbill.settings] in camkit's config):
//
//	client_accnum, client_subacc      merchant account (900000-999999) and sub-account (0-9999)
//	app_id, secret                    back-end Merchant Application ID and Secret Key (OAuth client credentials)
//	frontend_app_id, frontend_secret  front-end credentials: the Advanced Widget on the card page uses
//	                                  a token of these to create payment tokens in the viewer's browser
//	datalink_username, datalink_password  DataLink user for refunds and subscription cancels
//	api_base_url       default https://api.ccbill.com
//	datalink_url       default https://datalink.ccbill.com/utils/subscriptionManagement.cgi
//	widget_url         default https://js.ccbill.com/v1.13.1/ccbill-advanced-widget.js
//	initial_period_days  initialPeriod sent with each charge (default 0: a single billing)
//	currencies         accepted ISO 4217 codes (default USD EUR GBP CAD AUD JPY)
//	allowed_ips        CIDRs webhooks may come from (default CCBill's 64.38.212/215/240/241.0/24)
//	state_file         idempotency records, charges and seen webhooks (default ./data/ccbill-processor.json)
//	request_timeout_seconds  per HTTP call to CCBill (default 30)
//
// There is no maximum webhook age: CCBill redelivers until it gets a 2xx, and
// an authentic redelivery is accepted whatever its age (the host records each
// event id once). The former max_webhook_age_hours and billing_api_url keys are
// gone and refused like any unknown key.
//
// The card is typed on the plugin's page /pay/ccbill/checkout into CCBill's
// Advanced Widget, which sends it from the browser straight to CCBill and
// hands back a paymentTokenId: the card number never reaches camkit.
//
// Webhooks (register https://<site>/webhooks/ccbill with CCBill, JSON or form
// format) carry no signature; they are accepted only from allowed_ips.
package main

import (
	"time"

	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
)

func main() {
	processor.Serve(newCCBill(time.Now, pluginkit.Logger("processor-ccbill")))
}
