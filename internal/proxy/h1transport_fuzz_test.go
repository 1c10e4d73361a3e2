package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// countingConn counts the bytes read from an upstream connection.
type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// FuzzH1Answer feeds arbitrary bytes, as an upstream's answer to one
// GET, to the HTTP/1.1 path: it must return an answer or an error, never
// panic or hang, and a connection it would hand to the next request must
// have had every byte of the answer read as part of it (nothing left
// over to be taken for the next request's answer).
func FuzzH1Answer(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"garbage\r\n\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ln.Close() })
	answers := make(chan []byte)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				c.Write(<-answers)
				// Kept open, so that a pooled connection stays usable,
				// until the gateway closes it or the wait below ends.
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				io.Copy(io.Discard, c)
			}()
		}
	}()
	f.Fuzz(func(t *testing.T, answer []byte) {
		if len(answer) > 32<<10 {
			return
		}
		var read atomic.Int64
		d := &net.Dialer{}
		dial := idleDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{Conn: c, read: &read}, nil
		}, 50*time.Millisecond)
		// Short waits: the answer is written at once on loopback, and an
		// answer that never completes its headers or body is cut soon (a
		// cut exchange is never pooled, so a slow machine fails nothing).
		tr := newH1Transport(&http.Transport{}, dial, 1, time.Minute, 50*time.Millisecond)
		defer tr.Close()
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
		done := make(chan struct{})
		go func() {
			select {
			case answers <- answer:
			case <-done:
			}
		}()
		res, err := tr.RoundTrip(req)
		close(done)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
			res.Body.Close()
		}
		tr.mu.Lock()
		var pooled *h1Conn
		if l := tr.idle[ln.Addr().String()]; len(l) == 1 {
			pooled = l[0]
			delete(tr.idle, ln.Addr().String())
		}
		tr.mu.Unlock()
		if pooled == nil {
			return
		}
		if err != nil {
			t.Fatalf("a connection was pooled after a failed exchange: %v", err)
		}
		// What the next request would see: a connection with bytes left
		// must be refused before reuse.
		time.Sleep(time.Millisecond)
		if left := int64(len(answer)) - read.Load(); left > 0 && !unsolicited(pooled.c) {
			t.Fatalf("pooled with %d bytes of the answer unread, and the reuse check saw none", left)
		}
		pooled.c.Close()
	})
}
