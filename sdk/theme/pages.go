package theme

import (
	"time"

	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pricing"
)

// Kind names a page kind. It is what crosses the wire beside the page's JSON.
type Kind string

const (
	KindAgeGate        Kind = "age_gate"
	KindLogin          Kind = "login"
	KindSignup         Kind = "signup"
	KindHome           Kind = "home"
	KindModelProfile   Kind = "model_profile"
	KindRoom           Kind = "room"
	KindPrivateShow    Kind = "private_show"
	KindWallet         Kind = "wallet"
	KindReceipt        Kind = "receipt"
	KindModelDashboard Kind = "model_dashboard"
	KindStreamHelp     Kind = "stream_help"
	KindAdmin          Kind = "admin"
	KindCheckout       Kind = "checkout"
	KindError          Kind = "error"
)

// Forms. Every *Action field is a URL the page POSTs to, with the CSRFField
// input, the IdempotencyField input and these fields (the names are part of
// the contract, so the host's handlers read the same names whatever theme is
// installed):
//
//	AgeGatePage.Action             return_to
//	LoginPage.Action               email, password, return_to
//	SignupPage.Action              email, display_name, password, role, adult ("yes")
//	RoomPage/PrivateShowPage.TipAction   amount (decimal in major units, for money.ParseDecimal), currency
//	ModelDashboardPage.RateAction  rate (decimal in major units), currency
//	ModelDashboardPage.GroupAction rate (decimal in major units; empty: her group rate), currency, minimum (whole number, may be empty)
//	ModelDashboardPage.GroupRateAction  rate (decimal in major units), currency
//	WalletPage.BuyAction           pack (a CreditPack.ID)
//	HomePage search                GET to Links.Home: q, tag
//	every other *Action and Links.Logout: no field but the CSRF token (and the idempotency key)
//
// The idempotency key: every POST form carries a hidden IdempotencyField
// input with Layout.IdempotencyKey as its value, like the CSRF token (the
// themes put both in one component). The host renders a new random key for
// every page, and for a post to a money-moving action (a credit pack, a tip,
// a private request, ending a seat) derives the request's Idempotency-Key
// from it, the form's action and its fields: a double click or a resubmitted
// form moves money once and gets the first answer, while two different forms
// of one page never share a key. A theme prints the value as given, in every
// POST form to the host.
//
// Page is the data of one page. Every page kind is a pointer to one of the
// structs below; each embeds the common Layout, reachable through PageLayout so
// that the host fills it in one place.
type Page interface {
	PageKind() Kind
	PageLayout() *Layout
}

// ---- common ----

// Role of a signed-in user.
type Role string

const (
	RoleViewer Role = "viewer"
	RoleModel  Role = "model"
	RoleStudio Role = "studio"
	RoleAdmin  Role = "admin"
)

// ShowMode of a show.
type ShowMode string

const (
	ModeOffline ShowMode = "offline"
	ModePublic  ShowMode = "public"  // free to watch, tips
	ModePrivate ShowMode = "private" // one paying viewer
	ModeGroup   ShowMode = "group"   // several paying viewers
)

// FlashLevel says how a flash message looks.
type FlashLevel string

const (
	FlashInfo    FlashLevel = "info"
	FlashSuccess FlashLevel = "success"
	FlashWarning FlashLevel = "warning"
	FlashError   FlashLevel = "error"
)

// Layout is what every page shares: the site chrome.
type Layout struct {
	SiteName  string    `json:"site_name"`  // site.name: every theme's brand unless the operator configured the theme's own
	Brand     string    `json:"brand"`      // overrides the theme's configured brand when not empty
	AssetBase string    `json:"asset_base"` // URL prefix of theme assets; DefaultAssetBase when empty
	Path      string    `json:"path"`       // the request path, to mark the active nav item
	User      *User     `json:"user"`       // nil when nobody is signed in
	CSRFToken string    `json:"csrf_token"` // value of the CSRFField input in every POST form
	Flashes   []Flash   `json:"flashes"`
	Nav       []NavItem `json:"nav"`   // main navigation, chosen by the host for the user's role
	Links     Links     `json:"links"` // the host's fixed routes

	// IdempotencyKey is the value of the IdempotencyField input in every
	// POST form, new for every rendered page (see Forms, above Page).
	IdempotencyKey string `json:"idempotency_key"`
}

// IdempotencyField is the name of the hidden input that carries
// Layout.IdempotencyKey in every POST form to the host.
const IdempotencyField = "idempotency_key"

// User is the signed-in user as the chrome shows them.
type User struct {
	ID     string      `json:"id"`
	Name   string      `json:"name"`
	Role   Role        `json:"role"`
	Wallet money.Money `json:"wallet"` // wallet balance
}

// Flash is a one-time message shown at the top of the next page.
type Flash struct {
	Level   FlashLevel `json:"level"`
	Message string     `json:"message"`
}

// NavItem is one navigation link.
type NavItem struct {
	Label  string `json:"label"`
	Href   string `json:"href"`
	Active bool   `json:"active"`
}

// Links are the host's routes a theme's chrome links to, so a theme never
// hard-codes a route. Empty ones are not shown.
type Links struct {
	Home    string `json:"home"`
	Login   string `json:"login"`
	Logout  string `json:"logout"` // POST, with CSRF
	Signup  string `json:"signup"`
	Wallet  string `json:"wallet"`
	Terms   string `json:"terms"`
	Privacy string `json:"privacy"`
	Support string `json:"support"`
}

// FieldError is a form validation error; Field "" is about the whole form.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ModelSummary is how a model is shown wherever she appears.
type ModelSummary struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	AvatarURL   string `json:"avatar_url"`
	ProfileURL  string `json:"profile_url"`
	RoomURL     string `json:"room_url"`
}

// Granularity is how seconds become a price: sdk/pricing's, the one list.
type Granularity = pricing.Granularity

// PricePolicy is what a seat locks when it opens: shown before a private show
// is requested ("this is what you will pay") and on the receipt.
type PricePolicy struct {
	RatePerMinute money.Money `json:"rate_per_minute"`
	Granularity   Granularity `json:"granularity"`
	Minimum       money.Money `json:"minimum"`       // minimum charge; zero amount when none
	GraceSeconds  int64       `json:"grace_seconds"` // free seconds at the start
	BlockSeconds  int64       `json:"block_seconds"` // funding block: held or charged ahead
	BlockCost     money.Money `json:"block_cost"`    // what one block holds, computed by the host
	MaxPauseSec   int64       `json:"max_pause_seconds"`
	Funding       string      `json:"funding"` // card_hold | prepaid_blocks | wallet
}

// ChatMessage is one line of a room's chat.
type ChatMessage struct {
	ID     string       `json:"id"`
	At     time.Time    `json:"at"`
	Author string       `json:"author"`
	Role   Role         `json:"role"`
	Text   string       `json:"text"`
	Tip    *money.Money `json:"tip,omitempty"` // set for a tip
	System bool         `json:"system"`        // a notice from the site, not a person
}

// ---- pages ----

// AgeGatePage asks a visitor to confirm their age before anything else.
type AgeGatePage struct {
	Layout     Layout `json:"layout"`
	Action     string `json:"action"`      // POST target
	ReturnTo   string `json:"return_to"`   // where to go after confirming
	MinimumAge int    `json:"minimum_age"` // 18 or 21 depending on jurisdiction
	ExitURL    string `json:"exit_url"`    // where "leave" goes
}

// LoginPage is the sign-in form.
type LoginPage struct {
	Layout   Layout       `json:"layout"`
	Action   string       `json:"action"`
	Email    string       `json:"email"` // pre-filled after a failed attempt
	ReturnTo string       `json:"return_to"`
	Errors   []FieldError `json:"errors"`
}

// SignupPage is the account creation form.
type SignupPage struct {
	Layout      Layout       `json:"layout"`
	Action      string       `json:"action"`
	Email       string       `json:"email"`
	DisplayName string       `json:"display_name"`
	Role        Role         `json:"role"`        // chosen role (viewer or model)
	AllowModel  bool         `json:"allow_model"` // whether "I am a model" is offered
	MinimumAge  int          `json:"minimum_age"` // for the age checkbox text
	Errors      []FieldError `json:"errors"`
}

// LiveModel is one card on the home page.
type LiveModel struct {
	Model         ModelSummary `json:"model"`
	ShowID        string       `json:"show_id"`
	ThumbnailURL  string       `json:"thumbnail_url"` // always an image from the host (its placeholder while none); "": use Model.AvatarURL
	Mode          ShowMode     `json:"mode"`
	Viewers       int          `json:"viewers"`
	RatePerMinute money.Money  `json:"rate_per_minute"` // private rate
	Tags          []string     `json:"tags"`
	New           bool         `json:"new"` // joined recently
}

// HomePage lists who is live.
type HomePage struct {
	Layout  Layout         `json:"layout"`
	Query   string         `json:"query"` // the search box's current text
	Tags    []string       `json:"tags"`  // tag filters on offer
	Live    []LiveModel    `json:"live"`
	Offline []ModelSummary `json:"offline"` // followed or featured models not live now
}

// ModelProfilePage is a model's public profile.
type ModelProfilePage struct {
	Layout        Layout       `json:"layout"`
	Model         ModelSummary `json:"model"`
	Bio           string       `json:"bio"` // plain text, may have newlines
	Tags          []string     `json:"tags"`
	Languages     []string     `json:"languages"`
	Mode          ShowMode     `json:"mode"` // offline when not live
	RatePerMinute money.Money  `json:"rate_per_minute"`
	Followers     int          `json:"followers"`
	Following     bool         `json:"following"`
	FollowAction  string       `json:"follow_action"` // POST toggles
	Gallery       []string     `json:"gallery"`       // image URLs
	Schedule      []string     `json:"schedule"`      // human lines, "Mon-Fri 20:00-23:00 UTC"
	// TicketShow is her next ticket show on sale or running; nil when none.
	TicketShow *TicketShow `json:"ticket_show"`
}

// TicketShow is a model's ticket show: a scheduled show that only ticket
// holders watch, its ticket bought beforehand (or late, until the doors
// close) from the wallet and held there until the show is over.
type TicketShow struct {
	ID           string      `json:"id"`
	Title        string      `json:"title"`
	Price        money.Money `json:"price"` // one ticket
	StartsAt     time.Time   `json:"starts_at"`
	Minutes      int64       `json:"minutes"` // the announced duration
	DoorsCloseAt time.Time   `json:"doors_close_at"`
	Capacity     int         `json:"capacity"` // 0: no cap
	Sold         int         `json:"sold"`
	State        string      `json:"state"` // scheduled | running | ended | cancelled
	// For a viewer: BuyAction (POST) buys a ticket, empty when she cannot
	// (a guest, doors closed, sold out); Holding: she has one.
	BuyAction string `json:"buy_action"`
	Holding   bool   `json:"holding"`
	// CardPay: the buy form may also post pay=card (the card on file is
	// charged the price into the wallet, which then holds it).
	CardPay bool `json:"card_pay"`
	// For its model: each POST acts on the show; empty when it does not apply.
	StartAction  string `json:"start_action"`
	EndAction    string `json:"end_action"`
	CancelAction string `json:"cancel_action"`
}

// TicketRow is one of a viewer's tickets on her wallet page.
type TicketRow struct {
	Title    string      `json:"title"`
	Model    string      `json:"model"`
	StartsAt time.Time   `json:"starts_at"`
	Price    money.Money `json:"price"`
	// State: held (on the wallet until the show is over), posted (the show
	// happened: Posted paid, Refunded released) or refunded (in full).
	State    string      `json:"state"`
	Posted   money.Money `json:"posted"`
	Refunded money.Money `json:"refunded"`
}

// RoomPage is a live show's room: video, chat, tips, and the private request.
type RoomPage struct {
	Layout         Layout        `json:"layout"`
	ShowID         string        `json:"show_id"`
	Model          ModelSummary  `json:"model"`
	Mode           ShowMode      `json:"mode"`
	Title          string        `json:"title"` // the model's topic for the show
	Viewers        int           `json:"viewers"`
	PlayerURL      string        `json:"player_url"` // WHEP endpoint for the public stream
	ChatURL        string        `json:"chat_url"`   // WebSocket
	Chat           []ChatMessage `json:"chat"`       // recent history
	TipPresets     []money.Money `json:"tip_presets"`
	TipAction      string        `json:"tip_action"` // POST amount (decimal, major units) + currency
	Private        PricePolicy   `json:"private"`    // what a private seat would lock now
	PrivateAllowed bool          `json:"private_allowed"`
	PrivateAction  string        `json:"private_action"` // POST to request a private show
	PrivatePending bool          `json:"private_pending"`
	CanChat        bool          `json:"can_chat"` // signed in and not muted
	// Group is the model's group show, when she opened one: the price a
	// seat would lock now and how to join ("Join group show — 3.00/min").
	// nil when there is none.
	Group *GroupOffer `json:"group"`
	// Cam2camSurcharge is what cam2cam (the viewer's camera shown to the
	// model alone) adds to the private rate a minute; nil when the model does
	// not offer it. The private request form then offers a "cam2cam" field
	// (value "1") asking for it.
	Cam2camSurcharge *money.Money `json:"cam2cam_surcharge"`

	// PosterURL is a recent picture of the show for the player's poster
	// (the host answers it with its placeholder while it has none); may be
	// empty.
	PosterURL string `json:"poster_url"`

	// Goal is the model's tip goal, nil when she has none. The page shows
	// it in an element with GoalAttr (see there) so that the chat script
	// moves it live as anyone tips.
	Goal *TipGoal `json:"goal"`
	// TipMenu is the model's tip menu; TipMenuAction takes a POST of one
	// item's id (field "item", with the CSRF and idempotency fields): a tip
	// of exactly the item's price, announced in chat with its name. The
	// page never sends a price for it. Empty for someone who may not tip.
	TipMenu       []TipMenuItem `json:"tip_menu"`
	TipMenuAction string        `json:"tip_menu_action"`
	// TicketShow is the model's ticket show on sale or running; nil when
	// none. While it runs only ticket holders receive the video:
	// TicketToken is this viewer's ticket, the player's admission token.
	TicketShow  *TicketShow `json:"ticket_show"`
	TicketToken string      `json:"ticket_token"`
	// Spy is the offer of a spy seat while the model is private and allows
	// spies ("Spy on this private show — 1.20/min"); nil otherwise.
	Spy *SpyOffer `json:"spy"`
}

// SpyOffer is a receive-only seat in the model's private show as the room
// offers it: video only (no chat, no tips), at her spy rate, locked when
// the spy joins; it ends when the private show ends.
type SpyOffer struct {
	Policy PricePolicy `json:"policy"`
	// Allowed: this viewer can pay for it (else Reason says why).
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason"`
	// SpyAction (POST, no field) opens the spy seat; empty for who may
	// not spy. SeatURL is this viewer's open spy seat.
	SpyAction string `json:"spy_action"`
	SeatURL   string `json:"seat_url"`
}

// TipGoal is a model's tip goal and how far it has come.
type TipGoal struct {
	Title    string      `json:"title"`
	Amount   money.Money `json:"amount"`
	Received money.Money `json:"received"` // towards this round of the goal
	Percent  int         `json:"percent"`  // Received of Amount, 0-100
	// Resets: once reached the goal starts again (Rounds counts the times);
	// otherwise it stays reached (Done) until the model sets the next.
	Resets bool `json:"resets"`
	Done   bool `json:"done"`
	Rounds int  `json:"rounds"`
}

// TipMenuItem is a line of a model's tip menu. RemoveAction (POST, the
// model's dashboard only) takes the item off her menu.
type TipMenuItem struct {
	ID           string      `json:"id"`
	Name         string      `json:"name"`
	Price        money.Money `json:"price"`
	RemoveAction string      `json:"remove_action,omitempty"`
}

// GroupOffer is a group show as its room offers it.
type GroupOffer struct {
	Policy PricePolicy `json:"policy"` // what a seat opened now locks (its rate is the group rate)
	// Minimum paying viewers it waits for before it starts (0: at once);
	// Waiting have joined so far. Nobody pays before it starts.
	Minimum int  `json:"minimum"`
	Waiting int  `json:"waiting"`
	Started bool `json:"started"`
	Seats   int  `json:"seats"` // paying viewers in it now
	// Allowed: this viewer can pay for a seat (else Reason says why).
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason"`
	// JoinAction (POST, no field) joins; empty for who may not join.
	JoinAction string `json:"join_action"`
	// Joined: this viewer waits for the start; LeaveAction (POST, no
	// field) takes them out. SeatURL is their open seat.
	Joined      bool   `json:"joined"`
	LeaveAction string `json:"leave_action"`
	SeatURL     string `json:"seat_url"`
}

// GroupSeatRow is one paying viewer of a group show, on the model's dashboard.
type GroupSeatRow struct {
	Viewer         string      `json:"viewer"`
	RatePerMinute  money.Money `json:"rate_per_minute"` // locked when they joined
	Billing        bool        `json:"billing"`
	RunningSeconds int64       `json:"running_seconds"`
	RunningCost    money.Money `json:"running_cost"`
}

// GroupState is the model's group show on her dashboard.
type GroupState struct {
	Policy  PricePolicy    `json:"policy"` // what the next seat locks
	Minimum int            `json:"minimum"`
	Waiting int            `json:"waiting"`
	Started bool           `json:"started"`
	Seats   []GroupSeatRow `json:"seats"`
	// EndAction (POST) ends it for all: every seat ends and settles.
	EndAction string `json:"end_action"`
	// ChatURL is the group's room (its seat holders and her), once started.
	ChatURL string        `json:"chat_url"`
	Chat    []ChatMessage `json:"chat"`
}

// FundingWarning tells a viewer in a paid show that funding needs attention.
type FundingWarning struct {
	Level   FlashLevel `json:"level"`
	Message string     `json:"message"`
}

// PrivateShowPage is a viewer's seat in a private or group show.
type PrivateShowPage struct {
	Layout         Layout           `json:"layout"`
	SeatID         string           `json:"seat_id"`
	ShowID         string           `json:"show_id"`
	Model          ModelSummary     `json:"model"`
	Mode           ShowMode         `json:"mode"` // private or group
	Policy         PricePolicy      `json:"policy"`
	RunningSeconds int64            `json:"running_seconds"` // billable so far
	RunningCost    money.Money      `json:"running_cost"`
	FundedSeconds  int64            `json:"funded_seconds"` // billable seconds covered by funding so far
	Warnings       []FundingWarning `json:"warnings"`
	SeatToken      string           `json:"seat_token"` // the player's admission token
	PlayerURL      string           `json:"player_url"` // WHEP endpoint
	ChatURL        string           `json:"chat_url"`
	Chat           []ChatMessage    `json:"chat"`
	TipPresets     []money.Money    `json:"tip_presets"`
	TipAction      string           `json:"tip_action"` // as RoomPage.TipAction
	EndAction      string           `json:"end_action"` // POST ends the seat
	// Cam2cam is set when the model granted the seat's viewer cam2cam.
	Cam2cam *Cam2camPublish `json:"cam2cam"`
	// Spy: a spy seat in someone else's private show: video only (no chat,
	// no tips; ChatURL and TipAction are empty).
	Spy bool `json:"spy"`
	// Spies is how many spies watch this private show, when the page may
	// say (its model always; its viewer when the operator shows it).
	Spies *int `json:"spies"`
	// Goal is the model's tip goal, nil when she has none: a group show's
	// viewers tip in the group's room, not the public one, so the seat page
	// shows the bar (GoalAttr, as RoomPage.Goal) that their tips move.
	Goal *TipGoal `json:"goal"`
}

// Cam2camPublish is the viewer's "share my camera" toggle in a private show:
// a publisher video (PublishURL, the SeatToken as its bearer) started and
// stopped by the viewer, seen by the model alone.
type Cam2camPublish struct {
	PublishURL string `json:"publish_url"` // WHIP endpoint
	// SurchargePerMinute is the part of the locked rate that pays for it.
	SurchargePerMinute money.Money `json:"surcharge_per_minute"`
}

// Cam2camPlayer is the viewer's camera on the model's dashboard.
type Cam2camPlayer struct {
	Viewer    string `json:"viewer"`
	PlayerURL string `json:"player_url"` // WHEP endpoint
	Token     string `json:"token"`      // the player's bearer, hers alone
	// StopAction (POST) stops the viewer's camera for the rest of the seat;
	// the seat's price does not change.
	StopAction string `json:"stop_action"`
}

// Cam2camLine is a receipt's cam2cam surcharge: the part of Price it
// accounts for (Price already includes it).
type Cam2camLine struct {
	SurchargePerMinute money.Money `json:"surcharge_per_minute"`
	Amount             money.Money `json:"amount"`
}

// CreditPack is a wallet top-up on offer.
type CreditPack struct {
	ID      string      `json:"id"`
	Name    string      `json:"name"`
	Price   money.Money `json:"price"`   // what the card pays
	Credits money.Money `json:"credits"` // what the wallet receives
	Badge   string      `json:"badge"`   // "Best value", may be empty
}

// LedgerRow is one line of a wallet's history.
type LedgerRow struct {
	At          time.Time   `json:"at"`
	Description string      `json:"description"`
	Amount      money.Money `json:"amount"`  // signed: negative is money out
	Balance     money.Money `json:"balance"` // after this row
	Pending     bool        `json:"pending"` // a hold, not yet posted
	Reference   string      `json:"reference"`
	ReceiptURL  string      `json:"receipt_url"`
}

// WalletPage shows the balance, credit packs and history.
type WalletPage struct {
	Layout    Layout       `json:"layout"`
	Balance   money.Money  `json:"balance"`
	Held      money.Money  `json:"held"` // in pending holds
	Packs     []CreditPack `json:"packs"`
	BuyAction string       `json:"buy_action"` // POST pack=<id>
	History   []LedgerRow  `json:"history"`
	Tickets   []TicketRow  `json:"tickets"` // newest first
}

// Interval is one span during which the seat was billable.
type Interval struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Seconds int64     `json:"seconds"`
}

// FXQuote is the exchange rate locked when a seat opened.
type FXQuote struct {
	From      string    `json:"from"`
	To        string    `json:"to"`
	Rate      string    `json:"rate"` // decimal string, exact
	QuoteID   string    `json:"quote_id"`
	Source    string    `json:"source"`
	AsOf      time.Time `json:"as_of"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Charge is one processor or wallet operation of a seat.
type Charge struct {
	At        time.Time   `json:"at"`
	Kind      string      `json:"kind"` // authorize | capture | void | charge | refund | wallet_hold | wallet_post | wallet_void | credit
	Amount    money.Money `json:"amount"`
	Status    string      `json:"status"` // succeeded | declined | failed | pending
	Reference string      `json:"reference"`
}

// LedgerTransfer is one ledger transfer of a seat's settlement.
type LedgerTransfer struct {
	ID     string      `json:"id"`
	At     time.Time   `json:"at"`
	Debit  string      `json:"debit"`  // account, "viewer:42:wallet"
	Credit string      `json:"credit"` // account
	Amount money.Money `json:"amount"`
	State  string      `json:"state"` // posted | pending | voided
	Memo   string      `json:"memo"`
}

// ReceiptPage is a seat's receipt: readable by the viewer and by a dispute team.
type ReceiptPage struct {
	Layout          Layout       `json:"layout"`
	SeatID          string       `json:"seat_id"`
	ShowID          string       `json:"show_id"`
	Model           ModelSummary `json:"model"`
	Viewer          string       `json:"viewer"`
	Mode            ShowMode     `json:"mode"`
	OpenedAt        time.Time    `json:"opened_at"`
	ClosedAt        time.Time    `json:"closed_at"`
	EndReason       string       `json:"end_reason"` // "viewer ended", "funding ran out", ...
	Intervals       []Interval   `json:"intervals"`
	BillableSeconds int64        `json:"billable_seconds"`
	Policy          PricePolicy  `json:"policy"`
	Price           money.Money  `json:"price"` // in the policy's currency
	// MinimumApplied: Price is the policy's minimum charge, not the rate
	// times the billable time.
	MinimumApplied bool             `json:"minimum_applied"`
	FX             *FXQuote         `json:"fx"`      // nil when no conversion
	Charged        money.Money      `json:"charged"` // what the viewer paid, in their currency
	Charges        []Charge         `json:"charges"`
	Transfers      []LedgerTransfer `json:"transfers"`
	// Cam2cam is set on a seat granted cam2cam.
	Cam2cam *Cam2camLine `json:"cam2cam"`
}

// PrivateRequest is a viewer asking a model for a private show.
type PrivateRequest struct {
	ID            string      `json:"id"`
	Viewer        string      `json:"viewer"`
	At            time.Time   `json:"at"`
	Mode          ShowMode    `json:"mode"`
	RatePerMinute money.Money `json:"rate_per_minute"` // what the seat will lock
	AcceptAction  string      `json:"accept_action"`
	DeclineAction string      `json:"decline_action"`
	// Cam2cam: the viewer asks to share her camera at Cam2camSurcharge a
	// minute on top of the rate. The accept form then carries a "cam2cam"
	// field: "grant" grants it, anything else (or none) refuses it.
	Cam2cam          bool        `json:"cam2cam"`
	Cam2camSurcharge money.Money `json:"cam2cam_surcharge"`
}

// EarningRow is one credit to a model's earnings.
type EarningRow struct {
	At          time.Time   `json:"at"`
	Description string      `json:"description"`
	Amount      money.Money `json:"amount"`
}

// Earnings sums a model's earnings account.
type Earnings struct {
	Today   money.Money  `json:"today"`
	Week    money.Money  `json:"week"`
	Balance money.Money  `json:"balance"` // not yet paid out
	Recent  []EarningRow `json:"recent"`
}

// ModelDashboardPage is a model's control room: go live, rate, requests, earnings.
type ModelDashboardPage struct {
	Layout     Layout       `json:"layout"`
	Model      ModelSummary `json:"model"`
	Live       bool         `json:"live"`
	ShowID     string       `json:"show_id"`
	Mode       ShowMode     `json:"mode"`
	Viewers    int          `json:"viewers"`
	PublishURL string       `json:"publish_url"` // WHIP endpoint
	// PublishToken is the WHIP bearer of this page's own camera, for the
	// player script: a pass the host made for this page, not her stream key.
	PublishToken string `json:"publish_token"`
	// Publishing: a publisher (OBS, another browser) is on air. The page
	// then starts no camera by itself: its camera publishes only when she
	// asks (a button carrying SwitchAttr), taking the show from the other.
	Publishing bool `json:"publishing"`
	// StreamKey and WHIPURL (absolute) are what she types into OBS. The
	// host keeps only a digest of the key, so StreamKey is set on the one
	// page right after the key was made or rotated (the page says: copy it
	// now, it will not be shown again) and empty afterwards, when the page
	// shows StreamKeyHint (its first characters and "…"; set whenever she
	// has a key) and the Rotate button. RotateKeyAction (POST) gives her a
	// new key, refuses the old one and cuts off its publisher; OBSHelpURL
	// explains the set-up.
	StreamKey       string           `json:"stream_key,omitempty"`
	StreamKeyHint   string           `json:"stream_key_hint"`
	WHIPURL         string           `json:"whip_url"`
	RotateKeyAction string           `json:"rotate_key_action"`
	OBSHelpURL      string           `json:"obs_help_url"`
	GoLiveAction    string           `json:"go_live_action"`
	EndAction       string           `json:"end_action"`
	Rate            money.Money      `json:"rate"`        // current private rate per minute
	RateAction      string           `json:"rate_action"` // POST rate (decimal, major units) + currency
	Policy          PricePolicy      `json:"policy"`      // what a seat opened now would lock
	Requests        []PrivateRequest `json:"requests"`
	Earnings        Earnings         `json:"earnings"`

	// Goal is her tip goal (nil: none). GoalAction takes a POST of title,
	// amount (decimal, major units), currency and on_reach ("reset" or
	// "stay"), replacing the goal and starting it from zero;
	// ClearGoalAction (POST) removes it.
	Goal            *TipGoal `json:"goal"`
	GoalAction      string   `json:"goal_action"`
	ClearGoalAction string   `json:"clear_goal_action"`
	// TipMenu is her menu, each item with its RemoveAction; MenuAddAction
	// takes a POST of name, amount (decimal, major units) and currency
	// adding an item. MenuMax is how many items a menu may have.
	TipMenu       []TipMenuItem `json:"tip_menu"`
	MenuAddAction string        `json:"menu_add_action"`
	MenuMax       int           `json:"menu_max"`

	// GroupAction (POST, see Forms) opens a group show from her public
	// show, or re-prices the open one for later joiners; empty while she
	// cannot (offline, private). Group is the group show she runs.
	GroupAction string      `json:"group_action"`
	Group       *GroupState `json:"group"`
	// GroupRate is her profile's group rate (what the group form offers
	// first); GroupRateAction (POST rate, currency) saves a new one.
	GroupRate       money.Money `json:"group_rate"`
	GroupRateAction string      `json:"group_rate_action"`

	// Cam2camSurcharge is her cam2cam offer (nil: none), Cam2camAction
	// (POST surcharge, decimal major units; empty or "off" stops offering)
	// sets it.
	Cam2camSurcharge *money.Money `json:"cam2cam_surcharge"`
	Cam2camAction    string       `json:"cam2cam_action"`
	// Cam2cam is the viewer's camera while her private show has cam2cam.
	Cam2cam *Cam2camPlayer `json:"cam2cam"`

	// SpyRate is what a spy seat in her private shows locks (nil: she
	// refuses spies); SpyRateAction (POST rate, decimal major units; empty
	// or "off" refuses spies) sets it. Spies are the spy seats of her
	// private show now, SpyEarnings what they have cost so far.
	SpyRate       *money.Money   `json:"spy_rate"`
	SpyRateAction string         `json:"spy_rate_action"`
	Spies         []GroupSeatRow `json:"spies"`
	SpyEarnings   money.Money    `json:"spy_earnings"`

	// TicketShows are her ticket shows, soonest first; ScheduleTicketAction
	// (POST title, price, currency, starts_at as RFC 3339 or
	// "2006-01-02T15:04" in UTC, minutes, doors_minutes after the start,
	// capacity) announces one; empty when she may not.
	TicketShows          []TicketShow `json:"ticket_shows"`
	ScheduleTicketAction string       `json:"schedule_ticket_action"`
}

// StreamHelpPage tells a model how to stream from OBS (30 or later, WHIP):
// Settings → Stream → Service "WHIP", Server = WHIPURL, Bearer Token = her
// StreamKey, and the encoder settings the SFU plays best to every browser
// (H.264 baseline/main without B-frames, keyframes every 1–2 s, CBR, 30 fps).
type StreamHelpPage struct {
	Layout Layout `json:"layout"`
	// WHIPURL is the absolute WHIP endpoint (http.public_url + /whip).
	WHIPURL string `json:"whip_url"`
	// StreamKey is her key, only right after it was made or rotated (see
	// ModelDashboardPage); StreamKeyHint its hint, empty for a model not
	// yet approved.
	StreamKey     string `json:"stream_key,omitempty"`
	StreamKeyHint string `json:"stream_key_hint"`
	// DashboardURL is where she rotates the key and goes live.
	DashboardURL string `json:"dashboard_url"`
}

// PluginStatus is one plugin process as the admin sees it.
type PluginStatus struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Version   string `json:"version"`
	Healthy   bool   `json:"healthy"`
	Restarts  int    `json:"restarts"`
	LastError string `json:"last_error"`
}

// LedgerVerify is the result of the last `camkit ledger verify`.
type LedgerVerify struct {
	OK        bool      `json:"ok"`
	At        time.Time `json:"at"`
	Accounts  int       `json:"accounts"`
	Transfers int       `json:"transfers"`
	Problems  []string  `json:"problems"`
}

// SeatInProgress is an open seat.
type SeatInProgress struct {
	SeatID          string      `json:"seat_id"`
	ShowID          string      `json:"show_id"`
	Model           string      `json:"model"`
	Viewer          string      `json:"viewer"`
	Since           time.Time   `json:"since"`
	BillableSeconds int64       `json:"billable_seconds"`
	RunningCost     money.Money `json:"running_cost"`
	Funding         string      `json:"funding"`
	FundedSeconds   int64       `json:"funded_seconds"`
}

// PendingModel is a model account waiting for approval.
type PendingModel struct {
	ID            string    `json:"id"`
	DisplayName   string    `json:"display_name"`
	Email         string    `json:"email"`
	At            time.Time `json:"at"`
	ApproveAction string    `json:"approve_action"`
	RejectAction  string    `json:"reject_action"`
}

// AdminPage is the operator's overview.
type AdminPage struct {
	Layout        Layout           `json:"layout"`
	Plugins       []PluginStatus   `json:"plugins"`
	Ledger        *LedgerVerify    `json:"ledger"` // nil when never run
	VerifyAction  string           `json:"verify_action"`
	Seats         []SeatInProgress `json:"seats"`
	PendingModels []PendingModel   `json:"pending_models"`
}

// CheckoutMode is how the processor's payment page is reached.
type CheckoutMode string

const (
	CheckoutRedirect CheckoutMode = "redirect" // link (or auto-redirect) to URL
	CheckoutEmbed    CheckoutMode = "embed"    // show URL in an iframe
	CheckoutPost     CheckoutMode = "post"     // auto-submitting form POSTing Fields to URL
)

// FormField is a name/value pair posted to a processor.
type FormField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CheckoutPage sends the viewer to the processor's page or embeds it.
type CheckoutPage struct {
	Layout      Layout       `json:"layout"`
	Processor   string       `json:"processor"` // display name, "Sandbox"
	Description string       `json:"description"`
	Amount      money.Money  `json:"amount"`
	Mode        CheckoutMode `json:"mode"`
	URL         string       `json:"url"`
	Fields      []FormField  `json:"fields"` // CheckoutPost only
	CancelURL   string       `json:"cancel_url"`
}

// ErrorPage is shown for any failure.
type ErrorPage struct {
	Layout    Layout `json:"layout"`
	Status    int    `json:"status"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

func (p *AgeGatePage) PageKind() Kind        { return KindAgeGate }
func (p *LoginPage) PageKind() Kind          { return KindLogin }
func (p *SignupPage) PageKind() Kind         { return KindSignup }
func (p *HomePage) PageKind() Kind           { return KindHome }
func (p *ModelProfilePage) PageKind() Kind   { return KindModelProfile }
func (p *RoomPage) PageKind() Kind           { return KindRoom }
func (p *PrivateShowPage) PageKind() Kind    { return KindPrivateShow }
func (p *WalletPage) PageKind() Kind         { return KindWallet }
func (p *ReceiptPage) PageKind() Kind        { return KindReceipt }
func (p *ModelDashboardPage) PageKind() Kind { return KindModelDashboard }
func (p *StreamHelpPage) PageKind() Kind     { return KindStreamHelp }
func (p *AdminPage) PageKind() Kind          { return KindAdmin }
func (p *CheckoutPage) PageKind() Kind       { return KindCheckout }
func (p *ErrorPage) PageKind() Kind          { return KindError }

func (p *AgeGatePage) PageLayout() *Layout        { return &p.Layout }
func (p *LoginPage) PageLayout() *Layout          { return &p.Layout }
func (p *SignupPage) PageLayout() *Layout         { return &p.Layout }
func (p *HomePage) PageLayout() *Layout           { return &p.Layout }
func (p *ModelProfilePage) PageLayout() *Layout   { return &p.Layout }
func (p *RoomPage) PageLayout() *Layout           { return &p.Layout }
func (p *PrivateShowPage) PageLayout() *Layout    { return &p.Layout }
func (p *WalletPage) PageLayout() *Layout         { return &p.Layout }
func (p *ReceiptPage) PageLayout() *Layout        { return &p.Layout }
func (p *ModelDashboardPage) PageLayout() *Layout { return &p.Layout }
func (p *StreamHelpPage) PageLayout() *Layout     { return &p.Layout }
func (p *AdminPage) PageLayout() *Layout          { return &p.Layout }
func (p *CheckoutPage) PageLayout() *Layout       { return &p.Layout }
func (p *ErrorPage) PageLayout() *Layout          { return &p.Layout }

var (
	_ Page = (*AgeGatePage)(nil)
	_ Page = (*LoginPage)(nil)
	_ Page = (*SignupPage)(nil)
	_ Page = (*HomePage)(nil)
	_ Page = (*ModelProfilePage)(nil)
	_ Page = (*RoomPage)(nil)
	_ Page = (*PrivateShowPage)(nil)
	_ Page = (*WalletPage)(nil)
	_ Page = (*ReceiptPage)(nil)
	_ Page = (*StreamHelpPage)(nil)
	_ Page = (*ModelDashboardPage)(nil)
	_ Page = (*AdminPage)(nil)
	_ Page = (*CheckoutPage)(nil)
	_ Page = (*ErrorPage)(nil)
)
