package ledger

import (
	"regexp"
	"testing"

	"pgregory.net/rapid"
)

// The grammar wellFormedCode implements by hand.
var codeRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*(:[A-Za-z0-9_.-]+)*$`)

func TestWellFormedCodeAgreesWithTheGrammar(t *testing.T) {
	for _, c := range []string{"", "a", "viewer:42:wallet", "platform:revenue", "Viewer:1", "viewer::wallet", "viewer:",
		":x", "payouts", "model:x.y-z_1:earnings", "a b", "a:b c", "processor:ccbill:clearing", "9a", "a-_9:Z"} {
		if got, want := wellFormedCode(c), codeRE.MatchString(c); got != want {
			t.Errorf("wellFormedCode(%q) = %v, the grammar says %v", c, got, want)
		}
	}
	alphabet := []rune("az09AZ_-.: é\x00")
	rapid.Check(t, func(rt *rapid.T) {
		c := string(rapid.SliceOfN(rapid.SampledFrom(alphabet), 0, 12).Draw(rt, "runes"))
		if got, want := wellFormedCode(c), codeRE.MatchString(c); got != want {
			rt.Fatalf("wellFormedCode(%q) = %v, the grammar says %v", c, got, want)
		}
	})
}
