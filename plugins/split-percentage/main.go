// Command split-percentage is a camkit split plugin that divides a settled
// amount by fixed shares in basis points (1/100 of a percent), per kind.
//
// Settings (all optional):
//
//	{
//	  "default": {"model": 6000, "studio": 1000, "affiliate": 500, "platform": 2500},
//	  "tip":     {"model": 8000, "studio": 500, "affiliate": 0, "platform": 1500}
//	}
//
// Keys are "default" and the kinds (private, group, tip, subscription,
// credit_pack, ticket); a kind without its own rule uses "default", and "default"
// itself defaults to the rule shown above. Each rule must sum to 10000 bps.
//
// How an amount is divided:
//   - model, studio and affiliate each get floor(amount * bps / 10000), computed
//     in 128 bits so that no amount up to the int64 maximum overflows;
//   - when the request has no studio (or no affiliate), that share is not paid
//     to anyone else in the chain: it goes to the platform;
//   - the platform gets everything that is left, so the rounding remainder is
//     the platform's and the shares always sum exactly to the amount;
//   - zero shares are left out (an amount of 0 gets no shares at all).
package main

import "github.com/camkit/camkit/sdk/split"

func main() {
	split.Serve(newSplitter())
}
