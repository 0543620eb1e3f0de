package billing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/split"
)

// Reversal is money a processor took back (a refund or a chargeback) from a
// seat, as booked in the ledger and marked on the seat's receipt.
type Reversal struct {
	EventID          string              `json:"event_id"`
	Type             processor.EventType `json:"type"`              // refund or chargeback
	Reference        string              `json:"reference"`         // the processor's id of the refund or chargeback
	RelatedReference string              `json:"related_reference"` // the capture or block charge it reverses
	Amount           money.Money         `json:"amount"`
	// FromWallet is the part taken back out of unused prepaid credit still in
	// the viewer's wallet; the rest came out of the seat's price.
	FromWallet money.Money `json:"from_wallet"`
	// Clawback is what each party gave back of its share, in proportion to
	// the part of the price reversed; the platform bears the rest.
	Clawback        []split.Share    `json:"clawback,omitempty"`
	Reason          string           `json:"reason,omitempty"`
	At              time.Time        `json:"at"`
	LedgerTransfers []LedgerTransfer `json:"ledger_transfers"`
}

// Outcomes of a processor_events row.
const (
	eventPending   = "pending"
	eventReversed  = "reversed"
	eventRecorded  = "recorded"
	eventUnmatched = "unmatched"
)

// Details of recorded processor_events rows that other readers of the table
// (camkit reconcile) rely on: EventMovedNoMoney starts the detail of an event
// that moved nothing (a decline, a failed rebill, a zero amount), whatever
// amount it names; EventOwnRefund that of a refund event reporting a refund
// billing itself made (unused prepaid time), booked when it was made.
const (
	EventMovedNoMoney = "moved no money"
	EventOwnRefund    = "camkit's own refund"
)

// chargebacksAccount carries what chargebacks cost the platform.
const chargebacksAccount = "chargebacks"

// TopUpKey is the ledger key under which wallet credits bought with a
// processor's hosted sale (an Epoch credit pack, whose money reaches camkit
// by postback only) are booked: processor:<name>:clearing -> the viewer's
// wallet. A refund or chargeback of that sale finds the credits by it.
func TopUpKey(processorName, reference string) string {
	return "topup/" + processorName + "/" + reference
}

// balancer is the ledger's balance read. Billing's Ledger interface does not
// require it; with it, a clawback takes no more than a party still has.
type balancer interface {
	Balance(ctx context.Context, code, currency string) (ledger.Balance, error)
}

// reversalPlan is decided once per event and stored before any money moves,
// so a redelivery after a crash books exactly the same transfers.
type reversalPlan struct {
	Reversal Reversal         `json:"reversal"`
	Ledger   []ledger.Request `json:"ledger"`
}

// HandleProcessorEvents records verified processor events once each (by
// processor and Event.ID) and books refunds and chargebacks as reversal
// transfers: the money the processor took back leaves its clearing account,
// out of the viewer's unused prepaid credit first, then out of the seat's
// price, with each party's share clawed back in proportion (the platform
// bears the rest, and a chargeback's loss is carried on the chargebacks
// account); the reversal is marked on the seat's receipt. It implements the
// web layer's WebhookSink. A retryable error means nothing was lost: the web
// layer answers 503 and the processor redelivers.
func (e *Engine) HandleProcessorEvents(ctx context.Context, processorName string, events []processor.Event) error {
	if err := checkID("processor", processorName, true); err != nil {
		return err
	}
	for _, ev := range events {
		if err := e.handleProcessorEvent(ctx, processorName, ev); err != nil {
			return err
		}
	}
	return nil
}

// eventRow is a processor_events row.
type eventRow struct {
	Outcome, SeatID, Plan string
}

func (e *Engine) handleProcessorEvent(ctx context.Context, name string, ev processor.Event) error {
	if ev.ID == "" {
		return errs.E(errs.Invalid, "billing: %s event of type %s without an id", name, ev.Type)
	}
	if ev.Amount.Amount < 0 {
		return errs.E(errs.Invalid, "billing: %s event %s: negative amount %s", name, ev.ID, ev.Amount)
	}
	row, err := e.eventRow(ctx, name, ev.ID)
	if err != nil {
		return err
	}
	switch {
	case row == nil:
	case row.Outcome == eventPending:
		return e.applyReversal(ctx, name, ev.ID, row)
	default:
		return nil // a redelivery of what is recorded
	}
	if ev.DeclineCode != "" || ev.Amount.Amount == 0 {
		// A failed rebill names the amount it tried to take: say it took nothing.
		return e.recordEvent(ctx, name, ev, eventRecorded, "", nil, EventMovedNoMoney)
	}
	if ev.Type != processor.EventRefund && ev.Type != processor.EventChargeback {
		return e.recordEvent(ctx, name, ev, eventRecorded, "", nil, "")
	}
	plan, seatID, why, err := e.planReversal(ctx, name, ev)
	if err != nil {
		return err
	}
	if plan == nil {
		outcome := eventUnmatched
		if strings.HasPrefix(why, EventOwnRefund) {
			outcome = eventRecorded // booked when billing made it
		} else {
			e.log.Warn("billing: a processor reversal could not be traced; left for an operator", "processor", name, "event", ev.ID, "why", why)
		}
		return e.recordEvent(ctx, name, ev, outcome, seatID, nil, why)
	}
	if err := e.recordEvent(ctx, name, ev, eventPending, seatID, plan, ""); err != nil {
		return err
	}
	// A concurrent delivery may have inserted first: apply what is stored.
	row, err = e.eventRow(ctx, name, ev.ID)
	if err != nil {
		return err
	}
	if row == nil || row.Outcome != eventPending {
		return nil
	}
	return e.applyReversal(ctx, name, ev.ID, row)
}

// replanUnmatched plans again the refunds and chargebacks of saleRef that
// were recorded unmatched because they arrived before the sale itself:
// Epoch's DataPlus and FlexPost are separate feeds, so a reversal can be
// delivered before the postback that books its top-up, and a redelivery of
// the reversal (a recorded event id) would never look again. Called once the
// sale is booked; a reversal still untraceable stays unmatched.
func (e *Engine) replanUnmatched(ctx context.Context, name, saleRef string) error {
	rows, err := e.db.sql.QueryContext(ctx, e.db.q(`SELECT event_id, type, reference, amount, currency FROM processor_events
WHERE processor = ? AND related_reference = ? AND outcome = ? ORDER BY received_at`), name, saleRef, eventUnmatched)
	if err != nil {
		return dbErr(err)
	}
	var evs []processor.Event
	for rows.Next() {
		ev := processor.Event{RelatedReference: saleRef}
		var typ string
		if err := rows.Scan(&ev.ID, &typ, &ev.Reference, &ev.Amount.Amount, &ev.Amount.Currency); err != nil {
			rows.Close()
			return dbErr(err)
		}
		ev.Type = processor.EventType(typ)
		evs = append(evs, ev)
	}
	if err := rows.Close(); err != nil {
		return dbErr(err)
	}
	for _, ev := range evs {
		plan, seatID, _, err := e.planReversal(ctx, name, ev)
		if err != nil || plan == nil {
			if err != nil {
				return err
			}
			continue
		}
		b, err := json.Marshal(plan)
		if err != nil {
			return errs.E(errs.Internal, "billing: encoding the reversal of %s: %v", ev.ID, err)
		}
		if _, err := e.db.sql.ExecContext(ctx, e.db.q(`UPDATE processor_events SET outcome = ?, seat_id = ?, plan = ?, detail = '', done_at = NULL
WHERE processor = ? AND event_id = ? AND outcome = ?`), eventPending, seatID, string(b), name, ev.ID, eventUnmatched); err != nil {
			return dbErr(err)
		}
		row, err := e.eventRow(ctx, name, ev.ID)
		if err != nil {
			return err
		}
		if row != nil && row.Outcome == eventPending {
			e.log.Info("billing: a reversal delivered before its sale is booked now", "processor", name, "event", ev.ID, "sale", saleRef)
			if err := e.applyReversal(ctx, name, ev.ID, row); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *Engine) eventRow(ctx context.Context, name, id string) (*eventRow, error) {
	var r eventRow
	err := e.db.sql.QueryRowContext(ctx, e.db.q(`SELECT outcome, seat_id, plan FROM processor_events WHERE processor = ? AND event_id = ?`),
		name, id).Scan(&r.Outcome, &r.SeatID, &r.Plan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, dbErr(err)
	}
	return &r, nil
}

// recordEvent inserts the event's row unless it exists (a concurrent
// delivery won: its row stands).
func (e *Engine) recordEvent(ctx context.Context, name string, ev processor.Event, outcome, seatID string, plan *reversalPlan, detail string) error {
	var planJSON string
	if plan != nil {
		b, err := json.Marshal(plan)
		if err != nil {
			return errs.E(errs.Internal, "billing: encoding the reversal of %s: %v", ev.ID, err)
		}
		planJSON = string(b)
	}
	var occurred any
	if !ev.OccurredAt.IsZero() {
		occurred = ts(ev.OccurredAt)
	}
	now := ts(e.clock.Now())
	var done any
	if outcome != eventPending {
		done = now
	}
	_, err := e.db.sql.ExecContext(ctx, e.db.q(`INSERT INTO processor_events
(processor, event_id, type, reference, related_reference, amount, currency, outcome, seat_id, plan, detail, occurred_at, received_at, done_at)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (processor, event_id) DO NOTHING`),
		name, ev.ID, string(ev.Type), ev.Reference, ev.RelatedReference, ev.Amount.Amount, ev.Amount.Currency,
		outcome, seatID, planJSON, detail, occurred, now, done)
	return dbErr(err)
}

// applyReversal books a stored plan (the ledger repeats nothing under its
// keys) and marks it on the receipt, once.
func (e *Engine) applyReversal(ctx context.Context, name, id string, row *eventRow) error {
	var plan reversalPlan
	if err := json.Unmarshal([]byte(row.Plan), &plan); err != nil {
		return errs.E(errs.Internal, "billing: stored reversal of %s event %s: %v", name, id, err)
	}
	if e.ledger == nil {
		return errs.E(errs.Internal, "billing: a reversal needs a ledger")
	}
	transfers, err := e.ledger.Batch(ctx, plan.Ledger)
	if err != nil {
		return err
	}
	rev := plan.Reversal
	for _, t := range transfers {
		rev.LedgerTransfers = append(rev.LedgerTransfers, LedgerTransfer{Key: t.Key, ID: t.ID, Kind: string(t.Kind),
			Debit: t.Debit, Credit: t.Credit, Amount: t.Amount})
	}
	return e.db.tx(ctx, func(tx execer) error {
		res, err := tx.ExecContext(ctx, e.db.q(`UPDATE processor_events SET outcome = ?, done_at = ? WHERE processor = ? AND event_id = ? AND outcome = ?`),
			eventReversed, ts(e.clock.Now()), name, id, eventPending)
		if err != nil {
			return dbErr(err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 || row.SeatID == "" {
			return dbErr(err) // another delivery finished it, or no seat to mark
		}
		var raw string
		if err := tx.QueryRowContext(ctx, e.db.q(`SELECT receipt FROM billing_receipts WHERE seat_id = ?`), row.SeatID).Scan(&raw); err != nil {
			return dbErr(err)
		}
		var rec Receipt
		if err := json.Unmarshal([]byte(raw), &rec); err != nil {
			return errs.E(errs.Internal, "billing: seat %s: stored receipt: %v", row.SeatID, err)
		}
		rec.Reversals = append(rec.Reversals, rev)
		b, err := json.Marshal(rec)
		if err != nil {
			return errs.E(errs.Internal, "billing: encoding receipt: %v", err)
		}
		_, err = tx.ExecContext(ctx, e.db.q(`UPDATE billing_receipts SET receipt = ? WHERE seat_id = ?`), string(b), row.SeatID)
		return dbErr(err)
	})
}

// planReversal decides the transfers of a refund or chargeback. A nil plan
// with a reason means the money cannot be traced to a seat or a top-up.
func (e *Engine) planReversal(ctx context.Context, name string, ev processor.Event) (*reversalPlan, string, string, error) {
	if ev.RelatedReference == "" {
		return nil, "", "no related reference names the original transaction", nil
	}
	sr, step, err := e.seatOfReference(ctx, name, ev.RelatedReference)
	if err != nil {
		return nil, "", "", err
	}
	if sr == nil {
		return e.planTopUpReversal(ctx, name, ev)
	}
	switch sr.State {
	case stateSettled:
	case stateFailed:
		return nil, sr.ID, "seat " + sr.ID + " failed before it settled: " + sr.LastError, nil
	default:
		// Settlement is under way: the processor redelivers after the 503.
		return nil, "", "", errs.Retry(errs.Unavailable, "billing: seat %s is %s; its reversal waits for settlement", sr.ID, sr.State)
	}
	if ev.Amount.Currency != sr.Currency {
		return nil, sr.ID, fmt.Sprintf("%s of %s against a seat paid in %s", ev.Type, ev.Amount, sr.Currency), nil
	}
	if ev.Type == processor.EventRefund {
		own, err := e.isOwnRefund(ctx, sr.ID, ev)
		if err != nil {
			return nil, "", "", err
		}
		if own {
			return nil, sr.ID, EventOwnRefund + " (unused prepaid time, already booked)", nil
		}
	}
	price := sr.PriceAmount.Int64
	prior, err := e.reversedSoFar(ctx, sr.ID, name, ev.RelatedReference)
	if err != nil {
		return nil, "", "", err
	}
	amount := ev.Amount.Amount
	wantWallet := int64(0)
	if sr.Strategy == PrepaidBlocks {
		block, used, err := e.blockUse(ctx, sr, step)
		if err != nil {
			return nil, "", "", err
		}
		if amount > block-prior.block {
			return nil, sr.ID, fmt.Sprintf("%s of %s exceeds the %d left of block %d (%s)", ev.Type, ev.Amount, block-prior.block, step, ev.RelatedReference), nil
		}
		// Unused credit goes back first; earlier reversals of the block took from it first too.
		wantWallet = min(amount, max(0, block-used-prior.block))
	} else if amount > price-prior.seat {
		return nil, sr.ID, fmt.Sprintf("%s of %s exceeds the %d of the price not yet reversed", ev.Type, ev.Amount, price-prior.seat), nil
	}

	cur := sr.Currency
	pfx := "reversal/" + name + "/" + ev.ID + "/"
	contra := revenueAccount // a refund gives revenue back
	if ev.Type == processor.EventChargeback {
		contra = chargebacksAccount // a chargeback is a loss the platform carries
	}
	rev := Reversal{EventID: ev.ID, Type: ev.Type, Reference: ev.Reference, RelatedReference: ev.RelatedReference,
		Amount: ev.Amount, FromWallet: money.Money{Currency: cur}, Reason: ev.Reason, At: e.clock.Now().UTC()}
	var reqs []ledger.Request
	memo := string(ev.Type) + " " + ev.RelatedReference + " " + describe(sr)
	fromWallet := int64(0)
	if wantWallet > 0 {
		fromWallet = min(wantWallet, e.available(ctx, walletAccount(sr.ViewerID), cur, wantWallet))
		if fromWallet > 0 {
			reqs = append(reqs, ledger.Request{Key: pfx + "wallet", Kind: ledger.Single, Debit: walletAccount(sr.ViewerID),
				Credit: clearingAccount(name), Amount: money.Money{Amount: fromWallet, Currency: cur}, Memo: memo})
			rev.FromWallet.Amount = fromWallet
		}
	}
	// The part of the price reversed, shared by the parties; credit the
	// viewer already spent elsewhere is the platform's loss alone.
	fromPrice := amount - wantWallet
	shortfall := wantWallet - fromWallet
	if rest := fromPrice + shortfall; rest > 0 {
		reqs = append(reqs, ledger.Request{Key: pfx + "clearing", Kind: ledger.Single, Debit: contra,
			Credit: clearingAccount(name), Amount: money.Money{Amount: rest, Currency: cur}, Memo: memo})
	}
	if fromPrice > 0 && price > 0 {
		shares, err := e.settledAllocation(ctx, sr)
		if err != nil {
			return nil, "", "", err
		}
		for _, sh := range shares {
			if sh.Role == split.RolePlatform || sh.Amount.Amount <= 0 {
				continue
			}
			// Floor: rounding never takes more from a party than its part.
			back, ok := money.MulInt64(sh.Amount.Amount, fromPrice)
			if !ok {
				return nil, "", "", errs.E(errs.Internal, "billing: clawback of %s overflows", sh.Amount)
			}
			back /= price
			account := string(sh.Role) + ":" + sh.PartyID + ":earnings"
			back = min(back, e.available(ctx, account, cur, back))
			if back <= 0 {
				continue
			}
			m := money.Money{Amount: back, Currency: cur}
			reqs = append(reqs, ledger.Request{Key: pfx + "clawback/" + string(sh.Role), Kind: ledger.Single, Debit: account,
				Credit: contra, Amount: m, Memo: memo})
			rev.Clawback = append(rev.Clawback, split.Share{Role: sh.Role, PartyID: sh.PartyID, Amount: m})
		}
	}
	return &reversalPlan{Reversal: rev, Ledger: reqs}, sr.ID, "", nil
}

// planTopUpReversal reverses wallet credits bought with a hosted sale
// (TopUpKey): the viewer's remaining credit goes back first; what the viewer
// already spent is the platform's loss.
func (e *Engine) planTopUpReversal(ctx context.Context, name string, ev processor.Event) (*reversalPlan, string, string, error) {
	type byKey interface {
		TransferByKey(ctx context.Context, key string) (ledger.Transfer, error)
	}
	l, ok := e.ledger.(byKey)
	if !ok {
		return nil, "", "no seat funding or top-up carries reference " + ev.RelatedReference, nil
	}
	t, err := l.TransferByKey(ctx, TopUpKey(name, ev.RelatedReference))
	if errs.CodeOf(err) == errs.NotFound {
		return nil, "", "no seat funding or top-up carries reference " + ev.RelatedReference, nil
	}
	if err != nil {
		return nil, "", "", err
	}
	if t.Amount.Currency != ev.Amount.Currency || ev.Amount.Amount > t.Amount.Amount {
		return nil, "", fmt.Sprintf("%s of %s against a top-up of %s", ev.Type, ev.Amount, t.Amount), nil
	}
	cur := t.Amount.Currency
	pfx := "reversal/" + name + "/" + ev.ID + "/"
	memo := string(ev.Type) + " of top-up " + ev.RelatedReference
	fromWallet := min(ev.Amount.Amount, e.available(ctx, t.Credit, cur, ev.Amount.Amount))
	var reqs []ledger.Request
	if fromWallet > 0 {
		reqs = append(reqs, ledger.Request{Key: pfx + "wallet", Kind: ledger.Single, Debit: t.Credit, Credit: clearingAccount(name),
			Amount: money.Money{Amount: fromWallet, Currency: cur}, Memo: memo})
	}
	if rest := ev.Amount.Amount - fromWallet; rest > 0 {
		contra := revenueAccount
		if ev.Type == processor.EventChargeback {
			contra = chargebacksAccount
		}
		reqs = append(reqs, ledger.Request{Key: pfx + "clearing", Kind: ledger.Single, Debit: contra, Credit: clearingAccount(name),
			Amount: money.Money{Amount: rest, Currency: cur}, Memo: memo})
	}
	rev := Reversal{EventID: ev.ID, Type: ev.Type, Reference: ev.Reference, RelatedReference: ev.RelatedReference, Amount: ev.Amount,
		FromWallet: money.Money{Amount: fromWallet, Currency: cur}, Reason: ev.Reason, At: e.clock.Now().UTC()}
	return &reversalPlan{Reversal: rev, Ledger: reqs}, "", "", nil
}

// available is what account can still give (its Available balance), capped
// at want; without a balance reader it is want.
func (e *Engine) available(ctx context.Context, account, currency string, want int64) int64 {
	b, ok := e.ledger.(balancer)
	if !ok {
		return want
	}
	bal, err := b.Balance(ctx, account, currency)
	if err != nil {
		return 0 // no such account: nothing to take
	}
	return max(0, min(want, bal.Available().Amount))
}

// seatOfReference finds the seat whose money a processor reference moved:
// a card authorisation or prepaid block charge (its funding step), or the
// capture that settled it.
func (e *Engine) seatOfReference(ctx context.Context, name, ref string) (*seatRow, int, error) {
	var seatID string
	var step int
	err := e.db.sql.QueryRowContext(ctx, e.db.q(`SELECT f.seat_id, f.n FROM billing_funding f JOIN billing_seats s ON s.id = f.seat_id
WHERE s.processor = ? AND f.reference = ? AND f.kind IN ('card_hold', 'charge') ORDER BY f.n LIMIT 1`), name, ref).Scan(&seatID, &step)
	if errors.Is(err, sql.ErrNoRows) {
		// A capture may have a reference of its own (the sandbox's does).
		rows, qerr := e.db.sql.QueryContext(ctx, e.db.q(`SELECT i.seat_id, i.step, i.result FROM billing_intents i JOIN billing_seats s ON s.id = i.seat_id
WHERE s.processor = ? AND i.op = 'capture' AND i.state = 'succeeded' AND i.result LIKE ?`), name, "%"+likeEscape(ref)+"%")
		if qerr != nil {
			return nil, 0, dbErr(qerr)
		}
		seatID = ""
		for rows.Next() {
			var id, raw string
			var n int
			if err := rows.Scan(&id, &n, &raw); err != nil {
				rows.Close()
				return nil, 0, dbErr(err)
			}
			var res processor.CaptureResult
			if json.Unmarshal([]byte(raw), &res) == nil && res.Reference == ref {
				seatID, step = id, n
				break
			}
		}
		// Closed before the seat is read: on SQLite's one connection, open
		// rows would keep that read waiting for ever.
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, 0, dbErr(err)
		}
		if seatID == "" {
			return nil, 0, nil
		}
	} else if err != nil {
		return nil, 0, dbErr(err)
	}
	sr, err := e.db.seat(ctx, e.db.sql, seatID)
	return sr, step, err
}

// likeEscape makes s a LIKE pattern that matches at least s: '%' becomes the
// one-character wildcard, and '_' is one already; matches are checked exactly.
func likeEscape(s string) string {
	return strings.ReplaceAll(s, `%`, `_`)
}

// blockUse returns prepaid block n's amount and how much of it the price used
// (blocks are used in order).
func (e *Engine) blockUse(ctx context.Context, sr *seatRow, n int) (block, used int64, err error) {
	fund, err := e.db.funding(ctx, sr.ID)
	if err != nil {
		return 0, 0, err
	}
	left := sr.PriceAmount.Int64
	for _, f := range fund {
		if f.Kind != stepCharge {
			continue
		}
		u := min(left, f.Amount)
		if f.N == n {
			return f.Amount, u, nil
		}
		left -= u
	}
	return 0, 0, errs.E(errs.Internal, "billing: seat %s has no block charge %d", sr.ID, n)
}

// isOwnRefund reports whether a refund event is the processor's report of a
// refund billing made itself: a succeeded refund intent of the seat for the
// same charge and amount that no earlier event has been matched with.
func (e *Engine) isOwnRefund(ctx context.Context, seatID string, ev processor.Event) (bool, error) {
	its, err := e.db.intents(ctx, seatID)
	if err != nil {
		return false, err
	}
	made := 0
	for _, it := range its {
		if r := it.Request.Refund; it.Op == opRefund && it.State == intentSucceeded && r != nil &&
			r.Reference == ev.RelatedReference && r.Amount == ev.Amount {
			made++
		}
	}
	if made == 0 {
		return false, nil
	}
	var matched int
	err = e.db.sql.QueryRowContext(ctx, e.db.q(`SELECT COUNT(*) FROM processor_events WHERE seat_id = ? AND related_reference = ?
AND amount = ? AND outcome = ? AND detail LIKE ?`), seatID, ev.RelatedReference, ev.Amount.Amount, eventRecorded, EventOwnRefund+"%").Scan(&matched)
	if err != nil {
		return false, dbErr(err)
	}
	return matched < made, nil
}

type priorReversals struct{ seat, block int64 }

// reversedSoFar sums the reversals already booked (or decided) for a seat,
// and for one of its references.
func (e *Engine) reversedSoFar(ctx context.Context, seatID, name, ref string) (priorReversals, error) {
	var p priorReversals
	err := e.db.sql.QueryRowContext(ctx, e.db.q(`SELECT COALESCE(SUM(amount), 0),
COALESCE(SUM(CASE WHEN processor = ? AND related_reference = ? THEN amount ELSE 0 END), 0)
FROM processor_events WHERE seat_id = ? AND outcome IN ('pending', 'reversed')`), name, ref, seatID).Scan(&p.seat, &p.block)
	return p, dbErr(err)
}

// settledAllocation is the split the seat's settlement booked.
func (e *Engine) settledAllocation(ctx context.Context, sr *seatRow) ([]split.Share, error) {
	it, err := e.db.intent(ctx, e.db.sql, keyLedger(sr.ID, "settle"))
	if errs.CodeOf(err) == errs.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, nil
	}
	return it.Request.Allocation, nil
}
