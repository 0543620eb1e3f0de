package chat_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/sdk/errs"
	fws "github.com/fasthttp/websocket"
)

func TestTwoClientsSeeEachOthersMessages(t *testing.T) {
	e := newEnv(t, splitPlugin(t), chat.Options{})
	ann := e.dial(t, "show-1", "ann")
	ben := e.dial(t, "show-1", "ben")
	anon := e.dial(t, "show-1", "")
	ann.send(map[string]string{"type": "message", "text": "  hello from Ann  "})
	for name, c := range map[string]*wsClient{"ann": ann, "ben": ben, "anonymous": anon} {
		f := c.next()
		if f.Type != "message" || f.Message == nil || f.Message.Text != "hello from Ann" || f.Message.Author != "Ann" || f.Message.Role != "viewer" {
			t.Fatalf("%s got %+v", name, f)
		}
	}
	ben.send(map[string]string{"type": "message", "text": "hi Ann"})
	for _, c := range []*wsClient{ann, ben, anon} {
		if f := c.next(); f.Message == nil || f.Message.Text != "hi Ann" || f.Message.Author != "Ben" {
			t.Fatalf("got %+v", f)
		}
	}
	// Another room hears nothing.
	other := e.dial(t, "show-2", "ann")
	ben.send(map[string]string{"type": "message", "text": "only show-1"})
	other.quiet(300 * time.Millisecond)
	for _, c := range []*wsClient{ann, ben, anon} {
		if f := c.next(); f.Message == nil || f.Message.Text != "only show-1" {
			t.Fatalf("got %+v", f)
		}
	}

	// Anonymous readers cannot write.
	anon.send(map[string]string{"type": "message", "text": "me too"})
	if f := anon.next(); f.Type != "error" || f.Code != string(errs.Unauthenticated) {
		t.Fatalf("anonymous write: %+v", f)
	}
	// History keeps them, oldest first, and the next joiner's hello carries it.
	hist, err := e.svc.History(context.Background(), "show-1", 10)
	if err != nil || len(hist) != 3 || hist[0].Text != "hello from Ann" || hist[2].Text != "only show-1" {
		t.Fatalf("history %+v %v", hist, err)
	}
}

func TestScriptTextIsDeliveredAsInertText(t *testing.T) {
	e := newEnv(t, splitPlugin(t), chat.Options{})
	ann := e.dial(t, "show-1", "ann")
	ben := e.dial(t, "show-1", "ben")
	hostile := `<script>alert(1)</script><img src=x onerror="alert(2)"> & "quotes" ' </li></ol>`
	ann.send(map[string]string{"type": "message", "text": hostile})
	f := ben.next()
	if f.Message == nil || f.Message.Text != hostile {
		t.Fatalf("text changed on the way: %+v", f)
	}
	raw := ben.raw[len(ben.raw)-1]
	if strings.ContainsAny(raw, "<>") {
		t.Fatalf("the frame carries raw markup characters: %s", raw)
	}
	if !strings.Contains(raw, `\u003cscript\u003e`) {
		t.Fatalf("frame %s", raw)
	}
	hist, _ := e.svc.History(context.Background(), "show-1", 1)
	if len(hist) != 1 || hist[0].Text != hostile {
		t.Fatalf("stored as %+v", hist)
	}
}

func TestTipShowsInBothAndMovesLedgerMoneySplitExactly(t *testing.T) {
	e := newEnv(t, splitPlugin(t), chat.Options{})
	e.fund(t, "ann", 1000)
	ann := e.dial(t, "show-1", "ann")
	ben := e.dial(t, "show-1", "ben")

	tip := map[string]string{"type": "tip", "tip_id": "tip-0001-abcdef", "amount": "3.33", "currency": "USD", "text": "for you <3"}
	ann.send(tip)
	var gotAck, gotTip bool
	for i := 0; i < 2; i++ {
		switch f := ann.next(); f.Type {
		case "ack":
			gotAck = f.Ref == "tip-0001-abcdef"
		case "tip":
			gotTip = f.Message.Tip != nil && *f.Message.Tip == usd(333) && f.TipDisplay == "3.33" && f.Message.Text == "for you <3"
		default:
			t.Fatalf("ann got %+v", f)
		}
	}
	if !gotAck || !gotTip {
		t.Fatalf("tipper: ack %v tip %v", gotAck, gotTip)
	}
	if f := ben.next(); f.Type != "tip" || f.Message.Tip == nil || *f.Message.Tip != usd(333) || f.Message.Author != "Ann" {
		t.Fatalf("ben got %+v", f)
	}
	// 80% / 5% / 15% of 3.33: model floor(266.4)=266, studio floor(16.65)=16, platform the rest 51.
	for code, want := range map[string]int64{
		"viewer:ann:wallet": 1000 - 333, "model:mia:earnings": 266, "studio:agency:earnings": 16, "platform:revenue": 51,
	} {
		if got := e.balance(t, code); got != want {
			t.Errorf("%s = %d, want %d", code, got, want)
		}
	}

	// The same tip id again (a retry after a lost answer): acknowledged, not paid or announced twice.
	ann.send(tip)
	if f := ann.next(); f.Type != "ack" || f.Ref != "tip-0001-abcdef" {
		t.Fatalf("repeat: %+v", f)
	}
	ben.quiet(300 * time.Millisecond)
	if got := e.balance(t, "viewer:ann:wallet"); got != 667 {
		t.Fatalf("repeat moved money: wallet %d", got)
	}
	// The same id with another amount is refused.
	tip["amount"] = "4.00"
	ann.send(tip)
	if f := ann.next(); f.Type != "error" || f.Code != string(errs.Conflict) || f.Ref != "tip-0001-abcdef" {
		t.Fatalf("reused id: %+v", f)
	}
	// More than the wallet holds: refused, nothing moves.
	ann.send(map[string]string{"type": "tip", "tip_id": "tip-0002-abcdef", "amount": "50.00", "currency": "USD"})
	if f := ann.next(); f.Type != "error" || f.Code != string(errs.Limit) || !strings.Contains(f.Error, "credit pack") {
		t.Fatalf("short wallet: %+v", f)
	}
	if got := e.balance(t, "viewer:ann:wallet"); got != 667 {
		t.Fatalf("a refused tip moved money: wallet %d", got)
	}
	rep, err := e.book.Verify(context.Background())
	if err != nil || !rep.Clean() {
		t.Fatalf("ledger verify: %v %s", err, rep.Summary())
	}
	// Only viewers tip; a model cannot tip herself.
	mia := e.dial(t, "show-1", "mia")
	mia.send(map[string]string{"type": "tip", "tip_id": "tip-0003-abcdef", "amount": "1.00", "currency": "USD"})
	if f := mia.next(); f.Type != "error" || f.Code != string(errs.Forbidden) {
		t.Fatalf("model tipping: %+v", f)
	}
	for name, bad := range map[string]map[string]string{
		"negative":        {"type": "tip", "tip_id": "tip-0004-abcdef", "amount": "-1.00", "currency": "USD"},
		"too many digits": {"type": "tip", "tip_id": "tip-0004-abcdef", "amount": "1.001", "currency": "USD"},
		"other currency":  {"type": "tip", "tip_id": "tip-0004-abcdef", "amount": "1.00", "currency": "EUR"},
		"short id":        {"type": "tip", "tip_id": "x", "amount": "1.00", "currency": "USD"},
		"huge":            {"type": "tip", "tip_id": "tip-0004-abcdef", "amount": "99999999999999999999", "currency": "USD"},
	} {
		ann.send(bad)
		if f := ann.next(); f.Type != "error" || (f.Code != string(errs.Invalid) && f.Code != string(errs.UnknownCurrency)) {
			t.Errorf("%s: %+v", name, f)
		}
	}
	if got := e.balance(t, "viewer:ann:wallet"); got != 667 {
		t.Fatalf("refused tips moved money: wallet %d", got)
	}
}

func TestFloodLimit(t *testing.T) {
	e := newEnv(t, splitPlugin(t), chat.Options{})
	ann := e.dial(t, "show-1", "ann")
	for i := 0; i < 5; i++ {
		ann.send(map[string]string{"type": "message", "text": "spam"})
		if f := ann.next(); f.Type != "message" {
			t.Fatalf("message %d: %+v", i+1, f)
		}
	}
	ann.send(map[string]string{"type": "message", "text": "spam"})
	f := ann.next()
	if f.Type != "error" || f.Code != "flood" || f.RetryAfterMS <= 0 || !strings.Contains(f.Error, "too fast") {
		t.Fatalf("6th message in 5 s: %+v", f)
	}
	// Others are not limited by Ann's flood, and Ann may speak again a second later.
	ben := e.dial(t, "show-1", "ben")
	ben.send(map[string]string{"type": "message", "text": "calm"})
	if f := ben.next(); f.Type != "message" {
		t.Fatalf("ben: %+v", f)
	}
	e.clk.Advance(time.Second)
	ann.next() // ben's message
	ann.send(map[string]string{"type": "message", "text": "again"})
	if f := ann.next(); f.Type != "message" || f.Message.Text != "again" {
		t.Fatalf("after waiting: %+v", f)
	}
	// The API path is limited the same way.
	_, err := e.svc.Post(context.Background(), "show-1", members["ann"], "x")
	var fe *chat.FloodError
	if !errors.As(err, &fe) || fe.HTTPStatus() != 429 {
		t.Fatalf("Post while flooding: %v", err)
	}
}

func TestHostileFramesAreRejected(t *testing.T) {
	e := newEnv(t, splitPlugin(t), chat.Options{})
	ann := e.dial(t, "show-1", "ann")
	for name, raw := range map[string]string{
		"not JSON":        `hello`,
		"unknown type":    `{"type":"admin","text":"x"}`,
		"unknown field":   `{"type":"message","text":"x","html":"<b>"}`,
		"empty":           `{"type":"message","text":"   "}`,
		"control char":    `{"type":"message","text":"a\u0000b"}`,
		"bidi override":   `{"type":"message","text":"abc\u202edef"}`,
		"too long":        `{"type":"message","text":"` + strings.Repeat("x", 501) + `"}`,
		"wrong json type": `{"type":"message","text":5}`,
	} {
		if err := ann.conn.WriteMessage(fws.TextMessage, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		if f := ann.next(); f.Type != "error" || f.Code != string(errs.Invalid) {
			t.Errorf("%s: %+v", name, f)
		}
	}
	if hist, _ := e.svc.History(context.Background(), "show-1", 10); len(hist) != 0 {
		t.Fatalf("refused frames reached history: %+v", hist)
	}

	// An oversized frame closes the connection (1009) without being read whole.
	big := e.dial(t, "show-1", "ben")
	_ = big.conn.WriteMessage(fws.TextMessage, []byte(`{"type":"message","text":"`+strings.Repeat("x", chat.MaxFrameBytes)+`"}`))
	if _, err := big.read(5 * time.Second); !fws.IsCloseError(err, fws.CloseMessageTooBig) {
		t.Fatalf("oversized frame: %v, want close 1009", err)
	}
	// A binary frame closes it with 1003.
	bin := e.dial(t, "show-1", "ben")
	_ = bin.conn.WriteMessage(fws.BinaryMessage, []byte{0, 1, 2})
	if _, err := bin.read(5 * time.Second); !fws.IsCloseError(err, fws.CloseUnsupportedData) {
		t.Fatalf("binary frame: %v, want close 1003", err)
	}
	// Twenty refused frames in a row close it with 1008.
	noisy := e.dial(t, "show-1", "ben")
	var err error
	for i := 0; i < 25 && err == nil; i++ {
		_ = noisy.conn.WriteMessage(fws.TextMessage, []byte(`{`))
		for err == nil {
			var f chat.Frame
			if f, err = noisy.read(5 * time.Second); err == nil && f.Type == "error" {
				break
			}
		}
	}
	if !fws.IsCloseError(err, fws.ClosePolicyViolation) {
		t.Fatalf("persistent garbage: %v, want close 1008", err)
	}
	// The room still works for everyone else.
	ann.send(map[string]string{"type": "message", "text": "still here"})
	if f := ann.next(); f.Type != "message" || f.Message.Text != "still here" {
		t.Fatalf("after the hostile clients: %+v", f)
	}
}

func TestCrossSiteUpgradeIsRefused(t *testing.T) {
	e := newEnv(t, splitPlugin(t), chat.Options{})
	h := map[string][]string{"Origin": {"https://evil.example"}, "X-Test-User": {"ann"}}
	_, resp, err := fws.DefaultDialer.Dial(e.url+"show-1", h)
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("cross-site upgrade: %v %v", err, resp)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(e.url, "ws://"), "/ws/chat/")
	h["Origin"] = []string{"http://" + host}
	c, _, err := fws.DefaultDialer.Dial(e.url+"show-1", h)
	if err != nil {
		t.Fatalf("same-origin upgrade: %v", err)
	}
	c.Close()
	if _, resp, err := fws.DefaultDialer.Dial(e.url+"bad%20id", nil); err == nil || resp.StatusCode != 400 {
		t.Fatalf("malformed show id: %v", err)
	}
}

func TestSystemEventsReachTheRoomOrOneViewer(t *testing.T) {
	e := newEnv(t, splitPlugin(t), chat.Options{})
	ann := e.dial(t, "show-1", "ann")
	ben := e.dial(t, "show-1", "ben")
	if err := e.svc.Broadcast("show-1", chat.SystemEvent{Kind: "show_private", Text: "Mia went private"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*wsClient{ann, ben} {
		if f := c.next(); f.Type != "system" || f.Kind != "show_private" || !f.Message.System || f.Message.Text != "Mia went private" {
			t.Fatalf("got %+v", f)
		}
	}
	if err := e.svc.Broadcast("show-1", chat.SystemEvent{Kind: "funding_warning", Text: "Your card was declined; 60 s left", To: "ben"}); err != nil {
		t.Fatal(err)
	}
	if f := ben.next(); f.Kind != "funding_warning" {
		t.Fatalf("ben: %+v", f)
	}
	ann.quiet(300 * time.Millisecond)
	hist, _ := e.svc.History(context.Background(), "show-1", 10)
	if len(hist) != 1 || hist[0].Text != "Mia went private" {
		t.Fatalf("history keeps public events only: %+v", hist)
	}
	e.svc.CloseRoom("show-1", "Mia ended the show")
	if f := ann.next(); f.Kind != "show_ended" {
		t.Fatalf("end: %+v", f)
	}
	if _, err := ann.read(5 * time.Second); !fws.IsCloseError(err, fws.CloseGoingAway) {
		t.Fatalf("after CloseRoom: %v, want close 1001", err)
	}
}

// A notice the history cannot keep (the database refuses it) still reaches
// the room: CloseRoom's "show ended" is the last thing its viewers hear.
func TestSystemEventsReachTheRoomWhenTheHistoryFails(t *testing.T) {
	e := newEnv(t, splitPlugin(t), chat.Options{})
	ann := e.dial(t, "show-1", "ann")
	if err := e.db.Gorm().Exec(`DROP TABLE chat_messages`).Error; err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Broadcast("show-1", chat.SystemEvent{Kind: "show_private", Text: "Mia went private"}); err == nil {
		t.Fatal("Broadcast reported no error although its history could not keep it")
	}
	if f := ann.next(); f.Kind != "show_private" {
		t.Fatalf("got %+v", f)
	}
	e.svc.CloseRoom("show-1", "Mia ended the show")
	if f := ann.next(); f.Kind != "show_ended" {
		t.Fatalf("end: %+v", f)
	}
}
