package main

import "github.com/camkit/camkit/plugins/processor-segpay/fakegw"

// The fake Segpay lives in ./fakegw, where the host's swap test uses it too;
// these names keep the plugin's tests reading as before.
type fakeSegpay = fakegw.Gateway

var newFakeSegpay = fakegw.New

const (
	cardApprove      = fakegw.CardApprove
	cardDecline      = fakegw.CardDecline
	cardInsufficient = fakegw.CardInsufficient
	cardExpired      = fakegw.CardExpired
	cardUnavailable  = fakegw.CardUnavailable
	cardSlow         = fakegw.CardSlow
	segpayIP         = fakegw.SourceIP
)
