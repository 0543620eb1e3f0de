// Command processor-epoch is camkit's Epoch payment processor plugin.
//
// Epoch offers hosted purchases (the FlexPost form, fpost.cgi), postbacks of
// their outcome and a DataPlus push of later events (rebills, credits,
// chargebacks, voids); no server-to-server charge API is documented. So this
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
//	allowed_ips   CIDRs postbacks and DataPlus come from (default Epoch's 208.236.105.0/24, 65.17.248.0/24)
//	max_event_age_hours  DataPlus events dated older than this are refused (default 720)
//	state_file    default ./data/epoch-processor.json
//
// Register https://<site>/webhooks/epoch as the postback URL and as the
// DataPlus push URL. Both are accepted only with a valid epoch_digest (an
// HMAC-MD5 of the posted fields with digest_key, as public integration code
// computes it: digest.go cites it) and only from allowed_ips, a second
// check. A hosted sale is worth the amount of its price point in
// price_points, never the amount the postback names; an authentic sale of a
// pi_code that is not configured is acknowledged (200 OK, so that Epoch does
// not redeliver it), credits nothing and is logged at warn for the operator.
package main

import (
	"time"

	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
)

func main() {
	processor.Serve(newEpoch(time.Now, pluginkit.Logger("processor-epoch")))
}
