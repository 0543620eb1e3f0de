// Package thumbnail keeps a recent picture of every live public show: every
// few seconds it takes the show's next keyframe from the SFU, decodes it
// (FFmpeg: Debian's ffmpeg as a subprocess, H.264 and VP8) to a JPEG and
// keeps the latest per show, for the home grid and the room's poster.
//
// Private and group shows never expose a frame: the SFU refuses to hand over
// a keyframe while a show is not public (and one during which the mode
// changed), a frame is kept only while the show's mode has not changed since
// it was taken, and the HTTP handler asks again at every request. Whatever
// has no frame is answered with a neutral placeholder image, so a page's
// <img> never breaks.
package thumbnail

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"log/slog"
	"os/exec"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/sdk/errs"
)

// Source is the SFU as snapshots need it (*stream.SFU).
type Source interface {
	ShowStates() []stream.ShowState
	ShowState(showID string) (stream.ShowState, bool)
	Keyframe(ctx context.Context, showID string) (stream.Keyframe, error)
}

// Decoder turns one keyframe into a JPEG.
type Decoder interface {
	Decode(ctx context.Context, kf stream.Keyframe) ([]byte, error)
}

var _ Source = (*stream.SFU)(nil)

// Options of a Service. Zero values take the defaults.
type Options struct {
	// Every is how often a show's picture is renewed; 5 s.
	Every time.Duration
	// Tick is how often the shows are looked over (a show that just went
	// on air gets its first picture within about one tick); 1 s.
	Tick time.Duration
	// KeyframeWait bounds the wait for a show's next keyframe; 10 s. An
	// encoder that ignores keyframe requests (OBS's x264) is caught at its
	// own keyframe interval, which may be several seconds.
	KeyframeWait time.Duration
	// Wait bounds a decode; 3 s.
	Wait    time.Duration
	Decoder Decoder // FFmpeg{} when nil
	Clock   clock.Clock
	Log     *slog.Logger
	// Registerer receives camkit_thumbnails_total{result}; nil keeps it private.
	Registerer prometheus.Registerer
}

// Frame is a show's latest picture.
type Frame struct {
	JPEG []byte
	ETag string // strong, quoted
	At   time.Time
	// modeSeq is the show's ShowState.ModeSeq when the frame was taken.
	modeSeq uint64
}

// Service takes and keeps the pictures. Run its loop with Run.
type Service struct {
	src  Source
	opts Options
	log  *slog.Logger
	runs *prometheus.CounterVec

	// decoding holds the one decoder slot.
	decoding chan struct{}

	inflight sync.WaitGroup

	mu     sync.Mutex
	frames map[string]Frame
	tried  map[string]time.Time // last attempt per show
	busy   map[string]bool      // a picture under way
}

// New returns a Service reading src.
func New(src Source, o Options) (*Service, error) {
	if o.Every <= 0 {
		o.Every = 5 * time.Second
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.Wait <= 0 {
		o.Wait = 3 * time.Second
	}
	if o.KeyframeWait <= 0 {
		o.KeyframeWait = 10 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Decoder == nil {
		o.Decoder = FFmpeg{}
		if _, err := exec.LookPath("ffmpeg"); err != nil {
			o.Log.Warn("thumbnail: ffmpeg not found (Debian: apt-get install ffmpeg); live shows get the placeholder picture", "err", err)
		}
	}
	s := &Service{src: src, opts: o, log: o.Log, frames: map[string]Frame{}, tried: map[string]time.Time{}, busy: map[string]bool{}, decoding: make(chan struct{}, 1),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "camkit", Subsystem: "thumbnails", Name: "total",
			Help: "Show snapshots attempted, by result: ok, no_keyframe (none arrived in time), refused (the show is not public), decode_failed."},
			[]string{"result"})}
	if o.Registerer != nil {
		if err := o.Registerer.Register(s.runs); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Run renews pictures until ctx ends. One decoder runs at a time: that is
// all the CPU a host spends on thumbnails.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	defer s.inflight.Wait()
	for {
		s.Refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh starts taking a picture of every public show with media whose
// picture is due, and forgets the pictures of shows that left or changed
// mode.
func (s *Service) Refresh(ctx context.Context) {
	states := s.src.ShowStates()
	now := s.opts.Clock.Now()
	live := make(map[string]bool, len(states))
	var due []string
	s.mu.Lock()
	for _, st := range states {
		if !st.Flowing || st.VideoCodec == "" {
			continue
		}
		live[st.ShowID] = true
		if f, ok := s.frames[st.ShowID]; ok && (st.Mode != stream.ModePublic || f.modeSeq != st.ModeSeq) {
			delete(s.frames, st.ShowID)
		}
		if st.Mode == stream.ModePublic && now.Sub(s.tried[st.ShowID]) >= s.opts.Every {
			due = append(due, st.ShowID)
		}
	}
	for id := range s.frames {
		if !live[id] {
			delete(s.frames, id)
		}
	}
	for id := range s.tried {
		if !live[id] {
			delete(s.tried, id)
		}
	}
	s.mu.Unlock()
	for _, id := range due {
		s.start(ctx, id)
	}
}

// maxWaiting bounds the shows waiting for a keyframe at once.
const maxWaiting = 32

// start takes a show's picture in the background, unless one is under way
// or maxWaiting shows already wait (it is tried again next tick). Waiting
// for keyframes (up to KeyframeWait) overlaps across shows, so a slow
// encoder never holds back another show's picture; decodes, which cost
// CPU, run one at a time.
func (s *Service) start(ctx context.Context, showID string) {
	s.mu.Lock()
	if s.busy[showID] || len(s.busy) >= maxWaiting {
		s.mu.Unlock()
		return
	}
	s.busy[showID] = true
	s.tried[showID] = s.opts.Clock.Now()
	s.inflight.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.inflight.Done()
		s.take(ctx, showID)
		s.mu.Lock()
		delete(s.busy, showID)
		s.mu.Unlock()
	}()
}

// take snapshots one show.
func (s *Service) take(ctx context.Context, showID string) {
	wctx, cancel := context.WithTimeout(ctx, s.opts.KeyframeWait)
	kf, err := s.src.Keyframe(wctx, showID)
	cancel()
	if err != nil {
		if errs.CodeOf(err) == errs.Forbidden {
			s.runs.WithLabelValues("refused").Inc()
			s.forget(showID)
		} else {
			s.runs.WithLabelValues("no_keyframe").Inc()
		}
		return
	}
	select {
	case s.decoding <- struct{}{}:
	case <-ctx.Done():
		return
	}
	dctx, cancel := context.WithTimeout(ctx, s.opts.Wait)
	jpeg, err := s.opts.Decoder.Decode(dctx, kf)
	cancel()
	<-s.decoding
	if err != nil {
		s.runs.WithLabelValues("decode_failed").Inc()
		s.log.Debug("thumbnail: decode", "show", showID, "codec", kf.MimeType, "err", err)
		return
	}
	sum := sha256.Sum256(jpeg)
	f := Frame{JPEG: jpeg, ETag: `"` + hex.EncodeToString(sum[:12]) + `"`, At: kf.At, modeSeq: kf.ModeSeq}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The decode took time: the show may have gone private meanwhile.
	if st, ok := s.src.ShowState(showID); !ok || st.Mode != stream.ModePublic || st.ModeSeq != kf.ModeSeq {
		s.runs.WithLabelValues("refused").Inc()
		delete(s.frames, showID)
		return
	}
	s.frames[showID] = f
	s.runs.WithLabelValues("ok").Inc()
}

func (s *Service) forget(showID string) {
	s.mu.Lock()
	delete(s.frames, showID)
	s.mu.Unlock()
}

// Frame is the show's latest picture, only while the show is public and its
// mode has not changed since the picture was taken.
func (s *Service) Frame(showID string) (Frame, bool) {
	s.mu.Lock()
	f, ok := s.frames[showID]
	s.mu.Unlock()
	if !ok {
		return Frame{}, false
	}
	st, live := s.src.ShowState(showID)
	if !live || st.Mode != stream.ModePublic || st.ModeSeq != f.modeSeq {
		s.forget(showID)
		return Frame{}, false
	}
	return f, true
}

//go:embed placeholder.svg
var placeholderSVG []byte

// Placeholder is the neutral picture served where no frame may be shown: a
// file of its own (an SVG with its size, so an <img> of it has a natural
// width), never an inline data: URL, which the pages' policy refuses.
func Placeholder() (body []byte, contentType, etag string) {
	return placeholderSVG, "image/svg+xml", placeholderETag
}

var placeholderETag = func() string {
	sum := sha256.Sum256(placeholderSVG)
	return `"p-` + hex.EncodeToString(sum[:8]) + `"`
}()
