package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"text/template"
	"time"
)

// The soak (go run ./bench -soak 10m): jwtgate serve, as a child process,
// behind a fixed rate of mixed requests (soakMix) for a long time, while
// its identity provider rotates keys; every answer must be the expected
// one and the gateway's memory must end where it was after the first
// minute.

//go:embed soak.yaml.tmpl
var soakTemplate string

// soakIssuer is the iss of the soak's tokens; nothing is fetched from it
// (the key set has its own URL).
const soakIssuer = "https://soak.jwtgate.dev"

// soakOptions are the soak's flags.
type soakOptions struct {
	Duration time.Duration // how long the load runs
	Rate     float64       // requests per second
	Rotate   time.Duration // a new key is published this often
	Lead     time.Duration // after publication, tokens are signed with the new key
	Grace    time.Duration // after the switch, the old key stays published this long
	Refetch  time.Duration // the provider's refetchInterval; 0 keeps the gateway's default
	Every    time.Duration // one row of the memory table per interval
	PNG      string        // where the plot goes
	Binary   string        // a jwtgate binary; empty builds one
}

func (o soakOptions) check() error {
	switch {
	case o.Duration <= 0:
		return errors.New("-soak must be positive")
	case o.Rate <= 0 || o.Rate > 10000:
		return errors.New("-soak-rate must be in (0, 10000]")
	case o.Rotate <= 0:
		return errors.New("-soak-rotate must be positive")
	case o.Lead <= 0 || o.Lead >= o.Rotate:
		return errors.New("-soak-lead must be positive and shorter than -soak-rotate")
	case o.Grace < 0 || o.Refetch < 0:
		return errors.New("-soak-grace and -soak-refetch must not be negative")
	case o.Every <= 0:
		return errors.New("-soak-every must be positive")
	case o.PNG == "":
		return errors.New("-soak-png must name a file")
	}
	return nil
}

// soakReport is what a soak found.
type soakReport struct {
	opts      soakOptions
	tally     *tally
	points    []soakPoint
	rotations []time.Duration // when each new key was published
	switches  []time.Duration // when tokens started being signed with it
	fetches   int64           // JWKS fetches over the whole run
	verdict   memVerdict
	cpu       time.Duration // the gateway's CPU time during the load; 0 when unknown
	elapsed   time.Duration // how long the load (and its drain) took
	stopErr   error         // how the gateway ended on SIGTERM
	sampleErr error         // the first failed memory sample
}

// failures are the reasons the soak failed; none means it passed.
func (r *soakReport) failures() []string {
	var out []string
	if n := r.tally.unexpectedTotal(); n > 0 {
		out = append(out, fmt.Sprintf("%d unexpected answers", n))
	}
	out = append(out, r.verdict.failures...)
	if r.stopErr != nil {
		out = append(out, r.stopErr.Error())
	}
	if r.sampleErr != nil {
		out = append(out, "memory sampling: "+r.sampleErr.Error())
	}
	return out
}

// runSoak runs the soak and prints its report to out. It returns an error
// when the soak could not run; what it found is in the report.
func runSoak(ctx context.Context, out io.Writer, o soakOptions) (*soakReport, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "jwtgate-soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := o.Binary
	if bin == "" {
		fmt.Fprint(out, "building jwtgate ...")
		if bin, err = buildJwtgate(ctx, dir); err != nil {
			fmt.Fprintln(out)
			return nil, err
		}
		fmt.Fprintln(out, " done")
	}

	upstream, err := serveHTTP(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(upstreamBody)))
		_, _ = w.Write(upstreamBody)
	}))
	if err != nil {
		return nil, err
	}
	defer upstream.Close()
	keys, err := newKeyring(soakIssuer, o.Grace/2)
	if err != nil {
		return nil, err
	}
	idp, err := serveHTTP(keys)
	if err != nil {
		return nil, err
	}
	defer idp.Close()

	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "soak.yaml")
	if err := writeSoakConfig(config, listen, "http://"+idp.addr+soakJWKSPath, "http://"+upstream.addr, o.Refetch); err != nil {
		return nil, err
	}
	gw, err := startGatewayProcess(ctx, bin, dir, config, listen)
	if err != nil {
		return nil, err
	}
	defer func() {
		select {
		case <-gw.exited:
		default:
			gw.kill()
		}
	}()

	fmt.Fprintf(out, "jwtgate soak: %.0f req/s for %s; a new key published every %s, signed with %s later, the old key kept %s more\n",
		o.Rate, o.Duration, o.Rotate, o.Lead, o.Grace)
	fmt.Fprintf(out, "jwtgate serve as pid %d (listener %s, admin %s); %s, %d CPUs, %s\n\n",
		gw.cmd.Process.Pid, gw.listen, gw.admin, runtime.Version(), runtime.NumCPU(), cpuModel())

	r := &soakReport{opts: o, tally: newTally()}
	loadCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	start := time.Now()
	l := &soakLoad{
		addr:  gw.listen,
		keys:  keys,
		tally: r.tally,
		start: start,
		client: &http.Client{
			Timeout: 15 * time.Second,
			Transport: &http.Transport{
				MaxIdleConns:        2048,
				MaxIdleConnsPerHost: 2048,
				IdleConnTimeout:     30 * time.Second,
				DisableCompression:  true,
			},
		},
	}
	var wg sync.WaitGroup
	var mu sync.Mutex // guards r.rotations, r.switches, r.points
	wg.Add(2)
	go func() {
		defer wg.Done()
		r.rotate(loadCtx, &mu, keys, start)
	}()
	// Memory is sampled every second, each sample stamped with the
	// second it was taken at (a scrape takes a few milliseconds), and
	// once more at the end.
	scrape := &http.Client{Timeout: 5 * time.Second}
	sample := func() {
		at := time.Since(start).Round(time.Second)
		m, err := gw.sample(scrape)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if r.sampleErr == nil {
				r.sampleErr = fmt.Errorf("at %s: %w", at, err)
			}
			return
		}
		m.at = at
		if n := len(r.points); n > 0 && r.points[n-1].at >= at {
			return // a tick delayed by a slow scrape, then the next at once
		}
		r.points = append(r.points, soakPoint{
			memSample: m,
			answered:  r.tally.answered.Load(),
			fetches:   keys.fetches.Load(),
			key:       keys.current().n,
		})
	}
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			sample()
			select {
			case <-loadCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	cpu0, cpuErr := procCPU(gw.cmd.Process.Pid)
	l.run(loadCtx, o.Rate)
	wg.Wait()
	sample()
	if cpu1, err := procCPU(gw.cmd.Process.Pid); err == nil && cpuErr == nil {
		r.cpu, r.elapsed = cpu1-cpu0, time.Since(start)
	}
	if err := ctx.Err(); err != nil {
		return nil, err // interrupted
	}
	r.fetches = keys.fetches.Load()
	r.stopErr = gw.stop(time.Minute)
	if r.stopErr != nil {
		r.stopErr = fmt.Errorf("%w; the gateway's log ends:\n%s", r.stopErr, gw.logTail(10))
	}
	samples := make([]memSample, len(r.points))
	for i, p := range r.points {
		samples[i] = p.memSample
	}
	r.verdict = judgeMemory(samples, o.Duration)
	title := fmt.Sprintf("jwtgate soak: %.0f req/s for %s, a new JWKS key every %s", o.Rate, o.Duration, o.Rotate)
	if len(r.points) > 0 {
		if err := plotSoak(o.PNG, title, r.points, r.rotations, r.verdict); err != nil {
			return nil, err
		}
	}
	r.print(out)
	return r, nil
}

// writeSoakConfig renders soak.yaml.tmpl to path.
func writeSoakConfig(path, listen, jwks, upstream string, refetch time.Duration) error {
	tmpl := template.Must(template.New("soak.yaml").Funcs(template.FuncMap{"quote": strconv.Quote}).Parse(soakTemplate))
	data := map[string]string{"Listen": listen, "Issuer": soakIssuer, "JWKS": jwks, "Upstream": upstream}
	if refetch > 0 {
		data["Refetch"] = refetch.String()
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o600)
}

// rotate publishes a new key every Rotate, the first half a period after
// the start, signs valid tokens with it from Lead later, and retires the
// key it replaced Grace after that, until ctx is done. The half period
// puts the window after the first minute, which the memory bar compares
// with the last, in the same phase of the rotation as the last one
// (with the defaults, both hold the retirement of a key, a publication
// and a switch), and not in the first minute's, whose cache no
// rotation has emptied yet.
func (r *soakReport) rotate(ctx context.Context, mu *sync.Mutex, keys *keyring, start time.Time) {
	o := r.opts
	var wg sync.WaitGroup
	defer wg.Wait()
	for n := 1; ; n++ {
		key, err := newSoakKey(n) // made ahead: RSA key generation takes a while
		if err != nil {
			mu.Lock()
			r.sampleErr = errors.Join(r.sampleErr, err)
			mu.Unlock()
			return
		}
		at := start.Add(time.Duration(n)*o.Rotate - o.Rotate/2)
		if !sleepUntil(ctx, at) {
			return
		}
		keys.publish(key)
		mu.Lock()
		r.rotations = append(r.rotations, time.Since(start))
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !sleepUntil(ctx, at.Add(o.Lead)) {
				return
			}
			old := keys.use(key)
			mu.Lock()
			r.switches = append(r.switches, time.Since(start))
			mu.Unlock()
			if sleepUntil(ctx, time.Now().Add(o.Grace)) {
				keys.retire(old)
			}
		}()
	}
}

// sleepUntil waits until t and reports whether ctx is still live.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// print writes the report: the answers, the unexpected ones, the memory
// table and the verdict.
func (r *soakReport) print(out io.Writer) {
	failures := r.failures()
	t := r.tally
	t.mu.Lock()
	defer t.mu.Unlock()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tsent\texpected answer\tas expected\tunexpected\t")
	var sent, exp int
	for k := range numKinds {
		n := 0
		for _, c := range t.unexpected[k] {
			n += c
		}
		e := soakExpected[k]
		fmt.Fprintf(tw, "%s\t%d\t%d %s\t%d\t%d\t\n", k, t.sent[k], e.status, e.body, t.expected[k], n)
		sent += t.sent[k]
		exp += t.expected[k]
	}
	fmt.Fprintf(tw, "total\t%d\t\t%d\t%d\t\n", sent, exp, sent-exp)
	tw.Flush()

	fmt.Fprintln(out)
	if sent == exp {
		fmt.Fprintln(out, "unexpected answers: none")
	} else {
		fmt.Fprintln(out, "unexpected answers, by kind:")
		var lines []string
		for k := range numKinds {
			for answer, c := range t.unexpected[k] {
				first := t.firstAt[k.String()+": "+answer]
				lines = append(lines, fmt.Sprintf("  %s: %s  x%d (first at %s)", k, answer, c, first.Round(time.Millisecond)))
			}
		}
		sort.Strings(lines)
		fmt.Fprintln(out, strings.Join(lines, "\n"))
	}
	lat := slices.Clone(t.latencies)
	slices.Sort(lat)
	if len(lat) > 0 {
		fmt.Fprintf(out, "latency of the expected answers: p50 %s, p99 %s, max %s; requests sent at most %s late\n",
			fmtDur(percentile(lat, 50)), fmtDur(percentile(lat, 99)), fmtDur(lat[len(lat)-1]), t.maxLag.Round(time.Millisecond))
	}
	var byKey []string
	for _, k := range slices.Sorted(maps.Keys(t.acceptedBy)) {
		byKey = append(byKey, fmt.Sprintf("key %d: %d", k, t.acceptedBy[k]))
	}
	fmt.Fprintf(out, "key rotations: %d; valid tokens accepted, by signing key: %s; JWKS fetches: %d\n",
		len(r.rotations), strings.Join(byKey, ", "), r.fetches)
	if r.cpu > 0 && sent > 0 {
		fmt.Fprintf(out, "the gateway's CPU time: %.1fs, %.0f us per request, %.1f%% of one CPU\n",
			r.cpu.Seconds(), r.cpu.Seconds()*1e6/float64(sent), 100*r.cpu.Seconds()/r.elapsed.Seconds())
	}
	fmt.Fprintln(out)

	fmt.Fprintf(out, "the gateway's memory (sampled every second; heap: mean and max of the interval; heap goal and RSS: mean):\n")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "time\treq/s\theap mean\theap max\theap goal\tRSS\tJWKS fetches\tsigning key\t")
	var prev time.Duration
	for _, row := range memRows(r.points, r.opts.Every) {
		rps := 0.0
		if d := row.to - prev; d > 0 {
			rps = float64(row.requests) / d.Seconds()
		}
		prev = row.to
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%d\t%d\t\n", clock(row.to), rps, mib(row.heapMean), mib(row.heapMax), mib(row.goal), mib(row.rss), row.fetches, row.key)
	}
	tw.Flush()
	fmt.Fprintln(out)
	for _, c := range r.verdict.comments {
		fmt.Fprintln(out, c)
	}
	if r.stopErr == nil {
		fmt.Fprintln(out, "the gateway drained and exited 0 on SIGTERM")
	}
	fmt.Fprintf(out, "plot: %s\n", r.opts.PNG)
	if len(failures) > 0 {
		fmt.Fprintf(out, "\nFAIL:\n  %s\n", strings.Join(failures, "\n  "))
		return
	}
	fmt.Fprintln(out, "\nPASS: every answer as expected; memory at the end at most 10% above where it was after the first minute")
}

// clock prints d as m:ss, or s.s for short soaks.
func clock(d time.Duration) string {
	if d < 10*time.Second && d%time.Second != 0 {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
