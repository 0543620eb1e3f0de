package config

import (
	"slices"
	"strings"
	"testing"
)

func TestPluginEnvFromTheFileAndTheHost(t *testing.T) {
	c, err := Load(writeTOML(t, `
[plugin.processor-mobiuspay.env]
FX_FEED_REGION = "eu-west"
HTTPS_PROXY = "http://proxy.internal:3128"
[plugin.processor-mobiuspay]
pass_env = ["HTTPS_PROXY", "NO_PROXY", "UNSET_IN_HOST"]
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	host := []string{"HTTPS_PROXY=http://user:pw@proxy:3128", "NO_PROXY=localhost", "CAMKIT_DATABASE_URL=postgres://secret"}
	got := c.PluginEnv("processor", "mobiuspay", host)
	want := []string{"HTTPS_PROXY=http://user:pw@proxy:3128", "NO_PROXY=localhost", "FX_FEED_REGION=eu-west", "HTTPS_PROXY=http://proxy.internal:3128"}
	if !slices.Equal(got, want) {
		t.Fatalf("PluginEnv = %q\nwant %q (pass_env from the host, then env, which wins as the later entry)", got, want)
	}
	if got := c.PluginEnv("theme", "default", host); len(got) != 0 {
		t.Fatalf("a plugin with no env table gets %q", got)
	}
}

func TestPluginEnvRefusesHostAndHandshakeNames(t *testing.T) {
	for name, tc := range map[string]struct{ body, want string }{
		"camkit in env":       {"[plugin.theme-default.env]\nCAMKIT_DATABASE_URL = \"postgres://x\"\n", "plugin.theme-default.env: CAMKIT_DATABASE_URL is refused: CAMKIT_* variables"},
		"camkit any case":     {"[plugin.theme-default.env]\ncamkit_security_secret = \"x\"\n", "camkit_security_secret is refused"},
		"camkit in pass_env":  {"[plugin.currency-fixed]\npass_env = [\"CAMKIT_SECURITY_SECRET\"]\n", "plugin.currency-fixed.pass_env: CAMKIT_SECURITY_SECRET is refused"},
		"go-plugin handshake": {"[plugin.currency-fixed.env]\nPLUGIN_CLIENT_CERT = \"x\"\n", "PLUGIN_CLIENT_CERT is refused"},
		"not a variable name": {"[plugin.currency-fixed.env]\n\"A-B\" = \"x\"\n", `"A-B" is not a variable name`},
		"unused plugin table": {"[plugin.processor-ccbill]\npass_env = [\"CAMKIT_DATABASE_URL\"]\n", "plugin.processor-ccbill.pass_env"},
		"not a string value":  {"[plugin.currency-fixed.env]\nN = 1\n", "plugin.currency-fixed.env.N"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeTOML(t, tc.body), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
