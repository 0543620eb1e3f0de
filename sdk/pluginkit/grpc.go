package pluginkit

import (
	"fmt"
	"math/bits"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// Transport tuning shared by the host's dial and the plugin's server. Both
// ends are on one machine and a theme page crosses as one message of tens of
// kilobytes each way (the page JSON in, the HTML out), which gRPC's defaults
// handle badly:
//
//   - Its default buffer pool has no tier between 32 KB and 1 MB and zeroes
//     every buffer it hands out, and its proto codec takes from that pool to
//     marshal every message and to join a received message's frames. A 56 KB
//     page thus cost four 1 MB clears per render, about a sixth of the CPU of
//     a round trip. The codec and pool below have power-of-two tiers and hand
//     buffers out dirty: a marshal or a read writes every byte it keeps.
//   - A 64 KB initial flow-control window with bandwidth probing sends a
//     window update and a BDP ping for most pages; fixed large windows make
//     a render one request and one response.
//
// Neither end depends on the other's tuning: a plugin built against an older
// SDK talks to a newer host and the other way round, since the codec keeps
// the "proto" name and wire format.
const (
	streamWindow = 4 << 20
	connWindow   = 16 << 20
	rwBuffer     = 64 << 10
)

// GRPCServerOptions are the server options every camkit plugin serves with;
// Serve applies them.
func GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ForceServerCodecV2(codec{}),
		experimental.BufferPool(pool),
		grpc.InitialWindowSize(streamWindow),
		grpc.InitialConnWindowSize(connWindow),
		grpc.ReadBufferSize(rwBuffer),
		grpc.WriteBufferSize(rwBuffer),
	}
}

// GRPCDialOptions are the dial options the host (and sdk/plugintest) uses
// for every plugin connection: go-plugin's ClientConfig.GRPCDialOptions.
func GRPCDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(codec{})),
		experimental.WithBufferPool(pool),
		grpc.WithInitialWindowSize(streamWindow),
		grpc.WithInitialConnWindowSize(connWindow),
		grpc.WithReadBufferSize(rwBuffer),
		grpc.WithWriteBufferSize(rwBuffer),
	}
}

// newGRPCServer is go-plugin's ServeConfig.GRPCServer: its own options
// (TLS credentials) plus ours.
func newGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append(opts, GRPCServerOptions()...)...)
}

// ---- codec ----

// codec is gRPC's proto codec with the pool below instead of the default one.
type codec struct{}

var _ encoding.CodecV2 = codec{}

// poolMin is the size from which a message is marshalled into a pooled
// buffer; smaller ones are cheaper to allocate than to pool.
const poolMin = 1 << 10

func (codec) Name() string { return "proto" }

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	m := messageOf(v)
	if m == nil {
		return nil, fmt.Errorf("proto: cannot marshal %T, want proto.Message", v)
	}
	size := proto.Size(m)
	// UseCachedSize reuses the Size just computed; the message is not
	// mutated in between.
	opts := proto.MarshalOptions{UseCachedSize: true}
	if size < poolMin {
		b, err := opts.Marshal(m)
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	buf := pool.Get(size)
	b, err := opts.MarshalAppend((*buf)[:0], m)
	if err != nil {
		pool.Put(buf)
		return nil, err
	}
	*buf = b
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	m := messageOf(v)
	if m == nil {
		return fmt.Errorf("proto: cannot unmarshal into %T, want proto.Message", v)
	}
	// proto.Unmarshal copies what it keeps, so the joined frames go back
	// to the pool right after.
	buf := data.MaterializeToBuffer(pool)
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

func messageOf(v any) proto.Message {
	switch v := v.(type) {
	case protoadapt.MessageV2:
		return v
	case protoadapt.MessageV1:
		return protoadapt.MessageV2Of(v)
	}
	return nil
}

// ---- pool ----

// tieredPool hands out buffers of power-of-two capacities from minTier to
// maxTier, not cleared; a larger request is a plain allocation.
type tieredPool struct {
	tiers [maxTier - minTier + 1]sync.Pool
}

const (
	minTier = 8  // 256 B
	maxTier = 24 // 16 MB
)

var pool mem.BufferPool = new(tieredPool)

func (p *tieredPool) Get(size int) *[]byte {
	t := tierFor(size)
	if t > maxTier {
		b := make([]byte, size)
		return &b
	}
	if b, ok := p.tiers[t-minTier].Get().(*[]byte); ok {
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size, 1<<t)
	return &b
}

func (p *tieredPool) Put(b *[]byte) {
	c := cap(*b)
	if c < 1<<minTier || c > 1<<maxTier || c&(c-1) != 0 {
		return // not one of ours (or resliced from the front): let the GC have it
	}
	p.tiers[bits.Len(uint(c))-1-minTier].Put(b)
}

// tierFor is the smallest tier holding size bytes.
func tierFor(size int) int {
	if size <= 1<<minTier {
		return minTier
	}
	return bits.Len(uint(size - 1))
}
