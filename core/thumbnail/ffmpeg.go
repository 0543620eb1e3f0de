package thumbnail

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"

	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/sdk/errs"
)

// FFmpeg decodes keyframes with the ffmpeg program (Debian's `ffmpeg`), one
// subprocess per frame: H.264 as an Annex-B elementary stream, VP8 in an IVF
// file, out as one baseline JPEG no wider than MaxWidth.
type FFmpeg struct {
	// Path is the program; "ffmpeg" (found in PATH) when empty.
	Path string
	// MaxWidth scales larger pictures down, keeping the aspect; 640 when 0.
	MaxWidth int
}

var _ Decoder = FFmpeg{}

// Decode implements Decoder.
func (f FFmpeg) Decode(ctx context.Context, kf stream.Keyframe) ([]byte, error) {
	in, format, err := container(kf)
	if err != nil {
		return nil, err
	}
	path := f.Path
	if path == "" {
		path = "ffmpeg"
	}
	w := f.MaxWidth
	if w <= 0 {
		w = 640
	}
	cmd := exec.CommandContext(ctx, path, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-threads", "1", "-f", format, "-i", "pipe:0",
		"-frames:v", "1", "-vf", fmt.Sprintf("scale='min(%d,iw)':-2", w),
		"-q:v", "5", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1")
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, errs.Retry(errs.Timeout, "ffmpeg: %v", ctx.Err())
		}
		return nil, errs.E(errs.Internal, "ffmpeg: %v: %s", err, firstLine(stderr.String()))
	}
	b := out.Bytes()
	if len(b) < 4 || b[0] != 0xff || b[1] != 0xd8 {
		return nil, errs.E(errs.Internal, "ffmpeg wrote no JPEG: %s", firstLine(stderr.String()))
	}
	return b, nil
}

// container puts a keyframe's RTP payloads in what ffmpeg reads from a pipe.
func container(kf stream.Keyframe) ([]byte, string, error) {
	var buf bytes.Buffer
	switch {
	case strings.EqualFold(kf.MimeType, webrtc.MimeTypeH264):
		var d codecs.H264Packet // Annex-B out, FU-A reassembled, STAP-A split
		for _, p := range kf.Packets {
			nal, err := d.Unmarshal(p.Payload)
			if err != nil {
				return nil, "", errs.E(errs.Invalid, "h264 payload: %v", err)
			}
			buf.Write(nal)
		}
		return buf.Bytes(), "h264", nil
	case strings.EqualFold(kf.MimeType, webrtc.MimeTypeVP8):
		w, err := ivfwriter.NewWith(&buf, ivfwriter.WithCodec(webrtc.MimeTypeVP8))
		if err != nil {
			return nil, "", errs.E(errs.Internal, "ivf: %v", err)
		}
		for _, p := range kf.Packets {
			if err := w.WriteRTP(p); err != nil {
				return nil, "", errs.E(errs.Invalid, "vp8 payload: %v", err)
			}
		}
		return buf.Bytes(), "ivf", nil
	}
	return nil, "", errs.E(errs.Unsupported, "no thumbnail decoder for %s", kf.MimeType)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
