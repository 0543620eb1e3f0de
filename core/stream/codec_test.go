package stream_test

import (
	"testing"

	"github.com/camkit/camkit/core/stream"
)

func TestIsKeyframe(t *testing.T) {
	cases := []struct {
		name    string
		mime    string
		payload []byte
		want    bool
	}{
		{"VP8 keyframe start", "video/VP8", []byte{0x10, 0x00, 0, 0, 0x9d, 0x01, 0x2a}, true},
		{"VP8 interframe start", "video/VP8", []byte{0x10, 0x01, 0, 0}, false},
		{"VP8 keyframe continuation", "video/VP8", []byte{0x00, 0x00, 0, 0}, false},
		{"VP8 keyframe, second partition", "video/VP8", []byte{0x11, 0x00}, false},
		{"VP8 keyframe with 15-bit picture id", "video/VP8", []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"VP8 interframe with picture id, tl0 and tid", "video/VP8", []byte{0x90, 0xe0, 0x12, 0x05, 0x40, 0x01}, false},
		{"VP8 keyframe with picture id, tl0 and tid", "video/VP8", []byte{0x90, 0xe0, 0x12, 0x05, 0x40, 0x00}, true},
		{"VP8 truncated", "video/VP8", []byte{0x90}, false},
		{"H.264 IDR", "video/H264", []byte{0x65, 0x88}, true},
		{"H.264 non-IDR slice", "video/H264", []byte{0x41, 0x9a}, false},
		{"H.264 STAP-A with SPS", "video/H264", []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"H.264 STAP-A without SPS", "video/H264", []byte{0x78, 0x00, 0x02, 0x06, 0x05}, false},
		{"H.264 FU-A start of IDR", "video/H264", []byte{0x7c, 0x85, 0x00}, true},
		{"H.264 FU-A middle of IDR", "video/H264", []byte{0x7c, 0x05, 0x00}, false},
		{"H.264 empty", "video/H264", nil, false},
		{"Opus", "audio/opus", []byte{0xfc}, true},
		{"unknown video codec", "video/AV1", []byte{0x00}, false},
	}
	for _, tc := range cases {
		if got := stream.IsKeyframe(tc.mime, tc.payload); got != tc.want {
			t.Errorf("%s: IsKeyframe = %v, want %v", tc.name, got, tc.want)
		}
	}
}
