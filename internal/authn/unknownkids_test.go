package authn

import (
	"strconv"
	"testing"
	"time"
)

// TestUnknownKids: remembered kids expire, the memory is bounded (oldest
// out first), a kid added again keeps its newer deadline, and reset
// forgets everything.
func TestUnknownKids(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var u unknownKids
	h := func(kid string) uint64 { return u.hash(kid) }
	if u.has(h("a"), now) {
		t.Fatal("the empty set remembers a kid")
	}
	u.add(h("a"), now.Add(time.Second))
	for _, c := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {999 * time.Millisecond, true}, {time.Second, false}, {2 * time.Second, false}} {
		if got := u.has(h("a"), now.Add(c.at)); got != c.want {
			t.Errorf("at +%v: has = %v, want %v", c.at, got, c.want)
		}
	}
	if u.len() != 0 {
		t.Fatalf("an expired kid is kept after its lookup: %d", u.len())
	}
	if h("a") == h("b") || h("a") != h("a") {
		t.Fatal("hash does not tell kids apart")
	}

	// Twice the bound, each kid once: only the newest maxUnknownKids stay.
	until := now.Add(time.Hour)
	for i := range 2 * maxUnknownKids {
		u.add(h(strconv.Itoa(i)), until)
		if u.len() > maxUnknownKids {
			t.Fatalf("%d kids remembered after %d adds, bound %d", u.len(), i+1, maxUnknownKids)
		}
	}
	if u.has(h("0"), now) || u.has(h(strconv.Itoa(maxUnknownKids-1)), now) {
		t.Error("the oldest kids were kept")
	}
	if !u.has(h(strconv.Itoa(maxUnknownKids)), now) || !u.has(h(strconv.Itoa(2*maxUnknownKids-1)), now) {
		t.Error("the newest kids were dropped")
	}

	// A kid added again keeps its later deadline when its first slot is
	// overwritten: the sixth oldest, added again, then pushed past.
	again := strconv.Itoa(maxUnknownKids + 5)
	u.add(h(again), now.Add(2*time.Hour))
	for i := range 6 {
		u.add(h("push-"+strconv.Itoa(i)), until)
	}
	if !u.has(h(again), now.Add(90*time.Minute)) {
		t.Error("a kid added again was dropped with its older slot")
	}
	if u.has(h(strconv.Itoa(maxUnknownKids+6)), now) {
		t.Error("the ring did not move on")
	}

	u.reset()
	if u.len() != 0 || u.has(h(again), now) {
		t.Fatal("reset kept kids")
	}
	u.add(h("c"), until)
	if !u.has(h("c"), now) {
		t.Fatal("nothing remembered after reset")
	}
}

// TestRefreshSchedule: refreshes come between 85% and 95% of the cache
// duration, spread out; backoff waits between three quarters of the
// backoff and the backoff.
func TestRefreshSchedule(t *testing.T) {
	for _, d := range []time.Duration{10 * time.Minute, time.Second, 20 * time.Millisecond} {
		seen := map[time.Duration]bool{}
		for range 200 {
			w := refreshAfter(d)
			if w < d*85/100 || w > d*95/100 {
				t.Fatalf("refreshAfter(%v) = %v, want between 85%% and 95%%", d, w)
			}
			seen[w] = true
			b := backoffAfter(d)
			if b <= d*3/4 || b > d {
				t.Fatalf("backoffAfter(%v) = %v, want in (75%%, 100%%]", d, b)
			}
		}
		if len(seen) < 10 {
			t.Errorf("refreshAfter(%v): %d distinct waits in 200, want them spread", d, len(seen))
		}
	}
	// Too short to spread: the duration itself, never zero or negative.
	for _, d := range []time.Duration{time.Nanosecond, 3 * time.Nanosecond} {
		if refreshAfter(d) != d || backoffAfter(d) != d {
			t.Errorf("%v: refreshAfter %v, backoffAfter %v", d, refreshAfter(d), backoffAfter(d))
		}
	}
}
