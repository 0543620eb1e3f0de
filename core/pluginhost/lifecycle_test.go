package pluginhost_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
)

// environ reads a process's environment as the kernel gave it at exec,
// exactly what another process of the same user can read.
func environ(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range bytes.Split(b, []byte{0}) {
		if len(kv) > 0 {
			out = append(out, string(kv))
		}
	}
	return out
}

// The host's secrets are in its environment; none reaches a plugin, while
// what the operator listed does, with the base variables and the host's log
// level.
func TestPluginEnvironmentHoldsNoHostSecret(t *testing.T) {
	const dbURL, secret = "postgres://camkit:db-password-5521@db/camkit", "security-secret-value-8813"
	t.Setenv("CAMKIT_DATABASE_URL", dbURL)
	t.Setenv("CAMKIT_SECURITY_SECRET", secret)
	t.Setenv("CAMKIT_STREAM_TURN_CREDENTIAL", "turn-credential-0071")
	t.Setenv("UNLISTED_HOST_VARIABLE", "not for plugins")
	t.Setenv("LC_TIME", "C.UTF-8")
	debug := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := pluginhost.NewHost(debug, nil)
	defer h.Close()
	for _, file := range []string{"theme-default", "currency-fixed"} {
		kind, name, _ := pluginhost.KindOf(file)
		in, err := h.Launch(context.Background(), pluginhost.Spec{Kind: kind, Name: name, Path: testbin.Plugin(t, file),
			Env: []string{"FX_FEED_REGION=eu-west", "HTTPS_PROXY=http://proxy.internal:3128"}})
		if err != nil {
			t.Fatal(err)
		}
		env := environ(t, in.Status().PID)
		joined := strings.Join(env, "\n")
		for _, leaked := range []string{dbURL, secret, "turn-credential-0071", "not for plugins"} {
			if strings.Contains(joined, leaked) {
				t.Errorf("%s: the host's %q is readable in /proc/<pid>/environ", file, leaked)
			}
		}
		got := map[string]string{}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			got[k] = v
			if strings.HasPrefix(k, "CAMKIT_") && k != pluginkit.Handshake.MagicCookieKey && k != pluginkit.LogLevelEnv {
				t.Errorf("%s: plugin environment holds %s", file, k)
			}
		}
		for k, want := range map[string]string{
			"FX_FEED_REGION": "eu-west", "HTTPS_PROXY": "http://proxy.internal:3128", // the operator's
			"PATH": os.Getenv("PATH"), "LC_TIME": "C.UTF-8", // the base set
			pluginkit.LogLevelEnv: "debug", // the host's level
		} {
			if got[k] != want {
				t.Errorf("%s: %s = %q, want %q", file, k, got[k], want)
			}
		}
	}
}

// A CAMKIT_* or PLUGIN_* name in a Spec's Env refuses the launch, naming it.
func TestOperatorEnvCannotNameHostOrHandshakeVariables(t *testing.T) {
	h := pluginhost.NewHost(quiet(), nil)
	defer h.Close()
	for _, kv := range []string{"CAMKIT_DATABASE_URL=postgres://x", "camkit_security_secret=x", "PLUGIN_CLIENT_CERT=x", "1BAD=x", "NOEQUALS"} {
		_, err := h.Launch(context.Background(), pluginhost.Spec{Kind: pluginkit.KindSplit, Name: "percentage",
			Path: testbin.Plugin(t, "split-percentage"), Env: []string{kv}})
		name, _, _ := strings.Cut(kv, "=")
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Env %q: got %v, want a refusal naming %s", kv, err, name)
		}
	}
	if n := len(h.Instances()); n != 0 {
		t.Fatalf("%d plugin(s) launched with a refused environment", n)
	}
}

// Two sandbox processes on one state file: the second fails at start naming
// the file and the first one's pid; the first keeps writing its state.
func TestSecondSandboxOnOneStateFileFailsAtStart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	settings := []byte(`{"state_file":"` + state + `","webhook_secret":"pluginhost-test-secret-0123"}`)
	spec := pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: "sandbox", Path: testbin.Plugin(t, "processor-sandbox"), Settings: settings}

	first := pluginhost.NewHost(quiet(), nil)
	defer first.Close()
	in, err := first.Launch(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	p := pluginhost.NewProcessor(in)

	second := pluginhost.NewHost(quiet(), nil)
	defer second.Close()
	_, err = second.Launch(context.Background(), spec)
	want := fmt.Sprintf("state file %s is in use by another process (pid %d)", state, in.Status().PID)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second instance: %v\nwant an error containing %q", err, want)
	}
	if n := len(second.Instances()); n != 0 {
		t.Fatalf("the second host kept %d instance(s)", n)
	}

	co, err := p.StartCheckout(context.Background(), processor.StartCheckoutRequest{IdempotencyKey: "after-the-second",
		CustomerRef: "viewer/1", ReturnURL: "https://camkit.test/return"})
	if err != nil {
		t.Fatalf("the first instance stopped working: %v", err)
	}
	if st := in.Status(); !st.Healthy || st.Restarts != 0 {
		t.Fatalf("the first instance: %+v", st)
	}
	journal, _ := os.ReadFile(state + ".journal")
	if !bytes.Contains(journal, []byte(co.Reference)) {
		t.Fatalf("the first instance's checkout %s is not in its journal", co.Reference)
	}
}
