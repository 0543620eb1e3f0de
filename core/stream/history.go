package stream

import "sync"

// historySize is how many of a model's video packets are kept for
// viewers' NACKs: about 5 s at 1.5 Mbit/s, longer than any useful
// retransmission.
const historySize = 1024

// history keeps a model's recent packets once, for every viewer: a NACK
// from any of them is answered from here with that viewer's header, so
// fan-out copies nothing per viewer (pion's per-connection NACK
// responder copied every packet for every viewer).
type history struct {
	mu    sync.Mutex
	slots [historySize]histSlot
}

type histSlot struct {
	ok      bool
	seq     uint16
	ts      uint32
	marker  bool
	payload []byte
}

func (h *history) add(seq uint16, ts uint32, marker bool, payload []byte) {
	h.mu.Lock()
	s := &h.slots[int(seq)%historySize]
	s.ok, s.seq, s.ts, s.marker = true, seq, ts, marker
	s.payload = append(s.payload[:0], payload...)
	h.mu.Unlock()
}

// get copies the packet with sequence number seq into buf.
func (h *history) get(seq uint16, buf []byte) (ts uint32, marker bool, payload []byte, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &h.slots[int(seq)%historySize]
	if !s.ok || s.seq != seq {
		return 0, false, nil, false
	}
	return s.ts, s.marker, append(buf[:0], s.payload...), true
}
