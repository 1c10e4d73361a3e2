// Package waittest polls a condition in tests, for what a test cannot
// wait on directly: a key set fetch in another goroutine, a reload, a
// connection the other side closes.
package waittest

import (
	"testing"
	"time"
)

// pollEvery is how often Until looks at its condition.
const pollEvery = 5 * time.Millisecond

// Until polls cond until it holds, and fails t when d has passed first.
// what names the condition in the failure.
func Until(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(pollEvery)
	}
}
