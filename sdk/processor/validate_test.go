package processor_test

import (
	"testing"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

func TestValidateAmount(t *testing.T) {
	accepted := []string{"USD", "JPY"}
	for _, c := range []struct {
		m        money.Money
		accepted []string
		want     errs.Code
	}{
		{money.Money{Amount: 1, Currency: "USD"}, accepted, ""},
		{money.Money{Amount: 500, Currency: "JPY"}, accepted, ""},
		{money.Money{Amount: 500, Currency: "EUR"}, nil, ""},
		{money.Money{Amount: 0, Currency: "USD"}, accepted, errs.Invalid},
		{money.Money{Amount: -5, Currency: "USD"}, accepted, errs.Invalid},
		{money.Money{Amount: 5, Currency: "EUR"}, accepted, errs.UnknownCurrency},
		{money.Money{Amount: 5, Currency: "XXX"}, nil, errs.UnknownCurrency},
		{money.Money{Amount: 5, Currency: "usd"}, accepted, errs.UnknownCurrency},
	} {
		if got := errs.CodeOf(processor.ValidateAmount(c.m, c.accepted)); got != c.want {
			t.Errorf("ValidateAmount(%v, %v) = %q, want %q", c.m, c.accepted, got, c.want)
		}
	}
}

func TestValidateKeyAndCredential(t *testing.T) {
	if errs.CodeOf(processor.ValidateIdempotencyKey("")) != errs.Invalid {
		t.Error("empty idempotency key accepted")
	}
	if err := processor.ValidateIdempotencyKey("seat/1/auth/1"); err != nil {
		t.Error(err)
	}
	if errs.CodeOf(processor.ValidateCredential(processor.StoredCredential{})) != errs.Invalid {
		t.Error("empty credential accepted")
	}
}

func TestCheckMoved(t *testing.T) {
	asked := money.Money{Amount: 100, Currency: "USD"}
	if err := processor.CheckMoved(asked, asked); err != nil {
		t.Error(err)
	}
	for _, moved := range []money.Money{{Amount: 99, Currency: "USD"}, {Amount: 100, Currency: "EUR"}} {
		if errs.CodeOf(processor.CheckMoved(asked, moved)) != errs.Internal {
			t.Errorf("CheckMoved(%v, %v) passed", asked, moved)
		}
	}
}
