package reconcile

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// SQL reads both of camkit's sides from its database (PostgreSQL or
// SQLite): the ledger's transfers and the records that name the processor
// transactions behind them (billing_intents, billing_funding,
// processor_events, credit_pack_purchases). It reads what those packages
// write and changes nothing.
type SQL struct {
	db      *sql.DB
	dialect store.Dialect
}

var (
	_ Books   = (*SQL)(nil)
	_ Records = (*SQL)(nil)
)

// NewSQL reads db.
func NewSQL(db *store.DB) *SQL { return &SQL{db: db.SQL(), dialect: db.Dialect()} }

func (s *SQL) q(query string) string { return s.dialect.Rebind(query) }

func dbErr(err error) error {
	if err == nil {
		return nil
	}
	return errs.Retry(errs.Unavailable, "reconcile: database: %v", err)
}

// rows runs query and hands each row to scan; the rows are closed before
// it returns (SQLite runs one connection: nothing else can be asked while
// they are open).
func (s *SQL) rows(ctx context.Context, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return dbErr(err)
	}
	for rows.Next() {
		if err := scan(rows); err != nil {
			rows.Close()
			return dbErr(err)
		}
	}
	return dbErr(errors.Join(rows.Err(), rows.Close()))
}

func clearingCode(name string) string { return "processor:" + name + ":clearing" }

// transfer is a clearing transfer as read.
type transfer struct {
	key      string
	amount   money.Money
	at       time.Time
	credited bool // money went back through the processor (a refund, a chargeback, a fee)
}

// Clearing traces each clearing transfer by its idempotency key, the one
// scheme of the packages that write them:
//
//	seat/<id>/gross              the seat's capture (intent seat/<id>/capture)
//	seat/<id>/credit/<n>         prepaid block charge n (billing_funding)
//	seat/<id>/refund/<n>         the refund of block n (intent seat/<id>/refund/<n>)
//	seat/<id>/fee                the processor's fee: no transaction, left out
//	reversal/<name>/<event>/...  a refund or chargeback notified (processor_events)
//	topup/<name>/<reference>     a hosted sale booked as wallet credits
//	creditpack/<id>/credits      a credit pack charged to the card on file
func (s *SQL) Clearing(ctx context.Context, name string, from, to time.Time) ([]Entry, error) {
	var ts []transfer
	code := clearingCode(name)
	err := s.rows(ctx, `SELECT t.idempotency_key, t.amount, t.currency, t.created_at, ca.code = ?
FROM ledger_transfers t
JOIN ledger_accounts da ON da.id = t.debit_account_id
JOIN ledger_accounts ca ON ca.id = t.credit_account_id
WHERE (da.code = ? OR ca.code = ?) AND t.kind IN ('single', 'post') AND t.created_at >= ? AND t.created_at < ?
ORDER BY t.id`, []any{code, code, code, from.UTC(), to.UTC()}, func(r *sql.Rows) error {
		var t transfer
		if err := r.Scan(&t.key, &t.amount.Amount, &t.amount.Currency, &t.at, &t.credited); err != nil {
			return err
		}
		t.at = t.at.UTC()
		ts = append(ts, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, t := range ts {
		e, keep, err := s.trace(ctx, name, t)
		if err != nil {
			return nil, err
		}
		if keep {
			e.Amount, e.At, e.LedgerKeys = t.amount, t.at, []string{t.key}
			out = append(out, e)
		}
	}
	return out, nil
}

// trace names the processor transaction a clearing transfer books. keep is
// false for a fee.
func (s *SQL) trace(ctx context.Context, name string, t transfer) (Entry, bool, error) {
	kind := processor.TxSale
	if t.credited {
		kind = processor.TxRefund
	}
	untraced := Entry{Kind: kind, Origin: "no record names its processor transaction"}
	parts := strings.Split(t.key, "/")
	switch {
	case len(parts) == 3 && parts[0] == "seat" && parts[2] == "fee":
		return Entry{}, false, nil
	case len(parts) == 3 && parts[0] == "seat" && parts[2] == "gross":
		res, _, err := s.intent(ctx, name, "seat/"+parts[1]+"/capture")
		if err != nil || res.Reference == "" {
			return untraced, true, err
		}
		return Entry{Reference: res.Reference, Kind: processor.TxSale, Origin: "seat " + parts[1] + " capture"}, true, nil
	case len(parts) == 4 && parts[0] == "seat" && parts[2] == "credit":
		var ref string
		err := s.db.QueryRowContext(ctx, s.q(`SELECT f.reference FROM billing_funding f JOIN billing_seats st ON st.id = f.seat_id
WHERE f.seat_id = ? AND f.n = ? AND f.kind = 'charge' AND st.processor = ?`), parts[1], parts[3], name).Scan(&ref)
		if errors.Is(err, sql.ErrNoRows) {
			return untraced, true, nil
		}
		if err != nil {
			return Entry{}, false, dbErr(err)
		}
		return Entry{Reference: ref, Kind: processor.TxSale, Origin: "seat " + parts[1] + " block " + parts[3]}, true, nil
	case len(parts) == 4 && parts[0] == "seat" && parts[2] == "refund":
		res, related, err := s.intent(ctx, name, t.key)
		if err != nil || res.Reference == "" {
			return untraced, true, err
		}
		return Entry{Reference: res.Reference, Kind: processor.TxRefund, RelatedReference: related,
			Origin: "seat " + parts[1] + " refund of block " + parts[3]}, true, nil
	case strings.HasPrefix(t.key, "reversal/"+name+"/"):
		id := strings.TrimPrefix(t.key, "reversal/"+name+"/")
		if i := strings.LastIndexByte(id, '/'); i > 0 {
			id = id[:i]
		}
		var typ, ref, related string
		err := s.db.QueryRowContext(ctx, s.q(`SELECT type, reference, related_reference FROM processor_events WHERE processor = ? AND event_id = ?`),
			name, id).Scan(&typ, &ref, &related)
		if errors.Is(err, sql.ErrNoRows) {
			return untraced, true, nil
		}
		if err != nil {
			return Entry{}, false, dbErr(err)
		}
		k := processor.TxRefund
		if typ == string(processor.EventChargeback) {
			k = processor.TxChargeback
		}
		return Entry{Reference: eventReference(ref, id), Kind: k, RelatedReference: related, Origin: typ + " event " + id}, true, nil
	case strings.HasPrefix(t.key, "topup/"+name+"/"):
		ref := strings.TrimPrefix(t.key, "topup/"+name+"/")
		return Entry{Reference: ref, Kind: processor.TxSale, Origin: "hosted sale booked as credits"}, true, nil
	case len(parts) == 3 && parts[0] == "creditpack" && parts[2] == "credits":
		var ref string
		err := s.db.QueryRowContext(ctx, s.q(`SELECT charge_reference FROM credit_pack_purchases WHERE id = ? AND processor = ?`),
			parts[1], name).Scan(&ref)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && ref == "") {
			return untraced, true, nil
		}
		if err != nil {
			return Entry{}, false, dbErr(err)
		}
		return Entry{Reference: ref, Kind: processor.TxSale, Origin: "credit pack purchase " + parts[1]}, true, nil
	}
	return untraced, true, nil
}

// eventReference is the reference a notification is matched under: its
// own, or, for a processor that gives a reversal none, the event's id.
func eventReference(ref, eventID string) string {
	if ref != "" {
		return ref
	}
	return "event:" + eventID
}

// callResult is the part of a processor call's stored result and request
// reconciling reads (the JSON of processor.CaptureResult, ChargeResult or
// RefundResult, and of billing's intent request).
type callResult struct {
	Reference string
	Amount    money.Money
}

type callRequest struct {
	Refund *processor.RefundRequest `json:"refund"`
}

// intent returns the result of a succeeded processor call of a seat at
// processor name, and for a refund the reference it refunds.
func (s *SQL) intent(ctx context.Context, name, key string) (callResult, string, error) {
	var raw, req string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT i.result, i.request FROM billing_intents i JOIN billing_seats st ON st.id = i.seat_id
WHERE i.key = ? AND i.state = 'succeeded' AND st.processor = ?`), key, name).Scan(&raw, &req)
	if errors.Is(err, sql.ErrNoRows) {
		return callResult{}, "", nil
	}
	if err != nil {
		return callResult{}, "", dbErr(err)
	}
	var res callResult
	var r callRequest
	if json.Unmarshal([]byte(raw), &res) != nil || json.Unmarshal([]byte(req), &r) != nil {
		return callResult{}, "", errs.E(errs.Internal, "reconcile: intent %s: unreadable stored call", key)
	}
	related := ""
	if r.Refund != nil {
		related = r.Refund.Reference
	}
	return res, related, nil
}

// Events lists the notifications that moved money, as recorded, dated by
// when the processor says they happened (else when they arrived). Those
// recorded as moving nothing (a decline, a failed rebill) and the reports
// of camkit's own refunds (its answer is the record) are left out.
func (s *SQL) Events(ctx context.Context, name string, from, to time.Time) ([]Entry, error) {
	var out []Entry
	err := s.rows(ctx, `SELECT event_id, type, reference, related_reference, amount, currency, occurred_at, received_at, outcome
FROM processor_events
WHERE processor = ? AND type IN ('sale', 'rebill', 'capture', 'refund', 'chargeback') AND amount > 0
  AND detail NOT LIKE ? AND detail NOT LIKE ? AND received_at >= ?
ORDER BY received_at, event_id`, []any{name, billing.EventMovedNoMoney + "%", billing.EventOwnRefund + "%", from.UTC()},
		func(r *sql.Rows) error {
			var id, typ, ref, related, outcome string
			var amount money.Money
			var occurred sql.NullTime
			var received time.Time
			if err := r.Scan(&id, &typ, &ref, &related, &amount.Amount, &amount.Currency, &occurred, &received, &outcome); err != nil {
				return err
			}
			at := received
			if occurred.Valid {
				at = occurred.Time
			}
			at = at.UTC()
			if at.Before(from) || !at.Before(to) {
				return nil
			}
			e := Entry{Reference: ref, Kind: processor.TxSale, Amount: amount, RelatedReference: related, At: at,
				Origin: typ + " event " + id + " (" + outcome + ")"}
			switch processor.EventType(typ) {
			case processor.EventRefund:
				e.Kind, e.Reference = processor.TxRefund, eventReference(ref, id)
			case processor.EventChargeback:
				e.Kind, e.Reference = processor.TxChargeback, eventReference(ref, id)
			}
			out = append(out, e)
			return nil
		})
	return out, err
}

// Answers lists what the processor answered camkit's own money-moving calls
// with, dated when the answer was recorded: the captures, charges and
// refunds of seats (a call whose answer was refused because the processor
// moved other money than asked is listed with what it moved), and the
// charges of credit packs.
func (s *SQL) Answers(ctx context.Context, name string, from, to time.Time) ([]Entry, error) {
	var out []Entry
	err := s.rows(ctx, `SELECT i.key, i.seat_id, i.op, i.request, i.result, i.done_at
FROM billing_intents i JOIN billing_seats st ON st.id = i.seat_id
WHERE st.processor = ? AND i.op IN ('capture', 'charge', 'refund') AND i.state IN ('succeeded', 'rejected') AND i.result <> ''
  AND i.done_at >= ? AND i.done_at < ?
ORDER BY i.done_at, i.key`, []any{name, from.UTC(), to.UTC()}, func(r *sql.Rows) error {
		var k, seat, op, req, raw string
		var done time.Time
		if err := r.Scan(&k, &seat, &op, &req, &raw, &done); err != nil {
			return err
		}
		var res callResult
		var rq callRequest
		if json.Unmarshal([]byte(raw), &res) != nil || json.Unmarshal([]byte(req), &rq) != nil {
			return errs.E(errs.Internal, "reconcile: intent %s: unreadable stored call", k)
		}
		if res.Reference == "" || res.Amount.Amount <= 0 {
			return nil
		}
		e := Entry{Reference: res.Reference, Kind: processor.TxSale, Amount: res.Amount, At: done.UTC(), Origin: "answer to " + k}
		if op == "refund" {
			e.Kind = processor.TxRefund
			if rq.Refund != nil {
				e.RelatedReference = rq.Refund.Reference
			}
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = s.rows(ctx, `SELECT id, charge_reference, price_amount, currency, done_at FROM credit_pack_purchases
WHERE processor = ? AND state = 'succeeded' AND charge_reference <> '' AND done_at >= ? AND done_at < ?
ORDER BY done_at, id`, []any{name, from.UTC(), to.UTC()}, func(r *sql.Rows) error {
		var id, ref string
		var amount money.Money
		var done time.Time
		if err := r.Scan(&id, &ref, &amount.Amount, &amount.Currency, &done); err != nil {
			return err
		}
		out = append(out, Entry{Reference: ref, Kind: processor.TxSale, Amount: amount, At: done.UTC(), Origin: "answer to credit pack purchase " + id})
		return nil
	})
	return out, err
}
