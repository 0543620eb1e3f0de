package pluginhost

import (
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the plugin host's Prometheus series.
type Metrics struct {
	latency  *prometheus.HistogramVec
	restarts *prometheus.CounterVec
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "camkit_plugin_call_duration_seconds",
			Help:    "Latency of calls from the host to plugin processes.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1, 5},
		}, []string{"plugin", "method", "outcome"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "camkit_plugin_restarts_total",
			Help: "Plugin processes relaunched after they exited.",
		}, []string{"plugin"}),
	}
	reg.MustRegister(m.latency, m.restarts)
	return m
}

func (m *Metrics) observe(plugin, method string, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = string(errs.CodeOf(err))
	}
	m.latency.WithLabelValues(plugin, method, outcome).Observe(d.Seconds())
}
