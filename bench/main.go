// Command bench measures jwtgate's throughput and latency against an
// upstream reached directly and through a tuned httputil.ReverseProxy,
// all on loopback, with a closed-loop load generator of its own.
//
//	go run ./bench [-duration 10s] [-conns 64] [-warmup 2s] [-tokens 10000] [-rounds 1]
//
// It runs, in turn: (a) the upstream alone; (b) a bare ReverseProxy whose
// Transport keeps as many idle connections as there are clients; (c)
// jwtgate with the same valid RS256 token on every request (a cache hit
// after the first); (d) jwtgate with a different token on each request,
// cycling through a pool larger than twice the verified-token cache so
// that every request verifies a signature. jwtgate is started as `jwtgate
// serve` starts it, through gateway.Start, so its request metrics are on.
// Then egress (egress.go): a client sends absolute-form requests for
// http://api.example.com/get with a proxy token to (e) a bare forward
// proxy (a ReverseProxy choosing its destination per request, originating
// TLS to a local HTTPS upstream) and (f) jwtgate's egress listener, which
// checks the token (cached), a gateway-wide rule, and originates TLS.
// (g) is (c)'s gateway written as kgateway and Gateway API resources,
// which must compile to the same runtime and so run as fast. Then HTTP/2
// (h2.go): an HTTP/2 client over TLS sends (c)'s request to (h) a bare
// ReverseProxy behind an http.Server with TLS and (i) jwtgate on a TLS
// listener, both negotiating HTTP/2 by ALPN. Results are printed as a
// table with the ratios c/b, c/a, d/b, f/e, g/c and i/h.
// With -rounds N the scenarios run N times, interleaved, so that a
// machine whose speed drifts (a shared CI runner) affects them alike; the
// figures pool every round. Each measured run also reports how much of
// the CPUs other processes used meanwhile (Linux), and the summary warns
// when that was more than 5%.
//
// With -soak DURATION it runs the soak instead (soak.go): jwtgate serve
// as a child process behind a fixed rate of mixed requests while its key
// set rotates, checking every answer and the gateway's memory over time.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"text/template"
	"time"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/gateway"
)

// tokenCacheSize is the number of verified tokens a provider remembers
// (internal/authn). Cycling through more than twice as many tokens in
// order makes every lookup in its LRU miss.
const tokenCacheSize = 4096

//go:embed bench.yaml.tmpl
var configTemplate string

func main() {
	var (
		duration = flag.Duration("duration", 10*time.Second, "measured time per scenario")
		conns    = flag.Int("conns", 64, "concurrent client connections")
		warmup   = flag.Duration("warmup", 2*time.Second, "unmeasured load before each scenario")
		tokens   = flag.Int("tokens", 10000, "distinct tokens for the fresh-token scenario, cycled; keep it above twice the verified-token cache (4096) so every request misses it")
		rounds   = flag.Int("rounds", 1, "rounds of all the scenarios, interleaved; the figures are over all rounds")
		only     = flag.String("only", "abcdefghi", "the scenarios to run, by letter")
		profile  = flag.String("cpuprofile", "", "write a CPU profile of the whole process, from the first measured run to the end, to this file")
		soak     soakOptions
	)
	flag.DurationVar(&soak.Duration, "soak", 0, "run the soak instead of the benchmark, for this long (e.g. 10m): see docs/performance.md")
	flag.Float64Var(&soak.Rate, "soak-rate", 200, "soak: requests per second")
	flag.DurationVar(&soak.Rotate, "soak-rotate", time.Minute, "soak: publish a new key this often")
	flag.DurationVar(&soak.Lead, "soak-lead", 10*time.Second, "soak: sign tokens with a new key this long after publishing it")
	flag.DurationVar(&soak.Grace, "soak-grace", 30*time.Second, "soak: keep the replaced key published this long after the switch")
	flag.DurationVar(&soak.Refetch, "soak-refetch", 0, "soak: the provider's jwks.refetchInterval (0: the gateway's default)")
	flag.DurationVar(&soak.Every, "soak-every", 10*time.Second, "soak: one row of the memory table per interval")
	flag.StringVar(&soak.PNG, "soak-png", "bench/results/soak.png", "soak: where to write the memory plot")
	flag.StringVar(&soak.Binary, "soak-binary", "", "soak: the jwtgate binary to run (default: build it with the go command)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if soak.Duration != 0 {
		report, err := runSoak(ctx, os.Stdout, soak)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if len(report.failures()) > 0 {
			os.Exit(1)
		}
		return
	}
	if *conns < 1 || *rounds < 1 || *tokens < 1 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "bench: -conns, -rounds, -tokens and -duration must be positive")
		os.Exit(2)
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer f.Close()
		profileTo = f
	}
	if err := run(ctx, os.Stdout, *duration, *warmup, *conns, *tokens, *rounds, *only); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// noisyShare is the share of the CPUs that other processes may use during
// a measured run before the run is reported as noisy.
const noisyShare = 0.05

// profileTo, when set, receives a CPU profile of the measured runs.
var profileTo io.Writer

func run(ctx context.Context, out io.Writer, duration, warmup time.Duration, conns, tokens, rounds int, only string) error {
	fmt.Fprintf(out, "jwtgate load benchmark: %s, %d CPUs (GOMAXPROCS %d), %s\n",
		runtime.Version(), runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuModel())
	fmt.Fprintf(out, "%d connections, %s warm-up + %s measured per scenario, %d round(s), all on loopback in one process\n",
		conns, warmup, duration, rounds)

	// The upstream: a tiny fixed 200.
	body := []byte(`{"ok":true}`)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
	upstream, err := serveHTTP(ok)
	if err != nil {
		return err
	}
	defer upstream.Close()

	// The tuned bare reverse proxy (h2.go).
	bare, err := serveHTTP(newBareProxy("http://"+upstream.addr, conns))
	if err != nil {
		return err
	}
	defer bare.Close()

	// jwtgate, with a key made now and given inline.
	iss, err := demo.NewIssuer("https://bench.jwtgate.dev")
	if err != nil {
		return err
	}
	gw, closeGW, err := startGateway(ctx, iss, "http://"+upstream.addr)
	if err != nil {
		return err
	}
	defer closeGW()
	token, err := iss.MintFor("bench", 24*time.Hour, nil)
	if err != nil {
		return err
	}

	// The gateway must do its job before it is timed.
	for _, c := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {token, http.StatusOK}, {token + "x", http.StatusUnauthorized}} {
		if err := expect("http://"+gw+"/", c.token, c.want); err != nil {
			return err
		}
	}

	if !strings.Contains(only, "d") {
		tokens = 1
	}
	fmt.Fprintf(out, "minting %d distinct tokens on %d CPUs ...", tokens, runtime.GOMAXPROCS(0))
	t0 := time.Now()
	pool, err := mintPool(iss, gw, tokens)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, " %s\n", time.Since(t0).Round(100*time.Millisecond))
	if tokens <= 2*tokenCacheSize && strings.Contains(only, "d") {
		fmt.Fprintf(out, "note: %d tokens is not more than twice the verified-token cache (%d): (d) will hit the cache\n", tokens, tokenCacheSize)
	}
	fmt.Fprintln(out)

	same := fixed(rawGET(gw, "/", token))
	scenarios := []scenario{
		{"(a) upstream directly", upstream.addr, fixed(rawGET(upstream.addr, "/", "")), fixed(rawGET(upstream.addr, "/", "")), nil},
		{"(b) bare httputil.ReverseProxy", bare.addr, fixed(rawGET(bare.addr, "/", "")), fixed(rawGET(bare.addr, "/", "")), nil},
		{"(c) jwtgate, same token (cached)", gw, same, same, nil},
		{"(d) jwtgate, fresh token per request", gw, same, cycle(pool), nil},
	}
	skip := func(i int) bool { return !strings.ContainsRune(only, rune('a'+i)) }
	if skip(4) && skip(5) {
		scenarios = append(scenarios, scenario{name: "(e)"}, scenario{name: "(f)"})
	} else {
		eg, err := startEgress(ctx, iss, ok, conns)
		if err != nil {
			return err
		}
		defer eg.Close()
		if err := eg.check(iss, token); err != nil {
			return err
		}
		scenarios = append(scenarios, eg.scenarios(token)...)
	}
	if skip(6) {
		scenarios = append(scenarios, scenario{name: "(g)"})
	} else {
		kg, closeKG, err := startKgateway(ctx, iss, upstream.addr)
		if err != nil {
			return err
		}
		defer closeKG()
		for _, c := range []struct {
			token string
			want  int
		}{{"", http.StatusUnauthorized}, {token, http.StatusOK}} {
			if err := expect("http://"+kg+"/", c.token, c.want); err != nil {
				return fmt.Errorf("(g): %w", err)
			}
		}
		g := fixed(rawGET(kg, "/", token))
		scenarios = append(scenarios, scenario{"(g) jwtgate from kgateway YAML, cached", kg, g, g, nil})
	}
	if skip(7) && skip(8) {
		scenarios = append(scenarios, scenario{name: "(h)"}, scenario{name: "(i)"})
	} else {
		h2, err := startH2(ctx, iss, upstream.addr, conns)
		if err != nil {
			return err
		}
		defer h2.Close()
		if err := h2.check(token); err != nil {
			return err
		}
		scenarios = append(scenarios, h2.scenarios(token)...)
	}
	results := make([]result, len(scenarios))
	noisy := 0 // measured runs during which other processes were busy
	for round := range rounds {
		if rounds > 1 {
			fmt.Fprintf(out, "round %d of %d\n", round+1, rounds)
		}
		for i, sc := range scenarios {
			if skip(i) {
				results[i].name = sc.name
				continue
			}
			fmt.Fprintf(out, "  %-44s", sc.name+" ...")
			if warmup > 0 {
				if _, err := sc.load(ctx, conns, warmup, true); err != nil {
					fmt.Fprintln(out)
					return fmt.Errorf("warm-up: %w", err)
				}
			}
			if profileTo != nil {
				if err := pprof.StartCPUProfile(profileTo); err == nil {
					defer pprof.StopCPUProfile()
				}
				profileTo = nil
			}
			r, err := sc.load(ctx, conns, duration, false)
			if err != nil {
				fmt.Fprintln(out)
				return err
			}
			fmt.Fprintf(out, " %8.0f req/s  %5.1f us CPU/req", r.rps(), r.cpuPerRequest().Seconds()*1e6)
			if r.others >= 0 {
				fmt.Fprintf(out, "  other processes: %3.0f%% of the CPUs", 100*r.others)
				if r.others > noisyShare {
					noisy++
				}
			}
			fmt.Fprintln(out)
			results[i] = results[i].add(r)
			runtime.GC()
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	a, b, c, d, e, f, g, h, i := results[0], results[1], results[2], results[3], results[4], results[5], results[6], results[7], results[8]

	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\treq/s\tp50\tp99\trequests\terrors\tCPU/req\t")
	for i, r := range results {
		if skip(i) {
			continue
		}
		if r.firstErr != nil {
			defer fmt.Fprintf(out, "%s: first error: %v\n", r.name, r.firstErr)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%d\t%d\t%.1f us\t\n", r.name, r.rps(),
			fmtDur(percentile(r.latencies, 50)), fmtDur(percentile(r.latencies, 99)), r.requests, r.errors, r.cpuPerRequest().Seconds()*1e6)
	}
	tw.Flush()
	fmt.Fprintln(out)
	// ratio compares requests/s and, when known, the inverse of the CPU
	// time per request, which other processes disturb less (not nothing).
	ratio := func(x, y result) string {
		if x.rps() == 0 || y.rps() == 0 { // a scenario not run
			return "n/a"
		}
		s := fmt.Sprintf("%.2f", x.rps()/y.rps())
		if x.cpuPerRequest() > 0 && y.cpuPerRequest() > 0 {
			s += fmt.Sprintf(" (by CPU per request %.2f)", float64(y.cpuPerRequest())/float64(x.cpuPerRequest()))
		}
		return s
	}
	if noisy > 0 {
		fmt.Fprintf(out, "warning: other processes used more than %.0f%% of the CPUs during %d measured run(s): the figures are not those of an idle machine\n\n", 100*noisyShare, noisy)
	}
	fmt.Fprintf(out, "c/b = %s   (jwtgate with a cached token vs the bare proxy; the bar is >= 1.0)\n", ratio(c, b))
	fmt.Fprintf(out, "c/a = %s   (jwtgate with a cached token vs the upstream alone)\n", ratio(c, a))
	fmt.Fprintf(out, "d/b = %s   (jwtgate verifying every token vs the bare proxy; the bar is >= 0.70)\n", ratio(d, b))
	fmt.Fprintf(out, "f/e = %s   (jwtgate egress with a cached proxy token vs the bare forward proxy; the bar is >= 0.9)\n", ratio(f, e))
	fmt.Fprintf(out, "g/c = %s   (the same gateway from kgateway resources vs the native configuration; expect 1.0 within noise)\n", ratio(g, c))
	fmt.Fprintf(out, "i/h = %s   (jwtgate over HTTP/2 and TLS with a cached token vs the bare HTTP/2 proxy; the bar is >= 0.9)\n", ratio(i, h))
	return nil
}

// scenario is one load to measure: requests to addr, warm during the
// warm-up and next during the measurement; or, when h2 is set, the HTTP/2
// client's requests (h2.go).
type scenario struct {
	name       string
	addr       string
	warm, next requests
	h2         *h2Load
}

// load runs the scenario's load for d: the warm-up's requests when warm.
func (sc scenario) load(ctx context.Context, conns int, d time.Duration, warm bool) (result, error) {
	if sc.h2 != nil {
		return sc.h2.run(ctx, sc.name, sc.addr, conns, d)
	}
	next := sc.next
	if warm {
		next = sc.warm
	}
	return load(ctx, sc.name, sc.addr, conns, d, next)
}

// expect sends one GET and checks its status.
func expect(url, token string, want int) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("sanity check: GET %s (token %t) = %d %q, want %d", url, token != "", resp.StatusCode, body, want)
	}
	return nil
}

// server is an HTTP server on a loopback port.
type server struct {
	addr string
	srv  *http.Server
}

func (s *server) Close() { _ = s.srv.Close() }

func serveHTTP(h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return serveOn(ln, h), nil
}

// serveOn serves h on ln (which may be a TLS listener).
func serveOn(ln net.Listener, h http.Handler) *server {
	s := &server{addr: ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = s.srv.Serve(ln) }()
	return s
}

// startGateway starts jwtgate as `jwtgate serve` runs it: the embedded
// configuration goes through gateway.Start (the one compile step, the
// proxy server, and the Prometheus metrics the request pipeline records),
// with no admin listener and the access log discarded. It returns the
// listener address.
func startGateway(ctx context.Context, iss *demo.Issuer, upstream string) (string, func(), error) {
	return startConfig(ctx, "bench.yaml", configTemplate, map[string]string{
		"Issuer": iss.URL, "JWKS": string(iss.JWKS()), "Upstream": upstream,
	}, "bench")
}

//go:embed kgateway.yaml.tmpl
var kgatewayTemplate string

// startKgateway starts scenario (g)'s gateway: (c)'s configuration
// written as kgateway and Gateway API resources, its listener on a free
// loopback port.
func startKgateway(ctx context.Context, iss *demo.Issuer, upstream string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	_, upPort, _ := net.SplitHostPort(upstream)
	return startSelected(ctx, dialect.Selection{BindAddress: "127.0.0.1"}, "kgateway.yaml", kgatewayTemplate, map[string]string{
		"Issuer": iss.URL, "JWKS": string(iss.JWKS()), "Port": port, "UpstreamPort": upPort,
	}, "kgateway-system/bench/http")
}

// startConfig starts jwtgate, as startGateway does, on the configuration
// the template text named name makes of data, and returns the address of
// its listener.
func startConfig(ctx context.Context, name, text string, data map[string]string, listener string) (string, func(), error) {
	return startSelected(ctx, dialect.Selection{}, name, text, data, listener)
}

// startSelected is startConfig for vendor resources, whose listeners bind
// the ports they name on sel.BindAddress.
func startSelected(ctx context.Context, sel dialect.Selection, name, text string, data map[string]string, listener string) (string, func(), error) {
	tmpl := template.Must(template.New(name).Funcs(template.FuncMap{"quote": strconv.Quote}).Parse(text))
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return "", nil, err
	}
	gw, snap, err := gateway.Start(ctx, gateway.Options{
		Data:         buf.Bytes(),
		DataName:     name,
		Logger:       slog.New(slog.DiscardHandler),
		AdminAddress: "",
		Select:       sel,
	})
	if errors.Is(err, gateway.ErrInvalid) {
		return "", nil, fmt.Errorf("%s: %w", name, snap.Issues.Err())
	}
	if err != nil {
		return "", nil, fmt.Errorf("starting the bench gateway: %w", err)
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(sctx) // closes the runtime too
	}
	addr := gw.Addr(listener)
	if addr == nil {
		stop()
		return "", nil, fmt.Errorf("gateway listener %q has no address", listener)
	}
	return addr.String(), stop, nil
}

// mintPool signs n distinct tokens in parallel and returns the requests
// carrying them.
func mintPool(iss *demo.Issuer, addr string, n int) ([][]byte, error) {
	pool := make([][]byte, n)
	var (
		wg   sync.WaitGroup
		once sync.Once
		ferr error
	)
	workers := runtime.GOMAXPROCS(0)
	exp := time.Now().Add(24 * time.Hour).Unix()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				tok, err := iss.Mint(map[string]any{"sub": "bench-" + strconv.Itoa(i), "exp": exp})
				if err != nil {
					once.Do(func() { ferr = err })
					return
				}
				pool[i] = rawGET(addr, "/", tok)
			}
		}()
	}
	wg.Wait()
	return pool, ferr
}

// cpuModel is the first "model name" in /proc/cpuinfo, or "".
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
