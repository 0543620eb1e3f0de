package store_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/camkit/camkit/core/store"
	"github.com/camkit/camkit/core/store/storetest"
)

// A secret is made once per deployment and key: every later call, from
// any host on the database and concurrently, reads the same one.
func TestSecretIsMadeOnceAndKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		got := make([][]byte, 8)
		errs := make([]error, 8)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = db.Secret(ctx, "test.secret", time.Now())
			}()
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if len(got[i]) != store.SecretBytes || !bytes.Equal(got[i], got[0]) {
				t.Fatalf("call %d got %x, call 0 %x", i, got[i], got[0])
			}
		}
		other, err := db.Secret(ctx, "test.other", time.Now())
		if err != nil || bytes.Equal(other, got[0]) {
			t.Fatalf("another key's secret %x (%v) equals the first", other, err)
		}
	})
}
