package main

import (
	"testing"

	"github.com/camkit/camkit/sdk/processor"
)

// What NMI reports of a card becomes the stored credential's brand, last
// four and expiry; no country is invented from the billing address.
func TestCardDetailsFromWhatNMIReports(t *testing.T) {
	for _, c := range []struct {
		ccType, number, bin, exp string
		want                     processor.StoredCredential
	}{
		{"visa", "4xxxxxxxxxxx1111", "411111", "1240", processor.StoredCredential{Brand: "visa", Last4: "1111", ExpMonth: 12, ExpYear: 2040}},
		{"Visa", "411111******1111", "", "1229", processor.StoredCredential{Brand: "visa", Last4: "1111", ExpMonth: 12, ExpYear: 2029}},
		{"MasterCard", "5xxxxxxxxxxx4444", "", "0131", processor.StoredCredential{Brand: "mastercard", Last4: "4444", ExpMonth: 1, ExpYear: 2031}},
		{"American Express", "3xxxxxxxxxx0005", "", "", processor.StoredCredential{Brand: "amex", Last4: "0005"}},
		{"", "xxxxxxxxxxxx1117", "601111", "1330", processor.StoredCredential{Brand: "discover", Last4: "1117"}},
		{"", "", "371449", "", processor.StoredCredential{Brand: "amex"}},
		{"", "5xxxxxxxxxxx4444", "", "", processor.StoredCredential{Brand: "mastercard", Last4: "4444"}},
		{"", "xxxx", "", "ab12", processor.StoredCredential{}},
	} {
		if got := cardFrom(c.ccType, c.number, c.bin, c.exp); got != c.want {
			t.Errorf("cardFrom(%q, %q, %q, %q) = %+v, want %+v", c.ccType, c.number, c.bin, c.exp, got, c.want)
		}
	}
}
