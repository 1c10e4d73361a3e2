package proxy

import (
	"context"
	"errors"
	"math"
	"net"
	"os"
	"sync/atomic"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// dialFunc is the dialer of an upstream transport.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// idleDial makes every upstream connection dial makes fail a read or a
// write that waits longer than idle (the backend's bodyIdleTimeout): an
// upstream that stops sending its response, or stops reading the
// request, is cut. It costs no allocation per request: the deadline moves
// with each read and write of the connection.
func idleDial(dial dialFunc, idle time.Duration) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newIdleConn(c, idle), nil
	}
}

// poolIdleTimeout is how long the transport keeps an idle connection: the
// pool setting, but at most half the body idle timeout, so that the pool
// closes an idle connection well before its pending read (the
// transport's watch for the server closing it) fails, and never hands a
// request a connection about to fail.
func poolIdleTimeout(p model.BackendPool) time.Duration {
	return min(p.IdleConnTimeout, p.BodyIdleTimeout/2)
}

// idleConn is an upstream connection whose reads and writes each have
// idle to complete. A write also moves the read deadline: the wait for
// the answer starts when the request has been sent.
//
// Moving a deadline costs a runtime timer update (a few microseconds a
// request when done on every read and write, about 2.5% of the CPU time
// of a proxied request in the benchmark), so deadlines are coarse: each
// one is set idle + idle/idleSlack ahead, and moved only when less than
// idle is left. Every wait still gets at least idle, and a silent
// upstream is cut at most idle/idleSlack later than idle (under 1.6%).
type idleConn struct {
	net.Conn
	idle time.Duration
	// born is when the connection was made; readBy and writeBy are the
	// read and write deadlines last set, as monotonic time since born in
	// nanoseconds (math.MinInt64: to be set on the next read or write).
	// Reads and writes run on different goroutines (the transport's read
	// and write loops), hence atomics.
	born            time.Time
	readBy, writeBy atomic.Int64
}

// idleSlack sets how far past idle a deadline is set (idle/idleSlack),
// so that it need not move again until that much time has passed.
const idleSlack = 64

func newIdleConn(c net.Conn, idle time.Duration) *idleConn {
	ic := &idleConn{Conn: c, idle: idle, born: time.Now()}
	ic.readBy.Store(math.MinInt64)
	ic.writeBy.Store(math.MinInt64)
	return ic
}

// renew returns the deadline to set for a wait starting at now (since
// born), and true, when the deadline recorded in by leaves less than
// idle; it records the new one.
func (c *idleConn) renew(by *atomic.Int64, now time.Duration) (time.Time, bool) {
	if by.Load() >= int64(now+c.idle) { // (no subtraction: by may be math.MinInt64)
		return time.Time{}, false
	}
	next := now + c.idle + c.idle/idleSlack
	by.Store(int64(next))
	return c.born.Add(next), true
}

func (c *idleConn) Read(p []byte) (int, error) {
	if dl, ok := c.renew(&c.readBy, time.Since(c.born)); ok {
		_ = c.Conn.SetReadDeadline(dl)
	}
	n, err := c.Conn.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = &idleError{idle: c.idle, err: err}
	}
	return n, err
}

func (c *idleConn) Write(p []byte) (int, error) {
	now := time.Since(c.born)
	if dl, ok := c.renew(&c.writeBy, now); ok {
		_ = c.Conn.SetWriteDeadline(dl)
	}
	if dl, ok := c.renew(&c.readBy, now); ok {
		_ = c.Conn.SetReadDeadline(dl)
	}
	n, err := c.Conn.Write(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = &idleError{idle: c.idle, err: err}
	}
	return n, err
}

// SetDeadline, SetReadDeadline and SetWriteDeadline set deadlines for
// whoever else sets them (the HTTP/2 transport does); the next read or
// write sets its own again, as if none had been recorded.
func (c *idleConn) SetDeadline(t time.Time) error {
	c.readBy.Store(math.MinInt64)
	c.writeBy.Store(math.MinInt64)
	return c.Conn.SetDeadline(t)
}

func (c *idleConn) SetReadDeadline(t time.Time) error {
	c.readBy.Store(math.MinInt64)
	return c.Conn.SetReadDeadline(t)
}

func (c *idleConn) SetWriteDeadline(t time.Time) error {
	c.writeBy.Store(math.MinInt64)
	return c.Conn.SetWriteDeadline(t)
}

// CloseWrite passes a half-close on (an upgraded connection's).
func (c *idleConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// idleError is an upstream connection's read or write that timed out: a
// timeout (net.Error) that says which limit it was.
type idleError struct {
	idle time.Duration
	err  error
}

func (e *idleError) Error() string {
	return "upstream silent for bodyIdleTimeout (" + e.idle.String() + "): " + e.err.Error()
}
func (e *idleError) Unwrap() error   { return e.err }
func (e *idleError) Timeout() bool   { return true }
func (e *idleError) Temporary() bool { return true }
