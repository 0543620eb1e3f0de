package app_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/config"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/internal/testbin"
)

// TestGoalBarAndMenuTipInChromium is issue 13's done-when for tip goals in
// headless Chromium, in both themes: with Alice's and Bob's rooms open, a
// tip of Bob's moves the goal bar on Alice's page (over the room's socket,
// no reload), and Alice's choice from the menu (the page's own form) shows
// in Bob's chat with the item's name while his bar moves by its price.
func TestGoalBarAndMenuTipInChromium(t *testing.T) {
	browser := testbin.Browser(t)
	for _, th := range []string{"default", "midnight"} {
		t.Run(th, func(t *testing.T) {
			w := newWorldOn(t, newSiteOn(t, storetest.Postgres(t), func(c *config.Config) { c.Plugins.Theme = th }))
			w.addCard(w.bob)
			w.bob.form("/wallet/packs", url.Values{"pack": {"starter"}}, true).must(t, http.StatusSeeOther, "bob buys a pack")
			w.model.api(http.MethodPut, "/me/tip-goal", `{"title":"Oil show","amount":{"amount":1000,"currency":"USD"}}`, "").
				must(t, http.StatusOK, "set goal")
			w.model.api(http.MethodPut, "/me/tip-menu", `{"items":[{"name":"Dance","price":{"amount":250,"currency":"USD"}}]}`, "").
				must(t, http.StatusOK, "set menu")

			alice := openTab(t, browser, w.site, w.alice, "alice")
			bob := openTab(t, browser, w.site, w.bob, "bob")
			const open = `document.querySelector('[data-camkit-chat]')?.getAttribute('data-chat-state') === 'open'`
			bar := func(pct int) string {
				return `(() => { const p = document.querySelector('[data-camkit-goal] progress'); return !!p && p.value === ` + strconv.Itoa(pct) + `; })()`
			}
			for _, b := range []*tab{alice, bob} {
				b.nav("/shows/" + w.showID)
				b.waitJS(bar(0), 5*time.Second, "the goal bar at 0%")
				b.waitJS(open, 15*time.Second, "the chat to connect")
			}

			// Bob tips 3.00: Alice's bar moves to 30% without a reload.
			w.bob.post("/shows/"+w.showID+"/tips", `{"tip_id":"bob-browser-tip1","amount":{"amount":300,"currency":"USD"}}`, "k-bob-browser-1").
				must(t, http.StatusCreated, "bob tips")
			alice.js(`window.__sameAlicePage = true`)
			alice.waitJS(bar(30), 10*time.Second, "Alice's goal bar at 30%")
			alice.waitJS(`window.__sameAlicePage === true && document.querySelector('[data-goal-text]').textContent.includes('3.00 / 10.00')`,
				5*time.Second, "the goal's figures on the same page")

			// Alice tips Dance from her page's menu form: Bob sees it in his
			// chat, with the item, and his bar moves to 55%.
			alice.submit("/shows/"+w.showID+"/menu-tip", nil)
			bob.waitJS(`[...document.querySelectorAll('[data-chat-log] li')].some((li) => li.textContent.includes('Alice') && li.textContent.includes('for Dance'))`,
				10*time.Second, "Alice's Dance in Bob's chat")
			bob.waitJS(bar(55), 10*time.Second, "Bob's goal bar at 55%")
			if !strings.Contains(alice.text(), "Dance") {
				t.Fatalf("Alice's page after her menu tip:\n%s", alice.text())
			}
			alice.collect()
			bob.collect()
			if p := append(alice.problems(), bob.problems()...); len(p) > 0 {
				t.Fatalf("%s: %s", th, strings.Join(p, "\n"))
			}
			w.ledgerClean()
		})
	}
}
