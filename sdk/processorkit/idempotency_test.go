package processorkit

import (
	"errors"
	"testing"
	"time"

	"github.com/camkit/camkit/sdk/errs"
)

type result struct {
	Ref    string `json:"ref"`
	Amount int64  `json:"amount"`
}

func TestLookupLifecycle(t *testing.T) {
	ops := Ops{}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fp := Fingerprint("charge", "tok_1", 500)

	if p, _, done, err := Lookup[result](ops, "k", fp); p != nil || done || err != nil {
		t.Fatalf("unknown key: pending=%v done=%v err=%v", p, done, err)
	}

	pend, err := PendingRecord(fp, map[string]string{"order": "o1"}, at)
	if err != nil {
		t.Fatal(err)
	}
	pend.Ref = "o1"
	ops["k"] = pend
	p, _, done, err := Lookup[result](ops, "k", fp)
	if p == nil || done || err != nil || p.Ref != "o1" || string(p.Pending) != `{"order":"o1"}` {
		t.Fatalf("pending key: pending=%+v done=%v err=%v", p, done, err)
	}
	p.Ref = "changed"
	if ops["k"].Ref != "o1" {
		t.Fatal("Lookup must hand out a copy of a pending record")
	}

	done1, err := DoneRecord(fp, result{Ref: "ch_1", Amount: 500}, at, at.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ops["k"] = done1
	_, out, done, err := Lookup[result](ops, "k", fp)
	if !done || err != nil || out != (result{Ref: "ch_1", Amount: 500}) {
		t.Fatalf("finished key: out=%+v done=%v err=%v", out, done, err)
	}

	_, _, done, err = Lookup[result](ops, "k", Fingerprint("charge", "tok_1", 501))
	if !done || errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("same key, other content: done=%v err=%v; want conflict", done, err)
	}

	ops["d"] = DeclinedRecord(fp, errs.E(errs.InsufficientFunds, "no money"), at, at)
	_, _, done, err = Lookup[result](ops, "d", fp)
	if !done || errs.CodeOf(err) != errs.InsufficientFunds {
		t.Fatalf("declined key: done=%v err=%v", done, err)
	}
	// The replayed decline is a copy: a caller changing it cannot change the record.
	var e *errs.Error
	errors.As(err, &e)
	e.Message = "tampered"
	if ops["d"].Err.Message != "no money" {
		t.Fatal("Replay must return a copy of the recorded decline")
	}
}

func TestReplayCorruptResultIsInternal(t *testing.T) {
	_, err := Replay[result]("k", &OpRecord{Status: OpDone, Result: []byte(`"not an object"`)})
	if errs.CodeOf(err) != errs.Internal {
		t.Fatalf("err = %v, want internal", err)
	}
	_, err = Replay[result]("k", &OpRecord{Status: OpDeclined})
	if errs.CodeOf(err) != errs.Declined {
		t.Fatalf("a declined record without its error: err = %v, want declined", err)
	}
}

func TestFingerprintIsStableAndDistinguishesContent(t *testing.T) {
	a := Fingerprint("refund", "tx1", map[string]int{"b": 2, "a": 1})
	b := Fingerprint("refund", "tx1", map[string]int{"a": 1, "b": 2})
	if a != b {
		t.Fatalf("same content, different fingerprints: %s vs %s", a, b)
	}
	if a == Fingerprint("capture", "tx1", map[string]int{"a": 1, "b": 2}) || a == Fingerprint("refund", "tx2", map[string]int{"a": 1, "b": 2}) {
		t.Fatal("different operations or content must not share a fingerprint")
	}
}

func TestAsErrorKeepsCodes(t *testing.T) {
	e := errs.Retry(errs.Timeout, "slow")
	if AsError(e) != e {
		t.Fatal("an *errs.Error must be returned as it is")
	}
	wrapped := AsError(errors.Join(errors.New("ctx"), errs.E(errs.ExpiredCard, "exp")))
	if wrapped.Code != errs.ExpiredCard {
		t.Fatalf("wrapped code = %s", wrapped.Code)
	}
	plain := AsError(errors.New("boom"))
	if plain.Code != errs.Internal || plain.Message != "boom" {
		t.Fatalf("plain error = %+v", plain)
	}
}
