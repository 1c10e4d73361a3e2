package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// serverLimits are the http.Server limits of a Runtime's listeners, by
// configured address, with the defaults applied. They are kept beside the
// compiled listeners, which do not carry them.
type serverLimits map[string]model.ListenerLimits

// recordLimits keeps ml's server limits for its address; the builder calls
// it for every listener it compiles. A limit that cannot be enforced as
// written (model.ListenerLimits.Check) is an error.
func (b *builder) recordLimits(ml model.Listener) {
	if b.rt.limits == nil {
		b.rt.limits = serverLimits{}
	}
	if field, err := ml.Limits.Check(); err != nil {
		path := "listeners"
		for i := range b.cfg.Listeners {
			if b.cfg.Listeners[i].Name == ml.Name {
				path = fmt.Sprintf("listeners[%d]", i)
				break
			}
		}
		b.errorf(ml.Origin, path, fmt.Sprintf("listener %q", ml.Name), "limits."+field, "%v", err)
	}
	b.rt.limits[ml.Address] = ml.Limits.WithDefaults()
}

// serverLimits returns the limits of the listener at address, or the
// defaults when rt has none recorded for it.
func (rt *Runtime) serverLimits(address string) model.ListenerLimits {
	if l, ok := rt.limits[address]; ok {
		return l
	}
	return model.ListenerLimits{}.WithDefaults()
}

// applyLimits sets srv's limits from l, which has the defaults applied.
// Request bodies are streamed, so there is no read or write timeout on
// the whole exchange: headers must arrive in time, and idle keep-alive
// connections are closed; the guard (below) bounds the rest.
//
// net/http reads up to MaxHeaderBytes+4096 bytes of request line and
// headers (model.HeaderSlack), so it is given the configured limit less
// that: the limit written is the limit enforced.
func applyLimits(srv *http.Server, l model.ListenerLimits) {
	srv.MaxHeaderBytes = serverHeaderBytes(l.MaxHeaderBytes)
	srv.ReadHeaderTimeout = l.ReadHeaderTimeout
	srv.IdleTimeout = l.IdleTimeout
}

// serverHeaderBytes is the http.Server.MaxHeaderBytes that enforces a
// limit of n bytes of request line and headers.
func serverHeaderBytes(n int) int {
	return max(n-model.HeaderSlack, 1)
}

// guard applies a bound listener's per-request limits: how many requests
// run at once, how long a request body may pause, and how long a whole
// exchange may last. Like the http.Server limits, it is made when the
// address is bound and kept across reloads.
type guard struct {
	maxRequests int64
	inflight    atomic.Int64
	bodyIdle    time.Duration
	maxDuration time.Duration // 0: no bound
}

func newGuard(l model.ListenerLimits) *guard {
	return &guard{maxRequests: int64(l.MaxConcurrentRequests), bodyIdle: l.BodyIdleTimeout, maxDuration: l.MaxRequestDuration}
}

// answerGrace is how long past a request's maximum duration the gateway
// may still write its 408 to the client.
const answerGrace = time.Second

// Retry-After of the answer to a request past the listener's limit.
var hdrRetryAfter = []string{"1"}

// bodyOverloaded is the body of that answer.
const bodyOverloaded = "overloaded"

// serve runs l's pipeline on r within the limits: past the concurrent
// request limit the answer is 503 with Retry-After; the request body, if
// any, is read under the idle timeout (body.go); with a maximum duration
// the request's context ends then, and so do writes to the client.
func (g *guard) serve(l *listener, w http.ResponseWriter, r *http.Request) {
	if g.inflight.Add(1) > g.maxRequests {
		g.inflight.Add(-1)
		l.overloaded(w, r)
		return
	}
	defer g.inflight.Add(-1)
	ctx := r.Context()
	var end time.Time
	if g.maxDuration > 0 {
		end = time.Now().Add(g.maxDuration)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadlineCause(ctx, end, errMaxDuration)
		defer cancel()
		// A client that stops reading the response cannot hold it past
		// the bound either (give or take the time to write the 408).
		_ = http.NewResponseController(w).SetWriteDeadline(end.Add(answerGrace))
	}
	var cb *clientBody
	// A body of length 0 is never read: ReverseProxy sends none upstream
	// (it sets the outgoing Body to nil), and no stage reads one. An
	// HTTP/2 request always has a Body, NoBody or not, so this spares
	// every bodyless HTTP/2 request (a GET) the wrapper and the context.
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		// The context carries the body to upstreamError, which sees the
		// request sent upstream, whose Body ReverseProxy wraps.
		cb = newClientBody(r.Body, w, g.bodyIdle, end)
		ctx = context.WithValue(ctx, clientBodyKey{}, cb)
		defer cb.handlerDone()
	}
	if ctx != r.Context() {
		r = r.WithContext(ctx)
	}
	if cb != nil {
		r.Body = cb
	}
	l.ServeHTTP(w, r)
}

// overloaded answers a request past the listener's concurrent request
// limit, and logs it like any answer of the gateway (counted with the
// requests no route matched: it was never routed).
func (l *listener) overloaded(w http.ResponseWriter, r *http.Request) {
	x := exchanges.Get().(*exchange)
	x.start = time.Now()
	x.rec.ResponseWriter = w
	x.rec.x = x
	x.upstreamDur = -1
	x.path = rawPath(r)
	x.authn = "none"
	w.Header()["Retry-After"] = hdrRetryAfter
	answer(&x.rec, outcome{status: http.StatusServiceUnavailable, body: bodyOverloaded, reason: "too many requests in flight"})
	l.record(x, r)
	x.reset()
	exchanges.Put(x)
}

// connLimiter bounds the connections a listener holds open. A connection
// past the limit is accepted and closed at once, without a byte, as
// Envoy's connection limit does: the client sees the close right away
// rather than waiting in the kernel's backlog.
type connLimiter struct {
	net.Listener
	max     int64
	open    atomic.Int64
	logger  *slog.Logger
	address string
	// refused counts the connections closed since the last log line;
	// lastLog (unix nanoseconds) keeps that line to one a second.
	refused atomic.Int64
	lastLog atomic.Int64
}

func limitConns(ln net.Listener, max int, logger *slog.Logger, address string) *connLimiter {
	return &connLimiter{Listener: ln, max: int64(max), logger: logger, address: address}
}

// Accept returns the next connection within the limit, closing those
// beyond it.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &limitedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		c.Close()
		l.noteRefused()
	}
}

// noteRefused logs the refused connections, at most once a second, with
// how many were refused since the last line.
func (l *connLimiter) noteRefused() {
	l.refused.Add(1)
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last < int64(time.Second) || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	l.logger.Warn("connections refused: listener connection limit reached", "address", l.address, "limit", l.max, "refused", l.refused.Swap(0))
}

// limitedConn is a connection counted by its connLimiter until closed.
type limitedConn struct {
	net.Conn
	l      *connLimiter
	closed atomic.Bool
}

func (c *limitedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.open.Add(-1)
	}
	return c.Conn.Close()
}

// CloseWrite half-closes the connection, so that net/http can end a
// response with a FIN before closing (instead of a reset that could
// discard the answer) and tunnels can pass a half-close on.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
