// Package theme is the contract of camkit theme plugins: a theme gives its
// manifest (brand, colours, logo, assets), renders every page of the site from
// typed page data defined here, and serves its own static assets.
//
// The host owns everything that moves money or media: it computes every amount
// (themes display money.Money with money.FormatDecimal and never do
// arithmetic on it), serves the WebRTC player and chat scripts (themes include
// PlayerScript and ChatScript as ES modules), and checks CSRF (themes put
// Layout.CSRFToken in a hidden CSRFField input of every POST form).
//
// A theme plugin's main is one line: theme.Serve(myTheme{}).
package theme

import (
	"context"

	"github.com/camkit/camkit/sdk/pluginkit"
)

// Theme is implemented by a theme plugin and, on the host side, by the client
// returned from Plugin.GRPCClient. The host's web layer depends on this
// interface only, so it renders the same through a plugin process and through
// an in-process implementation in a test.
type Theme interface {
	pluginkit.Module
	// Manifest describes the theme as configured (brand and colours may come
	// from the operator's settings).
	Manifest(ctx context.Context) (Manifest, error)
	// Render turns page data into a complete HTML document. An unknown page
	// kind is an errs.Invalid error.
	Render(ctx context.Context, page Page) (Rendered, error)
	// Asset returns one of the paths the manifest lists; any other path is an
	// errs.NotFound error.
	Asset(ctx context.Context, path string) (Asset, error)
}

// Colors are CSS colours ("#e91e63").
type Colors struct {
	Primary    string `json:"primary"`
	Accent     string `json:"accent"`
	Background string `json:"background"`
	Text       string `json:"text"`
}

// Manifest describes a configured theme.
type Manifest struct {
	Name      string   // the theme's name, "default"
	BrandName string   // what the site calls itself, "camkit"
	Colors    Colors   //
	LogoPath  string   // an asset path; one of Assets
	Assets    []string // every path Asset serves: CSS, logo SVG, fonts; relative, no leading "/"
}

// Rendered is one rendered page.
type Rendered struct {
	HTML   []byte // a complete HTML document, UTF-8
	Status int    // the HTTP status to answer with: 200, or Error page's Status
	Title  string // the document title
}

// Asset is one static file of a theme.
type Asset struct {
	ContentType string // "text/css; charset=utf-8"
	Body        []byte
	ETag        string // strong and quoted: "\"5d41402a\""; changes whenever Body does
}

// Where the host serves what themes include. Themes must reference these
// constants rather than hard-coding the paths.
const (
	// PlayerScript is the host's WebRTC player, an ES module exporting
	// play(videoEl, {whepUrl, token}) and publish(videoEl, {whipUrl,
	// streamKey}), each returning an EventTarget that fires live, paused,
	// ended and error. Include it with <script type="module"> on Room,
	// PrivateShow and ModelDashboard pages; the theme's own module calls it
	// for the elements carrying PlayerAttr.
	PlayerScript = "/static/camkit-player.js"
	// ChatScript is the host's chat client (WebSocket). Include it with
	// <script type="module"> on Room and PrivateShow pages. It binds to the
	// element carrying ChatAttr.
	ChatScript = "/static/camkit-chat.js"

	// PlayerAttr marks the <video> element of a show. The element also
	// carries data-src (the WHEP endpoint to play, or the WHIP endpoint to
	// publish to), data-token (the seat token or the model's stream key; may
	// be empty) and data-role ("viewer" | "publisher"). Host end-to-end tests
	// find the video by it, whatever theme is installed.
	PlayerAttr = "data-camkit-player"
	// SwitchAttr marks the ModelDashboard button that starts the page's own
	// camera while another publisher (OBS) is on air: the model's explicit
	// switch of device. The player publishes with {replace: true}, which
	// takes the show from the other publisher; nothing else may.
	SwitchAttr = "data-camkit-switch"
	// Cam2camAttr marks a cam2cam <video> (it never carries PlayerAttr, so
	// a page's show video stays the one PlayerAttr finds). On the
	// PrivateShow page it is the viewer's own camera: data-role "publisher",
	// data-src the WHIP endpoint, data-token her seat token, started and
	// stopped only by the button carrying Cam2camToggleAttr (its value is
	// the video's id). On the ModelDashboard it is the viewer's camera as the
	// model sees it: data-role "viewer", data-src the WHEP endpoint,
	// data-token the model's bearer, data-start "true"; it is no paid seat
	// of hers, so a pause bills nobody.
	Cam2camAttr = "data-camkit-cam2cam"
	// Cam2camToggleAttr marks the viewer's "share my camera" button.
	Cam2camToggleAttr = "data-camkit-cam2cam-toggle"
	// ChatAttr marks the chat panel for the chat script; it carries data-url
	// (the WebSocket URL). Inside it, the script appends messages to the
	// element with data-chat-log and sends the form with data-chat-form (a
	// text input named "text").
	ChatAttr = "data-camkit-chat"
	// GoalAttr marks a room's tip-goal element. The chat script moves it as
	// tips arrive: it sets the value of the <progress> inside it (max 100)
	// and the text of its descendants marked data-goal-text (received /
	// amount) and data-goal-state (empty, or "Reached!").
	GoalAttr = "data-camkit-goal"

	// CSRFField is the name of the hidden input that every POST form to the
	// host must carry, with Layout.CSRFToken as its value.
	CSRFField = "_csrf"

	// DefaultAssetBase is where the host serves theme assets when
	// Layout.AssetBase is empty: asset "css/site.css" is at
	// "/theme/css/site.css".
	DefaultAssetBase = "/theme/"
)
