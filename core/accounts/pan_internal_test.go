package accounts

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/camkit/camkit/sdk/processor"
)

// A card number set apart in any field is refused; a Luhn-valid digit run
// inside a random token is not a card number, and no sandbox-shaped token is
// ever refused (it was, about once in 840, with a 500).
func TestCheckCredentialRefusesCardNumbersNotRandomTokens(t *testing.T) {
	for _, c := range []processor.StoredCredential{
		{Token: "4111111111111111"},
		{Token: "tok_4111111111111111"},
		{Token: "card:4111 1111 1111 1111;"},
		{Token: "tok", CustomerRef: "4111-1111-1111-1111"},
		{Token: "tok", Brand: "visa 4012888888881881"},
	} {
		if err := checkCredential(c); err == nil {
			t.Errorf("%+v: accepted a credential holding a card number", c)
		}
	}
	for _, c := range []processor.StoredCredential{
		{Token: "sbx_tok_a4111111111111111f0c"}, // a Luhn-valid run inside a hex word
		{Token: "41111111111111111112"},         // 20 digits: an id, not a card
		{Token: "CS:114152087528"},              // NETbilling: 12 digits
		{Token: "tok_4111111111111112"},         // not Luhn-valid
	} {
		if err := checkCredential(c); err != nil {
			t.Errorf("%+v: refused: %v", c, err)
		}
	}
	b := make([]byte, 12)
	for i := 0; i < 200_000; i++ {
		_, _ = rand.Read(b)
		tok := "sbx_tok_" + hex.EncodeToString(b)
		if err := checkCredential(processor.StoredCredential{Token: tok}); err != nil {
			t.Fatalf("random token %s refused: %v", tok, err)
		}
	}
}
