package theme

import (
	"bytes"
	"encoding/json"

	"github.com/camkit/camkit/sdk/errs"
	jsonv2 "github.com/go-json-experiment/json"
)

// kinds maps each page kind to a constructor of its zero page. It is the one
// list the wire decoder, the samples and the conformance suite iterate, so a
// kind added here without a sample fails the SDK's own tests.
var kinds = []struct {
	kind Kind
	new  func() Page
}{
	{KindAgeGate, func() Page { return new(AgeGatePage) }},
	{KindLogin, func() Page { return new(LoginPage) }},
	{KindSignup, func() Page { return new(SignupPage) }},
	{KindHome, func() Page { return new(HomePage) }},
	{KindModelProfile, func() Page { return new(ModelProfilePage) }},
	{KindRoom, func() Page { return new(RoomPage) }},
	{KindPrivateShow, func() Page { return new(PrivateShowPage) }},
	{KindWallet, func() Page { return new(WalletPage) }},
	{KindReceipt, func() Page { return new(ReceiptPage) }},
	{KindModelDashboard, func() Page { return new(ModelDashboardPage) }},
	{KindStreamHelp, func() Page { return new(StreamHelpPage) }},
	{KindAdmin, func() Page { return new(AdminPage) }},
	{KindCheckout, func() Page { return new(CheckoutPage) }},
	{KindError, func() Page { return new(ErrorPage) }},
}

// Kinds lists every page kind, in a stable order.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	for i, k := range kinds {
		out[i] = k.kind
	}
	return out
}

// NewPage returns a zero page of the kind, or errs.Invalid for an unknown kind.
func NewPage(kind Kind) (Page, error) {
	for _, k := range kinds {
		if k.kind == kind {
			return k.new(), nil
		}
	}
	return nil, errs.E(errs.Invalid, "unknown page kind %q", kind)
}

// EncodePage gives the wire form of a page: its kind and JSON.
func EncodePage(p Page) (Kind, []byte, error) {
	return appendPage(nil, p)
}

// appendPage appends the page's JSON to dst: the home page by hand
// (homejson.go), every other kind with encoding/json.
func appendPage(dst []byte, p Page) (Kind, []byte, error) {
	if p == nil {
		return "", nil, errs.E(errs.Invalid, "nil page")
	}
	if h, ok := p.(*HomePage); ok && h != nil {
		return KindHome, appendHome(dst, h), nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", nil, errs.E(errs.Invalid, "encode %s page: %v", p.PageKind(), err)
	}
	return p.PageKind(), append(dst, b...), nil
}

// DecodePage reads the wire form back into the typed page. An unknown kind or
// malformed JSON is errs.Invalid. Fields the kind does not have are ignored on
// purpose: a host built against a newer SDK that added a field still renders
// with a theme built before it.
//
// It decodes with the encoding/json/v2 prototype (go-json-experiment), which
// reads a page of 100 live models in well under half the time encoding/json
// takes; the plugin pays that on every request. EncodePage keeps
// encoding/json's output, which v2 reads unchanged (exact field names, RFC
// 3339 times, null for nil slices). The home page, the busiest by far, is
// read by a hand-written decoder first, which hands anything it was not
// written for to v2 (homejson.go).
func DecodePage(kind Kind, data []byte) (Page, error) {
	return decodePage(kind, data, false)
}

// decodePage is DecodePage; owned says data is the caller's to give away
// (the plugin's copy of the request), so the page's strings may view it
// instead of a copy.
func decodePage(kind Kind, data []byte, owned bool) (Page, error) {
	if kind == KindHome {
		if !owned {
			data = bytes.Clone(data)
		}
		if p, ok := decodeHome(data); ok {
			return p, nil
		}
	}
	p, err := NewPage(kind)
	if err != nil {
		return nil, err
	}
	if err := jsonv2.Unmarshal(data, p); err != nil {
		return nil, errs.E(errs.Invalid, "decode %s page: %v", kind, err)
	}
	return p, nil
}
