package accounts

import (
	"context"
	"strings"
	"time"

	"github.com/camkit/camkit/core/chat"
	"github.com/camkit/camkit/core/ledger"
	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

// Wallets reads viewers' wallets from the ledger; it never writes.
type Wallets struct {
	svc  *Service
	book Book
}

// NewWallets reads wallets from book.
func NewWallets(svc *Service, book Book) *Wallets { return &Wallets{svc: svc, book: book} }

// WalletBalance is a wallet at a glance, in the site currency.
type WalletBalance struct {
	Posted    money.Money // settled credits
	Held      money.Money // reserved by open holds (a private show in progress)
	Available money.Money // what a new tip or hold may take: Posted - Held
}

// Balance of a user's wallet; zero for a wallet never used.
func (w *Wallets) Balance(ctx context.Context, userID string) (WalletBalance, error) {
	zero := money.Money{Currency: w.svc.currency}
	b, err := w.book.Balance(ctx, WalletCode(userID), w.svc.currency)
	if errs.CodeOf(err) == errs.NotFound {
		return WalletBalance{Posted: zero, Held: zero, Available: zero}, nil
	}
	if err != nil {
		return WalletBalance{}, err
	}
	return WalletBalance{
		Posted:    b.Posted(),
		Held:      money.Money{Amount: b.DebitsPending, Currency: w.svc.currency},
		Available: b.Available(),
	}, nil
}

// WalletEntry is one line of a wallet's history.
type WalletEntry struct {
	At          time.Time
	Description string      // the transfer's memo
	Amount      money.Money // signed: negative is money out; for a hold, what it reserves (negative) or releases (positive)
	Balance     money.Money // posted balance after this line
	Pending     bool        // a hold or a hold's release, not a settled movement
	Reference   string      // the transfer's idempotency key: "creditpack/<id>/credits", "tip/..."
	Kind        ledger.Kind
	// tipModel is the model a tip line went to, named in its description;
	// tipItem the tip-menu item it paid for, if any.
	tipModel, tipItem string
}

// History returns the newest limit lines of a wallet, newest first, from
// the ledger's statement (the ledger is the one source of truth).
func (w *Wallets) History(ctx context.Context, userID string, limit int) ([]WalletEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	code := WalletCode(userID)
	var ring []WalletEntry
	cursor := ""
	for {
		page, err := w.book.Statement(ctx, code, w.svc.currency, cursor, ledger.MaxStatementPage)
		if errs.CodeOf(err) == errs.NotFound {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		for _, e := range page.Entries {
			ring = appendEntry(ring, e)
		}
		if len(ring) > limit {
			ring = append(ring[:0:0], ring[len(ring)-limit:]...)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	out := make([]WalletEntry, len(ring))
	names := map[string]string{}
	for i, e := range ring {
		if e.tipModel != "" {
			name, ok := names[e.tipModel]
			if !ok {
				name = e.tipModel
				if u, err := w.svc.User(ctx, e.tipModel); err == nil && u.DisplayName != "" {
					name = u.DisplayName
				}
				names[e.tipModel] = name
			}
			e.Description = "Tip to " + name
			if e.tipItem != "" {
				e.Description += " for " + e.tipItem
			}
		}
		out[len(ring)-1-i] = e
	}
	return out, nil
}

// appendEntry adds a statement entry to the chronological lines. A tip is
// one transfer per share of its split (model, studio, platform), booked in
// one batch: the viewer paid one tip, so its shares are one line, the tip's
// whole amount, named after the model rather than the show.
func appendEntry(lines []WalletEntry, e ledger.Entry) []WalletEntry {
	line := entryOf(e)
	tip, isTip := tipOf(e.Transfer.Key)
	if isTip {
		line.Reference = tip
		line.tipItem = chat.TipItemOf(e.Transfer.Memo)
		if id, ok := strings.CutPrefix(e.Transfer.Credit, "model:"); ok {
			line.tipModel, _, _ = strings.Cut(id, ":")
		}
	}
	if n := len(lines); isTip && n > 0 && lines[n-1].Reference == tip && lines[n-1].Amount.Currency == line.Amount.Currency {
		last := &lines[n-1]
		last.Amount.Amount += line.Amount.Amount
		last.Balance = line.Balance
		if last.tipModel == "" {
			last.tipModel = line.tipModel
		}
		return lines
	}
	return append(lines, line)
}

// tipOf is the tip a transfer key belongs to: chat books a tip's shares
// under tip/<viewer>/<tip id>/<role>.
func tipOf(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "tip/")
	if !ok || strings.Count(rest, "/") != 2 {
		return "", false
	}
	return key[:strings.LastIndexByte(key, '/')], true
}

func entryOf(e ledger.Entry) WalletEntry {
	t := e.Transfer
	amt := t.Amount.Amount
	out := WalletEntry{At: t.CreatedAt, Description: t.Memo, Balance: e.After.Posted(), Reference: t.Key, Kind: t.Kind}
	switch t.Kind {
	case ledger.Pending:
		out.Pending = true
		amt = -amt
	case ledger.Void, ledger.Expire:
		out.Pending = true // a release: the posted balance does not move
	default:
		if e.Side == "debit" {
			amt = -amt
		}
	}
	out.Amount = money.Money{Amount: amt, Currency: t.Amount.Currency}
	return out
}
