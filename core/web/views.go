package web

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/camkit/camkit/core/accounts"
	"github.com/camkit/camkit/core/billing"
	"github.com/camkit/camkit/core/pricing"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/theme"
	"github.com/gofiber/fiber/v2"
)

// The page data conversions: core values in, the SDK's typed page data out.
// No arithmetic on money happens here except what billing itself exports.

func modelSummary(id, name string) theme.ModelSummary {
	return theme.ModelSummary{ID: id, DisplayName: name, ProfileURL: "/models/" + url.PathEscape(id)}
}

func policyView(p pricing.Policy, funding string) theme.PricePolicy {
	out := theme.PricePolicy{
		RatePerMinute: p.RatePerMinute,
		Granularity:   p.Granularity,
		Minimum:       p.MinimumCharge,
		GraceSeconds:  p.GraceSeconds,
		BlockSeconds:  p.BlockSeconds,
		MaxPauseSec:   p.MaxPauseSeconds,
		Funding:       funding,
	}
	if out.Minimum.Currency == "" {
		out.Minimum.Currency = p.RatePerMinute.Currency
	}
	if b, err := pricing.BlockAmountInPaymentCurrency(p); err == nil {
		out.BlockCost = b
	}
	return out
}

func roleOf(r accounts.Role) theme.Role { return theme.Role(r) }

func showMode(m theme.ShowMode) theme.ShowMode {
	if m == "" {
		return theme.ModeOffline
	}
	return m
}

// receiptView turns a billing receipt into the theme's receipt page data.
func receiptView(r billing.Receipt, modelName, viewerName string) theme.ReceiptPage {
	p := theme.ReceiptPage{
		SeatID: r.SeatID, ShowID: r.ShowID, Model: modelSummary(r.ModelID, modelName), Viewer: viewerName,
		Mode: theme.ShowMode(r.Kind), OpenedAt: r.OpenedAt, ClosedAt: r.ClosedAt, EndReason: closeReasonText(r.CloseReason),
		BillableSeconds: r.BillableSeconds, Policy: policyView(r.Policy, string(r.Strategy)), Price: r.RatePrice, Charged: r.Price,
		MinimumApplied: r.MinimumApplied,
	}
	if c := r.Cam2cam; c != nil {
		p.Cam2cam = &theme.Cam2camLine{SurchargePerMinute: c.SurchargePerMinute, Amount: c.Amount}
	}
	for _, iv := range r.Intervals {
		p.Intervals = append(p.Intervals, theme.Interval{Start: iv.Start(), End: iv.End(), Seconds: (iv.EndMs - iv.StartMs) / 1000})
	}
	if q := r.Policy.FX; q != nil {
		p.FX = &theme.FXQuote{From: r.Policy.RateCurrency(), To: q.PaymentCurrency, Rate: q.Rate, QuoteID: q.QuoteID,
			Source: q.Source, ExpiresAt: q.ExpiresAt}
	}
	for _, f := range r.Funding {
		p.Charges = append(p.Charges, theme.Charge{At: r.OpenedAt, Kind: f.Kind, Amount: f.Amount, Status: f.Status, Reference: f.Reference})
	}
	for _, c := range r.ProcessorCalls {
		if c.Op == "authorize" || c.Op == "charge" {
			continue // already listed as funding steps
		}
		p.Charges = append(p.Charges, theme.Charge{At: r.SettledAt, Kind: c.Op, Amount: c.Amount, Status: c.State, Reference: c.Reference})
	}
	for _, t := range r.LedgerTransfers {
		p.Transfers = append(p.Transfers, theme.LedgerTransfer{ID: strconv.FormatInt(t.ID, 10), At: r.SettledAt, Debit: t.Debit, Credit: t.Credit,
			Amount: t.Amount, State: ledgerState(t.Kind), Memo: t.Key})
	}
	return p
}

func ledgerState(kind string) string {
	switch kind {
	case "pending":
		return "pending"
	case "void", "expire":
		return "voided"
	}
	return "posted"
}

func closeReasonText(r billing.CloseReason) string {
	switch r {
	case billing.ClosedByViewer:
		return "viewer ended the show"
	case billing.ClosedByModel:
		return "model ended the show"
	case billing.ClosedFundingExhausted:
		return "funding ran out"
	case billing.ClosedPauseExceeded:
		return "video stopped for too long"
	case billing.ClosedFundingRejected:
		return "payment was refused"
	case billing.ClosedRecovered:
		return "closed after a restart, at the last checkpoint"
	}
	return string(r)
}

// parseAmount reads a decimal form field in major units.
func parseAmount(field, raw, currency string) (money.Money, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return money.Money{}, invalid(field, "enter an amount")
	}
	if len(raw) > 24 {
		return money.Money{}, invalid(field, "that amount is too long")
	}
	m, err := money.ParseDecimal(raw, currency)
	if err != nil {
		return money.Money{}, invalid(field, "%q is not an amount in %s", raw, currency)
	}
	return m, nil
}

// userName resolves display names for pages that show other people.
func (p *Product) userName(ctx context.Context, id string) string {
	if id == "" {
		return ""
	}
	u, err := p.Accounts.User(ctx, id)
	if err != nil {
		return id
	}
	return u.DisplayName
}

// me is the signed-in user; handlers behind RequireUser can rely on it.
func me(c *fiber.Ctx) accounts.User {
	u, _ := accounts.CurrentUser(c)
	return u
}
