package testbin

import (
	"bytes"
	"sync"
)

// Output collects what a child process writes while the test reads it: exec
// copies a non-file Stdout from its own goroutine, so a bare bytes.Buffer or
// strings.Builder read during the run is a data race.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// String is everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
