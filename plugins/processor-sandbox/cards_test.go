package main

import "testing"

func TestTestCardsAreLuhnValid(t *testing.T) {
	for n := range testCards {
		if !luhnValid(n) {
			t.Errorf("test card %s fails the Luhn check", n)
		}
	}
	for _, n := range []string{"4242424242424241", "42424242", "4242-4242-4242-4242", "abcdabcdabcdabcd"} {
		if luhnValid(n) {
			t.Errorf("%s passes the Luhn check", n)
		}
	}
	if got := normalizeCardNumber("4242 4242-4242 4242"); got != "4242424242424242" {
		t.Errorf("normalizeCardNumber = %q", got)
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
