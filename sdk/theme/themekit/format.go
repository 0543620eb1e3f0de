package themekit

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pricing"
	"github.com/camkit/camkit/sdk/theme"
)

// Themes only ever show the figures the host sends: nothing here computes
// an amount, it only writes one down.

var symbols = map[string]string{"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}

// Price shows money the way a cam site's cards do: "$3.99", "3.99 CHF".
// A negative amount keeps money.FormatDecimal's sign in front
// ("-17.50 USD") so that a ledger reads left to right. Money that cannot be
// formatted (an unknown currency) shows its raw minor units and code rather
// than failing the page.
func Price(m money.Money) string {
	d, err := money.FormatDecimal(m)
	if err != nil {
		return fmt.Sprintf("%d %s", m.Amount, m.Currency)
	}
	if sym, ok := symbols[m.Currency]; ok && m.Amount >= 0 {
		return sym + d
	}
	return d + " " + m.Currency
}

// Amount is the accounting form, with the code: "17.50 USD", "-17.50 USD".
func Amount(m money.Money) string {
	d, err := money.FormatDecimal(m)
	if err != nil {
		return fmt.Sprintf("%d %s", m.Amount, m.Currency)
	}
	return d + " " + m.Currency
}

// PerMinute is a rate: "$3.99/min".
func PerMinute(m money.Money) string { return Price(m) + "/min" }

// Decimal is the form value of an amount, which the host reads back with
// money.ParseDecimal; "" when it cannot be formatted.
func Decimal(m money.Money) string {
	d, err := money.FormatDecimal(m)
	if err != nil {
		return ""
	}
	return d
}

// IsNegative reports money going out.
func IsNegative(m money.Money) bool { return m.Amount < 0 }

// Clock shows seconds as m:ss or h:mm:ss.
func Clock(sec int64) string {
	if sec < 0 {
		sec = 0
	}
	h, m, s := sec/3600, (sec/60)%60, sec%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// Duration in words for policies: "30 s", "5 min", "2 min 30 s", "none".
func Duration(sec int64) string {
	switch {
	case sec <= 0:
		return "none"
	case sec < 60:
		return fmt.Sprintf("%d s", sec)
	case sec%60 == 0:
		return fmt.Sprintf("%d min", sec/60)
	}
	return fmt.Sprintf("%d min %d s", sec/60, sec%60)
}

// When is a full UTC timestamp, "Mar 14, 20:05:00 UTC"; "—" for none.
func When(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("Jan 2, 15:04:05 UTC")
}

// WhenShort is the UTC time of day, "20:05"; "" for none.
func WhenShort(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("15:04")
}

// ISOTime is the datetime attribute of a <time> element.
func ISOTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Itoa writes a count.
func Itoa[T ~int | ~int64](n T) string { return strconv.FormatInt(int64(n), 10) }

// Initial is the letter an avatar without a picture shows.
func Initial(name string) string {
	for _, r := range strings.TrimSpace(name) {
		return strings.ToUpper(string(r))
	}
	return "?"
}

// Paragraphs splits plain text (a bio) into its non-empty lines, which a
// template renders as escaped paragraphs.
func Paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// FieldError is the message for a form field, "" for the whole form.
func FieldError(errors []theme.FieldError, field string) string {
	for _, e := range errors {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// GranularityLabel says how a price policy turns seconds into money.
func GranularityLabel(g theme.Granularity) string {
	switch g {
	case pricing.PerSecond:
		return "billed per second"
	case pricing.PerStartedMinute:
		return "billed per started minute"
	case pricing.PerCompletedMinute:
		return "billed per completed minute"
	}
	return string(g)
}

// FundingLabel names a funding strategy for a viewer.
func FundingLabel(f string) string {
	switch f {
	case "card_hold":
		return "card hold"
	case "prepaid_blocks":
		return "prepaid blocks"
	case "wallet":
		return "wallet credits"
	}
	return f
}

// HomeURL is the host's home route, "/" when the layout gives none.
func HomeURL(l *theme.Layout) string {
	if l.Links.Home != "" {
		return l.Links.Home
	}
	return "/"
}

// TagURL is the home page filtered by a tag (the HomePage search contract).
func TagURL(l *theme.Layout, tag string) string { return HomeURL(l) + "?tag=" + url.QueryEscape(tag) }
