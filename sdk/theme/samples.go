package theme

import (
	"fmt"
	"time"

	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pricing"
)

// HostileText is put in user-controlled fields (display names, chat, bios) of
// the samples. A theme must show it as text; it must never become markup.
const HostileText = "<script>alert(1)</script>"

// Sample is one page with what a correct rendering of it must contain. The
// conformance suite (sdk/plugintest.Theme) renders every sample; theme authors
// can also use them to preview their pages.
type Sample struct {
	Name string // unique: "home", "checkout-embed"
	Page Page
	// Status is the HTTP status the rendering must report.
	Status int
	// Text must each appear in the document's visible text (whitespace
	// collapsed, entities decoded). Amounts are money.FormatDecimal output.
	Text []string
	// Attrs must each be carried by some element (Value "" means the
	// attribute is present, with any value).
	Attrs []Attr
	// Scripts must each be included as <script type="module" src=...>.
	Scripts []string
}

// Attr is an element attribute a rendering must carry.
type Attr struct {
	Name  string
	Value string
}

var sampleBase = time.Date(2026, 3, 14, 20, 0, 0, 0, time.UTC)

func usd(minor int64) money.Money { return money.Money{Amount: minor, Currency: "USD"} }
func eur(minor int64) money.Money { return money.Money{Amount: minor, Currency: "EUR"} }

// fd formats for the expectations; the samples only use valid currencies.
func fd(m money.Money) string {
	s, err := money.FormatDecimal(m)
	if err != nil {
		panic(err)
	}
	return s
}

func at(minutes int) time.Time { return sampleBase.Add(time.Duration(minutes) * time.Minute) }

var sampleLinks = Links{
	Home: "/", Login: "/login", Logout: "/logout", Signup: "/signup", Wallet: "/wallet",
	Terms: "/terms", Privacy: "/privacy", Support: "/support",
}

func anonLayout(path string) Layout {
	return Layout{
		SiteName: "camkit.test", Path: path, CSRFToken: "csrf-anon-7d1c", IdempotencyKey: "idem-anon-3f2a9c", Links: sampleLinks,
		Nav: []NavItem{{Label: "Live now", Href: "/", Active: path == "/"}},
	}
}

func viewerLayout(path string) Layout {
	l := anonLayout(path)
	l.CSRFToken = "csrf-viewer-91ab"
	l.IdempotencyKey = "idem-viewer-4b7e21"
	l.User = &User{ID: "v-1", Name: "Vic Viewer", Role: RoleViewer, Wallet: usd(4250)}
	l.Nav = append(l.Nav, NavItem{Label: "My wallet", Href: "/wallet", Active: path == "/wallet"})
	return l
}

func modelLayout(path string) Layout {
	l := anonLayout(path)
	l.CSRFToken = "csrf-model-55e0"
	l.IdempotencyKey = "idem-model-8c0d55"
	l.User = &User{ID: "m-1", Name: "Mira Model", Role: RoleModel, Wallet: usd(0)}
	l.Nav = append(l.Nav, NavItem{Label: "Studio dashboard", Href: "/dashboard", Active: true})
	return l
}

func adminLayout(path string) Layout {
	l := anonLayout(path)
	l.CSRFToken = "csrf-admin-0f3e"
	l.IdempotencyKey = "idem-admin-e61f03"
	l.User = &User{ID: "a-1", Name: "Ada Admin", Role: RoleAdmin, Wallet: usd(0)}
	l.Nav = append(l.Nav, NavItem{Label: "Operator console", Href: "/admin", Active: true})
	return l
}

var (
	mira = ModelSummary{ID: "m-1", DisplayName: "Mira Model", AvatarURL: "/media/m-1/avatar.jpg",
		ProfileURL: "/models/m-1", RoomURL: "/rooms/m-1"}
	hostileModel = ModelSummary{ID: "m-666", DisplayName: "Eve " + HostileText, AvatarURL: "/media/m-666/avatar.jpg",
		ProfileURL: "/models/m-666", RoomURL: "/rooms/m-666"}
)

// sampleGroupPolicy is a group show's policy: 1.99 USD a minute.
var sampleGroupPolicy = func() PricePolicy { p := samplePolicy; p.RatePerMinute = usd(199); return p }()

// samplePolicy is the private price policy the samples lock: 3.99 USD a
// minute, per second, minimum 7.98, 30 s grace, 5-minute blocks of 19.95.
var samplePolicy = PricePolicy{
	RatePerMinute: usd(399), Granularity: pricing.PerSecond, Minimum: usd(798),
	GraceSeconds: 30, BlockSeconds: 300, BlockCost: usd(1995), MaxPauseSec: 120, Funding: "card_hold",
}

// SampleLiveModels returns n live models with varied modes, rates and viewers,
// the first of them with HostileText in its display name.
func SampleLiveModels(n int) []LiveModel {
	modes := []ShowMode{ModePublic, ModePublic, ModePrivate, ModeGroup}
	out := make([]LiveModel, n)
	for i := range out {
		m := ModelSummary{
			ID: fmt.Sprintf("m-%d", 100+i), DisplayName: fmt.Sprintf("Model %d", 100+i),
			AvatarURL:  fmt.Sprintf("/media/m-%d/avatar.jpg", 100+i),
			ProfileURL: fmt.Sprintf("/models/m-%d", 100+i), RoomURL: fmt.Sprintf("/rooms/m-%d", 100+i),
		}
		if i == 0 {
			m = hostileModel
		}
		out[i] = LiveModel{
			Model: m, ShowID: fmt.Sprintf("s-%d", 500+i),
			ThumbnailURL:  fmt.Sprintf("/media/%s/live.jpg", m.ID),
			Mode:          modes[i%len(modes)],
			Viewers:       (i*37 + 11) % 900,
			RatePerMinute: usd(int64(199 + (i%7)*100)),
			Tags:          []string{"chatty", "new"}[:1+i%2],
			New:           i%5 == 0,
		}
	}
	return out
}

// SampleHomePage is a signed-in viewer's home page with n live models.
func SampleHomePage(n int) *HomePage {
	return &HomePage{
		Layout: viewerLayout("/"),
		Tags:   []string{"chatty", "new", "couples"},
		Live:   SampleLiveModels(n),
		Offline: []ModelSummary{{ID: "m-9", DisplayName: "Odile Offline", AvatarURL: "/media/m-9/avatar.jpg",
			ProfileURL: "/models/m-9", RoomURL: "/rooms/m-9"}},
	}
}

var chat = []ChatMessage{
	{ID: "c-1", At: at(1), Author: "camkit", System: true, Text: "Mira Model is live. Be nice."},
	{ID: "c-2", At: at(2), Author: "Vic Viewer", Role: RoleViewer, Text: "hello " + HostileText},
	{ID: "c-3", At: at(3), Author: "Tom Tipper", Role: RoleViewer, Text: "for the song", Tip: ptr(usd(2500))},
	{ID: "c-4", At: at(4), Author: "Mira Model", Role: RoleModel, Text: "thank you Tom!"},
}

func ptr[T any](v T) *T { return &v }

// SamplePages returns at least one sample of every page kind in Kinds(),
// filled as a real site would fill it, with HostileText in the fields users
// control. Each call returns fresh values.
func SamplePages() []Sample {
	home := SampleHomePage(6)
	var homeText []string
	for _, lm := range home.Live {
		homeText = append(homeText, lm.Model.DisplayName, fd(lm.RatePerMinute), fmt.Sprint(lm.Viewers))
	}
	homeText = append(homeText, "Vic Viewer", fd(usd(4250)), "Live now", "My wallet", "Odile Offline")

	emptyHome := &HomePage{Layout: anonLayout("/"), Query: "nobody"}

	return []Sample{
		{
			Name: "age-gate", Status: 200,
			Page: &AgeGatePage{Layout: anonLayout("/age"), Action: "/age", ReturnTo: "/rooms/m-1",
				MinimumAge: 21, ExitURL: "https://www.google.com/"},
			Text:  []string{"21"},
			Attrs: []Attr{{"action", "/age"}, {"name", "return_to"}, {"value", "/rooms/m-1"}},
		},
		{
			Name: "login", Status: 200,
			Page: &LoginPage{Layout: anonLayout("/login"), Action: "/login", Email: "vic@example.test",
				ReturnTo: "/wallet", Errors: []FieldError{{Field: "", Message: "Wrong email or password."}}},
			Text:  []string{"Wrong email or password."},
			Attrs: []Attr{{"action", "/login"}, {"value", "vic@example.test"}, {"name", "password"}, {"value", "/wallet"}},
		},
		{
			Name: "signup", Status: 200,
			Page: &SignupPage{Layout: anonLayout("/signup"), Action: "/signup", Email: "new@example.test",
				DisplayName: HostileText, Role: RoleViewer, AllowModel: true, MinimumAge: 18,
				Errors: []FieldError{{Field: "display_name", Message: "That display name is taken."}}},
			Text:  []string{"That display name is taken."},
			Attrs: []Attr{{"action", "/signup"}, {"value", "new@example.test"}, {"value", HostileText}, {"name", "password"}},
		},
		{
			Name: "home", Status: 200, Page: home, Text: homeText,
			Attrs: []Attr{{"href", "/rooms/m-101"}, {"src", "/media/m-101/live.jpg"}},
		},
		{
			Name: "home-empty", Status: 200, Page: emptyHome,
			Attrs: []Attr{{"value", "nobody"}},
		},
		{
			Name: "model-profile", Status: 200,
			Page: &ModelProfilePage{Layout: viewerLayout("/models/m-666"), Model: hostileModel,
				Bio: "Painter by day.\n" + HostileText, Tags: []string{"artsy", "chatty"}, Languages: []string{"English", "Français"},
				Mode: ModePublic, RatePerMinute: usd(449), Followers: 321, FollowAction: "/models/m-666/follow",
				Gallery: []string{"/media/m-666/g1.jpg"}, Schedule: []string{"Mon-Fri 20:00-23:00 UTC"},
				TicketShow: &TicketShow{ID: "ts-1", Title: "Saturday gala " + HostileText, Price: usd(1500), StartsAt: at(120), Minutes: 60,
					DoorsCloseAt: at(135), Capacity: 50, Sold: 12, State: "scheduled", BuyAction: "/ticket-shows/ts-1/buy", CardPay: true}},
			Text: []string{hostileModel.DisplayName, "Painter by day.", HostileText, "artsy", "Français", fd(usd(449)), "321", "Mon-Fri 20:00-23:00 UTC",
				"Saturday gala " + HostileText, "Buy ticket", fd(usd(1500)), "12", "50"},
			Attrs: []Attr{{"href", "/rooms/m-666"}, {"action", "/models/m-666/follow"}, {"src", "/media/m-666/g1.jpg"},
				{"action", "/ticket-shows/ts-1/buy"}, {"value", "card"}},
		},
		{
			Name: "room-ticket-show", Status: 200,
			Page: &RoomPage{Layout: viewerLayout("/rooms/m-1"), ShowID: "s-1", Model: mira, Mode: ModePublic,
				Title: "Saturday gala", Viewers: 12, PlayerURL: "/whep/s-1", ChatURL: "/ws/chat/s-1", Chat: chat[:1],
				Private: samplePolicy, CanChat: true,
				TicketShow: &TicketShow{ID: "ts-1", Title: "Saturday gala", Price: usd(1500), StartsAt: at(0), Minutes: 60,
					DoorsCloseAt: at(15), Sold: 12, State: "running", Holding: true},
				TicketToken: "tt_ts-sample.mac"},
			Text:    []string{"Saturday gala", "You have a ticket", fd(usd(1500))},
			Attrs:   []Attr{{PlayerAttr, ""}, {"data-src", "/whep/s-1"}, {"data-token", "tt_ts-sample.mac"}},
			Scripts: []string{PlayerScript, ChatScript},
		},
		{
			Name: "room-group", Status: 200,
			Page: &RoomPage{Layout: viewerLayout("/rooms/m-1"), ShowID: "s-1", Model: mira, Mode: ModePublic,
				Viewers: 40, PlayerURL: "/whep/s-1", ChatURL: "/ws/chat/s-1", Private: samplePolicy, CanChat: true,
				Group: &GroupOffer{Policy: sampleGroupPolicy, Minimum: 3, Waiting: 2, Allowed: true, JoinAction: "/rooms/m-1/group/join"}},
			Text:  []string{"Join group show", fd(usd(199)), "2 of 3"},
			Attrs: []Attr{{"action", "/rooms/m-1/group/join"}},
		},
		{
			Name: "model-dashboard-group", Status: 200,
			Page: &ModelDashboardPage{Layout: modelLayout("/dashboard"), Model: mira, Live: true, ShowID: "s-1", Mode: ModeGroup,
				Viewers: 2, PublishURL: "/whip/s-1", PublishToken: "pub-token-xyz", EndAction: "/dashboard/end",
				Rate: usd(399), RateAction: "/dashboard/rate", Policy: samplePolicy, GroupAction: "/dashboard/group",
				Group: &GroupState{Policy: sampleGroupPolicy, Minimum: 2, Started: true, EndAction: "/dashboard/group/end",
					ChatURL: "/ws/chat/group-sh1", Chat: chat[:1],
					Seats: []GroupSeatRow{{Viewer: "Gus " + HostileText, RatePerMinute: usd(199), Billing: true, RunningSeconds: 95, RunningCost: usd(315)}}}},
			Text: []string{"Mira Model", "Gus " + HostileText, fd(usd(199)), fd(usd(315)), "End group show"},
			Attrs: []Attr{{"action", "/dashboard/group"}, {"action", "/dashboard/group/end"}, {ChatAttr, ""}, {"data-url", "/ws/chat/group-sh1"},
				{"name", "minimum"}},
			Scripts: []string{PlayerScript, ChatScript},
		},
		{
			Name: "room-group-joined", Status: 200,
			Page: &RoomPage{Layout: viewerLayout("/rooms/m-1"), ShowID: "s-1", Model: mira, Mode: ModePublic,
				Viewers: 40, PlayerURL: "/whep/s-1", ChatURL: "/ws/chat/s-1", Private: samplePolicy, CanChat: true,
				Group: &GroupOffer{Policy: sampleGroupPolicy, Minimum: 3, Waiting: 2, Allowed: true, Joined: true,
					JoinAction: "/rooms/m-1/group/join", LeaveAction: "/rooms/m-1/group/leave"}},
			Text:  []string{"You joined", fd(usd(199))},
			Attrs: []Attr{{"action", "/rooms/m-1/group/leave"}},
		},
		{
			Name: "room", Status: 200,
			Page: &RoomPage{Layout: viewerLayout("/rooms/m-1"), ShowID: "s-1", Model: mira, Mode: ModePublic,
				Title: "Sunday painting stream", Viewers: 87, PlayerURL: "/whep/s-1", ChatURL: "/ws/chat/s-1",
				Chat: chat, TipPresets: []money.Money{usd(100), usd(500), usd(2000)}, TipAction: "/rooms/m-1/tip",
				Private: samplePolicy, PrivateAllowed: true, PrivateAction: "/rooms/m-1/private", CanChat: true,
				PosterURL:     "/shows/s-1/thumbnail",
				Goal:          &TipGoal{Title: "Oil painting " + HostileText, Amount: usd(5000), Received: usd(1250), Percent: 25, Resets: true, Rounds: 2},
				TipMenu:       []TipMenuItem{{ID: "item-1", Name: "Dance " + HostileText, Price: usd(500)}, {ID: "item-2", Name: "Song request", Price: usd(1500)}},
				TipMenuAction: "/shows/s-1/menu-tip"},
			Text: []string{"Mira Model", "Sunday painting stream", "87", "Oil painting " + HostileText, fd(usd(1250)), fd(usd(5000)),
				"Dance " + HostileText, "Song request", fd(usd(1500)), "hello " + HostileText, "for the song", fd(usd(2500)),
				"Tom Tipper", fd(usd(100)), fd(usd(500)), fd(usd(2000)), fd(usd(399)), fd(usd(798)), fd(usd(1995))},
			Attrs: []Attr{{PlayerAttr, ""}, {"data-src", "/whep/s-1"}, {"data-role", "viewer"}, {"poster", "/shows/s-1/thumbnail"}, {ChatAttr, ""},
				{"data-url", "/ws/chat/s-1"}, {"action", "/rooms/m-1/private"}, {"action", "/rooms/m-1/tip"},
				{GoalAttr, ""}, {"action", "/shows/s-1/menu-tip"}, {"value", "item-1"}, {"value", "item-2"}},
			Scripts: []string{PlayerScript, ChatScript},
		},
		{
			Name: "private-show", Status: 200,
			Page: &PrivateShowPage{Layout: viewerLayout("/seats/seat-42"), SeatID: "seat-42", ShowID: "s-2", Model: mira,
				Mode: ModePrivate, Policy: samplePolicy, RunningSeconds: 180, RunningCost: usd(1197), FundedSeconds: 300,
				Warnings:  []FundingWarning{{Level: FlashWarning, Message: "Your card was declined for the next block; the show ends in 2 minutes."}},
				SeatToken: "seat-token-abc123", PlayerURL: "/whep/s-2", ChatURL: "/ws/chat/s-2", Chat: chat[:2],
				TipPresets: []money.Money{usd(500)}, TipAction: "/seats/seat-42/tip", EndAction: "/seats/seat-42/end"},
			Text: []string{"Mira Model", fd(usd(1197)), fd(usd(399)), "Your card was declined for the next block; the show ends in 2 minutes.",
				"hello " + HostileText},
			Attrs: []Attr{{PlayerAttr, ""}, {"data-src", "/whep/s-2"}, {"data-token", "seat-token-abc123"}, {ChatAttr, ""},
				{"data-url", "/ws/chat/s-2"}, {"action", "/seats/seat-42/end"}},
			Scripts: []string{PlayerScript, ChatScript},
		},
		{
			Name: "group-seat", Status: 200,
			Page: &PrivateShowPage{Layout: viewerLayout("/seats/seat-43"), SeatID: "seat-43", ShowID: "s-2", Model: mira,
				Mode: ModeGroup, Policy: samplePolicy, RunningSeconds: 60, RunningCost: usd(399), FundedSeconds: 300,
				SeatToken: "seat-token-group", PlayerURL: "/whep/s-2", ChatURL: "/ws/chat/group-s-2", Chat: chat[:2],
				TipPresets: []money.Money{usd(500)}, TipAction: "/seats/seat-43/tip", EndAction: "/seats/seat-43/end",
				Goal: &TipGoal{Title: "Oil painting " + HostileText, Amount: usd(5000), Received: usd(1250), Percent: 25, Rounds: 1}},
			Text: []string{"Mira Model", fd(usd(399)), "Oil painting " + HostileText},
			Attrs: []Attr{{PlayerAttr, ""}, {"data-token", "seat-token-group"}, {ChatAttr, ""}, {"data-url", "/ws/chat/group-s-2"},
				{GoalAttr, ""}, {"action", "/seats/seat-43/end"}},
			Scripts: []string{PlayerScript, ChatScript},
		},
		{
			Name: "room-cam2cam", Status: 200,
			Page: &RoomPage{Layout: viewerLayout("/rooms/m-1"), ShowID: "s-1", Model: mira, Mode: ModePublic, PlayerURL: "/whep/s-1",
				ChatURL: "/ws/chat/s-1", Private: samplePolicy, PrivateAllowed: true, PrivateAction: "/rooms/m-1/private", CanChat: true,
				Cam2camSurcharge: &money.Money{Amount: 150, Currency: "USD"}},
			Text:    []string{"Mira Model", fd(usd(399)), fd(usd(150))},
			Attrs:   []Attr{{"action", "/rooms/m-1/private"}, {"name", "cam2cam"}, {"value", "1"}},
			Scripts: []string{PlayerScript, ChatScript},
		},
		{
			Name: "private-show-cam2cam", Status: 200,
			Page: &PrivateShowPage{Layout: viewerLayout("/seats/seat-42"), SeatID: "seat-42", ShowID: "s-2", Model: mira,
				Mode: ModePrivate, Policy: samplePolicy, RunningSeconds: 60, RunningCost: usd(399), FundedSeconds: 300,
				SeatToken: "seat-token-abc123", PlayerURL: "/whep/s-2", ChatURL: "/ws/chat/s-2", EndAction: "/seats/seat-42/end",
				Cam2cam: &Cam2camPublish{PublishURL: "/whip", SurchargePerMinute: usd(150)}},
			Text: []string{"Mira Model", fd(usd(150))},
			Attrs: []Attr{{PlayerAttr, ""}, {"data-src", "/whep/s-2"}, {Cam2camAttr, ""}, {"data-src", "/whip"}, {"data-role", "publisher"},
				{"data-token", "seat-token-abc123"}, {Cam2camToggleAttr, ""}},
			Scripts: []string{PlayerScript, ChatScript},
		},
		{
			Name: "wallet", Status: 200,
			Page: &WalletPage{Layout: func() Layout {
				l := viewerLayout("/wallet")
				l.Flashes = []Flash{{Level: FlashSuccess, Message: "Payment received: " + HostileText}}
				return l
			}(), Balance: usd(4250), Held: usd(1995),
				Packs: []CreditPack{
					{ID: "p-20", Name: "Starter", Price: usd(2000), Credits: usd(2000)},
					{ID: "p-100", Name: "Big night", Price: usd(9999), Credits: usd(11500), Badge: "Best value"},
				},
				BuyAction: "/wallet/buy",
				History: []LedgerRow{
					{At: at(-60), Description: "Credit pack Starter", Amount: usd(2000), Balance: usd(6000), Reference: "tr-1"},
					{At: at(-30), Description: "Private show with Mira Model", Amount: usd(-1750), Balance: usd(4250),
						Reference: "tr-2", ReceiptURL: "/receipts/seat-41"},
					{At: at(-1), Description: "Hold for private show", Amount: usd(-1995), Balance: usd(4250), Pending: true, Reference: "tr-3"},
				},
				Tickets: []TicketRow{
					{Title: "Saturday gala " + HostileText, Model: "Mira Model", StartsAt: at(120), Price: usd(1500), State: "held",
						Posted: usd(0), Refunded: usd(0)},
					{Title: "Friday night", Model: "Mira Model", StartsAt: at(-1440), Price: usd(500), State: "refunded", Posted: usd(0), Refunded: usd(500)},
				}},
			Text: []string{"Payment received: " + HostileText, fd(usd(4250)), fd(usd(1995)), "Starter", "Big night", "Best value",
				fd(usd(9999)), fd(usd(11500)), "Private show with Mira Model", fd(usd(-1750)), fd(usd(6000)),
				"Saturday gala " + HostileText, "Friday night", fd(usd(1500)), "held", "refunded"},
			Attrs: []Attr{{"action", "/wallet/buy"}, {"value", "p-100"}, {"href", "/receipts/seat-41"}},
		},
		{
			Name: "receipt", Status: 200,
			Page: &ReceiptPage{Layout: viewerLayout("/receipts/seat-41"), SeatID: "seat-41", ShowID: "s-2", Model: mira,
				Viewer: "Vic Viewer", Mode: ModePrivate, OpenedAt: at(0), ClosedAt: at(6), EndReason: "viewer ended the show",
				Intervals:       []Interval{{Start: at(0), End: at(2), Seconds: 120}, {Start: at(3), End: at(6), Seconds: 143}},
				BillableSeconds: 263, Policy: samplePolicy, Price: usd(1749),
				FX:      &FXQuote{From: "USD", To: "EUR", Rate: "0.9215", QuoteID: "q-77", Source: "ecb", AsOf: at(-5), ExpiresAt: at(25)},
				Charged: eur(1612),
				Charges: []Charge{
					{At: at(0), Kind: "authorize", Amount: eur(1838), Status: "succeeded", Reference: "auth-9001"},
					{At: at(6), Kind: "capture", Amount: eur(1612), Status: "succeeded", Reference: "cap-9002"},
				},
				Transfers: []LedgerTransfer{
					{ID: "tr-10", At: at(6), Debit: "processor:sandbox:clearing", Credit: "model:m-1:earnings", Amount: eur(1128), State: "posted", Memo: "model share"},
					{ID: "tr-11", At: at(6), Debit: "processor:sandbox:clearing", Credit: "platform:revenue", Amount: eur(484), State: "posted", Memo: "platform share"},
				}},
			Text: []string{"seat-41", "Mira Model", "263", "viewer ended the show", fd(usd(1749)), fd(usd(399)), "0.9215", "q-77",
				fd(eur(1612)), fd(eur(1838)), "auth-9001", "cap-9002", "model:m-1:earnings", "platform:revenue", fd(eur(1128)), fd(eur(484))},
		},
		{
			Name: "receipt-cam2cam", Status: 200,
			Page: &ReceiptPage{Layout: viewerLayout("/receipts/seat-43"), SeatID: "seat-43", ShowID: "s-2", Model: mira,
				Viewer: "Vic Viewer", Mode: ModePrivate, OpenedAt: at(0), ClosedAt: at(2), EndReason: "viewer ended the show",
				Intervals: []Interval{{Start: at(0), End: at(2), Seconds: 120}}, BillableSeconds: 120, Policy: samplePolicy,
				Price: usd(798), Charged: usd(798), Cam2cam: &Cam2camLine{SurchargePerMinute: usd(150), Amount: usd(300)}},
			Text: []string{"seat-43", fd(usd(798)), fd(usd(150)), fd(usd(300))},
		},
		{
			Name: "model-dashboard", Status: 200,
			Page: &ModelDashboardPage{Layout: modelLayout("/dashboard"), Model: mira, Live: true, ShowID: "s-1", Mode: ModePublic,
				Viewers: 87, PublishURL: "/whip/s-1", PublishToken: "pub-token-xyz", GoLiveAction: "/dashboard/live",
				Publishing: true, StreamKey: "sk_sample_key_42", StreamKeyHint: "sk_sampl…", WHIPURL: "https://cams.example/whip",
				RotateKeyAction: "/dashboard/stream-key", OBSHelpURL: "/help/obs",
				EndAction: "/dashboard/end", Rate: usd(399), RateAction: "/dashboard/rate", Policy: samplePolicy,
				GroupAction: "/dashboard/group", GroupRate: usd(249), GroupRateAction: "/dashboard/group-rate",
				Requests: []PrivateRequest{{ID: "rq-1", Viewer: "Ivan " + HostileText, At: at(5), Mode: ModePrivate,
					RatePerMinute: usd(399), AcceptAction: "/dashboard/requests/rq-1/accept", DeclineAction: "/dashboard/requests/rq-1/decline"}},
				Earnings: Earnings{Today: usd(12345), Week: usd(67890), Balance: usd(45678),
					Recent: []EarningRow{{At: at(-10), Description: "Tip from Tom Tipper", Amount: usd(1750)}}},
				Goal:       &TipGoal{Title: "New easel", Amount: usd(9000), Received: usd(9000), Percent: 100, Done: true, Rounds: 1},
				GoalAction: "/dashboard/tip-goal", ClearGoalAction: "/dashboard/tip-goal/clear",
				TipMenu:       []TipMenuItem{{ID: "item-1", Name: "Dance " + HostileText, Price: usd(500), RemoveAction: "/dashboard/tip-menu/item-1/remove"}},
				MenuAddAction: "/dashboard/tip-menu", MenuMax: 30,
				TicketShows: []TicketShow{
					{ID: "ts-1", Title: "Saturday gala " + HostileText, Price: usd(1500), StartsAt: at(120), Minutes: 60, DoorsCloseAt: at(135),
						Capacity: 50, Sold: 12, State: "scheduled", StartAction: "/dashboard/ticket-shows/ts-1/start",
						CancelAction: "/dashboard/ticket-shows/ts-1/cancel"},
					{ID: "ts-0", Title: "Friday night", Price: usd(500), StartsAt: at(-10), Minutes: 30, DoorsCloseAt: at(-10), Sold: 3,
						State: "running", EndAction: "/dashboard/ticket-shows/ts-0/end", CancelAction: "/dashboard/ticket-shows/ts-0/cancel"},
				},
				ScheduleTicketAction: "/dashboard/ticket-shows"},
			Text: []string{"Mira Model", "87", fd(usd(399)), "Ivan " + HostileText, fd(usd(12345)), fd(usd(67890)), fd(usd(45678)),
				"Tip from Tom Tipper", fd(usd(1750)), "New easel", fd(usd(9000)), "Dance " + HostileText, fd(usd(500)), "Start group show", fd(usd(249)),
				"Saturday gala " + HostileText, "Friday night", fd(usd(1500)), "scheduled", "running"},
			Attrs: []Attr{{PlayerAttr, ""}, {"data-src", "/whip/s-1"}, {"data-token", "pub-token-xyz"}, {"data-role", "publisher"},
				{"action", "/dashboard/group"}, {"action", "/dashboard/group-rate"},
				{"action", "/dashboard/requests/rq-1/accept"}, {"action", "/dashboard/requests/rq-1/decline"},
				{"action", "/dashboard/tip-goal"}, {"action", "/dashboard/tip-goal/clear"}, {"action", "/dashboard/tip-menu"},
				{"action", "/dashboard/tip-menu/item-1/remove"},
				{"action", "/dashboard/rate"}, {"action", "/dashboard/end"}, {"action", "/dashboard/stream-key"},
				{SwitchAttr, ""}, {"value", "https://cams.example/whip"}, {"value", "sk_sample_key_42"}, {"href", "/help/obs"},
				{"action", "/dashboard/ticket-shows"}, {"action", "/dashboard/ticket-shows/ts-1/start"}, {"action", "/dashboard/ticket-shows/ts-1/cancel"},
				{"action", "/dashboard/ticket-shows/ts-0/end"}},
			Scripts: []string{PlayerScript},
		},
		{
			// The key was made or rotated earlier: only its hint is known.
			Name: "model-dashboard-key-hidden", Status: 200,
			Page: &ModelDashboardPage{Layout: modelLayout("/dashboard"), Model: mira, PublishURL: "/whip", PublishToken: "cp_pass",
				GoLiveAction: "/dashboard/live", StreamKeyHint: "sk_sampl…", WHIPURL: "https://cams.example/whip",
				RotateKeyAction: "/dashboard/stream-key", OBSHelpURL: "/help/obs", RateAction: "/dashboard/rate",
				Rate: usd(399), Policy: samplePolicy},
			Text:    []string{"sk_sampl…", "Rotate key"},
			Attrs:   []Attr{{"action", "/dashboard/stream-key"}, {"value", "https://cams.example/whip"}, {"href", "/help/obs"}},
			Scripts: []string{PlayerScript},
		},
		{
			Name: "model-dashboard-cam2cam", Status: 200,
			Page: &ModelDashboardPage{Layout: modelLayout("/dashboard"), Model: mira, Live: true, ShowID: "s-1", Mode: ModePrivate,
				PublishURL: "/whip", PublishToken: "pub-token-xyz", EndAction: "/dashboard/end", Rate: usd(399), RateAction: "/dashboard/rate",
				Policy: samplePolicy, Cam2camSurcharge: &money.Money{Amount: 150, Currency: "USD"}, Cam2camAction: "/dashboard/cam2cam",
				Requests: []PrivateRequest{{ID: "rq-2", Viewer: "Ivan " + HostileText, At: at(5), Mode: ModePrivate, RatePerMinute: usd(399),
					AcceptAction: "/dashboard/requests/rq-2/accept", DeclineAction: "/dashboard/requests/rq-2/decline",
					Cam2cam: true, Cam2camSurcharge: usd(150)}},
				Cam2cam: &Cam2camPlayer{Viewer: "Vic Viewer", PlayerURL: "/whep/c2c-seat-42", Token: "c2m_token_42", StopAction: "/dashboard/seats/seat-42/cam2cam/stop"}},
			Text: []string{"Mira Model", "Ivan " + HostileText, "Vic Viewer", fd(usd(150))},
			Attrs: []Attr{{Cam2camAttr, ""}, {"data-src", "/whep/c2c-seat-42"}, {"data-token", "c2m_token_42"}, {"data-role", "viewer"},
				{"action", "/dashboard/seats/seat-42/cam2cam/stop"}, {"action", "/dashboard/cam2cam"}, {"name", "surcharge"},
				{"action", "/dashboard/requests/rq-2/accept"}, {"name", "cam2cam"}, {"value", "grant"}},
			Scripts: []string{PlayerScript},
		},
		{
			Name: "model-dashboard-offline", Status: 200,
			Page: &ModelDashboardPage{Layout: modelLayout("/dashboard"), Model: mira, PublishURL: "/whip/new",
				PublishToken: "pub-token-new", GoLiveAction: "/dashboard/live", RateAction: "/dashboard/rate",
				Rate: usd(399), Policy: samplePolicy, GoalAction: "/dashboard/tip-goal", MenuAddAction: "/dashboard/tip-menu", MenuMax: 30},
			Text: []string{"Mira Model", fd(usd(399))},
			Attrs: []Attr{{"action", "/dashboard/live"}, {PlayerAttr, ""}, {"data-role", "publisher"},
				{"action", "/dashboard/tip-goal"}, {"action", "/dashboard/tip-menu"}},
			Scripts: []string{PlayerScript},
		},
		{
			Name: "stream-help", Status: 200,
			Page: &StreamHelpPage{Layout: modelLayout("/help/obs"), WHIPURL: "https://cams.example/whip", StreamKeyHint: "sk_sampl…",
				DashboardURL: "/dashboard"},
			Text:  []string{"OBS", "WHIP", "https://cams.example/whip", "sk_sampl…"},
			Attrs: []Attr{{"href", "/dashboard"}},
		},
		{
			Name: "admin", Status: 200,
			Page: &AdminPage{Layout: adminLayout("/admin"),
				Plugins: []PluginStatus{
					{Name: "sandbox", Kind: "processor", Version: "1.0.0", Healthy: true},
					{Name: "ecb-rates", Kind: "currency", Version: "0.3.1", Healthy: false, Restarts: 3, LastError: "connection refused"},
				},
				Ledger:       &LedgerVerify{OK: false, At: at(-2), Accounts: 42, Transfers: 1337, Problems: []string{"account platform:fx: balance mismatch"}},
				VerifyAction: "/admin/ledger/verify",
				Seats: []SeatInProgress{{SeatID: "seat-42", ShowID: "s-2", Model: "Mira Model", Viewer: "Vic Viewer", Since: at(-3),
					BillableSeconds: 180, RunningCost: usd(1197), Funding: "card_hold", FundedSeconds: 300}},
				PendingModels: []PendingModel{{ID: "m-77", DisplayName: "Nina " + HostileText, Email: "nina@example.test", At: at(-100),
					ApproveAction: "/admin/models/m-77/approve", RejectAction: "/admin/models/m-77/reject"}}},
			Text: []string{"sandbox", "ecb-rates", "connection refused", "1337", "account platform:fx: balance mismatch", "seat-42",
				fd(usd(1197)), "card_hold", "Nina " + HostileText, "nina@example.test"},
			Attrs: []Attr{{"action", "/admin/ledger/verify"}, {"action", "/admin/models/m-77/approve"}, {"action", "/admin/models/m-77/reject"}},
		},
		{
			Name: "checkout-redirect", Status: 200,
			Page: &CheckoutPage{Layout: viewerLayout("/checkout"), Processor: "Sandbox", Description: "Credit pack Big night",
				Amount: usd(9999), Mode: CheckoutRedirect, URL: "https://pay.example.test/hosted/abc", CancelURL: "/wallet"},
			Text:  []string{"Sandbox", "Credit pack Big night", fd(usd(9999))},
			Attrs: []Attr{{"href", "https://pay.example.test/hosted/abc"}, {"href", "/wallet"}},
		},
		{
			Name: "checkout-embed", Status: 200,
			Page: &CheckoutPage{Layout: viewerLayout("/checkout"), Processor: "Sandbox", Description: "Card on file",
				Amount: usd(0), Mode: CheckoutEmbed, URL: "https://pay.example.test/form/xyz", CancelURL: "/wallet"},
			Text:  []string{"Card on file"},
			Attrs: []Attr{{"src", "https://pay.example.test/form/xyz"}},
		},
		{
			Name: "checkout-post", Status: 200,
			Page: &CheckoutPage{Layout: viewerLayout("/checkout"), Processor: "Epoch", Description: "Credit pack Starter",
				Amount: usd(2000), Mode: CheckoutPost, URL: "https://pay.example.test/join",
				Fields: []FormField{{Name: "pi_code", Value: "abc123"}, {Name: "reseller", Value: HostileText}}, CancelURL: "/wallet"},
			Text:  []string{"Epoch", fd(usd(2000))},
			Attrs: []Attr{{"action", "https://pay.example.test/join"}, {"name", "pi_code"}, {"value", "abc123"}, {"value", HostileText}},
		},
		{
			Name: "error-404", Status: 404,
			Page: &ErrorPage{Layout: anonLayout("/nope"), Status: 404, Message: "No room called " + HostileText, RequestID: "req-8f2"},
			Text: []string{"404", "No room called " + HostileText, "req-8f2"},
		},
		{
			Name: "error-500", Status: 500,
			Page: &ErrorPage{Layout: func() Layout {
				l := viewerLayout("/x")
				l.Brand = "Override Cams"
				l.AssetBase = "/assets/v2/theme/"
				return l
			}(),
				Status: 500, Message: "Something broke on our side.", RequestID: "req-9a0"},
			Text: []string{"500", "Something broke on our side.", "Override Cams", "Vic Viewer", fd(usd(4250))},
		},
	}
}
