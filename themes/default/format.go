package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
)

var symbols = map[string]string{"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}

// price shows money the way a cam site's cards do: "$3.99", "3.99 CHF".
// A negative amount keeps money.FormatDecimal's sign in front ("-17.50 USD")
// so that a ledger reads left to right. The amount is never computed here:
// the host sends every figure ready.
func price(m money.Money) string {
	d, err := money.FormatDecimal(m)
	if err != nil {
		return fmt.Sprintf("%d %s", m.Amount, m.Currency)
	}
	if sym, ok := symbols[m.Currency]; ok && m.Amount >= 0 {
		return sym + d
	}
	return d + " " + m.Currency
}

// amount is the accounting form, with the code: "17.50 USD", "-17.50 USD".
func amount(m money.Money) string {
	d, err := money.FormatDecimal(m)
	if err != nil {
		return fmt.Sprintf("%d %s", m.Amount, m.Currency)
	}
	return d + " " + m.Currency
}

func perMinute(m money.Money) string { return price(m) + "/min" }

// clock shows seconds as m:ss or h:mm:ss.
func clock(sec int64) string {
	if sec < 0 {
		sec = 0
	}
	h, m, s := sec/3600, (sec/60)%60, sec%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// duration in words for policies: "30 s", "5 min", "2 min 30 s".
func duration(sec int64) string {
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

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("Jan 2, 15:04:05 UTC")
}

func whenShort(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("15:04")
}

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func itoa[T ~int | ~int64](n T) string { return strconv.FormatInt(int64(n), 10) }

func modeLabel(m theme.ShowMode) string {
	switch m {
	case theme.ModePublic:
		return "Live"
	case theme.ModePrivate:
		return "In private"
	case theme.ModeGroup:
		return "Group show"
	case theme.ModeOffline, "":
		return "Offline"
	}
	return string(m)
}

func granularityLabel(g theme.Granularity) string {
	switch g {
	case theme.GranularitySecond:
		return "billed per second"
	case theme.GranularityStartedMinute:
		return "billed per started minute"
	case theme.GranularityCompletedMinute:
		return "billed per completed minute"
	}
	return string(g)
}

func fundingLabel(f string) string {
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

func initial(name string) string {
	for _, r := range strings.TrimSpace(name) {
		return strings.ToUpper(string(r))
	}
	return "?"
}

func fieldError(errors []theme.FieldError, field string) string {
	for _, e := range errors {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

func isNegative(m money.Money) bool { return m.Amount < 0 }

func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func flashClass(l theme.FlashLevel) string {
	switch l {
	case theme.FlashSuccess, theme.FlashWarning, theme.FlashError:
		return "flash flash-" + string(l)
	}
	return "flash flash-info"
}

func homeLink(s *site) string {
	if s.L.Links.Home != "" {
		return s.L.Links.Home
	}
	return "/"
}

func tagLink(s *site, tag string) string { return homeLink(s) + "?tag=" + url.QueryEscape(tag) }

// decimal is the form value of an amount: money.FormatDecimal, which the host
// reads back with money.ParseDecimal.
func decimal(m money.Money) string {
	d, err := money.FormatDecimal(m)
	if err != nil {
		return ""
	}
	return d
}

func moneyOf(a int64, c string) money.Money { return money.Money{Amount: a, Currency: c} }
