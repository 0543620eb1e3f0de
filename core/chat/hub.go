package chat

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/fasthttp/websocket"
	"gorm.io/gorm"
)

var errNoRows = sql.ErrNoRows

func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.DeadlineExceeded):
		return errs.Retry(errs.Timeout, "chat: %s: %v", what, err)
	case errors.Is(err, context.Canceled):
		return errs.Retry(errs.Unavailable, "chat: %s: %v", what, err)
	case errors.Is(err, sql.ErrNoRows), errors.Is(err, gorm.ErrRecordNotFound):
		return errs.E(errs.NotFound, "chat: %s: not found", what)
	}
	return errs.E(errs.Internal, "chat: %s: %v", what, err)
}

// Frame is one server-to-client WebSocket message (JSON). Type is hello,
// message, tip, system, event, ack or error.
type Frame struct {
	Type    string             `json:"type"`
	Message *theme.ChatMessage `json:"message,omitempty"`
	// TipDisplay is the tip's amount in major units ("5.00"), so the script
	// never does money arithmetic.
	TipDisplay string `json:"tip_display,omitempty"`
	Kind       string `json:"kind,omitempty"` // a system event's or an event's kind
	// Data is an event's payload (Type "event"), plain data.
	Data any `json:"data,omitempty"`
	// Hello: who you are (nil when anonymous) and the recent history.
	Member  *Member             `json:"member,omitempty"`
	History []theme.ChatMessage `json:"history,omitempty"`
	// Ack and error: the client's tip id, if the frame answers a tip.
	Ref          string `json:"ref,omitempty"`
	Code         string `json:"code,omitempty"` // error: an errs code, or "flood"
	Error        string `json:"error,omitempty"`
	RetryAfterMS int64  `json:"retry_after_ms,omitempty"`
}

func prepare(f Frame) *websocket.PreparedMessage {
	b, err := json.Marshal(f) // escapes <, > and & as \u003c...: the bytes hold no markup at all
	if err != nil {
		panic(err) // only plain data
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		panic(err)
	}
	return pm
}

func frameMessage(m theme.ChatMessage) *websocket.PreparedMessage {
	f := Frame{Type: "message", Message: &m}
	if m.Tip != nil {
		f.Type = "tip"
		f.TipDisplay, _ = money.FormatDecimal(*m.Tip)
	}
	return prepare(f)
}

func frameSystem(m theme.ChatMessage, kind string) *websocket.PreparedMessage {
	return prepare(Frame{Type: "system", Message: &m, Kind: kind})
}

// client is one connection's place in a room.
type client struct {
	member Member
	send   chan *websocket.PreparedMessage
	done   chan struct{}
	once   sync.Once
	why    atomic.Pointer[string]    // why it was dropped
	bye    atomic.Pointer[closeCode] // the close frame to send, when not the default
}

func (c *client) drop(why string) {
	c.once.Do(func() {
		c.why.Store(&why)
		close(c.done)
	})
}

// offer queues pm without waiting; a full queue drops the client.
func (c *client) offer(pm *websocket.PreparedMessage) {
	select {
	case c.send <- pm:
	default:
		c.drop("too slow: its send queue filled")
	}
}

type room struct {
	id      string
	mu      sync.Mutex // serialises join/leave; broadcasts read the snapshot
	members map[*client]struct{}
	snap    atomic.Pointer[[]*client]
	inserts atomic.Int64
}

func (s *Service) room(id string) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[id]
	if r == nil {
		r = &room{id: id, members: map[*client]struct{}{}}
		empty := []*client{}
		r.snap.Store(&empty)
		s.rooms[id] = r
	}
	return r
}

func (r *room) join(c *client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.members[c] = struct{}{}
	r.publish()
}

func (r *room) leave(c *client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.members, c)
	r.publish()
}

// publish replaces the snapshot; callers hold mu.
func (r *room) publish() {
	list := make([]*client, 0, len(r.members))
	for c := range r.members {
		list = append(list, c)
	}
	r.snap.Store(&list)
}

// broadcast offers pm to every client (only to user to when set).
func (r *room) broadcast(pm *websocket.PreparedMessage, to string) {
	for _, c := range *r.snap.Load() {
		if to != "" && c.member.UserID != to {
			continue
		}
		c.offer(pm)
	}
}

// Viewers is how many connections a room has now.
func (s *Service) Viewers(showID string) int {
	s.mu.Lock()
	r := s.rooms[showID]
	s.mu.Unlock()
	if r == nil {
		return 0
	}
	return len(*r.snap.Load())
}

// CloseRoom tells a room the show ended and disconnects everyone in it.
func (s *Service) CloseRoom(showID, text string) {
	if text != "" {
		_ = s.Broadcast(showID, SystemEvent{Kind: "show_ended", Text: text})
	}
	s.mu.Lock()
	r := s.rooms[showID]
	delete(s.rooms, showID)
	s.mu.Unlock()
	if r == nil {
		return
	}
	for _, c := range *r.snap.Load() {
		c.drop("the show ended")
	}
}
