// Command processor-segpay is camkit's Segpay payment processor plugin.
//
// Later charges of a stored card use Segpay's one-click web service
// (PurchaseId = the PurchaseID of the first sale), so by default the host
// funds seats with prepaid_blocks: one one-click charge per block. Segpay's
// Post Pay, built for cam sites, authorises an amount and captures any
// amount up to it later, but Segpay documents no release of an
// authorisation; only with void_by_zero_capture=true (the operator confirmed
// with Segpay that a 0.00 capture releases a hold) does the plugin declare
// auth_capture, partial capture and void, and the host fund seats with
// card_hold. Refunds go through the SRS ADM web service.
//
// The first card entry happens on Segpay's hosted page (poset.cgi): the card
// never reaches camkit. Segpay tells the plugin the purchase id by a TransPost
// postback; CompleteCheckout reports Pending until it has arrived.
//
// Settings ([plugins.processor-segpay.settings]):
//
//	eticket_id            "package:pricepoint" of the Dynamic price point for hosted purchases
//	postpay_eticket_id    price point enabled for Post Pay (Digital Purchase or Dynamic)
//	oneclick_eticket_id   price point for one-click charges (default postpay_eticket_id)
//	srs_user_id, srs_access_key  SRS web service credentials (refunds, cancellations)
//	allowed_ips           CIDRs postbacks come from: Segpay's list, from its tech support (required)
//	hosted_url            default https://secure2.segpay.com/billing/poset.cgi
//	postpay_url           default https://transactions.segpay.com/PostPay
//	oneclick_url          default https://service.segpay.com/OneClickSales.asmx/SalesServiceDynamic
//	pricing_hash_url      default https://srs.segpay.com/PricingHash/PricingHash.svc/GetDynamicTrans
//	srs_url               default https://srs.segpay.com/ADM.asmx
//	currencies            default USD EUR GBP (what Segpay settles)
//	max_hold_days         how long a Post Pay authorisation is capturable (default 7)
//	void_by_zero_capture  offer Post Pay holds, released with a 0.00 capture (default false; see Void)
//	state_file            default ./data/segpay-processor.json
//	request_timeout_seconds  default 30
//
// Postbacks (TransPost and member postbacks) are registered in Segpay's
// merchant portal as https://<site>/webhooks/segpay?camkit_ref=<extra camkit_ref>&...
// (see README row); they carry no signature and are accepted only from
// allowed_ips. Server calls to Segpay are authenticated by Segpay's own IP
// whitelist of this server.
package main

import (
	"time"

	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
)

func main() {
	processor.Serve(newSegpay(time.Now, pluginkit.Logger("processor-segpay")))
}
