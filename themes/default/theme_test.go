package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/plugintest"
	"github.com/camkit/camkit/sdk/theme"
)

// buildPlugin compiles this package into dir, as `make build` does.
func buildPlugin(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "theme-default")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestConformance(t *testing.T) {
	plugintest.Theme(t, buildPlugin(t), plugintest.ThemeOptions{
		Settings: []byte(`{"brand": "camkit", "primary": "#e91e63"}`),
		InvalidSettings: []plugintest.InvalidSetting{
			{JSON: []byte(`{"primary": "red; background:url(x)"}`), Key: "primary"},
			{JSON: []byte(`{"accent": "#12345"}`), Key: "accent"},
			{JSON: []byte(`{"brand": "  "}`), Key: "brand"},
			{JSON: []byte(`{"brnad": "typo"}`), Key: "brnad"},
		},
	})
}

func TestSettingsBrandTheSite(t *testing.T) {
	ctx := context.Background()
	th := newTheme()
	before, err := th.Asset(ctx, cssPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Configure(ctx, []byte(`{"brand": "Velvet <Cams>", "primary": "#00aaff"}`)); err != nil {
		t.Fatal(err)
	}
	m, _ := th.Manifest(ctx)
	if m.BrandName != "Velvet <Cams>" || m.Colors.Primary != "#00aaff" || m.Colors.Accent != defaults.Accent {
		t.Fatalf("manifest after settings: %+v", m)
	}
	css, _ := th.Asset(ctx, cssPath)
	if !strings.Contains(string(css.Body), "--primary:#00aaff") || css.ETag == before.ETag {
		t.Fatalf("stylesheet did not follow the primary colour (etag %s -> %s)", before.ETag, css.ETag)
	}
	logo, _ := th.Asset(ctx, logoPath)
	if !strings.Contains(string(logo.Body), "Velvet &lt;Cams&gt;") || strings.Contains(string(logo.Body), "<Cams>") {
		t.Fatalf("logo does not carry the escaped brand: %s", logo.Body)
	}
	r, err := th.Render(ctx, theme.SampleHomePage(3))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Title, "Velvet <Cams>") || !strings.Contains(string(r.HTML), "Velvet &lt;Cams&gt;") {
		t.Fatalf("brand not in the page: title %q", r.Title)
	}

	// A refused configuration leaves the previous one in force.
	if err := th.Configure(ctx, []byte(`{"text": "white"}`)); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("bad colour: %v", err)
	}
	if m2, _ := th.Manifest(ctx); m2.BrandName != "Velvet <Cams>" {
		t.Fatalf("a refused configuration changed the brand to %q", m2.BrandName)
	}
	// Empty settings mean the defaults.
	if err := th.Configure(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if m3, _ := th.Manifest(ctx); m3.BrandName != "camkit" || m3.Colors.Primary != "#e91e63" {
		t.Fatalf("defaults: %+v", m3)
	}
}

func TestRoomShowsLockedPriceAndPrivateButton(t *testing.T) {
	var room *theme.RoomPage
	for _, s := range theme.SamplePages() {
		if p, ok := s.Page.(*theme.RoomPage); ok {
			room = p
		}
	}
	ctx := context.Background()
	th := newTheme()
	r, err := th.Render(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	html := string(r.HTML)
	for _, want := range []string{"Request private at $3.99/min", "billed per second", "first 30 s free", "$19.95 for 5 min"} {
		if !strings.Contains(html, want) {
			t.Errorf("room page lacks %q", want)
		}
	}
	room.PrivatePending = true
	r, _ = th.Render(ctx, room)
	if strings.Contains(string(r.HTML), "Request private at") || !strings.Contains(string(r.HTML), "Request sent") {
		t.Errorf("a pending request still offers the button")
	}
}

// BenchmarkThemeRender renders the home page with 100 live models through the
// real plugin process (gRPC over go-plugin, AutoMTLS), as the host does on
// every request, and reports the latency percentiles.
func BenchmarkThemeRender(b *testing.B) {
	raw, client := plugintest.Launch(b, buildPlugin(b), pluginkit.KindTheme, &theme.Plugin{})
	th := raw.(theme.Theme)
	pid := client.ReattachConfig().Pid
	ctx := context.Background()
	if err := th.Configure(ctx, []byte(`{}`)); err != nil {
		b.Fatal(err)
	}
	page := theme.SampleHomePage(100)
	for range 20 { // warm the connection and the plugin's pools
		if _, err := th.Render(ctx, page); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	var size int
	cpu0 := cpuTime(b, pid)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		r, err := th.Render(ctx, page)
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		size = len(r.HTML)
	}
	b.StopTimer()
	cpu := cpuTime(b, pid) - cpu0
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(size), "html-bytes")
	// CPU spent by host and plugin together per render: unlike the latencies,
	// it does not grow when other processes compete for the cores.
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(lat)), "cpu-µs/op")
}

// cpuTime is the user+system CPU time used so far by this process and the
// plugin process pid (Linux: /proc, in clock ticks of 10 ms, fine over
// thousands of renders).
func cpuTime(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	self := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatalf("plugin cpu time: %v", err)
	}
	// Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("parse %s: %v %v", stat, err1, err2)
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return self + time.Duration(ut+st)*tick
}

// BenchmarkHomeRender is the plugin's share of a home page with 100 live
// models, in process (BenchmarkThemeRender adds the gRPC hop).
func BenchmarkHomeRender(b *testing.B) {
	th := newTheme()
	page := theme.SampleHomePage(100)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := th.Render(ctx, page); err != nil {
			b.Fatal(err)
		}
	}
}

// site.name is every theme's default brand: the header and the title say
// it unless the operator gave the theme a brand of its own.
func TestSiteNameIsTheDefaultBrand(t *testing.T) {
	ctx := context.Background()
	th := newTheme()
	page := theme.SampleHomePage(3)
	page.Layout.SiteName = "Foxy Cams"
	r, err := th.Render(ctx, page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(r.HTML)
	if !strings.Contains(html, `<span class="brand-name">Foxy Cams</span>`) || !strings.Contains(html, "<title>") ||
		!strings.Contains(html[strings.Index(html, "<title>"):], "Foxy Cams</title>") || !strings.Contains(r.Title, "Foxy Cams") {
		t.Fatalf("site.name not the brand: title %q\n%s", r.Title, html)
	}
	if strings.Contains(html, ">camkit<") {
		t.Fatal("the page still says camkit")
	}
	if err := th.Configure(ctx, []byte(`{"brand": "Velvet"}`)); err != nil {
		t.Fatal(err)
	}
	if r, err = th.Render(ctx, page); err != nil || !strings.Contains(r.Title, "Velvet") || strings.Contains(r.Title, "Foxy Cams") {
		t.Fatalf("the operator's theme brand does not win over site.name: %q %v", r.Title, err)
	}
}
