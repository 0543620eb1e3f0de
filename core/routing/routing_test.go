package routing

import (
	"slices"
	"testing"

	"github.com/camkit/camkit/sdk/errs"
)

func TestRulesPickTheFirstMatchElseTheDefault(t *testing.T) {
	r, err := New("sandbox", []string{"segpay", "mobiuspay"}, []Rule{
		{Currency: "eur", Processor: "segpay"},
		{Brand: "Mastercard", Country: "gb", Processor: "mobiuspay"},
		{Country: "GB", Processor: "segpay"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   Input
		want string
	}{
		{Input{Currency: "USD"}, "sandbox"},
		{Input{Currency: "EUR", Brand: "mastercard", Country: "GB"}, "segpay"}, // first rule first
		{Input{Currency: "USD", Brand: "mastercard", Country: "GB"}, "mobiuspay"},
		{Input{Currency: "USD", Brand: "visa", Country: "GB"}, "segpay"},
		{Input{Currency: "USD", Brand: "mastercard", Country: "US"}, "sandbox"},
		{Input{Currency: "USD", Brand: "mastercard"}, "sandbox"}, // country unknown: no country rule matches
	} {
		if got := r.First(c.in); got != c.want {
			t.Errorf("First(%+v) = %s, want %s", c.in, got, c.want)
		}
	}
	if !r.IsActive("mobiuspay") || r.IsActive("ccbill") {
		t.Errorf("active: %v", r.Active())
	}
}

func TestOrderIsFirstChoiceThenCascade(t *testing.T) {
	r, err := New("a", []string{"b", "c"}, []Rule{{Currency: "EUR", Processor: "c"}}, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Order(Input{Currency: "USD"}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("USD order %v", got)
	}
	if got := r.Order(Input{Currency: "EUR"}); !slices.Equal(got, []string{"c", "a", "b"}) {
		t.Errorf("EUR order %v", got)
	}
	none, _ := New("a", []string{"b"}, nil, nil)
	if got := none.Order(Input{Currency: "USD"}); !slices.Equal(got, []string{"a"}) {
		t.Errorf("without a cascade the order is the first choice alone, got %v", got)
	}
}

func TestNewRefusesInactiveOrRepeatedProcessors(t *testing.T) {
	for name, c := range map[string]struct {
		rules   []Rule
		cascade []string
	}{
		"rule":          {rules: []Rule{{Currency: "EUR", Processor: "ccbill"}}},
		"cascade":       {cascade: []string{"a", "ccbill"}},
		"cascade twice": {cascade: []string{"a", "b", "a"}},
	} {
		if _, err := New("a", []string{"b"}, c.rules, c.cascade); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New("", nil, nil, nil); err == nil {
		t.Error("no default accepted")
	}
}

func TestClassifySoftAndHardDeclines(t *testing.T) {
	for _, c := range []struct {
		err        error
		want, strt Outcome
	}{
		{nil, Done, Done},
		{errs.E(errs.Declined, "do not honour"), Next, Next},
		{errs.E(errs.InsufficientFunds, "nsf"), Next, Next},
		{errs.E(errs.Unavailable, "processor cannot take it now"), Next, Next},
		{errs.Retry(errs.Unavailable, "outcome unknown"), Unknown, Next},
		{errs.Retry(errs.Timeout, "deadline"), Unknown, Next},
		{errs.E(errs.FraudSuspected, "stolen"), Stop, Stop},
		{errs.E(errs.InvalidCard, "bad"), Stop, Stop},
		{errs.E(errs.ExpiredCard, "old"), Stop, Stop},
		{errs.E(errs.AuthExpired, "gone"), Stop, Stop},
		{errs.E(errs.Invalid, "bad request"), Stop, Stop},
		{errs.E(errs.Conflict, "key reused"), Stop, Stop},
	} {
		if got := Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %d, want %d", c.err, got, c.want)
		}
		if got := ClassifyStart(c.err); got != c.strt {
			t.Errorf("ClassifyStart(%v) = %d, want %d", c.err, got, c.strt)
		}
	}
}

func TestAttemptKeysDifferPerProcessorAndRepeat(t *testing.T) {
	a, b := AttemptKey("creditpack/p1", "a"), AttemptKey("creditpack/p1", "b")
	if a == b || a != AttemptKey("creditpack/p1", "a") || a != "creditpack/p1/via/a" {
		t.Fatalf("keys %q %q", a, b)
	}
}
