package streamtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
)

// MediaOptions shape a MediaPublisher's stream.
type MediaOptions struct {
	// H264 sends H.264 (constrained baseline, as a browser or OBS does);
	// VP8 otherwise.
	H264 bool
	// Width and Height of the picture; default 320x240.
	Width, Height int
	// FPS, default 15.
	FPS int
	// KeyframeEvery is the keyframe interval in frames; FPS (one a
	// second) when 0. The publisher never answers a keyframe request.
	KeyframeEvery int
	// HeadersOnce sends the H.264 parameter sets (SPS, PPS) with the first
	// keyframe only, as some encoders do; a decoder must keep them.
	HeadersOnce bool
}

// MediaPublisher is a pion WHIP publisher sending real, decodable video:
// ffmpeg's test pattern encoded with libx264 or libvpx, looped. Synthetic
// payloads (Publisher) are enough to meter; a decoder needs these.
type MediaPublisher struct {
	PC     *webrtc.PeerConnection
	Frames []media.Sample // one encoded picture each, in order

	track *webrtc.TrackLocalStaticSample
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// EncodeTestPattern encodes seconds of ffmpeg's testsrc pattern with the
// Debian ffmpeg (libx264 or libvpx) and returns one sample per picture:
// Annex-B access units for H.264, VP8 frames for VP8.
func EncodeTestPattern(ctx context.Context, dir string, o MediaOptions, seconds int) ([]media.Sample, error) {
	o = o.withDefaults()
	src := fmt.Sprintf("testsrc=size=%dx%d:rate=%d", o.Width, o.Height, o.FPS)
	common := []string{"-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", src, "-t", fmt.Sprint(seconds), "-pix_fmt", "yuv420p", "-g", fmt.Sprint(o.KeyframeEvery), "-threads", "1"}
	out := filepath.Join(dir, "pattern.ivf")
	args := append(common, "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "400k", "-f", "ivf", out)
	if o.H264 {
		out = filepath.Join(dir, "pattern.h264")
		// Headers with every keyframe; HeadersOnce drops them from all but
		// the first below (ffmpeg's raw muxer loses x264's global ones).
		args = append(common, "-c:v", "libx264", "-profile:v", "baseline", "-level", "3.1", "-bf", "0",
			"-x264-params", "repeat-headers=1:slices=1", "-f", "h264", out)
	}
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ffmpeg encode: %v: %s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	dur := time.Second / time.Duration(o.FPS)
	if o.H264 {
		return h264AccessUnits(b, dur, o.HeadersOnce), nil
	}
	r, _, err := ivfreader.NewWith(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	var frames []media.Sample
	for {
		f, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			return frames, nil
		}
		if err != nil {
			return nil, err
		}
		frames = append(frames, media.Sample{Data: f, Duration: dur})
	}
}

// h264AccessUnits cuts an Annex-B stream into pictures: the parameter sets
// and SEI before a slice travel with it.
func h264AccessUnits(b []byte, dur time.Duration, headersOnce bool) []media.Sample {
	var nals [][]byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte{0, 0, 1})
		if i < 0 {
			break
		}
		b = b[i+3:]
		j := bytes.Index(b, []byte{0, 0, 1})
		if j < 0 {
			j = len(b)
		}
		nal := bytes.TrimRight(b[:j], "\x00")
		if len(nal) > 0 {
			nals = append(nals, nal)
		}
		b = b[j:]
	}
	var out []media.Sample
	var au []byte
	seen := false
	for _, n := range nals {
		if t := n[0] & 0x1f; headersOnce && seen && (t == 7 || t == 8) {
			continue
		}
		if n[0]&0x1f == 5 {
			seen = true
		}
		au = append(au, 0, 0, 0, 1)
		au = append(au, n...)
		if t := n[0] & 0x1f; t == 1 || t == 5 {
			out = append(out, media.Sample{Data: au, Duration: dur})
			au = nil
		}
	}
	return out
}

func (o MediaOptions) withDefaults() MediaOptions {
	if o.Width == 0 {
		o.Width, o.Height = 320, 240
	}
	if o.FPS == 0 {
		o.FPS = 15
	}
	if o.KeyframeEvery == 0 {
		o.KeyframeEvery = o.FPS
	}
	return o
}

// PublishMedia connects a publisher through signal and loops frames (from
// EncodeTestPattern) at their pace until Close.
func PublishMedia(ctx context.Context, signal Signal, o MediaOptions, frames []media.Sample) (*MediaPublisher, error) {
	if len(frames) == 0 {
		return nil, errors.New("streamtest: no frames to send")
	}
	api, err := newAPI(nil, nil, false)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	if o.H264 {
		codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}
	}
	track, err := webrtc.NewTrackLocalStaticSample(codec, "video", "pattern")
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	tr, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	go func() { // drain RTCP so the interceptors run
		for {
			if _, _, err := tr.Sender().ReadRTCP(); err != nil {
				return
			}
		}
	}()
	if err := connect(ctx, pc, signal); err != nil {
		_ = pc.Close()
		return nil, err
	}
	p := &MediaPublisher{PC: pc, Frames: frames, track: track, stop: make(chan struct{})}
	p.wg.Add(1)
	go p.send()
	return p, nil
}

func (p *MediaPublisher) send() {
	defer p.wg.Done()
	start := time.Now()
	var at time.Duration
	for i := 0; ; i++ {
		f := p.Frames[i%len(p.Frames)]
		select {
		case <-p.stop:
			return
		case <-time.After(time.Until(start.Add(at))):
		}
		at += f.Duration
		if err := p.track.WriteSample(f); err != nil {
			return
		}
	}
}

// Close stops sending and closes the connection.
func (p *MediaPublisher) Close() {
	p.once.Do(func() {
		close(p.stop)
		p.wg.Wait()
		_ = p.PC.Close()
	})
}
