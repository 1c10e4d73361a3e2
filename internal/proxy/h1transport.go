package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// h1Transport sends a plain-HTTP backend's bodiless, replayable requests
// (GET, HEAD, OPTIONS, TRACE with no body and no upgrade) over HTTP/1.1
// connections of its own, writing the request and reading the answer in
// the calling goroutine: net/http's Transport hands every request to a
// write goroutine and every answer back from a read goroutine, two
// goroutine wake-ups a request that cost more than the gateway's own work
// on a cached token. Requests and answers are written and parsed by
// net/http itself (Request.Write, ReadResponse). Everything else (a body,
// an upgrade, another method, TLS, HTTP/2) goes to std, the backend's
// net/http Transport, whose dialer this transport shares.
//
// A connection goes back to the pool only once its answer was read to
// the end as framed, with nothing more buffered after it, and neither
// side asked to close; anything else closes it. Before a pooled
// connection is used again it is checked, without waiting, for bytes
// that came in while it sat idle (an upstream that answered more than it
// was asked, or closed): such a connection is closed, as http.Transport's
// read on idle connections does, so that nothing left of one answer is
// read as part of another's.
type h1Transport struct {
	std           *http.Transport
	dial          dialFunc
	maxIdle       int           // idle connections per host
	idleTimeout   time.Duration // an idle connection older than this is closed, not reused
	headerTimeout time.Duration // the wait for the answer's headers (0: none)

	mu     sync.Mutex
	idle   map[string][]*h1Conn // by host:port, most recently used last
	closed bool
	reaper *time.Timer // armed while connections are pooled
}

// h1Conn is one pooled connection.
type h1Conn struct {
	addr   string // the pool it belongs to
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
}

// newH1Transport returns the HTTP/1.1 path for std's backend, dialing
// with dial (std's own dialer in the gateway).
func newH1Transport(std *http.Transport, dial dialFunc, maxIdle int, idleTimeout, headerTimeout time.Duration) *h1Transport {
	return &h1Transport{std: std, dial: dial, maxIdle: maxIdle, idleTimeout: idleTimeout, headerTimeout: headerTimeout, idle: map[string][]*h1Conn{}}
}

// ownsRequest reports whether t sends req itself.
func ownsRequest(req *http.Request) bool {
	if req.URL.Scheme != "http" || req.ContentLength != 0 || len(req.TransferEncoding) > 0 {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
	default:
		return false
	}
	_, upgrade := req.Header["Upgrade"]
	_, expect := req.Header["Expect"]
	return !upgrade && !expect
}

// RoundTrip implements http.RoundTripper.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !ownsRequest(req) {
		return t.std.RoundTrip(req)
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	if err := validHeader(req.Header); err != nil {
		return nil, err
	}
	for {
		pc, reused, err := t.get(req.Context(), addr)
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(pc, req)
		if err == nil {
			return resp, nil
		}
		// A pooled connection the upstream closed while it sat idle
		// fails before any answer: the request is replayable, so it is
		// sent again, as net/http's Transport does. The upstream likely
		// closed the others pooled with it too (a restart): they go, and
		// the request gets a new connection.
		if !reused || !errors.Is(err, errStaleConn) || req.Context().Err() != nil {
			return nil, err
		}
		t.drop(addr)
	}
}

// validHeader refuses the header names and values net/http's Transport
// refuses, so that both paths send the same requests.
func validHeader(h http.Header) error {
	for k, vv := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("net/http: invalid header field name %q", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("net/http: invalid header field value for %q", k)
			}
		}
	}
	return nil
}

// errStaleConn marks an exchange that failed before a byte of the answer
// came back.
var errStaleConn = errors.New("connection closed before any answer")

// staleOr marks err with errStaleConn when it says the upstream closed
// the connection (a timeout, or the client going away, does not).
func staleOr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("%w: %w", errStaleConn, err)
	}
	return err
}

// maxInterim bounds the 1xx answers before the final one, as in
// net/http's Transport.
const maxInterim = 5

// headerTimeoutError is the wait for the answer's headers running out.
type headerTimeoutError struct{ d time.Duration }

func (e headerTimeoutError) Error() string {
	return fmt.Sprintf("timeout awaiting response headers (%s)", e.d)
}
func (headerTimeoutError) Timeout() bool   { return true }
func (headerTimeoutError) Temporary() bool { return true }

// exchange writes req on pc and reads its answer's headers. On error pc
// is closed.
func (t *h1Transport) exchange(pc *h1Conn, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	// A client that goes away, or headers that do not come in time,
	// close the connection: the blocked write or read then returns.
	stop := context.AfterFunc(ctx, func() { pc.c.Close() })
	var timedOut atomic.Bool
	var timer *time.Timer
	if t.headerTimeout > 0 {
		timer = time.AfterFunc(t.headerTimeout, func() { timedOut.Store(true); pc.c.Close() })
	}
	fail := func(err error) (*http.Response, error) {
		stop()
		if timer != nil {
			timer.Stop()
		}
		pc.c.Close()
		switch {
		case timedOut.Load():
			return nil, headerTimeoutError{t.headerTimeout}
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return nil, err
	}
	err := req.Write(pc.bw)
	if err == nil {
		err = pc.bw.Flush()
	}
	if err != nil {
		return fail(staleOr(fmt.Errorf("writing the request: %w", err)))
	}
	trace := httptrace.ContextClientTrace(ctx)
	var resp *http.Response
	for interim := 0; ; interim++ {
		if interim > maxInterim {
			return fail(errors.New("too many 1xx informational answers"))
		}
		if _, err := pc.br.Peek(1); err != nil {
			return fail(staleOr(err))
		}
		r, err := http.ReadResponse(pc.br, req)
		if err != nil {
			return fail(err)
		}
		if r.StatusCode == http.StatusSwitchingProtocols {
			return fail(errors.New("101 Switching Protocols to a request without Upgrade"))
		}
		if r.StatusCode >= 100 && r.StatusCode < 200 {
			// Interim answers are passed on (ReverseProxy forwards them
			// through the trace); the final one follows.
			if trace != nil && trace.Got1xxResponse != nil {
				if err := trace.Got1xxResponse(r.StatusCode, textproto.MIMEHeader(r.Header)); err != nil {
					return fail(err)
				}
			}
			continue
		}
		resp = r
		break
	}
	if timer != nil && !timer.Stop() {
		return fail(headerTimeoutError{t.headerTimeout})
	}
	keep := !resp.Close && !req.Close
	if resp.Body == http.NoBody {
		t.release(pc, keep, stop)
		return resp, nil
	}
	resp.Body = &h1Body{rc: resp.Body, pc: pc, t: t, keep: keep, stop: stop}
	return resp, nil
}

// release returns pc to the pool when keep holds and the cancellation
// watch stop could be withdrawn; it closes pc otherwise.
func (t *h1Transport) release(pc *h1Conn, keep bool, stop func() bool) {
	if !stop() || !keep || pc.br.Buffered() > 0 {
		pc.c.Close()
		return
	}
	t.put(pc)
}

// h1Body is an answer's body; at its end its connection goes back to the
// pool.
type h1Body struct {
	rc   io.ReadCloser
	pc   *h1Conn
	t    *h1Transport
	keep bool
	stop func() bool
	done bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.done = true
		b.t.release(b.pc, b.keep, b.stop)
	} else if err != nil {
		b.done = true
		b.stop()
		b.pc.c.Close()
	}
	return n, err
}

func (b *h1Body) Close() error {
	if !b.done {
		// Closed before its end: what is left of the answer is still on
		// the connection.
		b.done = true
		b.stop()
		b.pc.c.Close()
	}
	return nil
}

// get returns an idle connection to addr, or dials one.
func (t *h1Transport) get(ctx context.Context, addr string) (*h1Conn, bool, error) {
	now := time.Now()
	t.mu.Lock()
	for l := t.idle[addr]; len(l) > 0; l = t.idle[addr] {
		pc := l[len(l)-1]
		t.idle[addr] = l[:len(l)-1]
		if now.Sub(pc.idleAt) >= t.idleTimeout {
			pc.c.Close()
			continue
		}
		t.mu.Unlock()
		// What came in while the connection sat idle was not asked for
		// (or is the upstream closing it): it must not be read as the
		// next answer.
		if unsolicited(pc.c) {
			pc.c.Close()
			t.mu.Lock()
			continue
		}
		return pc, true, nil
	}
	t.mu.Unlock()
	c, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err // as net/http's Transport returns it
	}
	return &h1Conn{addr: addr, c: c, br: bufio.NewReader(c), bw: bufio.NewWriter(c)}, false, nil
}

// put pools pc, or closes it when the pool for its host is full or the
// transport closed.
func (t *h1Transport) put(pc *h1Conn) {
	pc.idleAt = time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || len(t.idle[pc.addr]) >= t.maxIdle {
		pc.c.Close()
		return
	}
	t.idle[pc.addr] = append(t.idle[pc.addr], pc)
	if t.reaper == nil {
		t.reaper = time.AfterFunc(t.idleTimeout, t.reap)
	}
}

// reap closes the connections idle for idleTimeout, and comes back while
// others are pooled.
func (t *h1Transport) reap() {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reaper = nil
	next := time.Duration(-1)
	for addr, l := range t.idle {
		kept := l[:0]
		for _, pc := range l {
			if age := now.Sub(pc.idleAt); age >= t.idleTimeout {
				pc.c.Close()
			} else {
				kept = append(kept, pc)
				if left := t.idleTimeout - age; next < 0 || left < next {
					next = left
				}
			}
		}
		clear(l[len(kept):])
		if len(kept) == 0 {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = kept
		}
	}
	if next >= 0 && !t.closed {
		t.reaper = time.AfterFunc(next, t.reap)
	}
}

// drop closes the connections pooled for addr.
func (t *h1Transport) drop(addr string) {
	t.mu.Lock()
	l := t.idle[addr]
	delete(t.idle, addr)
	t.mu.Unlock()
	for _, pc := range l {
		pc.c.Close()
	}
}

// Close closes the pooled connections, and pools no more: connections
// still in use close when their exchange ends.
func (t *h1Transport) Close() {
	t.mu.Lock()
	t.closed = true
	if t.reaper != nil {
		t.reaper.Stop()
		t.reaper = nil
	}
	idle := t.idle
	t.idle = map[string][]*h1Conn{}
	t.mu.Unlock()
	for _, l := range idle {
		for _, pc := range l {
			pc.c.Close()
		}
	}
}
