package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/clock/clocktest"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/split"
	"github.com/camkit/camkit/sdk/theme"
	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
)

var t0 = time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)

func usd(a int64) money.Money { return money.Money{Amount: a, Currency: "USD"} }

// shows is the show directory as chat sees it.
type shows map[string]split.Parties

func (s shows) TipParties(_ context.Context, showID, _ string) (split.Parties, error) {
	p, ok := s[showID]
	if !ok {
		return split.Parties{}, errs.E(errs.NotFound, "no show %s", showID)
	}
	return p, nil
}

// members stand in for the session middleware: the test names who connects.
var members = map[string]chat.Member{
	"ann":  {UserID: "ann", Name: "Ann", Role: theme.RoleViewer},
	"ben":  {UserID: "ben", Name: "Ben", Role: theme.RoleViewer},
	"mia":  {UserID: "mia", Name: "Mia", Role: theme.RoleModel},
	"poor": {UserID: "poor", Name: "Poor", Role: theme.RoleViewer},
}

type env struct {
	db   *store.DB
	book *ledger.Ledger
	clk  *clocktest.Fake
	svc  *chat.Service
	url  string // ws://127.0.0.1:port/ws/chat/
	http string // http://127.0.0.1:port
}

// splitPlugin runs the real split-percentage plugin: tips 80% model, 5%
// studio, 15% platform (the platform also gets the rounding remainder).
func splitPlugin(t testing.TB) chat.Allocator {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := pluginhost.NewHost(log, nil)
	t.Cleanup(h.Close)
	in, err := h.Launch(context.Background(), pluginhost.Spec{
		Kind: pluginkit.KindSplit, Name: "percentage", Path: testbin.Plugin(t, "split-percentage"),
		Settings: []byte(`{"tip":{"model":8000,"studio":500,"affiliate":0,"platform":1500}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	return pluginhost.NewSplit(in)
}

func newEnv(t testing.TB, alloc chat.Allocator, o chat.Options) *env {
	t.Helper()
	return newEnvWith(t, alloc, o, nil)
}

// newEnvWith also lets a test mount its own routes (pages, scripts).
func newEnvWith(t testing.TB, alloc chat.Allocator, o chat.Options, mount func(*fiber.App)) *env {
	t.Helper()
	db := storetest.Postgres(t)
	clk := clocktest.NewFake(t0)
	book := ledger.New(db, ledger.Options{Clock: clk})
	o.Currency, o.Clock = "USD", clk
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	svc, err := chat.New(db, book, alloc, shows{
		"show-1": {ModelID: "mia", StudioID: "agency"},
		"show-2": {ModelID: "mia"},
	}, o)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ws/chat/:show", svc.Handler(chat.HandlerOptions{
		Identify: func(c *fiber.Ctx) (chat.Member, bool) {
			who := c.Get("X-Test-User")
			if who == "" {
				who = c.Query("as") // a browser cannot set headers on a WebSocket
			}
			m, ok := members[who]
			return m, ok
		},
	}))
	if mount != nil {
		mount(app)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	return &env{db: db, book: book, clk: clk, svc: svc, url: "ws://" + ln.Addr().String() + "/ws/chat/", http: "http://" + ln.Addr().String()}
}

func (e *env) fund(t testing.TB, user string, amount int64) {
	t.Helper()
	if _, err := e.book.Transfer(context.Background(), ledger.Request{Key: "test/fund/" + user,
		Debit: "processor:test:clearing", Credit: "viewer:" + user + ":wallet", Amount: usd(amount)}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) balance(t testing.TB, code string) int64 {
	t.Helper()
	b, err := e.book.Balance(context.Background(), code, "USD")
	if errs.CodeOf(err) == errs.NotFound {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Posted().Amount
}

// wsClient is a test's WebSocket connection. A goroutine reads it (a read
// deadline would break the connection), so a test can wait for a frame or
// for silence.
type wsClient struct {
	t      testing.TB
	conn   *fws.Conn
	frames chan []byte
	err    chan error
	mu     sync.Mutex
	raw    []string // every text frame as received
}

func (e *env) dial(t testing.TB, show, user string) *wsClient {
	t.Helper()
	h := http.Header{}
	if user != "" {
		h.Set("X-Test-User", user)
	}
	conn, resp, err := fws.DefaultDialer.Dial(e.url+show, h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s as %q: %v (HTTP %d)", show, user, err, status)
	}
	c := &wsClient{t: t, conn: conn, frames: make(chan []byte, 1024), err: make(chan error, 1)}
	t.Cleanup(func() { _ = conn.Close() })
	go func() {
		for {
			kind, b, err := conn.ReadMessage()
			if err != nil {
				c.err <- err
				return
			}
			if kind != fws.TextMessage {
				c.err <- errors.New("server sent a non-text frame")
				return
			}
			c.frames <- b
		}
	}()
	if f := c.next(); f.Type != "hello" {
		t.Fatalf("first frame %+v, want hello", f)
	}
	return c
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	if err := c.conn.WriteMessage(fws.TextMessage, b); err != nil {
		c.t.Fatal(err)
	}
}

// next reads one frame, failing the test after 5 s.
func (c *wsClient) next() chat.Frame {
	c.t.Helper()
	f, err := c.read(5 * time.Second)
	if err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	return f
}

var errSilence = errors.New("no frame")

// read returns the next frame, the connection's end (a close error), or
// errSilence after wait.
func (c *wsClient) read(wait time.Duration) (chat.Frame, error) {
	var b []byte
	select {
	case b = <-c.frames:
	case err := <-c.err:
		c.err <- err
		// The reader queues the last frames before the close it then
		// reports; select picks at random among ready cases, so a frame
		// still queued comes first.
		select {
		case b = <-c.frames:
		default:
			return chat.Frame{}, err
		}
	case <-time.After(wait):
		return chat.Frame{}, errSilence
	}
	c.mu.Lock()
	c.raw = append(c.raw, string(b))
	c.mu.Unlock()
	var f chat.Frame
	if err := json.Unmarshal(b, &f); err != nil {
		c.t.Fatalf("server sent non-JSON %q: %v", b, err)
	}
	return f, nil
}

// quiet checks that nothing arrives within d.
func (c *wsClient) quiet(d time.Duration) {
	c.t.Helper()
	if f, err := c.read(d); err != errSilence {
		c.t.Fatalf("unexpected %+v %v", f, err)
	}
}
