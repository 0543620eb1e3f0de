package stream

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Fan-out sends every packet once per viewer, and on a busy host the
// kernel's per-datagram cost (a sendto, the route, the qdisc; on loopback
// the receiver's side too) is most of the SFU's CPU. So while a model's
// frame is being fanned out the SFU's sockets hold datagrams back and then
// send them all at once: one sendmmsg for many viewers, and each viewer's
// packets of the frame as one UDP GSO super-datagram the kernel splits
// late. Measured on loopback: 6-8 us per datagram sent one by one, 2.2 us
// through GSO.

const (
	// maxIdle is how long queued datagrams wait for the next write: a
	// frame whose last packet is late or lost is sent anyway.
	maxIdle = 2 * time.Millisecond
	// maxAge bounds the latency batching adds while writes keep coming
	// (holds of several shows overlapping).
	maxAge = 20 * time.Millisecond
	// maxQueued bounds the memory a hold may pin before it is flushed.
	maxQueued = 4 << 20
	// gsoMaxSegments and gsoMaxBytes keep a super-datagram within what
	// every kernel with UDP_SEGMENT accepts.
	gsoMaxSegments = 64
	gsoMaxBytes    = 60000
	// batchMax is how many messages one sendmmsg carries.
	batchMax = 256
)

// udpOut is the queue every SFU socket writes through. hold and release
// bracket a fan-out: while any hold is open, writes are copied into the
// queue; the last release sends what is queued, and so do the idle and age
// bounds above. Writes with no hold open (ICE, DTLS, RTCP between frames)
// go straight out unless datagrams are queued or being sent, so datagrams
// to one address are never reordered by the queue.
type udpOut struct {
	mu       sync.Mutex
	holds    int
	flushing bool
	q, spare *sendQueue
	armed    bool
	timer    *time.Timer
	oldest   time.Time // first write of the queue
	latest   time.Time // last write of the queue

	// flushMu makes flushes sequential: each sends its queue in order.
	flushMu sync.Mutex
	gsoOff  bool // the kernel refused UDP_SEGMENT once: plain sendmmsg
	groups  map[dstKey][]int
	order   []dstKey
	conns   []*batchConn
	spans   []span
	msgs    []ipv4.Message
	bufs    [][]byte
	oob     []byte
}

// span is one message of a flush: datagrams bufs[b0:b1] to dst, with the
// control message oob[o0:o1] (UDP_SEGMENT) when there are several.
type span struct {
	dst            netip.AddrPort
	b0, b1, o0, o1 int
}

type dstKey struct {
	c   *batchConn
	dst netip.AddrPort
}

type sendQueue struct {
	entries []queued
	data    []byte
}

type queued struct {
	c      *batchConn
	dst    netip.AddrPort
	off, n int
}

func newUDPOut() *udpOut {
	o := &udpOut{q: &sendQueue{}, spare: &sendQueue{}, groups: map[dstKey][]int{}, gsoOff: !gsoSupported}
	o.timer = time.AfterFunc(time.Hour, o.onTimer)
	o.timer.Stop()
	return o
}

// onTimer flushes a queue left idle for maxIdle or queued for maxAge;
// otherwise it waits again for whichever comes first.
func (o *udpOut) onTimer() {
	o.mu.Lock()
	if len(o.q.entries) == 0 {
		o.armed = false
		o.mu.Unlock()
		return
	}
	now := time.Now()
	wait := min(maxIdle-now.Sub(o.latest), maxAge-now.Sub(o.oldest))
	if wait > 0 {
		o.timer.Reset(wait)
		o.mu.Unlock()
		return
	}
	o.armed = false
	o.mu.Unlock()
	o.flush()
}

func (o *udpOut) hold() {
	o.mu.Lock()
	o.holds++
	o.mu.Unlock()
}

// release closes a hold; the last one open sends everything queued.
func (o *udpOut) release() {
	o.mu.Lock()
	o.holds--
	last := o.holds == 0
	o.mu.Unlock()
	if last {
		o.flush()
	}
}

// write sends b to dst through c, or queues a copy of it.
func (o *udpOut) write(c *batchConn, b []byte, dst netip.AddrPort) (int, error) {
	o.mu.Lock()
	if o.holds == 0 && !o.flushing && len(o.q.entries) == 0 {
		o.mu.Unlock()
		return c.conn.WriteToUDPAddrPort(b, dst)
	}
	now := time.Now()
	q := o.q
	if len(q.entries) == 0 {
		o.oldest = now
	}
	o.latest = now
	q.entries = append(q.entries, queued{c: c, dst: dst, off: len(q.data), n: len(b)})
	q.data = append(q.data, b...)
	due := len(q.data) >= maxQueued || now.Sub(o.oldest) >= maxAge
	if !o.armed {
		o.armed = true
		o.timer.Reset(maxIdle)
	}
	o.mu.Unlock()
	if due {
		o.flush()
	}
	return len(b), nil
}

// flush sends the queue; when no hold is open it keeps going until the
// queue is empty, so direct writes can resume.
func (o *udpOut) flush() {
	o.flushMu.Lock()
	defer o.flushMu.Unlock()
	for {
		o.mu.Lock()
		q := o.q
		if len(q.entries) == 0 {
			o.flushing = false
			o.mu.Unlock()
			return
		}
		o.q, o.spare = o.spare, nil
		if o.q == nil {
			o.q = &sendQueue{}
		}
		o.flushing = true
		o.mu.Unlock()

		o.send(q)
		q.entries, q.data = q.entries[:0], q.data[:0]

		o.mu.Lock()
		o.spare = q
		again := o.holds == 0 && len(o.q.entries) > 0
		if !again {
			o.flushing = false
		}
		o.mu.Unlock()
		if !again {
			return
		}
	}
}

// send groups q by socket and destination (keeping each destination's
// order) and writes it with sendmmsg, a destination's run of equal-sized
// datagrams (the last may be shorter) as one GSO message. Called with
// flushMu held.
func (o *udpOut) send(q *sendQueue) {
	clear(o.groups)
	o.order = o.order[:0]
	o.conns = o.conns[:0]
	for i, e := range q.entries {
		k := dstKey{e.c, e.dst}
		g, ok := o.groups[k]
		if !ok {
			o.order = append(o.order, k)
			if !slices.Contains(o.conns, e.c) {
				o.conns = append(o.conns, e.c)
			}
		}
		o.groups[k] = append(g, i)
	}
	for _, c := range o.conns {
		o.bufs, o.oob, o.spans = o.bufs[:0], o.oob[:0], o.spans[:0]
		for _, k := range o.order {
			if k.c != c {
				continue
			}
			idx := o.groups[k]
			for from := 0; from < len(idx); {
				to := from + 1
				size, total := q.entries[idx[from]].n, q.entries[idx[from]].n
				for !o.gsoOff && to < len(idx) && to-from < gsoMaxSegments {
					n := q.entries[idx[to]].n
					if n > size || total+n > gsoMaxBytes {
						break
					}
					total += n
					to++
					if n < size { // a shorter segment can only end a run
						break
					}
				}
				sp := span{dst: k.dst, b0: len(o.bufs), o0: len(o.oob)}
				for _, i := range idx[from:to] {
					e := q.entries[i]
					o.bufs = append(o.bufs, q.data[e.off:e.off+e.n])
				}
				if to-from > 1 {
					o.oob = appendGSO(o.oob, size)
				}
				sp.b1, sp.o1 = len(o.bufs), len(o.oob)
				o.spans = append(o.spans, sp)
				from = to
			}
		}
		o.msgs = o.msgs[:0]
		for _, sp := range o.spans {
			m := ipv4.Message{Buffers: o.bufs[sp.b0:sp.b1:sp.b1], Addr: c.udpAddr(sp.dst)}
			if sp.o1 > sp.o0 {
				m.OOB = o.oob[sp.o0:sp.o1:sp.o1]
			}
			o.msgs = append(o.msgs, m)
		}
		if err := c.writeBatch(o.msgs); err != nil && !o.gsoOff && gsoRefused(err) {
			// The device or kernel cannot segment: from now on one
			// datagram per message; this flush is resent so.
			o.gsoOff = true
			o.resendPlain(c, q)
		}
	}
}

// resendPlain sends every datagram of q bound for c one message each,
// after a GSO send was refused (some may be sent twice: RTP and SRTP drop
// duplicates).
func (o *udpOut) resendPlain(c *batchConn, q *sendQueue) {
	msgs := make([]ipv4.Message, 0, len(q.entries))
	for _, e := range q.entries {
		if e.c == c {
			msgs = append(msgs, ipv4.Message{Buffers: [][]byte{q.data[e.off : e.off+e.n]}, Addr: c.udpAddr(e.dst)})
		}
	}
	_ = c.writeBatch(msgs)
}

func (o *udpOut) close() { o.timer.Stop() }

// batchConn is one SFU UDP socket, written through udpOut. It implements
// net.PacketConn and ice.AddrPortReaderWriter for pion's UDP mux.
type batchConn struct {
	conn  *net.UDPConn
	batch interface {
		WriteBatch([]ipv4.Message, int) (int, error)
	}
	out *udpOut

	addrMu sync.Mutex
	addrs  map[netip.AddrPort]*net.UDPAddr
}

var _ net.PacketConn = (*batchConn)(nil)

func newBatchConn(c *net.UDPConn, out *udpOut) *batchConn {
	b := &batchConn{conn: c, out: out, addrs: map[netip.AddrPort]*net.UDPAddr{}}
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		b.batch = ipv6.NewPacketConn(c)
	} else {
		b.batch = ipv4.NewPacketConn(c)
	}
	return b
}

// udpAddr caches the net.Addr sendmmsg needs per destination.
func (b *batchConn) udpAddr(dst netip.AddrPort) *net.UDPAddr {
	b.addrMu.Lock()
	defer b.addrMu.Unlock()
	a, ok := b.addrs[dst]
	if !ok {
		if len(b.addrs) > 8192 {
			clear(b.addrs)
		}
		a = net.UDPAddrFromAddrPort(dst)
		b.addrs[dst] = a
	}
	return a
}

// writeBatch sends msgs; a message the kernel refuses is dropped, as a
// lost datagram would be, and the rest still go. The first refusal is
// returned.
func (b *batchConn) writeBatch(msgs []ipv4.Message) error {
	var first error
	for len(msgs) > 0 {
		n, err := b.batch.WriteBatch(msgs[:min(len(msgs), batchMax)], 0)
		if err != nil {
			if first == nil {
				first = err
			}
			if gsoRefused(err) && len(msgs[0].OOB) > 0 {
				return first
			}
			n = 1
		}
		msgs = msgs[n:]
	}
	return first
}

func (b *batchConn) ReadFrom(p []byte) (int, net.Addr, error) { return b.conn.ReadFrom(p) }
func (b *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	return b.conn.ReadFromUDPAddrPort(p)
}

func (b *batchConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, errors.New("stream: not a UDP address")
	}
	return b.out.write(b, p, ua.AddrPort())
}

func (b *batchConn) WriteToAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	return b.out.write(b, p, addr)
}

func (b *batchConn) Close() error                       { return b.conn.Close() }
func (b *batchConn) LocalAddr() net.Addr                { return b.conn.LocalAddr() }
func (b *batchConn) SetDeadline(t time.Time) error      { return b.conn.SetDeadline(t) }
func (b *batchConn) SetReadDeadline(t time.Time) error  { return b.conn.SetReadDeadline(t) }
func (b *batchConn) SetWriteDeadline(t time.Time) error { return b.conn.SetWriteDeadline(t) }

// gsoRefused reports an error meaning the kernel or device cannot do UDP
// segmentation offload.
func gsoRefused(err error) bool {
	return errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOPROTOOPT) || errors.Is(err, syscall.EOPNOTSUPP)
}
