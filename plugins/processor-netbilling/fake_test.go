package main

import "github.com/camkit/camkit/plugins/processor-netbilling/fakegw"

// The fake NETbilling lives in ./fakegw, where the host's swap test uses it
// too; these names keep the plugin's tests reading as before.
type fakeNB = fakegw.Gateway

var newFakeNB = fakegw.New

const (
	cardApprove      = fakegw.CardApprove
	cardDecline      = fakegw.CardDecline
	cardInsufficient = fakegw.CardInsufficient
	cardExpired      = fakegw.CardExpired
	cardUnavailable  = fakegw.CardUnavailable
	cardSlow         = fakegw.CardSlow
	cardFormDecline  = fakegw.CardFormDecline
	fakeCardFailed   = fakegw.CardFailed
)
