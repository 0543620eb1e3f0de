package main

import (
	"context"
	"testing"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

// FlexPost's ans is a letter, a code and optionally "|<transaction id>"
// (Magic Members' "YGOODTEST|1418464163"): an approval whose postback has
// no transaction_id field still books under the id after the bar, and a
// decline's reason is the code without it.
func TestAnswerReadsLetterCodeAndTransactionID(t *testing.T) {
	for ans, want := range map[string]struct {
		letter   byte
		code, tx string
	}{
		"YGOODTEST|1418464163": {'Y', "GOODTEST", "1418464163"},
		"Y":                    {'Y', "", ""},
		" NEXPIRED ":           {'N', "EXPIRED", ""},
		"NDECLINEDCVV2|77":     {'N', "DECLINEDCVV2", "77"},
		"":                     {0, "", ""},
	} {
		l, c, tx := answer(ans)
		if l != want.letter || c != want.code || tx != want.tx {
			t.Errorf("answer(%q) = %q, %q, %q; want %q, %q, %q", ans, l, c, tx, want.letter, want.code, want.tx)
		}
	}
	for text, want := range map[string]errs.Code{"DECLINED": errs.Declined, "expired": errs.ExpiredCard, "DECLINEDCVV2": errs.InvalidCard,
		"CALLCENTER": errs.Declined, "MYVSNOTACCEPTED": errs.Declined, "Insufficient funds": errs.InsufficientFunds, "stolen card": errs.FraudSuspected} {
		if got := declineCode(text); got != want {
			t.Errorf("declineCode(%q) = %s, want %s", text, got, want)
		}
	}

	e := newTestPlugin(t)
	res, err := e.ParseWebhook(context.Background(), postback("ans", "YGOODTEST|80077", "order_id", "70077", "pi_code", "pack100"))
	if err != nil || len(res.Events) != 1 || res.Events[0].ID != "sale:80077" || res.Events[0].Amount != (money.Money{Amount: 999, Currency: "USD"}) {
		t.Fatalf("an approval with its transaction id in ans only: %+v, %v", res, err)
	}
	res, err = e.ParseWebhook(context.Background(), postback("ans", "NEXPIRED|0", "order_id", "70078", "pi_code", "pack100"))
	if err != nil || len(res.Events) != 1 || res.Events[0].DeclineCode != errs.ExpiredCard || res.Events[0].Reason != "EXPIRED" {
		t.Fatalf("a decline with a bar: %+v, %v", res, err)
	}
}
