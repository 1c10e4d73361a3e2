//go:build linux

package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTick = 100

// sampleCPU reads this process's CPU time (getrusage) and the machine's
// busy time (the first line of /proc/stat).
func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s
	}
	s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	// user nice system idle iowait irq softirq steal: busy is user, nice,
	// system and steal (the hypervisor ran someone else). Interrupt time
	// is left out: most of it is this process's own loopback traffic,
	// which its rusage does not count.
	var ticks int64
	for i, v := range f[1:9] {
		if i != 0 && i != 1 && i != 2 && i != 7 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return s
		}
		ticks += n
	}
	s.busy = time.Duration(ticks) * time.Second / clockTick
	s.ok = true
	return s
}
