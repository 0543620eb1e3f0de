package processorkit

import (
	"strconv"
	"strings"
	"time"
)

// Card is what a viewer typed on a HostedCardPage. It exists only in the
// plugin's memory for the one Tokenize call: it is never written to the state
// file, logged, echoed on a page or handed to the host.
type Card struct {
	Number   string // digits only, Luhn-checked
	ExpMonth int    // 1-12
	ExpYear  int    // four digits, not in the past
	CVC      string // 3 or 4 digits
}

// Last4 is the part of the number a receipt may show.
func (c Card) Last4() string { return c.Number[len(c.Number)-4:] }

// Brand names the card scheme by the number's prefix ("" when unknown).
func (c Card) Brand() string {
	n := c.Number
	p2, _ := strconv.Atoi(n[:2])
	p4, _ := strconv.Atoi(n[:4])
	switch {
	case n[0] == '4':
		return "visa"
	case p2 >= 51 && p2 <= 55 || p4 >= 2221 && p4 <= 2720:
		return "mastercard"
	case p2 == 34 || p2 == 37:
		return "amex"
	case p4 == 6011 || p2 == 65:
		return "discover"
	}
	return ""
}

// String never shows the number or the CVC, whatever prints a Card.
func (c Card) String() string {
	return "card " + c.Brand() + " ending " + c.Last4() + " exp " + strconv.Itoa(c.ExpMonth) + "/" + strconv.Itoa(c.ExpYear)
}

// GoString keeps %#v from printing the number too.
func (c Card) GoString() string { return c.String() }

// ParseCard checks a card form's fields (a HostedCardPage's, or a plugin's
// own card page) and says what is wrong in words a
// viewer understands ("" when the card is well formed).
func ParseCard(number, exp, cvc string, now time.Time) (Card, string) {
	number = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, number)
	if len(number) < 12 || len(number) > 19 || strings.Trim(number, "0123456789") != "" || !luhn(number) {
		return Card{}, "That card number is not valid."
	}
	month, year, ok := parseExpiry(exp)
	if !ok {
		return Card{}, "Enter the expiry as MM/YY."
	}
	if year < now.Year() || year == now.Year() && month < int(now.Month()) {
		return Card{}, "That card has expired."
	}
	cvc = strings.TrimSpace(cvc)
	if len(cvc) < 3 || len(cvc) > 4 || strings.Trim(cvc, "0123456789") != "" {
		return Card{}, "The CVC is the 3 or 4 digits on the card."
	}
	return Card{Number: number, ExpMonth: month, ExpYear: year, CVC: cvc}, ""
}

// parseExpiry reads MM/YY or MM/YYYY.
func parseExpiry(s string) (month, year int, ok bool) {
	mm, yy, found := strings.Cut(strings.ReplaceAll(s, " ", ""), "/")
	if !found {
		return 0, 0, false
	}
	m, err1 := strconv.Atoi(mm)
	y, err2 := strconv.Atoi(yy)
	if err1 != nil || err2 != nil || m < 1 || m > 12 {
		return 0, 0, false
	}
	switch len(yy) {
	case 2:
		y += 2000
	case 4:
	default:
		return 0, 0, false
	}
	return m, y, true
}

func luhn(digits string) bool {
	sum, double := 0, false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
