package main

import (
	"net/url"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
)

// settings.dataplus_auth: how a DataPlus push is authenticated.
//
// Epoch's "Data Plus" integration guide (mage2.pro/t/topic/5044, "Epoch.com
// Data Plus.pdf") posts "standard name value pairs" from Epoch's class Cs
// (epoch.com/ip_list.php) and names no signature; every public integration
// found checks the source address only (Magic Members mgm_epoch, KVS
// KvsPaymentProcessorEpoch, a Spring EpochController of a cam token site).
// None shows an epoch_digest on DataPlus. So the default accepts DataPlus on
// allowed_ips alone, and still refuses one whose epoch_digest, when it has
// one, does not match; such a push can never credit a wallet (dataPlus
// books no sale unsigned). "digest" requires the digest as on FlexPost: set
// it once Epoch confirms that it signs DataPlus.
const (
	dataPlusBySourceIP = "source_ip"
	dataPlusByDigest   = "digest"
)

type dataPlusKind int

const (
	dpSale dataPlusKind = iota // the record of an initial sale (its FlexPost postback is the same event)
	dpRebill
	dpRefund
	dpChargeback
	dpVoid
	dpNoMoney // a free trial: nothing moved
)

// dataPlusTypes are the ets_transaction_type letters public integrations
// handle. To confirm with Epoch: the set is assembled from them, not from
// an Epoch table:
//
//	I initial recurring (Magic Members, the Spring EpochController, VRP's collection)
//	N recurring / rebill (all of them; KVS too)
//	U trial conversion (KVS, VRP)
//	T paid trial, O one-time (VRP's collection only)
//	F free trial (Magic Members, VRP): no money
//	C credit (KVS: refund; VRP: refund/chargeback, negative amount)
//	D chargeback (KVS, the Spring EpochController)
//	X, A void (KVS only)
//
// Any other letter is acknowledged and logged, never refused.
var dataPlusTypes = map[string]dataPlusKind{
	"I": dpSale, "T": dpSale, "O": dpSale,
	"N": dpRebill, "U": dpRebill,
	"C": dpRefund,
	"D": dpChargeback,
	"X": dpVoid, "A": dpVoid,
	"F": dpNoMoney,
}

var dataPlusEvent = map[dataPlusKind]processor.EventType{
	dpSale: processor.EventSale, dpRebill: processor.EventRebill, dpRefund: processor.EventRefund,
	dpChargeback: processor.EventChargeback, dpVoid: processor.EventVoid,
}

// dataPlusDates are the layouts ets_transaction_date is read in: the
// guide's datetime column, and ISO forms in case the HTTPS post differs.
// Epoch's time zone is not stated; UTC is assumed (to confirm).
var dataPlusDates = []string{"2006-01-02 15:04:05", time.RFC3339, "2006-01-02"}

// dataPlus normalises one DataPlus transaction: rebills, credits,
// chargebacks, voids, and the record of an initial sale. It never refuses
// an authentic push — not for its age (Epoch sends the feed 15 minutes
// late and may resend it; the host drops what it has by event id), not for
// a letter it does not know — what it cannot book is acknowledged and
// logged. signed says the push carried a valid epoch_digest; an unsigned
// one, authenticated by its source address alone, never books a sale: the
// signed FlexPost postback does that.
func (e *Epoch) dataPlus(cfg *settings, f url.Values, now time.Time, signed bool) []processor.Event {
	tx := f.Get("ets_transaction_id")
	letter := strings.ToUpper(strings.TrimSpace(f.Get("ets_transaction_type")))
	log := []any{"ets_transaction_id", tx, "ets_transaction_type", letter, "ets_member_idx", f.Get("ets_member_idx"),
		"ets_transaction_amount", f.Get("ets_transaction_amount"), "ets_ref_trans_ids", f.Get("ets_ref_trans_ids")}
	if !digits(tx) {
		e.unbooked("dataplus push", "its ets_transaction_id is not numeric", log...)
		return nil
	}
	kind, ok := dataPlusTypes[letter]
	switch {
	case !ok:
		e.unbooked("dataplus push", "camkit does not know this ets_transaction_type", log...)
		return nil
	case kind == dpNoMoney:
		return nil // a free trial moved no money
	case kind == dpSale && !signed:
		// Its FlexPost postback, signed, books the sale; a record that only
		// its source address vouches for must not credit anyone.
		return nil
	}
	pp, known := cfg.byPiCode[f.Get("ets_pi_code")]
	if kind == dpSale && !known {
		return e.unknownPricePoint("dataplus", f.Get("ets_pi_code"), tx, "")
	}
	at := now
	if d := strings.TrimSpace(f.Get("ets_transaction_date")); d != "" {
		parsed := false
		for _, layout := range dataPlusDates {
			if t, err := time.Parse(layout, d); err == nil {
				at, parsed = t.UTC(), true
				break
			}
		}
		if !parsed {
			e.log.Warn("epoch: DataPlus ets_transaction_date is in no known layout; the event is dated when it arrived", log...)
		}
	}
	var amount money.Money
	if kind == dpSale {
		amount = money.Money{Amount: pp.Amount, Currency: pp.Currency}
	} else {
		cur := "USD"
		if known {
			cur = pp.Currency
		}
		if c := f.Get("ets_currency"); c != "" {
			n, err := money.Normalize(c)
			if err != nil {
				e.unbooked("dataplus push", "its ets_currency is not ISO 4217; book it by hand", log...)
				return nil
			}
			cur = n
		}
		raw := strings.TrimPrefix(strings.TrimSpace(f.Get("ets_transaction_amount")), "-") // credits are posted negative
		var err error
		amount, err = money.ParseDecimal(raw, cur)
		if err != nil || raw == "" || amount.Amount < 0 {
			e.unbooked("dataplus push", "its ets_transaction_amount is not a "+cur+" amount; book it by hand", log...)
			return nil
		}
	}
	member := f.Get("ets_member_idx")
	id := "dp:" + tx
	if kind == dpSale {
		id = "sale:" + tx // the id of the same sale's FlexPost postback
	}
	ev := processor.Event{ID: id, Type: dataPlusEvent[kind], Reference: tx, SubscriptionReference: member, Amount: amount, OccurredAt: at,
		Reason: f.Get("ets_reason")}
	if refs := f.Get("ets_ref_trans_ids"); refs != "" {
		ev.RelatedReference = strings.TrimSpace(strings.Split(refs, ",")[0])
	}
	if (kind == dpRefund || kind == dpChargeback || kind == dpVoid) && !digits(ev.RelatedReference) {
		e.unbooked("dataplus push", "a credit, chargeback or void without ets_ref_trans_ids naming the original; book it by hand", log...)
		return nil
	}
	return []processor.Event{ev}
}
