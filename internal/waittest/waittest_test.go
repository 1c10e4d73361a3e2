package waittest

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestUntil: a condition that comes true in time passes; the poll sees
// it within a few intervals.
func TestUntil(t *testing.T) {
	var n atomic.Int32
	start := time.Now()
	go func() {
		time.Sleep(20 * time.Millisecond)
		n.Store(1)
	}()
	Until(t, 5*time.Second, "the flag", func() bool { return n.Load() == 1 })
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("returned after %v, before the condition held", d)
	}
}

// TestUntilFails: a condition that never holds fails the test after d.
func TestUntilFails(t *testing.T) {
	ft := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Until(ft, 30*time.Millisecond, "never", func() bool { return false })
	}()
	<-done
	if ft.msg != "not within 30ms: never" {
		t.Fatalf("failure %q", ft.msg)
	}
}

// fakeT records Fatalf and ends the goroutine as testing.T would.
type fakeT struct {
	testing.TB
	msg string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
