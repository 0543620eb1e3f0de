package web

import (
	"context"
	"time"

	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/core/tipping"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// Tipping is models' tip goals and tip menus (core/tipping): web parses,
// calls and renders; the limits and the prices are tipping's.
type Tipping interface {
	SetGoal(ctx context.Context, modelID string, in tipping.GoalInput) (tipping.Progress, error)
	ClearGoal(ctx context.Context, modelID string) error
	SetMenu(ctx context.Context, modelID string, items []tipping.ItemInput) ([]tipping.Item, error)
	Menu(ctx context.Context, modelID string) ([]tipping.Item, error)
	Room(ctx context.Context, modelID string) (tipping.Room, error)
	// MenuTip tips the item's price as the menu says it now.
	MenuTip(ctx context.Context, room string, m chat.Member, tipID, itemID string) (theme.ChatMessage, error)
}

var _ Tipping = (*tipping.Service)(nil)

// ---- pages ----

func goalView(g *tipping.Progress) *theme.TipGoal {
	if g == nil {
		return nil
	}
	return &theme.TipGoal{Title: g.Title, Amount: g.Amount, Received: g.Received, Percent: g.Percent,
		Resets: g.OnReach == tipping.Reset, Done: g.Done, Rounds: g.Rounds}
}

func menuView(items []tipping.Item, removable bool) []theme.TipMenuItem {
	out := make([]theme.TipMenuItem, 0, len(items))
	for _, it := range items {
		v := theme.TipMenuItem{ID: it.ID, Name: it.Name, Price: it.Price}
		if removable {
			v.RemoveAction = "/dashboard/tip-menu/" + it.ID + "/remove"
		}
		out = append(out, v)
	}
	return out
}

// roomTipping fills a room page's goal and menu; a viewer may tip the menu.
func (p *Product) roomTipping(ctx context.Context, page *theme.RoomPage, modelID string, viewer bool) error {
	if p.Tipping == nil {
		return nil
	}
	r, err := p.Tipping.Room(ctx, modelID)
	if err != nil {
		return err
	}
	page.Goal, page.TipMenu = goalView(r.Goal), menuView(r.Menu, false)
	if viewer {
		page.TipMenuAction = "/shows/" + page.ShowID + "/menu-tip"
	}
	return nil
}

// dashboardTipping fills the model's goal and menu editors.
func (p *Product) dashboardTipping(ctx context.Context, page *theme.ModelDashboardPage, modelID string) error {
	if p.Tipping == nil {
		return nil
	}
	r, err := p.Tipping.Room(ctx, modelID)
	if err != nil {
		return err
	}
	page.Goal, page.TipMenu = goalView(r.Goal), menuView(r.Menu, true)
	page.GoalAction, page.MenuAddAction, page.MenuMax = "/dashboard/tip-goal", "/dashboard/tip-menu", tipping.MaxItems
	if r.Goal != nil {
		page.ClearGoalAction = "/dashboard/tip-goal/clear"
	}
	return nil
}

func (p *Product) mountTippingPages(app fiber.Router, viewer, model, money fiber.Handler) {
	app.Post("/shows/:show/menu-tip", viewer, money, p.menuTipForm)
	app.Post("/dashboard/tip-goal", model, p.setGoalForm)
	app.Post("/dashboard/tip-goal/clear", model, p.clearGoalForm)
	app.Post("/dashboard/tip-menu", model, p.addMenuItemForm)
	app.Post("/dashboard/tip-menu/:item/remove", model, p.removeMenuItemForm)
}

func (p *Product) tippingOn() error {
	if p.Tipping == nil {
		return errs.E(errs.Unsupported, "tip goals and menus are not enabled on this site")
	}
	return nil
}

// menuTipForm tips a menu item from the room. Only the item's id is read
// from the form: a price field in it, forged or not, is never looked at.
func (p *Product) menuTipForm(c *fiber.Ctx) error {
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	to := "/shows/" + id
	if err := p.tippingOn(); err != nil {
		return p.formFailed(c, to, err)
	}
	item := c.FormValue("item")
	if item == "" {
		return p.formFailed(c, to, invalid("item", "choose an item of the menu"))
	}
	m, err := p.Tipping.MenuTip(c.UserContext(), id, p.member(c), formTipID(idempotency.Key(c)), item)
	if err != nil {
		return p.formFailed(c, to, err)
	}
	return back(c, to, theme.FlashSuccess, "Thank you! You tipped %s %s.", tipDisplay(m), m.Text)
}

func tipDisplay(m theme.ChatMessage) string {
	if m.Tip == nil {
		return ""
	}
	return display(*m.Tip)
}

func (p *Product) setGoalForm(c *fiber.Ctx) error {
	err := p.tippingOn()
	var amt money.Money
	if err == nil {
		amt, err = parseAmount("amount", c.FormValue("amount"), p.Accounts.Currency())
	}
	if err == nil {
		if cur := c.FormValue("currency"); cur != "" && cur != amt.Currency {
			err = invalid("currency", "goals are in %s", amt.Currency)
		}
	}
	if err == nil {
		_, err = p.Tipping.SetGoal(c.UserContext(), me(c).ID,
			tipping.GoalInput{Title: c.FormValue("title"), Amount: amt, OnReach: tipping.OnReach(c.FormValue("on_reach"))})
	}
	if err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	return back(c, "/dashboard", theme.FlashSuccess, "Your tip goal of %s is set; it counts from now.", display(amt))
}

func (p *Product) clearGoalForm(c *fiber.Ctx) error {
	err := p.tippingOn()
	if err == nil {
		err = p.Tipping.ClearGoal(c.UserContext(), me(c).ID)
	}
	if err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	return back(c, "/dashboard", theme.FlashSuccess, "Your tip goal is removed.")
}

// editMenu replaces the model's menu with edit applied to its items.
func (p *Product) editMenu(c *fiber.Ctx, edit func([]tipping.ItemInput) ([]tipping.ItemInput, error)) error {
	if err := p.tippingOn(); err != nil {
		return err
	}
	ctx, u := c.UserContext(), me(c)
	cur, err := p.Tipping.Menu(ctx, u.ID)
	if err != nil {
		return err
	}
	in := make([]tipping.ItemInput, 0, len(cur)+1)
	for _, it := range cur {
		in = append(in, tipping.ItemInput(it))
	}
	if in, err = edit(in); err != nil {
		return err
	}
	_, err = p.Tipping.SetMenu(ctx, u.ID, in)
	return err
}

func (p *Product) addMenuItemForm(c *fiber.Ctx) error {
	name := c.FormValue("name")
	err := p.editMenu(c, func(in []tipping.ItemInput) ([]tipping.ItemInput, error) {
		price, err := parseAmount("amount", c.FormValue("amount"), p.Accounts.Currency())
		if err != nil {
			return nil, err
		}
		if cur := c.FormValue("currency"); cur != "" && cur != price.Currency {
			return nil, invalid("currency", "prices are in %s", price.Currency)
		}
		return append(in, tipping.ItemInput{Name: name, Price: price}), nil
	})
	if err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	return back(c, "/dashboard", theme.FlashSuccess, "Added to your tip menu.")
}

func (p *Product) removeMenuItemForm(c *fiber.Ctx) error {
	id, err := param(c, "item")
	if err == nil {
		err = p.editMenu(c, func(in []tipping.ItemInput) ([]tipping.ItemInput, error) {
			for i, it := range in {
				if it.ID == id {
					return append(in[:i], in[i+1:]...), nil
				}
			}
			return nil, errs.E(errs.NotFound, "that item is not on your menu")
		})
	}
	if err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	return back(c, "/dashboard", theme.FlashSuccess, "Removed from your tip menu.")
}

// ---- API ----

type (
	apiGoal struct {
		Title    string      `json:"title"`
		Amount   money.Money `json:"amount"`
		Received money.Money `json:"received"`
		Percent  int         `json:"percent"`
		OnReach  string      `json:"on_reach"`
		Done     bool        `json:"done"`
		Rounds   int         `json:"rounds"`
		SetAt    time.Time   `json:"set_at"`
	}
	apiMenuItem struct {
		ID           string      `json:"id"`
		Name         string      `json:"name"`
		Price        money.Money `json:"price"`
		PriceDisplay string      `json:"price_display"`
	}
	apiTipping struct {
		ModelID string        `json:"model_id"`
		Goal    *apiGoal      `json:"goal"`
		Menu    []apiMenuItem `json:"menu"`
	}
	goalBody struct {
		Title   string       `json:"title" req:"1"`
		Amount  *money.Money `json:"amount" req:"1"`
		OnReach string       `json:"on_reach,omitempty"`
	}
	menuItemBody struct {
		ID    string       `json:"id"`
		Name  string       `json:"name" req:"1"`
		Price *money.Money `json:"price" req:"1"`
	}
	menuBody struct {
		Items []menuItemBody `json:"items"`
	}
	// menuTipBody has no price: the price is the menu's.
	menuTipBody struct {
		TipID  string `json:"tip_id" req:"1"`
		ItemID string `json:"item_id" req:"1"`
	}
)

func goalJSON(g *tipping.Progress) *apiGoal {
	if g == nil {
		return nil
	}
	return &apiGoal{Title: g.Title, Amount: g.Amount, Received: g.Received, Percent: g.Percent, OnReach: string(g.OnReach),
		Done: g.Done, Rounds: g.Rounds, SetAt: g.SetAt}
}

func menuJSON(items []tipping.Item) []apiMenuItem {
	out := make([]apiMenuItem, 0, len(items))
	for _, it := range items {
		out = append(out, apiMenuItem{ID: it.ID, Name: it.Name, Price: it.Price, PriceDisplay: display(it.Price)})
	}
	return out
}

func tippingJSON(r tipping.Room) apiTipping {
	return apiTipping{ModelID: r.ModelID, Goal: goalJSON(r.Goal), Menu: menuJSON(r.Menu)}
}

func (p *Product) mountTippingAPI(api fiber.Router, viewer, model, money fiber.Handler) {
	api.Get("/shows/:show/tipping", p.apiRoomTipping)
	api.Post("/shows/:show/menu-tips", viewer, money, p.apiMenuTip)
	api.Get("/me/tipping", model, p.apiMyTipping)
	api.Put("/me/tip-goal", model, p.apiSetGoal)
	api.Delete("/me/tip-goal", model, p.apiClearGoal)
	api.Put("/me/tip-menu", model, p.apiSetMenu)
}

func (p *Product) apiRoomTipping(c *fiber.Ctx) error {
	if err := p.tippingOn(); err != nil {
		return err
	}
	id, err := param(c, "show")
	if err != nil {
		return err
	}
	s, err := p.Shows.Show(c.UserContext(), id)
	if err != nil {
		return err
	}
	r, err := p.Tipping.Room(c.UserContext(), s.ModelID)
	if err != nil {
		return err
	}
	return c.JSON(tippingJSON(r))
}

func (p *Product) apiMenuTip(c *fiber.Ctx) error {
	if err := p.tippingOn(); err != nil {
		return err
	}
	room, err := p.chatRoom(c)
	if err != nil {
		return err
	}
	var b menuTipBody
	if err := decode(c, &b); err != nil {
		return err
	}
	m, err := p.Tipping.MenuTip(c.UserContext(), room, p.member(c), b.TipID, b.ItemID)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(m)
}

func (p *Product) myTipping(c *fiber.Ctx) error {
	r, err := p.Tipping.Room(c.UserContext(), me(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(tippingJSON(r))
}

func (p *Product) apiMyTipping(c *fiber.Ctx) error {
	if err := p.tippingOn(); err != nil {
		return err
	}
	return p.myTipping(c)
}

func (p *Product) apiSetGoal(c *fiber.Ctx) error {
	if err := p.tippingOn(); err != nil {
		return err
	}
	var b goalBody
	if err := decode(c, &b); err != nil {
		return err
	}
	if _, err := p.Tipping.SetGoal(c.UserContext(), me(c).ID, tipping.GoalInput{Title: b.Title, Amount: *b.Amount, OnReach: tipping.OnReach(b.OnReach)}); err != nil {
		return err
	}
	return p.myTipping(c)
}

func (p *Product) apiClearGoal(c *fiber.Ctx) error {
	if err := p.tippingOn(); err != nil {
		return err
	}
	if err := p.Tipping.ClearGoal(c.UserContext(), me(c).ID); err != nil {
		return err
	}
	return p.myTipping(c)
}

func (p *Product) apiSetMenu(c *fiber.Ctx) error {
	if err := p.tippingOn(); err != nil {
		return err
	}
	var b menuBody
	if err := decode(c, &b); err != nil {
		return err
	}
	in := make([]tipping.ItemInput, 0, len(b.Items))
	for i, it := range b.Items {
		if it.Price == nil || it.Name == "" {
			return invalid("items", "item %d needs a name and a price", i+1)
		}
		in = append(in, tipping.ItemInput{ID: it.ID, Name: it.Name, Price: *it.Price})
	}
	if _, err := p.Tipping.SetMenu(c.UserContext(), me(c).ID, in); err != nil {
		return err
	}
	return p.myTipping(c)
}
