package processorkit

import "sync"

// KeyedLocks serialises work per name (an idempotency key, a payment token,
// an authorisation) while the network calls of unrelated names run side by
// side. The zero value is ready to use.
type KeyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyedLock
}

type keyedLock struct {
	mu   sync.Mutex
	refs int
}

// Lock blocks until name is free and returns the function that frees it.
func (k *KeyedLocks) Lock(name string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedLock{}
	}
	l := k.m[name]
	if l == nil {
		l = &keyedLock{}
		k.m[name] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, name)
		}
		k.mu.Unlock()
	}
}

// held reports how many names have a holder or a waiter; for tests.
func (k *KeyedLocks) held() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}
