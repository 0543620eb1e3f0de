package stream

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	publishers    prometheus.Gauge
	subscribers   prometheus.Gauge
	packets       prometheus.Counter
	bytes         prometheus.Counter
	keyframeAsked prometheus.Counter
	keyframeSent  prometheus.Counter
	showViewers   *prometheus.GaugeVec
	refused       *prometheus.CounterVec
	// sessionRefused counts PATCH/DELETE on a session refused.
	sessionRefused *prometheus.CounterVec
}

// newMetrics registers on reg; a nil reg keeps the metrics private (tests,
// or a host that does not export them).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		publishers: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "camkit", Subsystem: "stream", Name: "publishers", Help: "Models currently publishing (WHIP sessions).",
		}),
		subscribers: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "camkit", Subsystem: "stream", Name: "subscribers", Help: "Viewers currently subscribed (WHEP sessions).",
		}),
		packets: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "camkit", Subsystem: "stream", Name: "packets_forwarded_total", Help: "RTP packets written to viewers.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "camkit", Subsystem: "stream", Name: "bytes_forwarded_total", Help: "RTP payload bytes written to viewers.",
		}),
		keyframeAsked: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "camkit", Subsystem: "stream", Name: "keyframe_requests_total", Help: "Keyframe requests (PLI/FIR from viewers, viewer joins).",
		}),
		keyframeSent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "camkit", Subsystem: "stream", Name: "keyframe_requests_relayed_total", Help: "PLIs sent to models after rate limiting.",
		}),
		showViewers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "camkit", Subsystem: "stream", Name: "show_subscribers", Help: "Viewers per show.",
		}, []string{"show"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "camkit", Subsystem: "stream", Name: "refused_total", Help: "Offers refused, by error code.",
		}, []string{"code"}),
		sessionRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "camkit", Subsystem: "stream", Name: "session_requests_refused_total",
			Help: "PATCH/DELETE on a session refused (no bearer, another session's bearer, no such session), by method and error code.",
		}, []string{"method", "code"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.publishers, m.subscribers, m.packets, m.bytes, m.keyframeAsked, m.keyframeSent, m.showViewers, m.refused, m.sessionRefused} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
