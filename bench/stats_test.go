package main

import (
	"runtime"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, time.Duration(i))
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{7}, 99, 7},
		{"p50 of 100", hundred, 50, 50},
		{"p99 of 100", hundred, 99, 99},
		{"p100 of 100", hundred, 100, 100},
		{"p0", hundred, 0, 1},
		{"p50 of 4", []time.Duration{1, 2, 3, 4}, 50, 2},
		{"p99 of 4", []time.Duration{1, 2, 3, 4}, 99, 4},
		{"p50 of 3", []time.Duration{1, 2, 3}, 50, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", len(tt.sorted), tt.p, got, tt.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	got := merge([][]time.Duration{{3, 1}, nil, {2}})
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("merge = %v", got)
	}
}

func TestRPS(t *testing.T) {
	r := result{requests: 500, elapsed: 2 * time.Second}
	if r.rps() != 250 {
		t.Errorf("rps = %v", r.rps())
	}
	if (result{}).rps() != 0 {
		t.Error("rps of nothing should be 0")
	}
}

func TestAdd(t *testing.T) {
	var r result
	r = r.add(result{name: "x", requests: 2, elapsed: time.Second, latencies: []time.Duration{5, 1}})
	r = r.add(result{name: "x", requests: 4, errors: 1, elapsed: time.Second, latencies: []time.Duration{3}})
	if r.name != "x" || r.requests != 6 || r.errors != 1 || r.rps() != 3 || len(r.latencies) != 3 || r.latencies[0] != 1 {
		t.Errorf("add = %+v", r)
	}
}

func TestAddCPU(t *testing.T) {
	var r result
	r = r.add(result{requests: 100, elapsed: time.Second, cpu: 10 * time.Millisecond, others: 0.1})
	r = r.add(result{requests: 300, elapsed: 3 * time.Second, cpu: 30 * time.Millisecond, others: 0.5})
	if got := r.cpuPerRequest(); got != 100*time.Microsecond {
		t.Errorf("cpuPerRequest = %v, want 100us", got)
	}
	if r.others < 0.3999 || r.others > 0.4001 { // (0.1*1 + 0.5*3) / 4
		t.Errorf("others = %v, want 0.4", r.others)
	}
	if r = r.add(result{requests: 1, elapsed: time.Second, others: -1}); r.others != -1 {
		t.Errorf("others with an unknown run = %v, want -1", r.others)
	}
	if (result{}).cpuPerRequest() != 0 {
		t.Error("cpuPerRequest of nothing should be 0")
	}
}

func TestOthersShare(t *testing.T) {
	at := time.Unix(1000, 0)
	s := cpuSample{at: at, busy: 10 * time.Second, self: 4 * time.Second, ok: true}
	// 2 s on every CPU; the machine was busy 3 s more, this process 1 s of it.
	u := cpuSample{at: at.Add(2 * time.Second), busy: 13 * time.Second, self: 5 * time.Second, ok: true}
	want := 2.0 / (2 * float64(runtime.NumCPU()))
	if got := othersShare(s, u); got < want-1e-9 || got > want+1e-9 {
		t.Errorf("othersShare = %v, want %v", got, want)
	}
	if got := othersShare(cpuSample{}, u); got != -1 {
		t.Errorf("othersShare without /proc/stat = %v, want -1", got)
	}
}
