package main

import (
	"runtime"
	"time"
)

// cpuSample is the machine's busy CPU time and this process's CPU time at
// one moment, to tell how much of a run other processes took: on a shared
// machine that is what makes one scenario slow and not another. On Linux
// sampleCPU (cpu_linux.go) takes one; elsewhere it knows neither.
type cpuSample struct {
	at   time.Time
	busy time.Duration // all CPUs, all processes (/proc/stat); 0 when unknown
	self time.Duration // this process, user + system; 0 when unknown
	ok   bool          // busy is known
}

// othersShare is the share of the machine's CPU capacity (every CPU over
// the time between the samples) that other processes used from s to t,
// or -1 when unknown.
func othersShare(s, t cpuSample) float64 {
	if !s.ok || !t.ok {
		return -1
	}
	capacity := float64(t.at.Sub(s.at)) * float64(runtime.NumCPU())
	if capacity <= 0 {
		return -1
	}
	others := float64((t.busy - s.busy) - (t.self - s.self))
	return max(0, others/capacity)
}
