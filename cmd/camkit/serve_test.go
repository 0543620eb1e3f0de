package main_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
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

// host runs bin/camkit with its own data folder, plugin folder and port.
type host struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	out  *testbin.Output
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func env(t *testing.T, extra ...string) []string {
	dir := t.TempDir()
	base := append(os.Environ(),
		"CAMKIT_CONFIG=",
		"CAMKIT_DATABASE_URL=sqlite://"+filepath.Join(dir, "camkit.db"),
		"CAMKIT_PLUGINS_DIR="+testbin.PluginDir(t, testbin.DefaultPlugins...),
	)
	return append(base, extra...)
}

func startHost(t *testing.T, extra ...string) *host {
	t.Helper()
	return startHostIn(t, t.TempDir(), extra...) // the default sandbox state file lives under ./data
}

func (h *host) get(path string) (int, string) {
	r, err := http.Get("http://" + h.addr + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

// pluginPIDs lists the child processes of the host (the plugin processes).
func (h *host) pluginPIDs() map[string]int {
	out := map[string]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		rp := strings.LastIndexByte(s, ')')
		fields := strings.Fields(s[rp+2:])
		if len(fields) < 2 || fields[0] == "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == h.cmd.Process.Pid {
			out[s[strings.IndexByte(s, '(')+1:rp]] = pid
		}
	}
	return out
}

func TestServeRendersHomeThroughThemePluginAndSurvivesProcessorKill(t *testing.T) {
	h := startHost(t, "CAMKIT_SITE_NAME=Site-4471")
	code, body := h.get("/")
	if code != 200 || !strings.Contains(body, "Site-4471") || !strings.Contains(strings.ToLower(body), "<!doctype html>") {
		t.Fatalf("GET / = %d:\n%.500s", code, body)
	}
	if code, body := h.get("/healthz"); code != 200 || body != "ok" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	pids := h.pluginPIDs()
	if len(pids) != 4 {
		t.Fatalf("want 4 plugin processes, got %v", pids)
	}
	var procPID int
	for name, pid := range pids {
		if strings.HasPrefix(name, "processor") {
			procPID = pid
		}
	}
	if procPID == 0 {
		t.Fatalf("no processor process among %v", pids)
	}
	syscall.Kill(procPID, syscall.SIGKILL)
	killed := time.Now()
	sawDown := false
	for {
		code, _ := h.get("/readyz")
		if code == 200 && (sawDown || time.Since(killed) > 300*time.Millisecond) {
			break
		}
		if code != 200 {
			sawDown = true
		}
		if time.Since(killed) > 2*time.Second {
			t.Fatalf("/readyz not 200 within 2 s of SIGKILL to the processor; output:\n%s", h.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := h.pluginPIDs(); len(n) != 4 {
		t.Fatalf("after restart want 4 plugin processes, got %v", n)
	}
	code, metrics := h.get("/metrics")
	if code != 200 || !strings.Contains(metrics, "camkit_plugin_restarts_total") || !strings.Contains(metrics, "camkit_http_requests_total") ||
		!strings.Contains(metrics, "camkit_plugin_call_duration_seconds") {
		t.Fatalf("/metrics lacks the plugin and http series")
	}

	before := h.pluginPIDs()
	h.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM; output:\n%s", err, h.out)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit within 15 s of SIGTERM")
	}
	for name, pid := range before {
		if syscall.Kill(pid, 0) == nil {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(b), ") Z ") {
				t.Errorf("plugin %s (pid %d) left running after SIGTERM to the host", name, pid)
			}
		}
	}
}

// runFail runs a command that must fail, and returns its one-line complaint.
func runFail(t *testing.T, envs []string, args ...string) string {
	cmd := exec.Command(testbin.Host(t), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = envs
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("%v succeeded; output:\n%s", args, out)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("%v: %v", args, err)
	}
	lines := []string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "camkit:") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("want exactly one 'camkit:' line, got:\n%s", out)
	}
	return lines[0]
}

func TestServeStopsWithOneClearLineOnBadConfig(t *testing.T) {
	plugins := testbin.PluginDir(t, testbin.DefaultPlugins...)
	sandbox := filepath.Join(plugins, "processor-sandbox")
	cases := map[string]struct {
		env  []string
		want []string
	}{
		"missing plugin":   {[]string{"CAMKIT_PLUGINS_PROCESSOR=ghost"}, []string{"processor-ghost", "not found"}},
		"wrong sha256":     {[]string{}, []string{"SHA256 mismatch", strings.Repeat("0", 64)}},
		"unknown currency": {[]string{"CAMKIT_SITE_CURRENCY=XXQ"}, []string{"XXQ", "currency"}},
		"unreadable db":    {[]string{"CAMKIT_DATABASE_URL=mysql://nope"}, []string{"database.url", "mysql://nope"}},
		"unreachable pg":   {[]string{"CAMKIT_DATABASE_URL=postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"}, []string{"127.0.0.1:1"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := env(t, append([]string{"CAMKIT_PLUGINS_DIR=" + plugins, "CAMKIT_HTTP_ADDR=" + freeAddr(t)}, tc.env...)...)
			if name == "wrong sha256" {
				cfg := filepath.Join(t.TempDir(), "c.toml")
				os.WriteFile(cfg, []byte("[plugin.processor-sandbox]\nsha256 = \""+strings.Repeat("0", 64)+"\"\n"), 0o600)
				e = append(e, "CAMKIT_CONFIG="+cfg)
				tc.want = append(tc.want, sandbox)
			}
			line := runFail(t, e, "serve")
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("%q does not mention %q", line, w)
				}
			}
		})
	}
}

func TestPluginsListAndVerify(t *testing.T) {
	e := env(t)
	cmd := exec.Command(testbin.Host(t), "plugins", "list")
	cmd.Dir = t.TempDir()
	cmd.Env = e
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("plugins list: %v\n%s", err, out)
	}
	for _, want := range []string{"processor", "sandbox", "currency", "fixed", "split", "percentage", "theme", "default", "auth_capture"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("plugins list lacks %q:\n%s", want, out)
		}
	}
	cmd = exec.Command(testbin.Host(t), "plugins", "verify")
	cmd.Dir = t.TempDir()
	cmd.Env = e
	if out, err := cmd.CombinedOutput(); err != nil || strings.Count(string(out), " ok") < 4 {
		t.Fatalf("plugins verify: %v\n%s", err, out)
	}
}
