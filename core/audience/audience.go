// Package audience counts who is watching each show and says whether a
// show's model is really on air, for the home grid, the room and
// Prometheus. It reads the SFU (WHEP sessions, the model's media) and the
// chat (connections per room); it changes neither.
//
// A show's count is the larger of its WHEP sessions and its chat
// connections: a browser in the room holds one of each, so their sum would
// count every such viewer twice, while the larger never misses a kind of
// viewer that comes alone (a WHEP player without chat, a chat reader whose
// video is blocked).
//
// Presence: a show is on the grid while its model's media arrived within
// Window (media_timeout + the reconnect grace), and during its first Window
// before any publisher came. A show whose publisher left drops off within
// Window of its last packet, even though the host still has it on air.
//
// Series (per show on air, gone when the show ends):
//
//	camkit_show_viewers{show}           the count shown on the grid
//	camkit_show_whep_viewers{show}      WHEP sessions (seats included)
//	camkit_show_chat_connections{show}  chat connections
//	camkit_shows_on_grid                shows listed on the home grid
package audience

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/stream"
)

// Media is the SFU as counts need it (*stream.SFU).
type Media interface {
	ShowStates() []stream.ShowState
	ShowState(showID string) (stream.ShowState, bool)
}

// Chat counts a room's connections (*chat.Service).
type Chat interface {
	Viewers(showID string) int
}

var _ Media = (*stream.SFU)(nil)

// OnAirShow is a show the host has on air, for the metrics.
type OnAirShow struct {
	ID    string
	Since time.Time
}

// Options of a Service.
type Options struct {
	// Window is how long a show stays on the grid after its model's last
	// packet: the SFU's media timeout plus the reconnect grace. 13 s when 0.
	Window time.Duration
	// Tick is how often the SFU's state is sampled (so a publisher that
	// left is remembered after the SFU forgot its room); 500 ms when 0.
	Tick  time.Duration
	Clock clock.Clock
	// OnAir lists the host's shows on air, for the Prometheus series; nil
	// exports none.
	OnAir func(ctx context.Context) ([]OnAirShow, error)
	// Registerer receives the series; nil keeps them private.
	Registerer prometheus.Registerer
}

// Counts of one show.
type Counts struct {
	WHEP, Chat int
	// Viewers is what pages show: max(WHEP, Chat).
	Viewers int
}

// Service is safe for concurrent use.
type Service struct {
	media Media
	chat  Chat
	opts  Options

	mu sync.Mutex
	// lastMedia is the latest evidence of each show's model: its last
	// packet, or the sample that found media flowing.
	lastMedia map[string]time.Time

	viewers, whep, chats *prometheus.Desc
	onGrid               *prometheus.Desc
}

// New returns a Service; run its sampler with Run.
func New(media Media, chat Chat, o Options) (*Service, error) {
	if o.Window <= 0 {
		o.Window = 13 * time.Second
	}
	if o.Tick <= 0 {
		o.Tick = 500 * time.Millisecond
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	s := &Service{media: media, chat: chat, opts: o, lastMedia: map[string]time.Time{},
		viewers: prometheus.NewDesc("camkit_show_viewers", "People watching a show on air: the larger of its WHEP sessions and chat connections (what the grid shows).", []string{"show"}, nil),
		whep:    prometheus.NewDesc("camkit_show_whep_viewers", "WHEP sessions of a show on air, seats included.", []string{"show"}, nil),
		chats:   prometheus.NewDesc("camkit_show_chat_connections", "Chat connections of a show on air.", []string{"show"}, nil),
		onGrid:  prometheus.NewDesc("camkit_shows_on_grid", "Shows on air whose model's media is present (listed on the home grid).", nil, nil),
	}
	if o.Registerer != nil && o.OnAir != nil {
		if err := o.Registerer.Register(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Counts of a show now.
func (s *Service) Counts(showID string) Counts {
	var c Counts
	if st, ok := s.media.ShowState(showID); ok {
		c.WHEP = st.Viewers
	}
	if s.chat != nil {
		c.Chat = s.chat.Viewers(showID)
	}
	c.Viewers = max(c.WHEP, c.Chat)
	return c
}

// Viewers is Counts(showID).Viewers.
func (s *Service) Viewers(showID string) int { return s.Counts(showID).Viewers }

// OnAir reports whether a show the host has on air since since belongs on
// the grid: its model's media arrived within Window, or the show is younger
// than Window (its publisher is still connecting).
func (s *Service) OnAir(showID string, since time.Time) bool {
	now := s.opts.Clock.Now()
	if now.Sub(since) < s.opts.Window {
		return true
	}
	last := s.observe(showID, now)
	return !last.IsZero() && now.Sub(last) < s.opts.Window
}

// observe folds the SFU's current state of a show into lastMedia and
// returns the latest evidence.
func (s *Service) observe(showID string, now time.Time) time.Time {
	st, ok := s.media.ShowState(showID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.noteLocked(st, now)
	}
	return s.lastMedia[showID]
}

func (s *Service) noteLocked(st stream.ShowState, now time.Time) {
	ev := st.LastPacketAt
	if st.Flowing {
		ev = now
	}
	if ev.After(s.lastMedia[st.ShowID]) {
		s.lastMedia[st.ShowID] = ev
	}
}

// Run samples the SFU until ctx ends, so a show's last evidence outlives
// its room, and forgets shows silent for long.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	for {
		s.sample()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) sample() {
	states := s.media.ShowStates()
	now := s.opts.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range states {
		s.noteLocked(st, now)
	}
	for id, at := range s.lastMedia {
		if now.Sub(at) > 4*s.opts.Window {
			delete(s.lastMedia, id)
		}
	}
}

// Describe implements prometheus.Collector.
func (s *Service) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.viewers
	ch <- s.whep
	ch <- s.chats
	ch <- s.onGrid
}

// Collect implements prometheus.Collector: the series of the shows on air
// now, so a show that ended leaves no stale series behind.
func (s *Service) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	shows, err := s.opts.OnAir(ctx)
	if err != nil {
		return
	}
	grid := 0
	for _, sh := range shows {
		c := s.Counts(sh.ID)
		ch <- prometheus.MustNewConstMetric(s.viewers, prometheus.GaugeValue, float64(c.Viewers), sh.ID)
		ch <- prometheus.MustNewConstMetric(s.whep, prometheus.GaugeValue, float64(c.WHEP), sh.ID)
		ch <- prometheus.MustNewConstMetric(s.chats, prometheus.GaugeValue, float64(c.Chat), sh.ID)
		if s.OnAir(sh.ID, sh.Since) {
			grid++
		}
	}
	ch <- prometheus.MustNewConstMetric(s.onGrid, prometheus.GaugeValue, float64(grid))
}

var _ prometheus.Collector = (*Service)(nil)
