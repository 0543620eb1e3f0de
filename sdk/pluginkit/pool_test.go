package pluginkit

import (
	"bytes"
	"testing"

	"github.com/camkit/camkit/sdk/proto/commonv1"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

func TestPoolHandsOutTheAskedLengthAndReusesByTier(t *testing.T) {
	p := new(tieredPool)
	for _, size := range []int{0, 1, 255, 256, 257, 1000, 32 << 10, 32<<10 + 1, 56 << 10, 1 << 20, 16 << 20} {
		b := p.Get(size)
		if len(*b) != size {
			t.Fatalf("Get(%d): len %d", size, len(*b))
		}
		want := 1 << tierFor(size)
		if cap(*b) != want {
			t.Fatalf("Get(%d): cap %d, want the tier's %d", size, cap(*b), want)
		}
		p.Put(b)
	}
	// A 56 KB message takes a 64 KB buffer, not gRPC's default 1 MB one.
	if c := cap(*p.Get(56 << 10)); c != 64<<10 {
		t.Fatalf("56 KB: cap %d", c)
	}
	// Past the largest tier: an exact allocation, which Put drops.
	big := p.Get(16<<20 + 1)
	if len(*big) != 16<<20+1 || cap(*big) != 16<<20+1 {
		t.Fatalf("oversized: len %d cap %d", len(*big), cap(*big))
	}
	p.Put(big)
	// Foreign buffers (not a power of two) are dropped, not pooled where a
	// later Get would find them too short.
	odd := make([]byte, 3000)
	p.Put(&odd)
	for range 100 {
		if b := p.Get(2048); cap(*b) != 2048 {
			t.Fatalf("Get(2048) after a foreign Put: cap %d", cap(*b))
		}
	}
}

func TestCodecRoundTripsSmallAndPooledMessages(t *testing.T) {
	for _, n := range []int{0, 10, poolMin - 20, poolMin, 56 << 10, 3 << 20} {
		in := &commonv1.ConfigureRequest{SettingsJson: bytes.Repeat([]byte("x"), n)}
		data, err := codec{}.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := proto.Marshal(in); !bytes.Equal(data.Materialize(), want) {
			t.Fatalf("%d bytes: codec output differs from proto.Marshal", n)
		}
		// The receiver sees the message in frames of at most 16 KB.
		var frames mem.BufferSlice
		raw := data.Materialize()
		for len(raw) > 0 {
			k := min(len(raw), 16<<10)
			frames = append(frames, mem.SliceBuffer(raw[:k]))
			raw = raw[k:]
		}
		data.Free()
		var out commonv1.ConfigureRequest
		if err := (codec{}).Unmarshal(frames, &out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.GetSettingsJson(), in.GetSettingsJson()) {
			t.Fatalf("%d bytes: round trip changed the message", n)
		}
	}
	if _, err := (codec{}).Marshal("not a message"); err == nil {
		t.Fatal("marshalled a string")
	}
}
