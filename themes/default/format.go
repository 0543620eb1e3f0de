package main

import (
	"time"

	"github.com/camkit/camkit/sdk/theme"
	"github.com/camkit/camkit/sdk/theme/themekit"
)

// The templates' short names for the kit's formatting: the host sends every
// figure ready, these only write it down.
var (
	price            = themekit.Price
	amount           = themekit.Amount
	perMinute        = themekit.PerMinute
	decimal          = themekit.Decimal
	isNegative       = themekit.IsNegative
	clock            = themekit.Clock
	duration         = themekit.Duration
	when             = themekit.When
	whenShort        = themekit.WhenShort
	isoTime          = themekit.ISOTime
	initial          = themekit.Initial
	paragraphs       = themekit.Paragraphs
	fieldError       = themekit.FieldError
	granularityLabel = themekit.GranularityLabel
	fundingLabel     = themekit.FundingLabel
)

func itoa[T ~int | ~int64](n T) string { return themekit.Itoa(n) }

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

func flashClass(l theme.FlashLevel) string {
	switch l {
	case theme.FlashSuccess, theme.FlashWarning, theme.FlashError:
		return "flash flash-" + string(l)
	}
	return "flash flash-info"
}

func homeLink(s *site) string { return themekit.HomeURL(s.L) }

func tagLink(s *site, tag string) string { return themekit.TagURL(s.L, tag) }

// groupRate is the group form's rate: the open group's, else her group
// rate, else her private rate.
func groupRate(p *theme.ModelDashboardPage) string {
	if p.Group != nil {
		return decimal(p.Group.Policy.RatePerMinute)
	}
	if p.GroupRate.Amount > 0 {
		return decimal(p.GroupRate)
	}
	return decimal(p.Rate)
}

func groupMinimum(p *theme.ModelDashboardPage) string {
	if p.Group != nil {
		return itoa(p.Group.Minimum)
	}
	return "0"
}

// minutes is an announced duration for the templates' clock arithmetic.
func minutes(n int64) time.Duration { return time.Duration(n) * time.Minute }
