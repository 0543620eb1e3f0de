package billing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/camkit/camkit/core/clock"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
)

// Config wires an Engine. DB and Clock are required; Ledger is required for
// wallet and prepaid seats and for every settlement that moves money.
type Config struct {
	DB     *store.DB
	Ledger Ledger
	Clock  clock.Clock
	// Processors by name (the name is part of ledger account codes and is
	// stored on each seat, so a restarted host finds the same one).
	Processors map[string]processor.Processor
	// Strategies forces a strategy per processor name (say prepaid_blocks on
	// a processor that could also hold). It must be one the processor's
	// capabilities allow. Otherwise card_hold is used where the processor can
	// authorise, capture part and void, and prepaid_blocks where it can only
	// charge a stored credential.
	Strategies map[string]Strategy
	// RefundUnused: at the end of a prepaid_blocks seat, refund the unused
	// part to the card instead of leaving it in the wallet as credit. Used
	// only where the processor declares Refund and PartialRefund.
	RefundUnused bool
	// Splitter allocates each settled amount among model, studio, affiliate
	// and platform. Without one the whole amount stays in platform:revenue.
	Splitter split.Splitter
	// Fees, when set, says what the processor keeps of a captured gross;
	// it is booked to processor:<name>:fees and the split gets the rest.
	Fees func(processorName string, gross money.Money) (money.Money, error)
	// Events receives funding warnings and seat ends. Optional.
	Events EventSink
	Log    *slog.Logger

	// CallTimeout bounds one processor call. Default 30 s.
	CallTimeout time.Duration
	// RetryMin and RetryMax bound the backoff between failed extension or
	// settlement attempts. Defaults 2 s and 30 s.
	RetryMin, RetryMax time.Duration
	// CheckpointEvery: an open seat's meter is written at least this often
	// (and on every transition). Default 5 s.
	CheckpointEvery time.Duration
	// FlushEvery is how often due checkpoints are written, all of them in one
	// multi-row statement. Default 250 ms.
	FlushEvery time.Duration
	// FutureTolerance: a liveness event stamped up to this far ahead of the
	// engine's clock is taken as "now"; further ahead it is refused. Default 2 s.
	FutureTolerance time.Duration
	// BackdateLimit is the furthest back the stream layer dates a loss (the
	// last packet or the last viewer evidence, learnt after its timeout):
	// stream.Config.MaxBackdate. Billed-so-far figures (LiveSeat) count only
	// billable time older than this, so a backdated pause never takes back
	// what a page showed. Default 7 s (the SFU's default 5 s viewer timeout,
	// its check interval and a margin).
	BackdateLimit time.Duration
}

func (c *Config) defaults() error {
	if c.DB == nil || c.Clock == nil {
		return errs.E(errs.Invalid, "billing: Config.DB and Config.Clock are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.CallTimeout, 30*time.Second)
	def(&c.RetryMin, 2*time.Second)
	def(&c.RetryMax, 30*time.Second)
	def(&c.CheckpointEvery, 5*time.Second)
	def(&c.FlushEvery, 250*time.Millisecond)
	def(&c.FutureTolerance, 2*time.Second)
	def(&c.BackdateLimit, 7*time.Second)
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	for name, s := range c.Strategies {
		if !s.Valid() || s == Wallet {
			return errs.E(errs.Invalid, "billing: strategy %q for processor %s: want card_hold or prepaid_blocks", s, name)
		}
	}
	return nil
}

// Engine meters, funds and settles seats. It is safe for concurrent use.
type Engine struct {
	cfg        Config
	db         *db
	ledger     Ledger
	clock      clock.Clock
	processors map[string]processor.Processor
	log        *slog.Logger

	mu      sync.RWMutex
	seats   map[string]*seat
	stopped bool

	flushMu    sync.Mutex
	flushTimer clock.Timer
	stats      checkpointStats

	// hook, when set by a test, is called at named points of funding and
	// settlement; a test makes it panic to simulate a crash there.
	hook func(point string)
}

// NewEngine returns an engine; it starts writing checkpoints at once. Call
// Recover before opening seats after a restart.
func NewEngine(cfg Config) (*Engine, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, db: newDB(cfg.DB), ledger: cfg.Ledger, clock: cfg.Clock,
		processors: cfg.Processors, log: cfg.Log, seats: map[string]*seat{}}
	// flushTick re-arms flushTimer under flushMu; the first tick may fire
	// before this assignment on a busy machine.
	e.flushMu.Lock()
	e.flushTimer = e.clock.AfterFunc(cfg.FlushEvery, e.flushTick)
	e.flushMu.Unlock()
	return e, nil
}

func (e *Engine) hit(point string) {
	if e.hook != nil {
		e.hook(point)
	}
}

func (e *Engine) emit(ev Event) {
	if e.cfg.Events != nil {
		e.cfg.Events.BillingEvent(ev)
	}
}

// Close stops the engine's timers and writes a last checkpoint. Open seats
// stay open in the database: the next start's Recover closes them there.
func (e *Engine) Close() error {
	if !e.halt() {
		return nil
	}
	return e.checkpoint(context.Background(), true)
}

// halt stops every timer without writing anything, as a crash would.
func (e *Engine) halt() bool {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return false
	}
	e.stopped = true
	seats := make([]*seat, 0, len(e.seats))
	for _, s := range e.seats {
		seats = append(seats, s)
	}
	e.mu.Unlock()
	e.flushMu.Lock()
	if e.flushTimer != nil {
		e.flushTimer.Stop()
	}
	e.flushMu.Unlock()
	for _, s := range seats {
		s.mu.Lock()
		s.stopTimersLocked()
		s.mu.Unlock()
	}
	return true
}

func (e *Engine) isStopped() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.stopped
}

func newID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "s" + hex.EncodeToString(b[:])
}

// chooseStrategy picks the funding strategy from the processor's declared
// capabilities and the config, and checks it can take the currency.
func (e *Engine) chooseStrategy(ctx context.Context, f Funding, currency string) (Strategy, processor.Capabilities, error) {
	if f.Processor == "" {
		if f.Credential != nil {
			return "", processor.Capabilities{}, errs.E(errs.Invalid, "billing: a credential without a processor")
		}
		return Wallet, processor.Capabilities{}, nil
	}
	if err := checkID("processor name", f.Processor, true); err != nil {
		return "", processor.Capabilities{}, err
	}
	p, ok := e.processors[f.Processor]
	if !ok {
		return "", processor.Capabilities{}, errs.E(errs.NotFound, "billing: no processor %q", f.Processor)
	}
	if f.Credential == nil || f.Credential.Token == "" {
		return "", processor.Capabilities{}, errs.E(errs.Invalid, "billing: paying with %s needs a stored credential", f.Processor)
	}
	cctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout)
	defer cancel()
	caps, err := p.Capabilities(cctx)
	if err != nil {
		return "", caps, err
	}
	if !caps.Accepts(currency) {
		return "", caps, errs.E(errs.UnknownCurrency, "billing: processor %s does not accept %s (accepts %v): lock an FX quote into one it does",
			f.Processor, currency, caps.Currencies)
	}
	canHold := caps.AuthCapture && caps.PartialCapture && caps.Void
	want, forced := e.cfg.Strategies[f.Processor]
	switch {
	case forced && want == CardHold && !canHold:
		return "", caps, errs.E(errs.Unsupported, "billing: %s cannot hold (needs auth/capture, partial capture and void)", f.Processor)
	case forced && want == PrepaidBlocks && !caps.ChargeStoredCredential:
		return "", caps, errs.E(errs.Unsupported, "billing: %s cannot charge a stored credential", f.Processor)
	case forced:
		return want, caps, nil
	case canHold:
		return CardHold, caps, nil
	case caps.ChargeStoredCredential:
		return PrepaidBlocks, caps, nil
	}
	return "", caps, errs.E(errs.Unsupported, "billing: %s can neither hold nor charge a stored credential; pay with wallet credits", f.Processor)
}

// OpenSeat locks req.Policy on a new seat, secures its first block and
// starts metering. The seat is billable only once model media flows and the
// viewer is connected (see Liveness). A decline is returned with its errs
// code and leaves nothing held.
func (e *Engine) OpenSeat(ctx context.Context, req OpenRequest) (SeatInfo, error) {
	if e.isStopped() {
		return SeatInfo{}, errs.Retry(errs.Unavailable, "billing: engine stopped")
	}
	if req.SeatID == "" {
		req.SeatID = newID()
	}
	for _, c := range []struct {
		what, id string
		req      bool
	}{{"seat id", req.SeatID, true}, {"show id", req.ShowID, true}, {"viewer id", req.ViewerID, true},
		{"model id", req.ModelID, true}, {"studio id", req.StudioID, false}, {"affiliate id", req.AffiliateID, false}} {
		if err := checkID(c.what, c.id, c.req); err != nil {
			return SeatInfo{}, err
		}
	}
	if req.Kind != split.KindPrivate && req.Kind != split.KindGroup {
		return SeatInfo{}, errs.E(errs.Invalid, "billing: seat kind %q: want private or group", req.Kind)
	}
	pol := req.Policy
	if err := pol.Validate(); err != nil {
		return SeatInfo{}, err
	}
	now := e.clock.Now()
	if pol.FX != nil && pol.FX.ExpiredAt(now) {
		return SeatInfo{}, errs.E(errs.Invalid, "billing: FX quote %s expired at %s; lock a fresh one", pol.FX.QuoteID, pol.FX.ExpiresAt.Format(time.RFC3339))
	}
	currency := pol.PaymentCurrency()
	strategy, caps, err := e.chooseStrategy(ctx, req.Funding, currency)
	if err != nil {
		return SeatInfo{}, err
	}
	if strategy != CardHold && e.ledger == nil {
		return SeatInfo{}, errs.E(errs.Invalid, "billing: %s funding needs a ledger", strategy)
	}
	block, err := pricing.BlockAmountInPaymentCurrency(pol)
	if err != nil {
		return SeatInfo{}, err
	}
	row := &seatRow{ID: req.SeatID, ShowID: req.ShowID, Kind: req.Kind, ViewerID: req.ViewerID, ModelID: req.ModelID,
		StudioID: req.StudioID, AffilID: req.AffiliateID, State: stateOpening, Strategy: strategy,
		Processor: req.Funding.Processor, Currency: currency, Policy: pol, Credential: req.Funding.Credential,
		RefundUnused: strategy == PrepaidBlocks && e.cfg.RefundUnused && caps.Refund && caps.PartialRefund,
		OpenedAt:     now}
	if err := e.db.insertSeat(ctx, row); err != nil {
		return SeatInfo{}, err
	}
	s := newSeat(e, row, block)
	s.fundMu.Lock() // nobody else knows the seat yet; settle takes it again
	res := e.fundStep(ctx, s, 1)
	s.fundMu.Unlock()
	if res.err != nil {
		return SeatInfo{}, e.failOpen(ctx, s, res)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	openedAt := e.clock.Now()
	if err := s.m.SeatOpened(openedAt); err != nil {
		return SeatInfo{}, err
	}
	ck := s.takeCheckpointLocked(openedAt)
	err = e.db.pipeline(ctx, append([]stmt{{query: `UPDATE billing_seats SET state = 'open' WHERE id = ? AND state = 'opening'`, args: []any{row.ID}}},
		e.db.checkpointStmts([]checkpoint{ck})...)...)
	if err != nil {
		// Funded but not recorded as open: close it at once (nothing is
		// billable yet) and let settlement release the hold.
		s.closeLocked(openedAt, ClosedByViewer)
		go e.settle(context.Background(), s)
		return SeatInfo{}, err
	}
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return SeatInfo{}, errs.Retry(errs.Unavailable, "billing: engine stopped")
	}
	e.seats[row.ID] = s
	e.mu.Unlock()
	s.rearmLocked(openedAt)
	return SeatInfo{ID: row.ID, Strategy: strategy, Currency: currency, Funded: s.funded, FundedSeconds: s.fundedSecs, OpenedAt: openedAt}, nil
}

// failOpen handles a first block that was not secured. A plain decline
// moved nothing: the seat is marked failed. Anything else may have left a
// hold or a charge behind (an unknown outcome, or a processor that moved
// other money than asked): the seat is closed at zero and settled, which
// finishes or releases whatever is there.
func (e *Engine) failOpen(ctx context.Context, s *seat, res fundResult) error {
	if res.declined {
		if err := e.db.setSeatState(ctx, e.db.sql, s.row.ID, stateFailed, res.err.Error()); err != nil {
			e.log.Error("billing: marking seat failed", "seat", s.row.ID, "err", err)
		}
		return res.err
	}
	s.mu.Lock()
	s.closeLocked(e.clock.Now(), ClosedFundingRejected)
	s.mu.Unlock()
	if _, err := e.settle(ctx, s); err != nil {
		e.log.Warn("billing: releasing a failed first block", "seat", s.row.ID, "err", err)
	}
	return res.err
}

// Liveness feeds one liveness event (ModelMediaFlowing/Stopped,
// ViewerConnected/Disconnected) to a seat's meter. An unknown seat is
// errs.NotFound, a closed one errs.Conflict; an event the meter refuses (out
// of order, twice) is returned as the meter's error and changes nothing.
func (e *Engine) Liveness(seatID string, ev meter.Event) error {
	switch ev.Kind {
	case meter.ModelMediaFlowing, meter.ModelMediaStopped, meter.ViewerConnected, meter.ViewerDisconnected:
	default:
		return errs.E(errs.Invalid, "billing: %v is not a liveness event (open and end seats through the engine)", ev.Kind)
	}
	s, err := e.lookup(seatID)
	if err != nil {
		return err
	}
	now := e.clock.Now()
	if ev.At.After(now.Add(e.cfg.FutureTolerance)) {
		return errs.E(errs.Invalid, "billing: %v at %s is ahead of the clock (%s)", ev.Kind, ev.At.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
	}
	if ev.At.After(now) {
		ev.At = now // the viewer's favour either way: a gain later, a loss sooner
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return seatClosed("billing: seat %s is closed", seatID)
	}
	if err := s.m.Apply(ev); err != nil {
		s.mu.Unlock()
		return err
	}
	s.markDirtyLocked(now)
	closing := s.checkDueLocked(now)
	if !closing {
		s.rearmLocked(now)
	}
	s.mu.Unlock()
	if closing {
		// Funding ran out before the guard fired (a late timer): the seat is
		// closed at the right instant already; settle it off the caller's
		// goroutine, which delivers every seat's liveness.
		go e.settle(context.Background(), s)
	}
	return nil
}

func (e *Engine) lookup(seatID string) (*seat, error) {
	e.mu.RLock()
	s := e.seats[seatID]
	e.mu.RUnlock()
	if s != nil {
		return s, nil
	}
	// Not in memory: closed and settled, or never here.
	r, err := e.db.seat(context.Background(), e.db.sql, seatID)
	if err != nil {
		return nil, err
	}
	return nil, seatClosed("billing: seat %s is %s", seatID, r.State)
}

// EndSeat ends a seat now (by the viewer or the model) and settles it. It
// is idempotent: a repeat, one after the other or at the same time, gets
// the answer the seat's state gives, whoever ended it (the first end's
// reason stays). Settled: the receipt. Closed but not settled yet (a
// processor or plugin is down): the close decision with SeatEnd.Settled
// false; the meter stopped at the end either way, and settlement completes
// by itself in the background. A seat whose settlement stopped for an
// operator is an errs.Internal error, the same for every repeat.
func (e *Engine) EndSeat(ctx context.Context, seatID string, reason CloseReason) (SeatEnd, error) {
	if reason != ClosedByViewer && reason != ClosedByModel {
		return SeatEnd{}, errs.E(errs.Invalid, "billing: end reason %q: want viewer or model", reason)
	}
	if err := checkID("seat id", seatID, true); err != nil {
		return SeatEnd{}, err
	}
	e.mu.RLock()
	s := e.seats[seatID]
	e.mu.RUnlock()
	if s == nil {
		// Not metered here: settled, failed, or closed by a recovery that
		// retries its settlement in the background.
		return e.endStored(ctx, seatID)
	}
	s.mu.Lock()
	first := !s.closed
	s.closeLocked(e.clock.Now(), reason) // a seat closed already keeps its decision
	s.mu.Unlock()
	if !first {
		// Whoever closed it settles it (and retries in the background): a
		// repeat waits for that first attempt, then reads its outcome. It
		// never makes processor calls of its own, so ending again and again
		// cannot hammer a processor that is down.
		select {
		case <-s.tried:
		case <-ctx.Done():
		}
		s.mu.Lock()
		settled, failed := s.settled, s.failed
		s.mu.Unlock()
		switch {
		case settled:
			return e.endStored(ctx, seatID)
		case failed != nil:
			return SeatEnd{}, settlementStopped(seatID, failed.Error())
		}
		return e.settling(s), nil
	}
	// A caller that gives up meanwhile leaves the rest to the background retry.
	rec, err := e.settle(ctx, s)
	switch {
	case err == nil && rec != nil:
		return SeatEnd{Settled: true, Receipt: *rec, Status: statusOf(rec)}, nil
	case err == nil:
		return e.endStored(ctx, seatID) // settled by another call meanwhile
	case !retryable(err):
		return SeatEnd{}, settlementStopped(seatID, err.Error())
	}
	return e.settling(s), nil
}

// settling is a live seat's answer while its settlement is not done.
func (e *Engine) settling(s *seat) SeatEnd {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.decision
	out := SeatEnd{Status: SeatStatus{SeatID: s.row.ID, State: SeatSettling, ClosedAt: ts(d.at), CloseReason: d.reason,
		BillableSeconds: d.billable, Price: money.Money{Amount: d.price, Currency: s.row.Currency},
		Funded: money.Money{Amount: d.fundedAmount, Currency: s.row.Currency}}, RetryAfter: e.cfg.RetryMin}
	if !s.settleAt.IsZero() {
		out.RetryAfter = max(s.settleAt.Sub(e.clock.Now()), time.Second)
	}
	return out
}

// endStored answers an end of a seat this engine does not meter, from the
// database.
func (e *Engine) endStored(ctx context.Context, seatID string) (SeatEnd, error) {
	sr, err := e.db.seat(ctx, e.db.sql, seatID)
	if err != nil {
		return SeatEnd{}, err
	}
	switch {
	case sr.State == stateSettled:
		rec, err := e.db.receipt(ctx, seatID)
		if err != nil {
			return SeatEnd{}, err
		}
		if rec == nil {
			return SeatEnd{}, errs.E(errs.Internal, "billing: seat %s is settled without a receipt", seatID)
		}
		return SeatEnd{Settled: true, Receipt: *rec, Status: statusOf(rec)}, nil
	case sr.State == stateClosed:
		return SeatEnd{Status: SeatStatus{SeatID: sr.ID, State: SeatSettling, ClosedAt: sr.ClosedAt.Time.UTC(),
			CloseReason: sr.CloseReason, BillableSeconds: sr.BillableSeconds.Int64,
			Price: money.Money{Amount: sr.PriceAmount.Int64, Currency: sr.Currency}, Funded: sr.funded()},
			RetryAfter: e.cfg.RetryMin}, nil
	case sr.State == stateFailed && sr.ClosedAt.Valid:
		return SeatEnd{}, settlementStopped(seatID, sr.LastError)
	case sr.State == stateFailed:
		return SeatEnd{}, errs.E(errs.Conflict, "billing: seat %s never opened: its first block was not secured", seatID)
	}
	return SeatEnd{}, errs.E(errs.Conflict, "billing: seat %s is %s, and another host meters it", seatID, sr.State)
}

func statusOf(r *Receipt) SeatStatus {
	return SeatStatus{SeatID: r.SeatID, State: SeatSettled, ClosedAt: r.ClosedAt, CloseReason: r.CloseReason,
		BillableSeconds: r.BillableSeconds, Price: r.Price, Funded: r.Funded}
}

// settlementStopped is the end of a seat whose settlement failed for good:
// the seat is closed, and an operator must look (why is for the log only).
func settlementStopped(seatID, why string) error {
	return errs.E(errs.Internal, "billing: seat %s is closed; its settlement stopped for an operator: %s", seatID, why)
}

// Receipt returns a settled seat's receipt: errs.NotFound for an unknown
// seat, errs.Conflict while it is not settled yet (or its settlement waits
// for an operator; why is in the log and the seat's last_error, not here:
// this message reaches people).
func (e *Engine) Receipt(ctx context.Context, seatID string) (Receipt, error) {
	r, err := e.db.receipt(ctx, seatID)
	if err != nil {
		return Receipt{}, err
	}
	if r != nil {
		return *r, nil
	}
	sr, err := e.db.seat(ctx, e.db.sql, seatID)
	if err != nil {
		return Receipt{}, err
	}
	if sr.State == stateFailed {
		return Receipt{}, errs.E(errs.Conflict, "billing: seat %s is waiting for review by the operator; a receipt is written when it is settled", seatID)
	}
	return Receipt{}, errs.E(errs.Conflict, "billing: seat %s is %s; a receipt is written when it is settled", seatID, sr.State)
}

// OpenSeats reports how many seats this engine meters.
func (e *Engine) OpenSeats() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.seats)
}

// SeatState is a seat's state as stored: opening, open, closed, settled or failed.
func (e *Engine) SeatState(ctx context.Context, seatID string) (string, error) {
	sr, err := e.db.seat(ctx, e.db.sql, seatID)
	if err != nil {
		return "", err
	}
	return sr.State, nil
}
