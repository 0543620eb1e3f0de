// Package meter turns liveness evidence into billable time for one seat. It is
// a pure state machine: every input carries its own timestamp, nothing here
// reads a clock or does I/O, and the same inputs always give the same output.
//
// # What is billable
//
// A seat is billable while, at the same time, the seat is open AND the model's
// media flows AND the viewer is connected. The result is a list of closed
// half-open intervals [start, end), ordered and never overlapping (touching
// intervals are merged), plus at most one open interval that runs "until now".
//
// # Precision
//
// Times are kept in Unix milliseconds (the stream layer's evidence is no finer
// than a packet, and an interval is 16 bytes, which keeps 20,000 seats cheap).
// Rounding always favours the viewer: a start (seat opened, media flowing,
// viewer connected) is rounded up to the next millisecond, an end (a loss, a
// close, "now") down. Billing floors the total to whole seconds once, at the
// end (BillableSeconds), so a fraction of a second is never billed.
//
// # Ordering and backdating
//
// Gains (SeatOpened, ModelMediaFlowing, ViewerConnected) must arrive in time
// order: a gain earlier than the latest timestamp already accepted is refused
// (errs.Invalid). Losses (ModelMediaStopped, ViewerDisconnected, SeatClosed)
// carry the time of the last evidence, which the stream layer learns only
// after a timeout, so they may be earlier than events already accepted. The
// rule for a loss at time t on side X is:
//
//   - X's presence ends at max(t, X's own since): evidence older than X's own
//     (re)connection contradicts that connection, so the cut never goes before
//     the moment X became present. Time before it is never touched.
//   - Every billable millisecond from that point on is removed: the open
//     interval is ended there, and closed intervals that reach past it (closed
//     meanwhile by the other side's loss and reopened) are trimmed or dropped.
//
// So backdating only ever removes billable time, never adds it. This holds
// across checkpoints too: a loss may trim time that an earlier Snapshot
// recorded as live, in the viewer's favour, so billing must treat checkpointed
// time as an upper bound, never as a floor. SeatClosed may be backdated the
// same way (clamped to the open time), which is how billing ends a seat at the
// exact instant its funding ran out (see WhenBillableReaches).
//
// Every event is checked before anything changes: a refused event (events
// before the seat opens or after it closes, a second "connected", a "stopped"
// for media that was not flowing, an unknown kind, a timestamp out of range)
// returns an errs.Invalid or errs.Conflict error and leaves the meter as it was.
//
// A Meter is not safe for concurrent use; the seat's owner serialises events.
package meter

import (
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

// Interval is a half-open span [StartMs, EndMs) of billable time in Unix
// milliseconds. JSON-friendly for checkpoints and receipts.
type Interval struct {
	StartMs int64 `json:"start_ms"`
	EndMs   int64 `json:"end_ms"`
}

// Start returns the start as a UTC time.
func (i Interval) Start() time.Time { return time.UnixMilli(i.StartMs).UTC() }

// End returns the (excluded) end as a UTC time.
func (i Interval) End() time.Time { return time.UnixMilli(i.EndMs).UTC() }

// Duration returns End-Start.
func (i Interval) Duration() time.Duration {
	return time.Duration(i.EndMs-i.StartMs) * time.Millisecond
}

// Phase is where the seat is in its life.
type Phase uint8

const (
	Pending Phase = iota // created, not opened: only SeatOpened is accepted
	Open                 // opened: liveness events are accepted
	Closed               // closed: nothing is accepted any more
)

var phaseNames = [...]string{Pending: "pending", Open: "open", Closed: "closed"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "phase(?)"
}

// MarshalText writes the phase as its name, so checkpoints read well.
func (p Phase) MarshalText() ([]byte, error) {
	if int(p) >= len(phaseNames) {
		return nil, errs.E(errs.Invalid, "unknown meter phase %d", uint8(p))
	}
	return []byte(phaseNames[p]), nil
}

// UnmarshalText reads a phase name.
func (p *Phase) UnmarshalText(b []byte) error {
	for i, n := range phaseNames {
		if string(b) == n {
			*p = Phase(i)
			return nil
		}
	}
	return errs.E(errs.Invalid, "unknown meter phase %q", b)
}

// Kind names a liveness event.
type Kind uint8

const (
	SeatOpened         Kind = iota + 1 // At: when the seat opened
	SeatClosed                         // At: when the seat ended (may be backdated)
	ModelMediaFlowing                  // At: the first packet after a gap
	ModelMediaStopped                  // At: the last packet seen, not when the timeout fired
	ViewerConnected                    // At: when video first reached the viewer (or its connection came back)
	ViewerDisconnected                 // At: the last evidence of the viewer, not when the timeout fired
)

var kindNames = [...]string{
	SeatOpened: "seat_opened", SeatClosed: "seat_closed",
	ModelMediaFlowing: "model_media_flowing", ModelMediaStopped: "model_media_stopped",
	ViewerConnected: "viewer_connected", ViewerDisconnected: "viewer_disconnected",
}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(?)"
}

// Event is one input to the meter.
type Event struct {
	Kind Kind
	At   time.Time
}

// The accepted timestamp range: the Unix epoch to the end of year 9999. It
// keeps every sum of milliseconds far from overflowing.
const (
	minMs = 0
	maxMs = 253402300799999
)

type side struct {
	present bool
	since   int64 // when it became present (ms); meaningful while present
}

// Meter is one seat's meter. The zero value is a Pending meter, ready for
// SeatOpened.
type Meter struct {
	phase     Phase
	openedAt  int64
	closedAt  int64
	model     side
	viewer    side
	liveSince int64 // start of the open interval; meaningful while live()
	lastAt    int64 // latest accepted timestamp: gains may not precede it
	total     int64 // ms in intervals, so BillableDuration is O(1)
	intervals []Interval
}

// New returns a Pending meter.
func New() *Meter { return &Meter{} }

// Apply feeds one event. On error nothing changed.
func (m *Meter) Apply(e Event) error {
	if e.At.IsZero() {
		return errs.E(errs.Invalid, "meter: %v without a timestamp", e.Kind)
	}
	if ms := e.At.UnixMilli(); ms < minMs || ms > maxMs {
		return errs.E(errs.Invalid, "meter: %v at %v is outside 1970..9999", e.Kind, e.At)
	}
	switch e.Kind {
	case SeatOpened:
		return m.open(ceilMs(e.At))
	case SeatClosed:
		return m.close(floorMs(e.At))
	case ModelMediaFlowing:
		return m.gain(&m.model, e.Kind, ceilMs(e.At))
	case ViewerConnected:
		return m.gain(&m.viewer, e.Kind, ceilMs(e.At))
	case ModelMediaStopped:
		return m.lose(&m.model, e.Kind, floorMs(e.At))
	case ViewerDisconnected:
		return m.lose(&m.viewer, e.Kind, floorMs(e.At))
	}
	return errs.E(errs.Invalid, "meter: unknown event kind %d", uint8(e.Kind))
}

// SeatOpened is Apply(Event{SeatOpened, at}).
func (m *Meter) SeatOpened(at time.Time) error { return m.Apply(Event{SeatOpened, at}) }

// SeatClosed is Apply(Event{SeatClosed, at}).
func (m *Meter) SeatClosed(at time.Time) error { return m.Apply(Event{SeatClosed, at}) }

// ModelMediaFlowing is Apply(Event{ModelMediaFlowing, at}).
func (m *Meter) ModelMediaFlowing(at time.Time) error {
	return m.Apply(Event{ModelMediaFlowing, at})
}

// ModelMediaStopped is Apply(Event{ModelMediaStopped, lastPacketAt}).
func (m *Meter) ModelMediaStopped(lastPacketAt time.Time) error {
	return m.Apply(Event{ModelMediaStopped, lastPacketAt})
}

// ViewerConnected is Apply(Event{ViewerConnected, at}).
func (m *Meter) ViewerConnected(at time.Time) error { return m.Apply(Event{ViewerConnected, at}) }

// ViewerDisconnected is Apply(Event{ViewerDisconnected, lastEvidenceAt}).
func (m *Meter) ViewerDisconnected(lastEvidenceAt time.Time) error {
	return m.Apply(Event{ViewerDisconnected, lastEvidenceAt})
}

func (m *Meter) open(at int64) error {
	if m.phase != Pending {
		return errs.E(errs.Conflict, "meter: seat_opened but the seat is already %v", m.phase)
	}
	if at < m.lastAt {
		return outOfOrder(SeatOpened, at, m.lastAt)
	}
	m.phase, m.openedAt, m.lastAt = Open, at, at
	return nil
}

func (m *Meter) gain(s *side, k Kind, at int64) error {
	if err := m.requireOpen(k); err != nil {
		return err
	}
	if s.present {
		return errs.E(errs.Conflict, "meter: %v twice without a loss in between", k)
	}
	if at < m.lastAt {
		return outOfOrder(k, at, m.lastAt)
	}
	s.present, s.since, m.lastAt = true, at, at
	if m.live() {
		m.startLive(at)
	}
	return nil
}

func (m *Meter) lose(s *side, k Kind, at int64) error {
	if err := m.requireOpen(k); err != nil {
		return err
	}
	if !s.present {
		return errs.E(errs.Conflict, "meter: %v but it was not live", k)
	}
	cut := max(at, s.since)
	wasLive := m.live()
	s.present, s.since = false, 0
	m.lastAt = max(m.lastAt, cut)
	m.cutFrom(cut, wasLive)
	return nil
}

func (m *Meter) close(at int64) error {
	if err := m.requireOpen(SeatClosed); err != nil {
		return err
	}
	cut := max(at, m.openedAt)
	wasLive := m.live()
	m.phase, m.closedAt = Closed, cut
	m.lastAt = max(m.lastAt, cut)
	m.cutFrom(cut, wasLive)
	return nil
}

func (m *Meter) requireOpen(k Kind) error {
	switch m.phase {
	case Pending:
		return errs.E(errs.Conflict, "meter: %v before the seat opened", k)
	case Closed:
		return errs.E(errs.Conflict, "meter: %v after the seat closed", k)
	}
	return nil
}

func (m *Meter) live() bool { return m.phase == Open && m.model.present && m.viewer.present }

// startLive opens the live interval at `at`, continuing the last closed
// interval when it ended exactly there, so intervals never touch.
func (m *Meter) startLive(at int64) {
	if n := len(m.intervals); n > 0 && m.intervals[n-1].EndMs == at {
		last := m.intervals[n-1]
		m.total -= last.EndMs - last.StartMs
		m.intervals = m.intervals[:n-1]
		m.liveSince = last.StartMs
		return
	}
	m.liveSince = at
}

// cutFrom removes every billable millisecond at or after cut: it ends the
// open interval there (wasLive) and trims closed intervals that reach past it.
func (m *Meter) cutFrom(cut int64, wasLive bool) {
	if wasLive {
		if end := max(cut, m.liveSince); end > m.liveSince {
			m.intervals = append(m.intervals, Interval{m.liveSince, end})
			m.total += end - m.liveSince
		}
		m.liveSince = 0
	}
	for n := len(m.intervals); n > 0; n-- {
		last := &m.intervals[n-1]
		if last.EndMs <= cut {
			return
		}
		if last.StartMs < cut {
			m.total -= last.EndMs - cut
			last.EndMs = cut
			return
		}
		m.total -= last.EndMs - last.StartMs
		m.intervals = m.intervals[:n-1]
	}
}

// Phase returns the seat's phase.
func (m *Meter) Phase() Phase { return m.phase }

// Live reports whether the seat is billable right now.
func (m *Meter) Live() bool { return m.live() }

// Present reports which side is there now: the model's media flowing, the
// viewer connected (and seeing it). A paused open seat lacks one or both.
func (m *Meter) Present() (model, viewer bool) { return m.model.present, m.viewer.present }

// BillableSecondsBefore is BillableSeconds counting only the billable time
// before t, floored to whole seconds (t is rounded down to the millisecond).
// Time before a horizon that no loss may be backdated past is final: billing
// shows it as billed so far (see billing.LiveSeat).
func (m *Meter) BillableSecondsBefore(t time.Time) int64 {
	h := clampMs(floorMs(t))
	var ms int64
	for _, iv := range m.intervals {
		if iv.StartMs >= h {
			break
		}
		ms += min(iv.EndMs, h) - iv.StartMs
	}
	if m.live() && m.liveSince < h {
		ms += h - m.liveSince
	}
	return ms / 1000
}

// LastEventAt returns the latest accepted timestamp (zero time if none).
func (m *Meter) LastEventAt() time.Time {
	if m.phase == Pending {
		return time.Time{}
	}
	return time.UnixMilli(m.lastAt).UTC()
}

// Intervals returns a copy of the closed live intervals, oldest first.
func (m *Meter) Intervals() []Interval {
	out := make([]Interval, len(m.intervals))
	copy(out, m.intervals)
	return out
}

// OpenSince returns the start of the open interval, if the seat is live.
func (m *Meter) OpenSince() (time.Time, bool) {
	if !m.live() {
		return time.Time{}, false
	}
	return time.UnixMilli(m.liveSince).UTC(), true
}

// PausedSince returns since when an open seat has not been billable: the end
// of its last live interval, or its open time if it never was live. The
// maximum-pause rule is the engine's; the meter only reports. ok is false when
// the seat is live, pending or closed.
func (m *Meter) PausedSince() (t time.Time, ok bool) {
	if m.phase != Open || m.live() {
		return time.Time{}, false
	}
	if n := len(m.intervals); n > 0 {
		return time.UnixMilli(m.intervals[n-1].EndMs).UTC(), true
	}
	return time.UnixMilli(m.openedAt).UTC(), true
}

// BillableDuration returns the billable time up to now: every closed interval
// plus the open one up to now (not before its start). A closed seat ignores now.
func (m *Meter) BillableDuration(now time.Time) time.Duration {
	ms := m.total
	if m.live() {
		ms += max(0, clampMs(floorMs(now))-m.liveSince)
	}
	return time.Duration(ms) * time.Millisecond
}

// BillableSeconds is BillableDuration floored to whole seconds: what billing
// prices. A started second is never billed.
func (m *Meter) BillableSeconds(now time.Time) int64 {
	return int64(m.BillableDuration(now) / time.Second)
}

// WhenBillableReaches returns the instant at which billable time reached (or,
// if the seat stays live, will reach) limit. ok is false while the limit is
// not reached and the seat is not live, since then no instant is known. A
// zero limit is reached when the seat opened.
// Billing arms a timer for it and closes the seat there, backdated if the
// timer ran late, so a seat is never billable beyond its funding.
func (m *Meter) WhenBillableReaches(limit time.Duration) (at time.Time, ok bool) {
	if m.phase == Pending {
		return time.Time{}, false
	}
	need := ceilDurationMs(max(limit, 0))
	if need == 0 {
		return time.UnixMilli(m.openedAt).UTC(), true
	}
	var acc int64
	for _, iv := range m.intervals {
		if n := iv.EndMs - iv.StartMs; acc+n >= need {
			return time.UnixMilli(iv.StartMs + need - acc).UTC(), true
		}
		acc += iv.EndMs - iv.StartMs
	}
	if m.live() {
		if end := m.liveSince + need - acc; end <= maxMs {
			return time.UnixMilli(end).UTC(), true
		}
	}
	return time.Time{}, false
}

func outOfOrder(k Kind, at, last int64) error {
	return errs.E(errs.Invalid, "meter: %v at %v is earlier than the last accepted event at %v",
		k, time.UnixMilli(at).UTC(), time.UnixMilli(last).UTC())
}

func floorMs(t time.Time) int64 { return t.UnixMilli() }

func ceilMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++
	}
	return ms
}

func clampMs(ms int64) int64 { return min(max(ms, minMs), maxMs) }

func ceilDurationMs(d time.Duration) int64 {
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		ms++
	}
	return ms
}
