package main

import (
	"fmt"
	"time"
)

// memTolerance is how much more memory the gateway may hold at the end
// of a soak than after its first minute.
const memTolerance = 0.10

// memWindows are the two stretches of a soak of duration d whose memory
// is compared: from warm to warm+win (after the first minute: the
// verified-token cache, which fresh tokens fill in under a minute, and
// the connection pools have grown to their size), and the last win. Each
// is a minute long, so that with the default rotation each holds one
// whole rotation cycle, in the same phase (see soakReport.rotate); memory
// is compared as the mean of the samples of each window. Soaks shorter
// than six minutes scale both down.
func memWindows(d time.Duration) (warm, win time.Duration) {
	return min(time.Minute, d/3), min(time.Minute, d/6)
}

// memVerdict compares the memory of the two windows.
type memVerdict struct {
	warm, win          time.Duration
	baseHeap, endHeap  float64 // means of the heap, bytes
	baseGoal, endGoal  float64 // means of the heap goal, bytes
	baseRSS, endRSS    float64 // means, bytes; 0 when unknown
	ok                 bool
	failures, comments []string
}

// judgeMemory compares the gateway's memory at the end of a soak of
// duration d with its memory after the first minute: neither the heap
// (as its goal, which follows the live heap) nor the RSS may have grown
// by more than memTolerance. The allocated heap is reported beside them:
// its mean over a minute moves by a tenth from one rotation cycle to the
// next with where the collections fall, leak or no leak. Memory that
// ends lower is no leak (the garbage collector and the scavenger give
// back what the first minutes used): it is reported, not failed.
func judgeMemory(samples []memSample, d time.Duration) memVerdict {
	v := memVerdict{ok: true}
	v.warm, v.win = memWindows(d)
	if len(samples) == 0 {
		v.ok = false
		v.failures = append(v.failures, "no memory samples")
		return v
	}
	last := samples[len(samples)-1].at
	var base, end []memSample
	for _, s := range samples {
		if s.at >= v.warm && s.at < v.warm+v.win {
			base = append(base, s)
		}
		if s.at > last-v.win {
			end = append(end, s)
		}
	}
	if len(base) == 0 || len(end) == 0 {
		v.ok = false
		v.failures = append(v.failures, fmt.Sprintf("too few memory samples to compare (%d after %s, %d in the last %s)", len(base), v.warm, len(end), v.win))
		return v
	}
	v.baseHeap, v.endHeap = mean(base, heapOf), mean(end, heapOf)
	v.baseGoal, v.endGoal = mean(base, goalOf), mean(end, goalOf)
	v.baseRSS, v.endRSS = mean(base, rssOf), mean(end, rssOf)
	line := func(what string, from, to float64) (string, float64) {
		change := (to - from) / from
		return fmt.Sprintf("%s: %s after %s, %s at the end (%+.1f%%", what, mib(from), v.warm, mib(to), 100*change), change
	}
	check := func(what string, from, to float64) {
		l, change := line(what, from, to)
		l += fmt.Sprintf("; the bar: at most %+.0f%%)", 100*memTolerance)
		switch {
		case change > memTolerance:
			v.ok = false
			v.failures = append(v.failures, l)
		case change < -memTolerance:
			v.comments = append(v.comments, l+": lower at the end, no leak")
		default:
			v.comments = append(v.comments, l)
		}
	}
	check("heap goal (mean of go_memstats_next_gc_bytes)", v.baseGoal, v.endGoal)
	if v.baseRSS > 0 && v.endRSS > 0 {
		check("RSS (mean of VmRSS)", v.baseRSS, v.endRSS)
	} else {
		v.comments = append(v.comments, "RSS: unknown on this system (no /proc), not compared")
	}
	l, _ := line("allocated heap (mean of go_memstats_heap_alloc_bytes)", v.baseHeap, v.endHeap)
	v.comments = append(v.comments, l+"; for information)")
	return v
}

func heapOf(s memSample) float64 { return s.heap }
func goalOf(s memSample) float64 { return s.goal }
func rssOf(s memSample) float64  { return s.rss }

// mean of f over samples.
func mean(samples []memSample, f func(memSample) float64) float64 {
	sum := 0.0
	for _, s := range samples {
		sum += f(s)
	}
	return sum / float64(len(samples))
}

// mib prints bytes in MiB.
func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// memRow is one line of the soak's memory table: the samples of one
// interval (from, to].
type memRow struct {
	to                time.Duration
	requests          int64 // answered in the interval
	heapMean, heapMax float64
	goal, rss         float64 // means
	fetches           int64   // JWKS fetches so far
	key               int     // the signing key at the end of the interval
}

// soakPoint is what the soak knows at one moment: a memory sample and
// the counters beside it.
type soakPoint struct {
	memSample
	answered int64
	fetches  int64
	key      int
}

// memRows groups points into rows, one per interval (to-every, to]
// (the first also holds the sample taken at the start); the last row
// ends with the last point.
func memRows(points []soakPoint, every time.Duration) []memRow {
	var rows []memRow
	var answered int64
	for i := 0; i < len(points); {
		to := max(every, every*((points[i].at+every-1)/every))
		row := memRow{to: to}
		n, heap, goal, rss := 0, 0.0, 0.0, 0.0
		for ; i < len(points) && points[i].at <= to; i++ {
			p := points[i]
			n++
			heap, goal, rss = heap+p.heap, goal+p.goal, rss+p.rss
			row.heapMax = max(row.heapMax, p.heap)
			row.fetches, row.key = p.fetches, p.key
			row.requests = p.answered - answered
		}
		answered += row.requests
		row.heapMean, row.goal, row.rss = heap/float64(n), goal/float64(n), rss/float64(n)
		if i == len(points) {
			row.to = points[i-1].at
		}
		rows = append(rows, row)
	}
	return rows
}
