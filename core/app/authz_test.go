package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/web"
	"github.com/camkit/camkit/sdk/theme"
)

// openSeat has alice request a private show and the model accept it.
func (w *world) openSeat() string {
	t := w.t
	w.alice.api(http.MethodPost, "/shows/"+w.showID+"/private-requests", nil, "").must(t, http.StatusCreated, "request")
	var reqs []struct{ ID string }
	w.model.api(http.MethodGet, "/me/requests", nil, "").must(t, http.StatusOK, "requests").json(t, &reqs)
	if len(reqs) != 1 {
		t.Fatalf("requests: %+v", reqs)
	}
	var seat struct{ ID string }
	w.model.api(http.MethodPost, "/requests/"+reqs[0].ID+"/accept", nil, "").must(t, http.StatusCreated, "accept").json(t, &seat)
	return seat.ID
}

func TestAuthorisationMatrix(t *testing.T) {
	w := newWorld(t)
	seat := w.openSeat()
	anon := w.site.browser("visitor")
	anon.passAge()

	// Bob (another viewer) cannot read or end Alice's seat or receipt: to
	// him it does not exist.
	for _, c := range []struct {
		what string
		r    resp
		code int
	}{
		{"bob reads alice's seat page", w.bob.get("/seats/" + seat), 404},
		{"bob reads alice's seat (API)", w.bob.api(http.MethodGet, "/seats/"+seat, nil, ""), 404},
		{"bob ends alice's seat (form)", w.bob.form("/seats/"+seat+"/end", nil, true), 404},
		{"bob ends alice's seat (API)", w.bob.api(http.MethodPost, "/seats/"+seat+"/end", nil, ""), 404},
		{"bob tips into alice's seat room", w.bob.form("/seats/"+seat+"/tip", url.Values{"amount": {"1"}}, true), 404},
		{"bob reads the seat's chat", w.bob.api(http.MethodGet, "/shows/seat-"+seat+"/chat", nil, ""), 404},
		{"visitor reads the seat", anon.api(http.MethodGet, "/seats/"+seat, nil, ""), 401},
		{"visitor's seat page goes to log-in", anon.get("/seats/" + seat), 303},
		// Only admins reach admin pages.
		{"viewer on /admin", w.bob.get("/admin"), 403},
		{"model on /admin", w.model.get("/admin"), 403},
		{"visitor on /admin goes to log-in", anon.get("/admin"), 303},
		{"viewer verifies the ledger", w.bob.form("/admin/verify", nil, true), 403},
		{"model approves herself", w.model.form("/admin/models/"+w.modelID+"/approve", nil, true), 403},
		{"viewer lists open seats (API)", w.bob.api(http.MethodGet, "/admin/seats", nil, ""), 403},
		{"visitor lists plugins (API)", anon.api(http.MethodGet, "/admin/plugins", nil, ""), 401},
		// Roles: viewers do not run shows, models do not buy credits.
		{"viewer sets a rate", w.bob.form("/dashboard/rate", url.Values{"rate": {"1"}}, true), 403},
		{"viewer goes live (API)", w.bob.api(http.MethodPost, "/me/show", nil, ""), 403},
		{"model buys credits", w.model.form("/wallet/packs", url.Values{"pack": {"starter"}}, true), 403},
		{"model accepts a request that is not hers", w.model.api(http.MethodPost, "/requests/rqdoesnotexist/accept", nil, ""), 404},
	} {
		if c.r.code != c.code {
			t.Errorf("%s: status %d, want %d (%s)", c.what, c.r.code, c.code, trim(c.r.body))
		}
	}
	if r := w.admin.get("/admin").must(t, http.StatusOK, "admin"); !strings.Contains(r.body, seat) {
		t.Error("the admin page does not list the seat in progress")
	}
	// The seat is still open: nobody but its viewer or model ended it.
	var st struct{ Open bool }
	w.alice.api(http.MethodGet, "/seats/"+seat, nil, "").must(t, http.StatusOK, "alice's seat").json(t, &st)
	if !st.Open {
		t.Fatal("someone else's request ended alice's seat")
	}
	// The model sees it without the viewer's video token.
	var ms struct{ Token string }
	w.model.api(http.MethodGet, "/seats/"+seat, nil, "").must(t, http.StatusOK, "model's view").json(t, &ms)
	if ms.Token != "" {
		t.Fatal("the model is given the viewer's WHEP token")
	}
	// A model cannot change an open seat's price: her rate changes the next seat only.
	w.model.api(http.MethodPut, "/me/rate", map[string]any{"rate": map[string]any{"amount": 5000, "currency": "USD"}}, "").must(t, 200, "rate")
	var rec struct {
		Policy struct {
			Rate struct{ Amount int64 } `json:"rate_per_minute"`
		}
	}
	w.alice.api(http.MethodPost, "/seats/"+seat+"/end", nil, "").must(t, http.StatusOK, "alice ends").json(t, &rec)
	if rec.Policy.Rate.Amount != 200 {
		t.Fatalf("receipt's locked rate %d, want 200", rec.Policy.Rate.Amount)
	}
	for _, c := range []struct {
		what string
		r    resp
	}{
		{"bob reads alice's receipt page", w.bob.get("/receipts/" + seat)},
		{"bob reads alice's receipt (API)", w.bob.api(http.MethodGet, "/receipts/"+seat, nil, "")},
	} {
		if c.r.code != 404 {
			t.Errorf("%s: status %d, want 404", c.what, c.r.code)
		}
	}
	w.alice.get("/receipts/"+seat).must(t, http.StatusOK, "alice's receipt")
	w.model.api(http.MethodGet, "/receipts/"+seat, nil, "").must(t, http.StatusOK, "the model's copy")
	w.admin.api(http.MethodGet, "/receipts/"+seat, nil, "").must(t, http.StatusOK, "the admin's copy")
}

func trim(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func TestCSRFAndBearer(t *testing.T) {
	w := newWorld(t)
	// A form without its token, or with another session's, is refused and changes nothing.
	w.model.form("/dashboard/rate", url.Values{"rate": {"7.00"}}, false).must(t, http.StatusForbidden, "rate without CSRF")
	v := url.Values{"rate": {"7.00"}, "_csrf": {w.alice.csrf()}}
	req, _ := http.NewRequest(http.MethodPost, w.url+"/dashboard/rate", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w.model.do(req).must(t, http.StatusForbidden, "rate with another session's CSRF")
	req, _ = http.NewRequest(http.MethodPut, w.url+web.APIBase+"/me/rate", strings.NewReader(`{"rate":{"amount":700,"currency":"USD"}}`))
	req.Header.Set("Content-Type", "application/json")
	w.model.do(req).must(t, http.StatusForbidden, "API with cookie, no CSRF header")
	if p, _ := w.acc.Profile(context.Background(), w.modelID); p.RatePerMinute.Amount != 200 {
		t.Fatalf("a refused request changed the rate to %d", p.RatePerMinute.Amount)
	}
	// A bearer token needs no CSRF token: a browser never sends one by itself.
	var s struct{ Token string }
	w.model.api(http.MethodPost, "/session", map[string]any{"email": "mia@example.com", "password": "correct horse battery"}, "").
		must(t, http.StatusCreated, "API log-in").json(t, &s)
	w.model.api(http.MethodPut, "/me/rate", map[string]any{"rate": map[string]any{"amount": 300, "currency": "USD"}}, s.Token).must(t, 200, "bearer rate")
	w.model.api(http.MethodGet, "/me", nil, "not-a-token").must(t, http.StatusUnauthorized, "bad bearer")
	w.model.api(http.MethodDelete, "/session", nil, s.Token).must(t, http.StatusOK, "bearer log-out")
	w.model.api(http.MethodGet, "/me", nil, s.Token).must(t, http.StatusUnauthorized, "revoked bearer")
}

func TestAPIRefusesBadBodies(t *testing.T) {
	w := newWorld(t)
	type errBody struct {
		Error struct{ Code, Message, Field string }
	}
	for _, c := range []struct {
		what, method, path, body string
		code                     int
		field                    string
	}{
		{"missing field", "POST", "/shows/" + w.showID + "/chat", `{}`, 400, "text"},
		{"empty body", "POST", "/shows/" + w.showID + "/chat", ``, 400, "body"},
		{"unknown field", "POST", "/shows/" + w.showID + "/chat", `{"text":"hi","admin":true}`, 400, "admin"},
		{"wrong type", "POST", "/shows/" + w.showID + "/tips", `{"tip_id":"abcdefgh12","amount":{"amount":"100","currency":"USD"}}`, 400, "amount.amount"},
		{"float money", "POST", "/shows/" + w.showID + "/tips", `{"tip_id":"abcdefgh12","amount":{"amount":1.5,"currency":"USD"}}`, 400, "amount.amount"},
		{"malformed JSON", "POST", "/shows/" + w.showID + "/chat", `{"text":`, 400, "body"},
		{"two objects", "POST", "/shows/" + w.showID + "/chat", `{"text":"a"}{"text":"b"}`, 400, "body"},
		{"oversized", "POST", "/shows/" + w.showID + "/chat", `{"text":"` + strings.Repeat("x", 20000) + `"}`, 413, ""},
		{"too long text", "POST", "/shows/" + w.showID + "/chat", `{"text":"` + strings.Repeat("x", 600) + `"}`, 400, ""},
		{"control characters", "POST", "/shows/" + w.showID + "/chat", `{"text":"a\u0000b"}`, 400, ""},
		{"negative tip", "POST", "/shows/" + w.showID + "/tips", `{"tip_id":"abcdefgh12","amount":{"amount":-100,"currency":"USD"}}`, 400, ""},
		{"tip in another currency", "POST", "/shows/" + w.showID + "/tips", `{"tip_id":"abcdefgh13","amount":{"amount":100,"currency":"EUR"}}`, 400, ""},
		{"hostile tip id", "POST", "/shows/" + w.showID + "/tips", `{"tip_id":"<script>","amount":{"amount":100,"currency":"USD"}}`, 400, ""},
	} {
		r := w.alice.api(c.method, c.path, c.body, "")
		if r.code != c.code {
			t.Errorf("%s: status %d, want %d: %s", c.what, r.code, c.code, trim(r.body))
			continue
		}
		var e errBody
		if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error.Message == "" {
			t.Errorf("%s: not a JSON error: %s", c.what, trim(r.body))
		}
		if c.field != "" && e.Error.Field != c.field {
			t.Errorf("%s: field %q, want %q (%s)", c.what, e.Error.Field, c.field, e.Error.Message)
		}
	}
	// Not JSON at all.
	req, _ := http.NewRequest(http.MethodPost, w.url+web.APIBase+"/shows/"+w.showID+"/chat", strings.NewReader("text=hi"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", w.alice.csrf())
	w.alice.do(req).must(t, http.StatusUnsupportedMediaType, "form body to the API")
	// Forms refuse bad input with the reason and move nothing.
	r := w.alice.form("/shows/"+w.showID+"/tip", url.Values{"amount": {"1e9"}}, true).must(t, http.StatusSeeOther, "bad tip form")
	if p := w.alice.get(r.hdr.Get("Location")); !strings.Contains(p.body, "not an amount") {
		t.Errorf("the room does not say why the tip was refused:\n%s", trim(p.body))
	}
	w.alice.form("/wallet/packs", url.Values{"pack": {strings.Repeat("p", 5000)}}, true).must(t, http.StatusSeeOther, "oversized pack id")
	var wal struct{ Balance struct{ Amount int64 } }
	w.alice.api(http.MethodGet, "/wallet", nil, "").must(t, 200, "wallet").json(t, &wal)
	if wal.Balance.Amount != 1000 {
		t.Fatalf("refused requests moved money: balance %d", wal.Balance.Amount)
	}
	// Unknown API routes answer JSON, not a page.
	r = w.alice.api(http.MethodGet, "/no/such/thing", nil, "").must(t, http.StatusNotFound, "unknown API route")
	if !strings.Contains(r.body, `"not_found"`) {
		t.Errorf("unknown API route: %s", r.body)
	}
	// Unknown pages get the theme's error page.
	if r := w.alice.get("/no/such/page").must(t, http.StatusNotFound, "unknown page"); !strings.Contains(r.body, "<html") {
		t.Errorf("unknown page is not themed: %s", trim(r.body))
	}
}

func TestHostileTextIsRenderedInert(t *testing.T) {
	w := newWorld(t)
	hostile := theme.HostileText
	w.model.api(http.MethodPut, "/me/profile", map[string]any{"bio": "Hi " + hostile + ` <img src=x onerror=alert(2)>`}, "").must(t, 200, "bio")
	w.alice.api(http.MethodPost, "/shows/"+w.showID+"/chat", map[string]any{"text": hostile}, "").must(t, http.StatusCreated, "chat")
	w.alice.api(http.MethodPost, "/shows/"+w.showID+"/tips", map[string]any{"tip_id": "hostile-tip-1", "amount": map[string]any{"amount": 100, "currency": "USD"}, "text": hostile}, "").
		must(t, http.StatusCreated, "tip with text")
	// A hostile display name is refused or escaped.
	evil := w.site.browser("evil")
	evil.passAge()
	evil.form("/signup", url.Values{"email": {"evil@example.com"}, "display_name": {`"><script>x</script>`}, "password": {"correct horse battery"}, "adult": {"on"}}, true)
	for _, page := range []string{"/models/" + w.modelID, "/shows/" + w.showID} {
		body := w.bob.get(page).must(t, http.StatusOK, page).body
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			i := strings.Index(body, "alert")
			t.Errorf("%s renders hostile text as markup: …%s…", page, body[max(0, i-200):min(len(body), i+100)])
		}
		if !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("%s does not show the text escaped", page)
		}
	}
	r := w.bob.api(http.MethodGet, "/shows/"+w.showID+"/chat", nil, "").must(t, 200, "chat history")
	if strings.Contains(r.body, "<script>") {
		t.Error("the chat API returns raw markup (JSON must escape it)")
	}
}

// TestOpenAPIMatchesRoutes walks the fiber routes and the document: every
// /api/v1 route is documented with its method, and every documented
// operation is a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := newSite(t, nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	b := s.browser("x")
	b.api(http.MethodGet, "/openapi.json", nil, "").must(t, 200, "document").json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Paths) == 0 {
		t.Fatalf("not an OpenAPI 3 document: %q with %d paths", doc.OpenAPI, len(doc.Paths))
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			if m == "servers" || m == "parameters" || m == "summary" || m == "description" {
				continue // a path item's other fields
			}
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	routed := map[string]bool{}
	for _, r := range s.srv.App().GetRoutes(true) {
		// The media endpoints (WHIP, WHEP, sessions, room events) are at the
		// site root and are part of the clients' contract too.
		media := r.Path == "/whip" || strings.HasPrefix(r.Path, "/whip/") || strings.HasPrefix(r.Path, "/whep/") || strings.HasPrefix(r.Path, "/stream/")
		if (!strings.HasPrefix(r.Path, web.APIBase+"/") && !media) || r.Method == http.MethodHead || r.Method == http.MethodOptions || strings.HasSuffix(r.Path, "/*") {
			continue
		}
		segs := strings.Split(strings.TrimPrefix(r.Path, web.APIBase), "/")
		for i, seg := range segs {
			if strings.HasPrefix(seg, ":") {
				segs[i] = "{" + seg[1:] + "}"
			}
		}
		routed[r.Method+" "+strings.Join(segs, "/")] = true
	}
	var missing, extra []string
	for k := range routed {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !routed[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("API routes and OpenAPI document disagree:\n routes not documented: %v\n documented, no route: %v", missing, extra)
	}
	if len(routed) < 30 {
		t.Fatalf("only %d API routes found: the walk is broken", len(routed))
	}
}
