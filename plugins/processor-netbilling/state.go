package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
)

// state is what the plugin must remember across restarts: the outcome of every
// idempotency key (so a retry never moves money twice), the holds and payments
// it created (so captures, voids and refunds are checked before anything is
// sent), the checkouts in progress and the webhook ids already seen.
type state struct {
	Idempotency map[string]*idemRecord  `json:"idempotency"` // by the host's idempotency key
	Holds       map[string]*hold        `json:"holds"`       // by NETbilling trans_id of the A transaction
	Payments    map[string]*payment     `json:"payments"`    // captures (D) and sales (S), by trans_id
	Checkouts   map[string]*checkoutRec `json:"checkouts"`   // by checkout reference
	Refunds     map[string]string       `json:"refunds"`     // refund trans_id -> the payment it refunds
	SeenEvents  map[string]time.Time    `json:"seen_events"` // postback trans_ids already accepted
}

type recordStatus string

const (
	// pending: the request may have reached NETbilling and its outcome is unknown;
	// a retry polls its pre-fetched trans_id before sending anything again.
	statusPending  recordStatus = "pending"
	statusDone     recordStatus = "done"
	statusDeclined recordStatus = "declined"
)

// idemRecord is the life of one idempotency key.
type idemRecord struct {
	Fingerprint string          `json:"fingerprint"`
	Status      recordStatus    `json:"status"`
	TransID     string          `json:"trans_id"` // fetched from getid before the request, sent with it
	Result      json.RawMessage `json:"result,omitempty"`
	Err         *errs.Error     `json:"error,omitempty"`
	At          time.Time       `json:"at"`
}

type holdStatus string

const (
	holdOpen     holdStatus = "open"
	holdCaptured holdStatus = "captured"
	holdVoided   holdStatus = "voided"
)

type hold struct {
	Token     string      `json:"token"` // CS:<trans_id> of the card
	Amount    money.Money `json:"amount"`
	Status    holdStatus  `json:"status"`
	ExpiresAt time.Time   `json:"expires_at"`
}

type payment struct {
	Amount   money.Money `json:"amount"`
	Refunded int64       `json:"refunded"` // minor units of Amount's currency
}

// checkoutRec is one hosted-form checkout. The card is typed on NETbilling's
// page; what comes back is the transaction's id, which stores the card.
type checkoutRec struct {
	CustomerRef string       `json:"customer_ref"`
	ReturnURL   string       `json:"return_url"`
	Description string       `json:"description,omitempty"`
	Purchase    *money.Money `json:"purchase,omitempty"` // nil: a card check of card_check_amount
	Amount      money.Money  `json:"amount"`             // what the form asks NETbilling for
	AuthType    string       `json:"auth_type"`          // SALE or AUTH
	ExpiresAt   time.Time    `json:"expires_at"`
	TransID     string       `json:"trans_id,omitempty"` // set once NETbilling answered
	Decline     *errs.Error  `json:"decline,omitempty"`
	CheckVoided bool         `json:"check_voided,omitempty"`
}

func newState() *state {
	return &state{
		Idempotency: map[string]*idemRecord{}, Holds: map[string]*hold{}, Payments: map[string]*payment{},
		Checkouts: map[string]*checkoutRec{}, Refunds: map[string]string{}, SeenEvents: map[string]time.Time{},
	}
}

// loadState reads the state file; a missing file is an empty state.
func loadState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, err
	}
	st := newState()
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("state file %s is corrupt: %w", path, err)
	}
	return st, nil
}

// saveState writes st atomically (temporary file, fsync, rename), so a crash
// leaves the old or the new state and never half of one.
func saveState(path string, st *state) error {
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
