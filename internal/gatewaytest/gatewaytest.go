// Package gatewaytest runs jwtgate gateways in tests the way `jwtgate
// serve` runs them: the YAML is written to a configuration file, compiled
// by gateway.Compile and served by a gateway.Gateway, and the gateway is
// shut down when the test ends. It is the one load -> build -> serve path
// for tests; none of them should assemble config, proxy.Build and
// proxy.Server by hand.
//
// Listener addresses in the YAML may be 127.0.0.1:0: Harness.URL reports
// the port each listener got. Nothing here opens a socket off loopback.
//
//	h := gatewaytest.Start(t, yaml, gatewaytest.Admin())
//	res, err := http.Get(h.URL("web") + "/headers")
//
// Compile is for tests that only need the compiled snapshot (its
// issues, statuses or routes); it opens no socket.
//
// Every failure to set up (a configuration with errors passed to Start,
// a listener that cannot be bound) fails the test through testing.TB.
package gatewaytest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/gateway"
	"jwtgate.dev/jwtgate/internal/logtest"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// DefaultName is the configuration file's name unless Name says otherwise.
const DefaultName = "gateway.yaml"

// shutdownTimeout bounds the drain of the cleanup's Shutdown.
const shutdownTimeout = 10 * time.Second

// settings are what the Options set.
type settings struct {
	name         string
	inMemory     bool
	admin        bool
	watch        bool
	debounce     time.Duration
	readyTimeout time.Duration
	grace        time.Duration
	build        proxy.Options
	sel          dialect.Selection
	logger       *slog.Logger
	level        slog.Level
	reloaded     func(error)
}

// Option tunes Start and Compile.
type Option func(*settings)

// Name names the configuration file (DefaultName otherwise). With Compile
// and InMemory it is only the name issues carry, and relative file names
// in the YAML resolve from its folder as seen from the current directory.
func Name(name string) Option { return func(s *settings) { s.name = name } }

// InMemory hands the YAML to the gateway as gateway.Options.Data instead
// of writing a file (the demo's way); it cannot be rewritten or watched.
func InMemory() Option { return func(s *settings) { s.inMemory = true } }

// Admin starts the admin listener on 127.0.0.1:0; see Harness.AdminURL.
func Admin() Option { return func(s *settings) { s.admin = true } }

// Watch reloads when the configuration file changes, after debounce of
// quiet (zero: gateway.DefaultDebounce).
func Watch(debounce time.Duration) Option {
	return func(s *settings) { s.watch, s.debounce = true, debounce }
}

// ReadyTimeout is gateway.Options.ReadyTimeout.
func ReadyTimeout(d time.Duration) Option { return func(s *settings) { s.readyTimeout = d } }

// Grace is gateway.Options.Grace.
func Grace(d time.Duration) Option { return func(s *settings) { s.grace = d } }

// Build is gateway.Options.Build: the clock, the key set HTTP client.
func Build(o proxy.Options) Option { return func(s *settings) { s.build = o } }

// Select is gateway.Options.Select: the vendor gateway and workloads to
// serve. Its BindAddress defaults to 127.0.0.1, so that the listeners of
// vendor resources bind loopback only, as every test must.
func Select(sel dialect.Selection) Option { return func(s *settings) { s.sel = sel } }

// Logger sends the gateway's log to l instead of Harness.Logs (which is
// then nil).
func Logger(l *slog.Logger) Option { return func(s *settings) { s.logger = l } }

// LogLevel is the level of the log captured in Harness.Logs; the default,
// Info, keeps the access log.
func LogLevel(l slog.Level) Option { return func(s *settings) { s.level = l } }

// OnReload is called after every reload attempt with its outcome.
func OnReload(f func(error)) Option { return func(s *settings) { s.reloaded = f } }

func apply(opts []Option) settings {
	s := settings{name: DefaultName, level: slog.LevelInfo}
	for _, o := range opts {
		o(&s)
	}
	if s.sel.BindAddress == "" {
		s.sel.BindAddress = "127.0.0.1"
	}
	return s
}

// Harness is a gateway started by Start.
type Harness struct {
	// Gateway is the running gateway.
	Gateway *gateway.Gateway
	// Snapshot is the configuration the gateway started with;
	// Gateway.Snapshot() is the one serving now.
	Snapshot *gateway.Snapshot
	// Path is the configuration file; empty with InMemory.
	Path string
	// Logs receives the gateway's log as JSON lines (the access log
	// included at the default level); nil when Logger was given.
	Logs *logtest.Buffer

	t testing.TB
}

// Start writes yaml to a configuration file in a fresh temporary folder,
// starts a gateway serving it, and shuts the gateway down when the test
// ends. A configuration with errors fails the test, every error listed.
func Start(t testing.TB, yaml string, opts ...Option) *Harness {
	t.Helper()
	s := apply(opts)
	h := &Harness{t: t}
	logger := s.logger
	if logger == nil {
		h.Logs = &logtest.Buffer{}
		logger = slog.New(slog.NewJSONHandler(h.Logs, &slog.HandlerOptions{Level: s.level}))
	}
	o := gateway.Options{
		Logger:       logger,
		Watch:        s.watch,
		Debounce:     s.debounce,
		ReadyTimeout: s.readyTimeout,
		Grace:        s.grace,
		Build:        s.build,
		Select:       s.sel,
		Reloaded:     s.reloaded,
	}
	if s.admin {
		o.AdminAddress = "127.0.0.1:0"
	}
	if s.inMemory {
		o.Data, o.DataName = []byte(yaml), s.name
	} else {
		h.Path = filepath.Join(t.TempDir(), s.name)
		writeFile(t, h.Path, yaml)
		o.Paths = []string{h.Path}
	}
	gw, snap, err := gateway.Start(context.Background(), o)
	if errors.Is(err, gateway.ErrInvalid) {
		t.Fatalf("gatewaytest: the configuration has errors:\n%v\n\n%s", snap.Issues.Err(), numbered(yaml))
	}
	if err != nil {
		t.Fatalf("gatewaytest: starting the gateway: %v", err)
	}
	h.Gateway, h.Snapshot = gw, snap
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Logf("gatewaytest: shutdown: %v", err)
		}
	})
	return h
}

// Addr is the host:port the named listener is bound to. An unknown
// listener fails the test.
func (h *Harness) Addr(listener string) string {
	h.t.Helper()
	a := h.Gateway.Addr(listener)
	if a == nil {
		h.t.Fatalf("gatewaytest: the gateway has no listener %q", listener)
	}
	return a.String()
}

// URL is http://HOST:PORT of the named listener, without a trailing
// slash. An unknown listener fails the test.
func (h *Harness) URL(listener string) string {
	h.t.Helper()
	return "http://" + h.Addr(listener)
}

// AdminURL is http://HOST:PORT of the admin listener. Without Admin it
// fails the test.
func (h *Harness) AdminURL() string {
	h.t.Helper()
	a := h.Gateway.AdminAddr()
	if a == nil {
		h.t.Fatal("gatewaytest: the gateway has no admin listener (start it with gatewaytest.Admin())")
	}
	return "http://" + a.String()
}

// Warnings are the warnings of the configuration serving now.
func (h *Harness) Warnings() model.Issues { return h.Gateway.Snapshot().Issues.Warnings() }

// Write replaces the configuration file's contents with yaml, atomically
// (a rename, as editors save), without reloading: call Reload, or let
// Watch see it.
func (h *Harness) Write(yaml string) {
	h.t.Helper()
	if h.Path == "" {
		h.t.Fatal("gatewaytest: Write on an InMemory gateway")
	}
	writeFile(h.t, h.Path, yaml)
}

// Reload reloads the configuration and returns the outcome.
func (h *Harness) Reload() error {
	return h.Gateway.Reload(context.Background())
}

// Compile compiles yaml in memory, named Name (DefaultName otherwise), as
// `jwtgate validate` would: every error and warning in the snapshot's
// Issues, every resource's status, and a Runtime when there is no error,
// closed when the test ends. It opens no socket and fetches nothing.
func Compile(t testing.TB, yaml string, opts ...Option) *gateway.Snapshot {
	t.Helper()
	s := apply(opts)
	snap := gateway.CompileBytesFor(s.sel, s.name, []byte(yaml), s.build)
	closeAtEnd(t, snap)
	return snap
}

// CompileFiles is Compile for configuration files and folders.
func CompileFiles(t testing.TB, paths []string, opts ...Option) *gateway.Snapshot {
	t.Helper()
	s := apply(opts)
	snap := gateway.CompileFor(s.sel, paths, s.build)
	closeAtEnd(t, snap)
	return snap
}

func closeAtEnd(t testing.TB, snap *gateway.Snapshot) {
	if snap.Runtime != nil {
		t.Cleanup(snap.Runtime.Close)
	}
}

// writeFile writes data to path through a temporary file and a rename.
func writeFile(t testing.TB, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		t.Fatalf("gatewaytest: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatalf("gatewaytest: %v", err)
	}
}

// numbered is yaml with line numbers, for failure messages.
func numbered(yaml string) string {
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimSuffix(yaml, "\n"), "\n") {
		fmt.Fprintf(&b, "%4d  %s\n", i+1, line)
	}
	return b.String()
}

// FreeAddr returns a loopback host:port whose port was free a moment ago,
// for tests that must name an address before something listens on it.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
