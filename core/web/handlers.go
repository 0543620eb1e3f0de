package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"github.com/camkit/camkit/core/clientaddr"
	"github.com/camkit/camkit/core/shows"
	"net/url"
	"strconv"
	"strings"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// Limits on what a form may carry; anything longer is refused before a
// service sees it.
const (
	maxQueryLen = 100
	maxIDLen    = 64
)

func (p *Product) mountPages(app *fiber.App) {
	user := p.HTTP.RequireUser()
	viewer := p.HTTP.RequireRole(accounts.RoleViewer)
	model := p.HTTP.RequireRole(accounts.RoleModel)
	admin := p.HTTP.RequireRole(accounts.RoleAdmin)
	money := p.moneyRoute()

	app.Get("/", p.home)
	app.Get("/age", p.ageGate)
	app.Post("/age", p.ageConfirm)
	app.Get("/login", p.loginPage)
	app.Post("/login", p.login)
	app.Get("/signup", p.signupPage)
	app.Post("/signup", p.signup)
	app.Post("/logout", p.logout)

	app.Get("/models/:id", p.profile)
	app.Get("/shows/:show", p.room)
	app.Get("/shows/:show/thumbnail", p.thumbnail)
	app.Post("/shows/:show/tip", user, money, p.tipForm)
	app.Post("/shows/:show/private", viewer, money, p.requestPrivate)
	app.Post("/shows/:show/group/join", viewer, money, p.joinGroupForm)
	app.Post("/shows/:show/spy", viewer, money, p.spyForm)
	app.Post("/shows/:show/group/leave", viewer, p.leaveGroupForm)

	app.Get("/seats/:seat", user, p.privateShow)
	app.Post("/seats/:seat/end", user, money, p.endSeat)
	app.Post("/seats/:seat/tip", viewer, money, p.tipSeatForm)

	app.Get("/wallet", viewer, p.wallet)
	app.Post("/wallet/packs", viewer, money, p.buyPack)
	app.Post("/wallet/card", viewer, money, p.addCard)
	app.Get("/wallet/card", viewer, p.addCard)
	// The processor's return link names its checkout: loading it twice
	// completes the card once and answers the same.
	app.Get("/wallet/card/return", viewer, p.idem.KeyedBy(func(c *fiber.Ctx) string { return c.Query(accounts.ReturnParam) }), p.cardReturn)
	app.Get("/receipts", user, p.receipts)
	app.Get("/receipts/:seat", user, p.receipt)

	app.Get("/dashboard", model, p.dashboard)
	app.Get("/help/obs", model, p.obsHelp)
	app.Post("/dashboard/live", model, p.goLive)
	app.Post("/dashboard/end", model, p.endShow)
	app.Post("/dashboard/stream-key", model, money, p.rotateKey)
	app.Post("/dashboard/rate", model, p.setRate)
	app.Post("/dashboard/group", model, p.groupForm)
	app.Post("/dashboard/group-rate", model, p.setGroupRate)
	app.Post("/dashboard/group/end", model, money, p.endGroupForm)
	app.Post("/dashboard/profile", model, p.setProfile)
	app.Post("/dashboard/requests/:id/accept", model, money, p.accept)
	app.Post("/dashboard/requests/:id/decline", model, p.decline)
	app.Post("/dashboard/cam2cam", model, p.setCam2cam)
	app.Post("/dashboard/spy-rate", model, p.setSpyRate)
	app.Post("/dashboard/seats/:seat/cam2cam/stop", model, p.stopCam2cam)

	if p.Tickets != nil {
		p.mountTicketPages(app, viewer, model, money)
	}

	app.Get("/admin", admin, p.admin)
	app.Post("/admin/verify", admin, p.adminVerify)
	app.Post("/admin/models/:id/approve", admin, p.approve)
	app.Post("/admin/models/:id/reject", admin, p.reject)

	p.mountTippingPages(app, viewer, model, money)
}

// Chrome fills the layout of every page from the request's session.
func (p *Product) Chrome(c *fiber.Ctx, l *theme.Layout) {
	l.CSRFToken = p.HTTP.CSRFToken(c)
	l.IdempotencyKey = newFormKey()
	nav := []theme.NavItem{{Label: "Live now", Href: "/"}}
	if u, ok := accounts.CurrentUser(c); ok {
		tu := &theme.User{ID: u.ID, Name: u.DisplayName, Role: roleOf(u.Role)}
		switch u.Role {
		case accounts.RoleViewer:
			if b, err := p.Wallets.Balance(c.UserContext(), u.ID); err == nil {
				tu.Wallet = b.Available
			}
			nav = append(nav, theme.NavItem{Label: "Wallet", Href: "/wallet"}, theme.NavItem{Label: "Receipts", Href: "/receipts"})
		case accounts.RoleModel:
			nav = append(nav, theme.NavItem{Label: "Dashboard", Href: "/dashboard"})
		case accounts.RoleAdmin:
			nav = append(nav, theme.NavItem{Label: "Admin", Href: "/admin"})
		}
		l.User = tu
	}
	if !p.ModelSignup {
		l.Links.Signup = "/signup"
	}
	for i := range nav {
		nav[i].Active = nav[i].Href == l.Path || nav[i].Href != "/" && strings.HasPrefix(l.Path, nav[i].Href)
	}
	l.Nav = nav
}

func param(c *fiber.Ctx, name string) (string, error) {
	v := c.Params(name)
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	if v == "" || len(v) > maxIDLen || strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		return "", errs.E(errs.NotFound, "no such %s", name)
	}
	return strings.Clone(v), nil
}

// ---- directory ----

func (p *Product) homeData(c *fiber.Ctx) (*theme.HomePage, error) {
	q, tag, err := homeSearch(c)
	if err != nil {
		return nil, err
	}
	return p.homePage(c.UserContext(), p.Pages.Layout(c), q, tag)
}

// homeSearch reads the home page's search: the text and the tag filter.
func homeSearch(c *fiber.Ctx) (q, tag string, err error) {
	q = strings.TrimSpace(c.Query("q"))
	tag = strings.ToLower(strings.TrimSpace(c.Query("tag")))
	if len(q) > maxQueryLen || len(tag) > maxQueryLen {
		return "", "", invalid("q", "search for at most %d characters", maxQueryLen)
	}
	return q, tag, nil
}

func (p *Product) homePage(ctx context.Context, l theme.Layout, q, tag string) (*theme.HomePage, error) {
	page := &theme.HomePage{Layout: l, Query: q}
	live, err := p.Shows.Live(ctx)
	if err != nil {
		return nil, err
	}
	models, err := p.directory.models(ctx, p.Accounts, q, tag)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]accounts.ModelProfile, len(models))
	tags := map[string]bool{}
	for _, m := range models {
		byID[m.User.ID] = m
		for _, t := range m.Tags {
			tags[t] = true
		}
	}
	onAir := map[string]bool{}
	for _, s := range live {
		m, ok := byID[s.ModelID]
		if !ok {
			continue // filtered out by the search
		}
		if !p.present(s) {
			continue // on air, but her media has been gone too long
		}
		onAir[s.ModelID] = true
		sum := modelSummary(m.User.ID, m.User.DisplayName)
		sum.RoomURL = "/shows/" + s.ID
		page.Live = append(page.Live, theme.LiveModel{Model: sum, ShowID: s.ID, Mode: showMode(s.Mode), Viewers: p.viewers(s),
			ThumbnailURL: p.thumbnailURL(s.ID), RatePerMinute: m.RatePerMinute, Tags: m.Tags})
	}
	for _, m := range models {
		if !onAir[m.User.ID] && len(page.Offline) < 24 {
			page.Offline = append(page.Offline, modelSummary(m.User.ID, m.User.DisplayName))
		}
	}
	for t := range tags {
		page.Tags = append(page.Tags, t)
	}
	sortStrings(page.Tags)
	return page, nil
}

// viewers is a show's count as pages show it.
func (p *Product) viewers(s shows.Show) int {
	if p.Audience != nil {
		return p.Audience.Viewers(s.ID)
	}
	return s.Viewers
}

// present says whether a show on air belongs on the grid.
func (p *Product) present(s shows.Show) bool {
	return p.Audience == nil || p.Audience.OnAir(s.ID, s.Since)
}

// thumbnailURL is the show's picture route, "" without thumbnails.
func (p *Product) thumbnailURL(showID string) string {
	if p.Thumbnails == nil {
		return ""
	}
	return "/shows/" + url.PathEscape(showID) + "/thumbnail"
}

// thumbnail answers a show's picture. Whatever cannot show a frame (a show
// off air, private or group, or without a picture yet) still answers an
// image, so no page's <img> breaks; only a show the host has on air in
// public may get a frame.
func (p *Product) thumbnail(c *fiber.Ctx) error {
	if p.Thumbnails == nil {
		return fiber.ErrNotFound
	}
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	public := false
	if s, err := p.Shows.Show(c.UserContext(), id); err == nil {
		public = s.Mode == theme.ModePublic
	} else if errs.CodeOf(err) != errs.NotFound {
		return err
	}
	return p.Thumbnails.Serve(c, id, public)
}

// home is shared among visitors without a session (Pages.RenderShared): it
// is rendered through the theme at most about once a second per search,
// and again as soon as someone goes on or off air.
func (p *Product) home(c *fiber.Ctx) error {
	q, tag, err := homeSearch(c)
	if err != nil {
		return err
	}
	var version uint64
	if v, ok := p.Shows.(LiveVersioner); ok {
		version = v.LiveVersion()
	}
	// q's length first keeps the key unambiguous whatever the two contain.
	key := "home/" + strconv.Itoa(len(q)) + ":" + q + tag
	ctx := c.UserContext()
	return p.Pages.RenderShared(c, key, version, func(l theme.Layout) (theme.Page, error) {
		return p.homePage(ctx, l, q, tag)
	})
}

func (p *Product) profile(c *fiber.Ctx) error {
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
	page := &theme.ModelProfilePage{Layout: p.Pages.Layout(c), Model: modelSummary(m.User.ID, m.User.DisplayName),
		Bio: m.Bio, Tags: m.Tags, Mode: theme.ModeOffline, RatePerMinute: m.RatePerMinute}
	if s, ok, err := p.Shows.ShowOfModel(ctx, id); err != nil {
		return err
	} else if ok {
		page.Mode = showMode(s.Mode)
		page.Model.RoomURL = "/shows/" + s.ID
	}
	if page.TicketShow, _, err = p.ticketOffer(c, id, "/models/"+id); err != nil {
		return err
	}
	return p.Pages.Render(c, page)
}

// ---- age gate and accounts ----

func (p *Product) ageGate(c *fiber.Ctx) error {
	return p.Pages.Render(c, &theme.AgeGatePage{Layout: p.Pages.Layout(c), Action: "/age",
		ReturnTo: accounts.SafeReturnTo(c.Query("return_to")), MinimumAge: p.Accounts.MinimumAge(),
		ExitURL: "https://www.google.com/"})
}

func (p *Product) ageConfirm(c *fiber.Ctx) error {
	if _, err := p.HTTP.ConfirmAge(c); err != nil {
		return err
	}
	return c.Redirect(accounts.SafeReturnTo(c.FormValue("return_to")), fiber.StatusSeeOther)
}

func (p *Product) loginPage(c *fiber.Ctx) error {
	if _, ok := accounts.CurrentUser(c); ok {
		return c.Redirect(accounts.SafeReturnTo(c.Query("return_to")), fiber.StatusSeeOther)
	}
	return p.Pages.Render(c, &theme.LoginPage{Layout: p.Pages.Layout(c), Action: "/login",
		ReturnTo: accounts.SafeReturnTo(c.Query("return_to"))})
}

func (p *Product) login(c *fiber.Ctx) error {
	email := c.FormValue("email")
	res, err := p.Accounts.Login(c.UserContext(), accounts.LoginRequest{Email: email, Password: c.FormValue("password"),
		IP: clientaddr.String(c), UserAgent: c.Get(fiber.HeaderUserAgent)})
	if err != nil {
		if len(email) > accounts.MaxEmailLen {
			email = ""
		}
		code := errs.CodeOf(err)
		if code != errs.Invalid && code != errs.Unauthenticated && code != errs.Forbidden && StatusOf(err) != fiber.StatusTooManyRequests {
			return err
		}
		c.Status(StatusOf(err))
		return p.renderStatus(c, StatusOf(err), &theme.LoginPage{Layout: p.Pages.Layout(c), Action: "/login", Email: email,
			ReturnTo: accounts.SafeReturnTo(c.FormValue("return_to")), Errors: fieldErrors(err)})
	}
	p.HTTP.SetSession(c, res)
	to := accounts.SafeReturnTo(c.FormValue("return_to"))
	if to == "/" {
		to = landing(res.User.Role)
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}

// landing is where a role starts after logging in.
func landing(r accounts.Role) string {
	switch r {
	case accounts.RoleModel:
		return "/dashboard"
	case accounts.RoleAdmin:
		return "/admin"
	}
	return "/"
}

// renderStatus renders a form page again with the status of what went wrong.
func (p *Product) renderStatus(c *fiber.Ctx, status int, page theme.Page) error {
	r, err := p.Pages.Theme.Render(c.UserContext(), page)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).Send(r.HTML)
}

func (p *Product) signupPage(c *fiber.Ctx) error {
	role := theme.RoleViewer
	if c.Query("role") == "model" && p.ModelSignup {
		role = theme.RoleModel
	}
	return p.Pages.Render(c, &theme.SignupPage{Layout: p.Pages.Layout(c), Action: "/signup", Role: role,
		AllowModel: p.ModelSignup, MinimumAge: p.Accounts.MinimumAge()})
}

func (p *Product) signup(c *fiber.Ctx) error {
	role := accounts.RoleViewer
	if c.FormValue("role") == string(accounts.RoleModel) && p.ModelSignup {
		role = accounts.RoleModel
	}
	email, name := c.FormValue("email"), c.FormValue("display_name")
	u, err := p.Accounts.Signup(c.UserContext(), accounts.SignupRequest{
		NewUser: accounts.NewUser{Email: email, DisplayName: name, Password: c.FormValue("password"), Role: role},
		Adult:   formBool(c.FormValue("adult")), IP: clientaddr.String(c)})
	if err == nil {
		var res accounts.LoginResult
		if res, err = p.Accounts.StartSession(c.UserContext(), u.ID, clientaddr.String(c), c.Get(fiber.HeaderUserAgent)); err == nil {
			p.HTTP.SetSession(c, res)
			if role == accounts.RoleModel {
				return back(c, "/dashboard", theme.FlashInfo, "Welcome, %s. An admin will approve your account before you can go live.", u.DisplayName)
			}
			return back(c, "/", theme.FlashSuccess, "Welcome, %s.", u.DisplayName)
		}
	}
	code := errs.CodeOf(err)
	if code != errs.Invalid && code != errs.Conflict {
		return err
	}
	if len(email) > accounts.MaxEmailLen {
		email = ""
	}
	if len(name) > 4*accounts.MaxDisplayNameLen {
		name = ""
	}
	return p.renderStatus(c, StatusOf(err), &theme.SignupPage{Layout: p.Pages.Layout(c), Action: "/signup", Email: email,
		DisplayName: name, Role: theme.Role(role), AllowModel: p.ModelSignup, MinimumAge: p.Accounts.MinimumAge(), Errors: fieldErrors(err)})
}

func formBool(v string) bool { return v == "on" || v == "true" || v == "1" || v == "yes" }

func (p *Product) logout(c *fiber.Ctx) error {
	if err := p.HTTP.Logout(c); err != nil {
		return err
	}
	return back(c, "/", theme.FlashInfo, "You are logged out.")
}

// ---- rooms ----

func (p *Product) roomData(c *fiber.Ctx, showID string) (*theme.RoomPage, error) {
	ctx := c.UserContext()
	s, err := p.Shows.Show(ctx, showID)
	if err != nil {
		return nil, err
	}
	m, err := p.Accounts.Profile(ctx, s.ModelID)
	if err != nil {
		return nil, err
	}
	hist, err := p.Chat.History(ctx, s.ID, 50)
	if err != nil {
		return nil, err
	}
	sum := modelSummary(m.User.ID, m.User.DisplayName)
	sum.RoomURL = "/shows/" + s.ID
	page := &theme.RoomPage{Layout: p.Pages.Layout(c), ShowID: s.ID, Model: sum, Mode: showMode(s.Mode), Title: s.Title,
		Viewers: p.viewers(s), PlayerURL: "/whep/" + s.ID, ChatURL: "/ws/chat/" + s.ID, Chat: hist, PosterURL: p.thumbnailURL(s.ID)}
	u, signedIn := accounts.CurrentUser(c)
	page.CanChat = signedIn
	q, err := p.Shows.Quote(ctx, s.ModelID, u.ID)
	if err != nil {
		return nil, err
	}
	page.Private = policyView(q.Policy, q.Funding)
	if page.Cam2camSurcharge, err = p.cam2camOffer(ctx, s.ModelID); err != nil {
		return nil, err
	}
	if page.TicketShow, page.TicketToken, err = p.ticketOffer(c, s.ModelID, "/shows/"+s.ID); err != nil {
		return nil, err
	}
	if signedIn && u.Role == accounts.RoleViewer {
		page.TipAction = "/shows/" + s.ID + "/tip"
		page.TipPresets = p.TipPresets
		page.PrivateAllowed = q.Allowed && s.Mode == theme.ModePublic
		page.PrivateAction = "/shows/" + s.ID + "/private"
		if _, pending, err := p.Shows.PendingRequest(ctx, u.ID, s.ID); err != nil {
			return nil, err
		} else {
			page.PrivatePending = pending
		}
		if !q.Allowed && q.Reason != "" {
			page.Layout.Flashes = append(page.Layout.Flashes, theme.Flash{Level: theme.FlashInfo, Message: q.Reason})
		}
	}
	if err := p.roomTipping(ctx, page, s.ModelID, signedIn && u.Role == accounts.RoleViewer); err != nil {
		return nil, err
	}
	if page.Spy, err = p.spyOffer(c, s.ID); err != nil {
		return nil, err
	}
	if page.Group, err = p.groupOffer(c, s.ID); err != nil {
		return nil, err
	}
	return page, nil
}

func (p *Product) room(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	if u, ok := accounts.CurrentUser(c); ok && u.Role == accounts.RoleViewer {
		// A viewer whose private request was accepted belongs in her seat.
		if seat, ok, err := p.Shows.OpenSeatOf(c.UserContext(), u.ID); err != nil {
			return err
		} else if ok && seat.ShowID == id {
			return c.Redirect("/seats/"+seat.ID, fiber.StatusSeeOther)
		}
	}
	page, err := p.roomData(c, id)
	if err != nil {
		return err
	}
	return p.Pages.Render(c, page)
}

func (p *Product) member(c *fiber.Ctx) chat.Member {
	u := me(c)
	return chat.Member{UserID: u.ID, Name: u.DisplayName, Role: roleOf(u.Role)}
}

// formTipID names a tip sent from a form: derived from the request's
// idempotency key (the page's key, the form and its fields), so a double
// submit is one tip down to the ledger (tip/<viewer>/<tip id>/...); random
// for a form without a key. The API and the chat socket take the client's.
func formTipID(key string) string {
	if key != "" {
		return "form-" + idempotency.ID("tip", key)
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "form-" + hex.EncodeToString(b[:])
}

func (p *Product) tip(c *fiber.Ctx, room string) error {
	amt, err := parseAmount("amount", c.FormValue("amount"), p.Accounts.Currency())
	if err != nil {
		return err
	}
	if cur := c.FormValue("currency"); cur != "" && cur != amt.Currency {
		return invalid("currency", "tips are in %s", amt.Currency)
	}
	_, err = p.Chat.Tip(c.UserContext(), room, p.member(c), chat.TipRequest{TipID: formTipID(idempotency.Key(c)), Amount: amt, Text: c.FormValue("text")})
	return err
}

func (p *Product) tipForm(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	to := "/shows/" + id
	if err := p.tip(c, id); err != nil {
		return p.formFailed(c, to, err)
	}
	return back(c, to, theme.FlashSuccess, "Thank you for the tip!")
}

// formFailed sends a refused form back to its page with the reason, unless
// the failure is ours (then the error page says so).
func (p *Product) formFailed(c *fiber.Ctx, to string, err error) error {
	if StatusOf(err) >= 500 && StatusOf(err) != fiber.StatusNotImplemented {
		return err
	}
	// Not found and not allowed are not something to retry on the same page.
	switch errs.CodeOf(err) {
	case errs.NotFound, errs.Forbidden, errs.Unauthenticated:
		return err
	}
	var fe *FieldError
	if !isKnown(err) && !asField(err, &fe) {
		return err
	}
	return back(c, to, theme.FlashError, "%s", message(err))
}

func isKnown(err error) bool {
	switch errs.CodeOf(err) {
	case errs.Internal, "":
		return StatusOf(err) == fiber.StatusTooManyRequests
	}
	return true
}

func asField(err error, fe **FieldError) bool {
	for e := err; e != nil; {
		if f, ok := e.(*FieldError); ok {
			*fe = f
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

func (p *Product) requestPrivate(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	to := "/shows/" + id
	opt := shows.PrivateOptions{Cam2cam: c.FormValue("cam2cam") == "1"}
	if _, err := p.Shows.RequestPrivateWith(c.UserContext(), me(c).ID, id, opt); err != nil {
		return p.formFailed(c, to, err)
	}
	return back(c, to, theme.FlashInfo, "Request sent: the price shown is locked when the model accepts.")
}

// ---- private show ----

func (p *Product) privateData(c *fiber.Ctx, seatID string) (*theme.PrivateShowPage, error) {
	ctx := c.UserContext()
	u := me(c)
	s, err := p.Shows.Seat(ctx, u.ID, seatID)
	if err != nil {
		return nil, err
	}
	page := &theme.PrivateShowPage{Layout: p.Pages.Layout(c), SeatID: s.ID, ShowID: s.ShowID,
		Model: modelSummary(s.ModelID, p.userName(ctx, s.ModelID)), Mode: showMode(s.Mode), Policy: policyView(s.Policy, s.Funding),
		RunningSeconds: s.BillableSeconds, RunningCost: s.RunningCost, FundedSeconds: s.FundedSeconds, Warnings: s.Warnings,
		PlayerURL: "/whep/" + s.ShowID, ChatURL: "/ws/chat/" + s.Room}
	if s.Spy {
		// A spy watches only: no chat, no tips, no camera.
		page.Spy, page.ChatURL = true, ""
		if s.ViewerID == u.ID {
			page.SeatToken = s.Token
		}
		if s.Open {
			page.EndAction = "/seats/" + s.ID + "/end"
		}
		return page, nil
	}
	if s.SpiesShown {
		n := s.Spies
		page.Spies = &n
	}
	if s.ViewerID == u.ID {
		page.SeatToken = s.Token
		page.TipAction = "/seats/" + s.ID + "/tip"
		page.TipPresets = p.TipPresets
	}
	if s.Open {
		page.EndAction = "/seats/" + s.ID + "/end"
		if x, ok, err := p.cam2camOf(ctx, u.ID, s.ID); err != nil {
			return nil, err
		} else if ok && x.Granted && s.ViewerID == u.ID {
			page.Cam2cam = &theme.Cam2camPublish{PublishURL: "/whip", SurchargePerMinute: x.SurchargePerMinute}
		}
	}
	hist, err := p.Chat.History(ctx, s.Room, 50)
	if err != nil {
		return nil, err
	}
	page.Chat = hist
	if p.Tipping != nil {
		r, err := p.Tipping.Room(ctx, s.ModelID)
		if err != nil {
			return nil, err
		}
		page.Goal = goalView(r.Goal)
	}
	return page, nil
}

// PrivateRoom is the chat room of a seat: only its viewer and its model
// are let in (see canJoinChat).
func PrivateRoom(seatID string) string { return shows.PrivateRoom(seatID) }

func (p *Product) privateShow(c *fiber.Ctx) error {
	id, err := param(c, "seat")
	if err != nil {
		return err
	}
	page, err := p.privateData(c, id)
	if err != nil {
		return err
	}
	if page.EndAction == "" {
		// Over: the receipt is the page to see (settlement may be a moment behind).
		return c.Redirect("/receipts/"+id, fiber.StatusSeeOther)
	}
	return p.Pages.Render(c, page)
}

func (p *Product) endSeat(c *fiber.Ctx) error {
	id, err := param(c, "seat")
	if err != nil {
		return err
	}
	end, err := p.Shows.EndSeat(c.UserContext(), me(c).ID, id)
	if err != nil {
		return p.formFailed(c, "/seats/"+id, err)
	}
	switch {
	case me(c).Role == accounts.RoleModel:
		return back(c, "/dashboard", theme.FlashInfo, "The private show has ended.")
	case !end.Settled:
		// The receipt page says it is being written and refreshes itself.
		return back(c, "/receipts/"+id, theme.FlashInfo, "The show has ended and billing stopped. The payment is still settling: your receipt will appear here in a moment.")
	}
	return back(c, "/receipts/"+id, theme.FlashSuccess, "The show has ended. Here is your receipt.")
}

func (p *Product) tipSeatForm(c *fiber.Ctx) error {
	id, err := param(c, "seat")
	if err != nil {
		return err
	}
	to := "/seats/" + id
	s, err := p.Shows.Seat(c.UserContext(), me(c).ID, id)
	if err != nil {
		return err
	}
	if s.Room == "" { // ended before a restart: its own room
		s.Room = PrivateRoom(id)
	}
	if err := p.tip(c, s.Room); err != nil {
		return p.formFailed(c, to, err)
	}
	return back(c, to, theme.FlashSuccess, "Thank you for the tip!")
}

// canJoinChat lets anyone read a public room and only a seat's viewer and
// model (and admins) into a seat's room; a group's room is its seat
// holders' and its model's (core/shows says who).
func (p *Product) canJoinChat(c *fiber.Ctx, room string) error {
	seatID, ok := strings.CutPrefix(room, "seat-")
	group := strings.HasPrefix(room, "group-")
	if !ok && !group {
		return nil
	}
	u, signedIn := accounts.CurrentUser(c)
	if !signedIn {
		return accounts.ErrNoSession
	}
	if group {
		return p.Shows.GroupMember(c.UserContext(), u.ID, room)
	}
	s, err := p.Shows.Seat(c.UserContext(), u.ID, seatID)
	if err == nil && s.Spy {
		// A spy seat has no room: a spy only watches.
		return errs.E(errs.Forbidden, "a spy only watches: there is no chat in a spy seat")
	}
	return err
}

// sortStrings sorts in place (tags are few).
func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

var _ = context.Background
