package main

import (
	"fmt"
	"slices"
	"time"
)

// result is what one load run measured.
type result struct {
	name     string
	requests int // answered with the expected status
	errors   int // other statuses and transport errors
	firstErr error
	elapsed  time.Duration
	// latencies are sorted ascending.
	latencies []time.Duration
	// cpu is the CPU time this whole process (load generator, upstream
	// and proxy) used meanwhile; others is the share of the machine's
	// CPUs other processes used, -1 when unknown.
	cpu    time.Duration
	others float64
}

// add pools two runs of the same scenario.
func (r result) add(o result) result {
	if r.firstErr == nil {
		r.firstErr = o.firstErr
	}
	r.name = o.name
	switch {
	case r.elapsed == 0:
		r.others = o.others
	case r.others < 0 || o.others < 0:
		r.others = -1
	default: // weighted by time
		r.others = (r.others*r.elapsed.Seconds() + o.others*o.elapsed.Seconds()) / (r.elapsed + o.elapsed).Seconds()
	}
	r.requests += o.requests
	r.errors += o.errors
	r.elapsed += o.elapsed
	r.cpu += o.cpu
	r.latencies = merge([][]time.Duration{r.latencies, o.latencies})
	return r
}

func (r result) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// cpuPerRequest is the process's CPU time per request answered, 0 when
// none was or the CPU time is unknown. Other processes running beside a
// run change it less than they change requests/s (they still do: they
// share the caches and break up the batches of work).
func (r result) cpuPerRequest() time.Duration {
	if r.requests == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.requests)
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value such that at least p percent
// of the values are less than or equal to it. It returns 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	// rank = ceil(p/100 * n), computed in integers to avoid rounding
	// 0.99*100 up to 100.0000001.
	n := len(sorted)
	rank := int((p*float64(n) + 99.999999) / 100)
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// merge joins per-worker latencies and sorts them.
func merge(parts [][]time.Duration) []time.Duration {
	var n int
	for _, p := range parts {
		n += len(p)
	}
	all := make([]time.Duration, 0, n)
	for _, p := range parts {
		all = append(all, p...)
	}
	slices.Sort(all)
	return all
}

// fmtDur prints a latency in microseconds or milliseconds.
func fmtDur(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.0f us", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
