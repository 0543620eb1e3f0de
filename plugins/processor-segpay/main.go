// Command processor-segpay is camkit's Segpay payment processor plugin.
//
// Segpay's PostPay, built for cam sites, authorises an amount on the card of
// an earlier purchase and captures any amount up to it later: this plugin
// declares auth_capture with partial capture, so the host funds seats with
// card_hold. Later charges of a stored card use Segpay's one-click service
// (OCToken = the PurchaseID of the first sale); refunds and cancellations go
// through the SRS ADM web service.
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
//	void_by_zero_capture  release a hold with a 0.00 capture (default true; see Void)
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

	"github.com/camkit/camkit/sdk/processor"
)

func main() {
	processor.Serve(newSegpay(time.Now))
}
