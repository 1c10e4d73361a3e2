package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"jwtgate.dev/jwtgate/internal/admin"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/metrics"
	"jwtgate.dev/jwtgate/internal/proxy"
	"jwtgate.dev/jwtgate/internal/watch"
)

// Defaults of Options.
const (
	// DefaultReadyTimeout bounds how long /readyz waits for the remote key
	// sets' first fetch before it reports ready anyway (tokens of a
	// provider whose keys never arrived are rejected with 401: fail
	// closed).
	DefaultReadyTimeout = 10 * time.Second
	// DefaultDebounce is how long the file watcher waits for a burst of
	// changes to settle before reloading.
	DefaultDebounce = 200 * time.Millisecond
)

// ErrInvalid is returned by Start when the configuration has errors; the
// snapshot Start returns lists them.
var ErrInvalid = errors.New("configuration has errors")

// Options configure a Gateway.
type Options struct {
	// Paths are the configuration files and folders. Data, when set,
	// is a configuration held in memory instead, named DataName in
	// issues (the demo's); it is never watched.
	Paths    []string
	Data     []byte
	DataName string
	// Logger receives the access log and the gateway's own log. Nil
	// discards both.
	Logger *slog.Logger
	// AdminAddress is the admin listener's host:port; empty means none.
	AdminAddress string
	// Watch reloads when a configuration file, or a file it names (keys,
	// certificates), changes. Debounce is the quiet time a burst of
	// changes must end with; zero means DefaultDebounce.
	Watch    bool
	Debounce time.Duration
	// ReadyTimeout bounds how long readiness waits for every remote key
	// set's first fetch; zero means DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Grace bounds how long a replaced configuration keeps serving the
	// requests that started on it; zero means proxy.DefaultGrace.
	Grace time.Duration
	// DrainDelay is how long Shutdown keeps accepting connections after
	// readiness turns false, so that load balancers notice before the
	// listeners close; zero closes them at once.
	DrainDelay time.Duration
	// Build tunes compilation (clock, key set HTTP client, egress
	// resolution overrides). Its Logger and Previous are set by the
	// Gateway.
	Build proxy.Options
	// Select names the vendor gateway and workloads to serve (serve's
	// --gateway, --workload-namespace, --workload-labels).
	Select dialect.Selection
	// Reloaded, when set, is called after every reload attempt with its
	// outcome (tests).
	Reloaded func(error)
	// ConsoleShowClaims makes the admin console's denied requests show
	// the verified token's iss and sub (serve's --console-show-claims);
	// off, no claim value is kept.
	ConsoleShowClaims bool
}

// Gateway is a running gateway: its listeners, the admin listener and
// the configuration they serve.
type Gateway struct {
	opts    Options
	logger  *slog.Logger
	srv     *proxy.Server
	metrics *metrics.Metrics
	// denied keeps the console's denied requests; nil without admin.
	denied *proxy.DeniedLog

	admin   *http.Server
	adminLn net.Listener
	watcher *watch.Watcher

	mu       sync.Mutex // serializes reloads and shutdown
	snap     atomic.Pointer[Snapshot]
	keysDone chan struct{} // closed when the first key sets are in or timed out
	draining atomic.Bool
	stopped  bool
}

// Start compiles the configuration and serves it. When the
// configuration has errors it returns the snapshot with them and
// ErrInvalid, and serves nothing; when a listener cannot be bound it
// returns that error. ctx's values reach the key set fetches; its
// cancellation does not stop the gateway (Shutdown does).
func Start(ctx context.Context, opts Options) (*Gateway, *Snapshot, error) {
	g := &Gateway{opts: opts, logger: opts.Logger, metrics: metrics.New(), keysDone: make(chan struct{})}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	if opts.AdminAddress != "" {
		g.denied = proxy.NewDeniedLog(proxy.DefaultDeniedCapacity, opts.ConsoleShowClaims)
	}
	snap := g.compile(nil)
	if !snap.OK() {
		return nil, snap, ErrInvalid
	}
	g.logWarnings(snap)
	g.srv = proxy.NewServer(g.logger)
	g.srv.Grace = opts.Grace
	if err := g.srv.Start(ctx, snap.Runtime); err != nil {
		snap.Runtime.Close()
		return nil, snap, err
	}
	g.snap.Store(snap)
	g.metrics.ReloadSucceeded(snap.LoadedAt)
	g.metrics.SetProviders(g.providerStats)
	go g.awaitKeys(snap.Runtime)
	if opts.AdminAddress != "" {
		if err := g.startAdmin(opts.AdminAddress); err != nil {
			g.stop(context.Background())
			return nil, snap, err
		}
	}
	if opts.Watch && len(opts.Paths) > 0 {
		d := opts.Debounce
		if d <= 0 {
			d = DefaultDebounce
		}
		w, err := watch.New(g.watched(snap), d, func() { _ = g.Reload(context.WithoutCancel(ctx)) })
		if err != nil {
			g.stop(context.Background())
			return nil, snap, fmt.Errorf("watching the configuration: %w", err)
		}
		g.watcher = w
	}
	return g, snap, nil
}

// compile builds a snapshot of the configuration, borrowing unchanged
// providers from prev.
func (g *Gateway) compile(prev *proxy.Runtime) *Snapshot {
	bo := g.opts.Build
	bo.Logger = g.logger
	bo.Previous = prev
	bo.Metrics = g.metrics
	bo.Denied = g.denied
	if g.opts.Data != nil {
		return CompileBytesFor(g.opts.Select, g.opts.DataName, g.opts.Data, bo)
	}
	return CompileFor(g.opts.Select, g.opts.Paths, bo)
}

// watched is every file the watcher follows: the configuration's own
// paths and the files it names.
func (g *Gateway) watched(s *Snapshot) []string {
	out := append([]string(nil), g.opts.Paths...)
	return append(out, s.Config.ReferencedFiles()...)
}

// awaitKeys closes keysDone once every remote key set of rt has been
// fetched once (or failed its first fetch), or the ready timeout passed.
func (g *Gateway) awaitKeys(rt *proxy.Runtime) {
	d := g.opts.ReadyTimeout
	if d <= 0 {
		d = DefaultReadyTimeout
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	defer close(g.keysDone)
	for _, p := range rt.Providers() {
		select {
		case <-p.Fetched():
		case <-deadline.C:
			g.logger.Warn("ready before every key set was fetched", "provider", p.Name(), "waited", d.String())
			return
		}
	}
}

// Ready reports whether the gateway should receive traffic: it serves,
// every remote key set was fetched once (or failed its first fetch, or
// the ready timeout passed), and it is not shutting down.
func (g *Gateway) Ready() bool {
	if g.draining.Load() || !g.srv.Ready() {
		return false
	}
	select {
	case <-g.keysDone:
		return true
	default:
		return false
	}
}

// Reload compiles the configuration again and swaps it in. On any error
// the running configuration keeps serving and every error is logged.
// Providers whose configuration did not change keep their key sets,
// refresh schedules and verified-token caches.
func (g *Gateway) Reload(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	err := g.reload(ctx)
	if err != nil {
		g.metrics.ReloadFailed()
	} else {
		g.metrics.ReloadSucceeded(g.snap.Load().LoadedAt)
	}
	if g.opts.Reloaded != nil {
		g.opts.Reloaded(err)
	}
	return err
}

func (g *Gateway) reload(ctx context.Context) error {
	if g.stopped {
		return errors.New("gateway shut down")
	}
	g.logger.Info("reloading", "config", g.opts.Paths)
	old := g.snap.Load()
	snap := g.compile(old.Runtime)
	if !snap.OK() {
		for _, is := range snap.Issues.Errors() {
			g.logger.Error("configuration error", "error", is.Error())
		}
		g.logger.Error("reload failed; keeping the previous configuration", "errors", len(snap.Issues.Errors()))
		return fmt.Errorf("%w: %d errors", ErrInvalid, len(snap.Issues.Errors()))
	}
	g.logWarnings(snap)
	if err := g.srv.Reload(ctx, snap.Runtime); err != nil {
		snap.Runtime.Close()
		g.logger.Error("reload failed; keeping the previous configuration", "error", err)
		return err
	}
	g.snap.Store(snap)
	if g.watcher != nil {
		if err := g.watcher.Set(g.watched(snap)); err != nil {
			g.logger.Warn("watching the configuration", "error", err)
		}
	}
	g.logger.Info("reloaded", "config", g.opts.Paths, "version", short(snap.Version))
	return nil
}

func (g *Gateway) logWarnings(s *Snapshot) {
	for _, w := range s.Issues.Warnings() {
		g.logger.Warn("configuration warning", "warning", w.Error())
	}
}

// Shutdown reports not-ready, keeps serving for DrainDelay, stops
// accepting connections, waits for requests in flight until ctx is done,
// and stops the admin listener and the watcher.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.draining.Store(true)
	if d := g.opts.DrainDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	var werr error
	if g.watcher != nil {
		// Before taking the lock: Close waits for a reload the watcher
		// started, and that reload takes the lock.
		werr = g.watcher.Close()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return errors.Join(werr, g.stop(ctx))
}

// stop shuts the listeners down; the caller holds g.mu or owns g alone.
func (g *Gateway) stop(ctx context.Context) error {
	if g.stopped {
		return nil
	}
	g.stopped = true
	g.draining.Store(true)
	var errs []error
	errs = append(errs, g.srv.Shutdown(ctx))
	if g.admin != nil {
		errs = append(errs, g.admin.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// DrainDelay is the configured Options.DrainDelay.
func (g *Gateway) DrainDelay() time.Duration { return g.opts.DrainDelay }

// Snapshot is the running configuration.
func (g *Gateway) Snapshot() *Snapshot { return g.snap.Load() }

// Addr is the bound address of the named listener, or nil.
func (g *Gateway) Addr(listener string) net.Addr { return g.srv.Addr(listener) }

// AdminAddr is the admin listener's bound address, or nil.
func (g *Gateway) AdminAddr() net.Addr {
	if g.adminLn == nil {
		return nil
	}
	return g.adminLn.Addr()
}

// Server is the proxy server (tests reach the runtime through it).
func (g *Gateway) Server() *proxy.Server { return g.srv }

func (g *Gateway) startAdmin(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin listener %s: %w", addr, err)
	}
	h := admin.New(admin.Options{Ready: g.Ready, Console: g.console()})
	h.Handle("GET /metrics", g.metrics.Handler())
	h.Handle("GET /config", http.HandlerFunc(g.serveConfig))
	g.adminLn = ln
	g.admin = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := g.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.logger.Error("admin listener", "error", err)
		}
	}()
	g.logger.Info("admin listening", "address", ln.Addr().String())
	return nil
}

// providerStats reports the running configuration's providers for the
// key set and token cache metrics.
func (g *Gateway) providerStats() []metrics.ProviderStats {
	s := g.snap.Load()
	if s == nil || s.Runtime == nil {
		return nil
	}
	var out []metrics.ProviderStats
	for _, p := range s.Runtime.Providers() {
		st := p.Stats()
		out = append(out, metrics.ProviderStats{Name: p.Name(), KeySetFetches: st.KeySetFetches, KeySetFailures: st.KeySetFailures,
			KeysLoadedAt: st.KeysLoadedAt, CacheHits: st.CacheHits, CacheMisses: st.CacheMisses})
	}
	return out
}

func short(v string) string {
	if len(v) > 12 {
		return v[:12]
	}
	return v
}
