package idempotency_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/idempotency"
	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func claim(user, key, fp string, now time.Time) idempotency.Claim {
	return idempotency.Claim{UserID: user, Key: key, Fingerprint: fp, Method: "POST", Path: "/x", Now: now,
		Lease: time.Minute, TTL: 24 * time.Hour}
}

func begin(t *testing.T, st idempotency.Store, c idempotency.Claim, want idempotency.State) idempotency.Outcome {
	t.Helper()
	out, err := st.Begin(context.Background(), c)
	if err != nil {
		t.Fatalf("Begin(%s %s): %v", c.UserID, c.Key, err)
	}
	if out.State != want {
		t.Fatalf("Begin(%s %s) = %s, want %s", c.UserID, c.Key, out.State, want)
	}
	return out
}

// The record's life on both dialects: claim, in flight, mismatch, answer,
// replay, scoping, release, lease take-over and expiry.
func TestSQLStoreLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st := idempotency.NewSQLStore(db)
		a := begin(t, st, claim("alice", "h:key-0001", "fp1", t0), idempotency.Acquired)
		begin(t, st, claim("alice", "h:key-0001", "fp1", t0.Add(time.Second)), idempotency.InFlight)
		begin(t, st, claim("alice", "h:key-0001", "fp2", t0.Add(time.Second)), idempotency.Mismatch)
		// Bob's key of the same name is his own.
		b := begin(t, st, claim("bob", "h:key-0001", "fp1", t0), idempotency.Acquired)

		want := idempotency.Response{Status: 201, Header: map[string]string{"Content-Type": "application/json", "Location": "/p/1"},
			Cookies: []string{"camkit_flash=abc; path=/"}, Body: []byte(`{"id":"p1"}` + "\x00\xff")}
		if err := st.Complete(ctx, "alice", "h:key-0001", a.Token, want, t0.Add(2*time.Second), 24*time.Hour); err != nil {
			t.Fatal(err)
		}
		got := begin(t, st, claim("alice", "h:key-0001", "fp1", t0.Add(3*time.Second)), idempotency.Done).Response
		if got.Status != 201 || !bytes.Equal(got.Body, want.Body) || got.Header["Location"] != "/p/1" ||
			got.Header["Content-Type"] != "application/json" || len(got.Cookies) != 1 || got.Cookies[0] != want.Cookies[0] {
			t.Fatalf("replayed %+v, want %+v", got, want)
		}
		// Done beats everything but a mismatch.
		begin(t, st, claim("alice", "h:key-0001", "fp2", t0.Add(3*time.Second)), idempotency.Mismatch)
		// Bob's claim is untouched by Alice's answer; a wrong token neither
		// completes nor releases it.
		begin(t, st, claim("bob", "h:key-0001", "fp1", t0.Add(time.Second)), idempotency.InFlight)
		if err := st.Release(ctx, "bob", "h:key-0001", a.Token); err != nil {
			t.Fatal(err)
		}
		if err := st.Complete(ctx, "bob", "h:key-0001", "not-the-token", want, t0, time.Hour); err != nil {
			t.Fatal(err)
		}
		begin(t, st, claim("bob", "h:key-0001", "fp1", t0.Add(time.Second)), idempotency.InFlight)
		// Released (a 503): the next request runs again.
		if err := st.Release(ctx, "bob", "h:key-0001", b.Token); err != nil {
			t.Fatal(err)
		}
		begin(t, st, claim("bob", "h:key-0001", "fp1", t0.Add(2*time.Second)), idempotency.Acquired)

		// A claim whose host died: in flight during its lease, then taken
		// over; the dead holder's late answer is not kept.
		dead := begin(t, st, claim("carol", "f:form", "fp", t0), idempotency.Acquired)
		begin(t, st, claim("carol", "f:form", "fp", t0.Add(59*time.Second)), idempotency.InFlight)
		heir := begin(t, st, claim("carol", "f:form", "fp", t0.Add(61*time.Second)), idempotency.Acquired)
		if heir.Token == dead.Token {
			t.Fatal("the take-over kept the dead holder's token")
		}
		if err := st.Complete(ctx, "carol", "f:form", dead.Token, idempotency.Response{Status: 200, Body: []byte("late")}, t0.Add(62*time.Second), time.Hour); err != nil {
			t.Fatal(err)
		}
		begin(t, st, claim("carol", "f:form", "fp", t0.Add(63*time.Second)), idempotency.InFlight)
		if err := st.Complete(ctx, "carol", "f:form", heir.Token, idempotency.Response{Status: 303, Body: nil}, t0.Add(64*time.Second), time.Hour); err != nil {
			t.Fatal(err)
		}
		if r := begin(t, st, claim("carol", "f:form", "fp", t0.Add(65*time.Second)), idempotency.Done).Response; r.Status != 303 || len(r.Body) != 0 {
			t.Fatalf("heir's answer %+v", r)
		}

		// Kept for the TTL after the answer, then gone: Begin treats an
		// expired record as absent, Expire deletes it.
		begin(t, st, claim("alice", "h:key-0001", "fp1", t0.Add(2*time.Second+24*time.Hour-time.Millisecond)), idempotency.Done)
		begin(t, st, claim("alice", "h:key-0001", "fp2", t0.Add(2*time.Second+24*time.Hour)), idempotency.Acquired)
		n, err := st.Expire(ctx, t0.Add(72*time.Hour))
		if err != nil || n != 3 { // alice's new claim, bob's, carol's
			t.Fatalf("Expire = %d, %v; want 3", n, err)
		}
		var left int
		if err := db.SQL().QueryRow(`SELECT count(*) FROM idempotency_keys`).Scan(&left); err != nil || left != 0 {
			t.Fatalf("%d records left after expiry (%v)", left, err)
		}
	})
}

// A running claim outlives its TTL until its lease ends: a slow request's
// record is not swept from under it.
func TestSQLStoreExpireSparesRunningClaims(t *testing.T) {
	db := storetest.Postgres(t)
	st := idempotency.NewSQLStore(db)
	c := claim("dan", "h:slow-request", "fp", t0)
	c.TTL, c.Lease = time.Second, time.Hour
	begin(t, st, c, idempotency.Acquired)
	if n, err := st.Expire(context.Background(), t0.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("Expire swept a leased claim: %d, %v", n, err)
	}
	if n, err := st.Expire(context.Background(), t0.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("Expire after the lease: %d, %v", n, err)
	}
}

// Many hosts' requests racing for one key: exactly one acquires.
func TestSQLStoreConcurrentBeginsAcquireOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		st := idempotency.NewSQLStore(db)
		const n = 16
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			states = map[idempotency.State]int{}
		)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := st.Begin(context.Background(), claim("erin", "h:race-key", "fp", t0))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				states[out.State]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if states[idempotency.Acquired] != 1 || states[idempotency.InFlight] != n-1 {
			t.Fatalf("states %v, want one acquired and %d in flight", states, n-1)
		}
	})
}
