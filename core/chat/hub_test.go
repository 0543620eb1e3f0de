package chat

import (
	"testing"

	"github.com/camkit/camkit/sdk/theme"
	fws "github.com/fasthttp/websocket"
)

func TestSlowClientIsDroppedWithoutHoldingUpTheRoom(t *testing.T) {
	r := &room{id: "s", members: map[*client]struct{}{}}
	r.publish()
	slow := &client{member: Member{UserID: "slow"}, send: make(chan *fws.PreparedMessage, 2), done: make(chan struct{})}
	fast := &client{member: Member{UserID: "fast"}, send: make(chan *fws.PreparedMessage, 64), done: make(chan struct{})}
	r.join(slow)
	r.join(fast)
	for i := 0; i < 10; i++ { // nobody reads slow's queue; broadcast must not wait for it
		r.broadcast(frameMessage(theme.ChatMessage{ID: "m", Text: "x"}), "")
	}
	select {
	case <-slow.done:
	default:
		t.Fatal("a client whose queue filled was not dropped")
	}
	if why := slow.why.Load(); why == nil || *why != "too slow: its send queue filled" {
		t.Fatalf("drop reason %v", why)
	}
	if len(fast.send) != 10 {
		t.Fatalf("the fast client got %d of 10 frames", len(fast.send))
	}
	select {
	case <-fast.done:
		t.Fatal("the fast client was dropped")
	default:
	}
	// A targeted frame reaches only its user.
	r.broadcast(frameSystem(theme.ChatMessage{ID: "w", Text: "warn", System: true}, "funding_warning"), "nobody")
	if len(fast.send) != 10 {
		t.Fatal("a frame for another user reached the fast client")
	}
}
