package pricing_test

import (
	"testing"

	"github.com/camkit/camkit/sdk/pricing"
)

func TestParseGranularity(t *testing.T) {
	for _, g := range pricing.Granularities() {
		got, err := pricing.ParseGranularity(string(g))
		if err != nil || got != g {
			t.Errorf("ParseGranularity(%q) = %q, %v", g, got, err)
		}
	}
	for _, s := range []string{"", "minute", "Second", " second", "started-minute"} {
		if g, err := pricing.ParseGranularity(s); err == nil {
			t.Errorf("ParseGranularity(%q) = %q, want an error", s, g)
		}
	}
	_, err := pricing.ParseGranularity("minute")
	if want := `granularity "minute": want second, started_minute or completed_minute`; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}
