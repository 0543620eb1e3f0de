package main

import "github.com/camkit/camkit/plugins/processor-mobiuspay/fakegw"

// The fake NMI gateway lives in ./fakegw, where the host's swap test uses it
// too; these names keep the plugin's tests reading as before.
type fakeNMI = fakegw.Gateway

var newFakeNMI = fakegw.New

const (
	cardApprove      = fakegw.CardApprove
	cardApproveMC    = fakegw.CardApproveMC
	cardDecline      = fakegw.CardDecline
	cardInsufficient = fakegw.CardInsufficient
	cardExpired      = fakegw.CardExpired
	cardUnavailable  = fakegw.CardUnavailable
	cardSlow         = fakegw.CardSlow
)
