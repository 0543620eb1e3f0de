package themekit

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pricing"
	"github.com/camkit/camkit/sdk/theme"
)

var testDefaults = Settings{Brand: "kit", Primary: "#112233", Accent: "#445566", Background: "#000", Text: "#fff"}

func testBuild(s Settings) *Assets {
	a := NewAssets()
	a.Add("css/x.css", CSS, []byte(":root{--primary:"+s.Primary+"}"))
	a.Add("img/logo.svg", SVG, []byte("<svg>"+s.Brand+"</svg>"))
	return a
}

func TestDecodeSettingsNamesTheBadKey(t *testing.T) {
	for in, key := range map[string]string{
		`{"primary": "red; background:url(x)"}`: "primary",
		`{"accent": "#12345"}`:                  "accent",
		`{"background": "#ggg"}`:                "background",
		`{"text": ""}`:                          "text",
		`{"brand": "  "}`:                       "brand",
		`{"brand": "` + strings.Repeat("x", MaxBrandBytes+1) + `"}`: "brand",
		`{"brnad": "typo"}`: "brnad",
		`{"brand": 7}`:      "brand",
	} {
		_, err := DecodeSettings([]byte(in), testDefaults)
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), key) {
			t.Errorf("DecodeSettings(%s) = %v, want errs.Invalid naming %q", in, err, key)
		}
	}
	s, err := DecodeSettings([]byte(`{"brand": "  Velvet  ", "primary": "#ABC"}`), testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	if s.Brand != "Velvet" || s.Primary != "#ABC" || s.Accent != testDefaults.Accent {
		t.Fatalf("settings over defaults: %+v", s)
	}
	for _, empty := range []string{"", "null", "{}"} {
		if s, err := DecodeSettings([]byte(empty), testDefaults); err != nil || s != testDefaults {
			t.Errorf("DecodeSettings(%q) = %+v, %v; want the defaults", empty, s, err)
		}
	}
}

func TestKitConfigureIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	k := New("kit", "1.2.3", "img/logo.svg", testDefaults, testBuild)
	info, _ := k.Info(ctx)
	if info.Name != "kit" || info.Version != "1.2.3" {
		t.Fatalf("info %+v", info)
	}
	before, err := k.Asset(ctx, "css/x.css")
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Configure(ctx, []byte(`{"brand": "Velvet", "primary": "#00aaff"}`)); err != nil {
		t.Fatal(err)
	}
	m, _ := k.Manifest(ctx)
	if m.Name != "kit" || m.BrandName != "Velvet" || m.Colors.Primary != "#00aaff" || m.Colors.Text != "#fff" ||
		m.LogoPath != "img/logo.svg" || strings.Join(m.Assets, ",") != "css/x.css,img/logo.svg" {
		t.Fatalf("manifest after settings: %+v", m)
	}
	after, _ := k.Asset(ctx, "css/x.css")
	if after.ETag == before.ETag || !strings.Contains(string(after.Body), "#00aaff") {
		t.Fatalf("stylesheet and ETag did not follow the colour: %s %s -> %s", after.Body, before.ETag, after.ETag)
	}
	if err := k.Configure(ctx, []byte(`{"brand": "Other", "text": "white"}`)); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("bad colour: %v", err)
	}
	if k.Settings().Brand != "Velvet" {
		t.Fatalf("a refused configuration changed the brand to %q", k.Settings().Brand)
	}
	// The manifest's list is a copy: a caller appending to it changes nothing.
	m.Assets[0] = "mutated"
	if m2, _ := k.Manifest(ctx); m2.Assets[0] != "css/x.css" {
		t.Fatalf("manifest assets shared with the caller: %q", m2.Assets)
	}
	for _, p := range []string{"", "/css/x.css", "../img/logo.svg", "css/y.css"} {
		if _, err := k.Asset(ctx, p); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("Asset(%q) = %v, want errs.NotFound", p, err)
		}
	}
}

func TestNewRefusesABrokenTheme(t *testing.T) {
	for name, f := range map[string]func(){
		"bad defaults": func() { New("x", "1", "img/logo.svg", Settings{Brand: "x", Primary: "red"}, testBuild) },
		"no logo":      func() { New("x", "1", "img/missing.svg", testDefaults, testBuild) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: New did not panic", name)
				}
			}()
			f()
		}()
	}
}

type tmpl func(w io.Writer) error

func (f tmpl) Render(_ context.Context, w io.Writer) error { return f(w) }

func TestFinish(t *testing.T) {
	ctx := context.Background()
	k := New("kit", "1", "img/logo.svg", testDefaults, testBuild)
	r, err := k.Finish(ctx, theme.KindHome, tmpl(func(w io.Writer) error {
		_, err := io.WriteString(w, "<!DOCTYPE html><p>hi</p>")
		return err
	}), "Home", 200)
	if err != nil || string(r.HTML) != "<!DOCTYPE html><p>hi</p>" || r.Title != "Home" || r.Status != 200 {
		t.Fatalf("Finish = %+v, %v", r, err)
	}
	// The pooled buffer is reset: a second page does not carry the first.
	r2, _ := k.Finish(ctx, theme.KindHome, tmpl(func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }), "X", 200)
	if string(r2.HTML) != "x" || string(r.HTML) != "<!DOCTYPE html><p>hi</p>" {
		t.Fatalf("pooled buffer leaked: %q then %q", r.HTML, r2.HTML)
	}
	_, err = k.Finish(ctx, theme.KindRoom, tmpl(func(io.Writer) error { return errors.New("boom") }), "R", 200)
	if errs.CodeOf(err) != errs.Internal || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("failing template: %v", err)
	}
	if err := k.Unrenderable(nil); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("nil page: %v", err)
	}
	if err := k.Unrenderable(&theme.HomePage{}); errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), "home") {
		t.Fatalf("unrenderable: %v", err)
	}
}

func TestLayoutHelpers(t *testing.T) {
	l := &theme.Layout{}
	if Brand(testDefaults, l) != "kit" || AssetBase(l) != theme.DefaultAssetBase || HomeURL(l) != "/" {
		t.Fatalf("empty layout: %q %q %q", Brand(testDefaults, l), AssetBase(l), HomeURL(l))
	}
	l = &theme.Layout{Brand: "Override", AssetBase: "/a/", Links: theme.Links{Home: "/live"}}
	if Brand(testDefaults, l) != "Override" || AssetBase(l) != "/a/" || TagURL(l, "a&b c") != "/live?tag=a%26b+c" {
		t.Fatalf("layout: %q %q %q", Brand(testDefaults, l), AssetBase(l), TagURL(l, "a&b c"))
	}
	for in, want := range map[int]int{0: 500, 200: 500, 302: 500, 404: 404, 503: 503, 600: 500} {
		if got := ErrorStatus(in); got != want {
			t.Errorf("ErrorStatus(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestMoneyFormats(t *testing.T) {
	cases := []struct {
		amount    int64
		currency  string
		price     string
		accounted string
		decimal   string
	}{
		{399, "USD", "$3.99", "3.99 USD", "3.99"},
		{-1750, "USD", "-17.50 USD", "-17.50 USD", "-17.50"},
		{500, "JPY", "¥500", "500 JPY", "500"},
		{1005, "BHD", "1.005 BHD", "1.005 BHD", "1.005"},
		{7, "EUR", "€0.07", "0.07 EUR", "0.07"},
		{123, "XXX1", "123 XXX1", "123 XXX1", ""}, // not a currency: shown raw, no form value
	}
	for _, c := range cases {
		m := money.Money{Amount: c.amount, Currency: c.currency}
		if got := Price(m); got != c.price {
			t.Errorf("Price(%v) = %q, want %q", m, got, c.price)
		}
		if got := Amount(m); got != c.accounted {
			t.Errorf("Amount(%v) = %q, want %q", m, got, c.accounted)
		}
		if got := Decimal(m); got != c.decimal {
			t.Errorf("Decimal(%v) = %q, want %q", m, got, c.decimal)
		}
	}
	if got := PerMinute(money.Money{Amount: 399, Currency: "USD"}); got != "$3.99/min" {
		t.Errorf("PerMinute = %q", got)
	}
}

func TestTextHelpers(t *testing.T) {
	for sec, want := range map[int64]string{-5: "0:00", 0: "0:00", 59: "0:59", 61: "1:01", 3725: "1:02:05"} {
		if got := Clock(sec); got != want {
			t.Errorf("Clock(%d) = %q, want %q", sec, got, want)
		}
	}
	for sec, want := range map[int64]string{0: "none", 30: "30 s", 300: "5 min", 150: "2 min 30 s"} {
		if got := Duration(sec); got != want {
			t.Errorf("Duration(%d) = %q, want %q", sec, got, want)
		}
	}
	at := time.Date(2026, 3, 14, 20, 5, 0, 0, time.FixedZone("X", 3600))
	if When(at) != "Mar 14, 19:05:00 UTC" || WhenShort(at) != "19:05" || ISOTime(at) != "2026-03-14T19:05:00Z" {
		t.Errorf("times: %q %q %q", When(at), WhenShort(at), ISOTime(at))
	}
	if When(time.Time{}) != "—" || WhenShort(time.Time{}) != "" {
		t.Errorf("zero time: %q %q", When(time.Time{}), WhenShort(time.Time{}))
	}
	if Initial("  élodie") != "É" || Initial(" ") != "?" {
		t.Errorf("Initial: %q %q", Initial("  élodie"), Initial(" "))
	}
	if got := strings.Join(Paragraphs("one\r\n\n  two  \n"), "|"); got != "one|two" {
		t.Errorf("Paragraphs = %q", got)
	}
	fe := []theme.FieldError{{Field: "", Message: "whole"}, {Field: "email", Message: "bad email"}}
	if FieldError(fe, "") != "whole" || FieldError(fe, "email") != "bad email" || FieldError(fe, "password") != "" {
		t.Errorf("FieldError")
	}
	if GranularityLabel(pricing.PerStartedMinute) != "billed per started minute" || FundingLabel("wallet") != "wallet credits" ||
		FundingLabel("other") != "other" {
		t.Errorf("labels")
	}
	if Itoa(int64(-12)) != "-12" || Itoa(7) != "7" {
		t.Errorf("Itoa")
	}
}
