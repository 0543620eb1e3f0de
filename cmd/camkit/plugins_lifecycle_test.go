package main_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/camkit/camkit/internal/testbin"
)

// Issue 10, symptoms 4 and 5: plugins outlived a crashed host (each restart
// added another sandbox processor on the same journal) and inherited the
// host's whole environment, database URL and secrets included.

// startHostIn is startHost with a working folder of the caller's choice, so
// that two hosts, or a host and its restart, share the default sandbox state
// file (./data/sandbox-processor.json).
func startHostIn(t *testing.T, dir string, extra ...string) *host {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(testbin.Host(t), "serve")
	cmd.Dir = dir
	cmd.Env = env(t, append([]string{"CAMKIT_HTTP_ADDR=" + addr}, extra...)...)
	h := &host{t: t, cmd: cmd, addr: addr, out: &testbin.Output{}}
	cmd.Stdout, cmd.Stderr = h.out, h.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get("http://" + addr + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return h
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("host not ready in 30 s; output:\n%s", h.out)
	return nil
}

// running reports whether pid is a live process; a zombie has exited.
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// kill -9 of the host: 2 s later none of its plugin processes is alive, and
// a host restarted in the same folder opens the same sandbox state at once.
func TestKill9OfTheHostLeavesNoPluginBehind(t *testing.T) {
	dir := t.TempDir()
	h := startHostIn(t, dir)
	pids := h.pluginPIDs()
	if len(pids) != 4 {
		t.Fatalf("want 4 plugin processes, got %v", pids)
	}
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.cmd.Wait()
	time.Sleep(2 * time.Second)
	for name, pid := range pids {
		if running(pid) {
			t.Errorf("plugin %s (pid %d) still running 2 s after kill -9 of the host", name, pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}

	again := startHostIn(t, dir)
	if code, _ := again.get("/readyz"); code != 200 {
		t.Fatalf("the restarted host is not ready: %d\n%s", code, again.out)
	}
	if n := again.pluginPIDs(); len(n) != 4 {
		t.Fatalf("the restarted host has plugin processes %v", n)
	}
}

// A second host in the same folder would run a second sandbox on the first
// one's state file: it stops at start with one line naming the file and the
// pid holding it, and the first host keeps running untouched.
func TestSecondSandboxOnTheSameStateFileFailsAtStart(t *testing.T) {
	dir := t.TempDir()
	first := startHostIn(t, dir)
	before := first.pluginPIDs()
	var sandbox int
	for name, pid := range before {
		if strings.HasPrefix(name, "processor-") { // the sandbox (comm is cut at 15 bytes)
			sandbox = pid
		}
	}
	if sandbox == 0 {
		t.Fatalf("no sandbox among %v", before)
	}

	cmd := exec.Command(testbin.Host(t), "serve")
	cmd.Dir = dir
	cmd.Env = env(t, "CAMKIT_HTTP_ADDR="+freeAddr(t))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a second host on the same sandbox state started; output:\n%s", out)
	}
	state := filepath.Join(dir, "data", "sandbox-processor.json")
	want := fmt.Sprintf("state file %s is in use by another process (pid %d)", state, sandbox)
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "camkit:") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Fatalf("want one 'camkit:' line containing %q; output:\n%s", want, out)
	}

	if code, body := first.get("/readyz"); code != 200 {
		t.Fatalf("the first host is no longer ready: %d %s", code, body)
	}
	after := first.pluginPIDs()
	for name, pid := range before {
		if after[name] != pid {
			t.Errorf("the first host's %s changed from pid %d to %d", name, pid, after[name])
		}
	}
}

// environOf reads a process's environment as the kernel gave it at exec:
// what any process of the same user can read.
func environOf(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			out[k] = v
		}
	}
	return out
}

// The host's environment holds its database URL and secret; no plugin's
// /proc/<pid>/environ does, while what the operator listed is there.
func TestPluginsDoNotInheritTheHostEnvironment(t *testing.T) {
	const secret = "host-security-secret-4471-abcdef"
	cfg := filepath.Join(t.TempDir(), "camkit.toml")
	if err := os.WriteFile(cfg, []byte(`
[plugin.currency-fixed.env]
FX_FEED_REGION = "eu-west"
[plugin.theme-default]
pass_env = ["LIFECYCLE_PASSED"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHostIn(t, t.TempDir(), "CAMKIT_CONFIG="+cfg, "CAMKIT_SECURITY_SECRET="+secret, "LIFECYCLE_PASSED=from-the-host",
		"LIFECYCLE_UNLISTED=not-for-plugins")
	hostEnv := environOf(t, h.cmd.Process.Pid)
	dbURL := hostEnv["CAMKIT_DATABASE_URL"]
	if dbURL == "" || hostEnv["CAMKIT_SECURITY_SECRET"] != secret {
		t.Fatalf("the host itself lacks the variables under test: %v", hostEnv)
	}
	pids := h.pluginPIDs()
	if len(pids) != 4 {
		t.Fatalf("want 4 plugin processes, got %v", pids)
	}
	for name, pid := range pids {
		env := environOf(t, pid)
		for k, v := range env {
			if strings.HasPrefix(k, "CAMKIT_") && k != "CAMKIT_PLUGIN" && k != "CAMKIT_PLUGIN_LOG_LEVEL" {
				t.Errorf("%s: environ holds %s", name, k)
			}
			if strings.Contains(v, secret) || strings.Contains(v, dbURL) || v == "not-for-plugins" {
				t.Errorf("%s: environ holds the host's value %s=%q", name, k, v)
			}
		}
		if env["PATH"] == "" || env["CAMKIT_PLUGIN_LOG_LEVEL"] != "info" {
			t.Errorf("%s: PATH %q, log level %q", name, env["PATH"], env["CAMKIT_PLUGIN_LOG_LEVEL"])
		}
		switch {
		case strings.HasPrefix(name, "currency"):
			if env["FX_FEED_REGION"] != "eu-west" {
				t.Errorf("%s: the operator's FX_FEED_REGION is %q", name, env["FX_FEED_REGION"])
			}
		case strings.HasPrefix(name, "theme"):
			if env["LIFECYCLE_PASSED"] != "from-the-host" {
				t.Errorf("%s: pass_env LIFECYCLE_PASSED is %q", name, env["LIFECYCLE_PASSED"])
			}
		}
		if _, ok := env["LIFECYCLE_PASSED"]; ok && !strings.HasPrefix(name, "theme") {
			t.Errorf("%s got another plugin's pass_env", name)
		}
	}
}
