package audience_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/camkit/camkit/core/audience"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
)

// WHEP viewers are counted per show (the chat half is tested on the
// assembled host, core/app), and a show whose publisher left drops off
// the grid within the window of its last packet, not before.
func TestWHEPViewersAndPresence(t *testing.T) {
	adm := streamtest.NewAdmission()
	adm.AddShow("show-1", "key-1")
	sfu, err := stream.New(stream.Config{Admission: adm, MediaTimeout: 500 * time.Millisecond, LivenessTick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sfu.Close()
	const window = 2 * time.Second
	since := time.Now().Add(-time.Hour)
	reg := prometheus.NewRegistry()
	a, err := audience.New(sfu, nil, audience.Options{Window: window, Tick: 100 * time.Millisecond, Registerer: reg,
		OnAir: func(context.Context) ([]audience.OnAirShow, error) {
			return []audience.OnAirShow{{ID: "show-1", Since: since}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go a.Run(ctx)

	if a.OnAir("show-1", since) {
		t.Fatal("a show on air for an hour without any media is on the grid")
	}
	if !a.OnAir("show-1", time.Now().Add(-time.Second)) {
		t.Fatal("a show younger than the window is not on the grid (its publisher may still be connecting)")
	}
	pub, err := streamtest.Publish(ctx, streamtest.PublishDirect(sfu, "key-1"), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		v, err := streamtest.Subscribe(ctx, streamtest.SubscribeDirect(sfu, "show-1", ""))
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
	}
	if !streamtest.WaitFor(5*time.Second, func() bool { return a.Viewers("show-1") == 2 && a.OnAir("show-1", since) }) {
		t.Fatalf("counts %+v, on air %v", a.Counts("show-1"), a.OnAir("show-1", since))
	}
	for name, want := range map[string]float64{"camkit_show_viewers": 2, "camkit_show_whep_viewers": 2, "camkit_show_chat_connections": 0, "camkit_shows_on_grid": 1} {
		if got := gauge(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}

	pub.Close()
	left := time.Now()
	if !streamtest.WaitFor(window+time.Second, func() bool { return !a.OnAir("show-1", since) }) {
		t.Fatalf("the show is still on the grid %v after its publisher left", time.Since(left))
	}
	gone := time.Since(left)
	if gone < window-300*time.Millisecond {
		t.Fatalf("the show left the grid %v after its publisher, before the window (%v)", gone, window)
	}
	t.Logf("left the grid %v after the publisher (window %v)", gone.Round(10*time.Millisecond), window)
	if got := gauge(t, reg, "camkit_shows_on_grid"); got != 0 {
		t.Fatalf("camkit_shows_on_grid = %v after the publisher left", got)
	}
}

// gauge reads a series' value (show-1's, for the per-show ones); -1 when absent.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() == "show-1" {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}
