package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A short soak against the real jwtgate binary: a few seconds at a small
// rate, a new key published after three seconds and used two seconds
// later (the unknown-kid tokens make the gateway refetch its key set at
// most once a second, so it knows the key by then). Every answer
// must be the expected one, tokens signed with a rotated key must be
// accepted, the gateway must drain and exit 0, and the report and the PNG
// must be written. The memory bar is not asserted: a few seconds do not
// make a steady state (judgeMemory has its own test).
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the jwtgate binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, err := buildJwtgate(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pngPath := filepath.Join(t.TempDir(), "out", "soak.png")
	var out bytes.Buffer
	r, err := runSoak(ctx, &out, soakOptions{
		Duration: 6 * time.Second,
		Rate:     40,
		Rotate:   3 * time.Second,
		Lead:     2 * time.Second,
		Grace:    2 * time.Second,
		Every:    time.Second,
		PNG:      pngPath,
		Binary:   bin,
	})
	t.Logf("report:\n%s", out.String())
	if err != nil {
		t.Fatalf("runSoak: %v", err)
	}
	if n := r.tally.unexpectedTotal(); n != 0 {
		t.Errorf("%d unexpected answers", n)
	}
	if r.stopErr != nil {
		t.Errorf("gateway stop: %v", r.stopErr)
	}
	for k := range numKinds {
		if r.tally.sent[k] == 0 {
			t.Errorf("no %s request sent", k)
		}
	}
	if len(r.rotations) < 2 || len(r.switches) < 1 {
		t.Errorf("rotations %v, switches %v; want at least 2 and 1", r.rotations, r.switches)
	}
	if len(r.tally.acceptedBy) < 2 {
		t.Errorf("valid tokens accepted by keys %v; want the first key and a rotated one", r.tally.acceptedBy)
	}
	if len(r.points) < 3 {
		t.Errorf("%d memory samples, want one a second", len(r.points))
	}
	for _, p := range r.points {
		if p.heap <= 0 || p.goal < p.heap/4 {
			t.Errorf("sample %+v: want a positive heap and a heap goal", p)
		}
	}
	for _, want := range []string{"unexpected answers: none", "the gateway drained and exited 0 on SIGTERM", "JWKS fetches", "heap mean", "unknown kid"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatalf("the plot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the plot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 150 {
		t.Errorf("plot is %v, want a readable size", b)
	}
}

// judgeMemory passes memory that ends where it was after the first
// minute, or lower, and fails growth past 10% of the heap goal or the
// RSS; the allocated heap, noisy, is only reported.
func TestJudgeMemory(t *testing.T) {
	const mb = 1 << 20
	// series makes a 10-minute soak sampled every second whose heap
	// saws between the live heap and twice it (a collection every 4
	// samples), and whose live heap (so the goal) and RSS move linearly
	// from the first minute on by growHeap and growRSS (fractions) at the
	// end.
	series := func(live float64, growHeap, growRSS float64) []memSample {
		var out []memSample
		for s := 0; s <= 600; s++ {
			f := 0.0
			if s > 60 {
				f = float64(s-60) / 540
			}
			l := live * (1 + growHeap*f)
			out = append(out, memSample{
				at:   time.Duration(s) * time.Second,
				heap: l * (1 + float64(s%4)/3),
				goal: 2 * l,
				rss:  30 * mb * (1 + growRSS*f),
			})
		}
		return out
	}
	tests := []struct {
		name    string
		samples []memSample
		wantOK  bool
		wantMsg string
	}{
		{"steady", series(8*mb, 0, 0), true, "heap goal"},
		{"small drift", series(8*mb, 0.05, -0.04), true, "RSS"},
		{"heap leak", series(8*mb, 0.3, 0), false, "heap goal"},
		{"RSS growth", series(8*mb, 0, 0.2), false, "RSS"},
		{"both shrink a lot", series(8*mb, -0.3, -0.3), true, "no leak"},
		{"heap shrinks, RSS grows", series(8*mb, -0.3, 0.15), false, "RSS"},
		{"no samples", nil, false, "no memory samples"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := judgeMemory(tt.samples, 10*time.Minute)
			if v.ok != tt.wantOK {
				t.Fatalf("ok = %t, want %t; failures %q, comments %q", v.ok, tt.wantOK, v.failures, v.comments)
			}
			if !tt.wantOK && !strings.Contains(strings.Join(v.failures, "\n"), tt.wantMsg) {
				t.Errorf("failures %q do not mention %q", v.failures, tt.wantMsg)
			}
			if tt.wantOK && !strings.Contains(strings.Join(v.comments, "\n"), tt.wantMsg) {
				t.Errorf("comments %q do not mention %q", v.comments, tt.wantMsg)
			}
			if tt.wantOK && (v.warm != time.Minute || v.win != time.Minute) {
				t.Errorf("windows %s + %s, want 1m0s + 1m0s for a 10-minute soak", v.warm, v.win)
			}
		})
	}
}

// The memory table has one row per interval, the last one ending with
// the soak, and counts the requests of each interval.
func TestMemRows(t *testing.T) {
	var points []soakPoint
	for s := 0; s <= 25; s++ {
		points = append(points, soakPoint{
			memSample: memSample{at: time.Duration(s) * time.Second, heap: float64(s), goal: 10, rss: 100},
			answered:  int64(10 * s),
		})
	}
	rows := memRows(points, 10*time.Second)
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3: %+v", len(rows), rows)
	}
	wantTo := []time.Duration{10 * time.Second, 20 * time.Second, 25 * time.Second}
	wantReq := []int64{100, 100, 50}
	wantMax := []float64{10, 20, 25}
	for i, r := range rows {
		if r.to != wantTo[i] || r.requests != wantReq[i] || r.heapMax != wantMax[i] || r.goal != 10 || r.rss != 100 {
			t.Errorf("row %d = to %s, requests %d, heap max %v, goal %v, RSS %v; want %s, %d, %v, 10, 100",
				i, r.to, r.requests, r.heapMax, r.goal, r.rss, wantTo[i], wantReq[i], wantMax[i])
		}
	}
}

// metricValues reads unlabelled samples, and not longer names sharing
// their prefix.
func TestMetricValues(t *testing.T) {
	text := "# HELP go_memstats_heap_alloc_bytes_total x\ngo_memstats_heap_alloc_bytes_total 99\n" +
		"go_memstats_next_gc_bytes 4.2e+06\ngo_memstats_heap_alloc_bytes 1.2345e+06\n"
	v, err := metricValues(strings.NewReader(text), "go_memstats_heap_alloc_bytes", "go_memstats_next_gc_bytes")
	if err != nil || v[0] != 1234500 || v[1] != 4200000 {
		t.Errorf("metricValues = %v, %v; want [1234500 4200000]", v, err)
	}
	if _, err := metricValues(strings.NewReader("other 1\n"), "go_memstats_heap_alloc_bytes"); err == nil {
		t.Error("metricValues found a metric that is not there")
	}
}
