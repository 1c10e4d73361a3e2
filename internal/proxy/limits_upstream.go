package proxy

import (
	"context"
	"errors"
	"net"
	"os"
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
		return &idleConn{Conn: c, idle: idle}, nil
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
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	n, err := c.Conn.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = &idleError{idle: c.idle, err: err}
	}
	return n, err
}

func (c *idleConn) Write(p []byte) (int, error) {
	dl := time.Now().Add(c.idle)
	_ = c.Conn.SetWriteDeadline(dl)
	_ = c.Conn.SetReadDeadline(dl)
	n, err := c.Conn.Write(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = &idleError{idle: c.idle, err: err}
	}
	return n, err
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
