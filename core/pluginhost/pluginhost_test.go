package pluginhost_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/prometheus/client_golang/prometheus"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func sandboxSpec(t *testing.T) pluginhost.Spec {
	return pluginhost.Spec{
		Kind: pluginkit.KindProcessor, Name: "sandbox",
		Path:     testbin.Plugin(t, "processor-sandbox"),
		Settings: sandboxSettings(t),
	}
}

func sandboxSettings(t *testing.T) []byte {
	return []byte(`{"state_file":"` + filepath.Join(t.TempDir(), "state.json") + `","webhook_secret":"pluginhost-test-secret-0123"}`)
}

func settingsFor(t *testing.T, file string) []byte {
	if file == "processor-sandbox" {
		return sandboxSettings(t)
	}
	return nil
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestLaunchConfiguresAndReportsEveryKind(t *testing.T) {
	h := pluginhost.NewHost(quiet(), nil)
	defer h.Close()
	for _, file := range testbin.DefaultPlugins {
		kind, name, ok := pluginhost.KindOf(file)
		if !ok {
			t.Fatalf("KindOf(%q) failed", file)
		}
		in, err := h.Launch(context.Background(), pluginhost.Spec{Kind: kind, Name: name, Path: testbin.Plugin(t, file), Settings: settingsFor(t, file)})
		if err != nil {
			t.Fatalf("launch %s: %v", file, err)
		}
		st := in.Status()
		if !st.Healthy || st.Info.Kind != kind || st.Info.Name == "" || st.Info.Version == "" || len(st.SHA256) != 64 || st.PID == 0 {
			t.Fatalf("%s status: %+v", file, st)
		}
	}
	if err := h.Healthy(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPinnedSHA256MismatchRefusesNamingBothHashes(t *testing.T) {
	spec := sandboxSpec(t)
	real, err := pluginhost.FileSHA256(spec.Path)
	if err != nil {
		t.Fatal(err)
	}
	spec.SHA256 = strings.Repeat("ab", 32)
	_, err = pluginhost.NewHost(quiet(), nil).Launch(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), spec.SHA256) || !strings.Contains(err.Error(), real) || !strings.Contains(err.Error(), spec.Path) {
		t.Fatalf("want a mismatch naming the file and both hashes, got %v", err)
	}
	spec.SHA256 = real
	h := pluginhost.NewHost(quiet(), nil)
	defer h.Close()
	if _, err := h.Launch(context.Background(), spec); err != nil {
		t.Fatalf("the right pin must launch: %v", err)
	}
}

func TestBadBinariesAreClearErrors(t *testing.T) {
	h := pluginhost.NewHost(quiet(), nil)
	defer h.Close()
	missing := filepath.Join(t.TempDir(), "processor-nope")
	_, err := h.Launch(context.Background(), pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: "nope", Path: missing})
	if err == nil || !strings.Contains(err.Error(), "not found") || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing binary: %v", err)
	}
	script := filepath.Join(t.TempDir(), "processor-liar")
	os.WriteFile(script, []byte("#!/bin/sh\necho not a plugin\n"), 0o755)
	_, err = h.Launch(context.Background(), pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: "liar", Path: script})
	if err == nil || !strings.Contains(err.Error(), "handshake") {
		t.Fatalf("non-plugin binary: %v", err)
	}
	// A theme binary configured as a processor is refused by kind.
	_, err = h.Launch(context.Background(), pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: "default", Path: testbin.Plugin(t, "theme-default")})
	if err == nil {
		t.Fatal("a theme launched as a processor")
	}
	// Settings the plugin rejects stop the launch with the plugin's reason.
	_, err = h.Launch(context.Background(), pluginhost.Spec{Kind: pluginkit.KindSplit, Name: "percentage",
		Path: testbin.Plugin(t, "split-percentage"), Settings: []byte(`{"bogus_key": 1}`)})
	if err == nil || !strings.Contains(err.Error(), "configure") {
		t.Fatalf("bad settings: %v", err)
	}
}

func TestKilledPluginIsRestartedAndCallsFailFastMeanwhile(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := pluginhost.NewHost(quiet(), pluginhost.NewMetrics(reg))
	defer h.Close()
	in, err := h.Launch(context.Background(), sandboxSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	p := pluginhost.NewProcessor(in)
	if _, err := p.Capabilities(context.Background()); err != nil {
		t.Fatal(err)
	}
	pid := in.Status().PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// While it is down, calls return at once with a retryable error, never hang.
	sawFast := false
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		start := time.Now()
		_, err := p.Capabilities(context.Background())
		if err == nil {
			break
		}
		if !errs.IsRetryable(err) {
			t.Fatalf("call during restart: %v is not retryable", err)
		}
		if time.Since(start) > time.Second {
			t.Fatalf("call during restart took %v", time.Since(start))
		}
		sawFast = true
		time.Sleep(20 * time.Millisecond)
	}
	if err := h.Healthy(context.Background()); err != nil {
		t.Fatalf("not healthy 2 s after SIGKILL: %v", err)
	}
	st := in.Status()
	if st.PID == pid || st.Restarts < 1 {
		t.Fatalf("not restarted: %+v", st)
	}
	if got := restartCount(t, reg); got < 1 {
		t.Fatalf("restart counter = %v", got)
	}
	t.Logf("saw a fast-failing call during the restart: %v", sawFast)
}

func restartCount(t *testing.T, reg *prometheus.Registry) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "camkit_plugin_restarts_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no restart counter")
	return 0
}

func TestCloseLeavesNoProcess(t *testing.T) {
	h := pluginhost.NewHost(quiet(), nil)
	var pids []int
	for _, file := range testbin.DefaultPlugins {
		kind, name, _ := pluginhost.KindOf(file)
		in, err := h.Launch(context.Background(), pluginhost.Spec{Kind: kind, Name: name, Path: testbin.Plugin(t, file), Settings: settingsFor(t, file)})
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, in.Status().PID)
	}
	h.Close()
	time.Sleep(100 * time.Millisecond)
	for _, pid := range pids {
		if alive(pid) && !zombie(pid) {
			t.Errorf("plugin pid %d still running after Close", pid)
		}
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	return err == nil && strings.Contains(string(b), ") Z ")
}

func TestThemeRendersThroughThePluginProcess(t *testing.T) {
	h := pluginhost.NewHost(quiet(), nil)
	defer h.Close()
	in, err := h.Launch(context.Background(), pluginhost.Spec{Kind: pluginkit.KindTheme, Name: "default", Path: testbin.Plugin(t, "theme-default")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := pluginhost.NewTheme(in).Render(context.Background(), &theme.HomePage{Layout: theme.Layout{SiteName: "Sitename-7731"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(r.HTML), "Sitename-7731") || !strings.Contains(strings.ToLower(string(r.HTML)), "<!doctype html>") {
		t.Fatalf("home page lacks the site name or doctype:\n%.400s", r.HTML)
	}
}
