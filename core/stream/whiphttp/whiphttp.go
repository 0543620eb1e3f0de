// Package whiphttp mounts core/stream on a fiber app: WHIP ingest and WHEP
// playback (RFC 9725 and the WHEP draft), session PATCH/DELETE, and a small
// server-sent-events feed per show so pages learn "the show went private" or
// "your seat ended". Handlers only parse, call stream.Service and render.
//
// Session URLs are capabilities (RFC 9725 section 4.3). The Location of a
// 201 is a secret of the client that made the offer, and PATCH/DELETE on it
// need the bearer of that offer: the stream key (WHIP), the seat token (a
// paid WHEP seat), or for a viewer who sent none the session token answered
// in the Camkit-Session-Token header. The client learns, besides, a public
// watch id (Camkit-Watch-Id) to follow its own session's events on
// /stream/events/<show>?watch=<id>; the feed itself names no session.
package whiphttp

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/camkit/camkit/core/clientaddr"
	"github.com/camkit/camkit/core/httperror"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/sdk/errs"
)

// Headers of a 201 answer besides RFC 9725's.
const (
	// HeaderSessionToken carries the bearer minted for a session whose offer
	// sent none: PATCH/DELETE need it as Authorization: Bearer.
	HeaderSessionToken = "Camkit-Session-Token"
	// HeaderWatchID carries the session's public watch id, for ?watch= on
	// the events feed. It grants nothing but that session's own events.
	HeaderWatchID = "Camkit-Watch-Id"
	// HeaderReplace: "1" on a WHIP offer is the model's explicit switch of
	// device; without it a publish to a show whose publisher is on air is
	// refused (409), so opening a page never takes the stream from OBS.
	HeaderReplace = "Camkit-Replace-Publisher"
)

// Options configure the adapter. The zero value is usable.
type Options struct {
	// BasePath is the prefix the router is mounted under ("" for the app
	// root), so Location headers point back at this adapter.
	BasePath string
	// MaxBody caps SDP and sdpfrag bodies (default 64 KiB).
	MaxBody int
	// AllowOrigin is sent as Access-Control-Allow-Origin (default "*": WHIP
	// clients and players run on other origins and authenticate by bearer).
	AllowOrigin string
	// ICEServers are advertised with Link rel="ice-server" headers.
	ICEServers []stream.ICEServer
	// Heartbeat is the SSE keep-alive comment interval (default 15 s).
	Heartbeat time.Duration
	// Log receives refused session requests (never a bearer or a session
	// id); nil discards.
	Log *slog.Logger
}

type handler struct {
	svc  stream.Service
	opts Options
}

// Mount adds the routes to r:
//
//	POST   /whip  and  /whip/:key          WHIP offer (key in the path or as Bearer)
//	POST   /whep/:show                     WHEP offer (seat token as Bearer; none for a public show)
//	PATCH  /stream/sessions/:id            trickle ICE, with the session's bearer (ICE restart: 422)
//	DELETE /stream/sessions/:id            end the session, with the session's bearer
//	GET    /stream/events/:show            server-sent events (?watch=<watch id> adds that session's own)
//	OPTIONS on each, for CORS preflight and WHIP discovery
//
// The seat token is read from the Authorization header only, never from the
// query string: the player sends its offers with fetch, which sets headers,
// and a token in a URL ends up in access logs and browser history.
func Mount(r fiber.Router, svc stream.Service, opts Options) {
	if opts.MaxBody <= 0 {
		opts.MaxBody = 64 << 10
	}
	if opts.AllowOrigin == "" {
		opts.AllowOrigin = "*"
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts.BasePath = strings.TrimRight(opts.BasePath, "/")
	h := &handler{svc: svc, opts: opts}
	for _, p := range []string{"/whip", "/whip/:key", "/whep/:show"} {
		r.Options(p, h.preflight("POST, OPTIONS"))
	}
	r.Options("/stream/sessions/:id", h.preflight("PATCH, DELETE, OPTIONS"))
	r.Options("/stream/events/:show", h.preflight("GET, OPTIONS"))
	r.Post("/whip", h.publish)
	r.Post("/whip/:key", h.publish)
	r.Post("/whep/:show", h.subscribe)
	r.Patch("/stream/sessions/:id", h.patch)
	r.Delete("/stream/sessions/:id", h.end)
	r.Get("/stream/events/:show", h.events)
}

func (h *handler) cors(c *fiber.Ctx) {
	c.Set("Access-Control-Allow-Origin", h.opts.AllowOrigin)
	c.Set("Access-Control-Expose-Headers", "Location, ETag, Link, Accept-Patch, Accept-Post, Retry-After, "+HeaderSessionToken+", "+HeaderWatchID)
}

func (h *handler) preflight(methods string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		h.cors(c)
		c.Set("Access-Control-Allow-Methods", methods)
		c.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match, "+HeaderReplace)
		c.Set("Access-Control-Max-Age", "86400")
		if strings.HasPrefix(methods, "POST") {
			c.Set("Accept-Post", "application/sdp")
			h.linkICE(c)
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

// linkICE advertises STUN/TURN servers as RFC 9725 section 4.6 describes.
func (h *handler) linkICE(c *fiber.Ctx) {
	var links []string
	for _, s := range h.opts.ICEServers {
		for _, u := range s.URLs {
			l := fmt.Sprintf("<%s>; rel=\"ice-server\"", u)
			if s.Username != "" {
				l += fmt.Sprintf("; username=%q; credential=%q; credential-type=\"password\"", s.Username, s.Credential)
			}
			links = append(links, l)
		}
	}
	if len(links) > 0 {
		c.Set("Link", strings.Join(links, ", "))
	}
}

// fail renders err as a status and a plain-text reason a person can act on.
func (h *handler) fail(c *fiber.Ctx, status int, format string, args ...any) error {
	h.cors(c)
	c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
	return c.Status(status).SendString(fmt.Sprintf(format, args...) + "\n")
}

// failErr answers err through the host's one table (core/httperror): its
// status, its client-safe message and, for a cap or a retryable outage,
// Retry-After.
func (h *handler) failErr(c *fiber.Ctx, err error) error {
	if ra := httperror.RetryAfterHeader(err); ra != "" {
		c.Set(fiber.HeaderRetryAfter, ra)
	}
	return h.fail(c, httperror.Status(err), "%s", httperror.Message(err))
}

// refusedSession answers a PATCH/DELETE the SFU refused, and logs who tried:
// the client address and why, never the bearer or the session id.
func (h *handler) refusedSession(c *fiber.Ctx, err error) error {
	status := httperror.Status(err)
	if status == fiber.StatusUnauthorized || status == fiber.StatusForbidden || status == fiber.StatusNotFound {
		h.opts.Log.Info("stream: session request refused", "method", c.Method(), "client", clientaddr.String(c),
			"status", status, "reason", httperror.Message(err))
	}
	return h.failErr(c, err)
}

// body checks size and content type before anything is parsed. When ok is
// false the refusal is already rendered and err is what to return.
func (h *handler) body(c *fiber.Ctx, want string) (b []byte, ok bool, err error) {
	b = c.Body()
	if len(b) > h.opts.MaxBody {
		return nil, false, h.fail(c, fiber.StatusRequestEntityTooLarge, "body is %d bytes; the limit is %d", len(b), h.opts.MaxBody)
	}
	ct := c.Get(fiber.HeaderContentType)
	mt, _, perr := mime.ParseMediaType(ct)
	if perr != nil || !strings.EqualFold(mt, want) {
		return nil, false, h.fail(c, fiber.StatusUnsupportedMediaType, "Content-Type must be %s, got %q", want, ct)
	}
	return b, true, nil
}

// bearer is the Authorization: Bearer token, copied (fiber's strings are
// only valid during the request, and the SFU keeps show ids).
func bearer(c *fiber.Ctx) string {
	a := c.Get(fiber.HeaderAuthorization)
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.Clone(strings.TrimSpace(a[7:]))
	}
	return ""
}

// param is a path parameter, unescaped and copied.
func param(c *fiber.Ctx, name string) string {
	v := c.Params(name)
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	return strings.Clone(v)
}

func (h *handler) created(c *fiber.Ctx, s stream.Session) error {
	h.cors(c)
	c.Set(fiber.HeaderLocation, h.opts.BasePath+"/stream/sessions/"+s.ID)
	c.Set(HeaderWatchID, s.WatchID)
	if s.Token != "" {
		c.Set(HeaderSessionToken, s.Token)
	}
	// The answer carries the session's capability: no cache keeps it.
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderETag, s.ETag)
	c.Set("Accept-Patch", "application/trickle-ice-sdpfrag")
	h.linkICE(c)
	c.Set(fiber.HeaderContentType, "application/sdp")
	return c.Status(fiber.StatusCreated).SendString(s.AnswerSDP)
}

func (h *handler) publish(c *fiber.Ctx) error {
	b, ok, err := h.body(c, "application/sdp")
	if !ok {
		return err
	}
	key := param(c, "key")
	if key == "" {
		key = bearer(c)
	}
	if key == "" {
		return h.fail(c, fiber.StatusUnauthorized, "a stream key is required: POST /whip/<key> or Authorization: Bearer <key>")
	}
	ctx := c.UserContext()
	if c.Get(HeaderReplace) == "1" {
		ctx = stream.WithReplacePublisher(ctx)
	}
	s, err := h.svc.Publish(ctx, key, string(b))
	if err != nil {
		return h.failErr(c, err)
	}
	return h.created(c, s)
}

func (h *handler) subscribe(c *fiber.Ctx) error {
	b, ok, err := h.body(c, "application/sdp")
	if !ok {
		return err
	}
	req := stream.SubscribeRequest{ShowID: param(c, "show"), Token: bearer(c), OfferSDP: string(b), Client: clientaddr.Of(c)}
	s, err := h.svc.Subscribe(c.UserContext(), req)
	if errs.CodeOf(err) == errs.Unauthenticated && req.Token != "" {
		// A bearer that is no seat token (a client sending its API session
		// bearer on every request, as HTTP clients do) asks for nothing a
		// visitor does not get: a public show serves it as public. Anything
		// else (a private show, a seat for another show) keeps the first
		// answer, which names the token's fault.
		pub := req
		pub.Token = ""
		if ps, perr := h.svc.Subscribe(c.UserContext(), pub); perr == nil {
			s, err = ps, nil
		}
	}
	if err != nil {
		return h.failErr(c, err)
	}
	return h.created(c, s)
}

func (h *handler) patch(c *fiber.Ctx) error {
	b, ok, err := h.body(c, "application/trickle-ice-sdpfrag")
	if !ok {
		return err
	}
	answer, err := h.svc.Patch(c.UserContext(), param(c, "id"), bearer(c), b)
	if err != nil {
		return h.refusedSession(c, err)
	}
	h.cors(c)
	if len(answer) > 0 {
		c.Set(fiber.HeaderContentType, "application/trickle-ice-sdpfrag")
		return c.Status(fiber.StatusOK).Send(answer)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (h *handler) end(c *fiber.Ctx) error {
	if err := h.svc.End(c.UserContext(), param(c, "id"), bearer(c)); err != nil {
		return h.refusedSession(c, err)
	}
	h.cors(c)
	return c.SendStatus(fiber.StatusOK)
}

// events relays a show's events as server-sent events. The feed is public:
// mode, live and paused name no session. Events about one session (it ended,
// and why) only go to the page naming that session's watch id, which it
// learnt from its own 201; the watch id is not the session URL and opens
// nothing, so it may sit in a query string (EventSource sets no headers).
func (h *handler) events(c *fiber.Ctx) error {
	show := param(c, "show")
	if show == "" {
		return h.fail(c, fiber.StatusNotFound, "no show id given")
	}
	// Copied: fiber's strings point into a buffer reused after the request,
	// and the stream writer runs after it.
	ch, stop := h.svc.Watch(show, strings.Clone(c.Query("watch")))
	h.cors(c)
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	beat := h.opts.Heartbeat
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer stop()
		t := time.NewTicker(beat)
		defer t.Stop()
		if _, err := w.WriteString("retry: 2000\n\n"); err != nil || w.Flush() != nil {
			return
		}
		for {
			select {
			case ev, ok := <-ch:
				if !ok {
					return
				}
				data, _ := json.Marshal(ev)
				if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, data); err != nil {
					return
				}
			case <-t.C:
				if _, err := w.WriteString(": ping\n\n"); err != nil {
					return
				}
			}
			if err := w.Flush(); err != nil {
				return
			}
		}
	})
	return nil
}
