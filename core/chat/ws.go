package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/camkit/camkit/core/httperror"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
)

// HandlerOptions configure the WebSocket endpoint.
type HandlerOptions struct {
	// Identify returns the signed-in member of the upgrade request (resolved
	// by the web layer's session middleware); false for an anonymous reader.
	Identify func(c *fiber.Ctx) (Member, bool)
	// CanJoin refuses a room to someone (a private show's room to all but its
	// seat holders); nil lets everyone read.
	CanJoin func(c *fiber.Ctx, showID string) error
	// Origins are the allowed Origin headers besides the request's own host
	// (cross-site WebSocket hijacking rides on cookies; browsers always send
	// Origin). A request without Origin is not from a browser and passes.
	Origins []string
	// HistoryOnJoin is how many recent messages the hello frame carries
	// (default 50).
	HistoryOnJoin int
}

// Limits of the WebSocket protocol.
const (
	// MaxFrameBytes caps an incoming frame; a bigger one closes the
	// connection with 1009 (message too big) before it is read whole.
	MaxFrameBytes = 4096
	writeWait     = 10 * time.Second
	pongWait      = 60 * time.Second
	pingEvery     = 25 * time.Second
	// maxStrikes bad or flooding frames in a row close the connection (1008).
	maxStrikes = 20
)

type inbound struct {
	Type     string `json:"type"` // message | tip
	Text     string `json:"text"`
	TipID    string `json:"tip_id"`
	Amount   string `json:"amount"` // decimal, major units
	Currency string `json:"currency"`
}

const (
	localMember = "camkit.chat.member"
	localShow   = "camkit.chat.show"
)

// Handler serves GET <route with :show> as the room's WebSocket, e.g.
// app.Get("/ws/chat/:show", chat.Handler(...)).
func (s *Service) Handler(o HandlerOptions) fiber.Handler {
	if o.HistoryOnJoin <= 0 {
		o.HistoryOnJoin = 50
	}
	ws := websocket.New(func(conn *websocket.Conn) { s.serve(conn, o) }, websocket.Config{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   MaxFrameBytes,
		WriteBufferSize:  4096,
		RecoverHandler: func(conn *websocket.Conn) {
			if r := recover(); r != nil {
				s.log.Error("chat connection panicked", "panic", r)
			}
		},
	})
	return func(c *fiber.Ctx) error {
		if !websocket.IsWebSocketUpgrade(c) {
			return fiber.NewError(fiber.StatusUpgradeRequired, "this is the chat WebSocket: connect with a WebSocket client")
		}
		// fiber's strings point into a buffer reused after the handler: copy.
		show := strings.Clone(c.Params("show"))
		// Plain fiber errors here: this endpoint answers the same whatever
		// error handler the app has.
		if err := checkShowID(show); err != nil {
			return fiber.NewError(httperror.Status(err), httperror.Message(err))
		}
		if origin := c.Get(fiber.HeaderOrigin); origin != "" && !originAllowed(origin, c.Hostname(), o.Origins) {
			return fiber.NewError(fiber.StatusForbidden, "chat: origin "+strings.Clone(origin)+" is not allowed")
		}
		var m Member
		if o.Identify != nil {
			if got, ok := o.Identify(c); ok {
				m = Member{UserID: strings.Clone(got.UserID), Name: strings.Clone(got.Name), Role: got.Role}
			}
		}
		if o.CanJoin != nil {
			if err := o.CanJoin(c, show); err != nil {
				return fiber.NewError(httperror.Status(err), httperror.Message(err))
			}
		}
		c.Locals(localMember, m)
		c.Locals(localShow, show)
		return ws(c)
	}
}

func originAllowed(origin, host string, allowed []string) bool {
	for _, a := range allowed {
		if a == origin {
			return true
		}
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// serve runs one connection: the writer in its own goroutine, the reader here.
func (s *Service) serve(conn *websocket.Conn, o HandlerOptions) {
	m, _ := conn.Locals(localMember).(Member)
	show, _ := conn.Locals(localShow).(string)
	r := s.room(show)
	c := &client{member: m, send: make(chan *fws.PreparedMessage, s.o.SendQueue), done: make(chan struct{})}

	hello := Frame{Type: "hello"}
	if m.UserID != "" {
		hello.Member = &m
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	hist, err := s.History(ctx, show, o.HistoryOnJoin)
	cancel()
	if err != nil {
		s.log.Warn("chat history unavailable on join", "show", show, "err", err)
	}
	hello.History = hist
	c.offer(prepare(hello))
	r.join(c)
	defer r.leave(c)

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.write(conn, c)
	}()

	conn.SetReadLimit(MaxFrameBytes)
	_ = conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
	strikes := 0
	for {
		kind, data, err := conn.ReadMessage()
		if err != nil {
			// Oversized frames end here too: the library has sent 1009.
			c.drop("read: " + err.Error())
			break
		}
		_ = conn.SetReadDeadline(time.Now().Add(pongWait))
		if kind != websocket.TextMessage {
			c.closeWith(websocket.CloseUnsupportedData, "text frames only")
			c.drop("binary frame")
			break
		}
		if s.handle(c, show, data) {
			strikes = 0
		} else if strikes++; strikes >= maxStrikes {
			c.closeWith(websocket.ClosePolicyViolation, "too many refused messages")
			c.drop("too many refused frames")
			break
		}
	}
	<-writerDone
}

// closeCode carries a close frame to the writer, which sends it last.
type closeCode struct {
	code int
	text string
}

func (c *client) closeWith(code int, text string) { c.bye.Store(&closeCode{code, text}) }

// write sends queued frames and pings until the client is dropped.
func (s *Service) write(conn *websocket.Conn, c *client) {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	defer conn.Close()
	for {
		select {
		case pm := <-c.send:
			_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := conn.WritePreparedMessage(pm); err != nil {
				c.drop("write: " + err.Error())
				return
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.drop("ping: " + err.Error())
				return
			}
		case <-c.done:
			code, text := websocket.CloseGoingAway, "bye"
			slow := false
			if cc := c.bye.Load(); cc != nil {
				code, text = cc.code, cc.text
			} else if why := c.why.Load(); why != nil && strings.HasPrefix(*why, "too slow") {
				code, text = websocket.ClosePolicyViolation, "too slow to keep up with the room"
				slow = true
			}
			if !slow {
				// Frames queued before the drop (the "show ended" notice of
				// CloseRoom) go out before the close frame; select would
				// otherwise pick done and send nothing of them.
				s.flush(conn, c)
			}
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
			return
		}
	}
}

// flush writes what is already queued, without waiting for more.
func (s *Service) flush(conn *websocket.Conn, c *client) {
	for {
		select {
		case pm := <-c.send:
			_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := conn.WritePreparedMessage(pm); err != nil {
				return
			}
		default:
			return
		}
	}
}

// handle acts on one frame and reports whether it was accepted.
func (s *Service) handle(c *client, show string, data []byte) bool {
	fr, ref, err := decodeFrame(data)
	if err != nil {
		c.offer(errorFrame(ref, err))
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if fr.Tip == nil {
		if _, err := s.Post(ctx, show, c.member, fr.Text); err != nil {
			c.offer(errorFrame("", err))
			return false
		}
		return true
	}
	if _, err := s.Tip(ctx, show, c.member, *fr.Tip); err != nil {
		c.offer(errorFrame(fr.Tip.TipID, err))
		return false
	}
	c.offer(prepare(Frame{Type: "ack", Ref: fr.Tip.TipID}))
	return true
}

// clientFrame is a decoded client frame: a message's text, or a tip.
type clientFrame struct {
	Text string      // a message (Tip == nil)
	Tip  *TipRequest // a tip, its amount read exactly
}

// decodeFrame reads one client frame strictly: at most MaxFrameBytes, one
// JSON object of the inbound shape and nothing after it, no unknown field, a
// known type, and for a tip a decimal amount in major units of its currency.
// A refusal is errs.Invalid; ref is the tip id to answer it under, if any.
func decodeFrame(data []byte) (fr clientFrame, ref string, err error) {
	malformed := errs.E(errs.Invalid, "malformed frame: want JSON like {\"type\":\"message\",\"text\":\"hi\"}")
	if len(data) > MaxFrameBytes {
		return clientFrame{}, "", errs.E(errs.Invalid, "a frame is at most %d bytes", MaxFrameBytes)
	}
	var in inbound
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return clientFrame{}, "", malformed
	}
	if _, err := dec.Token(); err != io.EOF {
		return clientFrame{}, "", malformed // one frame, one object: nothing rides along
	}
	switch in.Type {
	case "message":
		return clientFrame{Text: in.Text}, "", nil
	case "tip":
		amt, err := money.ParseDecimal(strings.TrimSpace(in.Amount), in.Currency)
		if err != nil {
			return clientFrame{}, in.TipID, errs.E(errs.Invalid, "tip amount %q %s: %v", in.Amount, in.Currency, err)
		}
		return clientFrame{Tip: &TipRequest{TipID: in.TipID, Amount: amt, Text: in.Text}}, in.TipID, nil
	}
	return clientFrame{}, "", errs.E(errs.Invalid, "unknown frame type %q: want message or tip", in.Type)
}

func errorFrame(ref string, err error) *fws.PreparedMessage {
	// People read Error: the host's one client-safe message, never an
	// internal one (a database's or a plugin's words stay in the log).
	f := Frame{Type: "error", Ref: ref, Code: string(errs.CodeOf(err)), Error: httperror.Message(err)}
	var fl *FloodError
	if errors.As(err, &fl) {
		f.Code, f.RetryAfterMS = "flood", fl.After.Milliseconds()
	}
	return prepare(f)
}
