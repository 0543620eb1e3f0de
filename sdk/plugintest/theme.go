package plugintest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/theme"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// ThemeOptions tune the theme conformance suite to a plugin's settings.
type ThemeOptions struct {
	// Settings are passed to Configure; nil means "{}".
	Settings []byte
	// InvalidSettings must each make Configure fail with errs.Invalid naming Key.
	InvalidSettings []InvalidSetting
	// Samples to render; nil means theme.SamplePages(), which covers every
	// page kind of the SDK the suite was built with.
	Samples []theme.Sample
}

// Theme runs the theme conformance suite against the plugin binary at
// binaryPath. Under the given settings:
//   - the manifest names the theme, its brand and colours, and a logo among
//     its assets; every asset is served with a content type, a body and a
//     stable quoted ETag, and a path outside the manifest is errs.NotFound;
//   - every sample page renders to a well-formed HTML document (doctype,
//     html/head/body, balanced tags, a <title> equal to Rendered.Title) with
//     the sample's status, that shows the data it was given (texts, amounts
//     as money.FormatDecimal, the brand, the signed-in user and wallet, the
//     flash messages), carries the expected attributes and module scripts,
//     links its stylesheet under Layout.AssetBase, puts the CSRF token and
//     the idempotency key in every POST form to the host, and shows
//     theme.HostileText as text, never as markup;
//   - rendering is deterministic and safe to do concurrently;
//   - with no brand of its own configured, site.name is every page's brand:
//     nothing a person sees (text, title, alt/title/aria-label, SVG text,
//     pictures the page shows) still spells camkit;
//   - an unknown page kind is errs.Invalid.
func Theme(t *testing.T, binaryPath string, opts ThemeOptions) {
	t.Helper()
	if opts.Settings == nil {
		opts.Settings = []byte("{}")
	}
	if opts.Samples == nil {
		opts.Samples = theme.SamplePages()
	}
	raw, _ := Launch(t, binaryPath, pluginkit.KindTheme, &theme.Plugin{})
	th, ok := raw.(theme.Theme)
	if !ok {
		t.Fatalf("dispensed %T, not a theme.Theme", raw)
	}
	ctx := context.Background()

	t.Run("info", func(t *testing.T) { suiteCheckInfo(t, th, pluginkit.KindTheme) })
	t.Run("invalid settings", func(t *testing.T) { suiteCheckInvalidSettings(t, th, opts.InvalidSettings) })
	if err := th.Configure(ctx, opts.Settings); err != nil {
		t.Fatalf("Configure(%s): %v", opts.Settings, err)
	}

	m, err := th.Manifest(ctx)
	if err != nil {
		t.Fatalf("Manifest: %v", err)
	}
	t.Run("manifest", func(t *testing.T) { themeCheckManifest(t, m) })
	t.Run("assets", func(t *testing.T) { themeCheckAssets(t, th, m) })

	first := make([][]byte, len(opts.Samples))
	for i, s := range opts.Samples {
		t.Run("page/"+s.Name, func(t *testing.T) {
			r, err := th.Render(ctx, s.Page)
			if err != nil {
				t.Fatalf("Render(%s): %v", s.Page.PageKind(), err)
			}
			first[i] = r.HTML
			themeCheckPage(t, s, r, m)
		})
	}

	t.Run("concurrent renders are deterministic", func(t *testing.T) {
		const rounds = 3
		var wg sync.WaitGroup
		errc := make(chan error, rounds*len(opts.Samples))
		for range rounds {
			for i, s := range opts.Samples {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := th.Render(ctx, s.Page)
					switch {
					case err != nil:
						errc <- fmt.Errorf("%s: %v", s.Name, err)
					case first[i] != nil && !bytes.Equal(r.HTML, first[i]):
						errc <- fmt.Errorf("%s: a second rendering of the same page differs from the first", s.Name)
					}
				}()
			}
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
	})

	t.Run("card pictures never break", func(t *testing.T) { themeCheckCardPictures(t, th) })
	t.Run("room player poster", func(t *testing.T) { themeCheckRoomPoster(t, th) })
	t.Run("site.name is every page's brand", func(t *testing.T) {
		themeCheckSiteNameBrand(t, th, opts.Samples, opts.Settings)
	})

	t.Run("unknown page kind", func(t *testing.T) {
		_, err := th.Render(ctx, &themeUnknownPage{})
		if errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("Render of kind %q = %v, want errs.Invalid", (&themeUnknownPage{}).PageKind(), err)
		}
	})
}

// themeReporter is the part of *testing.T the page and manifest checks use,
// so that the suite's own tests can feed them broken pages and see what they
// report.
type themeReporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// themeUnknownPage is a kind no SDK defines, as a newer host might send.
type themeUnknownPage struct {
	Layout theme.Layout `json:"layout"`
}

func (p *themeUnknownPage) PageKind() theme.Kind      { return "plugintest_unknown" }
func (p *themeUnknownPage) PageLayout() *theme.Layout { return &p.Layout }

func themeCheckManifest(t themeReporter, m theme.Manifest) {
	t.Helper()
	if m.Name == "" || m.BrandName == "" {
		t.Errorf("manifest %+v: name and brand name are required", m)
	}
	for name, c := range map[string]string{"primary": m.Colors.Primary, "accent": m.Colors.Accent,
		"background": m.Colors.Background, "text": m.Colors.Text} {
		if !themeIsHexColor(c) {
			t.Errorf("manifest colour %s = %q, want #rgb or #rrggbb", name, c)
		}
	}
	seen := map[string]bool{}
	for _, a := range m.Assets {
		if seen[a] {
			t.Errorf("manifest lists asset %q twice", a)
		}
		seen[a] = true
		if a == "" || strings.HasPrefix(a, "/") || strings.Contains(a, "\\") || strings.Contains(a, "..") || strings.Contains(a, "?") {
			t.Errorf("manifest asset %q: want a clean relative path", a)
		}
	}
	if !seen[m.LogoPath] {
		t.Errorf("manifest logo %q is not among its assets %q", m.LogoPath, m.Assets)
	}
}

func themeIsHexColor(c string) bool {
	if len(c) != 4 && len(c) != 7 || c[0] != '#' {
		return false
	}
	for _, r := range c[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

func themeCheckAssets(t *testing.T, th theme.Theme, m theme.Manifest) {
	ctx := context.Background()
	css := 0
	for _, p := range m.Assets {
		a, err := th.Asset(ctx, p)
		if err != nil {
			t.Errorf("Asset(%q): %v", p, err)
			continue
		}
		if a.ContentType == "" || len(a.Body) == 0 {
			t.Errorf("Asset(%q): content type %q, %d bytes: want both", p, a.ContentType, len(a.Body))
		}
		if len(a.ETag) < 3 || a.ETag[0] != '"' || a.ETag[len(a.ETag)-1] != '"' {
			t.Errorf("Asset(%q): ETag %q, want a quoted strong validator", p, a.ETag)
		}
		if strings.HasPrefix(a.ContentType, "text/css") {
			css++
		}
		if p == m.LogoPath && !strings.HasPrefix(a.ContentType, "image/") {
			t.Errorf("logo %q served as %q, want image/*", p, a.ContentType)
		}
		again, err := th.Asset(ctx, p)
		if err != nil || again.ETag != a.ETag || !bytes.Equal(again.Body, a.Body) {
			t.Errorf("Asset(%q) asked twice gave a different answer (etag %q then %q, err %v)", p, a.ETag, again.ETag, err)
		}
	}
	if css == 0 {
		t.Errorf("no asset of %q is served as text/css", m.Assets)
	}
	for _, p := range []string{"plugintest-missing.css", "../" + m.LogoPath, "/" + m.LogoPath, ""} {
		if _, err := th.Asset(ctx, p); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("Asset(%q) = %v, want errs.NotFound", p, err)
		}
	}
}

func themeCheckPage(t themeReporter, s theme.Sample, r theme.Rendered, m theme.Manifest) {
	t.Helper()
	if r.Status != s.Status {
		t.Errorf("status %d, want %d", r.Status, s.Status)
	}
	if strings.TrimSpace(r.Title) == "" {
		t.Errorf("empty title")
	}
	if err := themeWellFormed(r.HTML); err != nil {
		t.Errorf("not well-formed: %v", err)
	}
	doc, err := html.Parse(bytes.NewReader(r.HTML))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if doc.FirstChild == nil || doc.FirstChild.Type != html.DoctypeNode || !strings.EqualFold(doc.FirstChild.Data, "html") {
		t.Errorf("the document does not start with <!DOCTYPE html>")
	}
	var title, body *html.Node
	var scripts, links, forms []*html.Node
	var all []*html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			all = append(all, n)
			switch n.DataAtom {
			case atom.Title:
				if title == nil {
					title = n
				}
			case atom.Body:
				body = n
			case atom.Script:
				scripts = append(scripts, n)
			case atom.Link:
				links = append(links, n)
			case atom.Form:
				forms = append(forms, n)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if title == nil || themeCollapse(themeNodeText(title)) != themeCollapse(r.Title) {
		got := "none"
		if title != nil {
			got = fmt.Sprintf("%q", themeNodeText(title))
		}
		t.Errorf("<title> is %s, want Rendered.Title %q", got, r.Title)
	}
	if body == nil {
		t.Fatalf("no body")
	}
	text := themeCollapse(themeNodeText(body))

	l := s.Page.PageLayout()
	want := append([]string(nil), s.Text...)
	brand := m.BrandName
	if l.Brand != "" {
		brand = l.Brand
	}
	want = append(want, brand)
	if l.User != nil {
		want = append(want, l.User.Name)
		if l.User.Role == theme.RoleViewer {
			bal, err := money.FormatDecimal(l.User.Wallet)
			if err != nil {
				t.Fatalf("sample wallet: %v", err)
			}
			want = append(want, bal)
		}
	}
	for _, f := range l.Flashes {
		want = append(want, f.Message)
	}
	for _, w := range want {
		if !strings.Contains(text, themeCollapse(w)) {
			t.Errorf("the page does not show %q", w)
		}
	}

	// No broken image: an <img> always has a source (a theme without a
	// picture to show draws none, rather than an empty src).
	for _, n := range all {
		if n.DataAtom == atom.Img && strings.TrimSpace(themeAttr(n, "src")) == "" && strings.TrimSpace(themeAttr(n, "srcset")) == "" {
			t.Errorf("an <img> without a source")
		}
	}
	for _, a := range s.Attrs {
		if !themeHasAttr(all, a) {
			if a.Value == "" {
				t.Errorf("no element carries attribute %s", a.Name)
			} else {
				t.Errorf("no element carries %s=%q", a.Name, a.Value)
			}
		}
	}

	for _, src := range s.Scripts {
		found := false
		for _, sc := range scripts {
			if themeAttr(sc, "src") == src && themeAttr(sc, "type") == "module" {
				found = true
			}
		}
		if !found {
			t.Errorf("no <script type=\"module\" src=%q>", src)
		}
	}

	base := l.AssetBase
	if base == "" {
		base = theme.DefaultAssetBase
	}
	assets := map[string]bool{}
	for _, a := range m.Assets {
		assets[base+a] = true
	}
	styled := false
	for _, ln := range links {
		if strings.EqualFold(themeAttr(ln, "rel"), "stylesheet") && assets[themeAttr(ln, "href")] {
			styled = true
		}
	}
	if !styled {
		t.Errorf("no <link rel=stylesheet> to a manifest asset under asset base %q", base)
	}

	for _, f := range forms {
		action := themeAttr(f, "action")
		if !strings.EqualFold(themeAttr(f, "method"), "post") || themeIsAbsolute(action) {
			continue
		}
		if !themeFormHasHidden(f, theme.CSRFField, l.CSRFToken) {
			t.Errorf("POST form to %q has no hidden %s=%q", action, theme.CSRFField, l.CSRFToken)
		}
		if !themeFormHasHidden(f, theme.IdempotencyField, l.IdempotencyKey) {
			t.Errorf("POST form to %q has no hidden %s=%q", action, theme.IdempotencyField, l.IdempotencyKey)
		}
	}

	// HostileText must only ever be text. Any script that is not an external
	// module, or any event-handler attribute, must not contain it.
	for _, sc := range scripts {
		if strings.Contains(themeNodeText(sc), "alert(") || strings.Contains(themeAttr(sc, "src"), "alert") {
			t.Errorf("hostile text became a script: %q", themeNodeText(sc))
		}
	}
	for _, n := range all {
		for _, a := range n.Attr {
			k := strings.ToLower(a.Key)
			v := strings.ToLower(strings.TrimSpace(a.Val))
			if strings.HasPrefix(k, "on") && strings.Contains(v, "alert") {
				t.Errorf("hostile text became an event handler: <%s %s=%q>", n.Data, a.Key, a.Val)
			}
			if strings.HasPrefix(v, "javascript:") {
				t.Errorf("javascript: URL in <%s %s=%q>", n.Data, a.Key, a.Val)
			}
		}
	}
}

// themeWellFormed checks the raw token stream: a doctype first, explicit
// html/head/body start tags, and every non-void element closed in order.
func themeWellFormed(doc []byte) error {
	z := html.NewTokenizer(bytes.NewReader(doc))
	var stack []string
	seenDoctype, sawElement := false, false
	explicit := map[string]bool{}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				return z.Err()
			}
			if len(stack) > 0 {
				return fmt.Errorf("unclosed elements at the end: %v", stack)
			}
			for _, e := range []string{"html", "head", "body"} {
				if !explicit[e] {
					return fmt.Errorf("no explicit <%s> element", e)
				}
			}
			return nil
		case html.DoctypeToken:
			if sawElement || seenDoctype {
				return fmt.Errorf("doctype not first")
			}
			seenDoctype = true
		case html.StartTagToken, html.SelfClosingTagToken:
			if !seenDoctype {
				return fmt.Errorf("an element comes before the doctype")
			}
			sawElement = true
			name, _ := z.TagName()
			tag := string(name)
			explicit[tag] = true
			if tt == html.StartTagToken && !themeVoid[tag] {
				stack = append(stack, tag)
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if themeVoid[tag] {
				return fmt.Errorf("end tag for void element </%s>", tag)
			}
			if len(stack) == 0 || stack[len(stack)-1] != tag {
				return fmt.Errorf("</%s> closes %v", tag, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
}

var themeVoid = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
	"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true,
	// SVG leaves written as <path/> are self-closing tokens, not in this list.
}

func themeAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if strings.EqualFold(a.Key, key) {
			return a.Val
		}
	}
	return ""
}

func themeHasAttr(all []*html.Node, want theme.Attr) bool {
	for _, n := range all {
		for _, a := range n.Attr {
			if strings.EqualFold(a.Key, want.Name) && (want.Value == "" || a.Val == want.Value) {
				return true
			}
		}
	}
	return false
}

// themeFormHasHidden reports whether form f carries an input name=value.
func themeFormHasHidden(f *html.Node, name, value string) bool {
	var found bool
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom == atom.Input &&
			themeAttr(n, "name") == name && themeAttr(n, "value") == value {
			found = true
		}
		for c := n.FirstChild; c != nil && !found; c = c.NextSibling {
			walk(c)
		}
	}
	walk(f)
	return found
}

func themeIsAbsolute(u string) bool {
	u = strings.ToLower(u)
	return strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "//")
}

// themeNodeText is the text a person sees under n: its text nodes joined as
// they are (so "12.<small>34</small>" reads "12.34"), without script and
// style contents. Asked for a script itself, it gives the script's source.
func themeNodeText(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			b.WriteString(n.Data)
		case n.Type == html.ElementNode && (n.DataAtom == atom.Script || n.DataAtom == atom.Style):
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c)
	}
	return b.String()
}

func themeCollapse(s string) string { return strings.Join(strings.Fields(s), " ") }
