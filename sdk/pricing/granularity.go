// Package pricing is the price vocabulary host and plugins share: how a
// seat's billable seconds become chargeable units. The host's pricing
// (core/pricing) computes prices with it; themes label it; the host's config
// and API document it. This is the one list of granularities.
package pricing

import (
	"fmt"
	"strings"
)

// Granularity is how billable seconds become chargeable units.
type Granularity string

const (
	// PerSecond charges round_half_up(rate_per_minute * seconds / 60).
	PerSecond Granularity = "second"
	// PerStartedMinute charges every minute begun: ceil(seconds/60) * rate.
	PerStartedMinute Granularity = "started_minute"
	// PerCompletedMinute charges whole minutes only: floor(seconds/60) * rate.
	PerCompletedMinute Granularity = "completed_minute"
)

// Granularities lists every granularity, in the order documentation shows them.
func Granularities() []Granularity {
	return []Granularity{PerSecond, PerStartedMinute, PerCompletedMinute}
}

// Valid reports whether g is one of Granularities.
func (g Granularity) Valid() bool {
	switch g {
	case PerSecond, PerStartedMinute, PerCompletedMinute:
		return true
	}
	return false
}

// ParseGranularity reads a configured or posted granularity, naming the
// accepted values when s is none of them.
func ParseGranularity(s string) (Granularity, error) {
	if g := Granularity(s); g.Valid() {
		return g, nil
	}
	return "", fmt.Errorf("granularity %q: want %s", s, OneOf())
}

// OneOf is the granularities as prose, for error messages: "second,
// started_minute or completed_minute".
func OneOf() string {
	gs := Granularities()
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = string(g)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
