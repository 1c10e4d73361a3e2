package proxy

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestIdleConnDeadlines: an upstream connection's coarse deadlines still
// cut a silent peer, no earlier than the idle timeout; never cut a peer
// that keeps sending, however long the exchange; and a deadline someone
// else set (the HTTP/2 transport may) is replaced by the next read's.
func TestIdleConnDeadlines(t *testing.T) {
	const idle = 300 * time.Millisecond
	tests := []struct {
		name string
		// peer runs on the other end of the connection.
		peer func(net.Conn)
		// before runs on the idleConn before it reads.
		before func(*idleConn)
		reads  int  // bytes to read, one at a time
		cut    bool // the last read fails with the idle timeout
	}{
		{name: "silent peer", peer: func(net.Conn) {}, reads: 1, cut: true},
		{name: "peer sending for several idle timeouts", reads: 40, peer: func(c net.Conn) {
			for range 40 { // 40 x 30 ms: four idle timeouts in all
				time.Sleep(30 * time.Millisecond)
				if _, err := c.Write([]byte{'x'}); err != nil {
					return
				}
			}
		}},
		{name: "deadline set by someone else", reads: 1,
			before: func(c *idleConn) { _ = c.SetReadDeadline(time.Now().Add(-time.Second)) },
			peer: func(c net.Conn) {
				time.Sleep(50 * time.Millisecond)
				_, _ = c.Write([]byte{'x'})
			}},
		{name: "write then silence", reads: 1, cut: true,
			before: func(c *idleConn) {
				if _, err := c.Write([]byte("GET")); err != nil {
					t.Errorf("write: %v", err)
				}
			},
			peer: func(net.Conn) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				tt.peer(c)
				// Hold the connection open (reading what comes) until the
				// reader is done.
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, _ = io.Copy(io.Discard, c)
			}()
			raw, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c := newIdleConn(raw, idle)
			if tt.before != nil {
				tt.before(c)
			}
			buf := make([]byte, 1)
			var rerr error
			start := time.Now()
			for i := 0; i < tt.reads && rerr == nil; i++ {
				start = time.Now()
				_, rerr = c.Read(buf)
			}
			waited := time.Since(start)
			c.Close()
			<-done
			var ie *idleError
			switch {
			case !tt.cut && rerr != nil:
				t.Fatalf("read failed: %v", rerr)
			case tt.cut && !errors.As(rerr, &ie):
				t.Fatalf("read error %v, want the idle timeout", rerr)
			case tt.cut && waited < idle:
				t.Errorf("cut after %v, before the idle timeout %v", waited, idle)
			}
		})
	}
}
