// Command processor-epoch is camkit's Epoch payment processor plugin.
//
// Epoch offers hosted purchases (the FlexPost form, fpost.cgi), postbacks of
// their outcome and a DataPlus push of later events (rebills, credits,
// chargebacks, voids); no server-to-server charge API is documented (the
// "camcharge" call of public code is a signed URL the member's browser is
// sent to, with a returnurl and a postback URL, not a server call). So this
// plugin sells credit packs and fan-club memberships on Epoch's page and
// declares neither auth_capture nor charge_stored_credential: the host uses
// Epoch for wallet credits only, and Authorize, Capture, Void, Charge and
// Refund answer errs.Unsupported.
//
// Settings ([plugins.processor-epoch.settings]):
//
//	co_code       Epoch company code (required)
//	digest_key    the key Epoch signs postbacks with, its "salt" / HMAC key
//	              (required, >= 16 bytes; see digest.go)
//	price_points  the products set up at Epoch: [{"pi_code":"...","amount":999,"currency":"USD",
//	              "recurring_days":30,"recurring_amount":999}] (amount in minor units; recurring_* for memberships)
//	fpost_url     default https://wnu.com/secure/fpost.cgi
//	allowed_ips   CIDRs postbacks and DataPlus come from
//	              (default 208.236.105.0/24, 65.17.248.0/24, 68.71.103.0/24)
//	dataplus_auth "source_ip" (default): DataPlus is accepted from allowed_ips, its
//	              epoch_digest checked when it has one; "digest": DataPlus must be signed
//	state_file    default ./data/epoch-processor.json
//	max_event_age_hours  no longer used (accepted and ignored, with a warning)
//
// Register https://<site>/webhooks/epoch as the postback URL and as the
// DataPlus push URL. A FlexPost postback is accepted only with a valid
// epoch_digest (an HMAC-MD5 of the posted fields with digest_key, as public
// integration code computes it: digest.go cites it) and only from
// allowed_ips, a second check; DataPlus as dataplus_auth says (dataplus.go).
// A hosted sale is worth the amount of its price point in price_points,
// never the amount the postback names. An authentic notice is never refused
// for its age or content: what cannot be booked (a pi_code that is not
// configured, an unknown transaction type) is acknowledged (200 OK, so that
// Epoch does not redeliver it), books nothing and is logged at warn.
package main

import (
	"time"

	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
)

func main() {
	processor.Serve(newEpoch(time.Now, pluginkit.Logger("processor-epoch")))
}
