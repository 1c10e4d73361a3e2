//go:build !linux

package main

import "time"

// sampleCPU knows neither the machine's nor this process's CPU time here.
func sampleCPU() cpuSample { return cpuSample{at: time.Now()} }
