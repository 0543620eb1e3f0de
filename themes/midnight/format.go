package main

import (
	"fmt"

	"github.com/camkit/camkit/sdk/theme"
	"github.com/camkit/camkit/sdk/theme/themekit"
)

// Midnight's own words for a show's state and a member's role.
var (
	modeWords = map[theme.ShowMode]string{
		theme.ModePublic: "On air", theme.ModePrivate: "In private", theme.ModeGroup: "Group salon",
		theme.ModeOffline: "Off air", "": "Off air",
	}
	roleWords = map[theme.Role]string{
		theme.RoleViewer: "Member", theme.RoleModel: "Performer", theme.RoleStudio: "Studio", theme.RoleAdmin: "Operator",
	}
)

func modeLabel(m theme.ShowMode) string {
	if w, ok := modeWords[m]; ok {
		return w
	}
	return string(m)
}

func roleLabel(r theme.Role) string {
	if w, ok := roleWords[r]; ok {
		return w
	}
	return string(r)
}

// noteClass styles a flash or a funding warning by its level; an unknown
// level reads as information.
func noteClass(l theme.FlashLevel) string {
	switch l {
	case theme.FlashSuccess:
		return "note note-success"
	case theme.FlashWarning:
		return "note note-warning"
	case theme.FlashError:
		return "note note-error"
	}
	return "note note-info"
}

// ordinal numbers the rail's entries the way a magazine numbers its
// sections: 01, 02, …
func ordinal(i int) string { return fmt.Sprintf("%02d", i+1) }

func homeLink(s *site) string { return themekit.HomeURL(s.L) }

func tagLink(s *site, tag string) string { return themekit.TagURL(s.L, tag) }

// groupRate is the group form's rate: the open group's, else her group
// rate, else her private rate.
func groupRate(p *theme.ModelDashboardPage) string {
	if p.Group != nil {
		return themekit.Decimal(p.Group.Policy.RatePerMinute)
	}
	if p.GroupRate.Amount > 0 {
		return themekit.Decimal(p.GroupRate)
	}
	return themekit.Decimal(p.Rate)
}

func groupMinimum(p *theme.ModelDashboardPage) string {
	if p.Group != nil {
		return themekit.Itoa(p.Group.Minimum)
	}
	return "0"
}
