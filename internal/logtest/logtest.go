// Package logtest holds what tests need to capture a running component's
// log output while the component keeps writing to it.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer that a logger (or a child process's stderr) may
// write to while a test reads it. The zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
