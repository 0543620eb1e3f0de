package main_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/internal/testbin"
)

// After plugins.processor changes from sandbox to sandbox-b, a card on file
// at sandbox keeps sandbox needed: serve loads it as retired when its binary
// is in plugins.dir, and refuses to start with one line naming what needs it
// when it is not.
func TestServeLoadsAFormerProcessorAsRetiredOrRefuses(t *testing.T) {
	dir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "camkit.db")
	link := func(d, file, as string) {
		if err := os.Symlink(testbin.Plugin(t, file), filepath.Join(d, as)); err != nil {
			t.Fatal(err)
		}
	}
	all := testbin.PluginDir(t, testbin.DefaultPlugins...)
	link(all, "processor-sandbox", "processor-sandbox-b")
	noOld := testbin.PluginDir(t, "currency-fixed", "split-percentage", "theme-default")
	link(noOld, "processor-sandbox", "processor-sandbox-b")

	mig := exec.Command(testbin.Host(t), "migrate", "up")
	mig.Dir, mig.Env = dir, env(t, "CAMKIT_DATABASE_URL="+dbURL)
	if out, err := mig.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO users (id, email, email_key, display_name, role, status, password_hash, created_at, updated_at)
			VALUES ('u1', 'viv@example.com', 'viv@example.com', 'Viv', 'viewer', 'active', 'x', ?, ?)`, []any{now, now}},
		{`INSERT INTO payment_methods (user_id, processor, token, brand, last4, created_at) VALUES ('u1', 'sandbox', 'sbx_tok_1', 'visa', '4242', ?)`, []any{now}},
	} {
		if err := db.Gorm().Exec(q.sql, q.args...).Error; err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	line := runFail(t, env(t, "CAMKIT_PLUGINS_DIR="+noOld, "CAMKIT_DATABASE_URL="+dbURL, "CAMKIT_PLUGINS_PROCESSOR=sandbox-b",
		"CAMKIT_HTTP_ADDR="+freeAddr(t)), "serve")
	for _, want := range []string{"processor sandbox is no longer configured", "1 cards on file", filepath.Join(noOld, "processor-sandbox")} {
		if !strings.Contains(line, want) {
			t.Errorf("%q does not mention %q", line, want)
		}
	}

	h := startHostIn(t, dir, "CAMKIT_PLUGINS_DIR="+all, "CAMKIT_DATABASE_URL="+dbURL, "CAMKIT_PLUGINS_PROCESSOR=sandbox-b")
	// Both processors' routes are served: the retired one's pages and
	// webhooks still reach it (an unknown checkout is its own 404).
	if code, body := h.get("/pay/sandbox/checkout?ref=nope"); code != 404 || !strings.Contains(body, "unknown checkout") {
		t.Errorf("retired sandbox's page answered %d %q", code, body)
	}
	if code, body := h.get("/pay/sandbox-b/checkout?ref=nope"); code != 404 || !strings.Contains(body, "unknown checkout") {
		t.Errorf("sandbox-b's page answered %d %q", code, body)
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	_ = h.cmd.Wait()
	out := h.out.String()
	if !strings.Contains(out, "loading a former processor as retired") || !strings.Contains(out, "retired=[sandbox]") {
		t.Fatalf("serve did not load sandbox as retired:\n%s", out)
	}
}
