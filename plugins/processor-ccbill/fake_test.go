package main

import "github.com/camkit/camkit/plugins/processor-ccbill/fakegw"

// The fake CCBill lives in ./fakegw, where the host's swap test uses it too;
// these names keep the plugin's tests reading as before.
type fakeCCBill = fakegw.Gateway

var newFakeCCBill = fakegw.New

const (
	cardApprove      = fakegw.CardApprove
	cardDecline      = fakegw.CardDecline
	cardInsufficient = fakegw.CardInsufficient
	cardExpired      = fakegw.CardExpired
	cardUnavailable  = fakegw.CardUnavailable
	cardSlow         = fakegw.CardSlow
)
