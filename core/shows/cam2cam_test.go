package shows_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/core/stream/streamtest"
	"github.com/camkit/camkit/core/stream/whiphttp"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

// c2cHost is the lifecycle with a real SFU behind whiphttp, the model on
// air publishing (a pion publisher) and a cam2cam surcharge on her profile.
type c2cHost struct {
	*lifecycle
	sfu  *stream.SFU
	url  string
	show string
	key  string // her stream key, read once when it was made
}

func newC2CHost(t *testing.T, ctx context.Context, surcharge *money.Money) *c2cHost {
	l := newLifecycle(t)
	h := &c2cHost{lifecycle: l}
	l.media = func(adm stream.Admission, lv stream.LivenessSink) (shows.Media, error) {
		var err error
		h.sfu, err = stream.New(stream.Config{Admission: adm, Liveness: lv, MediaTimeout: time.Second})
		return h.sfu, err
	}
	l.start()
	t.Cleanup(func() { _ = h.sfu.Close() })
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	whiphttp.Mount(app, h.sfu, whiphttp.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	h.url = "http://" + ln.Addr().String()
	if _, err := l.acc.SetCam2cam(ctx, l.model, l.model, surcharge); err != nil {
		t.Fatal(err)
	}
	sh, err := l.svc.GoLive(ctx, l.model)
	if err != nil {
		t.Fatal(err)
	}
	h.show = sh.ID
	h.key = l.keyOf()
	pub, err := streamtest.Publish(ctx, streamtest.HTTPSignal(h.url+"/whip", h.key, nil), streamtest.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	if !streamtest.WaitFor(10*time.Second, func() bool { s, _, _ := l.svc.ShowOfModel(ctx, l.model); return s.Publishing }) {
		t.Fatal("the model's media never flowed")
	}
	return h
}

// private opens Ann's private seat, asking for cam2cam as ask says and the
// model granting it as grant says, and connects Ann's player.
func (h *c2cHost) private(ctx context.Context, ask, grant bool) (shows.Seat, *streamtest.Subscriber) {
	t := h.t
	r, err := h.svc.RequestPrivateWith(ctx, h.viewers["Ann"], h.show, shows.PrivateOptions{Cam2cam: ask})
	if err != nil {
		t.Fatal(err)
	}
	if r.Cam2cam != ask {
		t.Fatalf("request cam2cam = %v, asked %v", r.Cam2cam, ask)
	}
	seat, err := h.svc.Accept(ctx, h.model, r.ID, shows.AcceptOptions{Cam2cam: grant})
	if err != nil {
		t.Fatal(err)
	}
	v, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(h.url+"/whep/"+h.show, seat.Token, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	if !streamtest.WaitFor(15*time.Second, func() bool { s, _ := h.svc.Seat(ctx, h.viewers["Ann"], seat.ID); return s.Billing }) {
		t.Fatal("the seat never started billing")
	}
	return seat, v
}

func (h *c2cHost) whip(ctx context.Context, bearer string) (*streamtest.Publisher, int) {
	p, err := streamtest.Publish(ctx, streamtest.HTTPSignal(h.url+"/whip", bearer, nil), streamtest.PublisherOptions{})
	st, _ := httpStatus(err)
	if err != nil && st == 0 {
		h.t.Fatalf("whip: %v", err)
	}
	return p, st
}

func (h *c2cHost) whep(ctx context.Context, room, bearer string) (*streamtest.Subscriber, int) {
	s, err := streamtest.Subscribe(ctx, streamtest.HTTPSignal(h.url+"/whep/"+room, bearer, nil))
	st, _ := httpStatus(err)
	if err != nil && st == 0 {
		h.t.Fatalf("whep: %v", err)
	}
	return s, st
}

func TestCam2cam_ViewerCameraReachesOnlyTheModelAndTheSurchargeIsLockedOnTheSeat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	sur := usd(150)
	h := newC2CHost(t, ctx, &sur)
	if got, ok, err := h.svc.Cam2camOffer(ctx, h.model); err != nil || !ok || got != sur {
		t.Fatalf("offer: %v %v %v", got, ok, err)
	}
	seat, _ := h.private(ctx, true, true)
	// One rate, locked at the seat: hers (2.00) plus the surcharge (1.50).
	if seat.Policy.RatePerMinute != usd(350) || seat.Policy.Cam2camSurchargePerMinute != sur {
		t.Fatalf("locked policy: %+v", seat.Policy)
	}
	room := shows.Cam2camRoom(seat.ID)

	// The viewer publishes her camera with her seat token.
	cam, st := h.whip(ctx, seat.Token)
	if st != 0 {
		t.Fatalf("the seat's viewer publishing cam2cam: HTTP %d", st)
	}
	defer cam.Close()
	// The room is private in the SFU from the start: core/thumbnail takes
	// pictures of public rooms only, and no visitor is let in.
	if ss, ok := h.sfu.ShowState(room); !ok || ss.Mode != stream.ModePrivate || !ss.Publisher {
		t.Fatalf("camera room state: %+v %v", ss, ok)
	}

	// The model plays it with the bearer only her side is given.
	c, ok, err := h.svc.Cam2cam(ctx, h.model, seat.ID)
	if err != nil || !ok || c.ModelToken == "" || c.Room != room || c.SurchargePerMinute != sur {
		t.Fatalf("model's cam2cam: %+v %v %v", c, ok, err)
	}
	if vc, _, _ := h.svc.Cam2cam(ctx, h.viewers["Ann"], seat.ID); vc.ModelToken != "" || !vc.Granted {
		t.Fatalf("the viewer's view of cam2cam: %+v", vc)
	}
	if _, _, err := h.svc.Cam2cam(ctx, h.viewers["Bob"], seat.ID); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("a stranger reads the seat's cam2cam: %v", err)
	}
	model, st := h.whep(ctx, room, c.ModelToken)
	if st != 0 {
		t.Fatalf("the model's player: HTTP %d", st)
	}
	defer model.Close()
	if !streamtest.WaitFor(15*time.Second, func() bool { return model.Video.Keyframes.Load() > 0 && model.Audio.Packets.Load() > 0 }) {
		t.Fatal("the model receives none of the viewer's RTP")
	}

	// Everyone else is refused the camera room with 403: a public visitor,
	// the seat's own token, the model's stream key, a forged bearer.
	for name, bearer := range map[string]string{"public visitor": "", "seat token": seat.Token, "stream key": h.key, "forged": "c2m_00000000000000000000000000000000000000000000000"} {
		if _, st := h.whep(ctx, room, bearer); st != http.StatusForbidden {
			t.Errorf("%s plays the viewer's camera: HTTP %d, want 403", name, st)
		}
	}

	// Losing the viewer's camera does not pause the seat: it is metered on
	// the model's media and the viewer's player only.
	cam.Close()
	if !streamtest.WaitFor(10*time.Second, func() bool { ss, _ := h.sfu.ShowState(room); return !ss.Flowing && !ss.Publisher }) {
		t.Fatal("the camera room still has media")
	}
	time.Sleep(2500 * time.Millisecond) // beyond MediaTimeout, twice
	if s, _ := h.svc.Seat(ctx, h.viewers["Ann"], seat.ID); !s.Billing || s.PauseReason != "" {
		t.Fatalf("the seat paused on cam2cam loss: billing=%v reason=%q", s.Billing, s.PauseReason)
	}

	end, err := h.svc.EndSeat(ctx, h.viewers["Ann"], seat.ID)
	if err != nil || !end.Settled {
		t.Fatalf("end: %+v %v", end, err)
	}
	rec := end.Receipt
	// One interval over the whole seat: no pause when the camera went.
	if len(rec.Intervals) != 1 || rec.BillableSeconds < int64(rec.ClosedAt.Sub(rec.OpenedAt).Seconds())-1 || rec.BillableSeconds < 2 {
		t.Fatalf("billable seconds %d: the seat did not bill through the camera loss: %+v opened %v closed %v", rec.BillableSeconds, rec.Intervals, rec.OpenedAt, rec.ClosedAt)
	}
	want, err := pricing.Price(rec.Policy, rec.BillableSeconds)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Policy.RatePerMinute != usd(350) || rec.Price != want || rec.RatePrice != want {
		t.Fatalf("receipt: rate %v price %v rate price %v, want %v over %d s", rec.Policy.RatePerMinute, rec.Price, rec.RatePrice, want, rec.BillableSeconds)
	}
	base, _ := pricing.Price(rec.Policy.WithoutCam2cam(), rec.BillableSeconds)
	if rec.Cam2cam == nil || rec.Cam2cam.SurchargePerMinute != sur || rec.Cam2cam.Amount.Amount != want.Amount-base.Amount || base.Amount+rec.Cam2cam.Amount.Amount != rec.Price.Amount {
		t.Fatalf("receipt's cam2cam line %+v: want %v of %v", rec.Cam2cam, want.Amount-base.Amount, rec.Price)
	}
	if vr, err := h.svc.Receipt(ctx, h.viewers["Ann"], seat.ID); err != nil || vr.Cam2cam == nil || *vr.Cam2cam != *rec.Cam2cam {
		t.Fatalf("the viewer's receipt does not say the surcharge: %+v %v", vr.Cam2cam, err)
	}

	// Once the seat ended, the camera is refused both ways and its room is gone.
	if _, st := h.whip(ctx, seat.Token); st != http.StatusForbidden {
		t.Fatalf("cam2cam publish after the seat: HTTP %d", st)
	}
	if _, st := h.whep(ctx, room, c.ModelToken); st != http.StatusForbidden {
		t.Fatalf("the model's player after the seat: HTTP %d", st)
	}
	// (The seat's close may finish on billing's event, a moment later.)
	if !streamtest.WaitFor(5*time.Second, func() bool { _, ok := h.sfu.ShowState(room); return !ok }) {
		ss, _ := h.sfu.ShowState(room)
		t.Fatalf("camera room after the seat: %+v", ss)
	}
}

func TestCam2cam_RefusedWhenTheModelDidNotGrantIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sur := usd(100)
	h := newC2CHost(t, ctx, &sur)
	seat, _ := h.private(ctx, true, false)
	if seat.Policy.RatePerMinute != usd(200) || seat.Policy.HasCam2cam() {
		t.Fatalf("a seat without cam2cam locked %+v", seat.Policy)
	}
	if _, st := h.whip(ctx, seat.Token); st != http.StatusForbidden {
		t.Fatalf("cam2cam publish without the grant: HTTP %d, want 403", st)
	}
	if _, st := h.whep(ctx, shows.Cam2camRoom(seat.ID), ""); st != http.StatusForbidden {
		t.Fatalf("the camera room of a seat without cam2cam: HTTP %d", st)
	}
	if _, ok, err := h.svc.Cam2cam(ctx, h.model, seat.ID); ok || err != nil {
		t.Fatalf("cam2cam of a seat without it: %v %v", ok, err)
	}
	end, err := h.svc.EndSeat(ctx, h.model, seat.ID)
	if err != nil || !end.Settled || end.Receipt.Cam2cam != nil {
		t.Fatalf("end: %+v %v", end.Receipt.Cam2cam, err)
	}
}

func TestCam2cam_ModelStopsTheCameraMidSeatAndThePriceStays(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	free := usd(0)
	h := newC2CHost(t, ctx, &free)
	seat, _ := h.private(ctx, true, true)
	// Free cam2cam: the rate is hers, and the seat still says it has cam2cam.
	if seat.Policy.RatePerMinute != usd(200) || !seat.Policy.HasCam2cam() {
		t.Fatalf("free cam2cam locked %+v", seat.Policy)
	}
	cam, st := h.whip(ctx, seat.Token)
	if st != 0 {
		t.Fatalf("publish: HTTP %d", st)
	}
	defer cam.Close()
	if err := h.svc.RefuseCam2cam(ctx, h.viewers["Ann"], seat.ID); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("the viewer refusing for the model: %v", err)
	}
	if err := h.svc.RefuseCam2cam(ctx, h.model, seat.ID); err != nil {
		t.Fatal(err)
	}
	if ss, _ := h.sfu.ShowState(shows.Cam2camRoom(seat.ID)); ss.Publisher {
		t.Fatal("the viewer's camera still publishes after the model stopped it")
	}
	if _, st := h.whip(ctx, seat.Token); st != http.StatusForbidden {
		t.Fatalf("publishing again after the model stopped it: HTTP %d", st)
	}
	if s, _ := h.svc.Seat(ctx, h.viewers["Ann"], seat.ID); s.Policy != seat.Policy || !s.Open {
		t.Fatalf("the seat changed when the camera stopped: %+v", s)
	}
	if _, err := h.svc.EndSeat(ctx, h.model, seat.ID); err != nil {
		t.Fatal(err)
	}
}

func TestCam2cam_AskingWhenTheModelOffersNoneIsRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := newLifecycle(t)
	sh, err := l.svc.GoLive(ctx, l.model)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.svc.Cam2camOffer(ctx, l.model); ok {
		t.Fatal("a model offers cam2cam before she chose to")
	}
	if _, err := l.svc.RequestPrivateWith(ctx, l.viewers["Ann"], sh.ID, shows.PrivateOptions{Cam2cam: true}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("asking for cam2cam she does not offer: %v", err)
	}
	if _, err := l.acc.SetCam2cam(ctx, l.model, l.model, &money.Money{Amount: -1, Currency: "USD"}); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("a negative surcharge: %v", err)
	}
	if _, err := l.acc.SetCam2cam(ctx, l.viewers["Ann"], l.model, &money.Money{Amount: 1, Currency: "USD"}); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("a viewer sets her surcharge: %v", err)
	}
}
