package stream

import (
	"fmt"
	"net"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/camkit/camkit/sdk/errs"
)

// ICEServer is a STUN or TURN server handed to pion and advertised to
// clients (Link rel="ice-server", RFC 9725 section 4.6).
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// Config is everything an operator may set. The zero value works on
// loopback and on a host's own interfaces with ephemeral UDP ports.
type Config struct {
	ICEServers []ICEServer
	// UDPPort, when set, carries every session over one UDP socket (ICE UDP
	// mux): the one port to open in a firewall. It wins over the range.
	UDPPort int
	// UDPPortMin/Max bound the ephemeral ports when UDPPort is zero.
	UDPPortMin, UDPPortMax uint16
	// PublicIPs replace the host candidates' addresses behind a 1:1 NAT.
	PublicIPs []string
	// IPv6 gathers IPv6 candidates too (off: fewer useless pairs on loopback).
	IPv6 bool

	// MediaTimeout: no RTP from the model for this long means media stopped.
	MediaTimeout time.Duration
	// ViewerTimeout: no RTCP from a viewer being sent media for this long
	// means the viewer is gone.
	ViewerTimeout time.Duration
	// LivenessTick is how often timeouts are checked (real time).
	LivenessTick time.Duration
	// KeyframeInterval rate-limits keyframe requests relayed to a publisher
	// per track; requests inside the window are coalesced into one at its end.
	KeyframeInterval time.Duration
	// GatherTimeout bounds the wait for ICE gathering before answering.
	GatherTimeout time.Duration

	Clock      Clock
	Admission  Admission
	Liveness   LivenessSink          // may be nil
	Registerer prometheus.Registerer // may be nil
}

func (c *Config) withDefaults() Config {
	out := *c
	if out.MediaTimeout <= 0 {
		out.MediaTimeout = 3 * time.Second
	}
	if out.ViewerTimeout <= 0 {
		out.ViewerTimeout = 5 * time.Second
	}
	if out.LivenessTick <= 0 {
		out.LivenessTick = 200 * time.Millisecond
	}
	if out.KeyframeInterval <= 0 {
		out.KeyframeInterval = 500 * time.Millisecond
	}
	if out.GatherTimeout <= 0 {
		out.GatherTimeout = 3 * time.Second
	}
	if out.Clock == nil {
		out.Clock = realClock{}
	}
	return out
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// buildAPI makes the one pion API every PeerConnection of the SFU shares.
// It returns the UDP mux too so Close can release the port.
func buildAPI(cfg Config) (*webrtc.API, ice.UDPMux, error) {
	me := &webrtc.MediaEngine{}
	if err := registerCodecs(me); err != nil {
		return nil, nil, err
	}
	ir := &interceptor.Registry{}
	// NACK both ways (ask the model to resend, resend to viewers from a
	// buffer) and RTCP sender/receiver reports. No stats or TWCC
	// interceptors: they cost per packet per viewer and the SFU does not
	// adapt bitrate yet.
	if err := webrtc.ConfigureNack(me, ir); err != nil {
		return nil, nil, err
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, nil, err
	}

	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	nets := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	if cfg.IPv6 {
		nets = append(nets, webrtc.NetworkTypeUDP6)
	}
	se.SetNetworkTypes(nets)
	if len(cfg.PublicIPs) > 0 {
		for _, ip := range cfg.PublicIPs {
			if net.ParseIP(ip) == nil {
				return nil, nil, errs.E(errs.Invalid, "stream: public IP %q is not an IP address", ip)
			}
		}
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        cfg.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
		}); err != nil {
			return nil, nil, fmt.Errorf("stream: public IPs: %w", err)
		}
	}
	var mux ice.UDPMux
	switch {
	case cfg.UDPPort > 0:
		opts := []ice.UDPMuxFromPortOption{ice.UDPMuxFromPortWithLoopback()}
		if cfg.IPv6 {
			opts = append(opts, ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4, ice.NetworkTypeUDP6))
		} else {
			opts = append(opts, ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4))
		}
		m, err := ice.NewMultiUDPMuxFromPort(cfg.UDPPort, opts...)
		if err != nil {
			return nil, nil, errs.E(errs.Unavailable, "stream: UDP port %d: %v", cfg.UDPPort, err)
		}
		mux = m
		se.SetICEUDPMux(m)
	case cfg.UDPPortMin > 0 || cfg.UDPPortMax > 0:
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return nil, nil, errs.E(errs.Invalid, "stream: UDP port range %d-%d: %v", cfg.UDPPortMin, cfg.UDPPortMax, err)
		}
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return api, mux, nil
}

func (c Config) pionICEServers() []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(c.ICEServers))
	for _, s := range c.ICEServers {
		srv := webrtc.ICEServer{URLs: s.URLs, Username: s.Username}
		if s.Credential != "" {
			srv.Credential = s.Credential
		}
		out = append(out, srv)
	}
	return out
}
