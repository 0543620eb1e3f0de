package app_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/store/storetest"
)

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]*)"`)

// TestHomePageSharedAmongVisitorsStaysRight: the home page is shared among
// visitors without a session (web.Pages.RenderShared), through the real
// theme plugin. Who is on air shows at once, a signed-in viewer gets her own
// page, and every CSRF field a visitor's page carries is her own token.
func TestHomePageSharedAmongVisitorsStaysRight(t *testing.T) {
	s := newSiteOn(t, storetest.SQLite(t), nil)
	ctx := context.Background()
	admin, err := s.acc.CreateUser(ctx, accounts.NewUser{Email: "ops@example.com", DisplayName: "Ops", Password: "correct horse battery", Role: accounts.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.acc.CreateUser(ctx, accounts.NewUser{Email: "mia@example.com", DisplayName: "Mia Shared", Password: "correct horse battery", Role: accounts.RoleModel})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.acc.ApproveModel(ctx, admin.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	v1, v2, alice := s.browser("v1"), s.browser("v2"), s.browser("alice")
	v1.passAge()
	v2.passAge()
	alice.signup("alice@example.com", "Alice Signed", "viewer")

	ownTokens := func(b *browser, body string) {
		t.Helper()
		want := b.csrf()
		for _, f := range csrfInput.FindAllStringSubmatch(body, -1) {
			if f[1] != want {
				t.Fatalf("%s's page carries CSRF token %q, not hers (%q)", b.name, f[1], want)
			}
		}
	}
	home := func(b *browser) string {
		t.Helper()
		body := b.get("/").must(t, http.StatusOK, b.name+" home").body
		ownTokens(b, body)
		return body
	}

	if strings.Contains(home(v1), "/shows/") {
		t.Fatal("home lists a show before the model went live")
	}
	sh, err := s.app.Shows.GoLive(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Within the shared page's second: going live shows at once.
	for _, b := range []*browser{v1, v2} {
		if body := home(b); !strings.Contains(body, "/shows/"+sh.ID) {
			t.Fatalf("%s's home does not list the show that just went live", b.name)
		}
	}
	ah := home(alice)
	if !strings.Contains(ah, "Alice Signed") || !strings.Contains(ah, "/shows/"+sh.ID) {
		t.Fatal("the signed-in viewer's home lacks her name or the show")
	}
	if strings.Contains(home(v1), "Alice Signed") {
		t.Fatal("a visitor's home carries the signed-in viewer's name")
	}
	if err := s.app.Shows.EndShow(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(home(v2), "/shows/"+sh.ID) {
		t.Fatal("home still lists a show that ended")
	}
	// Searches are pages of their own.
	if body := v1.get("/?q=nobody-by-this-name").must(t, http.StatusOK, "search").body; strings.Contains(body, "Mia Shared") {
		t.Fatal("a search for another name lists the model")
	}
	if body := home(v1); !strings.Contains(body, "Mia Shared") {
		t.Fatal("the unfiltered home lost the (offline) model after a search")
	}
}
