package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsTheEmbeddedSetup(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "127.0.0.1:8080" || c.Database.URL != "sqlite://./data/camkit.db" ||
		c.Plugins.Processor != "sandbox" || c.Plugins.Theme != "default" || c.Plugins.Currency != "fixed" || c.Plugins.Split != "percentage" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestFileThenEnvironmentOverrides(t *testing.T) {
	p := filepath.Join(t.TempDir(), "camkit.toml")
	os.WriteFile(p, []byte(`
[http]
addr = "0.0.0.0:9000"
[plugins]
theme = "midnight"
call_timeout = "2s"
[plugin.processor-sandbox]
sha256 = "abc"
[plugin.processor-sandbox.settings]
state_file = "/tmp/x.json"
`), 0o600)
	c, err := Load(p, []string{"CAMKIT_DATABASE_URL=postgres://db/x", "CAMKIT_HTTP_ADDR=127.0.0.1:1", "OTHER=1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "127.0.0.1:1" {
		t.Errorf("env did not override http.addr: %q", c.HTTP.Addr)
	}
	if c.Database.URL != "postgres://db/x" || c.Plugins.Theme != "midnight" || c.Plugins.CallTimeout.Duration != 2*time.Second {
		t.Errorf("file values lost: %+v", c)
	}
	js, _ := c.PluginSettingsJSON("processor", "sandbox")
	if string(js) != `{"state_file":"/tmp/x.json"}` {
		t.Errorf("settings json = %s", js)
	}
	if c.Plugin["processor-sandbox"].SHA256 != "abc" {
		t.Errorf("sha256 lost")
	}
}

func TestBadInputIsOneClearError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(p, []byte("[http]\nadr = \"x\"\n"), 0o600)
	for name, tc := range map[string]struct {
		path string
		env  []string
		want string
	}{
		"unknown key":       {p, nil, `unknown key "http.adr"`},
		"unreadable db url": {"", []string{"CAMKIT_DATABASE_URL=mysql://x"}, "database.url"},
		"bad duration":      {"", []string{"CAMKIT_PLUGINS_CALL_TIMEOUT=soon"}, "CAMKIT_PLUGINS_CALL_TIMEOUT"},
		"missing file":      {filepath.Join(t.TempDir(), "nope.toml"), nil, "no such file"},
		"unknown currency":  {"", []string{"CAMKIT_SITE_CURRENCY=XYZ"}, `site.currency "XYZ"`},
		"bad trusted proxy": {writeTOML(t, "[http]\ntrusted_proxies = [\"not-an-ip\"]\n"), nil, "http.trusted_proxies"},
		"path as name":      {"", []string{"CAMKIT_PLUGINS_THEME=../evil"}, "plugins.theme"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(tc.path, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func writeTOML(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
