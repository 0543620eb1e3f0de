package config

import (
	"math/big"
	"net"
	"strings"
	"time"

	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

// Security is how the site protects sessions and visitors.
type Security struct {
	// CookieSecure is "auto" (Secure when http.public_url is https), "true"
	// or "false". Plain-http development on 127.0.0.1 needs auto or false.
	CookieSecure string `toml:"cookie_secure"`
	// Secret keys CSRF tokens, the age-gate cookie and IP hashes. Empty means
	// a random secret is made once and kept in the database, which is what
	// most sites want; set it to share one across databases.
	Secret string `toml:"secret"`
	// MinimumAge is what the 18+ gate asks visitors to confirm (18 or 21).
	MinimumAge int `toml:"minimum_age"`
	// ModelSignup offers "I am a model" on the sign-up page; models still
	// need an admin's approval before broadcasting.
	ModelSignup bool `toml:"model_signup"`
	// SessionTTL is a session's absolute lifetime, SessionIdle how long it
	// lasts without a request.
	SessionTTL  Duration `toml:"session_ttl"`
	SessionIdle Duration `toml:"session_idle"`
}

// DefaultSecurity is the embedded default.
func DefaultSecurity() Security {
	return Security{CookieSecure: "auto", MinimumAge: 18, ModelSignup: true,
		SessionTTL: Duration{30 * 24 * time.Hour}, SessionIdle: Duration{7 * 24 * time.Hour}}
}

// SecureCookies resolves CookieSecure against the public URL.
func (c Config) SecureCookies() bool {
	switch c.Security.CookieSecure {
	case "true":
		return true
	case "false":
		return false
	}
	return strings.HasPrefix(c.HTTP.PublicURL, "https://")
}

// Billing is the price policy every new seat locks, apart from the model's
// rate: the operator's rules for how time becomes money.
type Billing struct {
	// Granularity is one of core/pricing.Granularities.
	Granularity string `toml:"granularity"`
	// MinimumCharge is a decimal in the site currency ("0" for none): the
	// least a seat that costs anything costs.
	MinimumCharge string `toml:"minimum_charge"`
	// GraceSeconds: a seat billable for at most this long costs nothing.
	GraceSeconds int64 `toml:"grace_seconds"`
	// BlockSeconds is the funding block held (or charged) ahead.
	BlockSeconds int64 `toml:"block_seconds"`
	// LeadSeconds: funding is extended when funded time left drops below it.
	LeadSeconds int64 `toml:"lead_seconds"`
	// MaxPauseSeconds ends a seat with no video for longer than this.
	MaxPauseSeconds int64 `toml:"max_pause_seconds"`
	// Funding chooses how a private show is paid when the viewer could pay
	// either way: "card" (the card on file, wallet when there is none) or
	// "wallet" (credits first, the card when the wallet cannot cover a block).
	Funding string `toml:"funding"`
	// RefundUnused returns the unused part of prepaid blocks to the card
	// instead of leaving it in the wallet (processors that can refund only).
	RefundUnused bool `toml:"refund_unused"`
	// ExpireEvery is how often timed-out ledger holds are released.
	ExpireEvery Duration `toml:"expire_every"`
}

// DefaultBilling is DESIGN.md's policy: per-second pricing, five-minute
// blocks, a minute of lead, two minutes of maximum pause.
func DefaultBilling() Billing {
	return Billing{Granularity: "second", MinimumCharge: "0", BlockSeconds: 300, LeadSeconds: 60,
		MaxPauseSeconds: 120, Funding: "card", ExpireEvery: Duration{time.Minute}}
}

// Stream configures the SFU's network side.
type Stream struct {
	// ICEServers are STUN/TURN URLs handed to browsers and the SFU
	// ("stun:stun.example.com:3478"). Empty works on one host and a LAN.
	ICEServers []string `toml:"ice_servers"`
	// ICEUsername and ICECredential go with the TURN URLs.
	ICEUsername   string `toml:"ice_username"`
	ICECredential string `toml:"ice_credential"`
	// UDPPort carries all media over one UDP port (0: ephemeral ports).
	UDPPort int `toml:"udp_port"`
	// UDPPortMin/Max bound the ephemeral ports when UDPPort is 0.
	UDPPortMin int `toml:"udp_port_min"`
	UDPPortMax int `toml:"udp_port_max"`
	// PublicIPs are announced instead of the host's addresses behind a 1:1 NAT.
	PublicIPs []string `toml:"public_ips"`
	// MediaTimeout: the model's media counts as stopped after this long
	// without a packet (billing is backdated to the last packet).
	MediaTimeout Duration `toml:"media_timeout"`
	// MaxViewersPerClient caps the free (seatless) WHEP sessions open at once
	// from one client address (an IPv6 client's /64); 0: no cap.
	MaxViewersPerClient int `toml:"max_viewers_per_client"`
	// MaxViewersPerShow caps one show's WHEP sessions; free viewers over it
	// are refused (a paid seat always gets in); 0: no cap.
	MaxViewersPerShow int `toml:"max_viewers_per_show"`
	// LiveOnPublish: a WHIP publish with an approved model's stream key
	// (OBS) takes her show live; false, she goes live from her dashboard
	// first and an encoder publishing before is refused.
	LiveOnPublish bool `toml:"live_on_publish"`

	// ReconnectGrace: a show whose model's media has been gone for
	// media_timeout plus this long leaves the home grid (a publisher that
	// reconnects within it never left). 0: 10s.
	ReconnectGrace Duration `toml:"reconnect_grace"`
	// ThumbnailEvery is how often each live public show's picture is
	// renewed (a keyframe decoded by ffmpeg). 0: 5s.
	ThumbnailEvery Duration `toml:"thumbnail_every"`
}

// PresenceWindow is how long after the model's last packet a show stays on
// the home grid: media_timeout + reconnect_grace.
func (s Stream) PresenceWindow() time.Duration {
	g := s.ReconnectGrace.Duration
	if g == 0 {
		g = 10 * time.Second
	}
	return s.MediaTimeout.Duration + g
}

// ThumbnailInterval is thumbnail_every with its default.
func (s Stream) ThumbnailInterval() time.Duration {
	if s.ThumbnailEvery.Duration == 0 {
		return 5 * time.Second
	}
	return s.ThumbnailEvery.Duration
}

// DefaultStream works on loopback and a LAN. Ten streams per address leaves
// room for a household or an office behind one NAT; 500 per show is above
// what one SFU was measured to carry without loss (BENCHMARKS.md: 300).
func DefaultStream() Stream {
	return Stream{MediaTimeout: Duration{3 * time.Second}, MaxViewersPerClient: 10, MaxViewersPerShow: 500, LiveOnPublish: true}
}

// Chat configures rooms.
type Chat struct {
	// TipPresets are the one-click tip buttons, decimals in the site currency.
	TipPresets []string `toml:"tip_presets"`
	// MaxTip caps one tip, a decimal in the site currency.
	MaxTip string `toml:"max_tip"`
}

// DefaultChat offers three tip buttons.
func DefaultChat() Chat { return Chat{TipPresets: []string{"1", "5", "10"}, MaxTip: "1000"} }

// Tickets configures ticket shows (core/tickets).
type Tickets struct {
	// MaxPrice caps one ticket, a decimal in the site currency.
	MaxPrice string `toml:"max_price"`
	// RefundIfShorterThan is a fraction of the announced duration, "0" to
	// "1": a show that ran less than that refunds every ticket in full.
	RefundIfShorterThan string `toml:"refund_if_shorter_than"`
	// Prorate: a show shorter than announced but not that short keeps the
	// share of the price it ran and refunds the rest; false keeps it all.
	Prorate bool `toml:"prorate"`
}

// Shows configures show modes beside tickets (core/shows).
type Shows struct {
	// ShowSpyCount shows the viewer of a private show how many spies watch
	// it; off by default (the model always sees them).
	ShowSpyCount bool `toml:"show_spy_count"`
}

// DefaultTickets refunds a show that ran less than half its announced time.
func DefaultTickets() Tickets { return Tickets{MaxPrice: "1000", RefundIfShorterThan: "0.5"} }

// RefundBelowBps is RefundIfShorterThan in basis points (0.5 is 5000): an
// exact decimal of at most four places, never a float.
func (t Tickets) RefundBelowBps() (int64, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(t.RefundIfShorterThan))
	if !ok || r.Sign() < 0 || r.Cmp(big.NewRat(1, 1)) > 0 {
		return 0, errs.E(errs.Invalid, "config: tickets.refund_if_shorter_than is %q: want a decimal from 0 to 1", t.RefundIfShorterThan)
	}
	r.Mul(r, big.NewRat(10000, 1))
	if !r.IsInt() {
		return 0, errs.E(errs.Invalid, "config: tickets.refund_if_shorter_than %q has more than four decimal places", t.RefundIfShorterThan)
	}
	return r.Num().Int64(), nil
}

// CreditPack is one [[credit_packs]] entry. Amounts are decimals in the site
// currency; the wallet receives price + bonus.
type CreditPack struct {
	ID    string `toml:"id"` // what the buy form posts: 1-32 of a-z, 0-9, -
	Name  string `toml:"name"`
	Price string `toml:"price"`
	Bonus string `toml:"bonus"`
	Badge string `toml:"badge"`
}

// DefaultCreditPacks are three packs a fresh site sells.
func DefaultCreditPacks() []CreditPack {
	return []CreditPack{
		{ID: "starter", Name: "Starter", Price: "10", Bonus: "0"},
		{ID: "popular", Name: "Popular", Price: "25", Bonus: "2.50", Badge: "Popular"},
		{ID: "big", Name: "Big spender", Price: "50", Bonus: "7.50", Badge: "Best value"},
	}
}

// Money reads a decimal of the site currency from config; "" is zero.
func (c Config) Money(key, dec string) (money.Money, error) {
	if dec == "" {
		return money.Money{Currency: c.Site.Currency}, nil
	}
	m, err := money.ParseDecimal(dec, c.Site.Currency)
	if err != nil {
		return money.Money{}, errs.E(errs.Invalid, "config: %s %q is not an amount in %s: %v", key, dec, c.Site.Currency, err)
	}
	if m.Amount < 0 {
		return money.Money{}, errs.E(errs.Invalid, "config: %s %q is negative", key, dec)
	}
	return m, nil
}

func (c Config) validateProduct() error {
	switch c.Security.CookieSecure {
	case "auto", "true", "false":
	default:
		return errs.E(errs.Invalid, "config: security.cookie_secure %q: want auto, true or false", c.Security.CookieSecure)
	}
	if c.Security.MinimumAge < 18 || c.Security.MinimumAge > 25 {
		return errs.E(errs.Invalid, "config: security.minimum_age %d: want 18 to 25", c.Security.MinimumAge)
	}
	if c.Security.Secret != "" && len(c.Security.Secret) < 16 {
		return errs.E(errs.Invalid, "config: security.secret must be at least 16 characters")
	}
	if c.Security.SessionTTL.Duration <= 0 || c.Security.SessionIdle.Duration <= 0 {
		return errs.E(errs.Invalid, "config: security.session_ttl and session_idle must be positive")
	}
	b := c.Billing
	if _, err := pricing.ParseGranularity(b.Granularity); err != nil {
		return errs.E(errs.Invalid, "config: billing.%v", err)
	}
	if _, err := c.Money("billing.minimum_charge", b.MinimumCharge); err != nil {
		return err
	}
	if b.GraceSeconds < 0 || b.BlockSeconds < 30 || b.LeadSeconds < 5 || b.LeadSeconds >= b.BlockSeconds || b.MaxPauseSeconds < 5 {
		return errs.E(errs.Invalid, "config: billing: want grace_seconds >= 0, block_seconds >= 30, 5 <= lead_seconds < block_seconds, max_pause_seconds >= 5 (got %d, %d, %d, %d)",
			b.GraceSeconds, b.BlockSeconds, b.LeadSeconds, b.MaxPauseSeconds)
	}
	if b.Funding != "card" && b.Funding != "wallet" {
		return errs.E(errs.Invalid, "config: billing.funding %q: want card or wallet", b.Funding)
	}
	if b.ExpireEvery.Duration <= 0 {
		return errs.E(errs.Invalid, "config: billing.expire_every must be positive")
	}
	s := c.Stream
	if s.UDPPort < 0 || s.UDPPort > 65535 || s.UDPPortMin < 0 || s.UDPPortMax > 65535 || s.UDPPortMin > s.UDPPortMax {
		return errs.E(errs.Invalid, "config: stream: UDP ports out of range (udp_port %d, udp_port_min %d, udp_port_max %d)", s.UDPPort, s.UDPPortMin, s.UDPPortMax)
	}
	for _, ip := range s.PublicIPs {
		if net.ParseIP(ip) == nil {
			return errs.E(errs.Invalid, "config: stream.public_ips: %q is not an IP address", ip)
		}
	}
	for _, u := range s.ICEServers {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			return errs.E(errs.Invalid, "config: stream.ice_servers: %q is not a stun:, turn: or turns: URL", u)
		}
	}
	if s.MediaTimeout.Duration < 500*time.Millisecond {
		return errs.E(errs.Invalid, "config: stream.media_timeout must be at least 500ms")
	}
	if s.ReconnectGrace.Duration < 0 {
		return errs.E(errs.Invalid, "config: stream.reconnect_grace must not be negative")
	}
	if d := s.ThumbnailEvery.Duration; d != 0 && d < time.Second {
		return errs.E(errs.Invalid, "config: stream.thumbnail_every must be at least 1s")
	}
	if s.MaxViewersPerClient < 0 || s.MaxViewersPerShow < 0 {
		return errs.E(errs.Invalid, "config: stream.max_viewers_per_client and max_viewers_per_show must be 0 (no cap) or more (got %d, %d)",
			s.MaxViewersPerClient, s.MaxViewersPerShow)
	}
	for i, p := range c.Chat.TipPresets {
		if m, err := c.Money("chat.tip_presets", p); err != nil {
			return err
		} else if m.Amount <= 0 {
			return errs.E(errs.Invalid, "config: chat.tip_presets[%d] must be above zero", i)
		}
	}
	if m, err := c.Money("chat.max_tip", c.Chat.MaxTip); err != nil {
		return err
	} else if m.Amount <= 0 {
		return errs.E(errs.Invalid, "config: chat.max_tip must be above zero")
	}
	if m, err := c.Money("tickets.max_price", c.Tickets.MaxPrice); err != nil {
		return err
	} else if m.Amount <= 0 {
		return errs.E(errs.Invalid, "config: tickets.max_price must be above zero")
	}
	if _, err := c.Tickets.RefundBelowBps(); err != nil {
		return err
	}
	for i, p := range c.CreditPacks {
		if p.ID == "" || p.Name == "" {
			return errs.E(errs.Invalid, "config: credit_packs[%d] needs an id and a name", i)
		}
		if m, err := c.Money("credit_packs."+p.ID+".price", p.Price); err != nil {
			return err
		} else if m.Amount <= 0 {
			return errs.E(errs.Invalid, "config: credit_packs.%s.price must be above zero", p.ID)
		}
		if _, err := c.Money("credit_packs."+p.ID+".bonus", p.Bonus); err != nil {
			return err
		}
	}
	return nil
}
