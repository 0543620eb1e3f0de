package billing

import (
	"encoding/json"
	"strings"

	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/core/meter"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

// buildReceipt assembles a closed seat's receipt from its view of the
// database: the final checkpoint's live intervals, the decided seconds and
// price, the funding steps, every processor call with its reference and
// every ledger transfer with its id.
func (e *Engine) buildReceipt(v *seatView) (*Receipt, error) {
	sr := v.sr
	cur := sr.Currency
	rec := &Receipt{SeatID: sr.ID, ShowID: sr.ShowID, Kind: sr.Kind, ViewerID: sr.ViewerID, ModelID: sr.ModelID,
		StudioID: sr.StudioID, AffiliateID: sr.AffilID, Strategy: sr.Strategy, Processor: sr.Processor, Policy: sr.Policy,
		OpenedAt: sr.OpenedAt, CloseReason: sr.CloseReason, BillableSeconds: sr.BillableSeconds.Int64,
		Price: money.Money{Amount: sr.PriceAmount.Int64, Currency: cur}, Funded: sr.funded(),
		Refunded: money.Money{Currency: cur}, Intervals: []meter.Interval{},
		Funding: []FundingStep{}, ProcessorCalls: []ProcessorCall{}, LedgerTransfers: []LedgerTransfer{}}
	if sr.ClosedAt.Valid {
		rec.ClosedAt = sr.ClosedAt.Time.UTC()
	}
	var err error
	if rec.RatePrice, err = pricing.Price(sr.Policy, rec.BillableSeconds); err != nil {
		return nil, err
	}
	if rec.MinimumApplied, err = pricing.MinimumApplied(sr.Policy, rec.BillableSeconds); err != nil {
		return nil, err
	}
	if sr.Policy.HasCam2cam() {
		share, err := pricing.Cam2camShare(sr.Policy, rec.BillableSeconds)
		if err != nil {
			return nil, err
		}
		rec.Cam2cam = &Cam2camLine{SurchargePerMinute: sr.Policy.Cam2camSurchargePerMinute, Amount: share}
	}
	rec.Released = money.Money{Amount: max(0, rec.Funded.Amount-rec.Price.Amount), Currency: cur}
	if v.ck != nil {
		m, err := meter.Restore(*v.ck)
		if err != nil {
			return nil, err
		}
		rec.Intervals = m.Intervals()
	}
	for _, f := range v.funding {
		rec.Funding = append(rec.Funding, FundingStep{N: f.N, Kind: f.Kind, Amount: money.Money{Amount: f.Amount, Currency: cur},
			Ceiling: money.Money{Amount: f.Ceiling, Currency: cur}, Reference: f.Reference, Status: f.Status, Late: f.Ceiling > sr.FundedAmount})
	}
	for _, it := range v.sortedIntents() {
		if it.Op == opLedger {
			if it.Request.Purpose == purposeSettle {
				rec.Allocation = it.Request.Allocation
			}
			if it.State != intentSucceeded {
				continue
			}
			var ts []ledger.Transfer
			if err := json.Unmarshal(it.Result, &ts); err != nil {
				return nil, errs.E(errs.Internal, "billing: %s: stored transfers: %v", it.Key, err)
			}
			for _, t := range ts {
				rec.LedgerTransfers = append(rec.LedgerTransfers, LedgerTransfer{Key: t.Key, ID: t.ID, Kind: string(t.Kind),
					Debit: t.Debit, Credit: t.Credit, Amount: t.Amount})
			}
			continue
		}
		call := ProcessorCall{Key: it.Key, Op: it.Op, State: it.State, ErrorCode: it.ErrCode, Amount: askedOf(it.Request)}
		if len(it.Result) > 0 {
			var res struct {
				Reference string
				Amount    money.Money
			}
			if err := json.Unmarshal(it.Result, &res); err == nil {
				call.Reference = res.Reference
			}
			if it.Op == opRefund && it.State == intentSucceeded {
				rec.Refunded.Amount += res.Amount.Amount
			}
		}
		rec.ProcessorCalls = append(rec.ProcessorCalls, call)
	}
	rec.SettledAt = e.clock.Now().UTC()
	return rec, nil
}

func askedOf(r intentRequest) money.Money {
	switch {
	case r.Authorize != nil:
		return r.Authorize.Amount
	case r.Charge != nil:
		return r.Charge.Amount
	case r.Capture != nil:
		return r.Capture.Amount
	case r.Refund != nil:
		return r.Refund.Amount
	}
	return money.Money{}
}

// ForViewer is the receipt as its viewer reads it: what she paid and why
// (the policy, intervals, seconds, price, whether the minimum applied, her
// funding and processor calls, and the ledger transfers on her own
// accounts). How the platform divides the price (the allocation, and the
// transfers to earnings and revenue accounts) is for the model, her studio
// and admins.
func (r Receipt) ForViewer() Receipt {
	r.Allocation = nil
	r.StudioID, r.AffiliateID = "", ""
	own := "viewer:" + r.ViewerID + ":"
	ts := []LedgerTransfer{}
	for _, t := range r.LedgerTransfers {
		if strings.HasPrefix(t.Debit, own) || strings.HasPrefix(t.Credit, own) {
			ts = append(ts, t)
		}
	}
	r.LedgerTransfers = ts
	return r
}
