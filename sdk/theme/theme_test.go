package theme_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/hashicorp/go-plugin"
)

func TestEveryKindHasASample(t *testing.T) {
	seen := map[theme.Kind]int{}
	names := map[string]bool{}
	for _, s := range theme.SamplePages() {
		if names[s.Name] {
			t.Errorf("duplicate sample name %q", s.Name)
		}
		names[s.Name] = true
		seen[s.Page.PageKind()]++
		if s.Status == 0 {
			t.Errorf("sample %q has no expected status", s.Name)
		}
	}
	for _, k := range theme.Kinds() {
		if seen[k] == 0 {
			t.Errorf("kind %q has no sample", k)
		}
		p, err := theme.NewPage(k)
		if err != nil {
			t.Fatalf("NewPage(%q): %v", k, err)
		}
		if p.PageKind() != k {
			t.Errorf("NewPage(%q) gave a %q page", k, p.PageKind())
		}
		if p.PageLayout() == nil {
			t.Errorf("%q page has no layout", k)
		}
	}
}

func TestSamplesCarryHostileText(t *testing.T) {
	n := 0
	for _, s := range theme.SamplePages() {
		for _, txt := range s.Text {
			if strings.Contains(txt, theme.HostileText) {
				n++
			}
		}
	}
	// display names, chat, bio, flash, error message, pending model, request
	if n < 7 {
		t.Fatalf("only %d expected texts carry HostileText; the escaping check would be weak", n)
	}
}

func TestPagesRoundTripTheWireForm(t *testing.T) {
	for _, s := range theme.SamplePages() {
		kind, data, err := theme.EncodePage(s.Page)
		if err != nil {
			t.Fatalf("%s: encode: %v", s.Name, err)
		}
		if kind != s.Page.PageKind() {
			t.Fatalf("%s: kind %q, want %q", s.Name, kind, s.Page.PageKind())
		}
		back, err := theme.DecodePage(kind, data)
		if err != nil {
			t.Fatalf("%s: decode: %v", s.Name, err)
		}
		if !reflect.DeepEqual(back, s.Page) {
			t.Errorf("%s: round trip changed the page:\n got %+v\nwant %+v", s.Name, back, s.Page)
		}
	}
}

func TestDecodeRejectsUnknownKindAndBadJSON(t *testing.T) {
	if _, err := theme.DecodePage("casino", []byte(`{}`)); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("unknown kind: got %v, want invalid", err)
	}
	if _, err := theme.DecodePage(theme.KindHome, []byte(`{"live": 7}`)); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("wrong field type: got %v, want invalid", err)
	}
	if _, err := theme.DecodePage(theme.KindHome, []byte(`{} {}`)); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("trailing data: got %v, want invalid", err)
	}
	if _, _, err := theme.EncodePage(nil); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("nil page: got %v, want invalid", err)
	}
	// A field added by a newer host is ignored, not an error.
	p, err := theme.DecodePage(theme.KindError, []byte(`{"status": 418, "added_later": true}`))
	if err != nil || p.(*theme.ErrorPage).Status != 418 {
		t.Errorf("newer field: got %v, %v", p, err)
	}
}

// fakeTheme records what reached it, so the test sees the typed page the
// plugin side decoded.
type fakeTheme struct {
	got      theme.Page
	settings string
}

func (f *fakeTheme) Info(context.Context) (pluginkit.Info, error) {
	return pluginkit.Info{Kind: pluginkit.KindTheme, Name: "fake", Version: "0.0.1"}, nil
}

func (f *fakeTheme) Configure(_ context.Context, s []byte) error {
	var v struct {
		Brand string `json:"brand"`
	}
	if err := pluginkit.DecodeSettings(s, &v); err != nil {
		return err
	}
	f.settings = v.Brand
	return nil
}

func (f *fakeTheme) Manifest(context.Context) (theme.Manifest, error) {
	return theme.Manifest{Name: "fake", BrandName: f.settings, Colors: theme.Colors{Primary: "#111", Accent: "#222", Background: "#333", Text: "#444"},
		LogoPath: "logo.svg", Assets: []string{"logo.svg", "site.css"}}, nil
}

func (f *fakeTheme) Render(_ context.Context, p theme.Page) (theme.Rendered, error) {
	f.got = p
	if e, ok := p.(*theme.ErrorPage); ok {
		return theme.Rendered{HTML: []byte("<!doctype html><title>x</title>" + e.Message), Status: e.Status, Title: "x"}, nil
	}
	return theme.Rendered{HTML: []byte("<!doctype html>"), Status: 200, Title: string(p.PageKind())}, nil
}

func (f *fakeTheme) Asset(_ context.Context, path string) (theme.Asset, error) {
	if path != "logo.svg" {
		return theme.Asset{}, errs.E(errs.NotFound, "no asset %q", path)
	}
	return theme.Asset{ContentType: "image/svg+xml", Body: []byte("<svg/>"), ETag: `"1"`}, nil
}

var _ theme.Theme = (*fakeTheme)(nil)

// bogusPage is a page kind the SDK does not know, as a host built against a
// newer SDK might send.
type bogusPage struct{ Layout theme.Layout }

func (b *bogusPage) PageKind() theme.Kind      { return "bogus" }
func (b *bogusPage) PageLayout() *theme.Layout { return &b.Layout }

func dispense(t *testing.T, impl theme.Theme) theme.Theme {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
		string(pluginkit.KindTheme): &theme.Plugin{Impl: impl},
	})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(string(pluginkit.KindTheme))
	if err != nil {
		t.Fatal(err)
	}
	th, ok := raw.(theme.Theme)
	if !ok {
		t.Fatalf("dispensed %T, not a theme.Theme", raw)
	}
	return th
}

func TestPluginRoundTrip(t *testing.T) {
	ctx := context.Background()
	fake := &fakeTheme{}
	th := dispense(t, fake)

	info, err := th.Info(ctx)
	if err != nil || info.Name != "fake" || info.Kind != pluginkit.KindTheme {
		t.Fatalf("Info: %+v, %v", info, err)
	}
	if err := th.Configure(ctx, []byte(`{"brand":"Acme"}`)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	err = th.Configure(ctx, []byte(`{"brnad":"typo"}`))
	if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), "brnad") {
		t.Fatalf("Configure with a typo: %v, want invalid naming the key", err)
	}

	m, err := th.Manifest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := theme.Manifest{Name: "fake", BrandName: "Acme", Colors: theme.Colors{Primary: "#111", Accent: "#222", Background: "#333", Text: "#444"},
		LogoPath: "logo.svg", Assets: []string{"logo.svg", "site.css"}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("Manifest: %+v, want %+v", m, want)
	}

	for _, s := range theme.SamplePages() {
		r, err := th.Render(ctx, s.Page)
		if err != nil {
			t.Fatalf("%s: Render: %v", s.Name, err)
		}
		if r.Status != s.Status {
			t.Errorf("%s: status %d, want %d", s.Name, r.Status, s.Status)
		}
		if !reflect.DeepEqual(fake.got, s.Page) {
			t.Errorf("%s: plugin received %+v, want %+v", s.Name, fake.got, s.Page)
		}
	}

	_, err = th.Render(ctx, &bogusPage{})
	if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("unknown kind across the wire: %v, want invalid", err)
	}

	a, err := th.Asset(ctx, "logo.svg")
	if err != nil || a.ContentType != "image/svg+xml" || string(a.Body) != "<svg/>" || a.ETag != `"1"` {
		t.Fatalf("Asset: %+v, %v", a, err)
	}
	_, err = th.Asset(ctx, "../../etc/passwd")
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.NotFound {
		t.Fatalf("missing asset: %v, want not_found", err)
	}
}

func TestSampleHomePageScales(t *testing.T) {
	p := theme.SampleHomePage(100)
	if len(p.Live) != 100 {
		t.Fatalf("%d live models", len(p.Live))
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range p.Live {
		if ids[m.Model.ID] {
			t.Fatalf("duplicate model id %s", m.Model.ID)
		}
		ids[m.Model.ID] = true
		if err := m.RatePerMinute.Validate(true); err != nil {
			t.Fatalf("%s rate: %v", m.Model.ID, err)
		}
	}
	if len(b) > 64<<10 {
		t.Errorf("100 models encode to %d bytes; the wire form got unexpectedly big", len(b))
	}
}
