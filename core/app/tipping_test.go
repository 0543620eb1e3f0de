package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
)

type tippingJSON struct {
	ModelID string `json:"model_id"`
	Goal    *struct {
		Title    string      `json:"title"`
		Amount   money.Money `json:"amount"`
		Received money.Money `json:"received"`
		Percent  int         `json:"percent"`
		OnReach  string      `json:"on_reach"`
		Done     bool        `json:"done"`
		Rounds   int         `json:"rounds"`
	} `json:"goal"`
	Menu []struct {
		ID    string      `json:"id"`
		Name  string      `json:"name"`
		Price money.Money `json:"price"`
	} `json:"menu"`
}

// roomEvents reads a room's chat socket as Alice's browser in it would, and
// passes on its goal events and chat notices.
func roomEvents(t *testing.T, w *world) (goals chan map[string]any, notices chan string) {
	t.Helper()
	u := strings.Replace(w.url, "http://", "ws://", 1) + "/ws/chat/" + w.showID
	d := *fws.DefaultDialer
	d.Jar = w.alice.c.Jar // a signed-in viewer past the age gate
	conn, _, err := d.Dial(u, nil)
	if err != nil {
		t.Fatalf("chat socket: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	goals, notices = make(chan map[string]any, 64), make(chan string, 64)
	go func() {
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var f struct {
				Type    string             `json:"type"`
				Kind    string             `json:"kind"`
				Data    map[string]any     `json:"data"`
				Message *theme.ChatMessage `json:"message"`
			}
			if json.Unmarshal(b, &f) != nil {
				continue
			}
			switch {
			case f.Type == "event" && f.Kind == "goal":
				goals <- f.Data
			case f.Message != nil && (f.Type == "system" || f.Type == "tip"):
				notices <- f.Message.Author + "|" + f.Message.Text
			}
		}
	}()
	return goals, notices
}

func next[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10 s", what)
	}
	panic("unreachable")
}

func (w *world) walletCents(b *browser) int64 {
	var wal struct{ Balance money.Money }
	b.api(http.MethodGet, "/wallet", nil, "").must(w.t, http.StatusOK, "wallet").json(w.t, &wal)
	return wal.Balance.Amount
}

// Tip goals and menus through the assembled host: two viewers tip a goal
// that resets, the room hears it move and reach; a menu tip posts the
// menu's price whatever the request says; the same key twice pays once.
func TestTipGoalAndMenuThroughTheHost(t *testing.T) {
	w := newWorld(t)
	w.addCard(w.bob)
	w.bob.form("/wallet/packs", url.Values{"pack": {"starter"}}, true).must(t, http.StatusSeeOther, "bob buys a pack")
	aliceStart, bobStart := w.walletCents(w.alice), w.walletCents(w.bob)

	// Only the model edits her goal; viewers and strangers may not.
	goalBody := `{"title":"Oil show","amount":{"amount":500,"currency":"USD"},"on_reach":"reset"}`
	w.alice.api(http.MethodPut, "/me/tip-goal", goalBody, "").must(t, http.StatusForbidden, "a viewer sets a goal")
	var tp tippingJSON
	w.model.api(http.MethodPut, "/me/tip-goal", goalBody, "").must(t, http.StatusOK, "set goal").json(t, &tp)
	if tp.Goal == nil || tp.Goal.Amount.Amount != 500 || tp.Goal.Received.Amount != 0 || tp.Goal.OnReach != "reset" {
		t.Fatalf("the goal as set: %+v", tp.Goal)
	}
	w.model.api(http.MethodPut, "/me/tip-menu", `{"items":[{"name":"Dance","price":{"amount":250,"currency":"USD"}},{"name":"Song","price":{"amount":100,"currency":"USD"}}]}`, "").
		must(t, http.StatusOK, "set menu").json(t, &tp)
	if len(tp.Menu) != 2 || tp.Menu[0].Name != "Dance" || tp.Menu[0].ID == "" {
		t.Fatalf("the menu as set: %+v", tp.Menu)
	}
	dance := tp.Menu[0].ID
	w.model.api(http.MethodPut, "/me/tip-menu", `{"items":[{"name":"Free","price":{"amount":100001,"currency":"USD"}}]}`, "").
		must(t, http.StatusBadRequest, "a price beyond the tip cap")

	// Anyone reads the room's goal and menu, and the room page shows them.
	var room tippingJSON
	w.site.browser("anon").api(http.MethodGet, "/shows/"+w.showID+"/tipping", nil, "").must(t, http.StatusOK, "room tipping").json(t, &room)
	if room.ModelID != w.modelID || room.Goal == nil || room.Goal.Title != "Oil show" || len(room.Menu) != 2 {
		t.Fatalf("the room's tipping: %+v", room)
	}
	page := w.alice.get("/shows/"+w.showID).must(t, http.StatusOK, "room")
	for _, want := range []string{theme.GoalAttr, "Oil show", "Dance", `value="` + dance + `"`, "/shows/" + w.showID + "/menu-tip"} {
		if !strings.Contains(page.body, want) {
			t.Fatalf("the room page lacks %q", want)
		}
	}

	goals, notices := roomEvents(t, w)
	// Alice 3.00, Bob 1.50: 4.50 of 5.00, the bar at 90%.
	w.alice.post("/shows/"+w.showID+"/tips", `{"tip_id":"alice-tip-0001","amount":{"amount":300,"currency":"USD"}}`, "k-alice-0001").
		must(t, http.StatusCreated, "alice tips")
	if g := next(t, goals, "goal event"); g["percent"] != float64(60) {
		t.Fatalf("after 3.00: %+v", g)
	}
	w.bob.post("/shows/"+w.showID+"/tips", `{"tip_id":"bob-tip-0001","amount":{"amount":150,"currency":"USD"}}`, "k-bob-0001").
		must(t, http.StatusCreated, "bob tips")
	if g := next(t, goals, "goal event"); g["percent"] != float64(90) || g["display"] != "4.50 / 5.00 USD" {
		t.Fatalf("after 4.50: %+v", g)
	}

	// Bob's menu tip: a forged price in the API body is refused outright,
	// and nothing moves; the form's forged amount is not read at all.
	w.bob.post("/shows/"+w.showID+"/menu-tips", `{"tip_id":"bob-menu-0001","item_id":"`+dance+`","amount":{"amount":1,"currency":"USD"}}`, "k-bob-forged").
		must(t, http.StatusBadRequest, "a menu tip with a price")
	if got := w.walletCents(w.bob); got != bobStart-150 {
		t.Fatalf("a refused menu tip moved money: %d, want %d", got, bobStart-150)
	}
	body := `{"tip_id":"bob-menu-0001","item_id":"` + dance + `"}`
	first := w.bob.post("/shows/"+w.showID+"/menu-tips", body, "k-bob-menu-0001").must(t, http.StatusCreated, "bob tips Dance")
	// The same request again (same key, same tip id): one tip.
	again := w.bob.post("/shows/"+w.showID+"/menu-tips", body, "k-bob-menu-0001").must(t, http.StatusCreated, "bob tips Dance again")
	if again.body != first.body {
		t.Fatalf("a repeat answered differently:\n%s\n%s", first.body, again.body)
	}
	// And the same tip id under another key: still one tip (chat's tip id).
	w.bob.post("/shows/"+w.showID+"/menu-tips", body, "k-bob-menu-0002").must(t, http.StatusCreated, "the same tip id under another key")
	if got := w.walletCents(w.bob); got != bobStart-150-250 {
		t.Fatalf("bob's wallet after 1.50 and one Dance at 2.50: %d, want %d", got, bobStart-400)
	}
	// 7.00 of a 5.00 goal that resets: reached once, announced, 2.00 carried.
	seen := map[string]bool{}
	for !seen["Bob|for Dance"] || !seen["|Goal reached: Oil show! The goal starts again."] {
		seen[next(t, notices, "chat notice")] = true
	}
	if g := next(t, goals, "goal event"); g["percent"] != float64(40) || g["rounds"] != float64(1) {
		t.Fatalf("after 7.00 on a 5.00 goal: %+v", g)
	}

	// Alice picks Song from the room's form with a forged amount: the
	// menu's 1.00 moves; a double submit of the page's form moves it once.
	page = w.alice.get("/shows/"+w.showID).must(t, http.StatusOK, "room")
	for range 2 {
		w.alice.postPage(page.body, "/shows/"+w.showID+"/menu-tip", url.Values{"item": {tp.Menu[1].ID}, "amount": {"0.01"}}).
			must(t, http.StatusSeeOther, "alice tips Song from the form")
	}
	if got := w.walletCents(w.alice); got != aliceStart-300-100 {
		t.Fatalf("alice's wallet after 3.00 and one Song at 1.00: %d, want %d", got, aliceStart-400)
	}
	var wal struct{ History []theme.LedgerRow }
	w.bob.api(http.MethodGet, "/wallet", nil, "").must(t, http.StatusOK, "wallet").json(t, &wal)
	var lines []string
	for _, r := range wal.History {
		if strings.HasPrefix(r.Reference, "tip/") {
			lines = append(lines, r.Description+" "+money.Money(r.Amount).String())
		}
	}
	if len(lines) != 2 || !strings.Contains(strings.Join(lines, ";"), "Tip to Mia for Dance") {
		t.Fatalf("bob's tip lines: %q", lines)
	}
	for _, r := range wal.History {
		if r.Description == "Tip to Mia for Dance" && r.Amount.Amount != -250 {
			t.Fatalf("the Dance line: %+v", r)
		}
	}

	// A viewer without credits is refused with the tips' own words, and
	// nothing moves.
	carol := w.site.browser("carol")
	carol.signup("carol@example.com", "Carol", "viewer")
	broke := carol.post("/shows/"+w.showID+"/menu-tips", `{"tip_id":"carol-menu-0001","item_id":"`+dance+`"}`, "k-carol-0001")
	if broke.code < 400 || broke.code >= 500 || !strings.Contains(broke.body, "not enough credits in your wallet") {
		t.Fatalf("a menu tip beyond the wallet: %d %s", broke.code, broke.body)
	}

	w.model.api(http.MethodGet, "/me/tipping", nil, "").must(t, http.StatusOK, "her tipping").json(t, &tp)
	if tp.Goal == nil || tp.Goal.Rounds != 1 || tp.Goal.Received.Amount != 300 {
		t.Fatalf("8.00 on a 5.00 goal that resets: %+v", tp.Goal)
	}
	dash := w.model.get("/dashboard").must(t, http.StatusOK, "dashboard")
	for _, want := range []string{"/dashboard/tip-goal", "/dashboard/tip-menu", "Oil show", "Dance"} {
		if !strings.Contains(dash.body, want) {
			t.Fatalf("the dashboard lacks %q", want)
		}
	}
	w.model.api(http.MethodDelete, "/me/tip-goal", nil, "").must(t, http.StatusOK, "clear goal").json(t, &tp)
	if tp.Goal != nil {
		t.Fatalf("a cleared goal: %+v", tp.Goal)
	}
	w.ledgerClean()
}
