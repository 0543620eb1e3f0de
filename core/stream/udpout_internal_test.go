package stream

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"
)

func udpPair(t *testing.T, out *udpOut) (*batchConn, []*net.UDPConn) {
	t.Helper()
	s, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var rs []*net.UDPConn
	for i := 0; i < 2; i++ {
		r, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		rs = append(rs, r)
	}
	return newBatchConn(s, out), rs
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

func datagram(tag byte, n int) []byte { return bytes.Repeat([]byte{tag}, n) }

// expect reads want from r in order, each datagram whole.
func expect(t *testing.T, r *net.UDPConn, want [][]byte) {
	t.Helper()
	buf := make([]byte, 70000)
	for i, w := range want {
		_ = r.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := r.Read(buf)
		if err != nil {
			t.Fatalf("datagram %d of %d: %v", i+1, len(want), err)
		}
		if !bytes.Equal(buf[:n], w) {
			t.Fatalf("datagram %d: got %d bytes starting %x, want %d bytes of %x", i+1, n, buf[0], len(w), w[0])
		}
	}
}

// A held fan-out reaches every viewer whole and in order, whatever the
// mix of sizes (GSO runs need equal sizes, a shorter one only last), with
// and without segmentation offload.
func TestHeldWritesArriveWholeAndInOrder(t *testing.T) {
	for _, gsoOff := range []bool{false, true} {
		out := newUDPOut()
		out.gsoOff = out.gsoOff || gsoOff
		c, rs := udpPair(t, out)
		a, b := addrOf(rs[0]), addrOf(rs[1])
		var wantA, wantB [][]byte
		out.hold()
		for i, n := range []int{1100, 1100, 1100, 600, 1100, 1200, 1200, 40} {
			pa, pb := datagram(byte(i+1), n), datagram(byte(0x40+i), 1300-n/2)
			if _, err := c.WriteToAddrPort(pa, a); err != nil {
				t.Fatal(err)
			}
			if _, err := c.WriteTo(pb, net.UDPAddrFromAddrPort(b)); err != nil {
				t.Fatal(err)
			}
			wantA, wantB = append(wantA, pa), append(wantB, pb)
		}
		// 80 equal datagrams: more than one GSO message may carry.
		for i := 0; i < 80; i++ {
			p := datagram(byte(0x80+i), 1000)
			_, _ = c.WriteToAddrPort(p, a)
			wantA = append(wantA, p)
		}
		out.release()
		expect(t, rs[0], wantA)
		expect(t, rs[1], wantB)
		out.close()
	}
}

// Datagrams queued under a hold that is never released (a frame whose last
// packet was lost) still leave once the queue goes idle.
func TestIdleQueueIsFlushed(t *testing.T) {
	out := newUDPOut()
	defer out.close()
	c, rs := udpPair(t, out)
	out.hold()
	p := datagram(7, 500)
	if _, err := c.WriteToAddrPort(p, addrOf(rs[0])); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	expect(t, rs[0], [][]byte{p})
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("idle queue sent after %v", d)
	}
	out.release()
	// With no hold open, a write goes straight out.
	q := datagram(8, 300)
	if _, err := c.WriteToAddrPort(q, addrOf(rs[1])); err != nil {
		t.Fatal(err)
	}
	out.mu.Lock()
	queued := len(out.q.entries)
	out.mu.Unlock()
	if queued != 0 {
		t.Errorf("%d datagrams queued with no hold open", queued)
	}
	expect(t, rs[1], [][]byte{q})
}
