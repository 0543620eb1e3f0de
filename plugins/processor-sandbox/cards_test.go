package main

import (
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/processorkit"
)

// The sandbox's test cards must get past the checks of its card page.
func TestTestCardsPassTheCardPage(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for n := range testCards {
		if _, problem := processorkit.ParseCard(n, "12/30", "123", now); problem != "" {
			t.Errorf("test card %s: %s", n, problem)
		}
	}
	if _, problem := processorkit.ParseCard("4242424242424241", "12/30", "123", now); problem == "" {
		t.Error("a number with a wrong check digit passed")
	}
}

func TestBrandOf(t *testing.T) {
	for n, want := range map[string]string{
		"4242424242424242": "visa", "5555555555554444": "mastercard", "2223003122003222": "mastercard",
		"378282246310005": "amex", "6011111111111117": "discover", "3056930009020004": "unknown",
	} {
		if got := brandOf(n); got != want {
			t.Errorf("brandOf(%s) = %q, want %q", n, got, want)
		}
	}
}
