package shows_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/pluginhost"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/shows"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
	"github.com/camkit/camkit/core/stream"
	"github.com/camkit/camkit/internal/testbin"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/pluginkit"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/theme"
)

// lifecycle is shows.Service on the in-memory live store, with real
// accounts, ledger and billing on PostgreSQL and the sandbox processor's
// process; viewers pay from wallet credits.
type lifecycle struct {
	t       *testing.T
	ctx     context.Context
	db      *store.DB
	led     *ledger.Ledger
	acc     *accounts.Service
	sbx     processor.Processor
	live    shows.Store // MemStore unless a test wants SQLStore's tables
	eng     *billing.Engine
	svc     *shows.Service
	model   string
	viewers map[string]string
	// liveOnPublish and media configure the next start: media builds a
	// real SFU (stored in sfu) as the host does.
	liveOnPublish bool
	showSpyCount  bool
	media         func(stream.Admission, stream.LivenessSink) (shows.Media, error)
	// wrap, when set, stands between the Service and billing (a test that
	// must act while a seat opens).
	wrap func(shows.Engine) shows.Engine
	// clk is the clock of billing and the Service (real unless a test
	// built the lifecycle with newLifecycleAt).
	clk clock.Clock
}

func newLifecycle(t *testing.T) *lifecycle { return newLifecycleAt(t, clock.Real()) }

// newLifecycleAt is newLifecycle on clk (a fake clock drives the meters).
func newLifecycleAt(t *testing.T, clk clock.Clock) *lifecycle {
	ctx := context.Background()
	db := storetest.Postgres(t)
	l := &lifecycle{t: t, ctx: ctx, db: db, led: ledger.New(db, ledger.Options{Clock: clk}), live: shows.NewMemStore(), viewers: map[string]string{}, clk: clk}
	acc, err := accounts.New(ctx, db, accounts.Options{Currency: "USD", Secret: []byte("shows-test-secret-0123456789"), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	l.acc = acc
	host := pluginhost.NewHost(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	t.Cleanup(host.Close)
	in, err := host.Launch(ctx, pluginhost.Spec{Kind: pluginkit.KindProcessor, Name: "sandbox", Path: testbin.Plugin(t, "processor-sandbox"),
		Settings: []byte(`{"state_file":"` + filepath.Join(t.TempDir(), "sbx.json") + `","webhook_secret":"shows-test-secret-0123456789"}`)})
	if err != nil {
		t.Fatal(err)
	}
	l.sbx = pluginhost.NewProcessor(in)
	admin := l.user("ops@example.com", "Ops", accounts.RoleAdmin)
	l.model = l.user("mia@example.com", "Mia", accounts.RoleModel)
	if _, err := acc.ApproveModel(ctx, admin, l.model); err != nil {
		t.Fatal(err)
	}
	if _, err := acc.SetRate(ctx, l.model, l.model, money.Money{Amount: 200, Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"Ann", "Bob", "Cy"} {
		id := l.user(v+"@example.com", v, accounts.RoleViewer)
		l.viewers[v] = id
		if _, err := l.led.Batch(ctx, []ledger.Request{{Key: "test/credits/" + id, Debit: "platform:revenue", Credit: accounts.WalletCode(id),
			Amount: money.Money{Amount: 5000, Currency: "USD"}}}); err != nil {
			t.Fatal(err)
		}
	}
	l.start()
	return l
}

func (l *lifecycle) user(email, name string, role accounts.Role) string {
	u, err := l.acc.CreateUser(l.ctx, accounts.NewUser{Email: email, DisplayName: name, Password: "correct horse battery", Role: role})
	if err != nil {
		l.t.Fatal(err)
	}
	return u.ID
}

// start builds billing (with its Recover) and the Service on the same
// database and live store, as a host start does.
func (l *lifecycle) start() {
	t := l.t
	feed := &billing.Feed{}
	eng, err := billing.NewEngine(billing.Config{DB: l.db, Ledger: l.led, Clock: l.clk, Processors: map[string]processor.Processor{"sandbox": l.sbx}, Events: feed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	if _, err := eng.Recover(l.ctx); err != nil {
		t.Fatal(err)
	}
	pol := pricing.DefaultPolicy(money.Money{Currency: "USD"})
	var bill shows.Engine = eng
	if l.wrap != nil {
		bill = l.wrap(eng)
	}
	svc, err := shows.New(l.ctx, shows.Config{DB: l.db, Clock: l.clk, Store: l.live, Accounts: l.acc, Cards: accounts.NewPaymentMethods(l.acc, "sandbox", l.sbx),
		Wallets: accounts.NewWallets(l.acc, l.led), Ledger: l.led, Billing: bill, BillingEvents: feed, Policy: pol, CardStrategy: billing.CardHold,
		LiveOnPublish: l.liveOnPublish, ShowSpyCount: l.showSpyCount, Media: l.media, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l.eng, l.svc = eng, svc
}

// keyOf is the model's stream key as her dashboard shows it the one time it
// can: right after it was made (or rotated).
func (l *lifecycle) keyOf() string {
	l.t.Helper()
	v, err := l.svc.StreamKey(l.ctx, l.model)
	if err != nil || v.Key == "" {
		l.t.Fatalf("her key, shown once after it was made: %+v %v", v, err)
	}
	return v.Key
}

func (l *lifecycle) ask(show, who string) shows.Request {
	r, err := l.svc.RequestPrivate(l.ctx, l.viewers[who], show)
	if err != nil {
		l.t.Fatalf("%s asks: %v", who, err)
	}
	return r
}

func (l *lifecycle) states(show string) map[string]shows.RequestState {
	rs, err := l.svc.Requests(l.ctx, l.model)
	if err != nil {
		l.t.Fatal(err)
	}
	out := map[string]shows.RequestState{}
	for _, r := range rs {
		if r.ShowID == show {
			out[r.ViewerName] = r.State
		}
	}
	return out
}

func TestService_AcceptKeepsTheOthersUntilSheIsBack(t *testing.T) {
	l := newLifecycle(t)
	sh, err := l.svc.GoLive(l.ctx, l.model)
	if err != nil {
		t.Fatal(err)
	}
	ann, _ := l.ask(sh.ID, "Ann"), l.ask(sh.ID, "Bob")
	if again := l.ask(sh.ID, "Ann"); again.ID != ann.ID {
		t.Fatalf("a second ask made another request %s, want %s", again.ID, ann.ID)
	}
	seat, err := l.svc.Accept(l.ctx, l.model, ann.ID, shows.AcceptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if seat.Funding != string(billing.Wallet) || seat.Policy.RatePerMinute.Amount != 200 || seat.Token == "" {
		t.Fatalf("seat %+v", seat)
	}
	// Who asks while she is private joins the kept queue.
	if cy := l.ask(sh.ID, "Cy"); cy.State != shows.Held {
		t.Fatalf("a request while she is private: %+v, want held", cy)
	}
	if got := l.states(sh.ID); len(got) != 2 || got["Bob"] != shows.Held || got["Cy"] != shows.Held {
		t.Fatalf("requests while private: %v, want Bob and Cy held", got)
	}
	// The store has what a restart needs, and never the viewer's bearer.
	seats, _ := l.live.Seats(l.ctx)
	if len(seats) != 1 || seats[0].ID != seat.ID || seats[0].TokenHash == "" || seats[0].TokenHash == seat.Token || seats[0].Policy != seat.Policy {
		t.Fatalf("stored seats %+v", seats)
	}
	// A rate changed now reaches the next seat only.
	if _, err := l.acc.SetRate(l.ctx, l.model, l.model, money.Money{Amount: 900, Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.svc.Seat(l.ctx, l.viewers["Ann"], seat.ID); got.Policy.RatePerMinute.Amount != 200 {
		t.Fatalf("the seat shows rate %v after the model changed hers, want the locked 2.00", got.Policy.RatePerMinute)
	}
	// Admission: the seat's bearer watches the private show, nobody else.
	if a, err := l.svc.AdmitViewer(l.ctx, sh.ID, seat.Token); err != nil || a.SeatID != seat.ID {
		t.Fatalf("seat's viewer admitted as %+v %v", a, err)
	}
	if _, err := l.svc.AdmitViewer(l.ctx, sh.ID, ""); errs.CodeOf(err) != errs.Forbidden {
		t.Fatalf("a free viewer of a private show: %v", err)
	}
	// A held request waits: she cannot take it while private.
	rs, _ := l.svc.Requests(l.ctx, l.model)
	if _, err := l.svc.Accept(l.ctx, l.model, rs[0].ID, shows.AcceptOptions{}); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("accepting a held request: %v", err)
	}

	if _, err := l.svc.EndSeat(l.ctx, l.viewers["Ann"], seat.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for got := l.states(sh.ID); got["Bob"] != shows.Waiting || got["Cy"] != shows.Waiting; got = l.states(sh.ID) {
		if time.Now().After(deadline) {
			t.Fatalf("requests once she is back: %v, want both waiting", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if back, _ := l.svc.Show(l.ctx, sh.ID); back.Mode != theme.ModePublic {
		t.Fatalf("show after the seat: %+v", back)
	}
	if seats, _ := l.live.Seats(l.ctx); len(seats) != 0 {
		t.Fatalf("an ended seat stays in the store: %+v", seats)
	}

	// Declining the others this time: their requests are gone.
	rs, _ = l.svc.Requests(l.ctx, l.model)
	if _, err := l.svc.Accept(l.ctx, l.model, rs[0].ID, shows.AcceptOptions{DeclineOthers: true}); err != nil {
		t.Fatal(err)
	}
	if got := l.states(sh.ID); len(got) != 0 {
		t.Fatalf("requests after declining the others: %v", got)
	}
	if stored, _ := l.live.Requests(l.ctx); len(stored) != 0 {
		t.Fatalf("declined requests stay in the store: %+v", stored)
	}
}

// A restart on the same live store: the show is back, public, with its key;
// the requests wait; the seat open at the stop was settled once by
// billing's Recover and is gone from the live state.
func TestService_RestartKeepsShowAndRequestsAndSettlesTheSeat(t *testing.T) {
	l := newLifecycle(t)
	sh, err := l.svc.GoLive(l.ctx, l.model)
	if err != nil {
		t.Fatal(err)
	}
	key := l.keyOf()
	ann := l.ask(sh.ID, "Ann")
	l.ask(sh.ID, "Bob")
	l.ask(sh.ID, "Cy")
	seat, err := l.svc.Accept(l.ctx, l.model, ann.ID, shows.AcceptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	l.svc.Liveness(stream.ModelMediaFlowing{ShowID: sh.ID, Since: now})
	l.svc.Liveness(stream.ViewerConnected{ShowID: sh.ID, SeatID: seat.ID, At: now})
	time.Sleep(1200 * time.Millisecond)
	if err := l.eng.Close(); err != nil {
		t.Fatal(err)
	}

	l.start()
	live, err := l.svc.Live(l.ctx)
	if err != nil || len(live) != 1 || live[0].ID != sh.ID || live[0].Mode != theme.ModePublic {
		t.Fatalf("live after the restart: %+v %v", live, err)
	}
	if id, err := l.svc.ResolveStreamKey(l.ctx, key); err != nil || id != sh.ID {
		t.Fatalf("the key after the restart: %q %v", id, err)
	}
	if got := l.states(sh.ID); len(got) != 2 || got["Bob"] != shows.Waiting || got["Cy"] != shows.Waiting {
		t.Fatalf("requests after the restart: %v", got)
	}
	if _, ok, _ := l.svc.OpenSeatOf(l.ctx, l.viewers["Ann"]); ok {
		t.Fatal("the seat is still open after the restart")
	}
	rec, err := l.eng.Receipt(l.ctx, seat.ID)
	if err != nil || rec.BillableSeconds < 1 || rec.Price.Amount <= 0 {
		t.Fatalf("receipt after the restart: %+v %v", rec, err)
	}
	end, err := l.svc.EndSeat(l.ctx, l.viewers["Ann"], seat.ID)
	if err != nil || !end.Settled || end.Receipt.Price != rec.Price {
		t.Fatalf("end after the restart: %+v %v, want the receipt again", end, err)
	}
	// Once: the wallet paid the price and nothing more.
	bal, err := l.led.Balance(l.ctx, accounts.WalletCode(l.viewers["Ann"]), "USD")
	if err != nil {
		t.Fatal(err)
	}
	if got := bal.Posted().Amount; got != 5000-rec.Price.Amount {
		t.Fatalf("wallet %d after a seat of %v, want %d", got, rec.Price, 5000-rec.Price.Amount)
	}
}

// gatedOpen holds billing's OpenSeat until released, so a test can deliver
// a media event while the seat is being funded.
type gatedOpen struct {
	shows.Engine
	opening, release chan struct{}
}

func (g *gatedOpen) OpenSeat(ctx context.Context, req billing.OpenRequest) (billing.SeatInfo, error) {
	close(g.opening)
	<-g.release
	return g.Engine.OpenSeat(ctx, req)
}

// TestModelMediaStoppingWhileASeatOpensPausesTheSeat: the model's media
// stops while the private seat she accepted is being funded. The seat must
// open paused on her media: before, the event reached no seat (the paid show
// was not yet the broadcast's) and the seat billed video that never came.
func TestModelMediaStoppingWhileASeatOpensPausesTheSeat(t *testing.T) {
	l := newLifecycle(t)
	gate := &gatedOpen{opening: make(chan struct{}), release: make(chan struct{})}
	l.wrap = func(e shows.Engine) shows.Engine { gate.Engine = e; return gate }
	l.start()
	sh, err := l.svc.GoLive(l.ctx, l.model)
	if err != nil {
		t.Fatal(err)
	}
	l.svc.Liveness(stream.ModelMediaFlowing{ShowID: sh.ID, Since: time.Now()})
	r := l.ask(sh.ID, "Ann")
	type accepted struct {
		seat shows.Seat
		err  error
	}
	done := make(chan accepted, 1)
	go func() {
		st, err := l.svc.Accept(l.ctx, l.model, r.ID, shows.AcceptOptions{})
		done <- accepted{st, err}
	}()
	select {
	case <-gate.opening:
	case <-time.After(10 * time.Second):
		t.Fatal("the seat never started opening")
	}
	l.svc.Liveness(stream.ModelMediaStopped{ShowID: sh.ID, LastPacketAt: time.Now(), Reason: "test"})
	close(gate.release)
	a := <-done
	if a.err != nil {
		t.Fatal(a.err)
	}
	l.svc.Liveness(stream.ViewerConnected{ShowID: sh.ID, SeatID: a.seat.ID, At: time.Now()})
	time.Sleep(1500 * time.Millisecond)
	st, err := l.svc.Seat(l.ctx, l.viewers["Ann"], a.seat.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Billing || st.PauseReason != "model_media" || st.BillableSeconds != 0 {
		t.Fatalf("seat after her media stopped while it opened: billing %v, pause %q, %d s billed; want paused on model_media, 0 s",
			st.Billing, st.PauseReason, st.BillableSeconds)
	}
	// Her media coming back reaches the seat: it bills.
	l.svc.Liveness(stream.ModelMediaFlowing{ShowID: sh.ID, Since: time.Now()})
	time.Sleep(1500 * time.Millisecond)
	if st, _ = l.svc.Seat(l.ctx, l.viewers["Ann"], a.seat.ID); !st.Billing {
		t.Fatalf("seat after her media came back: billing %v, pause %q", st.Billing, st.PauseReason)
	}
}
