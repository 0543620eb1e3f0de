package web

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/audit"
	"github.com/camkit/camkit/core/clientaddr"
	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// ---- wallet, card, credit packs ----

func (p *Product) walletData(c *fiber.Ctx) (*theme.WalletPage, error) {
	ctx := c.UserContext()
	u := me(c)
	bal, err := p.Wallets.Balance(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	hist, err := p.Wallets.History(ctx, u.ID, 50)
	if err != nil {
		return nil, err
	}
	page := &theme.WalletPage{Layout: p.Pages.Layout(c), Balance: bal.Available, Held: bal.Held, BuyAction: "/wallet/packs"}
	for _, pk := range p.Packs.Packs() {
		page.Packs = append(page.Packs, theme.CreditPack{ID: pk.ID, Name: pk.Name, Price: pk.Price, Credits: pk.Credits(), Badge: pk.Badge})
	}
	for _, e := range hist {
		row := theme.LedgerRow{At: e.At, Description: e.Description, Amount: e.Amount, Balance: e.Balance, Pending: e.Pending, Reference: e.Reference}
		if seat, ok := seatOfKey(e.Reference); ok {
			row.ReceiptURL = "/receipts/" + seat
		}
		page.History = append(page.History, row)
	}
	if err := p.walletTickets(ctx, u.ID, page); err != nil {
		return nil, err
	}
	card, err := p.Cards.Card(ctx, u.ID)
	switch {
	case err == nil && card.Retired:
		page.Layout.Flashes = append(page.Layout.Flashes, theme.Flash{Level: theme.FlashWarning,
			Message: retiredCard(card) + " Add a card at /wallet/card to buy credits and go private."})
	case err == nil:
		page.Layout.Flashes = append(page.Layout.Flashes, theme.Flash{Level: theme.FlashInfo,
			Message: "Card on file: " + card.Brand + " ending " + card.Last4 + ". Credit packs are charged to it."})
	case errs.CodeOf(err) == errs.NotFound:
		page.Layout.Flashes = append(page.Layout.Flashes, theme.Flash{Level: theme.FlashWarning,
			Message: "No card on file yet: add one at /wallet/card to buy credits and go private."})
	default:
		return nil, err
	}
	return page, nil
}

// seatOfKey finds the seat a ledger idempotency key belongs to
// (seat/<id>/...), so a wallet line links to its receipt.
func seatOfKey(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "seat/")
	if !ok {
		return "", false
	}
	id, _, _ := strings.Cut(rest, "/")
	return id, id != ""
}

func (p *Product) wallet(c *fiber.Ctx) error {
	page, err := p.walletData(c)
	if err != nil {
		return err
	}
	return p.Pages.Render(c, page)
}

func (p *Product) buyPack(c *fiber.Ctx) error {
	pack := c.FormValue("pack")
	if len(pack) > 32 {
		return p.formFailed(c, "/wallet", invalid("pack", "no such credit pack"))
	}
	pu, err := p.Packs.Buy(c.UserContext(), me(c).ID, pack, idempotency.Key(c))
	if err != nil {
		if handled, ferr := cardMissing(c, err, "credit packs are charged to it"); handled {
			return ferr
		}
		return p.formFailed(c, "/wallet", err)
	}
	total, _ := pu.Price.Add(pu.Bonus)
	return back(c, "/wallet", theme.FlashSuccess, "%s credits added to your wallet.", display(total))
}

func display(m money.Money) string {
	d, err := money.FormatDecimal(m)
	if err != nil {
		return m.String()
	}
	return d + " " + m.Currency
}

// addCard starts the processor's checkout and shows the theme's checkout
// page, which sends the viewer to the processor's own card form (camkit
// never sees the card number).
func (p *Product) addCard(c *fiber.Ctx) error {
	co, err := p.Cards.BeginAddCard(c.UserContext(), me(c).ID, p.absolute("/wallet/card/return"), idempotency.Key(c))
	if err != nil {
		return err
	}
	desc := "Add a card for credit packs, tips and private shows. Nothing is charged now."
	if was, err := p.Cards.Card(c.UserContext(), me(c).ID); err == nil && was.Retired {
		desc = retiredCard(was) + " Add a card to continue: nothing is charged now."
	}
	page := &theme.CheckoutPage{Layout: p.Pages.Layout(c), Processor: co.Processor, Description: desc,
		Amount: money.Money{Currency: p.Accounts.Currency()}, Mode: theme.CheckoutRedirect, URL: co.URL, CancelURL: "/wallet"}
	if co.Method == "POST" {
		page.Mode = theme.CheckoutPost
		AllowFormAction(c, co.URL) // the form posts to the processor's hosted page (Epoch, NETbilling)
		for k, v := range co.Fields {
			page.Fields = append(page.Fields, theme.FormField{Name: k, Value: v})
		}
	}
	return p.Pages.Render(c, page)
}

// retiredCard says which card the viewer had where, once that processor
// takes no new payments.
func retiredCard(c accounts.Card) string {
	return fmt.Sprintf("Your saved card (%s ending %s) was with %s, which this site no longer uses for new payments.", c.Brand, c.Last4, c.Processor)
}

func (p *Product) absolute(path string) string {
	if p.PublicURL == "" {
		return path
	}
	return strings.TrimRight(p.PublicURL, "/") + path
}

func (p *Product) cardReturn(c *fiber.Ctx) error {
	q, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return invalid("query", "malformed return link")
	}
	card, err := p.Cards.CompleteAddCard(c.UserContext(), me(c).ID, q)
	if err != nil {
		return p.formFailed(c, "/wallet", err)
	}
	return back(c, "/wallet", theme.FlashSuccess, "Card %s ending %s saved.", card.Brand, card.Last4)
}

// ---- receipts ----

func (p *Product) receipts(c *fiber.Ctx) error {
	ctx := c.UserContext()
	rs, err := p.Shows.Receipts(ctx, me(c).ID, 100)
	if err != nil {
		return err
	}
	// The theme has one receipt page kind: the list is the wallet's history
	// for viewers, so /receipts shows the newest receipt and links the rest
	// through the wallet. With none, say so.
	if len(rs) == 0 {
		return p.Pages.RenderError(c, fiber.StatusNotFound, "You have no receipts yet: they appear here after a private show.")
	}
	return c.Redirect("/receipts/"+rs[0].SeatID, fiber.StatusSeeOther)
}

func (p *Product) receipt(c *fiber.Ctx) error {
	id, err := param(c, "seat")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	r, err := p.Shows.Receipt(ctx, me(c).ID, id)
	if errs.CodeOf(err) == errs.Conflict {
		// Closed, settlement a moment behind: say so and let the page refresh.
		c.Set("Refresh", "2")
		return p.Pages.RenderError(c, fiber.StatusAccepted, "The show has ended; the receipt is being written. This page refreshes by itself.")
	}
	if err != nil {
		return err
	}
	page := receiptView(r, p.userName(ctx, r.ModelID), p.userName(ctx, r.ViewerID))
	page.Layout = p.Pages.Layout(c)
	return p.Pages.Render(c, &page)
}

// ---- model dashboard ----

func (p *Product) dashboardData(c *fiber.Ctx) (*theme.ModelDashboardPage, error) {
	ctx := c.UserContext()
	u := me(c)
	m, err := p.Accounts.Profile(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	page := &theme.ModelDashboardPage{Layout: p.Pages.Layout(c), Model: modelSummary(u.ID, u.DisplayName), Mode: theme.ModeOffline,
		Rate: m.RatePerMinute, RateAction: "/dashboard/rate", GroupRate: m.GroupRatePerMinute, GroupRateAction: "/dashboard/group-rate"}
	if !u.CanBroadcast() {
		page.Layout.Flashes = append(page.Layout.Flashes, theme.Flash{Level: theme.FlashWarning,
			Message: "Your account is waiting for an admin's approval; you can go live once approved."})
	} else {
		page.GoLiveAction = "/dashboard/live"
	}
	s, live, err := p.Shows.ShowOfModel(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if u.CanBroadcast() {
		// Her one key, for OBS: whole only on the first page after it was
		// made or rotated. This page's own camera publishes with a pass of
		// its own, since the page cannot read the key back.
		key, err := p.Shows.StreamKey(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		pass, err := p.Shows.CameraPass(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		page.StreamKey, page.StreamKeyHint = key.Key, key.Hint
		page.WHIPURL, page.RotateKeyAction, page.OBSHelpURL = p.absolute("/whip"), "/dashboard/stream-key", "/help/obs"
		page.PublishURL, page.PublishToken = "/whip", pass
	}
	if live {
		page.Live, page.ShowID, page.Mode, page.Viewers = true, s.ID, showMode(s.Mode), p.viewers(s)
		page.Publishing, page.EndAction = s.Publishing, "/dashboard/end"
		page.Model.RoomURL = "/shows/" + s.ID
	}
	q, err := p.Shows.Quote(ctx, u.ID, "")
	if err != nil {
		return nil, err
	}
	page.Policy = policyView(q.Policy, q.Funding)
	reqs, err := p.Shows.Requests(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range reqs {
		page.Requests = append(page.Requests, theme.PrivateRequest{ID: r.ID, Viewer: r.ViewerName, At: r.At, Mode: theme.ModePrivate,
			RatePerMinute: r.Rate, AcceptAction: "/dashboard/requests/" + r.ID + "/accept", DeclineAction: "/dashboard/requests/" + r.ID + "/decline",
			Cam2cam: r.Cam2cam, Cam2camSurcharge: r.Cam2camSurcharge})
	}
	if err := p.cam2camDashboard(ctx, page, m.Cam2camSurcharge); err != nil {
		return nil, err
	}
	if err := p.spyDashboard(ctx, page, m.SpyRatePerMinute); err != nil {
		return nil, err
	}
	if page.Earnings, err = p.Shows.Earnings(ctx, u.ID); err != nil {
		return nil, err
	}
	if err := p.dashboardTickets(ctx, u, page); err != nil {
		return nil, err
	}
	if err := p.dashboardTipping(ctx, page, u.ID); err != nil {
		return nil, err
	}
	if live && page.Mode != theme.ModePrivate {
		page.GroupAction = "/dashboard/group"
	}
	if page.Group, err = p.groupState(c); err != nil {
		return nil, err
	}
	return page, nil
}

func (p *Product) dashboard(c *fiber.Ctx) error {
	page, err := p.dashboardData(c)
	if err != nil {
		return err
	}
	return p.Pages.Render(c, page)
}

// obsHelp is the "Stream from OBS" page, with her WHIP URL and key.
func (p *Product) obsHelp(c *fiber.Ctx) error {
	u := me(c)
	page := &theme.StreamHelpPage{Layout: p.Pages.Layout(c), WHIPURL: p.absolute("/whip"), DashboardURL: "/dashboard"}
	if u.CanBroadcast() {
		key, err := p.Shows.StreamKey(c.UserContext(), u.ID)
		if err != nil {
			return err
		}
		page.StreamKey, page.StreamKeyHint = key.Key, key.Hint
	}
	return p.Pages.Render(c, page)
}

func (p *Product) goLive(c *fiber.Ctx) error {
	if _, err := p.Shows.GoLive(c.UserContext(), me(c).ID); err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	return back(c, "/dashboard", theme.FlashSuccess, "You are live: your camera starts below, unless OBS is already streaming with your key.")
}

// rotateKey gives the model a new stream key, shown once on the dashboard
// it redirects to (the key is not in the flash: the idempotency record
// keeps a form's answer, cookies included, and must not hold a key). It
// runs under the idempotency middleware: a double submit rotates once.
func (p *Product) rotateKey(c *fiber.Ctx) error {
	if _, err := p.Shows.RotateStreamKey(c.UserContext(), me(c).ID); err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	return back(c, "/dashboard", theme.FlashSuccess, "Your stream key was replaced and whoever streamed with the old one was cut off: "+
		"paste the new one into OBS.")
}

func (p *Product) endShow(c *fiber.Ctx) error {
	if err := p.Shows.EndShow(c.UserContext(), me(c).ID); err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	return back(c, "/dashboard", theme.FlashInfo, "You are off air.")
}

// formRate reads a per-minute rate from a form: raw (field "rate") in the
// site currency, and the form's currency, when given, must be that one.
func (p *Product) formRate(c *fiber.Ctx, raw string) (money.Money, error) {
	rate, err := parseAmount("rate", raw, p.Accounts.Currency())
	if err != nil {
		return money.Money{}, err
	}
	if cur := c.FormValue("currency"); cur != "" && cur != rate.Currency {
		return money.Money{}, invalid("currency", "rates are in %s", rate.Currency)
	}
	return rate, nil
}

func (p *Product) setRate(c *fiber.Ctx) error {
	rate, err := p.formRate(c, c.FormValue("rate"))
	if err == nil {
		u := me(c)
		_, err = p.Accounts.SetRate(c.UserContext(), u.ID, u.ID, rate)
	}
	if err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	return back(c, "/dashboard", theme.FlashSuccess, "Your rate is now %s a minute for shows that start from now on.", display(rate))
}

func (p *Product) setGroupRate(c *fiber.Ctx) error {
	rate, err := p.formRate(c, c.FormValue("rate"))
	if err == nil {
		u := me(c)
		_, err = p.Accounts.SetGroupRate(c.UserContext(), u.ID, u.ID, rate)
	}
	if err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	return back(c, "/dashboard", theme.FlashSuccess, "Your group rate is now %s a minute for group shows you open from now on.", display(rate))
}

func (p *Product) setProfile(c *fiber.Ctx) error {
	bio := c.FormValue("bio")
	var tags []string
	for _, t := range strings.Split(c.FormValue("tags"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	u := me(c)
	if _, err := p.Accounts.UpdateProfile(c.UserContext(), u.ID, u.ID, accounts.ProfileUpdate{Bio: &bio, Tags: append([]string{}, tags...)}); err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	return back(c, "/dashboard", theme.FlashSuccess, "Profile saved.")
}

func (p *Product) accept(c *fiber.Ctx) error {
	id, err := param(c, "id")
	if err != nil {
		return err
	}
	opt, err := acceptOptions(c.FormValue("others"))
	if err == nil {
		err = cam2camChoice(c.FormValue("cam2cam"), &opt)
	}
	if err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	seat, err := p.Shows.Accept(c.UserContext(), me(c).ID, id, opt)
	if err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	return back(c, "/dashboard", theme.FlashSuccess, "Private show with %s started at %s a minute.", seat.ViewerName, display(seat.Policy.RatePerMinute))
}

func (p *Product) decline(c *fiber.Ctx) error {
	id, err := param(c, "id")
	if err != nil {
		return err
	}
	if err := p.Shows.Decline(c.UserContext(), me(c).ID, id); err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	return back(c, "/dashboard", theme.FlashInfo, "Request declined.")
}

// ---- admin ----

func (p *Product) adminData(c *fiber.Ctx) (*theme.AdminPage, error) {
	ctx := c.UserContext()
	page := &theme.AdminPage{Layout: p.Pages.Layout(c), VerifyAction: "/admin/verify"}
	if p.Plugins != nil {
		page.Plugins = p.Plugins()
	}
	p.verifyMu.Lock()
	page.Ledger = p.lastVerify
	p.verifyMu.Unlock()
	seats, err := p.Shows.OpenSeats(ctx, me(c).ID)
	if err != nil {
		return nil, err
	}
	for _, s := range seats {
		page.Seats = append(page.Seats, theme.SeatInProgress{SeatID: s.ID, ShowID: s.ShowID, Model: p.userName(ctx, s.ModelID),
			Viewer: s.ViewerName, Since: s.OpenedAt, BillableSeconds: s.BillableSeconds, RunningCost: s.RunningCost,
			Funding: s.Funding, FundedSeconds: s.FundedSeconds})
	}
	pending, err := p.Accounts.PendingModels(ctx, 100)
	if err != nil {
		return nil, err
	}
	for _, m := range pending {
		page.PendingModels = append(page.PendingModels, theme.PendingModel{ID: m.ID, DisplayName: m.DisplayName, Email: m.Email, At: m.CreatedAt,
			ApproveAction: "/admin/models/" + m.ID + "/approve", RejectAction: "/admin/models/" + m.ID + "/reject"})
	}
	return page, nil
}

func (p *Product) admin(c *fiber.Ctx) error {
	page, err := p.adminData(c)
	if err != nil {
		return err
	}
	return p.Pages.Render(c, page)
}

// verify runs the ledger check and keeps its result for the admin page.
func (p *Product) verify(c *fiber.Ctx) (*theme.LedgerVerify, error) {
	r, err := p.Ledger.Verify(c.UserContext())
	p.Audit.Admin(audit.AdminVerifyLedger, me(c).ID, "", clientaddr.String(c), err)
	if err != nil {
		return nil, err
	}
	v := &theme.LedgerVerify{OK: r.Clean(), At: now().UTC().Truncate(time.Second), Accounts: r.Accounts, Transfers: r.Transfers}
	for _, f := range r.Faults {
		v.Problems = append(v.Problems, f.String())
	}
	p.verifyMu.Lock()
	p.lastVerify = v
	p.verifyMu.Unlock()
	return v, nil
}

func (p *Product) adminVerify(c *fiber.Ctx) error {
	v, err := p.verify(c)
	if err != nil {
		return err
	}
	if v.OK {
		return back(c, "/admin", theme.FlashSuccess, "Ledger verified: %d accounts, %d transfers, clean.", v.Accounts, v.Transfers)
	}
	return back(c, "/admin", theme.FlashError, "Ledger verify found %d problem(s).", len(v.Problems))
}

func (p *Product) approve(c *fiber.Ctx) error {
	id, err := param(c, "id")
	if err != nil {
		return err
	}
	u, err := p.approveModel(c, id)
	if err != nil {
		return p.formFailed(c, "/admin", err)
	}
	return back(c, "/admin", theme.FlashSuccess, "%s is approved and may go live.", u.DisplayName)
}

func (p *Product) reject(c *fiber.Ctx) error {
	id, err := param(c, "id")
	if err != nil {
		return err
	}
	if err := p.suspend(c, id); err != nil {
		return p.formFailed(c, "/admin", err)
	}
	return back(c, "/admin", theme.FlashInfo, "The account is suspended.")
}

// approveModel and suspend are the admin's decisions on an account, for the
// page and the API alike; each is audited with the admin and the client.
func (p *Product) approveModel(c *fiber.Ctx, id string) (accounts.User, error) {
	u, err := p.Accounts.ApproveModel(c.UserContext(), me(c).ID, id)
	p.Audit.Admin(audit.AdminApproveModel, me(c).ID, id, clientaddr.String(c), err)
	return u, err
}

func (p *Product) suspend(c *fiber.Ctx, id string) error {
	err := p.Accounts.SetStatus(c.UserContext(), me(c).ID, id, accounts.StatusSuspended)
	p.Audit.Admin(audit.AdminRejectModel, me(c).ID, id, clientaddr.String(c), err)
	return err
}

var _ = processor.Checkout{}

// cardMissing sends a purchase that needs a card (the card on file was
// retired with its processor, or there is none) to the card page with why
// ("Add a card first: " + why); handled is false for any other error.
func cardMissing(c *fiber.Ctx, err error, why string) (handled bool, _ error) {
	var need *accounts.NeedCard
	if errors.As(err, &need) {
		return true, back(c, "/wallet/card", theme.FlashInfo, "%s", retiredCard(need.Was)+" Add a card to continue.")
	}
	if errs.CodeOf(err) == errs.NotFound && strings.Contains(err.Error(), "card") {
		return true, back(c, "/wallet/card", theme.FlashInfo, "Add a card first: %s.", why)
	}
	return false, nil
}
