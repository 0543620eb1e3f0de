package pluginhost

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/camkit/camkit/sdk/pluginkit"
)

// Host owns every plugin process of a camkit instance.
type Host struct {
	log     *slog.Logger
	metrics *Metrics

	mu        sync.Mutex
	instances []*Instance
}

// NewHost makes an empty host; metrics may be nil.
func NewHost(log *slog.Logger, m *Metrics) *Host { return &Host{log: log, metrics: m} }

// Launch starts one plugin and keeps it supervised until Close.
func (h *Host) Launch(ctx context.Context, spec Spec) (*Instance, error) {
	f, ok := Factory(spec.Kind)
	if !ok {
		return nil, fmt.Errorf("plugin %s: unknown kind %q", spec.Label(), spec.Kind)
	}
	in, err := Launch(ctx, spec, f, h.log, h.metrics)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.instances = append(h.instances, in)
	h.mu.Unlock()
	return in, nil
}

// Instances lists the launched plugins in launch order.
func (h *Host) Instances() []*Instance {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Instance(nil), h.instances...)
}

// Statuses reports every plugin's health.
func (h *Host) Statuses() []Status {
	var out []Status
	for _, in := range h.Instances() {
		out = append(out, in.Status())
	}
	return out
}

// Healthy is the readiness check: every plugin answers a ping.
func (h *Host) Healthy(context.Context) error {
	for _, in := range h.Instances() {
		if err := in.Ping(); err != nil {
			return err
		}
	}
	return nil
}

// Close kills every plugin process; none is left behind.
func (h *Host) Close() {
	var wg sync.WaitGroup
	for _, in := range h.Instances() {
		wg.Add(1)
		go func(in *Instance) { defer wg.Done(); in.Close() }(in)
	}
	wg.Wait()
}

// KindOf reads the kind from a binary's file name ("processor-sandbox").
func KindOf(file string) (pluginkit.Kind, string, bool) {
	for _, k := range pluginkit.Kinds {
		p := string(k) + "-"
		if len(file) > len(p) && file[:len(p)] == p {
			return k, file[len(p):], true
		}
	}
	return "", "", false
}
