package plugintest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/camkit/camkit/sdk/theme"
)

// themeSiteName is the site.name the brand check renders every page with.
const themeSiteName = "Acme Cams"

// themeForeignBrand is the name no page of an Acme Cams site may show.
var themeForeignBrand = regexp.MustCompile(`(?i)camkit`)

// themeBrandAttrs are the attributes whose values a person reads or hears.
var themeBrandAttrs = []string{"alt", "title", "aria-label", "placeholder", "content", "value"}

// themeCheckSiteNameBrand: with the theme's own brand not configured,
// site.name is the brand of every page; nothing a person sees (text, the
// title, alt/title/aria-label attributes, SVG text, inline or data: pictures
// and the theme's own pictures the page shows) still spells camkit. Asset
// URLs, class names and data-* attributes may: no one reads them.
func themeCheckSiteNameBrand(t *testing.T, th theme.Theme, samples []theme.Sample, restore []byte) {
	ctx := context.Background()
	if err := th.Configure(ctx, []byte("{}")); err != nil {
		t.Fatalf("Configure({}): %v", err)
	}
	defer func() {
		if err := th.Configure(ctx, restore); err != nil {
			t.Fatalf("Configure(%s) again: %v", restore, err)
		}
	}()
	for _, s := range samples {
		page := themeWithSiteName(t, s.Page)
		r, err := th.Render(ctx, page)
		if err != nil {
			t.Fatalf("%s: Render: %v", s.Name, err)
		}
		if !strings.Contains(r.Title, themeSiteName) {
			t.Errorf("%s: title %q does not carry site.name %q", s.Name, r.Title, themeSiteName)
		}
		base := page.PageLayout().AssetBase
		if base == "" {
			base = theme.DefaultAssetBase
		}
		for _, where := range themeForeignBrandIn(t, th, base, r.HTML) {
			t.Errorf("%s: %s", s.Name, where)
		}
	}
}

// themeWithSiteName is a deep copy of p (through its JSON form) whose layout
// has site.name set and no brand override.
func themeWithSiteName(t *testing.T, p theme.Page) theme.Page {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	c, err := theme.NewPage(p.PageKind())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, c); err != nil {
		t.Fatal(err)
	}
	l := c.PageLayout()
	l.SiteName, l.Brand = themeSiteName, ""
	return c
}

// themeForeignBrandIn says where a rendered document shows camkit.
func themeForeignBrandIn(t *testing.T, th theme.Theme, base string, doc []byte) []string {
	root, err := html.Parse(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var found []string
	report := func(what, s string) {
		if themeForeignBrand.MatchString(s) {
			found = append(found, what+" says "+themeCollapse(s))
		}
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			if p := n.Parent; p == nil || (p.DataAtom != atom.Script && p.DataAtom != atom.Style) {
				report("text", n.Data)
			}
		case n.Type == html.ElementNode:
			for _, k := range themeBrandAttrs {
				if v := themeAttr(n, k); v != "" {
					report("<"+n.Data+" "+k+">", v)
				}
			}
			if src := themePictureURL(n); src != "" {
				report("picture "+src, themePictureText(t, th, base, src))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return found
}

// themePictureURL is the picture an element shows: an <img>'s src, an
// icon's href.
func themePictureURL(n *html.Node) string {
	switch {
	case n.DataAtom == atom.Img:
		return themeAttr(n, "src")
	case n.DataAtom == atom.Link && strings.Contains(themeAttr(n, "rel"), "icon"):
		return themeAttr(n, "href")
	}
	return ""
}

// themePictureText is what a picture of the page could spell: the body of a
// data: URL or of one of the theme's own assets; "" for other pictures.
func themePictureText(t *testing.T, th theme.Theme, base, src string) string {
	if body, ok := strings.CutPrefix(src, "data:"); ok {
		_, data, _ := strings.Cut(body, ",")
		if s, err := url.PathUnescape(data); err == nil {
			return themeSVGText(s)
		}
		return data
	}
	path, ok := strings.CutPrefix(src, base)
	if !ok {
		return ""
	}
	a, err := th.Asset(context.Background(), path)
	if err != nil {
		t.Errorf("the page shows %s, which the theme does not serve: %v", src, err)
		return ""
	}
	return themeSVGText(string(a.Body))
}

// themeSVGText keeps an SVG's text and labels, which a person sees or hears,
// and drops the rest (ids and font names may say anything).
func themeSVGText(svg string) string {
	root, err := html.Parse(strings.NewReader(svg))
	if err != nil {
		return svg
	}
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data + " ")
		}
		if n.Type == html.ElementNode {
			for _, k := range []string{"aria-label", "title"} {
				b.WriteString(themeAttr(n, k) + " ")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return b.String()
}
