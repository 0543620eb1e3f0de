package web

import (
	"context"
	"strings"

	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// Cam2camShows is the part of Shows for cam2cam in private shows (see
// core/shows/cam2cam.go): the viewer's camera, shown to the model alone.
type Cam2camShows interface {
	// Cam2camOffer is the model's cam2cam surcharge per minute; ok is false
	// when she does not offer cam2cam.
	Cam2camOffer(ctx context.Context, modelID string) (surcharge money.Money, ok bool, err error)
	// RequestPrivateWith is RequestPrivate with the viewer's options (cam2cam).
	RequestPrivateWith(ctx context.Context, viewerID, showID string, opt shows.PrivateOptions) (shows.Request, error)
	// Cam2cam is a seat's cam2cam for its viewer or its model (the model's
	// WHEP bearer only for her); ok is false when the seat has none.
	Cam2cam(ctx context.Context, actorID, seatID string) (c shows.Cam2cam, ok bool, err error)
	// Cam2camOfModel is the cam2cam of the model's open seat, if any.
	Cam2camOfModel(ctx context.Context, modelID string) (c shows.Cam2cam, ok bool, err error)
	// RefuseCam2cam stops the viewer's camera for the rest of the seat;
	// its locked price does not change.
	RefuseCam2cam(ctx context.Context, modelID, seatID string) error
}

type (
	// apiCam2cam is a seat's cam2cam as one of its parties reads it.
	apiCam2cam struct {
		Granted            bool        `json:"granted"`
		SurchargePerMinute money.Money `json:"surcharge_per_minute"`
		// WHIPURL is where the seat's viewer publishes her camera, with her
		// seat token as bearer.
		WHIPURL string `json:"whip_url,omitempty"`
		// WHEPURL and Token are the model's player of the viewer's camera.
		WHEPURL string `json:"whep_url,omitempty"`
		Token   string `json:"token,omitempty"`
	}
	requestPrivateBody struct {
		Cam2cam bool `json:"cam2cam"`
	}
	cam2camBody struct {
		// SurchargePerMinute: null (or absent) stops offering cam2cam;
		// {"amount": 0, ...} offers it free.
		SurchargePerMinute *money.Money `json:"surcharge_per_minute"`
	}
	apiCam2camOffer struct {
		Offered            bool         `json:"offered"`
		SurchargePerMinute *money.Money `json:"surcharge_per_minute,omitempty"`
	}
)

// cam2camOf is the seat's cam2cam for actorID. Only the seat's two parties
// see it: anyone else who may read the seat (an admin) reads it without.
func (p *Product) cam2camOf(ctx context.Context, actorID, seatID string) (shows.Cam2cam, bool, error) {
	x, ok, err := p.Shows.Cam2cam(ctx, actorID, seatID)
	if errs.CodeOf(err) == errs.NotFound {
		return shows.Cam2cam{}, false, nil
	}
	return x, ok, err
}

// cam2camJSON is the seat's cam2cam for the signed-in user; nil without one.
func (p *Product) cam2camJSON(c *fiber.Ctx, seatID string) (*apiCam2cam, error) {
	x, ok, err := p.cam2camOf(c.UserContext(), me(c).ID, seatID)
	if err != nil || !ok {
		return nil, err
	}
	out := &apiCam2cam{Granted: x.Granted, SurchargePerMinute: x.SurchargePerMinute}
	switch {
	case x.ModelToken != "":
		out.WHEPURL, out.Token = "/whep/"+x.Room, x.ModelToken
	case x.Granted:
		out.WHIPURL = "/whip"
	}
	return out, nil
}

// seatWithCam2cam is seatJSON with its cam2cam while the seat is open.
func (p *Product) seatWithCam2cam(c *fiber.Ctx, s shows.Seat) (apiSeat, error) {
	out := seatJSON(s, me(c).ID)
	if !s.Open {
		return out, nil
	}
	x, err := p.cam2camJSON(c, s.ID)
	out.Cam2cam = x
	return out, err
}

// cam2camOffer is the model's offer as the API shows it.
func (p *Product) cam2camOffer(ctx context.Context, modelID string) (*money.Money, error) {
	sur, ok, err := p.Shows.Cam2camOffer(ctx, modelID)
	if err != nil || !ok {
		return nil, err
	}
	return &sur, nil
}

func (p *Product) apiSetCam2cam(c *fiber.Ctx) error {
	var b cam2camBody
	if err := decode(c, &b); err != nil {
		return err
	}
	u := me(c)
	m, err := p.Accounts.SetCam2cam(c.UserContext(), u.ID, u.ID, b.SurchargePerMinute)
	if err != nil {
		return err
	}
	return c.JSON(apiCam2camOffer{Offered: m.Cam2camSurcharge != nil, SurchargePerMinute: m.Cam2camSurcharge})
}

func (p *Product) apiStopCam2cam(c *fiber.Ctx) error {
	id, err := param(c, "seat")
	if err != nil {
		return err
	}
	if err := p.Shows.RefuseCam2cam(c.UserContext(), me(c).ID, id); err != nil {
		return err
	}
	return c.JSON(apiOK{OK: true})
}

// cam2camChoice reads the model's answer to a cam2cam ask (?cam2cam=, the
// dashboard form's cam2cam field): refused unless she grants it.
func cam2camChoice(v string, opt *shows.AcceptOptions) error {
	switch v {
	case "", "refuse":
	case "grant":
		opt.Cam2cam = true
	default:
		return invalid("cam2cam", "want grant or refuse")
	}
	return nil
}

// cam2camDashboard puts the model's cam2cam offer and, while her private
// show has cam2cam, the viewer's camera on her dashboard.
func (p *Product) cam2camDashboard(ctx context.Context, page *theme.ModelDashboardPage, offer *money.Money) error {
	page.Cam2camSurcharge, page.Cam2camAction = offer, "/dashboard/cam2cam"
	x, ok, err := p.Shows.Cam2camOfModel(ctx, page.Model.ID)
	if err != nil || !ok || !x.Granted {
		return err
	}
	viewer := ""
	if s, err := p.Shows.Seat(ctx, page.Model.ID, x.SeatID); err == nil {
		viewer = s.ViewerName
	}
	page.Cam2cam = &theme.Cam2camPlayer{Viewer: viewer, PlayerURL: "/whep/" + x.Room, Token: x.ModelToken,
		StopAction: "/dashboard/seats/" + x.SeatID + "/cam2cam/stop"}
	return nil
}

// setCam2cam is the dashboard's cam2cam form: empty or "off" stops offering
// it, an amount (0 is free) offers it at that surcharge a minute.
func (p *Product) setCam2cam(c *fiber.Ctx) error {
	var sur *money.Money
	if v := strings.TrimSpace(c.FormValue("surcharge")); v != "" && !strings.EqualFold(v, "off") {
		m, err := parseAmount("surcharge", v, p.Accounts.Currency())
		if err != nil {
			return p.formFailed(c, "/dashboard", err)
		}
		sur = &m
	}
	u := me(c)
	if _, err := p.Accounts.SetCam2cam(c.UserContext(), u.ID, u.ID, sur); err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	if sur == nil {
		return back(c, "/dashboard", theme.FlashSuccess, "Cam2cam is no longer offered in shows that start from now on.")
	}
	return back(c, "/dashboard", theme.FlashSuccess, "Cam2cam is offered at %s a minute on top of your rate, for shows that start from now on.", display(*sur))
}

func (p *Product) stopCam2cam(c *fiber.Ctx) error {
	id, err := param(c, "seat")
	if err != nil {
		return err
	}
	if err := p.Shows.RefuseCam2cam(c.UserContext(), me(c).ID, id); err != nil {
		return p.formFailed(c, "/dashboard", err)
	}
	return back(c, "/dashboard", theme.FlashInfo, "The viewer's camera is off for the rest of this show; its price stays as it was agreed.")
}
