package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/camkit/camkit/sdk/errs"
	"github.com/camkit/camkit/sdk/money"
	"github.com/camkit/camkit/sdk/processor"
	"github.com/camkit/camkit/sdk/processorkit"
)

const (
	signatureHeader = "X-Sandbox-Signature"
	// signatureMaxAge bounds replays: an older signature is refused, and ids
	// of events are remembered at least this long to refuse a repeat.
	signatureMaxAge = 5 * time.Minute
)

// webhookEvent is the JSON body of a sandbox webhook: one event per delivery.
//
//	{"id":"evt_1","type":"chargeback","reference":"sbx_cb_1","related_reference":"sbx_ch_1",
//	 "amount":{"amount":1000,"currency":"USD"},"occurred_at":"2026-01-02T03:04:05Z","reason":"10.4"}
type webhookEvent struct {
	ID                    string       `json:"id"`
	Type                  string       `json:"type"`
	Reference             string       `json:"reference"`
	RelatedReference      string       `json:"related_reference,omitempty"`
	SubscriptionReference string       `json:"subscription_reference,omitempty"`
	CheckoutReference     string       `json:"checkout_reference,omitempty"`
	CustomerRef           string       `json:"customer_ref,omitempty"`
	Amount                *money.Money `json:"amount,omitempty"`
	OccurredAt            time.Time    `json:"occurred_at"`
	DeclineCode           string       `json:"decline_code,omitempty"`
	Reason                string       `json:"reason,omitempty"`
}

// signWebhook returns the X-Sandbox-Signature value for body at time t. The
// timestamp is signed with the body, so it cannot be refreshed to replay an
// old delivery.
func signWebhook(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",s=" + hex.EncodeToString(webhookMAC(secret, ts, body))
}

func webhookMAC(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

func (s *Sandbox) ParseWebhook(_ context.Context, req processor.WebhookRequest) (processor.WebhookResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == nil {
		return processor.WebhookResult{}, errNotConfigured
	}
	now := s.now()
	if err := verifySignature(s.cfg.WebhookSecret, processorkit.HeaderValue(req.Headers, signatureHeader), req.Body, now); err != nil {
		return processor.WebhookResult{}, err
	}
	// Only an authentic body is parsed.
	var ev webhookEvent
	dec := json.NewDecoder(bytes.NewReader(req.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return processor.WebhookResult{}, errs.E(errs.Invalid, "sandbox webhook: %v", err)
	}
	out, err := ev.normalise()
	if err != nil {
		return processor.WebhookResult{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	return processor.WebhookResult{Events: []processor.Event{out}, Response: processor.HTTPResponse{Status: http.StatusOK, Headers: h, Body: []byte("OK")}}, nil
}

// verifySignature checks "t=<unix>,s=<hex>" against body, in constant time.
func verifySignature(secret, header string, body []byte, now time.Time) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "s":
			sig = v
		}
	}
	if ts == "" || sig == "" {
		return errs.E(errs.Unauthenticated, "sandbox webhook: missing or malformed %s header", signatureHeader)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errs.E(errs.Unauthenticated, "sandbox webhook: malformed signature timestamp")
	}
	if age := now.Sub(time.Unix(unix, 0)); age > signatureMaxAge || age < -signatureMaxAge {
		return errs.E(errs.Unauthenticated, "sandbox webhook: signature time is %s away from now (limit %s)", age.Round(time.Second), signatureMaxAge)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, webhookMAC(secret, ts, body)) {
		return errs.E(errs.Unauthenticated, "sandbox webhook: signature does not match")
	}
	return nil
}

func (ev webhookEvent) normalise() (processor.Event, error) {
	if ev.ID == "" {
		return processor.Event{}, errs.E(errs.Invalid, "sandbox webhook: event without id")
	}
	known := false
	for _, t := range processor.EventTypes {
		known = known || string(t) == ev.Type
	}
	if !known {
		return processor.Event{}, errs.E(errs.Invalid, "sandbox webhook: unknown event type %q", ev.Type)
	}
	out := processor.Event{
		ID: ev.ID, Type: processor.EventType(ev.Type), Reference: ev.Reference, RelatedReference: ev.RelatedReference,
		SubscriptionReference: ev.SubscriptionReference, CheckoutReference: ev.CheckoutReference,
		CustomerRef: ev.CustomerRef, OccurredAt: ev.OccurredAt, DeclineCode: errs.Code(ev.DeclineCode), Reason: ev.Reason,
	}
	if ev.Amount != nil {
		if err := ev.Amount.Validate(false); err != nil {
			return processor.Event{}, errs.E(errs.UnknownCurrency, "sandbox webhook: %v", err)
		}
		if ev.Amount.Amount < 0 { // a refund or chargeback states what it takes back, as a magnitude
			return processor.Event{}, errs.E(errs.Invalid, "sandbox webhook: amount %d is negative", ev.Amount.Amount)
		}
		out.Amount = *ev.Amount
	}
	if out.DeclineCode != "" && !errs.IsDecline(&errs.Error{Code: out.DeclineCode}) {
		return processor.Event{}, errs.E(errs.Invalid, "sandbox webhook: %q is not a decline code", ev.DeclineCode)
	}
	return out, nil
}
