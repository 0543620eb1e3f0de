package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/internal/testbin"
)

// TestQuickstartPluginFundsAPrivateShow is the plugin author's path from an
// empty folder outside the repository: `camkit plugin new processor acme2`
// writes the README's quickstart, its own `go test` (the conformance suite)
// passes there, the binary goes into a plugins folder, and the real host runs
// with plugins.processor = "acme2". A viewer adds a card on the plugin's
// hosted page and pays a private show with it: the seat is funded as
// prepaid blocks (charges of the token the page made) and settles with a
// receipt. The card number never reaches the host.
func TestQuickstartPluginFundsAPrivateShow(t *testing.T) {
	browser := testbin.Browser(t, chromedp.WindowSize(1280, 900))
	dbURL := storetest.PostgresURL(t)
	camkitBin := testbin.Host(t)

	// The author's folder: a temporary one, outside the checkout.
	author := t.TempDir()
	if strings.HasPrefix(author, testbin.Root()+string(filepath.Separator)) {
		t.Fatalf("the temporary folder %s is inside the checkout", author)
	}
	src := filepath.Join(author, "processor-acme2")
	run := func(dir, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, out)
		}
		return string(out)
	}
	run(author, camkitBin, "plugin", "new", "processor", "acme2", "--dir", src)
	mod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "replace github.com/camkit/camkit/sdk => " + filepath.ToSlash(filepath.Join(testbin.Root(), "sdk")) + "\n"; !bytes.Contains(mod, []byte(want)) {
		t.Fatalf("go.mod does not point at this checkout's SDK (%q):\n%s", want, mod)
	}
	if out := run(src, "go", "test", "-count=1", "./..."); !strings.Contains(out, "ok") {
		t.Fatalf("the quickstart's own go test:\n%s", out)
	}
	pluginDir := testbin.PluginDir(t, "currency-fixed", "split-percentage", "theme-default")
	run(src, "go", "build", "-o", filepath.Join(pluginDir, "processor-acme2"), ".")

	dir := t.TempDir()
	addr := freeAddr(t)
	env := hostEnv(t, dbURL, pluginDir, addr, "CAMKIT_PLUGINS_PROCESSOR=acme2")
	if out, code := camkit(t, dir, env, "admin", "create", "--email", "ops@example.com", "--name", "Ops", "--password", password); code != 0 {
		t.Fatalf("camkit admin create: exit %d\n%s", code, out)
	}
	h := startHost(t, dir, env, addr)

	model, closeModel := newTab(t, browser, h.url, "model", chromedp.WithNewBrowserContext())
	defer closeModel()
	liveModel(t, browser, h.url, model)

	viewer, closeViewer := newTab(t, browser, h.url, "viewer", chromedp.WithNewBrowserContext())
	defer closeViewer()
	viewer.nav("/")
	if viewer.path() == "/age" {
		viewer.submit("/age", nil)
	}
	viewer.nav("/signup")
	viewer.submit("/signup", map[string]string{"email": "vic@example.com", "display_name": "Vic", "password": password, "adult": "yes"})

	// The card, on acme2's own page.
	viewer.nav("/wallet/card")
	payURL := viewer.str(`[...document.querySelectorAll('a')].map((a) => a.getAttribute('href')).find((h) => h && h.startsWith('/pay/')) || ''`)
	if !strings.HasPrefix(payURL, "/pay/acme2/card?ref=") {
		t.Fatalf("the checkout page links to %q, not acme2's card page", payURL)
	}
	viewer.nav(payURL)
	const pan = "4242424242424242"
	viewer.submit(viewer.str(`document.querySelector('form').getAttribute('action')`),
		map[string]string{"card_number": pan, "exp": "12/34", "cvc": "123"})
	if p := viewer.path(); p != "/wallet" || !strings.Contains(viewer.str(`document.body.innerText`), "4242") {
		t.Fatalf("after acme2's card page the viewer is on %s:\n%s", p, viewer.str(`document.body.innerText.slice(0, 800)`))
	}
	// The page's reference is single use: the same page again is gone.
	if r, err := http.Get(h.url + payURL); err != nil || r.StatusCode != http.StatusGone {
		t.Fatalf("the used card page answers %v %v, want 410", r, err)
	} else {
		r.Body.Close()
	}

	// A private show, paid with the card.
	viewer.nav("/")
	room := viewer.str(`[...document.querySelectorAll('a')].map((a) => a.getAttribute('href')).find((h) => h && h.startsWith('/shows/')) || ''`)
	if room == "" {
		t.Fatal("the home page does not show the model live")
	}
	viewer.nav(room)
	viewer.submit(room+"/private", nil)
	model.waitJS(`document.querySelector('[data-accept]') !== null`, 15*time.Second, "the request on the dashboard")
	model.js(`document.querySelector('[data-accept]').click()`)
	viewer.waitJS(`location.pathname.startsWith('/seats/')`, 20*time.Second, "the private show page")
	viewer.settle()
	seatID := strings.TrimPrefix(viewer.path(), "/seats/")
	viewer.waitJS(`window.__stats().then((s) => s.framesDecoded > 30)`, 30*time.Second, "private video")
	time.Sleep(3 * time.Second)

	tok := apiLogin(t, h.url, "vic@example.com", password)
	req, _ := http.NewRequest(http.MethodPost, h.url+"/api/v1/seats/"+seatID+"/end", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Idempotency-Key", "quickstart-end-"+seatID)
	if r, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if r.Body.Close(); r.StatusCode != 200 && r.StatusCode != 202 {
		t.Fatalf("ending the seat: HTTP %d", r.StatusCode)
	}
	var rec struct {
		Strategy        string `json:"strategy"`
		Processor       string `json:"processor"`
		BillableSeconds int64  `json:"billable_seconds"`
		Price           struct {
			Amount   int64
			Currency string
		} `json:"price"`
		Funding []struct {
			Kind, Reference, Status string
			Amount                  struct{ Amount int64 }
		} `json:"funding"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for apiGet(t, h.url, tok, "/receipts/"+seatID, &rec) != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("no receipt for seat %s 60 s after it ended", seatID)
		}
		time.Sleep(time.Second)
	}
	b, _ := json.Marshal(rec)
	t.Logf("receipt: %s", b)
	if rec.Strategy != "prepaid_blocks" || rec.Processor != "acme2" {
		t.Fatalf("the seat was funded by %q through %q, want prepaid_blocks through acme2", rec.Strategy, rec.Processor)
	}
	charged := false
	for _, f := range rec.Funding {
		charged = charged || strings.HasPrefix(f.Reference, "acme2-") && f.Amount.Amount > 0
	}
	if !charged {
		t.Fatalf("no funding step is an acme2 charge: %+v", rec.Funding)
	}
	if rec.BillableSeconds <= 0 || rec.Price.Amount <= 0 || rec.Price.Currency != "USD" {
		t.Fatalf("receipt bills %d s for %d %s: want the show's seconds, priced in USD", rec.BillableSeconds, rec.Price.Amount, rec.Price.Currency)
	}
	if out, code := camkit(t, dir, env, "ledger", "verify"); code != 0 || !strings.Contains(out, "clean") {
		t.Fatalf("camkit ledger verify: exit %d\n%s", code, out)
	}
	if strings.Contains(h.out.String(), pan) {
		t.Fatal("the card number is in the host's log")
	}
}

// liveModel signs a model up, has an admin approve her and puts her live
// with the fake camera at 6.00 a minute, in the tab given.
func liveModel(t *testing.T, browser context.Context, base string, model *tab) {
	t.Helper()
	model.nav("/signup?role=model")
	if model.path() == "/age" {
		model.submit("/age", nil)
	}
	model.submit("/signup", map[string]string{"email": "mia@example.com", "display_name": "Mia", "password": password, "role": "model", "adult": "yes"})
	admin, closeAdmin := newTab(t, browser, base, "admin", chromedp.WithNewBrowserContext())
	defer closeAdmin()
	admin.nav("/login")
	if admin.path() == "/age" {
		admin.submit("/age", nil)
	}
	admin.submit("/login", map[string]string{"email": "ops@example.com", "password": password})
	admin.nav("/admin")
	approve := admin.str(`[...document.querySelectorAll('form')].map((f) => f.getAttribute('action')).find((a) => a && a.endsWith('/approve')) || ''`)
	if approve == "" {
		t.Fatal("the admin page lists no model to approve")
	}
	admin.submit(approve, nil)
	model.nav("/dashboard")
	model.submit("/dashboard/rate", map[string]string{"rate": "6.00"})
	model.submit("/dashboard/live", nil)
	model.waitJS(`window.__pcs && window.__pcs.some((pc) => pc.connectionState === 'connected')`, 30*time.Second, "the camera to connect over WHIP")
	model.waitJS(`window.__stats().then((s) => s.framesEncoded > 30)`, 30*time.Second, "the camera to send frames")
}
