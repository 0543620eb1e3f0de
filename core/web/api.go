package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/camkit/camkit/core/clientaddr"
	"github.com/camkit/camkit/core/shows"
	"io"
	"mime"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// APIBase is where the JSON API lives; its OpenAPI document is at
// APIBase + "/openapi.json".
const APIBase = "/api/v1"

// maxAPIBody caps every API request body; no action needs more.
const maxAPIBody = 16 << 10

// The API's JSON shapes. Money is always {"amount": minor units, "currency"}.
type (
	apiUser struct {
		ID          string       `json:"id"`
		Email       string       `json:"email,omitempty"`
		DisplayName string       `json:"display_name"`
		Role        string       `json:"role"`
		Approved    bool         `json:"approved"`
		Wallet      *money.Money `json:"wallet,omitempty"`
	}
	apiSession struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
		User      apiUser   `json:"user"`
	}
	apiShow struct {
		ID            string      `json:"id"`
		ModelID       string      `json:"model_id"`
		ModelName     string      `json:"model_name"`
		Mode          string      `json:"mode"`
		Title         string      `json:"title"`
		Since         time.Time   `json:"since"`
		Viewers       int         `json:"viewers"`
		RatePerMinute money.Money `json:"rate_per_minute"`
		WHEPURL       string      `json:"whep_url"`
		ChatURL       string      `json:"chat_url"`
	}
	apiPolicy struct {
		RatePerMinute   money.Money `json:"rate_per_minute"`
		Granularity     string      `json:"granularity"`
		MinimumCharge   money.Money `json:"minimum_charge"`
		GraceSeconds    int64       `json:"grace_seconds"`
		BlockSeconds    int64       `json:"block_seconds"`
		BlockCost       money.Money `json:"block_cost"`
		MaxPauseSeconds int64       `json:"max_pause_seconds"`
		Funding         string      `json:"funding"`
	}
	apiQuote struct {
		Policy  apiPolicy `json:"policy"`
		Allowed bool      `json:"allowed"`
		Reason  string    `json:"reason,omitempty"`
		// Cam2camSurcharge is what cam2cam adds to the rate a minute when
		// asked for with the request and granted; absent: not offered.
		Cam2camSurcharge *money.Money `json:"cam2cam_surcharge_per_minute,omitempty"`
	}
	apiRequest struct {
		ID         string      `json:"id"`
		ShowID     string      `json:"show_id"`
		ViewerName string      `json:"viewer_name"`
		At         time.Time   `json:"at"`
		Rate       money.Money `json:"rate_per_minute"`
		RateText   string      `json:"rate_display"`
		SeatID     string      `json:"seat_id,omitempty"`
		State      string      `json:"state"`
		Cam2cam    bool        `json:"cam2cam"`
		// Cam2camSurcharge is what the viewer was shown for cam2cam.
		Cam2camSurcharge *money.Money `json:"cam2cam_surcharge_per_minute,omitempty"`
	}
	apiSeat struct {
		ID              string                 `json:"id"`
		ShowID          string                 `json:"show_id"`
		ModelID         string                 `json:"model_id"`
		ViewerName      string                 `json:"viewer_name"`
		Open            bool                   `json:"open"`
		Billing         bool                   `json:"billing"`
		PauseReason     string                 `json:"pause_reason,omitempty"`
		EndsAt          *time.Time             `json:"ends_at,omitempty"`
		OpenedAt        time.Time              `json:"opened_at"`
		Policy          apiPolicy              `json:"policy"`
		BillableSeconds int64                  `json:"billable_seconds"`
		RunningCost     money.Money            `json:"running_cost"`
		RunningDisplay  string                 `json:"running_cost_display"`
		FundedSeconds   int64                  `json:"funded_seconds"`
		Token           string                 `json:"token,omitempty"`
		WHEPURL         string                 `json:"whep_url"`
		Mode            string                 `json:"mode"`
		ChatURL         string                 `json:"chat_url,omitempty"`
		Warnings        []theme.FundingWarning `json:"warnings"`
		Cam2cam         *apiCam2cam            `json:"cam2cam,omitempty"`
		Spy             bool                   `json:"spy,omitempty"`
		Spies           *int                   `json:"spies,omitempty"`
	}
	apiWallet struct {
		Balance money.Money       `json:"balance"`
		Held    money.Money       `json:"held"`
		Posted  money.Money       `json:"posted"`
		History []theme.LedgerRow `json:"history"`
	}
	apiPack struct {
		ID      string      `json:"id"`
		Name    string      `json:"name"`
		Price   money.Money `json:"price"`
		Credits money.Money `json:"credits"`
		Badge   string      `json:"badge,omitempty"`
	}
	apiPurchase struct {
		ID     string `json:"id"`
		PackID string `json:"pack_id"`
		// Processor took the charge (routing may cascade past the first choice).
		Processor string      `json:"processor"`
		State     string      `json:"state"`
		Price     money.Money `json:"price"`
		Credits   money.Money `json:"credits"`
	}
	apiCard struct {
		Processor string    `json:"processor"`
		Brand     string    `json:"brand"`
		Last4     string    `json:"last4"`
		ExpMonth  int       `json:"exp_month"`
		ExpYear   int       `json:"exp_year"`
		AddedAt   time.Time `json:"added_at"`
		// Retired: the card's processor takes no new payments; add a card.
		Retired bool `json:"retired"`
	}
	apiCheckout struct {
		URL       string            `json:"url"`
		Method    string            `json:"method"`
		Fields    map[string]string `json:"fields,omitempty"`
		Processor string            `json:"processor"`
	}
	apiProfile struct {
		ID            string      `json:"id"`
		DisplayName   string      `json:"display_name"`
		Bio           string      `json:"bio"`
		Tags          []string    `json:"tags"`
		RatePerMinute money.Money `json:"rate_per_minute"`
		// GroupRate is her group shows' rate; zero amount: her private rate.
		GroupRate money.Money `json:"group_rate_per_minute"`
		ShowID    string      `json:"show_id,omitempty"`
	}
	apiMyShow struct {
		Show apiShow `json:"show"`
		// StreamKey only in the first answer after the key was made or
		// rotated: it is stored as a digest and cannot be read back.
		StreamKey     string `json:"stream_key,omitempty"`
		StreamKeyHint string `json:"stream_key_hint"`
		WHIPURL       string `json:"whip_url"`
	}
	apiOK struct {
		OK bool `json:"ok"`
	}
	apiCSRF struct {
		Token string `json:"token"`
	}
)

// Request bodies. A field tagged req:"1" must be present and not empty.
type (
	loginBody struct {
		Email    string `json:"email" req:"1"`
		Password string `json:"password" req:"1"`
	}
	signupBody struct {
		Email       string `json:"email" req:"1"`
		Password    string `json:"password" req:"1"`
		DisplayName string `json:"display_name" req:"1"`
		Role        string `json:"role"`
		Adult       bool   `json:"adult" req:"1"`
	}
	chatBody struct {
		Text string `json:"text" req:"1"`
	}
	tipBody struct {
		TipID  string       `json:"tip_id" req:"1"`
		Amount *money.Money `json:"amount" req:"1"`
		Text   string       `json:"text"`
	}
	cardBody struct {
		ReturnURL string `json:"return_url"`
	}
	cardCompleteBody struct {
		Params map[string]string `json:"params" req:"1"`
	}
	rateBody struct {
		Rate *money.Money `json:"rate" req:"1"`
	}
	profileBody struct {
		Bio  *string  `json:"bio"`
		Tags []string `json:"tags"`
	}
)

func (p *Product) mountAPI(app *fiber.App) {
	user := p.HTTP.RequireUser()
	viewer := p.HTTP.RequireRole(accounts.RoleViewer)
	model := p.HTTP.RequireRole(accounts.RoleModel)
	admin := p.HTTP.RequireRole(accounts.RoleAdmin)
	money := p.moneyRoute() // the operations of idempotentOps (openapi.go)
	api := app.Group(APIBase, p.apiGuard)

	api.Get("/openapi.json", p.openAPI)
	api.Get("/csrf", p.apiCSRF)
	api.Post("/session", p.apiLogin)
	api.Delete("/session", p.apiLogout)
	api.Post("/signup", p.apiSignup)
	api.Post("/age-confirmations", p.apiConfirmAge)
	api.Get("/me", user, p.apiMe)

	api.Get("/shows", p.apiShows)
	api.Get("/shows/:show", p.apiShow)
	api.Get("/shows/:show/quote", p.apiQuote)
	api.Get("/shows/:show/chat", p.apiChatHistory)
	api.Post("/shows/:show/chat", user, p.apiChatPost)
	api.Post("/shows/:show/tips", viewer, money, p.apiTip)
	api.Post("/shows/:show/private-requests", viewer, money, p.apiRequestPrivate)
	api.Get("/shows/:show/group", p.apiGroupOffer)
	api.Post("/shows/:show/group/seats", viewer, money, p.apiJoinGroup)
	api.Delete("/shows/:show/group/waiting", viewer, p.apiLeaveGroupWaiting)
	api.Get("/shows/:show/spy", p.apiSpyOffer)
	api.Post("/shows/:show/spy-seats", viewer, money, p.apiSpy)
	api.Get("/models/:id", p.apiProfile)

	api.Get("/me/seat", viewer, p.apiMySeat)
	api.Get("/seats/:seat", user, p.apiSeat)
	api.Post("/seats/:seat/end", user, money, p.apiEndSeat)
	api.Get("/wallet", viewer, p.apiWallet)
	api.Get("/credit-packs", p.apiPacks)
	api.Post("/credit-packs/:pack/purchases", viewer, money, p.apiBuyPack)
	api.Get("/card", viewer, p.apiCard)
	api.Post("/card/checkouts", viewer, money, p.apiCardCheckout)
	api.Post("/card/completions", viewer, money, p.apiCardComplete)
	api.Get("/receipts", user, p.apiReceipts)
	api.Get("/receipts/:seat", user, p.apiReceipt)

	api.Get("/me/show", model, p.apiMyShow)
	api.Post("/me/show", model, p.apiGoLive)
	api.Delete("/me/show", model, p.apiEndShow)
	api.Put("/me/rate", model, p.apiSetRate)
	api.Put("/me/profile", model, p.apiSetProfile)
	api.Get("/me/requests", model, p.apiRequests)
	api.Get("/me/group", model, p.apiMyGroup)
	api.Put("/me/group-rate", model, p.apiSetGroupRate)
	api.Post("/me/group", model, p.apiStartGroup)
	api.Delete("/me/group", model, money, p.apiEndGroup)
	api.Get("/me/earnings", model, p.apiEarnings)
	api.Post("/requests/:id/accept", model, money, p.apiAccept)
	api.Post("/requests/:id/decline", model, p.apiDecline)
	api.Put("/me/cam2cam", model, p.apiSetCam2cam)
	api.Put("/me/spy-rate", model, p.apiSetSpyRate)
	api.Get("/me/spies", model, p.apiMySpies)
	api.Post("/seats/:seat/cam2cam/stop", model, p.apiStopCam2cam)

	if p.Tickets != nil {
		p.mountTicketAPI(api, viewer, model, money)
	}

	api.Get("/admin/plugins", admin, p.apiPlugins)
	api.Post("/admin/ledger/verify", admin, p.apiVerify)
	api.Get("/admin/seats", admin, p.apiAdminSeats)
	api.Get("/admin/pending-models", admin, p.apiPendingModels)
	api.Post("/admin/models/:id/approve", admin, p.apiApprove)
	api.Post("/admin/models/:id/reject", admin, p.apiReject)

	p.mountTippingAPI(api, viewer, model, money)

	// Anything else under the API is a JSON 404, never a page.
	api.All("/*", func(c *fiber.Ctx) error { return errs.E(errs.NotFound, "no API route %s %s", c.Method(), c.Path()) })
}

// apiGuard caps bodies and refuses what the API never answers: a body that
// is not JSON.
func (p *Product) apiGuard(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if len(c.Body()) > maxAPIBody {
		return fiber.NewError(fiber.StatusRequestEntityTooLarge, "the request body is larger than 16 KiB")
	}
	if len(c.Body()) > 0 {
		mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
		if err != nil || mt != fiber.MIMEApplicationJSON {
			return fiber.NewError(fiber.StatusUnsupportedMediaType, "send JSON with Content-Type: application/json")
		}
	}
	return c.Next()
}

// decode reads the body into dst strictly: one JSON object, no unknown
// fields, every req:"1" field present and not empty (not zero, blank, null,
// a pointer to a zero value, or an empty map or list). Anything else is a
// 400 naming the field, in JSON's words rather than Go's.
func decode(c *fiber.Ctx, dst any) error {
	body := bytes.Trim(c.Body(), " \t\r\n") // JSON's whitespace, not Unicode's
	if len(body) == 0 || body[0] != '{' {
		return invalid("body", "a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var ute *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &ute) && ute.Field != "":
			return invalid(ute.Field, "wrong type: want %s", jsonKind(ute.Type))
		case errors.As(err, &se):
			return invalid("body", "malformed JSON at byte %d", se.Offset)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			if f == "" {
				return invalid("body", "unknown field \"\"")
			}
			return invalid(f, "unknown field %q", f)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return invalid("body", "malformed JSON: it ends early")
		}
		return invalid("body", "malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("body", "one JSON object only")
	}
	v := reflect.ValueOf(dst).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if f.Tag.Get("req") == "1" && blank(v.Field(i)) {
			name := strings.Split(f.Tag.Get("json"), ",")[0]
			return invalid(name, "%s is required", name)
		}
	}
	return nil
}

// blank is what a required field must not be.
func blank(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return strings.TrimSpace(v.String()) == ""
	case reflect.Pointer:
		return v.IsNil() || blank(v.Elem())
	case reflect.Map, reflect.Slice:
		return v.Len() == 0
	}
	return v.IsZero()
}

// jsonKind names what a Go type reads from in JSON.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "another type"
}

func userJSON(u accounts.User) apiUser {
	return apiUser{ID: u.ID, DisplayName: u.DisplayName, Role: string(u.Role), Approved: !u.ApprovedAt.IsZero()}
}

func policyJSON(p pricing.Policy, funding string) apiPolicy {
	v := policyView(p, funding)
	return apiPolicy{RatePerMinute: v.RatePerMinute, Granularity: string(v.Granularity), MinimumCharge: v.Minimum,
		GraceSeconds: v.GraceSeconds, BlockSeconds: v.BlockSeconds, BlockCost: v.BlockCost, MaxPauseSeconds: v.MaxPauseSec, Funding: funding}
}

func seatJSON(s shows.Seat, viewerID string) apiSeat {
	out := apiSeat{ID: s.ID, ShowID: s.ShowID, ModelID: s.ModelID, ViewerName: s.ViewerName, Open: s.Open, Billing: s.Billing,
		OpenedAt: s.OpenedAt, Policy: policyJSON(s.Policy, s.Funding), BillableSeconds: s.BillableSeconds, RunningCost: s.RunningCost,
		RunningDisplay: display(s.RunningCost), FundedSeconds: s.FundedSeconds, WHEPURL: "/whep/" + s.ShowID, Mode: string(s.Mode), Warnings: s.Warnings}
	if s.Room != "" {
		out.ChatURL = "/ws/chat/" + s.Room
	}
	if out.Warnings == nil {
		out.Warnings = []theme.FundingWarning{}
	}
	if s.Open {
		out.PauseReason = s.PauseReason
		if !s.EndsAt.IsZero() {
			at := s.EndsAt.UTC()
			out.EndsAt = &at
		}
	}
	if s.ViewerID == viewerID {
		out.Token = s.Token
	}
	out.Spy = s.Spy
	if s.SpiesShown {
		n := s.Spies
		out.Spies = &n
	}
	return out
}

func (p *Product) showJSON(c *fiber.Ctx, s shows.Show) (apiShow, error) {
	m, err := p.Accounts.Profile(c.UserContext(), s.ModelID)
	if err != nil {
		return apiShow{}, err
	}
	return apiShow{ID: s.ID, ModelID: s.ModelID, ModelName: m.User.DisplayName, Mode: string(showMode(s.Mode)), Title: s.Title,
		Since: s.Since, Viewers: p.viewers(s), RatePerMinute: m.RatePerMinute, WHEPURL: "/whep/" + s.ID, ChatURL: "/ws/chat/" + s.ID}, nil
}

// ---- session ----

func (p *Product) apiCSRF(c *fiber.Ctx) error {
	return c.JSON(apiCSRF{Token: p.HTTP.CSRFToken(c)})
}

func (p *Product) apiLogin(c *fiber.Ctx) error {
	var b loginBody
	if err := decode(c, &b); err != nil {
		return err
	}
	res, err := p.Accounts.Login(c.UserContext(), accounts.LoginRequest{Email: b.Email, Password: b.Password, IP: clientaddr.String(c), UserAgent: c.Get(fiber.HeaderUserAgent)})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(apiSession{Token: res.Token, ExpiresAt: res.Session.ExpiresAt, User: userJSON(res.User)})
}

func (p *Product) apiLogout(c *fiber.Ctx) error {
	if err := p.HTTP.Logout(c); err != nil {
		return err
	}
	return c.JSON(apiOK{OK: true})
}

func (p *Product) apiSignup(c *fiber.Ctx) error {
	var b signupBody
	if err := decode(c, &b); err != nil {
		return err
	}
	role := accounts.Role(b.Role)
	switch {
	case role == "":
		role = accounts.RoleViewer
	case role == accounts.RoleModel && !p.ModelSignup:
		return invalid("role", "model sign-up is closed on this site")
	case role != accounts.RoleViewer && role != accounts.RoleModel:
		return invalid("role", "role must be viewer or model")
	}
	ctx := c.UserContext()
	u, err := p.Accounts.Signup(ctx, accounts.SignupRequest{NewUser: accounts.NewUser{Email: b.Email, DisplayName: b.DisplayName,
		Password: b.Password, Role: role}, Adult: b.Adult, IP: clientaddr.String(c)})
	if err != nil {
		return err
	}
	res, err := p.Accounts.StartSession(ctx, u.ID, clientaddr.String(c), c.Get(fiber.HeaderUserAgent))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(apiSession{Token: res.Token, ExpiresAt: res.Session.ExpiresAt, User: userJSON(u)})
}

func (p *Product) apiConfirmAge(c *fiber.Ctx) error {
	rec, err := p.HTTP.ConfirmAge(c)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": rec.ID, "minimum_age": rec.MinimumAge, "confirmed_at": rec.ConfirmedAt})
}

func (p *Product) apiMe(c *fiber.Ctx) error {
	u := me(c)
	out := userJSON(u)
	out.Email = u.Email
	if u.Role == accounts.RoleViewer {
		b, err := p.Wallets.Balance(c.UserContext(), u.ID)
		if err != nil {
			return err
		}
		out.Wallet = &b.Available
	}
	return c.JSON(out)
}

// ---- directory and rooms ----

func (p *Product) apiShows(c *fiber.Ctx) error {
	page, err := p.homeData(c)
	if err != nil {
		return err
	}
	out := make([]apiShow, 0, len(page.Live))
	for _, l := range page.Live {
		s, err := p.Shows.Show(c.UserContext(), l.ShowID)
		if err != nil {
			continue // went off air meanwhile
		}
		out = append(out, apiShow{ID: l.ShowID, ModelID: l.Model.ID, ModelName: l.Model.DisplayName, Mode: string(l.Mode), Title: s.Title,
			Since: s.Since, Viewers: l.Viewers, RatePerMinute: l.RatePerMinute, WHEPURL: "/whep/" + l.ShowID, ChatURL: "/ws/chat/" + l.ShowID})
	}
	return c.JSON(out)
}

func (p *Product) apiShow(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	s, err := p.Shows.Show(c.UserContext(), id)
	if err != nil {
		return err
	}
	out, err := p.showJSON(c, s)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (p *Product) apiQuote(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	s, err := p.Shows.Show(c.UserContext(), id)
	if err != nil {
		return err
	}
	q, err := p.Shows.Quote(c.UserContext(), s.ModelID, me(c).ID)
	if err != nil {
		return err
	}
	c2c, err := p.cam2camOffer(c.UserContext(), s.ModelID)
	if err != nil {
		return err
	}
	return c.JSON(apiQuote{Policy: policyJSON(q.Policy, q.Funding), Allowed: q.Allowed, Reason: q.Reason, Cam2camSurcharge: c2c})
}

// chatRoom checks a room id from the path: a show on air, or a seat the
// user may see.
func (p *Product) chatRoom(c *fiber.Ctx) (string, error) {
	id, err := param(c, "show")
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(id, "seat-") || strings.HasPrefix(id, "group-") {
		return id, p.canJoinChat(c, id)
	}
	_, err = p.Shows.Show(c.UserContext(), id)
	return id, err
}

func (p *Product) apiChatHistory(c *fiber.Ctx) error {
	room, err := p.chatRoom(c)
	if err != nil {
		return err
	}
	h, err := p.Chat.History(c.UserContext(), room, 100)
	if err != nil {
		return err
	}
	if h == nil {
		h = []theme.ChatMessage{}
	}
	return c.JSON(h)
}

func (p *Product) apiChatPost(c *fiber.Ctx) error {
	room, err := p.chatRoom(c)
	if err != nil {
		return err
	}
	var b chatBody
	if err := decode(c, &b); err != nil {
		return err
	}
	m, err := p.Chat.Post(c.UserContext(), room, p.member(c), b.Text)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(m)
}

func (p *Product) apiTip(c *fiber.Ctx) error {
	room, err := p.chatRoom(c)
	if err != nil {
		return err
	}
	var b tipBody
	if err := decode(c, &b); err != nil {
		return err
	}
	m, err := p.Chat.Tip(c.UserContext(), room, p.member(c), chat.TipRequest{TipID: b.TipID, Amount: *b.Amount, Text: b.Text})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(m)
}

func (p *Product) apiRequestPrivate(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	var b requestPrivateBody
	if len(c.Body()) > 0 { // the body is optional: no body asks without cam2cam
		if err := decode(c, &b); err != nil {
			return err
		}
	}
	r, err := p.Shows.RequestPrivateWith(c.UserContext(), me(c).ID, id, shows.PrivateOptions{Cam2cam: b.Cam2cam})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(requestJSON(r))
}

func requestJSON(r shows.Request) apiRequest {
	out := apiRequest{ID: r.ID, ShowID: r.ShowID, ViewerName: r.ViewerName, At: r.At, Rate: r.Rate, RateText: display(r.Rate), SeatID: r.SeatID, State: string(r.State),
		Cam2cam: r.Cam2cam}
	if r.Cam2cam {
		sur := r.Cam2camSurcharge
		out.Cam2camSurcharge = &sur
	}
	return out
}

func (p *Product) apiProfile(c *fiber.Ctx) error {
	id, err := param(c, "id")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	m, err := p.Accounts.Profile(ctx, id)
	if err != nil {
		return err
	}
	if m.User.ApprovedAt.IsZero() || m.User.Status != accounts.StatusActive {
		return errs.E(errs.NotFound, "no such model")
	}
	out := apiProfile{ID: m.User.ID, DisplayName: m.User.DisplayName, Bio: m.Bio, Tags: m.Tags, RatePerMinute: m.RatePerMinute, GroupRate: m.GroupRatePerMinute}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if s, ok, err := p.Shows.ShowOfModel(ctx, id); err != nil {
		return err
	} else if ok {
		out.ShowID = s.ID
	}
	return c.JSON(out)
}

// ---- seats, wallet, card, receipts ----

func (p *Product) apiMySeat(c *fiber.Ctx) error {
	s, ok, err := p.Shows.OpenSeatOf(c.UserContext(), me(c).ID)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.NotFound, "you have no private show in progress")
	}
	out, err := p.seatWithCam2cam(c, s)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (p *Product) apiSeat(c *fiber.Ctx) error {
	id, err := param(c, "seat")
	if err != nil {
		return err
	}
	s, err := p.Shows.Seat(c.UserContext(), me(c).ID, id)
	if err != nil {
		return err
	}
	out, err := p.seatWithCam2cam(c, s)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (p *Product) apiEndSeat(c *fiber.Ctx) error {
	id, err := param(c, "seat")
	if err != nil {
		return err
	}
	end, err := p.Shows.EndSeat(c.UserContext(), me(c).ID, id)
	if err != nil {
		return err
	}
	if !end.Settled {
		// Ended (the meter stopped at closed_at), settlement still waiting
		// for a processor: what is decided, and when to ask again.
		secs := max(1, int64((end.RetryAfter+time.Second-1)/time.Second))
		c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(secs, 10))
		return c.Status(fiber.StatusAccepted).JSON(end.Status)
	}
	return c.JSON(end.Receipt)
}

func (p *Product) apiWallet(c *fiber.Ctx) error {
	page, err := p.walletData(c)
	if err != nil {
		return err
	}
	bal, err := p.Wallets.Balance(c.UserContext(), me(c).ID)
	if err != nil {
		return err
	}
	out := apiWallet{Balance: bal.Available, Held: bal.Held, Posted: bal.Posted, History: page.History}
	if out.History == nil {
		out.History = []theme.LedgerRow{}
	}
	return c.JSON(out)
}

func (p *Product) apiPacks(c *fiber.Ctx) error {
	out := []apiPack{}
	for _, pk := range p.Packs.Packs() {
		out = append(out, apiPack{ID: pk.ID, Name: pk.Name, Price: pk.Price, Credits: pk.Credits(), Badge: pk.Badge})
	}
	return c.JSON(out)
}

func (p *Product) apiBuyPack(c *fiber.Ctx) error {
	pack := c.Params("pack")
	if len(pack) > 32 {
		return errs.E(errs.NotFound, "no such credit pack")
	}
	pu, err := p.Packs.Buy(c.UserContext(), me(c).ID, strings.Clone(pack), idempotency.Key(c))
	if err != nil {
		return err
	}
	credits, _ := pu.Price.Add(pu.Bonus)
	return c.Status(fiber.StatusCreated).JSON(apiPurchase{ID: pu.ID, PackID: pu.PackID, Processor: pu.Processor, State: string(pu.State), Price: pu.Price, Credits: credits})
}

func (p *Product) apiCard(c *fiber.Ctx) error {
	card, err := p.Cards.Card(c.UserContext(), me(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(apiCard{Processor: card.Processor, Brand: card.Brand, Last4: card.Last4, ExpMonth: card.ExpMonth, ExpYear: card.ExpYear, AddedAt: card.AddedAt,
		Retired: card.Retired})
}

func (p *Product) apiCardCheckout(c *fiber.Ctx) error {
	var b cardBody
	if len(c.Body()) > 0 {
		if err := decode(c, &b); err != nil {
			return err
		}
	}
	ret := p.absolute("/wallet/card/return")
	if b.ReturnURL != "" {
		if accounts.SafeReturnTo(b.ReturnURL) != b.ReturnURL {
			return invalid("return_url", "return_url must be a path on this site")
		}
		ret = p.absolute(b.ReturnURL)
	}
	co, err := p.Cards.BeginAddCard(c.UserContext(), me(c).ID, ret, idempotency.Key(c))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(apiCheckout{URL: co.URL, Method: co.Method, Fields: co.Fields, Processor: co.Processor})
}

func (p *Product) apiCardComplete(c *fiber.Ctx) error {
	var b cardCompleteBody
	if err := decode(c, &b); err != nil {
		return err
	}
	q := map[string][]string{}
	for k, v := range b.Params {
		q[k] = []string{v}
	}
	card, err := p.Cards.CompleteAddCard(c.UserContext(), me(c).ID, q)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(apiCard{Processor: card.Processor, Brand: card.Brand, Last4: card.Last4,
		ExpMonth: card.ExpMonth, ExpYear: card.ExpYear, AddedAt: card.AddedAt})
}

func (p *Product) apiReceipts(c *fiber.Ctx) error {
	rs, err := p.Shows.Receipts(c.UserContext(), me(c).ID, 100)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []billing.Receipt{}
	}
	return c.JSON(rs)
}

func (p *Product) apiReceipt(c *fiber.Ctx) error {
	id, err := param(c, "seat")
	if err != nil {
		return err
	}
	r, err := p.Shows.Receipt(c.UserContext(), me(c).ID, id)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

// ---- model ----

func (p *Product) apiMyShow(c *fiber.Ctx) error {
	ctx := c.UserContext()
	s, ok, err := p.Shows.ShowOfModel(ctx, me(c).ID)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.NotFound, "you are not on air")
	}
	return p.myShowJSON(c, s)
}

func (p *Product) myShowJSON(c *fiber.Ctx, s shows.Show) error {
	key, err := p.Shows.StreamKey(c.UserContext(), me(c).ID)
	if err != nil {
		return err
	}
	sj, err := p.showJSON(c, s)
	if err != nil {
		return err
	}
	return c.JSON(apiMyShow{Show: sj, StreamKey: key.Key, StreamKeyHint: key.Hint, WHIPURL: p.absolute("/whip")})
}

func (p *Product) apiGoLive(c *fiber.Ctx) error {
	s, err := p.Shows.GoLive(c.UserContext(), me(c).ID)
	if err != nil {
		return err
	}
	c.Status(fiber.StatusCreated)
	return p.myShowJSON(c, s)
}

func (p *Product) apiEndShow(c *fiber.Ctx) error {
	if err := p.Shows.EndShow(c.UserContext(), me(c).ID); err != nil {
		return err
	}
	return c.JSON(apiOK{OK: true})
}

func (p *Product) apiSetRate(c *fiber.Ctx) error {
	var b rateBody
	if err := decode(c, &b); err != nil {
		return err
	}
	u := me(c)
	m, err := p.Accounts.SetRate(c.UserContext(), u.ID, u.ID, *b.Rate)
	if err != nil {
		return err
	}
	return c.JSON(apiProfile{ID: u.ID, DisplayName: u.DisplayName, Bio: m.Bio, Tags: nonNil(m.Tags), RatePerMinute: m.RatePerMinute, GroupRate: m.GroupRatePerMinute})
}

func (p *Product) apiSetGroupRate(c *fiber.Ctx) error {
	var b rateBody
	if err := decode(c, &b); err != nil {
		return err
	}
	u := me(c)
	m, err := p.Accounts.SetGroupRate(c.UserContext(), u.ID, u.ID, *b.Rate)
	if err != nil {
		return err
	}
	return c.JSON(apiProfile{ID: u.ID, DisplayName: u.DisplayName, Bio: m.Bio, Tags: nonNil(m.Tags), RatePerMinute: m.RatePerMinute, GroupRate: m.GroupRatePerMinute})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (p *Product) apiSetProfile(c *fiber.Ctx) error {
	var b profileBody
	if err := decode(c, &b); err != nil {
		return err
	}
	if b.Bio == nil && b.Tags == nil {
		return invalid("body", "send bio, tags or both")
	}
	u := me(c)
	m, err := p.Accounts.UpdateProfile(c.UserContext(), u.ID, u.ID, accounts.ProfileUpdate{Bio: b.Bio, Tags: b.Tags})
	if err != nil {
		return err
	}
	return c.JSON(apiProfile{ID: u.ID, DisplayName: u.DisplayName, Bio: m.Bio, Tags: nonNil(m.Tags), RatePerMinute: m.RatePerMinute, GroupRate: m.GroupRatePerMinute})
}

func (p *Product) apiRequests(c *fiber.Ctx) error {
	rs, err := p.Shows.Requests(c.UserContext(), me(c).ID)
	if err != nil {
		return err
	}
	out := make([]apiRequest, 0, len(rs))
	for _, r := range rs {
		out = append(out, requestJSON(r))
	}
	return c.JSON(out)
}

func (p *Product) apiEarnings(c *fiber.Ctx) error {
	e, err := p.Shows.Earnings(c.UserContext(), me(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(e)
}

func (p *Product) apiAccept(c *fiber.Ctx) error {
	id, err := param(c, "id")
	if err != nil {
		return err
	}
	opt, err := acceptOptions(c.Query("others"))
	if err != nil {
		return err
	}
	if err := cam2camChoice(c.Query("cam2cam"), &opt); err != nil {
		return err
	}
	s, err := p.Shows.Accept(c.UserContext(), me(c).ID, id, opt)
	if err != nil {
		return err
	}
	out, err := p.seatWithCam2cam(c, s)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

// acceptOptions reads the model's choice for the other waiting requesters
// (the API's ?others=, the dashboard form's others field): keep by default.
func acceptOptions(others string) (shows.AcceptOptions, error) {
	switch others {
	case "", "keep":
		return shows.AcceptOptions{}, nil
	case "decline":
		return shows.AcceptOptions{DeclineOthers: true}, nil
	}
	return shows.AcceptOptions{}, invalid("others", "want keep or decline")
}

func (p *Product) apiDecline(c *fiber.Ctx) error {
	id, err := param(c, "id")
	if err != nil {
		return err
	}
	if err := p.Shows.Decline(c.UserContext(), me(c).ID, id); err != nil {
		return err
	}
	return c.JSON(apiOK{OK: true})
}

// ---- admin ----

func (p *Product) apiPlugins(c *fiber.Ctx) error {
	out := []theme.PluginStatus{}
	if p.Plugins != nil {
		out = append(out, p.Plugins()...)
	}
	return c.JSON(out)
}

func (p *Product) apiVerify(c *fiber.Ctx) error {
	v, err := p.verify(c)
	if err != nil {
		return err
	}
	if v.Problems == nil {
		v.Problems = []string{}
	}
	return c.JSON(v)
}

func (p *Product) apiAdminSeats(c *fiber.Ctx) error {
	seats, err := p.Shows.OpenSeats(c.UserContext(), me(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(seatsJSON(seats))
}

// seatsJSON is a list of seats as a staff view answers it (no tokens).
func seatsJSON(seats []shows.Seat) []apiSeat {
	out := make([]apiSeat, 0, len(seats))
	for _, s := range seats {
		out = append(out, seatJSON(s, ""))
	}
	return out
}

func (p *Product) apiPendingModels(c *fiber.Ctx) error {
	ms, err := p.Accounts.PendingModels(c.UserContext(), 100)
	if err != nil {
		return err
	}
	out := make([]apiUser, 0, len(ms))
	for _, m := range ms {
		u := userJSON(m)
		u.Email = m.Email
		out = append(out, u)
	}
	return c.JSON(out)
}

func (p *Product) apiApprove(c *fiber.Ctx) error {
	id, err := param(c, "id")
	if err != nil {
		return err
	}
	u, err := p.approveModel(c, id)
	if err != nil {
		return err
	}
	return c.JSON(userJSON(u))
}

func (p *Product) apiReject(c *fiber.Ctx) error {
	id, err := param(c, "id")
	if err != nil {
		return err
	}
	if err := p.suspend(c, id); err != nil {
		return err
	}
	return c.JSON(apiOK{OK: true})
}
