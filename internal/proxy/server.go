package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// DefaultGrace is how long a replaced Runtime may keep serving requests
// that started on it before it is closed anyway.
const DefaultGrace = 30 * time.Second

// Server serves Runtimes: it binds their listeners and swaps one Runtime
// for the next without dropping requests.
//
// Every request is served by the Runtime current when it arrived, start to
// end. TLS handshakes take their certificate and client CA from the
// current Runtime, so a reload also rotates certificates.
type Server struct {
	logger *slog.Logger
	// Grace bounds how long a replaced Runtime keeps serving the requests
	// that started on it (long downloads, WebSockets) before it is closed.
	// Zero means DefaultGrace. Set it before Start.
	Grace time.Duration

	current atomic.Pointer[Runtime]
	ready   atomic.Bool

	mu      sync.Mutex
	bound   map[string]*boundListener // by configured address
	closing sync.WaitGroup            // background closes of old listeners and runtimes
	stopped bool
}

// boundListener is a socket and the http.Server accepting on it. It
// outlives Runtimes: a reload that keeps the address keeps the socket.
type boundListener struct {
	address string // as configured, the key into Runtime.byAddr
	ln      net.Listener
	srv     *http.Server
	done    chan struct{} // closed when Serve returns
	guard   *guard        // the per-request limits (limits.go)
}

// NewServer returns a Server that logs to logger (nil: nowhere).
func NewServer(logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{logger: logger, bound: map[string]*boundListener{}}
}

// Start binds every listener of rt, starts rt's providers and serves in
// background goroutines until Shutdown. If any listener cannot be bound,
// the others are closed and the error is returned. ctx bounds nothing
// after Start returns; its values reach the providers.
func (s *Server) Start(ctx context.Context, rt *Runtime) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.current.Load() != nil {
		return errors.New("proxy: server already started")
	}
	if err := s.activate(ctx, rt); err != nil {
		return err
	}
	s.ready.Store(true)
	return nil
}

// activate binds rt's new addresses, starts its providers, makes it current
// and serves the new sockets. Callers hold s.mu. On a bind error nothing
// changes.
func (s *Server) activate(ctx context.Context, rt *Runtime) error {
	opened, err := s.bindNew(rt)
	if err != nil {
		return err
	}
	rt.start(ctx)
	s.current.Store(rt)
	for _, b := range opened {
		s.serve(b)
	}
	return nil
}

// bindNew binds the addresses of rt that are not bound yet. On failure it
// closes what it bound and returns the error.
func (s *Server) bindNew(rt *Runtime) ([]*boundListener, error) {
	var opened []*boundListener
	for _, l := range rt.listeners {
		if s.bound[l.address] != nil {
			continue
		}
		ln, err := net.Listen("tcp", l.address)
		if err != nil {
			for _, b := range opened {
				b.ln.Close()
			}
			return nil, fmt.Errorf("listener %s: %w", l.name, err)
		}
		b := s.newBound(l.address, ln, rt.serverLimits(l.address))
		b.srv.Protocols = rt.serverProtocols(l.address) // http2.go
		opened = append(opened, b)
	}
	return opened, nil
}

// newBound makes the http.Server for address, with the limits of the
// listener that first binds it (see limits.go). A reload that keeps the
// address keeps the server and so its limits.
func (s *Server) newBound(address string, ln net.Listener, lim model.ListenerLimits) *boundListener {
	b := &boundListener{address: address, done: make(chan struct{}), guard: newGuard(lim)}
	sw := &tlsSwitch{Listener: limitConns(ln, lim.MaxConnections, s.logger, address), s: s, address: address}
	sw.base = &tls.Config{GetConfigForClient: sw.configForClient}
	b.ln = sw
	b.srv = &http.Server{
		Handler: s.handler(address, b.guard),
		// "OPTIONS *" reaches the pipeline, which rejects it (400).
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
		// Protocols: HTTP/1.1 and HTTP/2 (http2.go), set by bindNew.
	}
	applyLimits(b.srv, lim)
	return b
}

func (s *Server) serve(b *boundListener) {
	s.bound[b.address] = b
	go func() {
		defer close(b.done)
		if err := b.srv.Serve(b.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("listener stopped", "address", b.address, "error", err)
		}
	}()
}

// handler serves requests arriving on address with the Runtime current
// when they arrive, within the limits g applies.
func (s *Server) handler(address string, g *guard) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := s.acquire()
		if rt == nil {
			writeText(w, http.StatusServiceUnavailable, bodyNoUpstream)
			return
		}
		defer rt.inflight.Add(-1)
		l := rt.byAddr[address]
		if l == nil { // the listener is being removed
			writeText(w, http.StatusNotFound, "")
			return
		}
		g.serve(l, w, r)
	})
}

// acquire returns the current Runtime counted as in use. Counting first
// and checking it is still current after means that a Runtime seen idle
// after a swap is never used again.
func (s *Server) acquire() *Runtime {
	for {
		rt := s.current.Load()
		if rt == nil {
			return nil
		}
		rt.inflight.Add(1)
		if s.current.Load() == rt {
			return rt
		}
		rt.inflight.Add(-1)
	}
}

// Reload makes rt current. Requests in flight finish on the old Runtime,
// which is closed once they have (or after Grace). Listeners at new
// addresses are bound first (an error leaves the old Runtime serving and
// returns it); listeners whose address is gone are shut down gracefully.
// A listener that keeps its address keeps its socket, even when its name,
// TLS settings or routes change.
func (s *Server) Reload(ctx context.Context, rt *Runtime) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("proxy: server shut down")
	}
	old := s.current.Load()
	if old == nil {
		return errors.New("proxy: server not started")
	}
	if old == rt {
		return nil
	}
	if err := s.activate(ctx, rt); err != nil {
		return err
	}
	for addr, b := range s.bound {
		if rt.byAddr[addr] != nil {
			continue
		}
		delete(s.bound, addr)
		s.closing.Add(1)
		go func() {
			defer s.closing.Done()
			ctx, cancel := context.WithTimeout(context.Background(), s.grace())
			defer cancel()
			if err := b.srv.Shutdown(ctx); err != nil {
				b.srv.Close()
			}
		}()
	}
	s.closing.Add(1)
	go func() {
		defer s.closing.Done()
		s.drain(old, time.Now().Add(s.grace()))
		old.Close()
	}()
	return nil
}

func (s *Server) grace() time.Duration {
	if s.Grace > 0 {
		return s.Grace
	}
	return DefaultGrace
}

// drain waits until no request uses rt, or until deadline.
func (s *Server) drain(rt *Runtime, deadline time.Time) {
	for rt.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// Shutdown stops accepting connections, waits for the requests in flight
// until ctx is done, then closes the Runtime. Connections still open when
// ctx is done are closed. It returns ctx's error if the drain was cut
// short.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.ready.Store(false)
	bound := s.bound
	s.bound = map[string]*boundListener{}
	s.mu.Unlock()

	var wg sync.WaitGroup
	errs := make(chan error, len(bound))
	for _, b := range bound {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.srv.Shutdown(ctx); err != nil {
				b.srv.Close()
				errs <- err
			}
			<-b.done
		}()
	}
	wg.Wait()
	close(errs)
	err := <-errs

	rt := s.current.Load()
	if rt != nil {
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(s.grace())
		}
		s.drain(rt, deadline) // hijacked connections are not tracked by http.Server
		rt.Close()
	}
	done := make(chan struct{})
	go func() { s.closing.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// Addr is the address the named listener of the current Runtime is bound
// to (with the actual port when the configured one is 0), or nil.
func (s *Server) Addr(listener string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.current.Load()
	if rt == nil {
		return nil
	}
	l := rt.byName[listener]
	if l == nil {
		return nil
	}
	if b := s.bound[l.address]; b != nil {
		return b.ln.Addr()
	}
	return nil
}

// Ready reports whether the server is serving: started and not shut down.
func (s *Server) Ready() bool { return s.ready.Load() }

// Runtime returns the current Runtime, or nil before Start.
func (s *Server) Runtime() *Runtime { return s.current.Load() }

// tlsSwitch decides per accepted connection whether to speak TLS, from the
// current Runtime's listener at this address, so that a reload can turn
// TLS on or off or change certificates without rebinding.
type tlsSwitch struct {
	net.Listener
	s       *Server
	address string
	base    *tls.Config // defers to configForClient
}

func (l *tlsSwitch) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rt := l.s.current.Load()
	if rt == nil {
		return c, nil
	}
	if ln := rt.byAddr[l.address]; ln != nil && ln.tls != nil {
		return tls.Server(c, l.base), nil
	}
	return c, nil
}

// configForClient is the listener's TLS configuration in the Runtime that
// is current at handshake time.
func (l *tlsSwitch) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	if rt := l.s.current.Load(); rt != nil {
		if ln := rt.byAddr[l.address]; ln != nil && ln.tls != nil {
			return ln.tls, nil
		}
	}
	return nil, errors.New("listener no longer serves TLS")
}
