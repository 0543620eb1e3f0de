package main_test

// Issue 10, symptoms 1 and 9, against the real `camkit serve` on
// PostgreSQL with the real plugin processes: forged processor postbacks
// behind a trusted reverse proxy, a log-in spray with a rotating
// X-Forwarded-For, and the sandbox's published webhook secret.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/plugins/processor-epoch/fakegw"
	"github.com/camkit/camkit/sdk/money"
)

// behindProxy is the reverse-proxy set-up of the report: the proxy on
// 127.0.0.1 (where the test connects from) is trusted.
const behindProxy = "[http]\ntrusted_proxies = [\"127.0.0.1\"]\n"

// epochKey is the merchant's digest key the deployment is configured with.
const epochKey = "deployment-epoch-digest-key-42"

// pgHost starts camkit serve on a PostgreSQL database with a config file.
func pgHost(t *testing.T, dbURL, config string, plugins []string) *host {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "camkit.toml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return startHost(t, "CAMKIT_DATABASE_URL="+dbURL, "CAMKIT_CONFIG="+cfg, "CAMKIT_SECURITY_COOKIE_SECURE=false",
		"CAMKIT_PLUGINS_DIR="+testbin.PluginDir(t, plugins...))
}

// stop ends the host with SIGTERM and waits for it. Only then may its
// output be read: it is written while the host runs.
func (h *host) stop() {
	h.t.Helper()
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = h.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		h.t.Fatalf("camkit serve did not stop within 15 s")
	}
}

// do sends a request and returns the status and body.
func (h *host) do(method, path string, header http.Header, body []byte) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, "http://"+h.addr+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// signup makes a viewer through the API and returns its id and bearer token.
func (h *host) signup(email string) (id, token string) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"email": email, "password": "a long enough password", "display_name": "Viewer", "adult": true})
	code, out := h.do("POST", "/api/v1/signup", http.Header{"Content-Type": {"application/json"}}, body)
	var s struct {
		Token string `json:"token"`
		User  struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if code != http.StatusCreated || json.Unmarshal([]byte(out), &s) != nil || s.User.ID == "" {
		h.t.Fatalf("signup: %d %s", code, out)
	}
	return s.User.ID, s.Token
}

// wallet is the viewer's wallet balance as the API shows it.
func (h *host) wallet(token string) money.Money {
	h.t.Helper()
	code, out := h.do("GET", "/api/v1/wallet", http.Header{"Authorization": {"Bearer " + token}}, nil)
	var w struct {
		Balance money.Money `json:"balance"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(out), &w) != nil {
		h.t.Fatalf("wallet: %d %s", code, out)
	}
	return w.Balance
}

// metric is the value of one series of /metrics (0 when absent).
func (h *host) metric(series string) float64 {
	h.t.Helper()
	_, out := h.do("GET", "/metrics", nil, nil)
	for _, line := range strings.Split(out, "\n") {
		if name, v, ok := strings.Cut(line, " "); ok && name == series {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				h.t.Fatalf("metric %s: %q", series, line)
			}
			return f
		}
	}
	return 0
}

func count(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func openDB(t *testing.T, dbURL string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func form() http.Header {
	return http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
}

func withXFF(h http.Header, xff string) http.Header {
	h.Set("X-Forwarded-For", xff)
	return h
}

// Symptom 1: behind a trusted proxy, a forged Epoch sale postback with
// Epoch's address put first in X-Forwarded-For credited 5,000.00 USD. Now
// every forgery is refused (401) with no wallet credited and no ledger
// transfer or processor event written, whatever the address chain says; the
// refusals are counted and logged with the client's address; and a genuine
// postback of a 10.00 price point that says amount=5000.00 credits 10.00.
func TestForgedEpochPostbacksBehindATrustedProxyCreditNothing(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	config := behindProxy + fmt.Sprintf(`
[plugins]
processor = "epoch"

[plugin.processor-epoch.settings]
co_code = "abc123"
digest_key = %q
state_file = %q
price_points = [{ pi_code = "pack10", amount = 1000, currency = "USD" }]
`, epochKey, filepath.Join(t.TempDir(), "epoch.json"))
	h := pgHost(t, dbURL, config, []string{"processor-epoch", "currency-fixed", "split-percentage", "theme-default"})
	db := openDB(t, dbURL)
	viewer, token := h.signup("buyer@example.test")

	sale := url.Values{"ans": {"YGOODTEST|80000001"}, "order_id": {"70000001"}, "transaction_id": {"80000001"}, "member_id": {"5551"},
		"pi_code": {"pack10"}, "amount": {"5000.00"}, "currency": {"USD"}, "x_camkit_customer": {viewer}}
	genuine := fakegw.Sign(sale, epochKey)
	tampered := fakegw.Sign(sale, epochKey)
	tampered.Set("x_camkit_customer", viewer+"X")
	forged := []struct {
		name, xff string
		body      url.Values
	}{
		// The attack of the report: Epoch's address first, the real client
		// (here the trusted proxy itself) last; no digest at all.
		{"unsigned, Epoch's address spoofed in front of the proxy", "208.236.105.10, 127.0.0.1", sale},
		{"unsigned, Epoch's address alone", "208.236.105.10", sale},
		{"signed with another key", "208.236.105.10, 127.0.0.1", fakegw.Sign(sale, "not-the-merchants-key-0123")},
		{"a wrong digest", "208.236.105.10", func() url.Values {
			v := fakegw.Sign(sale, epochKey)
			v.Set("epoch_digest", strings.Repeat("0", 32))
			return v
		}()},
		{"changed after signing", "208.236.105.10", tampered},
		// Correctly signed, but the proxy says the sender is not Epoch: the
		// address is still checked (clientaddr takes the last untrusted hop).
		{"signed, from a client off the allow-list", "208.236.105.10, 198.51.100.7", genuine},
	}
	for _, f := range forged {
		code, out := h.do("POST", "/webhooks/epoch", withXFF(form(), f.xff), []byte(f.body.Encode()))
		if code != http.StatusUnauthorized || strings.Contains(out, "<html") || strings.Contains(out, epochKey) {
			t.Errorf("%s: %d %s, want 401 in plain text", f.name, code, out)
		}
	}
	if w := h.wallet(token); w.Amount != 0 {
		t.Fatalf("forged postbacks credited %v", w)
	}
	if n := count(t, db, `SELECT count(*) FROM ledger_transfers`); n != 0 {
		t.Fatalf("forged postbacks wrote %d ledger transfers", n)
	}
	if n := count(t, db, `SELECT count(*) FROM processor_events`); n != 0 {
		t.Fatalf("forged postbacks recorded %d processor events", n)
	}
	if got := h.metric(`camkit_webhooks_refused_total{processor="epoch",reason="unauthenticated"}`); got != float64(len(forged)) {
		t.Errorf("camkit_webhooks_refused_total = %v, want %d", got, len(forged))
	}

	// Epoch's postback through the proxy: signed, from Epoch's address, for
	// a 10.00 price point, claiming 5000.00. It credits 10.00, once, however
	// often Epoch redelivers it.
	for i := 0; i < 2; i++ {
		code, out := h.do("POST", "/webhooks/epoch", withXFF(form(), "208.236.105.20"), []byte(genuine.Encode()))
		if code != http.StatusOK || out != "OK" {
			t.Fatalf("genuine postback (delivery %d): %d %s", i+1, code, out)
		}
	}
	if w := h.wallet(token); w != (money.Money{Amount: 1000, Currency: "USD"}) {
		t.Fatalf("the genuine sale of a 10.00 pack credited %v", w)
	}
	if n := count(t, db, `SELECT count(*) FROM ledger_transfers`); n != 1 {
		t.Fatalf("one sale delivered twice wrote %d ledger transfers", n)
	}
	if out, code := ledgerVerify(t, dbURL); code != 0 || !strings.Contains(out, "clean") {
		t.Fatalf("ledger verify after the postbacks: %d\n%s", code, out)
	}
	h.stop()
	logs := h.out.String()
	for _, client := range []string{"208.236.105.10", "198.51.100.7"} {
		if !regexp.MustCompile(`webhook refused.*processor=epoch.*reason=unauthenticated.*client=` + regexp.QuoteMeta(client)).MatchString(logs) {
			t.Errorf("no refusal logged for client %s:\n%s", client, logs)
		}
	}
	if strings.Contains(logs, epochKey) || strings.Contains(logs, genuine.Get("epoch_digest")) {
		t.Errorf("the log shows the digest key or a digest")
	}
}

// Symptom 1, second half: 25 failed log-ins behind the trusted proxy, each
// with another first X-Forwarded-For entry (the client's own words) and
// another account, from one real client. The per-address limit now sees
// that one client: it answers 429, counts the refusals and logs the address.
func TestLoginSprayWithRotatingForwardedForIsRateLimited(t *testing.T) {
	h := pgHost(t, storetest.PostgresURL(t), behindProxy, testbin.DefaultPlugins)
	const client = "203.0.113.5" // what the proxy appends: the real client
	limited := 0
	for i := 0; i < 25; i++ {
		body, _ := json.Marshal(map[string]string{"email": fmt.Sprintf("victim%d@example.test", i), "password": "guess"})
		hdr := withXFF(http.Header{"Content-Type": {"application/json"}}, fmt.Sprintf("198.18.%d.%d, %s", i, i+1, client))
		code, out := h.do("POST", "/api/v1/session", hdr, body)
		switch code {
		case http.StatusTooManyRequests:
			limited++
		case http.StatusUnauthorized, http.StatusBadRequest:
		default:
			t.Fatalf("log-in %d: %d %s", i+1, code, out)
		}
	}
	if limited == 0 {
		t.Fatalf("25 failed log-ins from one client behind the proxy never got a 429")
	}
	if got := h.metric(`camkit_logins_refused_total{reason="rate_limited"}`); got != float64(limited) {
		t.Errorf("rate_limited refusals counted %v, answered %d", got, limited)
	}
	if got := h.metric(`camkit_logins_refused_total{reason="unknown_user"}`); got != float64(25-limited) {
		t.Errorf("unknown_user refusals counted %v, want %d", got, 25-limited)
	}
	h.stop()
	logs := h.out.String()
	if !regexp.MustCompile(`log-in refused.*reason=rate_limited.*client=` + regexp.QuoteMeta(client)).MatchString(logs) {
		t.Errorf("the rate-limited log-ins are not logged with the client's address:\n%s", logs)
	}
	if strings.Contains(logs, "guess") || strings.Contains(logs, "victim1@") {
		t.Errorf("the log shows a password or an email:\n%s", logs)
	}
}

// sandboxWebhook is a signed sandbox event (X-Sandbox-Signature).
func sandboxWebhook(secret, id string) (http.Header, []byte) {
	body := []byte(fmt.Sprintf(`{"id":%q,"type":"rebill","reference":"sbx_ch_%s","amount":{"amount":500,"currency":"USD"},"occurred_at":%q}`,
		id, id, time.Now().UTC().Format(time.RFC3339)))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return http.Header{"Content-Type": {"application/json"}, "X-Sandbox-Signature": {"t=" + ts + ",s=" + hex.EncodeToString(m.Sum(nil))}}, body
}

// Symptom 9: the sandbox accepted webhooks signed with a secret printed in
// the repository. Now the host generates one per deployment, keeps it in
// the database and passes it to the plugin: the published one is refused,
// the deployment's is accepted, and it is the same after a restart.
func TestSandboxWebhookSecretIsTheDeploymentsOwnAndSurvivesARestart(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	const published = "camkit-sandbox-development-secret"
	h := pgHost(t, dbURL, "", testbin.DefaultPlugins)
	db := openDB(t, dbURL)
	var stored string
	if err := db.SQL().QueryRow(`SELECT value FROM settings WHERE key = 'processor.sandbox.webhook_secret'`).Scan(&stored); err != nil {
		t.Fatalf("the deployment's sandbox secret is not in the database: %v", err)
	}
	if raw, err := base64.RawStdEncoding.DecodeString(stored); err != nil || len(raw) < 32 {
		t.Fatalf("stored secret %q is not 32 random bytes", stored)
	}
	deliver := func(h *host, secret, id string) int {
		hdr, body := sandboxWebhook(secret, id)
		code, _ := h.do("POST", "/webhooks/sandbox", hdr, body)
		return code
	}
	if code := deliver(h, published, "evt_forged_1"); code != http.StatusUnauthorized {
		t.Fatalf("a webhook signed with the published secret answered %d, want 401", code)
	}
	if code := deliver(h, stored, "evt_1"); code != http.StatusOK {
		t.Fatalf("a webhook signed with the deployment's secret answered %d", code)
	}
	if got := h.metric(`camkit_webhooks_refused_total{processor="sandbox",reason="unauthenticated"}`); got != 1 {
		t.Errorf("refused sandbox webhooks counted %v, want 1", got)
	}
	h.stop()

	h = pgHost(t, dbURL, "", testbin.DefaultPlugins)
	var again string
	if err := db.SQL().QueryRow(`SELECT value FROM settings WHERE key = 'processor.sandbox.webhook_secret'`).Scan(&again); err != nil || again != stored {
		t.Fatalf("after a restart the secret is %q (%v), was %q", again, err, stored)
	}
	if code := deliver(h, stored, "evt_2"); code != http.StatusOK {
		t.Fatalf("after a restart the deployment's secret answered %d", code)
	}
	if code := deliver(h, published, "evt_forged_2"); code != http.StatusUnauthorized {
		t.Fatalf("after a restart the published secret answered %d", code)
	}
	if n := count(t, db, `SELECT count(*) FROM processor_events WHERE processor = 'sandbox'`); n != 2 {
		t.Fatalf("%d sandbox events recorded, want the 2 authentic ones", n)
	}

	// An operator who copies the published value into the config file gets
	// a host that refuses to start, saying why.
	cfg := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(cfg, []byte("[plugin.processor-sandbox.settings]\nwebhook_secret = \""+published+"\"\n"), 0o600)
	line := runFail(t, env(t, "CAMKIT_CONFIG="+cfg, "CAMKIT_DATABASE_URL="+dbURL, "CAMKIT_HTTP_ADDR="+freeAddr(t)), "serve")
	if !strings.Contains(line, "webhook_secret") || !strings.Contains(line, "published") {
		t.Fatalf("serve with the published secret: %q", line)
	}
}

// login logs in through the API from client (behind the trusted proxy) and
// returns the status, the bearer token and the user's id.
func (h *host) login(client, email, password string) (int, string, string) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	code, out := h.do("POST", "/api/v1/session", withXFF(http.Header{"Content-Type": {"application/json"}}, client), body)
	var s struct {
		Token string `json:"token"`
		User  struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	_ = json.Unmarshal([]byte(out), &s)
	return code, s.Token, s.User.ID
}

// Admin actions and the refusals of suspended accounts and wrong passwords
// are logged with who, from which client address, and counted.
func TestAdminActionsAndRefusedLoginsAreAudited(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	h := pgHost(t, dbURL, behindProxy, testbin.DefaultPlugins)
	cmd := exec.Command(testbin.Host(t), "admin", "create", "--email", "root@example.test", "--password", "a long admin password")
	cmd.Dir, cmd.Env = t.TempDir(), env(t, "CAMKIT_DATABASE_URL="+dbURL)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("admin create: %v\n%s", err, out)
	}
	const adminClient = "192.0.2.50"
	code, token, adminID := h.login(adminClient, "root@example.test", "a long admin password")
	if code != http.StatusCreated || token == "" {
		t.Fatalf("admin log-in: %d", code)
	}
	body, _ := json.Marshal(map[string]any{"email": "model@example.test", "password": "a model password", "display_name": "Model", "role": "model", "adult": true})
	code, out := h.do("POST", "/api/v1/signup", http.Header{"Content-Type": {"application/json"}}, body)
	var m struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if code != http.StatusCreated || json.Unmarshal([]byte(out), &m) != nil {
		t.Fatalf("model signup: %d %s", code, out)
	}
	admin := func(path string) int {
		hdr := withXFF(http.Header{"Authorization": {"Bearer " + token}}, adminClient)
		code, _ := h.do("POST", path, hdr, nil)
		return code
	}
	for path, want := range map[string]int{
		"/api/v1/admin/models/" + m.User.ID + "/approve": http.StatusOK,
		"/api/v1/admin/ledger/verify":                    http.StatusOK,
		"/api/v1/admin/models/NOSUCHMODEL/approve":       http.StatusNotFound,
	} {
		if got := admin(path); got != want {
			t.Fatalf("POST %s: %d, want %d", path, got, want)
		}
	}
	if got := admin("/api/v1/admin/models/" + m.User.ID + "/reject"); got != http.StatusOK {
		t.Fatalf("reject: %d", got)
	}
	if code, _, _ := h.login("198.51.100.20", "model@example.test", "a model password"); code != http.StatusForbidden {
		t.Fatalf("a suspended model logged in: %d", code)
	}
	if code, _, _ := h.login("198.51.100.21", "root@example.test", "wrong password"); code != http.StatusUnauthorized {
		t.Fatalf("a wrong password: %d", code)
	}
	for series, want := range map[string]float64{
		`camkit_admin_actions_total{action="approve_model",outcome="ok"}`:     1,
		`camkit_admin_actions_total{action="approve_model",outcome="failed"}`: 1,
		`camkit_admin_actions_total{action="verify_ledger",outcome="ok"}`:     1,
		`camkit_admin_actions_total{action="reject_model",outcome="ok"}`:      1,
		`camkit_logins_refused_total{reason="suspended"}`:                     1,
		`camkit_logins_refused_total{reason="bad_password"}`:                  1,
	} {
		if got := h.metric(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	h.stop()
	logs := h.out.String()
	for _, re := range []string{
		`admin action.*action=approve_model.*outcome=ok.*admin=` + adminID + `.*client=` + adminClient + `.*target=` + m.User.ID,
		`admin action.*action=reject_model.*outcome=ok.*client=` + adminClient,
		`admin action.*action=verify_ledger.*outcome=ok.*client=` + adminClient,
		`log-in refused.*reason=suspended.*client=198\.51\.100\.20.*user=` + m.User.ID,
		`log-in refused.*reason=bad_password.*client=198\.51\.100\.21.*user=` + adminID,
	} {
		if !regexp.MustCompile(re).MatchString(logs) {
			t.Errorf("the log lacks /%s/:\n%s", re, logs)
		}
	}
	if strings.Contains(logs, "wrong password") || strings.Contains(logs, "a model password") {
		t.Errorf("the log shows a password")
	}
}
