package main

import "strings"

// outcome is what the sandbox does when a stored card is authorised or charged.
// A card's outcome is fixed when it is tokenised; the number itself is never kept.
type outcome string

const (
	approve      outcome = "approve"
	decline      outcome = "declined"
	insufficient outcome = "insufficient_funds"
	expired      outcome = "expired_card"
	invalidCard  outcome = "invalid_card"
	fraud        outcome = "fraud_suspected"
	unavailable  outcome = "unavailable" // retryable: the "processor" is down, nothing moves
	slow         outcome = "slow"        // answers after slowDelay (or when the caller gives up), then approves
	firstOnly    outcome = "first_only"  // approves the card's first authorisation or charge, declines every later one
)

// testCards are the deterministic test cards. Any other number that passes
// the Luhn check approves. Use any future expiry and any 3-4 digit CVC.
//
//	4242424242424242  Visa        approve
//	5555555555554444  Mastercard  approve
//	4000000000000002  Visa        errs.Declined
//	4000000000009995  Visa        errs.InsufficientFunds
//	4000000000000069  Visa        errs.ExpiredCard
//	4000000000000127  Visa        errs.InvalidCard
//	4100000000000019  Visa        errs.FraudSuspected
//	4000000000000119  Visa        errs.Unavailable, retryable (nothing is moved)
//	4000000000000259  Visa        slow: answers after 2 s (respecting the deadline), then approves
//	4000000000000341  Visa        approves the first authorisation or charge, errs.Declined after:
//	                              a hold that opens and then cannot be extended
var testCards = map[string]outcome{
	"4242424242424242": approve,
	"5555555555554444": approve,
	"4000000000000002": decline,
	"4000000000009995": insufficient,
	"4000000000000069": expired,
	"4000000000000127": invalidCard,
	"4100000000000019": fraud,
	"4000000000000119": unavailable,
	"4000000000000259": slow,
	"4000000000000341": firstOnly,
}

// usedBefore reports whether a card already has a hold or a payment, which is
// what makes a first_only card decline.
func usedBefore(st *state, token string) bool {
	for _, h := range st.Holds {
		if h.Token == token {
			return true
		}
	}
	for _, p := range st.Payments {
		if p.Token == token {
			return true
		}
	}
	return false
}

func outcomeOf(number string) outcome {
	if o, ok := testCards[number]; ok {
		return o
	}
	return approve
}

// brandOf recognises the brand from the leading digits (IIN ranges).
func brandOf(number string) string {
	switch {
	case strings.HasPrefix(number, "4"):
		return "visa"
	case strings.HasPrefix(number, "34"), strings.HasPrefix(number, "37"):
		return "amex"
	case len(number) >= 2 && number[0] == '5' && number[1] >= '1' && number[1] <= '5':
		return "mastercard"
	case len(number) >= 4 && number[:4] >= "2221" && number[:4] <= "2720":
		return "mastercard"
	case strings.HasPrefix(number, "6011"), strings.HasPrefix(number, "65"):
		return "discover"
	}
	return "unknown"
}
