package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/camkit/camkit/core/stream"
)

type seatStateJSON struct {
	Open            bool       `json:"open"`
	Billing         bool       `json:"billing"`
	PauseReason     string     `json:"pause_reason"`
	EndsAt          *time.Time `json:"ends_at"`
	OpenedAt        time.Time  `json:"opened_at"`
	BillableSeconds int64      `json:"billable_seconds"`
	Policy          struct {
		MaxPauseSeconds int64 `json:"max_pause_seconds"`
	} `json:"policy"`
}

// Issue 12, item 5: the seat API says why billing is paused (the model's
// media, or the viewer's connection) and when the seat ends by itself, as
// billing sees it, through the host's liveness wiring.
func TestSeatAPISaysWhyBillingIsPausedAndWhenTheSeatEnds(t *testing.T) {
	w := newWorld(t)
	seat := w.openSeat()
	get := func() seatStateJSON {
		var s seatStateJSON
		w.alice.api(http.MethodGet, "/seats/"+seat, nil, "").must(t, http.StatusOK, "seat").json(t, &s)
		return s
	}
	near := func(what string, got *time.Time, want time.Time) {
		t.Helper()
		if got == nil || got.Sub(want).Abs() > time.Second {
			t.Fatalf("%s: ends_at %v, want %v", what, got, want)
		}
	}
	s := get()
	maxPause := time.Duration(s.Policy.MaxPauseSeconds) * time.Second
	if !s.Open || s.Billing || s.PauseReason != "model_media" || maxPause == 0 {
		t.Fatalf("a seat whose model sends nothing: %+v", s)
	}
	near("no media yet", s.EndsAt, s.OpenedAt.Add(maxPause))

	w.app.Shows.Liveness(stream.ModelMediaFlowing{ShowID: w.showID, Since: time.Now()})
	if s = get(); s.Billing || s.PauseReason != "viewer_connection" {
		t.Fatalf("media flows, nothing reached the viewer yet: %+v", s)
	}
	near("waiting for the viewer", s.EndsAt, s.OpenedAt.Add(maxPause))

	w.app.Shows.Liveness(stream.ViewerConnected{ShowID: w.showID, SeatID: seat, At: time.Now()})
	if s = get(); !s.Billing || s.PauseReason != "" || s.EndsAt != nil {
		t.Fatalf("billing: %+v", s)
	}
	time.Sleep(1200 * time.Millisecond)
	last := time.Now().Add(-500 * time.Millisecond)
	w.app.Shows.Liveness(stream.ModelMediaStopped{ShowID: w.showID, LastPacketAt: last, Reason: stream.ReasonTimeout})
	if s = get(); s.Billing || s.PauseReason != "model_media" {
		t.Fatalf("the model's media stopped: %+v", s)
	}
	near("the model's media stopped", s.EndsAt, last.Add(maxPause))
	if s.BillableSeconds != 0 {
		t.Fatalf("%d s billed so far of well under a second of final time", s.BillableSeconds)
	}
}
