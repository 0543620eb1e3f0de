package meter

import (
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

// SnapshotVersion is the layout version written by Snapshot. Restore refuses
// any other, so a checkpoint is never misread after an upgrade.
const SnapshotVersion = 1

// Snapshot is a meter's whole state, for checkpointing to the database (it
// round-trips through encoding/json) and for resuming or recovering a seat.
type Snapshot struct {
	Version   int        `json:"version"`
	Phase     Phase      `json:"phase"`
	OpenedAt  int64      `json:"opened_at_ms,omitempty"`
	ClosedAt  int64      `json:"closed_at_ms,omitempty"`
	Model     SideState  `json:"model"`
	Viewer    SideState  `json:"viewer"`
	LiveSince int64      `json:"live_since_ms,omitempty"` // start of the open interval; 0 unless live
	LastEvent int64      `json:"last_event_at_ms"`
	Intervals []Interval `json:"intervals"`
	// CheckpointAt is the `now` the snapshot was taken at: the open interval
	// is known to have been live up to here and no further.
	CheckpointAt int64 `json:"checkpoint_at_ms"`
}

// SideState is one side's liveness in a Snapshot.
type SideState struct {
	Present bool  `json:"present"`
	Since   int64 `json:"since_ms,omitempty"`
}

// Snapshot captures the meter at now (the checkpoint time). The snapshot owns
// its intervals; the meter may go on changing.
func (m *Meter) Snapshot(now time.Time) Snapshot {
	return Snapshot{
		Version:      SnapshotVersion,
		Phase:        m.phase,
		OpenedAt:     m.openedAt,
		ClosedAt:     m.closedAt,
		Model:        SideState{m.model.present, m.model.since},
		Viewer:       SideState{m.viewer.present, m.viewer.since},
		LiveSince:    m.liveSince,
		LastEvent:    m.lastAt,
		Intervals:    m.Intervals(),
		CheckpointAt: clampMs(floorMs(now)),
	}
}

// Restore rebuilds a meter from a snapshot so a restarted host resumes the
// seat exactly where it was: applying the same events to the restored meter
// and to the original gives the same results. A snapshot that no meter could
// have produced is refused with errs.Invalid.
func Restore(s Snapshot) (*Meter, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	m := &Meter{
		phase:     s.Phase,
		openedAt:  s.OpenedAt,
		closedAt:  s.ClosedAt,
		model:     side{s.Model.Present, s.Model.Since},
		viewer:    side{s.Viewer.Present, s.Viewer.Since},
		liveSince: s.LiveSince,
		lastAt:    s.LastEvent,
		intervals: append([]Interval(nil), s.Intervals...),
	}
	for _, iv := range m.intervals {
		m.total += iv.EndMs - iv.StartMs
	}
	return m, nil
}

// CloseAtCheckpoint is crash recovery: it restores the snapshot and, if the
// seat was still open, closes it at the snapshot's checkpoint time. Whatever
// happened between the checkpoint and the crash is unknown and is not billed
// (the viewer's favour). A closed or never-opened seat is returned as it was,
// so running recovery twice changes nothing.
func CloseAtCheckpoint(s Snapshot) (*Meter, error) {
	m, err := Restore(s)
	if err != nil {
		return nil, err
	}
	if m.phase == Open {
		if err := m.close(s.CheckpointAt); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (s Snapshot) check() error {
	bad := func(format string, args ...any) error {
		return errs.E(errs.Invalid, "meter snapshot: "+format, args...)
	}
	if s.Version != SnapshotVersion {
		return bad("version %d, want %d", s.Version, SnapshotVersion)
	}
	inRange := func(ms int64) bool { return ms >= minMs && ms <= maxMs }
	if !inRange(s.CheckpointAt) {
		return bad("checkpoint %d out of range", s.CheckpointAt)
	}
	switch s.Phase {
	case Pending:
		if s.OpenedAt != 0 || s.ClosedAt != 0 || s.Model != (SideState{}) || s.Viewer != (SideState{}) ||
			s.LiveSince != 0 || s.LastEvent != 0 || len(s.Intervals) > 0 {
			return bad("a pending seat has no state")
		}
		return nil
	case Open, Closed:
	default:
		return bad("unknown phase %d", uint8(s.Phase))
	}
	if !inRange(s.OpenedAt) || s.LastEvent < s.OpenedAt || s.LastEvent > maxMs {
		return bad("opened at %d, last event at %d", s.OpenedAt, s.LastEvent)
	}
	prevEnd := s.OpenedAt
	for i, iv := range s.Intervals {
		if iv.StartMs < prevEnd || iv.EndMs <= iv.StartMs || iv.EndMs > s.LastEvent {
			return bad("interval %d [%d, %d) is empty, overlaps, or lies outside [opened %d, last event %d]",
				i, iv.StartMs, iv.EndMs, s.OpenedAt, s.LastEvent)
		}
		prevEnd = iv.EndMs
	}
	for name, sd := range map[string]SideState{"model": s.Model, "viewer": s.Viewer} {
		if sd.Present && (sd.Since < s.OpenedAt || sd.Since > s.LastEvent) {
			return bad("%s present since %d, outside [opened %d, last event %d]", name, sd.Since, s.OpenedAt, s.LastEvent)
		}
		if !sd.Present && sd.Since != 0 {
			return bad("%s absent but since %d", name, sd.Since)
		}
	}
	live := s.Phase == Open && s.Model.Present && s.Viewer.Present
	switch {
	case live && (s.LiveSince < prevEnd || s.LiveSince > s.LastEvent):
		return bad("live since %d, before the last interval's end %d or after the last event %d", s.LiveSince, prevEnd, s.LastEvent)
	case !live && s.LiveSince != 0:
		return bad("live since %d but the seat is not live", s.LiveSince)
	}
	if s.Phase == Closed && (s.ClosedAt < s.OpenedAt || s.ClosedAt > s.LastEvent || prevEnd > s.ClosedAt) {
		return bad("closed at %d, outside the seat's life or before its last interval's end %d", s.ClosedAt, prevEnd)
	}
	if s.Phase == Open && s.ClosedAt != 0 {
		return bad("an open seat has a close time %d", s.ClosedAt)
	}
	return nil
}
