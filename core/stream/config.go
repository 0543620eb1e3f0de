package stream

import (
	"fmt"
	"github.com/camkit/camkit/core/clock"
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
	// PublisherStall: a publisher sending no RTP for this long, or whose
	// connection is disconnected, failed or closed, no longer holds its show
	// (PublisherActive is false), so an encoder reconnecting with the same
	// key is let in at once instead of waiting out MediaTimeout. Far below
	// it, well above the gaps between a live encoder's packets.
	PublisherStall time.Duration
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

	// MaxViewersPerClient caps the WHEP sessions without a seat open at once
	// from one client address (an IPv6 client's /64); 0 is no cap.
	MaxViewersPerClient int
	// MaxViewersPerShow caps a show's WHEP sessions open at once; a viewer
	// without a seat over it is refused. 0 is no cap.
	MaxViewersPerShow int

	Clock      clock.Clock
	Admission  Admission
	Liveness   LivenessSink          // may be nil
	Registerer prometheus.Registerer // may be nil
}

func (c *Config) withDefaults() Config {
	out := *c
	if out.MediaTimeout <= 0 {
		out.MediaTimeout = 3 * time.Second
	}
	if out.PublisherStall <= 0 {
		out.PublisherStall = time.Second
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
		out.Clock = clock.Real()
	}
	return out
}

// MaxBackdate is the furthest back a loss event is dated (ModelMediaStopped's
// last packet, ViewerDisconnected's last evidence) relative to when it is
// delivered: the longer timeout, plus the check interval that notices it, plus
// a second for the event's way to the sink. Billing counts time older than
// this as final (billing.Config.BackdateLimit).
func (c Config) MaxBackdate() time.Duration {
	d := c.withDefaults()
	return max(d.MediaTimeout, d.ViewerTimeout) + d.LivenessTick + time.Second
}

// buildAPI makes the pion APIs the SFU's PeerConnections share: one for
// models, one for viewers. It returns the UDP mux too so Close can
// release the port, and the send queue the fan-out brackets its writes
// with.
func buildAPI(cfg Config) (pubAPI, subAPI *webrtc.API, _ ice.UDPMux, _ *udpOut, _ error) {
	me := &webrtc.MediaEngine{}
	if err := registerCodecs(me); err != nil {
		return nil, nil, nil, nil, err
	}
	ir := &interceptor.Registry{}
	// From models: NACKs asking to resend what was lost, and receiver
	// reports. No stats or TWCC interceptors: the SFU does not adapt
	// bitrate yet.
	if err := webrtc.ConfigureNack(me, ir); err != nil {
		return nil, nil, nil, nil, err
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, nil, nil, nil, err
	}
	// To viewers: no interceptor at all. Each would run per packet per
	// viewer; the down track answers NACKs from the model's one packet
	// history and the watchdog sends the sender reports.
	subME := &webrtc.MediaEngine{}
	if err := registerCodecs(subME); err != nil {
		return nil, nil, nil, nil, err
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
				return nil, nil, nil, nil, errs.E(errs.Invalid, "stream: public IP %q is not an IP address", ip)
			}
		}
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        cfg.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
		}); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("stream: public IPs: %w", err)
		}
	}
	if cfg.UDPPortMin > 0 || cfg.UDPPortMax > 0 {
		// Server-reflexive candidates (STUN) get their own sockets: in range.
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return nil, nil, nil, nil, errs.E(errs.Invalid, "stream: UDP port range %d-%d: %v", cfg.UDPPortMin, cfg.UDPPortMax, err)
		}
	}
	// Every session's host candidate shares one socket per local address
	// (ICE UDP mux), always: the sockets batch the fan-out's sends (see
	// udpOut), which needs all viewers behind the same socket.
	conns, err := listenUDP(cfg)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	out := newUDPOut()
	muxes := make([]ice.UDPMux, 0, len(conns))
	for _, c := range conns {
		muxes = append(muxes, ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: newBatchConn(c, out)}))
	}
	mux := ice.NewMultiUDPMuxDefault(muxes...)
	se.SetICEUDPMux(mux)
	pubAPI = webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	subAPI = webrtc.NewAPI(webrtc.WithMediaEngine(subME), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(se))
	return pubAPI, subAPI, mux, out, nil
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

// listenUDP opens the SFU's sockets: one per local address (loopback
// included), on cfg.UDPPort, else on the first free port of the range,
// else on an ephemeral port.
func listenUDP(cfg Config) ([]*net.UDPConn, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, errs.E(errs.Unavailable, "stream: network interfaces: %v", err)
	}
	var ips []net.IP
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || n.IP.IsLinkLocalUnicast() || n.IP.IsMulticast() || n.IP.IsUnspecified() {
				continue
			}
			if n.IP.To4() == nil && !cfg.IPv6 {
				continue
			}
			ips = append(ips, n.IP)
		}
	}
	var conns []*net.UDPConn
	fail := func(err error) ([]*net.UDPConn, error) {
		for _, c := range conns {
			_ = c.Close()
		}
		return nil, err
	}
	for _, ip := range ips {
		network := "udp4"
		if ip.To4() == nil {
			network = "udp6"
		}
		var c *net.UDPConn
		switch {
		case cfg.UDPPort > 0:
			c, err = net.ListenUDP(network, &net.UDPAddr{IP: ip, Port: cfg.UDPPort})
			if err != nil {
				return fail(errs.E(errs.Unavailable, "stream: UDP port %d: %v", cfg.UDPPort, err))
			}
		case cfg.UDPPortMin > 0 || cfg.UDPPortMax > 0:
			lo, hi := int(cfg.UDPPortMin), int(cfg.UDPPortMax)
			if lo == 0 {
				lo = 1024
			}
			if hi == 0 {
				hi = 65535
			}
			for p := lo; p <= hi && c == nil; p++ {
				c, _ = net.ListenUDP(network, &net.UDPAddr{IP: ip, Port: p})
			}
			if c == nil {
				return fail(errs.E(errs.Unavailable, "stream: no free UDP port in %d-%d on %s", lo, hi, ip))
			}
		default:
			c, err = net.ListenUDP(network, &net.UDPAddr{IP: ip})
			if err != nil {
				return fail(errs.E(errs.Unavailable, "stream: UDP socket on %s: %v", ip, err))
			}
		}
		// One socket carries every viewer: room for bursts both ways.
		_ = c.SetReadBuffer(4 << 20)
		_ = c.SetWriteBuffer(4 << 20)
		conns = append(conns, c)
	}
	if len(conns) == 0 {
		return nil, errs.E(errs.Unavailable, "stream: no local address to listen on")
	}
	return conns, nil
}
