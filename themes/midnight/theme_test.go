package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/theme"
	"golang.org/x/net/html"
)

// TestConformance builds this package as `make build` does (into a
// temporary folder) and runs the SDK's theme suite against the process.
func TestConformance(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "theme-midnight")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	plugintest.Theme(t, bin, plugintest.ThemeOptions{
		Settings: []byte(`{"brand": "Velvet Hour", "primary": "#d4af37", "background": "#05070d"}`),
		InvalidSettings: []plugintest.InvalidSetting{
			{JSON: []byte(`{"primary": "gold"}`), Key: "primary"},
			{JSON: []byte(`{"accent": "#1234"}`), Key: "accent"},
			{JSON: []byte(`{"background": "#000;}body{display:none"}`), Key: "background"},
			{JSON: []byte(`{"text": "#fffffff"}`), Key: "text"},
			{JSON: []byte(`{"brand": ""}`), Key: "brand"},
			{JSON: []byte(`{"font": "Didot"}`), Key: "font"},
		},
	})
}

func sample(t *testing.T, name string) theme.Page {
	t.Helper()
	for _, s := range theme.SamplePages() {
		if s.Name == name {
			return s.Page
		}
	}
	t.Fatalf("no sample %q", name)
	return nil
}

func render(t *testing.T, th *midnight, p theme.Page) (theme.Rendered, *html.Node) {
	t.Helper()
	r, err := th.Render(context.Background(), p)
	if err != nil {
		t.Fatalf("Render(%s): %v", p.PageKind(), err)
	}
	doc, err := html.Parse(bytes.NewReader(r.HTML))
	if err != nil {
		t.Fatal(err)
	}
	return r, doc
}

// elements lists, in document order, the elements that carry attr (with
// value, or any value when value is "") or whose class list has class.
func elements(doc *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasAttr(key string) func(*html.Node) bool {
	return func(n *html.Node) bool { _, ok := attr(n, key); return ok }
}

func hasClass(class string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		v, _ := attr(n, "class")
		return strings.Contains(" "+v+" ", " "+class+" ")
	}
}

func TestSettingsBrandTheSite(t *testing.T) {
	ctx := context.Background()
	th := newTheme()
	before, err := th.Asset(ctx, cssPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(before.Body), ":root{--gold:#c9a45c;--steel:#8d9cc0;--ink:#070a12;--ivory:#ece6d9}") {
		t.Fatalf("default stylesheet does not open with the default colours: %.120s", before.Body)
	}
	if err := th.Configure(ctx, []byte(`{"brand": "<Nuit> & Co", "primary": "#d4af37"}`)); err != nil {
		t.Fatal(err)
	}
	m, _ := th.Manifest(ctx)
	if m.Name != "midnight" || m.BrandName != "<Nuit> & Co" || m.Colors.Primary != "#d4af37" || m.Colors.Background != defaults.Background {
		t.Fatalf("manifest after settings: %+v", m)
	}
	css, _ := th.Asset(ctx, cssPath)
	if !strings.Contains(string(css.Body), "--gold:#d4af37") || css.ETag == before.ETag {
		t.Fatalf("stylesheet did not follow the primary colour (etag %s -> %s)", before.ETag, css.ETag)
	}
	logo, _ := th.Asset(ctx, logoPath)
	if !strings.Contains(string(logo.Body), `aria-label="&lt;Nuit&gt; &amp; Co"`) || strings.Contains(string(logo.Body), "<Nuit>") ||
		!strings.Contains(string(logo.Body), ">&lt;</text>") {
		t.Fatalf("monogram does not carry the escaped brand and initial: %s", logo.Body)
	}
	r, _ := render(t, th, theme.SampleHomePage(3))
	if r.Title != "On air tonight — <Nuit> & Co" || !strings.Contains(string(r.HTML), "&lt;Nuit&gt; &amp; Co") {
		t.Fatalf("brand not in the page: title %q", r.Title)
	}
	if err := th.Configure(ctx, []byte(`{"accent": "steelblue"}`)); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("bad colour: %v", err)
	}
	if th.Settings().Brand != "<Nuit> & Co" {
		t.Fatalf("a refused configuration changed the brand to %q", th.Settings().Brand)
	}
}

// The look is midnight's own: navigation in a left rail rather than a top
// bar, numbered like a magazine's sections, with the member and balance in
// the rail.
func TestRailCarriesNavigationAndMember(t *testing.T) {
	_, doc := render(t, newTheme(), sample(t, "wallet"))
	rails := elements(doc, hasClass("rail"))
	if len(rails) != 1 || rails[0].Data != "aside" {
		t.Fatalf("want one <aside class=rail>, got %d", len(rails))
	}
	if len(elements(doc, func(n *html.Node) bool { return n.Data == "header" && hasClass("topbar")(n) })) != 0 {
		t.Fatal("a top bar is the default theme's")
	}
	links := elements(rails[0], hasClass("rail-link"))
	if len(links) != 2 {
		t.Fatalf("rail has %d links, want the 2 of the layout", len(links))
	}
	if cur, _ := attr(links[1], "aria-current"); cur != "page" || textOf(links[1]) != "02My wallet" {
		t.Fatalf("second rail link: aria-current %q, text %q", cur, textOf(links[1]))
	}
	if got := textOf(elements(rails[0], hasClass("purse"))[0]); got != "Balance $42.50" {
		t.Fatalf("rail balance reads %q", got)
	}
}

// Rooms dock the chat on the left: the chat panel comes before the stage in
// the theatre, and the stage holds the player and the private invitation.
func TestRoomDocksChatLeftOfTheStage(t *testing.T) {
	th := newTheme()
	room := sample(t, "room").(*theme.RoomPage)
	r, doc := render(t, th, room)
	theatre := elements(doc, hasClass("theatre"))
	if len(theatre) != 1 {
		t.Fatalf("%d theatres", len(theatre))
	}
	var kids []*html.Node
	for c := theatre[0].FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			kids = append(kids, c)
		}
	}
	if len(kids) != 2 || !hasAttr(theme.ChatAttr)(kids[0]) || !hasClass("stage")(kids[1]) {
		t.Fatalf("theatre children: want the chat then the stage")
	}
	if len(elements(kids[1], hasAttr(theme.PlayerAttr))) != 1 {
		t.Fatal("the player is not on the stage")
	}
	chat := kids[0]
	if len(elements(chat, hasAttr("data-chat-log"))) != 1 {
		t.Fatal("no data-chat-log inside the chat")
	}
	forms := elements(chat, hasAttr("data-chat-form"))
	if len(forms) != 1 || len(elements(forms[0], func(n *html.Node) bool { v, _ := attr(n, "name"); return v == "text" })) != 1 {
		t.Fatal("the chat form has no input named text")
	}
	page := string(r.HTML)
	for _, want := range []string{"Request private at $3.99/min", "billed per second", "first 30 s free", "$19.95 per 5 min", "$7.98"} {
		if !strings.Contains(page, want) {
			t.Errorf("room page lacks %q", want)
		}
	}
	room.PrivatePending = true
	r, _ = render(t, th, room)
	if strings.Contains(string(r.HTML), "Request private at") || !strings.Contains(string(r.HTML), "Request sent") {
		t.Error("a pending request still offers the button")
	}
	room.CanChat = false
	_, doc = render(t, th, room)
	if len(elements(doc, hasAttr("data-chat-form"))) != 0 {
		t.Error("a viewer who cannot chat gets a chat form")
	}
}

// Tips post the contract's fields: amount as money.FormatDecimal and the
// currency, with the CSRF token.
func TestGiftFormsPostTheContractFields(t *testing.T) {
	_, doc := render(t, newTheme(), sample(t, "room"))
	forms := elements(doc, func(n *html.Node) bool { v, _ := attr(n, "action"); return v == "/rooms/m-1/tip" })
	if len(forms) != 4 { // three presets and "other"
		t.Fatalf("%d tip forms, want 4", len(forms))
	}
	fields := map[string]string{}
	for _, in := range elements(forms[1], func(n *html.Node) bool { return n.Data == "input" }) {
		name, _ := attr(in, "name")
		fields[name], _ = attr(in, "value")
	}
	if fields["amount"] != "5.00" || fields["currency"] != "USD" || fields[theme.CSRFField] != "csrf-viewer-91ab" {
		t.Fatalf("second preset posts %v", fields)
	}
}

// The home page's portrait cards carry their caption over the picture, and
// an empty salon says so instead of showing an empty grid.
func TestHomePortraits(t *testing.T) {
	th := newTheme()
	_, doc := render(t, th, theme.SampleHomePage(5))
	plates := elements(doc, hasClass("plate"))
	if len(plates) != 5 {
		t.Fatalf("%d plates, want 5", len(plates))
	}
	if len(elements(plates[1], hasClass("plate-img"))) != 1 || len(elements(plates[1], hasClass("plate-caption"))) != 1 {
		t.Fatal("a plate lacks its picture or caption")
	}
	if got := textOf(elements(plates[1], hasClass("plate-meta"))[0]); got != "$2.99/min 48 watching" {
		t.Fatalf("plate meta reads %q", got)
	}
	_, doc = render(t, th, &theme.HomePage{Layout: theme.Layout{}})
	if len(elements(doc, hasClass("salon"))) != 0 || len(elements(doc, hasClass("hush"))) != 1 {
		t.Fatal("an empty home page shows a grid rather than its empty state")
	}
}

// The host's page script (camkit-site.js) keeps a private show's figures
// current through these attributes, whatever the theme.
func TestPrivateShowMarksRunningFigures(t *testing.T) {
	_, doc := render(t, newTheme(), sample(t, "private-show"))
	for attrName, want := range map[string]string{"data-running-seconds": "180", "data-running-cost": "1197"} {
		els := elements(doc, hasAttr(attrName))
		if len(els) != 1 {
			t.Fatalf("%d elements carry %s, want 1", len(els), attrName)
		}
		if v, _ := attr(els[0], attrName); v != want {
			t.Errorf("%s = %q, want %q", attrName, v, want)
		}
	}
	if got := textOf(elements(doc, hasAttr("data-running-cost"))[0]); got != "$11.97" {
		t.Errorf("running cost reads %q", got)
	}
}

func TestErrorStatusAndUnknownKinds(t *testing.T) {
	th := newTheme()
	for in, want := range map[int]int{404: 404, 503: 503, 200: 500, 0: 500} {
		r, _ := render(t, th, &theme.ErrorPage{Status: in, Message: "x"})
		if r.Status != want {
			t.Errorf("error page of status %d answers %d, want %d", in, r.Status, want)
		}
	}
	if _, err := th.Render(context.Background(), nil); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("nil page: %v", err)
	}
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// BenchmarkHomeRender is the plugin's share of a home page with 100 live
// models, in process (the host's benchmark adds the gRPC hop).
func BenchmarkHomeRender(b *testing.B) {
	th := newTheme()
	page := theme.SampleHomePage(100)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := th.Render(ctx, page); err != nil {
			b.Fatal(err)
		}
	}
}

// site.name is every theme's default brand: the header and the title say
// it unless the operator gave the theme a brand of its own.
func TestSiteNameIsTheDefaultBrand(t *testing.T) {
	ctx := context.Background()
	th := newTheme()
	page := theme.SampleHomePage(3)
	page.Layout.SiteName = "Foxy Cams"
	r, err := th.Render(ctx, page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(r.HTML)
	if !strings.Contains(html, `<span class="rail-name">Foxy Cams</span>`) || !strings.Contains(html, "<title>") ||
		!strings.Contains(html[strings.Index(html, "<title>"):], "Foxy Cams</title>") || !strings.Contains(r.Title, "Foxy Cams") {
		t.Fatalf("site.name not the brand: title %q\n%s", r.Title, html)
	}
	if strings.Contains(html, ">camkit<") {
		t.Fatal("the page still says camkit")
	}
	if err := th.Configure(ctx, []byte(`{"brand": "Velvet"}`)); err != nil {
		t.Fatal(err)
	}
	if r, err = th.Render(ctx, page); err != nil || !strings.Contains(r.Title, "Velvet") || strings.Contains(r.Title, "Foxy Cams") {
		t.Fatalf("the operator's theme brand does not win over site.name: %q %v", r.Title, err)
	}
}
