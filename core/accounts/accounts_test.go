package accounts_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/sdk/errs"
)

func TestSignupLoginLogout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, err := e.svc.Signup(ctx, accounts.SignupRequest{NewUser: accounts.NewUser{
		Email: "  Alice@Example.COM ", DisplayName: " Alice ", Password: "correct horse battery"}, Adult: true, IP: "198.51.100.4"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != accounts.RoleViewer || u.Email != "Alice@Example.COM" || u.DisplayName != "Alice" || u.Status != accounts.StatusActive {
		t.Fatalf("signed up %+v", u)
	}
	// The email is unique ignoring case.
	_, err = e.svc.Signup(ctx, accounts.SignupRequest{NewUser: accounts.NewUser{
		Email: "alice@example.com", DisplayName: "Other", Password: "another password"}, Adult: true})
	if errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("second sign-up with the same email in other case: %v, want conflict", err)
	}
	// The password is stored as an argon2id hash, never as typed.
	var hash string
	if err := e.db.SQL().QueryRow(`SELECT password_hash FROM users WHERE id = $1`, u.ID).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$") || strings.Contains(hash, "correct horse") {
		t.Fatalf("stored hash %q", hash)
	}

	r, err := e.svc.Login(ctx, accounts.LoginRequest{Email: "ALICE@example.com", Password: "correct horse battery", IP: "198.51.100.4"})
	if err != nil {
		t.Fatal(err)
	}
	if r.User.ID != u.ID || len(r.Token) < 43 {
		t.Fatalf("login result %+v", r)
	}
	// Only the token's SHA-256 is stored.
	var n int
	if err := e.db.SQL().QueryRow(`SELECT count(*) FROM sessions WHERE id = $1 OR id = $2`, r.Token, r.Session.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if r.Session.ID == r.Token || n != 1 {
		t.Fatalf("session row lookup: %d rows, id %q", n, r.Session.ID)
	}
	var leaked int
	if err := e.db.SQL().QueryRow(`SELECT count(*) FROM sessions WHERE id = $1`, r.Token).Scan(&leaked); err != nil || leaked != 0 {
		t.Fatalf("raw token stored: %d %v", leaked, err)
	}
	got, sess, err := e.svc.Authenticate(ctx, r.Token)
	if err != nil || got.ID != u.ID || sess.ID != r.Session.ID {
		t.Fatalf("authenticate: %+v %+v %v", got, sess, err)
	}
	if err := e.svc.Logout(ctx, r.Token); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Authenticate(ctx, r.Token); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("after logout: %v, want unauthenticated", err)
	}
	if err := e.svc.Logout(ctx, r.Token); err != nil {
		t.Fatalf("second logout: %v", err)
	}
}

func TestSignupRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ok := accounts.NewUser{Email: "bob@example.com", DisplayName: "Bob", Password: "long enough pw"}
	for name, c := range map[string]struct {
		mod  func(*accounts.SignupRequest)
		want string
	}{
		"no adult box":     {func(r *accounts.SignupRequest) { r.Adult = false }, "18 or older"},
		"admin role":       {func(r *accounts.SignupRequest) { r.Role = accounts.RoleAdmin }, "created by an admin"},
		"bad email":        {func(r *accounts.SignupRequest) { r.Email = "bob" }, "not an email"},
		"display name tag": {func(r *accounts.SignupRequest) { r.Email = "Bob <bob@example.com>" }, "not an email"},
		"short password":   {func(r *accounts.SignupRequest) { r.Password = "short" }, "at least 8"},
		"huge password":    {func(r *accounts.SignupRequest) { r.Password = strings.Repeat("x", 300) }, "at most 256"},
		"empty name":       {func(r *accounts.SignupRequest) { r.DisplayName = "   " }, "display name is required"},
		"long name":        {func(r *accounts.SignupRequest) { r.DisplayName = strings.Repeat("é", 41) }, "at most 40"},
		"control in name":  {func(r *accounts.SignupRequest) { r.DisplayName = "Bob\u0000" }, "control"},
		"bidi in name":     {func(r *accounts.SignupRequest) { r.DisplayName = "Bob\u202e" }, "control"},
		"unknown role":     {func(r *accounts.SignupRequest) { r.Role = "root" }, "created by an admin"},
	} {
		r := accounts.SignupRequest{NewUser: ok, Adult: true}
		c.mod(&r)
		_, err := e.svc.Signup(ctx, r)
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want invalid mentioning %q", name, err, c.want)
		}
	}
	var n int
	if err := e.db.SQL().QueryRow(`SELECT count(*) FROM users`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rejected sign-ups left %d users (%v)", n, err)
	}
}

func TestWrongPasswordAndUnknownEmailAnswerTheSame(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.user(t, "carol@example.com", accounts.RoleViewer)
	_, err1 := e.svc.Login(ctx, accounts.LoginRequest{Email: "carol@example.com", Password: "wrong password!"})
	_, err2 := e.svc.Login(ctx, accounts.LoginRequest{Email: "nobody@example.com", Password: "wrong password!"})
	if errs.CodeOf(err1) != errs.Unauthenticated || err1.Error() != err2.Error() {
		t.Fatalf("wrong password %v / unknown email %v: want the same unauthenticated error", err1, err2)
	}
	var n int
	if err := e.db.SQL().QueryRow(`SELECT count(*) FROM sessions`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("failed log-ins opened %d sessions (%v)", n, err)
	}
}

func TestSessionExpiresWhenIdleAndAtItsAbsoluteLifetime(t *testing.T) {
	e := newEnv(t) // TTL 24 h, idle 1 h
	ctx := context.Background()
	e.user(t, "dave@example.com", accounts.RoleViewer)
	login := func() string {
		r, err := e.svc.Login(ctx, accounts.LoginRequest{Email: "dave@example.com", Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		return r.Token
	}
	idle := login()
	e.clk.Advance(59 * time.Minute)
	if _, _, err := e.svc.Authenticate(ctx, idle); err != nil {
		t.Fatalf("59 min idle: %v", err)
	}
	// That request reset the idle clock.
	e.clk.Advance(59 * time.Minute)
	if _, _, err := e.svc.Authenticate(ctx, idle); err != nil {
		t.Fatalf("59 min after the last request: %v", err)
	}
	e.clk.Advance(61 * time.Minute)
	if _, _, err := e.svc.Authenticate(ctx, idle); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("61 min idle: %v, want expired", err)
	}

	busy := login()
	// A request every 50 min keeps it from idling out, but not past 24 h.
	var lasted time.Duration
	for lasted < 30*time.Hour {
		e.clk.Advance(50 * time.Minute)
		lasted += 50 * time.Minute
		if _, _, err := e.svc.Authenticate(ctx, busy); err != nil {
			break
		}
	}
	if lasted < 24*time.Hour || lasted >= 24*time.Hour+50*time.Minute {
		t.Fatalf("a busy session ended after %s, want at its 24 h lifetime", lasted)
	}
	if _, _, err := e.svc.Authenticate(ctx, busy); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("past the absolute lifetime: %v", err)
	}
	if _, _, err := e.svc.Authenticate(ctx, "not-a-token"); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("unknown token: %v", err)
	}
}

func TestSuspendingRevokesSessionsAndBlocksLogin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.user(t, "root@example.com", accounts.RoleAdmin)
	v := e.user(t, "erin@example.com", accounts.RoleViewer)
	r, err := e.svc.Login(ctx, accounts.LoginRequest{Email: v.Email, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetStatus(ctx, v.ID, admin.ID, accounts.StatusSuspended); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("viewer suspending an admin: %v, want forbidden", err)
	}
	if err := e.svc.SetStatus(ctx, admin.ID, v.ID, accounts.StatusSuspended); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Authenticate(ctx, r.Token); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("suspended user's session: %v", err)
	}
	if _, err := e.svc.Login(ctx, accounts.LoginRequest{Email: v.Email, Password: "correct horse battery"}); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("suspended login: %v, want forbidden", err)
	}
}

func TestModelNeedsApprovalByAnAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.user(t, "root@example.com", accounts.RoleAdmin)
	viewer := e.user(t, "fan@example.com", accounts.RoleViewer)
	m, err := e.svc.Signup(ctx, accounts.SignupRequest{NewUser: accounts.NewUser{Email: "mia@example.com", DisplayName: "Mia", Password: "correct horse battery", Role: accounts.RoleModel}, Adult: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.CanBroadcast() {
		t.Fatal("a new model can broadcast before approval")
	}
	if err := e.svc.CheckCanBroadcast(ctx, m.ID); errs.CodeOf(err) != errs.Forbidden || !strings.Contains(err.Error(), "approval") {
		t.Fatalf("unapproved model: %v", err)
	}
	if err := e.svc.CheckCanBroadcast(ctx, viewer.ID); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("viewer broadcasting: %v", err)
	}
	pend, err := e.svc.PendingModels(ctx, 10)
	if err != nil || len(pend) != 1 || pend[0].ID != m.ID {
		t.Fatalf("pending models %+v %v", pend, err)
	}
	if _, err := e.svc.ApproveModel(ctx, viewer.ID, m.ID); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("viewer approving: %v, want forbidden", err)
	}
	if _, err := e.svc.ApproveModel(ctx, m.ID, m.ID); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("model approving herself: %v, want forbidden", err)
	}
	if _, err := e.svc.ApproveModel(ctx, admin.ID, viewer.ID); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("approving a viewer: %v, want invalid", err)
	}
	e.clk.Advance(time.Hour)
	ap, err := e.svc.ApproveModel(ctx, admin.ID, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !ap.CanBroadcast() || ap.ApprovedBy != admin.ID || !ap.ApprovedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("approved model %+v", ap)
	}
	if err := e.svc.CheckCanBroadcast(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if pend, _ := e.svc.PendingModels(ctx, 10); len(pend) != 0 {
		t.Fatalf("still pending: %+v", pend)
	}
}

func TestHTTPLoginLogoutWithCSRF(t *testing.T) {
	e := newEnv(t)
	app, _ := testApp(t, e)
	e.user(t, "gina@example.com", accounts.RoleViewer)
	b := newBrowser(t, app)
	b.cookies[accounts.AgeCookie] = mustAge(t, e)

	// A first visit gets the anonymous CSRF cookie and a token bound to it.
	code, body, _ := b.do("GET", "/", nil, nil)
	anonTok := csrfFrom(body)
	if code != 200 || anonTok == "" || b.cookies[accounts.CSRFCookie] == "" {
		t.Fatalf("home: %d %q cookies %v", code, body, b.cookies)
	}
	form := url.Values{"email": {"gina@example.com"}, "password": {"correct horse battery"}}

	// Missing and wrong tokens are refused with 403 and log nobody in.
	if code, body, _ := b.do("POST", "/login", form, nil); code != 403 || !strings.Contains(body, "CSRF") {
		t.Fatalf("login without a token: %d %q", code, body)
	}
	form.Set(accounts.CSRFField, anonTok[:len(anonTok)-2]+"AA")
	if code, _, _ := b.do("POST", "/login", form, nil); code != 403 {
		t.Fatalf("login with a wrong token: %d", code)
	}
	// A token from another visitor (another CSRF cookie) is refused too.
	other := newBrowser(t, app)
	other.cookies[accounts.AgeCookie] = b.cookies[accounts.AgeCookie]
	_, otherBody, _ := other.do("GET", "/", nil, nil)
	form.Set(accounts.CSRFField, csrfFrom(otherBody))
	if code, _, _ := b.do("POST", "/login", form, nil); code != 403 {
		t.Fatalf("login with another visitor's token: %d", code)
	}
	if b.cookies[accounts.SessionCookie] != "" {
		t.Fatal("a refused login set a session cookie")
	}

	form.Set(accounts.CSRFField, anonTok)
	code, body, hdr := b.do("POST", "/login", form, nil)
	if code != 200 || body != "welcome gina" {
		t.Fatalf("login: %d %q", code, body)
	}
	sc := hdr.Get("Set-Cookie")
	for _, want := range []string{"camkit_session=", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(strings.Join(hdr.Values("Set-Cookie"), "\n"), want) {
			t.Fatalf("session cookie lacks %s: %q", want, sc)
		}
	}
	code, body, _ = b.do("GET", "/", nil, nil)
	sessTok := csrfFrom(body)
	if code != 200 || !strings.HasPrefix(body, "gina/viewer") || sessTok == anonTok {
		t.Fatalf("home signed in: %d %q", code, body)
	}
	// The anonymous token no longer works once signed in: it is bound to the session.
	if code, _, _ := b.do("POST", "/logout", url.Values{accounts.CSRFField: {anonTok}}, nil); code != 403 {
		t.Fatalf("logout with the pre-login token: %d", code)
	}
	// The header works as well as the form field (JSON clients).
	if code, body, _ := b.do("POST", "/logout", url.Values{}, map[string]string{accounts.CSRFHeader: sessTok}); code != 200 || body != "bye" {
		t.Fatalf("logout: %d %q", code, body)
	}
	if code, _, _ := b.do("GET", "/me", nil, nil); code != 401 {
		t.Fatalf("after logout /me: %d, want 401", code)
	}
}

func TestHTTPSecureCookiesByDefault(t *testing.T) {
	e := newEnv(t)
	h := accounts.NewHTTP(e.svc, accounts.HTTPOptions{})
	app := newFiber()
	app.Use(h.Session(), h.CSRF())
	app.Get("/", func(c *fiberCtx) error { return c.SendString("ok") })
	b := newBrowser(t, app)
	_, _, hdr := b.do("GET", "/", nil, nil)
	c := strings.Join(hdr.Values("Set-Cookie"), "\n")
	if !strings.Contains(c, "camkit_csrf=") || !strings.Contains(strings.ToLower(c), "; secure") {
		t.Fatalf("default cookies are not Secure: %q", c)
	}
}

func TestHTTPRolesAndRequireUser(t *testing.T) {
	e := newEnv(t)
	app, _ := testApp(t, e)
	e.user(t, "root@example.com", accounts.RoleAdmin)
	e.user(t, "hal@example.com", accounts.RoleViewer)
	age := mustAge(t, e)
	login := func(email string) *browser {
		b := newBrowser(t, app)
		b.cookies[accounts.AgeCookie] = age
		_, body, _ := b.do("GET", "/", nil, nil)
		code, msg, _ := b.do("POST", "/login", url.Values{"email": {email}, "password": {"correct horse battery"}, accounts.CSRFField: {csrfFrom(body)}}, nil)
		if code != 200 {
			t.Fatalf("login %s: %d %s", email, code, msg)
		}
		return b
	}
	anon := newBrowser(t, app)
	anon.cookies[accounts.AgeCookie] = age
	if code, _, _ := anon.do("GET", "/admin", nil, nil); code != 401 {
		t.Fatalf("anonymous /admin: %d, want 401", code)
	}
	if code, body, _ := login("hal@example.com").do("GET", "/admin", nil, nil); code != 403 || !strings.Contains(body, "admin") {
		t.Fatalf("viewer /admin: %d %q, want 403", code, body)
	}
	if code, body, _ := login("root@example.com").do("GET", "/admin", nil, nil); code != 200 || body != "admin area" {
		t.Fatalf("admin /admin: %d %q", code, body)
	}
	// A forged session cookie is no session.
	anon.cookies[accounts.SessionCookie] = "forged-token-value"
	if code, _, _ := anon.do("GET", "/me", nil, nil); code != 401 {
		t.Fatalf("forged session: %d", code)
	}
}

func TestLoginRateLimitAnswers429(t *testing.T) {
	e := newEnv(t)
	app, _ := testApp(t, e)
	e.user(t, "ivy@example.com", accounts.RoleViewer)
	b := newBrowser(t, app)
	b.cookies[accounts.AgeCookie] = mustAge(t, e)
	_, body, _ := b.do("GET", "/", nil, nil)
	tok := csrfFrom(body)
	try := func(pw string) (int, string, string) {
		code, msg, hdr := b.do("POST", "/login", url.Values{"email": {"ivy@example.com"}, "password": {pw}, accounts.CSRFField: {tok}}, nil)
		return code, msg, hdr.Get("Retry-After")
	}
	for i := 0; i < accounts.DefaultLoginLimits.PerEmail.Burst; i++ {
		if code, msg, _ := try("wrong password"); code != 401 {
			t.Fatalf("attempt %d: %d %q, want 401", i+1, code, msg)
		}
	}
	code, msg, retry := try("correct horse battery")
	if code != 429 || !strings.Contains(msg, "too many log-in attempts") || retry == "" {
		t.Fatalf("6th attempt (right password): %d %q Retry-After %q, want 429 with a clear message", code, msg, retry)
	}
	e.clk.Advance(time.Minute)
	if code, msg, _ := try("correct horse battery"); code != 200 {
		t.Fatalf("a minute later: %d %q", code, msg)
	}
}

func TestLoginRateLimitPerIPAcrossAccounts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	limit := accounts.DefaultLoginLimits.PerIP.Burst
	for i := 0; i < limit; i++ {
		_, err := e.svc.Login(ctx, accounts.LoginRequest{Email: "user" + string(rune('a'+i)) + "@example.com", Password: "guess guess", IP: "192.0.2.9"})
		if errs.CodeOf(err) != errs.Unauthenticated {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	_, err := e.svc.Login(ctx, accounts.LoginRequest{Email: "fresh@example.com", Password: "guess guess", IP: "192.0.2.9"})
	var rl *accounts.RateLimitError
	if !asRateLimit(err, &rl) || rl.RetryAfter() <= 0 || errs.CodeOf(err) != errs.Limit {
		t.Fatalf("attempt past the per-IP burst: %v, want a rate limit", err)
	}
	// Another address is not affected.
	if _, err := e.svc.Login(ctx, accounts.LoginRequest{Email: "fresh@example.com", Password: "guess guess", IP: "192.0.2.10"}); errs.CodeOf(err) != errs.Unauthenticated {
		t.Fatalf("other IP: %v", err)
	}
}

func TestAgeGateRedirectsAndRecordsTheConfirmation(t *testing.T) {
	e := newEnv(t)
	app, _ := testApp(t, e)
	u := e.user(t, "jo@example.com", accounts.RoleViewer)
	b := newBrowser(t, app)
	code, _, hdr := b.do("GET", "/?x=1", nil, nil)
	if code != 303 || hdr.Get("Location") != "/age?return_to=%2F%3Fx%3D1" {
		t.Fatalf("unconfirmed visitor: %d Location %q", code, hdr.Get("Location"))
	}
	b.cookies[accounts.AgeCookie] = "forged.value"
	if code, _, _ := b.do("GET", "/", nil, nil); code != 303 {
		t.Fatalf("forged age cookie passed the gate: %d", code)
	}
	delete(b.cookies, accounts.AgeCookie)
	_, body, _ := b.do("GET", "/age", nil, nil)
	// Signed in, so the record names the user.
	r, err := e.svc.Login(context.Background(), accounts.LoginRequest{Email: u.Email, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	b.cookies[accounts.SessionCookie] = r.Token
	_, body, _ = b.do("GET", "/age", nil, nil)
	code, _, hdr = b.do("POST", "/age", url.Values{"return_to": {"/?x=1"}, accounts.CSRFField: {csrfFrom(body)}}, nil)
	if code != 303 || hdr.Get("Location") != "/?x=1" || b.cookies[accounts.AgeCookie] == "" {
		t.Fatalf("confirm: %d %q cookies %v", code, hdr.Get("Location"), b.cookies)
	}
	if code, _, _ := b.do("GET", "/", nil, nil); code != 200 {
		t.Fatalf("after confirming: %d", code)
	}
	recs, err := e.svc.AgeRecordsOf(context.Background(), u.ID)
	if err != nil || len(recs) != 1 {
		t.Fatalf("records %+v %v", recs, err)
	}
	rec := recs[0]
	if !rec.ConfirmedAt.Equal(t0) || rec.MinimumAge != 18 || len(rec.IPHash) != 32 || rec.IPHash == "0.0.0.0" {
		t.Fatalf("record %+v", rec)
	}
	// The record is the one the cookie names.
	id, _, _ := strings.Cut(b.cookies[accounts.AgeCookie], ".")
	if got, err := e.svc.AgeRecordOf(context.Background(), id); err != nil || got.UserID != u.ID {
		t.Fatalf("cookie's record %+v %v", got, err)
	}
	// An open redirect is neutralised.
	for _, bad := range []string{"//evil.example", "https://evil.example", "/\\evil.example", "evil"} {
		if got := accounts.SafeReturnTo(bad); got != "/" {
			t.Errorf("SafeReturnTo(%q) = %q", bad, got)
		}
	}
}

func TestSignupRecordsAgeConfirmation(t *testing.T) {
	e := newEnv(t)
	u, err := e.svc.Signup(context.Background(), accounts.SignupRequest{NewUser: accounts.NewUser{Email: "kai@example.com", DisplayName: "Kai", Password: "correct horse battery"}, Adult: true, IP: "198.51.100.77"})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := e.svc.AgeRecordsOf(context.Background(), u.ID)
	if err != nil || len(recs) != 1 || recs[0].IPHash != e.svc.HashIP("198.51.100.77") {
		t.Fatalf("records %+v %v", recs, err)
	}
}

func TestPasswordRehashedWhenParametersChange(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.user(t, "lee@example.com", accounts.RoleViewer)
	stronger := *accounts.TestPasswordParams
	stronger.Iterations = 2
	svc2, err := accounts.New(ctx, e.db, accounts.Options{Currency: "USD", Clock: e.clk, PasswordParams: &stronger})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc2.Login(ctx, accounts.LoginRequest{Email: u.Email, Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	var hash string
	if err := e.db.SQL().QueryRow(`SELECT password_hash FROM users WHERE id = $1`, u.ID).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(hash, "t=2,") {
		t.Fatalf("hash not upgraded: %q", hash)
	}
	if _, err := svc2.Login(ctx, accounts.LoginRequest{Email: u.Email, Password: "correct horse battery"}); err != nil {
		t.Fatalf("login after rehash: %v", err)
	}
}
