package main

import (
	"strconv"
	"strings"

	"github.com/camkit/camkit/sdk/processor"
)

// cardFrom reads what NMI reports of a card (query.php's customer vault and
// transaction records, a webhook's card{}): the brand from cc_type, or from
// the BIN when cc_type is empty; the last four digits from the masked
// number (4xxxxxxxxxxx1111 or 411111******1111); the expiry from MMYY.
// Country stays empty: NMI reports no issuing country (billing_address
// country is where the cardholder lives, not where the card was issued).
func cardFrom(ccType, ccNumber, ccBin, ccExp string) processor.StoredCredential {
	var out processor.StoredCredential
	out.Brand = brand(ccType)
	if out.Brand == "" {
		digits := ccBin
		if digits == "" && ccNumber != "" && ccNumber[0] >= '0' && ccNumber[0] <= '9' {
			digits = ccNumber[:1]
		}
		out.Brand = brandOfBIN(digits)
	}
	if n := strings.TrimSpace(ccNumber); len(n) >= 4 && strings.Trim(n[len(n)-4:], "0123456789") == "" {
		out.Last4 = n[len(n)-4:]
	}
	if len(ccExp) == 4 {
		mm, err1 := strconv.Atoi(ccExp[:2])
		yy, err2 := strconv.Atoi(ccExp[2:])
		if err1 == nil && err2 == nil && mm >= 1 && mm <= 12 {
			out.ExpMonth, out.ExpYear = mm, 2000+yy
		}
	}
	return out
}

func cardDetails(c *cardBody) processor.StoredCredential {
	if c == nil {
		return processor.StoredCredential{}
	}
	return cardFrom(c.CCType, c.CCNumber, c.CCBin, c.CCExp)
}

// brand normalises NMI's cc_type ("visa", "Visa", "mastercard", "amex",
// "discover", …) to camkit's lowercase names.
func brand(ccType string) string {
	t := strings.ToLower(strings.TrimSpace(ccType))
	switch strings.ReplaceAll(t, " ", "") {
	case "":
		return ""
	case "mc", "mastercard":
		return "mastercard"
	case "americanexpress", "amex":
		return "amex"
	case "diners", "dinersclub":
		return "diners"
	}
	return t
}

func brandOfBIN(digits string) string {
	switch {
	case digits == "":
		return ""
	case strings.HasPrefix(digits, "34"), strings.HasPrefix(digits, "37"):
		return "amex"
	case digits[0] == '4':
		return "visa"
	case digits[0] == '5', digits[0] == '2':
		return "mastercard"
	case digits[0] == '3' && len(digits) == 1:
		return "amex"
	case digits[0] == '6':
		return "discover"
	}
	return ""
}
