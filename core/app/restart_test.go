package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/store/storetest"
	fws "github.com/fasthttp/websocket"
)

// socket is a browser's chat connection to a room.
type socket struct {
	t      *testing.T
	conn   *fws.Conn
	frames chan chatFrame
}

// Close hangs up, as a closed tab does.
func (s *socket) Close() error { return s.conn.Close() }

type chatFrame struct {
	Type    string `json:"type"`
	Kind    string `json:"kind"`
	Message *struct {
		Text string `json:"text"`
	} `json:"message"`
}

// chat opens b's chat socket in room, with its cookies, as its page does.
func (b *browser) chat(t *testing.T, room string) *socket {
	t.Helper()
	u := mustURL(b.s.url)
	h := http.Header{}
	for _, c := range b.c.Jar.Cookies(u) {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	h.Set("Origin", b.s.url)
	conn, resp, err := fws.DefaultDialer.Dial("ws://"+u.Host+"/ws/chat/"+room, h)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("%s: chat %s: %v (HTTP %d)", b.name, room, err, code)
	}
	t.Cleanup(func() { _ = conn.Close() })
	s := &socket{t: t, conn: conn, frames: make(chan chatFrame, 256)}
	go func() {
		defer close(s.frames)
		for {
			_, raw, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var f chatFrame
			if json.Unmarshal(raw, &f) == nil {
				s.frames <- f
			}
		}
	}()
	return s
}

// told waits for a system event of kind and returns its text.
func (s *socket) told(kind string) string {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatalf("chat closed before a %q event", kind)
			}
			if f.Type == "system" && f.Kind == kind {
				if f.Message == nil {
					return ""
				}
				return f.Message.Text
			}
		case <-deadline:
			s.t.Fatalf("no %q event within 10 s", kind)
		}
	}
}

type requestJSON struct {
	ID, ViewerName, State string
	ShowID                string `json:"show_id"`
}

func (r *requestJSON) UnmarshalJSON(b []byte) error {
	var v struct {
		ID         string `json:"id"`
		ShowID     string `json:"show_id"`
		ViewerName string `json:"viewer_name"`
		State      string `json:"state"`
	}
	err := json.Unmarshal(b, &v)
	r.ID, r.ShowID, r.ViewerName, r.State = v.ID, v.ShowID, v.ViewerName, v.State
	return err
}

// aliceGoesPrivate has alice ask and the model accept her request (among
// others) with the default for the rest; it returns the seat.
func (w *world) aliceGoesPrivate() string {
	t := w.t
	w.alice.api(http.MethodPost, "/shows/"+w.showID+"/private-requests", nil, "").must(t, http.StatusCreated, "alice asks")
	var rs []requestJSON
	w.model.api(http.MethodGet, "/me/requests", nil, "").must(t, http.StatusOK, "requests").json(t, &rs)
	for _, r := range rs {
		if r.ViewerName == "Alice" {
			var seat struct{ ID string }
			w.model.api(http.MethodPost, "/requests/"+r.ID+"/accept", nil, "").must(t, http.StatusCreated, "accept alice").json(t, &seat)
			return seat.ID
		}
	}
	t.Fatalf("no request of alice among %+v", rs)
	return ""
}

func (w *world) requests(b *browser) map[string]string {
	var rs []requestJSON
	b.api(http.MethodGet, "/me/requests", nil, "").must(w.t, http.StatusOK, "requests").json(w.t, &rs)
	out := map[string]string{}
	for _, r := range rs {
		out[r.ViewerName] = r.State
	}
	return out
}

// Issue 12, item 4: when the model accepts one request, every other waiting
// requester is told, and their request is kept (the default) until she is
// back in public, when they are told again; or declined, as she chooses.
func TestRequestsQueue_OthersKeptAndToldTwice_OrDeclined(t *testing.T) {
	w := newWorld(t)
	cy, _ := w.viewer("Cy", "4242424242424242")
	dee, _ := w.viewer("Dee", "4242424242424242")
	cyChat, deeChat := cy.chat(t, w.showID), dee.chat(t, w.showID)
	for _, b := range []*browser{cy, dee} {
		b.api(http.MethodPost, "/shows/"+w.showID+"/private-requests", nil, "").must(t, http.StatusCreated, b.name+" asks")
	}
	seat := w.aliceGoesPrivate() // alice's, accepted with the default: the others are kept
	if got := w.requests(w.model); len(got) != 2 || got["Cy"] != "held" || got["Dee"] != "held" {
		t.Fatalf("requests while private: %v, want Cy and Dee held", got)
	}
	for _, s := range []*socket{cyChat, deeChat} {
		if text := s.told("private_held"); !strings.Contains(text, "kept") {
			t.Fatalf("held notice %q", text)
		}
	}
	// A held request waits: the model cannot take it while private.
	var rs []requestJSON
	w.model.api(http.MethodGet, "/me/requests", nil, "").json(t, &rs)
	w.model.api(http.MethodPost, "/requests/"+rs[0].ID+"/accept", nil, "").must(t, http.StatusConflict, "accept a held request")

	w.alice.api(http.MethodPost, "/seats/"+seat+"/end", nil, "").must(t, http.StatusOK, "alice ends")
	for _, s := range []*socket{cyChat, deeChat} {
		if text := s.told("private_waiting"); !strings.Contains(text, "back") {
			t.Fatalf("back notice %q", text)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for got := w.requests(w.model); got["Cy"] != "waiting" || got["Dee"] != "waiting"; got = w.requests(w.model) {
		if time.Now().After(deadline) {
			t.Fatalf("requests after the private show: %v, want both waiting", got)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Now she takes Cy and declines the rest: Dee is told, and his request is gone.
	w.model.api(http.MethodGet, "/me/requests", nil, "").json(t, &rs)
	var cyReq string
	for _, r := range rs {
		if r.ViewerName == "Cy" {
			cyReq = r.ID
		}
	}
	w.model.api(http.MethodPost, "/requests/"+cyReq+"/accept?others=nonsense", nil, "").must(t, http.StatusBadRequest, "accept with a bad choice")
	w.model.api(http.MethodPost, "/requests/"+cyReq+"/accept?others=decline", nil, "").must(t, http.StatusCreated, "accept, declining the others")
	if text := deeChat.told("private_declined"); !strings.Contains(text, "declined") {
		t.Fatalf("decline notice %q", text)
	}
	if got := w.requests(w.model); len(got) != 0 {
		t.Fatalf("requests after declining the others: %v", got)
	}
}

// Issue 12, done-when: a host restart with a live model, two pending
// requests and an open seat. After the restart the show is listed with the
// same stream key, the requests are there (waiting again: the private show
// is over), and the seat was settled exactly once, by billing's Recover; an
// end after the restart answers that receipt and moves nothing more.
func TestRestart_LiveShowRequestsAndOpenSeat(t *testing.T) {
	db := storetest.Postgres(t)
	s1 := newSiteOn(t, db, nil)
	w := newWorldOn(t, s1)
	ctx := context.Background()
	// The key as shown the one time it is: right after going live made it.
	made, err := s1.app.Shows.StreamKey(ctx, w.modelID)
	if err != nil || made.Key == "" {
		t.Fatalf("the key just made: %+v %v", made, err)
	}
	key := made.Key
	cy, _ := w.viewer("Cy", "4242424242424242")
	dee, _ := w.viewer("Dee", "4242424242424242")
	for _, b := range []*browser{cy, dee} {
		b.api(http.MethodPost, "/shows/"+w.showID+"/private-requests", nil, "").must(t, http.StatusCreated, b.name+" asks")
	}
	seat := w.aliceGoesPrivate()
	w.billed(seat)
	if got := w.requests(w.model); len(got) != 2 {
		t.Fatalf("requests before the restart: %v", got)
	}

	s1.stop()
	s2 := newSiteWith(t, db, nil, siteOptions{StateFile: s1.state})
	w2 := &world{site: s2, modelID: w.modelID, showID: w.showID}

	// The show is listed, public again, with the key its encoder has.
	var listed []struct{ ID, Mode string }
	anon := s2.browser("visitor")
	anon.passAge()
	anon.api(http.MethodGet, "/shows", nil, "").must(t, http.StatusOK, "shows").json(t, &listed)
	if len(listed) != 1 || listed[0].ID != w.showID || listed[0].Mode != "public" {
		t.Fatalf("shows after the restart: %+v, want %s public", listed, w.showID)
	}
	if k, err := s2.app.Shows.StreamKey(ctx, w.modelID); err != nil || k != (shows.StreamKeyView{Hint: shows.StreamKeyHint(key)}) {
		t.Fatalf("stream key after the restart: %+v %v, want its hint only", k, err)
	}
	if id, err := s2.app.Shows.ResolveStreamKey(ctx, key); err != nil || id != w.showID {
		t.Fatalf("the encoder's key resolves to %q %v", id, err)
	}

	// The requests are there, waiting for her again.
	model := s2.browser("model")
	model.login("mia@example.com")
	if got := w2.requests(model); len(got) != 2 || got["Cy"] != "waiting" || got["Dee"] != "waiting" {
		t.Fatalf("requests after the restart: %v, want Cy and Dee waiting", got)
	}

	// The seat was settled once, at its last checkpoint.
	alice := s2.browser("alice")
	alice.login("alice@example.com")
	var rec receiptJSON
	alice.api(http.MethodGet, "/receipts/"+seat, nil, "").must(t, http.StatusOK, "receipt after the restart").json(t, &rec)
	if rec.SeatID != seat || rec.BillableSeconds < 1 {
		t.Fatalf("receipt %+v", rec)
	}
	w2.settledOnce(rec)
	end := alice.api(http.MethodPost, "/seats/"+seat+"/end", nil, "").must(t, http.StatusOK, "end after the restart")
	var again receiptJSON
	end.json(t, &again)
	if again.SeatID != seat || again.Price != rec.Price || !again.ClosedAt.Equal(rec.ClosedAt) {
		t.Fatalf("end after the restart answered %+v, want the receipt %+v", again, rec)
	}
	w2.settledOnce(again)
	if r := alice.api(http.MethodGet, "/me/seat", nil, ""); r.code != http.StatusNotFound {
		t.Fatalf("alice still has an open seat after the restart: %d %s", r.code, r.body)
	}

	// And the model can take the next one.
	var rs []requestJSON
	model.api(http.MethodGet, "/me/requests", nil, "").json(t, &rs)
	model.api(http.MethodPost, "/requests/"+rs[0].ID+"/accept", nil, "").must(t, http.StatusCreated, "accept after the restart")
}
