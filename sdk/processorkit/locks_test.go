package processorkit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeyedLocksSerialiseOneNameOnly(t *testing.T) {
	var k KeyedLocks
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := k.Lock("tok")
			n := inside.Add(1)
			for {
				m := maxInside.Load()
				if n <= m || maxInside.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			unlock()
		}()
	}
	wg.Wait()
	if maxInside.Load() != 1 {
		t.Fatalf("%d holders of one name at once", maxInside.Load())
	}
	if k.held() != 0 {
		t.Fatalf("%d names still tracked after every unlock", k.held())
	}

	// Another name is not blocked by a held one.
	unlockA := k.Lock("a")
	got := make(chan struct{})
	go func() { k.Lock("b")(); close(got) }()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("lock of b waited for a")
	}
	unlockA()
}
