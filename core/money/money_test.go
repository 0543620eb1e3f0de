package money_test

import (
	"errors"
	"testing"

	"github.com/camkit/camkit/core/money"
	"github.com/camkit/camkit/sdk/errs"
	sdkmoney "github.com/camkit/camkit/sdk/money"
)

func TestMoneyIsTheSDKType(t *testing.T) {
	// Assignable both ways without conversion: one Money in the system.
	var m money.Money = sdkmoney.Money{Amount: 5, Currency: "USD"}
	var s sdkmoney.Money = m
	if s.Amount != 5 {
		t.Fatal("alias lost the amount")
	}
}

func TestNewAndExponent(t *testing.T) {
	for code, want := range map[string]int{"JPY": 0, "USD": 2, "BHD": 3, "CLF": 4} {
		got, err := money.Exponent(code)
		if err != nil || got != want {
			t.Errorf("Exponent(%s) = %d, %v; want %d", code, got, err, want)
		}
	}
	_, err := money.New(1, "XXX")
	if errs.CodeOf(err) != errs.UnknownCurrency || !errors.Is(err, money.ErrUnknownCurrency) {
		t.Fatalf("New(XXX) = %v: want code unknown_currency and ErrUnknownCurrency", err)
	}
	if _, err := money.Exponent("usd"); err == nil {
		t.Fatal("lower-case code accepted")
	}
}
