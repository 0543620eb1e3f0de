package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/store"
)

func TestAdminCreateMakesAnAdminWhoCanLogIn(t *testing.T) {
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "camkit.db")
	t.Setenv("CAMKIT_DATABASE_URL", dbURL)
	run := func(stdin string, args ...string) (string, error) {
		cmd := rootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetIn(strings.NewReader(stdin))
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(context.Background())
		return out.String(), err
	}
	out, err := run("", "admin", "create", "--email", "Root@Example.com", "--password", "a long admin password")
	if err != nil || !strings.Contains(out, "admin Root@Example.com created") {
		t.Fatalf("create: %q %v", out, err)
	}
	if _, err := run("", "admin", "create", "--email", "root@example.com", "--password", "another long one"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := run("short\n", "admin", "create", "--email", "x@example.com"); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Fatalf("short stdin password: %v", err)
	}
	if _, err := run("from stdin 12345\n", "admin", "create", "--email", "two@example.com", "--password", "-"); err != nil {
		t.Fatalf("stdin password: %v", err)
	}

	db, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := accounts.New(context.Background(), db, accounts.Options{Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	for email, pw := range map[string]string{"root@example.com": "a long admin password", "two@example.com": "from stdin 12345"} {
		r, err := svc.Login(context.Background(), accounts.LoginRequest{Email: email, Password: pw})
		if err != nil || r.User.Role != accounts.RoleAdmin {
			t.Fatalf("log in as %s: %+v %v", email, r.User, err)
		}
	}
}
